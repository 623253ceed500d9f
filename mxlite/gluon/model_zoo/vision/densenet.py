"""DenseNet 121/161/169/201 (Huang et al., 2016), as MXNet 1.9.1 builds it.

Each dense layer is a ``HybridConcurrent`` of an ``Identity`` and BN-ReLU-Conv1x1-BN-ReLU-Conv3x3
(optionally Dropout), concatenated along the channels; transitions halve the channels and the
resolution. Built in MXNet's order and scopes, so names and ``.params`` files match.
"""

from __future__ import annotations

from typing import Any

from mxlite.context import Context
from mxlite.gluon import nn
from mxlite.gluon.block import HybridBlock
from mxlite.gluon.contrib.nn import HybridConcurrent, Identity
from mxlite.gluon.model_zoo import model_store

__all__ = ["DenseNet", "densenet121", "densenet161", "densenet169", "densenet201"]


def _make_dense_block(num_layers: int, bn_size: int, growth_rate: int, dropout: float,
                      stage_index: int) -> nn.HybridSequential:  # fmt: skip
    out = nn.HybridSequential(prefix=f"stage{stage_index}_")
    with out.name_scope():
        for _ in range(num_layers):
            out.add(_make_dense_layer(growth_rate, bn_size, dropout))
    return out


def _bn_relu_conv(seq: nn.HybridSequential, channels: int, kernel: int, padding: int) -> None:
    seq.add(nn.BatchNorm())
    seq.add(nn.Activation("relu"))
    seq.add(nn.Conv2D(channels, kernel_size=kernel, padding=padding, use_bias=False))


def _make_dense_layer(growth_rate: int, bn_size: int, dropout: float) -> HybridConcurrent:
    new_features = nn.HybridSequential(prefix="")
    _bn_relu_conv(new_features, bn_size * growth_rate, 1, 0)
    _bn_relu_conv(new_features, growth_rate, 3, 1)
    if dropout:
        new_features.add(nn.Dropout(dropout))
    out = HybridConcurrent(axis=1, prefix="")
    out.add(Identity())
    out.add(new_features)
    return out


def _make_transition(num_output_features: int) -> nn.HybridSequential:
    out = nn.HybridSequential(prefix="")
    _bn_relu_conv(out, num_output_features, 1, 0)
    out.add(nn.AvgPool2D(pool_size=2, strides=2))
    return out


class DenseNet(HybridBlock):
    """DenseNet: a 7x7 stem with max pooling, dense blocks joined by transitions, BN, ReLU,
    7x7 average pooling, Flatten and the classifier (224x224 inputs).

    Args:
        num_init_features: channels of the stem.
        growth_rate: channels each dense layer adds.
        block_config: dense layers per block.
        bn_size: the 1x1 convolution's width as a multiple of ``growth_rate``.
        dropout: dropout rate after each dense layer (0 for none).
        classes: number of classes.
    """

    def __init__(self, num_init_features: int, growth_rate: int, block_config: list[int],
                 bn_size: int = 4, dropout: float = 0, classes: int = 1000,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            self.features.add(nn.Conv2D(num_init_features, kernel_size=7, strides=2, padding=3,
                                        use_bias=False))  # fmt: skip
            self.features.add(nn.BatchNorm())
            self.features.add(nn.Activation("relu"))
            self.features.add(nn.MaxPool2D(pool_size=3, strides=2, padding=1))
            num_features = num_init_features
            for i, num_layers in enumerate(block_config):
                self.features.add(
                    _make_dense_block(num_layers, bn_size, growth_rate, dropout, i + 1)
                )
                num_features += num_layers * growth_rate
                if i != len(block_config) - 1:
                    self.features.add(_make_transition(num_features // 2))
                    num_features //= 2
            self.features.add(nn.BatchNorm())
            self.features.add(nn.Activation("relu"))
            self.features.add(nn.AvgPool2D(pool_size=7))
            self.features.add(nn.Flatten())
            self.output = nn.Dense(classes)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self.output(self.features(x))


densenet_spec = {
    121: (64, 32, [6, 12, 24, 16]),
    161: (96, 48, [6, 12, 36, 24]),
    169: (64, 32, [6, 12, 32, 32]),
    201: (64, 32, [6, 12, 48, 32]),
}


def get_densenet(num_layers: int, pretrained: bool = False, ctx: Context = model_store._DEFAULT_CTX,
                 root: str = model_store._DEFAULT_ROOT, **kwargs: Any) -> DenseNet:  # fmt: skip
    """DenseNet with ``num_layers`` (121, 161, 169 or 201) layers; ``pretrained`` loads
    ``densenet<n>`` from ``root`` onto ``ctx``."""
    num_init_features, growth_rate, block_config = densenet_spec[num_layers]
    net = DenseNet(num_init_features, growth_rate, block_config, **kwargs)
    if pretrained:
        model_store.load_pretrained(net, f"densenet{num_layers}", root, ctx)
    return net


def _variant(num_layers: int) -> Any:
    def build(**kwargs: Any) -> DenseNet:
        return get_densenet(num_layers, **kwargs)

    build.__name__ = build.__qualname__ = f"densenet{num_layers}"
    build.__doc__ = f"DenseNet-{num_layers}; see get_densenet."
    return build


densenet121 = _variant(121)
densenet161 = _variant(161)
densenet169 = _variant(169)
densenet201 = _variant(201)
