"""AlexNet (Krizhevsky et al., 2012, the single-tower "One weird trick" variant), as MXNet
1.9.1 builds it (Parameter names ``alexnet0_conv0_weight`` ... ``alexnet0_dense2_bias``)."""

from __future__ import annotations

from typing import Any

from mxlite.context import Context
from mxlite.gluon import nn
from mxlite.gluon.block import HybridBlock
from mxlite.gluon.model_zoo import model_store

__all__ = ["AlexNet", "alexnet"]


class AlexNet(HybridBlock):
    """Five convolutions with ReLU (max pooling after the 1st, 2nd and 5th), Flatten, two
    Dense(4096) with ReLU and Dropout(0.5), and the classifier.

    Args:
        classes: number of classes.
    """

    def __init__(self, classes: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            with self.features.name_scope():
                add = self.features.add
                add(nn.Conv2D(64, kernel_size=11, strides=4, padding=2, activation="relu"))
                add(nn.MaxPool2D(pool_size=3, strides=2))
                add(nn.Conv2D(192, kernel_size=5, padding=2, activation="relu"))
                add(nn.MaxPool2D(pool_size=3, strides=2))
                for channels in (384, 256, 256):
                    add(nn.Conv2D(channels, kernel_size=3, padding=1, activation="relu"))
                add(nn.MaxPool2D(pool_size=3, strides=2))
                add(nn.Flatten())
                for _ in range(2):
                    add(nn.Dense(4096, activation="relu"))
                    add(nn.Dropout(0.5))
            self.output = nn.Dense(classes)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self.output(self.features(x))


def alexnet(pretrained: bool = False, ctx: Context = model_store._DEFAULT_CTX,
            root: str = model_store._DEFAULT_ROOT, **kwargs: Any) -> AlexNet:  # fmt: skip
    """AlexNet; ``pretrained`` loads ``alexnet`` from ``root`` onto ``ctx``."""
    net = AlexNet(**kwargs)
    if pretrained:
        model_store.load_pretrained(net, "alexnet", root, ctx)
    return net
