"""The random operators under their ``mx.nd`` top-level names, as MXNet 1.9.1 has them.

* ``uniform``/``random_uniform``, ``normal``/``random_normal``, ``random_randint``: one
  distribution, signature ``(params..., shape, ctx, dtype, out)`` (the operators' order: ``ctx``
  before ``dtype``, unlike ``mx.nd.random.uniform``).
* ``sample_uniform``, ``sample_normal``: one distribution per element of the parameter arrays;
  the result has shape ``low.shape + shape``.
* ``sample_multinomial``, ``shuffle``: ``mx.nd.random.multinomial`` / ``shuffle``.

The draws come from mxlite's counter-based stream (:mod:`mxlite.ndarray.random`): reproducible
for a seed on every device, but not MXNet's numbers. MXNet's gamma, exponential, Poisson and
negative-binomial samplers are not provided.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError
from mxlite.context import Context
from mxlite.ndarray import random
from mxlite.ndarray._op_args import out_dtype
from mxlite.ndarray.ndarray import NDArray

__all__ = [
    "uniform",
    "normal",
    "random_uniform",
    "random_normal",
    "random_randint",
    "sample_uniform",
    "sample_normal",
    "sample_multinomial",
    "shuffle",
]

_FLOAT_DTYPES = ("None", "float16", "float32", "float64")
_MSG_PARAM_SHAPES = (
    "{op}: the parameter arrays need one shape, got {a} and {b}; broadcast them first "
    "(mx.nd.broadcast_to)."
)

shuffle = random.shuffle
sample_multinomial = random.multinomial


def _float_dtype(op: str, dtype: Any) -> Any:
    """``dtype`` checked against the float types the random operators take (None stays None)."""
    return None if dtype is None else out_dtype(op, dtype, _FLOAT_DTYPES)


def random_uniform(
    low: float = 0.0,
    high: float = 1.0,
    shape: int | Sequence[int] | None = None,
    ctx: Context | None = None,
    dtype: Any = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Draws from U[low, high) of ``shape`` on ``ctx`` (float32 unless ``dtype`` names a float).

    Raises:
        MXNetError: ``low > high``, or a ``dtype`` that is not a float type.
    """
    return random.uniform(low, high, shape, _float_dtype("_random_uniform", dtype), ctx, out)


def random_normal(
    loc: float = 0.0,
    scale: float = 1.0,
    shape: int | Sequence[int] | None = None,
    ctx: Context | None = None,
    dtype: Any = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Draws from N(loc, scale**2) of ``shape`` on ``ctx`` (float32 unless ``dtype`` names a
    float).

    Raises:
        MXNetError: a ``dtype`` that is not a float type.
    """
    return random.normal(loc, scale, shape, _float_dtype("_random_normal", dtype), ctx, out)


uniform = random_uniform
normal = random_normal


def random_randint(
    low: int,
    high: int,
    shape: int | Sequence[int] | None = None,
    ctx: Context | None = None,
    dtype: Any = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Integers from ``[low, high)`` (see :func:`mxlite.ndarray.random.randint`)."""
    return random.randint(low, high, shape, dtype, ctx, out)


def _per_distribution(
    op: str, p0: NDArray, p1: NDArray, shape: Any, dtype: Any, out: NDArray | None, normal: bool
) -> NDArray:
    if p0.shape != p1.shape:
        raise MXNetError(_MSG_PARAM_SHAPES.format(op=op, a=p0.shape, b=p1.shape))
    extra = () if shape is None else ((shape,) if isinstance(shape, int) else tuple(shape))
    full = p0.shape + extra
    dt = _float_dtype(op, dtype) or np.float32
    if normal:
        draws = random.normal(0.0, 1.0, full, "float64", p0.context)._data
    else:
        draws = random.uniform_raw(full, p0.context)
    xp = p0._xp
    with backend.array_device_guard(p0._data):
        tail = (1,) * len(extra)
        a = p0._data.astype(np.float64).reshape(p0.shape + tail)
        b = p1._data.astype(np.float64).reshape(p1.shape + tail)
        vals = a + b * draws if normal else a + (b - a) * draws
        res = type(p0)(xp.asarray(vals, dtype=dt), p0.context)
    if out is not None:
        out._data[...] = res._data.astype(out._data.dtype)
        return out
    return res


def sample_uniform(
    low: NDArray,
    high: NDArray,
    shape: int | Sequence[int] | None = None,
    dtype: Any = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """One U[low[i], high[i]) distribution per element: shape ``low.shape + shape``.

    Raises:
        MXNetError: ``low`` and ``high`` differ in shape, or ``dtype`` is not a float type.
    """
    return _per_distribution("_sample_uniform", low, high, shape, dtype, out, normal=False)


def sample_normal(
    mu: NDArray,
    sigma: NDArray,
    shape: int | Sequence[int] | None = None,
    dtype: Any = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """One N(mu[i], sigma[i]**2) distribution per element: shape ``mu.shape + shape``.

    Raises:
        MXNetError: ``mu`` and ``sigma`` differ in shape, or ``dtype`` is not a float type.
    """
    return _per_distribution("_sample_normal", mu, sigma, shape, dtype, out, normal=True)
