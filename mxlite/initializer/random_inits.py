"""Random initializers: Uniform, Normal, Xavier, MSRAPrelu and Orthogonal (MXNet's defaults).

Xavier and MSRAPrelu share :func:`compute_fans` and :func:`variance_scale` (as JAX's
``variance_scaling`` and ``torch.nn.init`` share theirs). Every draw comes from the parameter's
counter-based stream (:mod:`mxlite.initializer._fill`), written in place on the array's device.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.initializer import _fill
from mxlite.initializer.base import Initializer, InitShapeError, register

__all__ = [
    "Uniform",
    "Normal",
    "Xavier",
    "MSRAPrelu",
    "Orthogonal",
    "compute_fans",
    "variance_scale",
]

_FACTOR_TYPES = ("avg", "in", "out")
_RND_TYPES = ("uniform", "gaussian")


def compute_fans(shape: tuple[int, ...], name: Any = "") -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a weight: ``shape[1] * r`` and ``shape[0] * r``, ``r = prod(shape[2:])``.

    Raises:
        InitShapeError: ``shape`` has fewer than 2 dimensions (a ValueError, as in MXNet).
    """
    if len(shape) < 2:
        raise InitShapeError(
            f"Xavier initializer cannot be applied to vector {name}. It requires at least 2D. "
            f"(shape {tuple(shape)}; use Uniform/Normal/Constant for 1-D parameters)"
        )
    receptive = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
    return shape[1] * receptive, shape[0] * receptive


def variance_scale(magnitude: float, factor_type: str, fan_in: float, fan_out: float) -> float:
    """``sqrt(magnitude / n)`` with ``n`` = ``(fan_in + fan_out) / 2`` (avg), ``fan_in`` or ``fan_out``.

    Raises:
        ValueError: ``factor_type`` is not ``'avg'``, ``'in'`` or ``'out'``.
    """
    if factor_type == "avg":
        factor = (fan_in + fan_out) / 2.0
    elif factor_type == "in":
        factor = fan_in
    elif factor_type == "out":
        factor = fan_out
    else:
        raise ValueError(f"Incorrect factor type {factor_type!r}: use one of {_FACTOR_TYPES}")
    return math.sqrt(magnitude / factor)


@register
class Uniform(Initializer):
    """Weights drawn uniformly from ``[-scale, scale)``.

    Args:
        scale: bound of the range. Default 0.07.
    """

    def __init__(self, scale: float = 0.07) -> None:
        super().__init__(scale=scale)
        self.scale = scale

    def _plan_weight(self, desc: Any, arr: Any) -> _fill.FillPlan:
        key, offset = _fill.stream_key(desc, self, arr)
        return _fill.FillPlan("uniform", (-self.scale, self.scale), key, offset)

    def _init_weight(self, desc: Any, arr: Any) -> None:
        _fill.execute(self._plan_weight(desc, arr), arr, desc)


@register
class Normal(Initializer):
    """Weights drawn from ``N(0, sigma**2)``.

    Args:
        sigma: standard deviation. Default 0.01.
    """

    def __init__(self, sigma: float = 0.01) -> None:
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _plan_weight(self, desc: Any, arr: Any) -> _fill.FillPlan:
        key, offset = _fill.stream_key(desc, self, arr)
        return _fill.FillPlan("normal", (0.0, self.sigma), key, offset)

    def _init_weight(self, desc: Any, arr: Any) -> None:
        _fill.execute(self._plan_weight(desc, arr), arr, desc)


