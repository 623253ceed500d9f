"""A HybridSequential's children run with each BatchNorm -> ReLU pair fused into one operator.

``nn.BatchNorm`` directly followed by ``nn.Activation('relu')`` (ResNet's and VGG's bodies)
runs as one BatchNorm that applies the ReLU in the same pass and masks the gradient in its own
backward kernels: one pass and one large temporary fewer each way, the same values. A pair is
fused only when neither block has forward hooks (``summary()`` installs some: it then sees both
blocks run) and the BatchNorm is not already a ``BatchNormReLU``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mxlite.gluon.block import Block
from mxlite.gluon.nn.activations import Activation
from mxlite.gluon.nn.norm_layers import FUSED_RELU, _BatchNorm

__all__ = ["run_children"]


def _unhooked(block: Block) -> bool:
    return not block._forward_hooks and not block._forward_pre_hooks


def _fusable(first: Block, second: Block) -> bool:
    return (
        isinstance(first, _BatchNorm)
        and not first.fuse_relu
        and type(second) is Activation
        and second._act_type == "relu"
        and _unhooked(first)
        and _unhooked(second)
    )


def run_children(children: Iterable[Block], x: Any) -> Any:
    """``x`` through ``children`` in order, fusing BatchNorm -> ReLU pairs."""
    blocks = list(children)
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if i + 1 < len(blocks) and _fusable(block, blocks[i + 1]):
            x = block.forward(x, FUSED_RELU)
            i += 2
        else:
            x = block(x)
            i += 1
    return x
