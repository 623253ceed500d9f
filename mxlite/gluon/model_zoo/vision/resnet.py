"""ResNet v1 and v2 (He et al., 2015 and 2016), 18 to 152 layers, as MXNet 1.9.1 builds them.

The blocks are built in MXNet's order and name scopes (a residual block creates its layers in
its stage's scope, not its own), so Parameter names and ``.params`` files match MXNet's model
zoo: ``resnetv10_stage1_conv0_weight``, saved as ``features.4.0.body.0.weight``.
"""

from __future__ import annotations

from typing import Any

from mxlite.base import CheckError
from mxlite.context import Context
from mxlite.gluon import nn
from mxlite.gluon.block import HybridBlock
from mxlite.gluon.model_zoo import model_store
from mxlite.ndarray import op_nn

__all__ = [
    "ResNetV1", "ResNetV2", "BasicBlockV1", "BasicBlockV2", "BottleneckV1", "BottleneckV2",
    "resnet18_v1", "resnet34_v1", "resnet50_v1", "resnet101_v1", "resnet152_v1",
    "resnet18_v2", "resnet34_v2", "resnet50_v2", "resnet101_v2", "resnet152_v2", "get_resnet",
]  # fmt: skip


def _conv3x3(channels: int, stride: int, in_channels: int) -> nn.Conv2D:
    return nn.Conv2D(channels, kernel_size=3, strides=stride, padding=1, use_bias=False,
                     in_channels=in_channels)  # fmt: skip


def _relu(x: Any) -> Any:
    return op_nn.Activation(x, act_type="relu")


def _projection(channels: int, stride: int, in_channels: int, with_bn: bool) -> HybridBlock:
    """The 1x1 strided convolution of a downsampling shortcut (v1: followed by a BatchNorm)."""
    conv = nn.Conv2D(channels, kernel_size=1, strides=stride, use_bias=False,
                     in_channels=in_channels)  # fmt: skip
    if not with_bn:
        return conv
    seq = nn.HybridSequential(prefix="")
    seq.add(conv)
    seq.add(nn.BatchNorm())
    return seq


