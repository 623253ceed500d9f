"""``gluon.nn``: neural network layers (and, as in MXNet, Block and HybridBlock)."""

from mxlite.gluon.block import Block, HybridBlock
from mxlite.gluon.nn.activations import Activation
from mxlite.gluon.nn.basic_layers import Dense, HybridSequential, Sequential

__all__ = ["Block", "HybridBlock", "Sequential", "HybridSequential", "Dense", "Activation"]
