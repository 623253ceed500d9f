"""MobileNet v1 (Howard et al., 2017) and v2 (Sandler et al., 2018) at width multipliers 1.0,
0.75, 0.5 and 0.25, as MXNet 1.9.1 builds them (v2's blocks: ``mobilenetv20_features_
linearbottleneck0_conv0_weight`` ...)."""

from __future__ import annotations

from typing import Any

from mxlite.context import Context
from mxlite.gluon import nn
from mxlite.gluon.block import HybridBlock
from mxlite.gluon.model_zoo import model_store
from mxlite.ndarray import op_math

__all__ = ["MobileNet", "MobileNetV2", "mobilenet1_0", "mobilenet_v2_1_0", "mobilenet0_75",
           "mobilenet_v2_0_75", "mobilenet0_5", "mobilenet_v2_0_5", "mobilenet0_25",
           "mobilenet_v2_0_25", "get_mobilenet", "get_mobilenet_v2"]  # fmt: skip


class RELU6(HybridBlock):
    """``clip(x, 0, 6)``."""

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return op_math.clip(x, 0, 6)


def _add_conv(out: nn.HybridSequential, channels: int = 1, kernel: int = 1, stride: int = 1,
              pad: int = 0, num_group: int = 1, active: bool = True,
              relu6: bool = False) -> None:  # fmt: skip
    """Conv2D without bias, BatchNorm, then ReLU (or ReLU6) unless not ``active``."""
    out.add(nn.Conv2D(channels, kernel, stride, pad, groups=num_group, use_bias=False))
    out.add(nn.BatchNorm(scale=True))
    if active:
        out.add(RELU6() if relu6 else nn.Activation("relu"))


def _add_conv_dw(out: nn.HybridSequential, dw_channels: int, channels: int, stride: int,
                 relu6: bool = False) -> None:  # fmt: skip
    """A depthwise 3x3 convolution then a pointwise 1x1 one."""
    _add_conv(out, channels=dw_channels, kernel=3, stride=stride, pad=1, num_group=dw_channels,
              relu6=relu6)  # fmt: skip
    _add_conv(out, channels=channels, relu6=relu6)


