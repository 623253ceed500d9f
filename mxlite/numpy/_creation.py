"""Array creation of ``mx.np``: array, zeros, ones, full, empty, arange, linspace, eye, *_like.

Defaults as MXNet 1.9.1: float32 (float64 under ``npx.set_np(dtype=True)``), except that
``array`` of a NumPy or mx.np array keeps its dtype and ``full`` with a bool value gives bool.
Results are ``mx.np.ndarray`` on the current context; 0 sizes and 0-d shapes are allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError, dtype_np
from mxlite.context import Context
from mxlite.ndarray import creation
from mxlite.ndarray.ndarray import NDArray, default_ctx, on_device
from mxlite.numpy.multiarray import ndarray

__all__ = [
    "array",
    "asarray",
    "zeros",
    "ones",
    "full",
    "empty",
    "arange",
    "linspace",
    "eye",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
]


def _default_dtype() -> np.dtype:
    from mxlite.util import is_np_default_dtype

    return np.dtype(np.float64) if is_np_default_dtype() else np.dtype(np.float32)


def _dt(dtype: Any) -> np.dtype:
    return _default_dtype() if dtype is None else dtype_np(dtype)


def array(object: Any, dtype: Any = None, ctx: Context | None = None) -> NDArray:  # noqa: A002
    """A new ``mx.np.ndarray`` copied from ``object`` on ``ctx``.

    The dtype defaults to the source's for NumPy and ``mx.np`` arrays and NumPy scalars, else
    float32 (lists of ints or bools included), as in MXNet.

    Raises:
        ValueError: ``object`` is a legacy ``mx.nd.NDArray`` (use ``as_np_ndarray()``).
        TypeError: ``object`` is not array-like.
    """
    ctx = default_ctx(ctx)
    if isinstance(object, NDArray):
        if not object._numpy_semantics():
            raise ValueError(
                "If you're trying to create a mxnet.numpy.ndarray from mx.nd.NDArray, please use "
                "the zero-copy as_np_ndarray function."
            )
        target = object._data.dtype if dtype is None else dtype_np(dtype)
        arr = backend.to_ctx(object._data, ctx, copy=True)
        with backend.array_device_guard(arr):
            return ndarray(arr.astype(target, copy=False), ctx)
    if dtype is None:
        keeps = isinstance(object, (np.ndarray, np.generic)) or backend.is_gpu_array(object)
        dtype = object.dtype if keeps else _default_dtype()
    if ctx.device_typeid == 2 and backend.is_gpu_array(object):
        return ndarray(creation.device_copy(object, ctx, dtype_np(dtype)), ctx)
    host = creation.host_array(object, dtype_np(dtype), "mx.np.array")
    backend.check_ctx_usable(ctx)
    return ndarray(backend.to_ctx(host, ctx), ctx)


def asarray(a: Any, dtype: Any = None, ctx: Context | None = None) -> NDArray:
    """``a`` itself when it already is an ``mx.np.ndarray`` of that dtype, else :func:`array`."""
    if isinstance(a, ndarray) and (dtype is None or dtype_np(dtype) == a._data.dtype):
        return a
    return array(a, dtype=dtype, ctx=ctx)


@on_device
def _fill(out: NDArray, value: Any) -> NDArray:
    """``out`` with ``value`` written everywhere (on ``out``'s device)."""
    out._data[...] = value
    return out


def _shape(shape: Any, fn: str) -> tuple[int, ...]:
    return creation.normalize_shape(shape, fn)


def zeros(
    shape: int | Sequence[int], dtype: Any = None, order: str = "C", ctx: Context | None = None
) -> NDArray:
    """Zeros of ``shape`` (float32 by default)."""
    return creation.make("zeros", _shape(shape, "zeros"), ctx, _dt(dtype), ndarray)


def ones(
    shape: int | Sequence[int], dtype: Any = None, order: str = "C", ctx: Context | None = None
) -> NDArray:
    """Ones of ``shape`` (float32 by default)."""
    return creation.make("ones", _shape(shape, "ones"), ctx, _dt(dtype), ndarray)


def empty(
    shape: int | Sequence[int], dtype: Any = None, order: str = "C", ctx: Context | None = None
) -> NDArray:
    """An uninitialized array of ``shape`` (float32 by default)."""
    return creation.make("empty", _shape(shape, "empty"), ctx, _dt(dtype), ndarray)


def full(
    shape: int | Sequence[int],
    fill_value: Any,
    dtype: Any = None,
    order: str = "C",
    ctx: Context | None = None,
    out: NDArray | None = None,
) -> NDArray:
    """``shape`` filled with ``fill_value`` (bool for a bool value, else float32 by default)."""
    if isinstance(fill_value, NDArray):
        fill_value = fill_value.asnumpy().reshape(-1)[0]
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, (bool, np.bool_)) else _default_dtype()
    if out is not None:
        return _fill(out, fill_value)
    return creation.make("full", _shape(shape, "full"), ctx, dtype_np(dtype), ndarray, fill_value)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: Any = None,
    ctx: Context | None = None,
) -> NDArray:
    """Evenly spaced values in ``[start, stop)`` (float32 by default; may be empty)."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise MXNetError("arange: step must not be 0")
    return creation._arange(start, stop, step, 1, ctx, _dt(dtype), ndarray)


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
    ctx: Context | None = None,
) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop`` (included when ``endpoint``)."""
    host, step = np.linspace(start, stop, num, endpoint=endpoint, retstep=True)
    ctx = default_ctx(ctx)
    out = ndarray(backend.to_ctx(host.astype(_dt(dtype)), ctx), ctx)
    return (out, float(step)) if retstep else out


