"""SqueezeNet 1.0 and 1.1 (Iandola et al., 2016), as MXNet 1.9.1 builds them."""

from __future__ import annotations

from typing import Any

from mxlite.base import CheckError
from mxlite.context import Context
from mxlite.gluon import nn
from mxlite.gluon.block import HybridBlock
from mxlite.gluon.contrib.nn import HybridConcurrent
from mxlite.gluon.model_zoo import model_store

__all__ = ["SqueezeNet", "squeezenet1_0", "squeezenet1_1"]


def _make_fire_conv(channels: int, kernel_size: int, padding: int = 0) -> nn.HybridSequential:
    out = nn.HybridSequential(prefix="")
    out.add(nn.Conv2D(channels, kernel_size, padding=padding))
    out.add(nn.Activation("relu"))
    return out


def _make_fire(squeeze: int, expand1x1: int, expand3x3: int) -> nn.HybridSequential:
    """A fire module: a 1x1 squeeze, then 1x1 and 3x3 expands concatenated along channels."""
    out = nn.HybridSequential(prefix="")
    out.add(_make_fire_conv(squeeze, 1))
    paths = HybridConcurrent(axis=1, prefix="")
    paths.add(_make_fire_conv(expand1x1, 1))
    paths.add(_make_fire_conv(expand3x3, 3, 1))
    out.add(paths)
    return out


# Per version: the stem (channels, kernel), then the sequence of fire modules ("pool" is a 3x3
# stride-2 max pooling with ceil_mode).
_LAYOUT: dict[str, tuple[tuple[int, int], list[Any]]] = {
    "1.0": ((96, 7), [(16, 64, 64), (16, 64, 64), (32, 128, 128), "pool", (32, 128, 128),
                      (48, 192, 192), (48, 192, 192), (64, 256, 256), "pool", (64, 256, 256)]),
    "1.1": ((64, 3), [(16, 64, 64), (16, 64, 64), "pool", (32, 128, 128), (32, 128, 128), "pool",
                      (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]),
}  # fmt: skip


class SqueezeNet(HybridBlock):
    """SqueezeNet: a strided stem, fire modules with max pooling, Dropout, a 1x1 convolution to
    ``classes`` channels, ReLU, 13x13 average pooling and Flatten (224x224 inputs).

    Args:
        version: '1.0' or '1.1'.
        classes: number of classes.

    Raises:
        CheckError: another version.
    """

    def __init__(self, version: str, classes: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if version not in _LAYOUT:
            raise CheckError(f"Unsupported SqueezeNet version {version}:1.0 or 1.1 expected")
        (stem, kernel), fires = _LAYOUT[version]
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            self.features.add(nn.Conv2D(stem, kernel_size=kernel, strides=2))
            self.features.add(nn.Activation("relu"))
            self.features.add(nn.MaxPool2D(pool_size=3, strides=2, ceil_mode=True))
            for fire in fires:
                if fire == "pool":
                    self.features.add(nn.MaxPool2D(pool_size=3, strides=2, ceil_mode=True))
                else:
                    self.features.add(_make_fire(*fire))
            self.features.add(nn.Dropout(0.5))
            self.output = nn.HybridSequential(prefix="")
            self.output.add(nn.Conv2D(classes, kernel_size=1))
            self.output.add(nn.Activation("relu"))
            self.output.add(nn.AvgPool2D(13))
            self.output.add(nn.Flatten())

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self.output(self.features(x))


def get_squeezenet(version: str, pretrained: bool = False, ctx: Context = model_store._DEFAULT_CTX,
                   root: str = model_store._DEFAULT_ROOT, **kwargs: Any) -> SqueezeNet:  # fmt: skip
    """SqueezeNet ``version``; ``pretrained`` loads ``squeezenet<version>`` from ``root``."""
    net = SqueezeNet(version, **kwargs)
    if pretrained:
        model_store.load_pretrained(net, f"squeezenet{version}", root, ctx)
    return net


def squeezenet1_0(**kwargs: Any) -> SqueezeNet:
    """SqueezeNet 1.0; see get_squeezenet."""
    return get_squeezenet("1.0", **kwargs)


def squeezenet1_1(**kwargs: Any) -> SqueezeNet:
    """SqueezeNet 1.1; see get_squeezenet."""
    return get_squeezenet("1.1", **kwargs)
