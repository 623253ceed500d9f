"""Operators on sparse arrays with MXNet 1.9.1's output storage types (checked against it in
tests/ndarray/test_sparse_oracle.py).

Elementwise (``a op b`` of one shape; a scalar ``s``):

==================  ==========  ==========  ================
lhs, rhs            add / sub   mul         div
==================  ==========  ==========  ================
rsp, rsp            row_sparse  row_sparse  default
rsp, dense          default     row_sparse  default
csr, csr            csr         csr         default
csr, dense          default     csr         default (``/``: error)
sparse, scalar      default     same        same
==================  ==========  ==========  ================

(A dense left operand always gives a dense result; ``csr / dense`` with a dense operand that
broadcasts keeps csr.) Everything else falls back to dense storage. All work is vectorized over the stored rows/entries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError
from mxlite.ndarray._sparse_base import BaseSparseNDArray, CSRNDArray, RowSparseNDArray
from mxlite.ndarray.ndarray import NDArray, as_raw, is_scalar
from mxlite.ops import row_sparse

__all__ = [
    "binary",
    "elemwise_add",
    "elemwise_sub",
    "elemwise_mul",
    "elemwise_div",
    "add",
    "subtract",
    "multiply",
    "divide",
    "negative",
    "retain",
    "square_sum",
    "sum",
    "mean",
    "where",
    "UNARY_ZERO_PRESERVING",
    "unary",
]

_MSG_SHAPE = (
    "Operator {op}: the operands have shapes {a} and {b}; elementwise operators on sparse arrays "
    "need equal shapes (use add/multiply/... of mx.nd.sparse to broadcast a dense operand)."
)

_MSG_CLIP = (
    "Operator not implemented: operator = clip with a_min={a_min}, a_max={a_max} on a sparse "
    "array (the zeros would change). Clip the dense array: x.tostype('default').clip(...)."
)
_MSG_CSR_DIV = (
    "Please use elemwise_div for division between csr and dense of the same shape "
    "(mx.nd.sparse.elemwise_div(csr, dense) keeps csr storage)."
)

#: Unary functions with f(0) == 0 that MXNet keeps sparse.
UNARY_ZERO_PRESERVING = (
    "abs", "sign", "round", "rint", "ceil", "floor", "trunc", "fix", "square", "sqrt",
    "sin", "tan", "arcsin", "arctan", "degrees", "radians", "sinh", "tanh", "arcsinh",
    "arctanh", "expm1", "log1p", "relu", "negative",
)  # fmt: skip


def _dense(x: NDArray) -> NDArray:
    return NDArray(x._data, x.context)


def _csr_keys(x: CSRNDArray) -> Any:
    return x._row_ids() * max(x.shape[1], 1) + x._indices


def _csr_from_keys(keys: Any, values: Any, like: CSRNDArray) -> CSRNDArray:
    xp = backend.xp_of(values)
    ncols = max(like.shape[1], 1)
    rows, cols = keys // ncols, keys % ncols
    indptr = xp.zeros(like.shape[0] + 1, dtype=np.int64)
    if int(keys.size):
        xp.cumsum(xp.bincount(rows, minlength=like.shape[0]), out=indptr[1:])
    return CSRNDArray._make(values, cols.astype(np.int64), like.shape, like.context, indptr=indptr)


def _same_sparse(op: str, a: BaseSparseNDArray, b: BaseSparseNDArray) -> BaseSparseNDArray:
    """``a op b`` for two arrays of one sparse storage type (op in add, sub, mul)."""
    xp = a._xp
    vb = as_raw_parts(b, a)
    if isinstance(a, RowSparseNDArray):
        ia, ib = a._indices, vb[0]
        if op == "mul":
            common = xp.intersect1d(ia, ib)
            va = a._values[xp.searchsorted(ia, common)]
            return RowSparseNDArray._make(
                va * vb[1][xp.searchsorted(ib, common)], common, a.shape, a.context
            )
        idx, vals = row_sparse.union_rows(
            xp, ia, a._values, ib, vb[1], 1.0 if op == "add" else -1.0
        )
        return RowSparseNDArray._make(vals, idx, a.shape, a.context)
    ka, kb = _csr_keys(a), _csr_keys(b)  # type: ignore[arg-type]
    if op == "mul":
        common = xp.intersect1d(ka, kb)
        vals = a._values[xp.searchsorted(ka, common)] * vb[1][xp.searchsorted(kb, common)]
        return _csr_from_keys(common, vals, a)  # type: ignore[arg-type]
    uniq = xp.union1d(ka, kb)
    vals = xp.zeros(int(uniq.size), dtype=a._values.dtype)
    vals[xp.searchsorted(uniq, ka)] += a._values
    if op == "add":
        vals[xp.searchsorted(uniq, kb)] += vb[1]
    else:
        vals[xp.searchsorted(uniq, kb)] -= vb[1]
    return _csr_from_keys(uniq, vals, a)  # type: ignore[arg-type]


def as_raw_parts(b: BaseSparseNDArray, like: BaseSparseNDArray) -> tuple[Any, Any]:
    """``b``'s (indices, values) on ``like``'s device, values in ``like``'s dtype."""
    if backend.is_gpu_array(b._values) != backend.is_gpu_array(like._values):
        raise MXNetError(
            f"Cannot combine an array on {b.context} with one on {like.context}. "
            "Copy one of them with .as_in_context(ctx) first."
        )
    idx = backend.to_ctx(b._indices, like.context)
    vals = backend.to_ctx(b._values, like.context).astype(like._values.dtype, copy=False)
    return idx, vals


