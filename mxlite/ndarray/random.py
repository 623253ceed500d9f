"""``mx.nd.random``: uniform and normal draws from mxlite's counter-based global stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mxlite.context import Context
from mxlite.ndarray import creation
from mxlite.ndarray.ndarray import NDArray

__all__ = ["uniform", "normal", "randn"]


def _target(shape: Any, dtype: Any, ctx: Context | None, out: NDArray | None) -> NDArray:
    if out is not None:
        return out
    shp = (shape,) if isinstance(shape, int) else tuple(shape or (1,))
    return creation.make("empty", shp, ctx, dtype, NDArray)


def _draw(
    fill: str,
    p0: float,
    p1: float,
    shape: Any,
    dtype: Any,
    ctx: Context | None,
    out: NDArray | None,
) -> NDArray:
    """Fill a new array (or ``out``) with ``ops.<fill>`` from the next span of the ad-hoc stream."""
    import mxlite.random as counter_rng
    from mxlite import ops

    res = _target(shape, dtype, ctx, out)
    key, offset = counter_rng.next_adhoc(res.size)
    getattr(ops, fill)(res._data, p0, p1, key, offset)
    return res


def uniform(
    low: float = 0.0,
    high: float = 1.0,
    shape: int | Sequence[int] | None = None,
    dtype: Any = None,
    ctx: Context | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Draw from U[low, high) on ``ctx`` (or into ``out``); advances the global counter."""
    return _draw("fill_uniform", low, high, shape, dtype, ctx, out)


def normal(
    loc: float = 0.0,
    scale: float = 1.0,
    shape: int | Sequence[int] | None = None,
    dtype: Any = None,
    ctx: Context | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Draw from N(loc, scale**2) on ``ctx`` (or into ``out``); advances the global counter."""
    return _draw("fill_normal", loc, scale, shape, dtype, ctx, out)


def randn(
    *shape: int,
    loc: float = 0.0,
    scale: float = 1.0,
    dtype: Any = None,
    ctx: Context | None = None,
    **kwargs: Any,
) -> NDArray:
    """Standard normal draws of the given shape."""
    return normal(loc, scale, shape, dtype, ctx)