class BasicBlockV1(HybridBlock):
    """Two 3x3 convolutions with BatchNorm, ReLU between, added to the (projected) input,
    then ReLU (ResNet-18/34 v1)."""

    def __init__(self, channels: int, stride: int, downsample: bool = False,
                 in_channels: int = 0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.body = nn.HybridSequential(prefix="")
        self.body.add(_conv3x3(channels, stride, in_channels))
        self.body.add(nn.BatchNorm())
        self.body.add(nn.Activation("relu"))
        self.body.add(_conv3x3(channels, 1, channels))
        self.body.add(nn.BatchNorm())
        self.downsample = _projection(channels, stride, in_channels, True) if downsample else None

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        residual = self.downsample(x) if self.downsample else x
        return _relu(residual + self.body(x))


class BottleneckV1(HybridBlock):
    """1x1, 3x3 and 1x1 convolutions (the middle one at ``channels // 4``) with BatchNorm,
    added to the (projected) input, then ReLU (ResNet-50/101/152 v1)."""

    def __init__(self, channels: int, stride: int, downsample: bool = False,
                 in_channels: int = 0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.body = nn.HybridSequential(prefix="")
        self.body.add(nn.Conv2D(channels // 4, kernel_size=1, strides=stride))
        self.body.add(nn.BatchNorm())
        self.body.add(nn.Activation("relu"))
        self.body.add(_conv3x3(channels // 4, 1, channels // 4))
        self.body.add(nn.BatchNorm())
        self.body.add(nn.Activation("relu"))
        self.body.add(nn.Conv2D(channels, kernel_size=1, strides=1))
        self.body.add(nn.BatchNorm())
        self.downsample = _projection(channels, stride, in_channels, True) if downsample else None

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        residual = self.downsample(x) if self.downsample else x
        return _relu(self.body(x) + residual)


class BasicBlockV2(HybridBlock):
    """Pre-activation basic block: BN, ReLU, 3x3 conv, BN, ReLU, 3x3 conv, plus the input (or
    its projection after the first BN and ReLU)."""

    def __init__(self, channels: int, stride: int, downsample: bool = False,
                 in_channels: int = 0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.bn1 = nn.BatchNorm()
        self.conv1 = _conv3x3(channels, stride, in_channels)
        self.bn2 = nn.BatchNorm()
        self.conv2 = _conv3x3(channels, 1, channels)
        self.downsample = _projection(channels, stride, in_channels, False) if downsample else None

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        residual = x
        x = _relu(self.bn1(x))
        if self.downsample:
            residual = self.downsample(x)
        x = self.conv2(_relu(self.bn2(self.conv1(x))))
        return x + residual


class BottleneckV2(HybridBlock):
    """Pre-activation bottleneck block: (BN, ReLU, conv) with 1x1, 3x3 and 1x1 kernels, plus
    the input (or its projection after the first BN and ReLU)."""

    def __init__(self, channels: int, stride: int, downsample: bool = False,
                 in_channels: int = 0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.bn1 = nn.BatchNorm()
        self.conv1 = nn.Conv2D(channels // 4, kernel_size=1, strides=1, use_bias=False)
        self.bn2 = nn.BatchNorm()
        self.conv2 = _conv3x3(channels // 4, stride, channels // 4)
        self.bn3 = nn.BatchNorm()
        self.conv3 = nn.Conv2D(channels, kernel_size=1, strides=1, use_bias=False)
        self.downsample = _projection(channels, stride, in_channels, False) if downsample else None

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        residual = x
        x = _relu(self.bn1(x))
        if self.downsample:
            residual = self.downsample(x)
        x = _relu(self.bn2(self.conv1(x)))
        x = _relu(self.bn3(self.conv2(x)))
        return self.conv3(x) + residual


class _ResNet(HybridBlock):
    """What v1 and v2 share: the stem, the stages (``stage1_`` ...) and the classifier."""

    features: nn.HybridSequential
    output: nn.Dense

    def _stem(self, channels: int, thumbnail: bool) -> None:
        if thumbnail:
            self.features.add(_conv3x3(channels, 1, 0))
        else:
            self.features.add(nn.Conv2D(channels, 7, 2, 3, use_bias=False))
            self.features.add(nn.BatchNorm())
            self.features.add(nn.Activation("relu"))
            self.features.add(nn.MaxPool2D(3, 2, 1))

    def _make_layer(self, block: type, layers: int, channels: int, stride: int,
                    stage_index: int, in_channels: int = 0) -> nn.HybridSequential:  # fmt: skip
        layer = nn.HybridSequential(prefix=f"stage{stage_index}_")
        with layer.name_scope():
            layer.add(block(channels, stride, channels != in_channels, in_channels=in_channels,
                            prefix=""))  # fmt: skip
            for _ in range(layers - 1):
                layer.add(block(channels, 1, False, in_channels=channels, prefix=""))
        return layer

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self.output(self.features(x))


def _check_spec(layers: list[int], channels: list[int]) -> None:
    if len(layers) != len(channels) - 1:
        raise CheckError(
            f"ResNet: {len(layers)} stages need {len(layers) + 1} channel counts (the stem's and "
            f"each stage's), got channels={channels}"
        )


class ResNetV1(_ResNet):
    """ResNet v1: stem, four stages of ``block``, global average pooling, Dense classifier.

    Args:
        block: :class:`BasicBlockV1` or :class:`BottleneckV1`.
        layers: blocks per stage.
        channels: the stem's channels, then each stage's.
        classes: number of classes.
        thumbnail: a 3x3 stride-1 stem for small (32x32) images instead of 7x7 stride 2 and max
            pooling.
    """

    def __init__(self, block: type, layers: list[int], channels: list[int], classes: int = 1000,
                 thumbnail: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        _check_spec(layers, channels)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            self._stem(channels[0], thumbnail)
            for i, num_layer in enumerate(layers):
                stride = 1 if i == 0 else 2
                self.features.add(self._make_layer(block, num_layer, channels[i + 1], stride,
                                                   i + 1, in_channels=channels[i]))  # fmt: skip
            self.features.add(nn.GlobalAvgPool2D())
            self.output = nn.Dense(classes, in_units=channels[-1])


class ResNetV2(_ResNet):
    """ResNet v2 (pre-activation): a BatchNorm without scale and shift on the input, stem,
    four stages of ``block``, BatchNorm, ReLU, global average pooling, Flatten, Dense.
    Arguments as :class:`ResNetV1` (``block``: :class:`BasicBlockV2` or
    :class:`BottleneckV2`)."""

    def __init__(self, block: type, layers: list[int], channels: list[int], classes: int = 1000,
                 thumbnail: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        _check_spec(layers, channels)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            self.features.add(nn.BatchNorm(scale=False, center=False))
            self._stem(channels[0], thumbnail)
            in_channels = channels[0]
            for i, num_layer in enumerate(layers):
                stride = 1 if i == 0 else 2
                self.features.add(self._make_layer(block, num_layer, channels[i + 1], stride,
                                                   i + 1, in_channels=in_channels))  # fmt: skip
                in_channels = channels[i + 1]
            self.features.add(nn.BatchNorm())
            self.features.add(nn.Activation("relu"))
            self.features.add(nn.GlobalAvgPool2D())
            self.features.add(nn.Flatten())
            self.output = nn.Dense(classes, in_units=in_channels)


resnet_spec = {
    18: ("basic_block", [2, 2, 2, 2], [64, 64, 128, 256, 512]),
    34: ("basic_block", [3, 4, 6, 3], [64, 64, 128, 256, 512]),
    50: ("bottle_neck", [3, 4, 6, 3], [64, 256, 512, 1024, 2048]),
    101: ("bottle_neck", [3, 4, 23, 3], [64, 256, 512, 1024, 2048]),
    152: ("bottle_neck", [3, 8, 36, 3], [64, 256, 512, 1024, 2048]),
}
resnet_net_versions = [ResNetV1, ResNetV2]
resnet_block_versions = [
    {"basic_block": BasicBlockV1, "bottle_neck": BottleneckV1},
    {"basic_block": BasicBlockV2, "bottle_neck": BottleneckV2},
]


def get_resnet(version: int, num_layers: int, pretrained: bool = False, ctx: Context = model_store._DEFAULT_CTX,
               root: str = model_store._DEFAULT_ROOT, **kwargs: Any) -> HybridBlock:  # fmt: skip
    """ResNet ``version`` (1 or 2) with ``num_layers`` (18, 34, 50, 101 or 152) layers;
    ``pretrained`` loads ``resnet<num_layers>_v<version>`` from ``root`` onto ``ctx``.

    Raises:
        CheckError: an unknown depth or version.
    """
    if num_layers not in resnet_spec:
        raise CheckError(
            f"Invalid number of layers: {num_layers}. Options are {resnet_spec.keys()!s}"
        )
    block_type, layers, channels = resnet_spec[num_layers]
    if not 1 <= version <= 2:
        raise CheckError(f"Invalid resnet version: {version}. Options are 1 and 2.")
    block = resnet_block_versions[version - 1][block_type]
    net = resnet_net_versions[version - 1](block, layers, channels, **kwargs)
    if pretrained:
        model_store.load_pretrained(net, f"resnet{num_layers}_v{version}", root, ctx)
    return net


def _variant(version: int, num_layers: int) -> Any:
    def build(**kwargs: Any) -> HybridBlock:
        return get_resnet(version, num_layers, **kwargs)

    build.__name__ = build.__qualname__ = f"resnet{num_layers}_v{version}"
    build.__doc__ = (
        f"ResNet-{num_layers} v{version}; keyword arguments as :func:`get_resnet` "
        "(pretrained, ctx, root) and the network's (classes, thumbnail)."
    )
    return build


resnet18_v1 = _variant(1, 18)
resnet34_v1 = _variant(1, 34)
resnet50_v1 = _variant(1, 50)
resnet101_v1 = _variant(1, 101)
resnet152_v1 = _variant(1, 152)
resnet18_v2 = _variant(2, 18)
resnet34_v2 = _variant(2, 34)
resnet50_v2 = _variant(2, 50)
resnet101_v2 = _variant(2, 101)
resnet152_v2 = _variant(2, 152)