@register
class Xavier(Initializer):
    """ "Xavier" (Glorot) initialization: keeps the scale of gradients about equal in all layers.

    With ``c = sqrt(magnitude / n)`` and ``n`` = ``(fan_in + fan_out) / 2`` (``'avg'``),
    ``fan_in`` (``'in'``) or ``fan_out`` (``'out'``), where for a weight of shape
    ``(out, in, *k)`` ``fan_in = in * prod(k)`` and ``fan_out = out * prod(k)``: ``'uniform'``
    draws from ``[-c, c)``, ``'gaussian'`` from ``N(0, c**2)``.

    Args:
        rnd_type: ``'uniform'`` or ``'gaussian'``.
        factor_type: ``'avg'``, ``'in'`` or ``'out'``.
        magnitude: scale of the random numbers. Default 3.
    """

    def __init__(
        self, rnd_type: str = "uniform", factor_type: str = "avg", magnitude: float = 3
    ) -> None:
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def _plan_weight(self, desc: Any, arr: Any) -> _fill.FillPlan:
        fan_in, fan_out = compute_fans(tuple(_fill.raw_of(arr).shape), desc)
        scale = variance_scale(self.magnitude, self.factor_type, fan_in, fan_out)
        if self.rnd_type not in _RND_TYPES:
            raise ValueError(f"Unknown random type {self.rnd_type!r}: use one of {_RND_TYPES}")
        key, offset = _fill.stream_key(desc, self, arr)
        if self.rnd_type == "uniform":
            return _fill.FillPlan("uniform", (-scale, scale), key, offset)
        return _fill.FillPlan("normal", (0.0, scale), key, offset)

    def _init_weight(self, desc: Any, arr: Any) -> None:
        _fill.execute(self._plan_weight(desc, arr), arr, desc)


@register
class MSRAPrelu(Xavier):
    """He/MSRA initialization for (P)ReLU nets: Xavier ``'gaussian'`` with magnitude ``2 / (1 + slope**2)``.

    Args:
        factor_type: ``'avg'``, ``'in'`` or ``'out'``.
        slope: initial slope of the PReLU (or similar) nonlinearities. Default 0.25.
    """

    def __init__(self, factor_type: str = "avg", slope: float = 0.25) -> None:
        magnitude = 2.0 / (1 + slope**2)
        super().__init__("gaussian", factor_type, magnitude)
        self._kwargs = {"factor_type": factor_type, "slope": slope}


@register
class Orthogonal(Initializer):
    """Orthogonal weights (Saxe et al., https://arxiv.org/abs/1312.6120), times ``scale``.

    A ``(shape[0], prod(shape[1:]))`` matrix is drawn (``U[-1, 1)`` or ``N(0, 1)``) on the array's
    device from its stream; of its thin SVD ``u, s, v`` the factor with the matrix's shape is kept.

    Args:
        scale: scaling factor. Default 1.414.
        rand_type: ``'uniform'`` or ``'normal'``.
    """

    def __init__(self, scale: float = 1.414, rand_type: str = "uniform") -> None:
        super().__init__(scale=scale, rand_type=rand_type)
        self.scale = scale
        self.rand_type = rand_type

    def _init_weight(self, desc: Any, arr: Any) -> None:
        shape = tuple(int(d) for d in arr.shape)
        if len(shape) < 2:
            raise InitShapeError(
                f"Orthogonal initializer cannot be applied to {desc} of shape {shape}: it needs at least 2-D."
            )
        if self.rand_type not in ("uniform", "normal"):
            raise ValueError(
                f"Unknown rand_type {self.rand_type!r} for Orthogonal: use 'uniform' or 'normal'"
            )
        raw = _fill.raw_of(arr)
        nout, nin = shape[0], int(np.prod(shape[1:]))
        key, offset = _fill.stream_key(desc, self, arr, check=False)
        with backend.device_guard(_fill.ctx_of(arr)):
            xp = backend.xp_of(raw)
            work = np.float64 if np.dtype(raw.dtype) == np.float64 else np.float32
            tmp = xp.empty((nout, nin), dtype=work)
            if self.rand_type == "uniform":
                _fill.random_fill(tmp, "uniform", -1.0, 1.0, key, offset, desc)
            else:
                _fill.random_fill(tmp, "normal", 0.0, 1.0, key, offset, desc)
            u, _, v = xp.linalg.svd(tmp, full_matrices=False)
            res = u if u.shape == tmp.shape else v
            res = (res * work(self.scale)).reshape(shape)
        _fill.write(arr, res)


for _klass in (Uniform, Normal, Xavier):
    _fill.register_plan(_klass._init_weight, "_plan_weight")
