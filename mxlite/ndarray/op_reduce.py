"""Reductions of ``mx.nd`` (and ``mx.np``): sum, mean, max, min, prod, nansum, norm, argmax, argmin.

Shapes and dtypes as MXNet 1.9.1:

* legacy: a full reduction gives shape ``(1,)``; ``axis=()`` reduces everything; ``exclude=True``
  reduces every axis *not* listed; the result keeps the input dtype (``mean`` of integers
  truncates, ``sum`` of bools is a logical or); argmax/argmin give indices in the input dtype.
* numpy mode: a full reduction gives shape ``()``; ``axis=()`` reduces nothing; ``sum`` of bools
  gives int64, ``mean`` of integers or bools float32; argmax/argmin give int64.

Recorded for autograd under the function's name with attrs ``axis`` (a tuple of non-negative axes,
or None for all) and ``keepdims``.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from mxlite.base import MXNetError, dtype_np
from mxlite.ndarray._elementwise import from_float
from mxlite.ndarray.ndarray import NDArray, autograd_record, on_device, out_ctx
from mxlite.ndarray.op_math import write_out

__all__ = ["sum", "mean", "max", "min", "prod", "nansum", "norm", "argmax", "argmin", "sum_axis"]

_BOOL = np.dtype(np.bool_)


def normalize_axes(
    axis: Any, shape: tuple[int, ...], exclude: bool, numpy_mode: bool
) -> tuple[int, ...] | None:
    """The reduced axes as a sorted tuple of non-negative ints (None: all axes).

    Raises:
        MXNetError: an axis out of range, or listed twice.
    """
    ndim = len(shape)
    if axis is None or (axis == () and not numpy_mode):
        return () if exclude else None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= int(ax) < ndim:
            raise MXNetError(
                f"Reduction axis {ax} Exceeds input dimensions {list(shape)}; valid axes are "
                f"{-ndim} .. {ndim - 1}."
            )
        out.append(int(ax) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise MXNetError(f"Reduction axes {axes} list an axis twice")
    if exclude:
        return tuple(i for i in range(ndim) if i not in out)
    return tuple(sorted(out))


def _finish(
    data: NDArray, res: Any, name: str, axes: Any, keepdims: bool, out: NDArray | None, **attrs: Any
) -> NDArray:
    xp = data._xp
    res = xp.asarray(res)
    if res.ndim == 0 and not data._numpy_semantics():
        res = res.reshape(1)
    result = type(data)(res, out_ctx(data.context))
    autograd_record(name, [data], result, axis=axes, keepdims=keepdims, **attrs)
    return write_out(result, out)


def _sum_raw(xp: Any, a: Any, axes: Any, keepdims: bool, out_dt: np.dtype) -> Any:
    acc = np.dtype(np.float32) if a.dtype == np.float16 else out_dt
    with np.errstate(all="ignore"):
        if out_dt == _BOOL:
            res = xp.any(a, axis=axes, keepdims=keepdims)
        else:
            res = xp.sum(a, axis=axes, keepdims=keepdims, dtype=acc)
        return xp.asarray(res).astype(out_dt, copy=False)


def _count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    dims = range(len(shape)) if axes is None else axes
    return int(np.prod([shape[i] for i in dims], dtype=np.int64))


def _reduction(name: str, kernel: Callable[..., Any], doc: str) -> Callable[..., NDArray]:
    """The public reduction ``name``: ``kernel(xp, arr, axes, keepdims, numpy_mode, dtype)``.

    ``axes`` is :func:`normalize_axes`'s answer; ``dtype`` the requested result dtype (a
    ``np.dtype``) or None for the reduction's default.
    """

    def op(
        data: NDArray,
        axis: Any = None,
        keepdims: bool = False,
        exclude: bool = False,
        out: NDArray | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> NDArray:
        npm = data._numpy_semantics()
        axes = normalize_axes(axis, data.shape, exclude, npm)
        out_dt = None if dtype is None else dtype_np(dtype)
        res = kernel(data._xp, data._data, axes, keepdims, npm, out_dt)
        return _finish(data, res, name, axes, keepdims, out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return on_device(op)


def _default_dtype(a: Any, npm: bool, dtype: np.dtype | None) -> np.dtype:
    """``dtype`` if given, else the input dtype (numpy mode: int64 for bools) of sum and prod."""
    if dtype is not None:
        return dtype
    return np.dtype(np.int64) if npm and a.dtype == _BOOL else a.dtype


def _sum(xp: Any, a: Any, axes: Any, keepdims: bool, npm: bool, dtype: np.dtype | None) -> Any:
    out_dt = _default_dtype(a, npm, dtype)
    if npm and axes == ():
        return a.astype(out_dt, copy=True)
    return _sum_raw(xp, a, axes, keepdims, out_dt)


def _nansum(xp: Any, a: Any, axes: Any, keepdims: bool, npm: bool, dtype: np.dtype | None) -> Any:
    if a.dtype.kind == "f":
        return xp.nansum(a, axis=axes, keepdims=keepdims).astype(a.dtype)
    return _sum_raw(xp, a, axes, keepdims, a.dtype)


def _prod(xp: Any, a: Any, axes: Any, keepdims: bool, npm: bool, dtype: np.dtype | None) -> Any:
    out_dt = _default_dtype(a, npm, dtype)
    with np.errstate(all="ignore"):
        if out_dt == _BOOL:
            return xp.all(a, axis=axes, keepdims=keepdims)
        acc = np.dtype(np.float32) if a.dtype == np.float16 else out_dt
        return xp.prod(a, axis=axes, keepdims=keepdims, dtype=acc).astype(out_dt)


def _mean(xp: Any, a: Any, axes: Any, keepdims: bool, npm: bool, dtype: np.dtype | None) -> Any:
    n = _count(a.shape, axes)
    with np.errstate(all="ignore"):
        if npm and a.dtype.kind in "iub":
            out_dt = dtype if dtype is not None else np.dtype(np.float32)
            return (xp.sum(a, axis=axes, keepdims=keepdims, dtype=np.float64) / n).astype(out_dt)
        if a.dtype == _BOOL:
            return _sum_raw(xp, a, axes, keepdims, _BOOL)
        total = _sum_raw(xp, a, axes, keepdims, a.dtype)
        if a.dtype.kind in "iu":
            res = from_float(xp, xp.trunc(total.astype(np.float64) / n), a.dtype) if n else total
        else:
            res = (total / a.dtype.type(n)).astype(a.dtype)
        return res if dtype is None else res.astype(dtype)


def _extremum(
    xp: Any, a: Any, axes: Any, keepdims: bool, npm: bool, dtype: np.dtype | None, *, name: str
) -> Any:
    if a.size == 0:
        raise MXNetError(f"{name}: cannot reduce an empty array of shape {a.shape}")
    return getattr(xp, name)(a, axis=axes, keepdims=keepdims)


def _extremum_op(name: str) -> Callable[..., NDArray]:
    doc = f"``{name}`` over ``axis`` (all axes by default), in the input dtype."
    return _reduction(name, functools.partial(_extremum, name=name), doc)


sum = _reduction("sum", _sum, "Sum over ``axis`` (all axes by default).")  # noqa: A001
nansum = _reduction("nansum", _nansum, "Sum over ``axis`` treating NaN as zero.")
prod = _reduction("prod", _prod, "Product over ``axis``.")
mean = _reduction(
    "mean",
    _mean,
    "Mean over ``axis`` (legacy integer means truncate; numpy mode gives float32 for them).",
)
max = _extremum_op("max")  # noqa: A001
min = _extremum_op("min")  # noqa: A001
sum_axis = sum


@on_device
def norm(
    data: NDArray,
    ord: int = 2,
    axis: Any = None,
    keepdims: bool = False,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """L2 (``ord=2``) or L1 (``ord=1``) norm over ``axis`` (all axes by default), in the input dtype.

    Raises:
        MXNetError: ``ord`` other than 1 or 2.
    """
    if ord not in (1, 2):
        raise MXNetError(f"norm: only ord=1 and ord=2 are supported, got {ord}")
    npm = data._numpy_semantics()
    axes = normalize_axes(axis, data.shape, False, npm)
    xp, a = data._xp, data._data
    with np.errstate(all="ignore"):
        wide = a.astype(np.float64) if a.dtype.itemsize < 4 or a.dtype.kind != "f" else a
        if ord == 1:
            res = xp.sum(xp.abs(wide), axis=axes, keepdims=keepdims)
        else:
            res = xp.sqrt(xp.sum(wide * wide, axis=axes, keepdims=keepdims))
        res = from_float(xp, xp.asarray(res), a.dtype)
    return _finish(data, res, "norm", axes, keepdims, out, ord=ord)


def _arg(name: str, fn: Callable[..., Any]) -> Callable[..., NDArray]:
    def op(
        data: NDArray,
        axis: int | None = None,
        keepdims: bool = False,
        out: NDArray | None = None,
        **kwargs: Any,
    ) -> NDArray:
        npm = data._numpy_semantics()
        if axis is not None and not -data.ndim <= int(axis) < builtins.max(data.ndim, 1):
            raise MXNetError(f"{name}: axis {axis} out of range for shape {data.shape}")
        if data.size == 0:
            raise MXNetError(f"{name}: cannot reduce an empty array of shape {data.shape}")
        if data._data.dtype == np.bool_:
            raise MXNetError(f"{name}: bool inputs are not supported; cast with .astype() first.")
        xp = data._xp
        res = fn(xp, data._data, axis)
        if keepdims:
            res = (
                xp.expand_dims(res, int(axis) % data.ndim)
                if axis is not None
                else res.reshape((1,) * data.ndim)
            )
        dt = np.dtype(np.int64) if npm else data._data.dtype
        res = xp.asarray(res).astype(dt)
        if res.ndim == 0 and not npm:
            res = res.reshape(1)
        return write_out(type(data)(res, out_ctx(data.context)), out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (
        f"Index of the {name[3:]}imum along ``axis`` (flattened when None); legacy results are "
        "in the input dtype, numpy-mode results int64."
    )
    return on_device(op)


argmax = _arg("argmax", lambda xp, a, ax: xp.argmax(a, axis=ax))
argmin = _arg("argmin", lambda xp, a, ax: xp.argmin(a, axis=ax))
