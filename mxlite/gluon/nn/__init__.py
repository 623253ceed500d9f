"""``gluon.nn``: neural network layers (and, as in MXNet, Block and HybridBlock)."""

from mxlite.gluon.block import Block, HybridBlock
from mxlite.gluon.nn.activations import ELU, GELU, SELU, Activation, LeakyReLU, PReLU, Swish
from mxlite.gluon.nn.basic_layers import (
    Dense,
    Dropout,
    Embedding,
    Flatten,
    HybridLambda,
    HybridSequential,
    Lambda,
    Sequential,
)

__all__ = [
    "Block",
    "HybridBlock",
    "Sequential",
    "HybridSequential",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "Lambda",
    "HybridLambda",
    "Activation",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "SELU",
    "GELU",
    "Swish",
]
