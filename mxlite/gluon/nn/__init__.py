"""``gluon.nn``: neural network layers (and, as in MXNet, Block and HybridBlock)."""

from mxlite.gluon.block import Block, HybridBlock
from mxlite.gluon.nn._interim_layers import Dropout, Flatten
from mxlite.gluon.nn.activations import Activation
from mxlite.gluon.nn.basic_layers import Dense, HybridSequential, Sequential
from mxlite.gluon.nn.conv_layers import *  # noqa: F403
from mxlite.gluon.nn.conv_layers import __all__ as _conv_all
from mxlite.gluon.nn.norm_layers import *  # noqa: F403
from mxlite.gluon.nn.norm_layers import __all__ as _norm_all

__all__ = [
    "Block",
    "HybridBlock",
    "Sequential",
    "HybridSequential",
    "Dense",
    "Activation",
    "Dropout",
    "Flatten",
    *_conv_all,
    *_norm_all,
]