def _with_dense(op: str, a: BaseSparseNDArray, dense: Any) -> BaseSparseNDArray:
    """``a * dense`` or ``a / dense`` (dense broadcast to ``a``'s shape) keeping ``a``'s storage."""
    xp = a._xp
    d = xp.broadcast_to(dense, a.shape)
    if isinstance(a, RowSparseNDArray):
        other = d[a._indices]
    else:
        other = d[a._row_ids(), a._indices]
    other = other.astype(a._values.dtype, copy=False)
    with np.errstate(all="ignore"):
        vals = a._values * other if op == "mul" else a._values / other
    return a._with(vals)


def binary(op: str, lhs: Any, rhs: Any, elemwise: bool = False) -> NDArray:
    """``lhs op rhs`` (op: add, sub, mul, div) with MXNet's output storage (module table);
    one operand is sparse. ``elemwise`` marks ``elemwise_div`` (csr / dense of one shape is
    allowed there, not for ``/``).

    Raises:
        MXNetError: two array operands of different shapes; ``csr / dense`` of one shape.
    """
    if is_scalar(rhs) or is_scalar(lhs):
        sparse, scalar, left = (lhs, rhs, True) if is_scalar(rhs) else (rhs, lhs, False)
        s = sparse._values.dtype.type(scalar)
        if op == "mul":
            return sparse._with(sparse._values * s)
        if op == "div" and left:
            with np.errstate(all="ignore"):
                return sparse._with(sparse._values / s)
        return _dense_op(op, _dense(sparse), scalar, left)
    if not isinstance(lhs, NDArray) or not isinstance(rhs, NDArray):
        raise TypeError(f"type {type(rhs if isinstance(lhs, NDArray) else lhs)} not supported")
    if lhs.shape != rhs.shape:
        if op in ("mul", "div") and isinstance(lhs, CSRNDArray) and rhs.stype == "default":
            return _with_dense(op, lhs, as_raw(rhs, _dense(lhs)))
        raise MXNetError(_MSG_SHAPE.format(op=op, a=lhs.shape, b=rhs.shape))
    ls, rs = lhs.stype, rhs.stype
    if op == "div" and ls == "csr" and rs == "default" and not elemwise:
        raise MXNetError(_MSG_CSR_DIV)
    if ls == rs and ls != "default" and op != "div":
        return _same_sparse(op, lhs, rhs)  # type: ignore[arg-type]
    if ls != "default" and rs == "default":
        if op == "mul":  # csr / dense keeps csr only when broadcasting (above)
            return _with_dense(op, lhs, as_raw(rhs, _dense(lhs)))  # type: ignore[arg-type]
    return _dense_op(
        op, _dense(lhs) if ls != "default" else lhs, _dense(rhs) if rs != "default" else rhs, True
    )


