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
    *_conv_all,
    *_norm_all,
]
