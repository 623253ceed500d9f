"""``nn.Flatten`` and ``nn.Dropout`` as the model zoo needs them (MXNet's reprs and semantics).

Interim: issue 12 (the training-script surface) owns these two layers and the ``nd.Dropout``
operator; when its versions land, this module goes and ``gluon.nn`` exports theirs. Dropout
here draws its mask from ``mx.nd.random.uniform`` (mxlite's counter-based stream) in training
mode and is the identity otherwise.
"""

from __future__ import annotations

from typing import Any

from mxlite import autograd
from mxlite.gluon.block import HybridBlock
from mxlite.ndarray import op_math, op_shape
from mxlite.ndarray import random as nd_random

__all__ = ["Flatten", "Dropout"]


class Flatten(HybridBlock):
    """Flattens the input to ``(batch_size, -1)``."""

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return op_shape.flatten(x)

    def __repr__(self) -> str:
        return type(self).__name__


class Dropout(HybridBlock):
    """Zeroes each element with probability ``rate`` in training mode and scales the rest by
    ``1 / (1 - rate)``; ``axes`` share one mask along those axes. The identity when not
    training (outside ``autograd.record()`` or with ``train_mode=False``)."""

    def __init__(self, rate: float, axes: tuple[int, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rate = rate
        self._axes = axes

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        if self._rate <= 0 or not autograd.is_training():
            return op_shape.identity(x)
        shape = tuple(1 if i in self._axes else d for i, d in enumerate(x.shape))
        draw = nd_random.uniform(0, 1, shape=shape, dtype=x.dtype, ctx=x.context)
        keep = op_math.greater_equal(draw, self._rate) / (1 - self._rate)
        return op_math.multiply(x, keep.as_in_context(x.context))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p = {self._rate}, axes={self._axes})"
