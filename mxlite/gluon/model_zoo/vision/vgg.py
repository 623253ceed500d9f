"""VGG 11/13/16/19 with and without BatchNorm (Simonyan and Zisserman, 2014), as MXNet 1.9.1
builds them (Parameter names ``vgg0_conv0_weight``, ..., ``vgg0_dense2_weight``)."""

from __future__ import annotations

from typing import Any

from mxlite.base import CheckError
from mxlite.context import Context
from mxlite.gluon import nn
from mxlite.gluon.block import HybridBlock
from mxlite.gluon.model_zoo import model_store
from mxlite.initializer import Xavier

__all__ = ["VGG", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn",
           "vgg19_bn", "get_vgg"]  # fmt: skip


class VGG(HybridBlock):
    """Stacks of 3x3 convolutions (each with ReLU, optionally after a BatchNorm) closed by 2x2
    max pooling, then two Dense(4096) layers with ReLU and Dropout(0.5), then the classifier.

    Args:
        layers: convolutions per stack.
        filters: channels per stack.
        classes: number of classes.
        batch_norm: a BatchNorm after each convolution.
    """

    def __init__(self, layers: list[int], filters: list[int], classes: int = 1000,
                 batch_norm: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        if len(layers) != len(filters):
            raise CheckError(f"VGG: {len(layers)} stacks but {len(filters)} filter counts")
        with self.name_scope():
            self.features = self._make_features(layers, filters, batch_norm)
            for _ in range(2):
                self.features.add(nn.Dense(4096, activation="relu", weight_initializer="normal",
                                           bias_initializer="zeros"))  # fmt: skip
                self.features.add(nn.Dropout(rate=0.5))
            self.output = nn.Dense(classes, weight_initializer="normal", bias_initializer="zeros")

    def _make_features(self, layers: list[int], filters: list[int],
                       batch_norm: bool) -> nn.HybridSequential:  # fmt: skip
        featurizer = nn.HybridSequential(prefix="")
        for num, channels in zip(layers, filters):
            for _ in range(num):
                init = Xavier(rnd_type="gaussian", factor_type="out", magnitude=2)
                featurizer.add(nn.Conv2D(channels, kernel_size=3, padding=1,
                                         weight_initializer=init, bias_initializer="zeros"))  # fmt: skip
                if batch_norm:
                    featurizer.add(nn.BatchNorm())
                featurizer.add(nn.Activation("relu"))
            featurizer.add(nn.MaxPool2D(strides=2))
        return featurizer

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self.output(self.features(x))


vgg_spec = {
    11: ([1, 1, 2, 2, 2], [64, 128, 256, 512, 512]),
    13: ([2, 2, 2, 2, 2], [64, 128, 256, 512, 512]),
    16: ([2, 2, 3, 3, 3], [64, 128, 256, 512, 512]),
    19: ([2, 2, 4, 4, 4], [64, 128, 256, 512, 512]),
}


def get_vgg(num_layers: int, pretrained: bool = False, ctx: Context = model_store._DEFAULT_CTX,
            root: str = model_store._DEFAULT_ROOT, **kwargs: Any) -> VGG:  # fmt: skip
    """VGG with ``num_layers`` (11, 13, 16 or 19) layers (``batch_norm=True`` for the BN
    variant); ``pretrained`` loads ``vgg<n>[_bn]`` from ``root`` onto ``ctx``.

    Raises:
        KeyError: an unknown depth (as MXNet).
    """
    layers, filters = vgg_spec[num_layers]
    net = VGG(layers, filters, **kwargs)
    if pretrained:
        suffix = "_bn" if kwargs.get("batch_norm") else ""
        model_store.load_pretrained(net, f"vgg{num_layers}{suffix}", root, ctx)
    return net


def _variant(num_layers: int, batch_norm: bool) -> Any:
    def build(**kwargs: Any) -> VGG:
        if batch_norm:
            kwargs["batch_norm"] = True
        return get_vgg(num_layers, **kwargs)

    build.__name__ = build.__qualname__ = f"vgg{num_layers}{'_bn' if batch_norm else ''}"
    build.__doc__ = f"VGG-{num_layers}{' with BatchNorm' if batch_norm else ''}; see get_vgg."
    return build


vgg11 = _variant(11, False)
vgg13 = _variant(13, False)
vgg16 = _variant(16, False)
vgg19 = _variant(19, False)
vgg11_bn = _variant(11, True)
vgg13_bn = _variant(13, True)
vgg16_bn = _variant(16, True)
vgg19_bn = _variant(19, True)
