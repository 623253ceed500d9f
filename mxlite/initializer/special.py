"""Deterministic initializers: Zero, One, Constant, Bilinear and LSTMBias (MXNet's defaults)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from mxlite.initializer import _fill
from mxlite.initializer.base import Initializer, alias, register

__all__ = ["Zero", "One", "Constant", "Bilinear", "LSTMBias"]


@register
@alias("zeros")
class Zero(Initializer):
    """Weights set to 0 (registered as ``'zero'`` and ``'zeros'``)."""

    def __init__(self) -> None:
        super().__init__()

    def _init_weight(self, _: Any, arr: Any) -> None:
        _fill.constant(arr, 0)


@register
@alias("ones")
class One(Initializer):
    """Weights set to 1 (registered as ``'one'`` and ``'ones'``)."""

    def __init__(self) -> None:
        super().__init__()

    def _init_weight(self, _: Any, arr: Any) -> None:
        _fill.constant(arr, 1)


def _jsonable(value: Any) -> Any:
    """``value`` as MXNet's Constant.dumps writes it: scalars as is, arrays as nested lists."""
    if isinstance(value, np.generic):
        return value.item()
    if np.isscalar(value) or value is None:
        return value
    if hasattr(value, "asnumpy"):
        return value.asnumpy().tolist()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


@register
class Constant(Initializer):
    """Weights set to ``value``: a scalar, or an array (NDArray, numpy, list) broadcast to the shape.

    Args:
        value: the fill value.
    """

    def __init__(self, value: Any) -> None:
        super().__init__(value=value)
        self.value = value

    def _is_scalar(self) -> bool:
        return bool(np.isscalar(self.value))

    def _plan_weight(self, desc: Any, arr: Any) -> _fill.FillPlan | None:
        return _fill.FillPlan("constant", (self.value,)) if self._is_scalar() else None

    def _init_weight(self, _: Any, arr: Any) -> None:
        if self._is_scalar():
            _fill.constant(arr, self.value)
        else:
            _fill.write(arr, self.value)

    def dumps(self) -> str:
        """``'["constant", {"value": v}]'``; an array value is written as a nested list."""
        return json.dumps(
            [self.__class__.__name__.lower(), {**self._kwargs, "value": _jsonable(self.value)}]
        )

    def _fingerprint(self) -> str:
        return self.dumps()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Initializer):
            return NotImplemented
        return type(self) is type(other) and self.dumps() == other.dumps()

    __hash__ = None  # type: ignore[assignment]


@register
class Bilinear(Initializer):
    """Bilinear-interpolation weights for upsampling (deconvolution) layers of shape ``(o, i, h, w)``.

    ``w[..., y, x] = (1 - |x / f - c|) * (1 - |y / f - c|)`` with ``f = ceil(w / 2)`` and
    ``c = (2f - 1 - f % 2) / (2f)``, computed on the array's device.
    """

    def __init__(self) -> None:
        super().__init__()

    def _init_weight(self, _: Any, arr: Any) -> None:
        _fill.write(arr, _fill.bilinear_weights(arr))


@register
class LSTMBias(Initializer):
    """LSTM biases: all 0 except the forget gate (the second of the 4 gates), set to ``forget_bias``.

    Args:
        forget_bias: bias of the forget gate. Jozefowicz et al. 2015 recommend 1.0.
    """

    def __init__(self, forget_bias: float = 1.0) -> None:
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, name: Any, arr: Any) -> None:
        raw = _fill.raw_of(arr)
        num_hidden = int(raw.shape[0] / 4)
        _fill.constant(arr, 0.0)
        if num_hidden:
            raw[num_hidden : 2 * num_hidden] = self.forget_bias


_fill.register_plan(Zero._init_weight, "_plan_zero")
_fill.register_plan(One._init_weight, "_plan_one")
_fill.register_plan(Constant._init_weight, "_plan_weight")
