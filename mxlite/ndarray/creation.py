"""Array creation of ``mx.nd``: array, zeros, ones, full, empty, arange; reset_arrays, waitall."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError, dtype_np
from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray, default_ctx

__all__ = ["array", "zeros", "ones", "full", "empty", "arange", "reset_arrays", "waitall"]


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    shp = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    for dim in shp:
        if dim < 0:
            raise MXNetError(f"Invalid shape {shp}: dimensions must be non-negative")
    return shp


def _make(
    xp_fn: str, shape: Any, ctx: Context | None, dtype: Any, cls: type[NDArray], *args: Any
) -> NDArray:
    ctx = default_ctx(ctx)
    xp = backend.get_xp(ctx)
    with backend.device_guard(ctx):
        arr = getattr(xp, xp_fn)(_shape(shape), *args, dtype=dtype_np(dtype))
    return cls(arr, ctx)


def zeros(
    shape: int | Sequence[int],
    ctx: Context | None = None,
    dtype: Any = None,
    stype: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """Array of zeros on ``ctx`` (current context by default), float32 by default."""
    _check_stype(stype)
    return _make("zeros", shape, ctx, dtype, NDArray)


def ones(
    shape: int | Sequence[int], ctx: Context | None = None, dtype: Any = None, **kwargs: Any
) -> NDArray:
    """Array of ones."""
    return _make("ones", shape, ctx, dtype, NDArray)


def empty(
    shape: int | Sequence[int],
    ctx: Context | None = None,
    dtype: Any = None,
    stype: str | None = None,
) -> NDArray:
    """Uninitialized array."""
    _check_stype(stype)
    return _make("empty", shape, ctx, dtype, NDArray)


def full(
    shape: int | Sequence[int],
    val: float,
    ctx: Context | None = None,
    dtype: Any = None,
    out: NDArray | None = None,
) -> NDArray:
    """Array filled with ``val``; written into ``out`` when given."""
    if out is not None:
        out._data[...] = val
        return out
    return _make("full", shape, ctx, dtype, NDArray, val)


def array(source_array: Any, ctx: Context | None = None, dtype: Any = None) -> NDArray:
    """Copy ``source_array`` (NDArray, NumPy array, nested lists, scalar) to a new NDArray.

    The dtype defaults to the source's for an NDArray and to float32 otherwise, as in MXNet.
    """
    ctx = default_ctx(ctx)
    if isinstance(source_array, NDArray):
        target = dtype_np(dtype) if dtype is not None else source_array._data.dtype
        arr = backend.to_ctx(source_array._data, ctx, copy=True).astype(target, copy=False)
        return NDArray(arr, ctx)
    if backend.is_gpu_array(source_array):
        source_array = source_array.get()
    try:
        host = np.array(source_array, dtype=dtype_np(dtype))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"array: cannot convert {type(source_array).__name__} to an NDArray: {err}"
        ) from err
    return NDArray(backend.to_ctx(host, ctx, copy=False), ctx)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1.0,
    repeat: int = 1,
    infer_range: bool | None = None,
    ctx: Context | None = None,
    dtype: Any = None,
) -> NDArray:
    """Evenly spaced values in ``[start, stop)``, each repeated ``repeat`` times."""
    ctx = default_ctx(ctx)
    host = (
        np.arange(start, stop, step, dtype=np.float64)
        if stop is not None
        else np.arange(0, start, step, dtype=np.float64)
    )
    if repeat > 1:
        host = np.repeat(host, repeat)
    host = host.astype(dtype_np(dtype))
    return NDArray(backend.to_ctx(host, ctx), ctx)


def reset_arrays(*arrays: NDArray, num_arrays: int | None = None, **kwargs: Any) -> None:
    """Set every array to zero, grouped by (device, dtype) so each group is one kernel launch.

    Raises:
        ValueError: ``num_arrays`` does not match the number of arrays given.
    """
    if num_arrays is not None and num_arrays != len(arrays):
        raise ValueError(
            f"reset_arrays: num_arrays={num_arrays} but {len(arrays)} arrays were given"
        )
    from mxlite import ops

    raws = [a._data for a in arrays]
    if hasattr(ops, "multi_zero"):
        ops.multi_zero(raws)
    else:
        for raw in raws:
            raw.fill(0)


def waitall() -> None:
    """Wait for all pending device work."""
    backend.synchronize(None)


def _check_stype(stype: str | None) -> None:
    if stype not in (None, "default"):
        raise NotImplementedError(
            f"stype={stype!r}: mxlite stores arrays densely only; use stype='default'."
        )