class LinearBottleneck(HybridBlock):
    """Inverted residual: 1x1 expansion by ``t``, 3x3 depthwise, 1x1 linear projection; the
    input is added when ``stride`` is 1 and the channels stay the same."""

    def __init__(self, in_channels: int, channels: int, t: int, stride: int,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.use_shortcut = stride == 1 and in_channels == channels
        with self.name_scope():
            self.out = nn.HybridSequential()
            wide = in_channels * t
            _add_conv(self.out, wide, relu6=True)
            _add_conv(self.out, wide, kernel=3, stride=stride, pad=1, num_group=wide, relu6=True)
            _add_conv(self.out, channels, active=False, relu6=True)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        out = self.out(x)
        return op_math.add(out, x) if self.use_shortcut else out


class MobileNet(HybridBlock):
    """MobileNet v1: a strided 3x3 convolution, 13 depthwise-separable pairs, global average
    pooling, Flatten and the classifier.

    Args:
        multiplier: width multiplier of every layer's channels.
        classes: number of classes.
    """

    def __init__(self, multiplier: float = 1.0, classes: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            with self.features.name_scope():
                _add_conv(self.features, channels=int(32 * multiplier), kernel=3, pad=1,
                          stride=2)  # fmt: skip
                dw = [32, 64] + [128] * 2 + [256] * 2 + [512] * 6 + [1024]
                pw = [64] + [128] * 2 + [256] * 2 + [512] * 6 + [1024] * 2
                strides = [1, 2] * 3 + [1] * 5 + [2, 1]
                for dwc, c, s in zip(dw, pw, strides):
                    _add_conv_dw(self.features, dw_channels=int(dwc * multiplier),
                                 channels=int(c * multiplier), stride=s)  # fmt: skip
                self.features.add(nn.GlobalAvgPool2D())
                self.features.add(nn.Flatten())
            self.output = nn.Dense(classes)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self.output(self.features(x))


class MobileNetV2(HybridBlock):
    """MobileNet v2: a strided 3x3 convolution, 17 linear bottlenecks, a 1x1 convolution to
    1280 channels (more when ``multiplier > 1``), global average pooling, and a 1x1
    convolution to ``classes`` (``output_pred_``) with Flatten.

    Args:
        multiplier: width multiplier.
        classes: number of classes.
    """

    def __init__(self, multiplier: float = 1.0, classes: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="features_")
            with self.features.name_scope():
                _add_conv(self.features, int(32 * multiplier), kernel=3, stride=2, pad=1,
                          relu6=True)  # fmt: skip
                ins = [32] + [16] + [24] * 2 + [32] * 3 + [64] * 4 + [96] * 3 + [160] * 3
                outs = [16] + [24] * 2 + [32] * 3 + [64] * 4 + [96] * 3 + [160] * 3 + [320]
                ts = [1] + [6] * 16
                strides = [1, 2] * 2 + [1, 1, 2] + [1] * 6 + [2] + [1] * 3
                for in_c, c, t, s in zip(ins, outs, ts, strides):
                    self.features.add(LinearBottleneck(
                        in_channels=int(in_c * multiplier), channels=int(c * multiplier), t=t,
                        stride=s,
                    ))  # fmt: skip
                last = int(1280 * multiplier) if multiplier > 1.0 else 1280
                _add_conv(self.features, last, relu6=True)
                self.features.add(nn.GlobalAvgPool2D())
            self.output = nn.HybridSequential(prefix="output_")
            with self.output.name_scope():
                self.output.add(nn.Conv2D(classes, 1, use_bias=False, prefix="pred_"),
                                nn.Flatten())  # fmt: skip

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self.output(self.features(x))


def _suffix(multiplier: float) -> str:
    suffix = f"{multiplier:.2f}"
    return suffix[:-1] if suffix in ("1.00", "0.50") else suffix


def get_mobilenet(multiplier: float, pretrained: bool = False, ctx: Context = model_store._DEFAULT_CTX,
                  root: str = model_store._DEFAULT_ROOT, **kwargs: Any) -> MobileNet:  # fmt: skip
    """MobileNet v1 at width ``multiplier``; ``pretrained`` loads ``mobilenet<multiplier>``."""
    net = MobileNet(multiplier, **kwargs)
    if pretrained:
        model_store.load_pretrained(net, f"mobilenet{_suffix(multiplier)}", root, ctx)
    return net


def get_mobilenet_v2(multiplier: float, pretrained: bool = False, ctx: Context = model_store._DEFAULT_CTX,
                     root: str = model_store._DEFAULT_ROOT,
                     **kwargs: Any) -> MobileNetV2:  # fmt: skip
    """MobileNet v2 at width ``multiplier``; ``pretrained`` loads
    ``mobilenetv2_<multiplier>``."""
    net = MobileNetV2(multiplier, **kwargs)
    if pretrained:
        model_store.load_pretrained(net, f"mobilenetv2_{_suffix(multiplier)}", root, ctx)
    return net


def _variant(multiplier: float, v2: bool) -> Any:
    def build(**kwargs: Any) -> HybridBlock:
        return (get_mobilenet_v2 if v2 else get_mobilenet)(multiplier, **kwargs)

    tag = f"{multiplier:g}".replace(".", "_")
    build.__name__ = build.__qualname__ = f"mobilenet{'_v2_' if v2 else ''}{tag}"
    build.__doc__ = f"MobileNet {'v2' if v2 else 'v1'} at width {multiplier}; see get_mobilenet."
    return build


mobilenet1_0 = _variant(1.0, False)
mobilenet0_75 = _variant(0.75, False)
mobilenet0_5 = _variant(0.5, False)
mobilenet0_25 = _variant(0.25, False)
mobilenet_v2_1_0 = _variant(1.0, True)
mobilenet_v2_0_75 = _variant(0.75, True)
mobilenet_v2_0_5 = _variant(0.5, True)
mobilenet_v2_0_25 = _variant(0.25, True)