def eye(
    N: int, M: int | None = None, k: int = 0, dtype: Any = None, ctx: Context | None = None
) -> NDArray:  # noqa: N803
    """A 2-d array with ones on the ``k``-th diagonal."""
    ctx = default_ctx(ctx)
    return ndarray(backend.to_ctx(np.eye(N, M, k, dtype=_dt(dtype)), ctx), ctx)


def _like(
    fill: str,
    a: NDArray,
    dtype: Any,
    ctx: Context | None,
    value: Any = None,
    out: NDArray | None = None,
) -> NDArray:
    """A new array of ``a``'s shape filled as ``fill`` (``value`` written into ``out`` if given)."""
    if out is not None:
        return _fill(out, value)
    dt = a._data.dtype if dtype is None else dtype_np(dtype)
    return creation.make(fill, a.shape, ctx if ctx is not None else a.context, dt, ndarray, value)


def zeros_like(
    a: NDArray,
    dtype: Any = None,
    order: str = "C",
    ctx: Context | None = None,
    out: NDArray | None = None,
) -> NDArray:
    """Zeros of ``a``'s shape and dtype, on ``a``'s context."""
    return _like("zeros", a, dtype, ctx, 0, out)


def ones_like(
    a: NDArray,
    dtype: Any = None,
    order: str = "C",
    ctx: Context | None = None,
    out: NDArray | None = None,
) -> NDArray:
    """Ones of ``a``'s shape and dtype, on ``a``'s context."""
    return _like("ones", a, dtype, ctx, 1, out)


def full_like(
    a: NDArray,
    fill_value: Any,
    dtype: Any = None,
    order: str = "C",
    ctx: Context | None = None,
    out: NDArray | None = None,
) -> NDArray:
    """``fill_value`` in ``a``'s shape and dtype, on ``a``'s context."""
    return _like("full", a, dtype, ctx, fill_value, out)


def empty_like(
    prototype: NDArray, dtype: Any = None, order: str = "C", ctx: Context | None = None
) -> NDArray:
    """An uninitialized array of ``prototype``'s shape and dtype."""
    return _like("empty", prototype, dtype, ctx)