def _dense_op(op: str, a: Any, b: Any, left: bool) -> NDArray:
    from mxlite.ndarray import op as ops

    return ops.binary(op, a, b) if left else ops.binary(op, b, a)


def elemwise_add(lhs: NDArray, rhs: NDArray, **kwargs: Any) -> NDArray:
    """``lhs + rhs`` of one shape with MXNet's output storage."""
    return _any_binary("add", lhs, rhs)


def elemwise_sub(lhs: NDArray, rhs: NDArray, **kwargs: Any) -> NDArray:
    """``lhs - rhs`` of one shape with MXNet's output storage."""
    return _any_binary("sub", lhs, rhs)


def elemwise_mul(lhs: NDArray, rhs: NDArray, **kwargs: Any) -> NDArray:
    """``lhs * rhs`` of one shape with MXNet's output storage."""
    return _any_binary("mul", lhs, rhs)


def elemwise_div(lhs: NDArray, rhs: NDArray, **kwargs: Any) -> NDArray:
    """``lhs / rhs`` of one shape with MXNet's output storage."""
    return _any_binary("div", lhs, rhs)


def _any_binary(op: str, lhs: Any, rhs: Any) -> NDArray:
    if isinstance(lhs, BaseSparseNDArray) or isinstance(rhs, BaseSparseNDArray):
        if isinstance(lhs, BaseSparseNDArray):
            return binary(op, lhs, rhs, elemwise=True)
        return _dense_op(op, lhs, _dense(rhs) if isinstance(rhs, NDArray) else rhs, True)
    return _dense_op(op, lhs, rhs, True)


add = elemwise_add
subtract = elemwise_sub
multiply = elemwise_mul
divide = elemwise_div


def negative(data: NDArray, **kwargs: Any) -> NDArray:
    """``-data`` in the same storage."""
    return unary("negative", data)


def unary(name: str, data: NDArray, **kwargs: Any) -> NDArray:
    """A zero-preserving unary function (:data:`UNARY_ZERO_PRESERVING`) applied to the stored
    values, keeping the storage; a dense input goes to ``mx.nd.<name>``."""
    from mxlite.ndarray import op as ops

    if not isinstance(data, BaseSparseNDArray):
        return getattr(ops, name)(data, **kwargs)
    xp = data._xp
    fn: Callable[[Any], Any]
    if name == "relu":
        fn = lambda v: xp.maximum(v, v.dtype.type(0))  # noqa: E731
    elif name == "fix":
        fn = xp.trunc
    elif name == "round":
        fn = lambda v: xp.where(v >= 0, xp.floor(v + 0.5), xp.ceil(v - 0.5)).astype(v.dtype)  # noqa: E731
    else:
        fn = getattr(xp, name)
    with np.errstate(all="ignore"):
        return data._with(fn(data._values))


def clip(data: NDArray, a_min: float, a_max: float, **kwargs: Any) -> NDArray:
    """Values clipped to ``[a_min, a_max]``, keeping sparse storage.

    Raises:
        MXNetError: a sparse input with ``0`` outside ``[a_min, a_max]`` (zeros would change;
            MXNet has no sparse kernel for it either).
    """
    from mxlite.ndarray import op as ops

    if not isinstance(data, BaseSparseNDArray):
        return ops.clip(data, a_min, a_max)
    if not a_min <= 0 <= a_max:
        raise MXNetError(_MSG_CLIP.format(a_min=a_min, a_max=a_max))
    t = data._values.dtype.type
    return data._with(data._xp.clip(data._values, t(a_min), t(a_max)))


