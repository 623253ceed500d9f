"""Sorting ops of ``mx.nd``: topk, sort, argsort.

Orders are stable, as MXNet 1.9.1's CPU kernels: equal values keep their index order, whether
ascending or descending. Index outputs are float32 by default (``dtype`` chooses another).
``axis=None`` works on the flattened array.

Recorded for autograd: the value outputs (``topk`` with ``ret_typ='value'``, ``sort``) as
``sort_values`` (attrs ``axis`` and the int64 ``order`` the values were taken from; the gradient
is scattered back to those positions); ``topk(ret_typ='both')`` as the two-output
``topk_both`` (only its values carry a gradient); index and mask outputs as ``sort_indices``,
whose gradient is zero, as MXNet's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import autograd
from mxlite.autograd_tape import record_multi_op
from mxlite.base import MXNetError
from mxlite.ndarray._op_args import accepts_out, check_choice, out_dtype
from mxlite.ndarray.ndarray import NDArray, autograd_record, on_device, out_ctx

__all__ = ["topk", "sort", "argsort"]

_RET_TYPES = ("both", "indices", "mask", "value")
_INDEX_DTYPES = ("float16", "float32", "float64", "int32", "int64", "uint8")
_MSG_TOPK_AXIS = (
    "topk: Invalid axis! axis should be between 0 and {hi}, found axis={axis}; pass an axis "
    "in [-{ndim}, {ndim}) or None for the flattened array."
)
_MSG_TOPK_K = (
    "topk: k must be smaller than {n}, get k = {k}; k counts elements along the axis (k <= 0 "
    "takes them all)."
)


def stable_order(xp: Any, a: Any, axis: int, ascend: bool) -> Any:
    """Indices (int64) that sort ``a`` along ``axis``, ties in index order both ways."""
    kind = {"kind": "stable"} if xp is np else {}
    if ascend:
        return xp.argsort(a, axis=axis, **kind)
    n = a.shape[axis]
    rev = xp.argsort(xp.flip(a, axis=axis), axis=axis, **kind)
    return (n - 1) - xp.flip(rev, axis=axis)


def _prepare(op: str, data: NDArray, axis: Any) -> tuple[Any, int]:
    """``data``'s raw array (flattened for ``axis=None``) and the normalized axis.

    Raises:
        MXNetError: ``axis`` out of range.
    """
    a = data._data
    if axis is None:
        return a.reshape(-1), 0
    ndim = a.ndim
    ax = int(axis)
    if not -ndim <= ax < ndim:
        raise MXNetError(_MSG_TOPK_AXIS.format(hi=ndim, axis=axis, ndim=ndim).replace("topk", op))
    return a, ax % ndim


def _wrap(data: NDArray, raw: Any) -> NDArray:
    return type(data)(raw, out_ctx(data.context))


@accepts_out
@on_device
def topk(
    data: NDArray,
    axis: int | None = -1,
    k: int = 1,
    ret_typ: str = "indices",
    is_ascend: bool = False,
    dtype: Any = "float32",
    **kwargs: Any,
) -> Any:
    """The ``k`` largest (``is_ascend=False``) or smallest elements along ``axis``.

    Args:
        data: the input.
        axis: the axis to search; None flattens the input first.
        k: how many elements; ``k <= 0`` takes the whole axis.
        ret_typ: ``'indices'`` (default), ``'value'``, ``'both'`` (``[values, indices]``) or
            ``'mask'`` (an array of ``data``'s shape and dtype, 1 at the selected elements).
        is_ascend: pick the smallest elements, in ascending order.
        dtype: dtype of the indices (float32 by default, as MXNet).
        out: an array to write the result into (a pair of arrays for ``'both'``).

    Returns:
        the values or indices with the axis cut to ``k``, a mask, or ``[values, indices]``.

    Raises:
        MXNetError: bad ``axis``, ``k`` above the axis size, unknown ``ret_typ`` or ``dtype``,
            or an ``out`` that does not fit.
    """
    check_choice("topk", "ret_typ", ret_typ, _RET_TYPES)
    idx_dt = out_dtype("topk", dtype, _INDEX_DTYPES)
    a, ax = _prepare("topk", data, axis)
    n = a.shape[ax]
    if k > n:
        raise MXNetError(_MSG_TOPK_K.format(n=n, k=k))
    count = n if k <= 0 else int(k)
    xp = data._xp
    order = stable_order(xp, a, ax, bool(is_ascend))
    if ret_typ == "mask":
        rank = xp.argsort(order, axis=ax)  # the inverse permutation: each element's rank
        result = _wrap(data, (rank < count).astype(a.dtype).reshape(data.shape))
        autograd_record("sort_indices", [data], result)
        return result
    if count < n:
        order = xp.take(order, xp.arange(count), axis=ax)
    if ret_typ == "indices":
        result = _wrap(data, order.astype(idx_dt))
        autograd_record("sort_indices", [data], result)
        return result
    values = _wrap(data, xp.take_along_axis(a, order, axis=ax))
    attrs = {"axis": ax, "order": order, "flat": axis is None}
    if ret_typ == "value":
        autograd_record("sort_values", [data], values, **attrs)
        return values
    indices = _wrap(data, order.astype(idx_dt))
    if autograd.is_recording():
        record_multi_op("topk_both", [data], [values, indices], attrs)
    return [values, indices]


@accepts_out
@on_device
def sort(data: NDArray, axis: int | None = -1, is_ascend: bool = True, **kwargs: Any) -> NDArray:
    """The values of ``data`` sorted along ``axis`` (flattened when None); differentiable (the
    gradient goes back to each value's position; MXNet 1.9.1's sort fails at backward).

    Raises:
        MXNetError: ``axis`` out of range.
    """
    a, ax = _prepare("sort", data, axis)
    xp = data._xp
    order = stable_order(xp, a, ax, bool(is_ascend))
    values = _wrap(data, xp.take_along_axis(a, order, axis=ax))
    autograd_record("sort_values", [data], values, axis=ax, order=order, flat=axis is None)
    return values


@accepts_out
@on_device
def argsort(
    data: NDArray,
    axis: int | None = -1,
    is_ascend: bool = True,
    dtype: Any = "float32",
    **kwargs: Any,
) -> NDArray:
    """Indices that sort ``data`` along ``axis`` (flattened when None), float32 by default.

    Raises:
        MXNetError: ``axis`` out of range, or an unknown ``dtype``.
    """
    idx_dt = out_dtype("argsort", dtype, _INDEX_DTYPES)
    a, ax = _prepare("argsort", data, axis)
    order = stable_order(data._xp, a, ax, bool(is_ascend))
    result = _wrap(data, order.astype(idx_dt))
    autograd_record("sort_indices", [data], result)
    return result
