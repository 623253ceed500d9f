"""Inception v3 (Szegedy et al., 2015), as MXNet 1.9.1 builds it (299x299 inputs).

Every convolution is a "basic conv" (Conv2D without bias, BatchNorm with epsilon 0.001, ReLU);
the mixed blocks are ``HybridConcurrent`` stacks named ``A1_`` ... ``E2_`` as in MXNet.
"""

from __future__ import annotations

from typing import Any

from mxlite.context import Context
from mxlite.gluon import nn
from mxlite.gluon.block import HybridBlock
from mxlite.gluon.contrib.nn import HybridConcurrent
from mxlite.gluon.model_zoo import model_store

__all__ = ["Inception3", "inception_v3"]

# A convolution setting: (channels, kernel_size, strides, padding), None for "the default".
_Setting = tuple[Any, Any, Any, Any]


def _make_basic_conv(**kwargs: Any) -> nn.HybridSequential:
    out = nn.HybridSequential(prefix="")
    out.add(nn.Conv2D(use_bias=False, **kwargs))
    out.add(nn.BatchNorm(epsilon=0.001))
    out.add(nn.Activation("relu"))
    return out


def _make_branch(use_pool: str | None, *conv_settings: _Setting) -> nn.HybridSequential:
    out = nn.HybridSequential(prefix="")
    if use_pool == "avg":
        out.add(nn.AvgPool2D(pool_size=3, strides=1, padding=1))
    elif use_pool == "max":
        out.add(nn.MaxPool2D(pool_size=3, strides=2))
    names = ("channels", "kernel_size", "strides", "padding")
    for setting in conv_settings:
        out.add(_make_basic_conv(**{k: v for k, v in zip(names, setting) if v is not None}))
    return out


def _concurrent(prefix: str, branches: list[tuple[Any, ...]]) -> HybridConcurrent:
    """A mixed block: each branch is ``(pool or None, *conv settings)``."""
    out = HybridConcurrent(axis=1, prefix=prefix)
    with out.name_scope():
        for pool, *settings in branches:
            out.add(_make_branch(pool, *settings))
    return out


def _make_A(pool_features: int, prefix: str) -> HybridConcurrent:  # noqa: N802 - MXNet's name
    return _concurrent(prefix, [
        (None, (64, 1, None, None)),
        (None, (48, 1, None, None), (64, 5, None, 2)),
        (None, (64, 1, None, None), (96, 3, None, 1), (96, 3, None, 1)),
        ("avg", (pool_features, 1, None, None)),
    ])  # fmt: skip


def _make_B(prefix: str) -> HybridConcurrent:  # noqa: N802 - MXNet's name
    return _concurrent(prefix, [
        (None, (384, 3, 2, None)),
        (None, (64, 1, None, None), (96, 3, None, 1), (96, 3, 2, None)),
        ("max",),
    ])  # fmt: skip


def _make_C(channels_7x7: int, prefix: str) -> HybridConcurrent:  # noqa: N802 - MXNet's name
    c = channels_7x7
    return _concurrent(prefix, [
        (None, (192, 1, None, None)),
        (None, (c, 1, None, None), (c, (1, 7), None, (0, 3)), (192, (7, 1), None, (3, 0))),
        (None, (c, 1, None, None), (c, (7, 1), None, (3, 0)), (c, (1, 7), None, (0, 3)),
         (c, (7, 1), None, (3, 0)), (192, (1, 7), None, (0, 3))),
        ("avg", (192, 1, None, None)),
    ])  # fmt: skip


def _make_D(prefix: str) -> HybridConcurrent:  # noqa: N802 - MXNet's name
    return _concurrent(prefix, [
        (None, (192, 1, None, None), (320, 3, 2, None)),
        (None, (192, 1, None, None), (192, (1, 7), None, (0, 3)), (192, (7, 1), None, (3, 0)),
         (192, 3, 2, None)),
        ("max",),
    ])  # fmt: skip


def _split(first: list[_Setting]) -> nn.HybridSequential:
    """A branch of the E block: ``first`` convolutions, then 1x3 and 3x1 ones side by side."""
    branch = nn.HybridSequential(prefix="")
    branch.add(_make_branch(None, *first))
    split = HybridConcurrent(axis=1, prefix="")
    split.add(_make_branch(None, (384, (1, 3), None, (0, 1))))
    split.add(_make_branch(None, (384, (3, 1), None, (1, 0))))
    branch.add(split)
    return branch


def _make_E(prefix: str) -> HybridConcurrent:  # noqa: N802 - MXNet's name
    out = HybridConcurrent(axis=1, prefix=prefix)
    with out.name_scope():
        out.add(_make_branch(None, (320, 1, None, None)))
        out.add(_split([(384, 1, None, None)]))
        out.add(_split([(448, 1, None, None), (384, 3, None, 1)]))
        out.add(_make_branch("avg", (192, 1, None, None)))
    return out


class Inception3(HybridBlock):
    """Inception v3: a stem of basic convolutions and max pooling, mixed blocks A1-A3, B,
    C1-C4, D, E1-E2, 8x8 average pooling, Dropout(0.5) and the classifier.

    Args:
        classes: number of classes.
    """

    def __init__(self, classes: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            add = self.features.add
            add(_make_basic_conv(channels=32, kernel_size=3, strides=2))
            add(_make_basic_conv(channels=32, kernel_size=3))
            add(_make_basic_conv(channels=64, kernel_size=3, padding=1))
            add(nn.MaxPool2D(pool_size=3, strides=2))
            add(_make_basic_conv(channels=80, kernel_size=1))
            add(_make_basic_conv(channels=192, kernel_size=3))
            add(nn.MaxPool2D(pool_size=3, strides=2))
            add(_make_A(32, "A1_"))
            add(_make_A(64, "A2_"))
            add(_make_A(64, "A3_"))
            add(_make_B("B_"))
            for channels, name in ((128, "C1_"), (160, "C2_"), (160, "C3_"), (192, "C4_")):
                add(_make_C(channels, name))
            add(_make_D("D_"))
            add(_make_E("E1_"))
            add(_make_E("E2_"))
            add(nn.AvgPool2D(pool_size=8))
            add(nn.Dropout(0.5))
            self.output = nn.Dense(classes)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self.output(self.features(x))


def inception_v3(pretrained: bool = False, ctx: Context = model_store._DEFAULT_CTX,
                 root: str = model_store._DEFAULT_ROOT, **kwargs: Any) -> Inception3:  # fmt: skip
    """Inception v3; ``pretrained`` loads ``inceptionv3`` from ``root`` onto ``ctx``."""
    net = Inception3(**kwargs)
    if pretrained:
        model_store.load_pretrained(net, "inceptionv3", root, ctx)
    return net