def zeros_like(data: NDArray, **kwargs: Any) -> NDArray:
    """An all-zero array of ``data``'s shape, dtype and storage."""
    from mxlite.ndarray import _sparse_build
    from mxlite.ndarray import op as ops

    if not isinstance(data, BaseSparseNDArray):
        return ops.zeros_like(data)
    return _sparse_build.zeros(data.stype, data.shape, data.context, data.dtype)


def retain(data: NDArray, indices: NDArray, **kwargs: Any) -> RowSparseNDArray:
    """The rows of row_sparse ``data`` whose ids are in ``indices`` (others dropped).

    Raises:
        MXNetError: ``data`` is not row_sparse.
    """
    if not isinstance(data, RowSparseNDArray):
        raise MXNetError(
            f"retain: the data must be row_sparse, got storage '{data.stype}'. Convert it with "
            "data.tostype('row_sparse') first."
        )
    xp = data._xp
    ids = backend.to_ctx(indices._data, data.context).astype(np.int64, copy=False).reshape(-1)
    keep = xp.isin(data._indices, ids)
    return RowSparseNDArray._make(data._values[keep], data._indices[keep], data.shape, data.context)


def square_sum(
    data: NDArray, axis: int | None = None, keepdims: bool = False, **kwargs: Any
) -> NDArray:
    """``sum(data ** 2, axis)`` of a row_sparse array: ``axis=1`` with ``keepdims`` gives a
    row_sparse ``(N, 1)``, other cases a dense result (MXNet's ``_square_sum``)."""
    from mxlite.ndarray import op as ops

    if isinstance(data, RowSparseNDArray) and axis in (1, -1) and data.ndim == 2:
        sq = (data._values * data._values).sum(axis=1)
        if keepdims:
            return RowSparseNDArray._make(
                sq.reshape(-1, 1), data._indices.copy(), (data.shape[0], 1), data.context
            )
        out = data._xp.zeros(data.shape[0], dtype=data._values.dtype)
        out[data._indices] = sq
        return NDArray(out, data.context)
    dense = _dense(data) if isinstance(data, BaseSparseNDArray) else data
    return ops.sum(ops.square(dense), axis=axis, keepdims=keepdims)


def sum(data: NDArray, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> NDArray:  # noqa: A001
    """Sum along ``axis`` (a dense result); a csr input with ``axis`` 0 or 1 reads only its
    stored entries."""
    return _reduce(data, axis, keepdims, mean=False, **kwargs)


def mean(data: NDArray, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> NDArray:
    """Mean along ``axis`` (a dense result); see :func:`sum`."""
    return _reduce(data, axis, keepdims, mean=True, **kwargs)


def _reduce(data: NDArray, axis: Any, keepdims: bool, mean: bool, **kwargs: Any) -> NDArray:
    from mxlite.ndarray import op as ops

    if isinstance(data, CSRNDArray) and axis in (0, 1, -1, -2) and not kwargs.get("exclude"):
        xp = data._xp
        ax = axis % 2
        n = data.shape[1 - ax]
        bins = data._indices if ax == 0 else data._row_ids()
        acc = xp.bincount(bins, weights=data._values.astype(np.float64), minlength=n)
        out = acc.astype(data._values.dtype)
        if mean:
            out = (out / data._values.dtype.type(data.shape[ax])).astype(data._values.dtype)
        if keepdims:
            out = out.reshape((1, n) if ax == 0 else (n, 1))
        return NDArray(out, data.context)
    dense = _dense(data) if isinstance(data, BaseSparseNDArray) else data
    fn = ops.mean if mean else ops.sum
    return fn(dense, axis=axis, keepdims=keepdims, **kwargs)


def where(condition: NDArray, x: NDArray, y: NDArray, **kwargs: Any) -> NDArray:
    """``x`` where ``condition`` is nonzero, else ``y`` (a csr condition is read densely; the
    result is dense, as in MXNet)."""
    from mxlite.ndarray import op as ops

    def dense(a: Any) -> Any:
        return _dense(a) if isinstance(a, BaseSparseNDArray) else a

    return ops.where(dense(condition), dense(x), dense(y))
