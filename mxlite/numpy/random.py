"""``mx.np.random``: uniform and normal draws as ``mx.np.ndarray``.

They draw from the same counter-based global stream as ``mx.nd.random`` (``mx.random.seed``
resets both). ``size=None`` gives a 0-d array, as in MXNet. ``low``/``high``/``loc``/``scale``
may be arrays: the draws broadcast against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import dtype_np
from mxlite.context import Context
from mxlite.ndarray import creation
from mxlite.ndarray import random as nd_random
from mxlite.ndarray.ndarray import NDArray
from mxlite.numpy.multiarray import ndarray

__all__ = ["uniform", "normal", "rand", "randn", "seed", "randint", "shuffle", "multinomial"]


def _float_dtype(dtype: Any) -> np.dtype:
    from mxlite.util import is_np_default_dtype

    if dtype is None:
        return np.dtype(np.float64) if is_np_default_dtype() else np.dtype(np.float32)
    return dtype_np(dtype)


def _size(size: int | Sequence[int] | None) -> tuple[int, ...]:
    if size is None:
        return ()
    return (int(size),) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)


def _host_param(value: Any) -> Any:
    if isinstance(value, NDArray):
        return value.asnumpy()
    return value


def _draw(
    kind: str, a: Any, b: Any, size: Any, dtype: Any, ctx: Context | None, out: NDArray | None
) -> NDArray:
    a_h, b_h = _host_param(a), _host_param(b)
    params_are_arrays = np.ndim(a_h) > 0 or np.ndim(b_h) > 0
    if out is not None:
        target = out
    else:
        shape = _size(size)
        if size is None and params_are_arrays:
            shape = tuple(np.broadcast_shapes(np.shape(a_h), np.shape(b_h)))
        target = creation.make("empty", shape, ctx, _float_dtype(dtype), ndarray)
    fill = nd_random.uniform if kind == "uniform" else nd_random.normal
    if not params_are_arrays:
        fill(float(a_h), float(b_h), out=target)
        return target
    # Standard draws, then scaled by the broadcast parameters (in float64, rounded once).
    fill(0.0, 1.0, out=target)
    xp = target._xp
    with backend.array_device_guard(target._data):
        a_raw = xp.asarray(np.asarray(a_h, dtype=np.float64))
        b_raw = xp.asarray(np.asarray(b_h, dtype=np.float64))
        std = target._data.astype(np.float64)
        scaled = a_raw + (b_raw - a_raw) * std if kind == "uniform" else a_raw + b_raw * std
        target._data[...] = xp.broadcast_to(scaled, target.shape).astype(target._data.dtype)
    return target


def uniform(
    low: Any = 0.0,
    high: Any = 1.0,
    size: int | Sequence[int] | None = None,
    dtype: Any = None,
    ctx: Context | None = None,
    out: NDArray | None = None,
) -> NDArray:
    """Draws from ``U[low, high)`` of shape ``size`` (0-d when None), float32 by default."""
    return _draw("uniform", low, high, size, dtype, ctx, out)


def normal(
    loc: Any = 0.0,
    scale: Any = 1.0,
    size: int | Sequence[int] | None = None,
    dtype: Any = None,
    ctx: Context | None = None,
    out: NDArray | None = None,
) -> NDArray:
    """Draws from ``N(loc, scale**2)`` of shape ``size`` (0-d when None), float32 by default."""
    return _draw("normal", loc, scale, size, dtype, ctx, out)


def rand(*size: int, **kwargs: Any) -> NDArray:
    """Uniform draws from ``[0, 1)`` of shape ``size``."""
    return uniform(0.0, 1.0, size=size, **kwargs)


def randn(*size: int, **kwargs: Any) -> NDArray:
    """Standard normal draws of shape ``size``."""
    return normal(0.0, 1.0, size=size, **kwargs)


def seed(seed: int, ctx: Any = "all") -> None:
    """Seed the global stream (same as ``mx.random.seed``)."""
    from mxlite import random as mx_random

    mx_random.seed(seed, ctx)


def randint(
    low: int,
    high: int | None = None,
    size: int | Sequence[int] | None = None,
    dtype: Any = None,
    ctx: Context | None = None,
    out: NDArray | None = None,
) -> NDArray:
    """Integers drawn uniformly from ``[low, high)`` (``[0, low)`` when ``high`` is None), int64
    by default; ``size=None`` gives a 0-d array (MXNet 1.9.1 fails there).

    Raises:
        MXNetError: ``low >= high`` or a dtype other than int32/int64.
    """
    if high is None:
        low, high = 0, low
    shape = _size(size)
    target = out
    if target is None:
        target = creation.make("empty", shape, ctx, "int64" if dtype is None else dtype, ndarray)
    return nd_random.randint(low, high, dtype=target._data.dtype.name, out=target)


def shuffle(x: NDArray) -> None:
    """Permute ``x`` in place along its first axis (returns None, as NumPy)."""
    order = nd_random.permutation_raw(x.shape[0], x)
    with backend.array_device_guard(x._data):
        x._data[...] = x._data[order]


def multinomial(n: int, pvals: Any, size: int | Sequence[int] | None = None) -> NDArray:
    """Counts of ``n`` draws over the categories of ``pvals`` (int64, shape ``size + (k,)``).

    Raises:
        ValueError: probabilities that are negative or sum above 1.
    """
    p = np.asarray(_host_param(pvals), dtype=np.float64)
    if (p < 0).any() or p.sum() > 1.0 + 1e-12:
        raise ValueError("pvals: probabilities must be non-negative and sum to at most 1")
    shape = _size(size)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    counts = np.zeros((count, p.size), dtype=np.int64)
    if int(n) > 0:
        probs = NDArray(np.broadcast_to(p, (count, p.size)).copy())
        draws = nd_random.multinomial(probs, shape=int(n), dtype="int32")._data
        for k in range(p.size):
            counts[:, k] = (draws == k).sum(axis=1)
    return ndarray(counts.reshape(shape + (p.size,)))
