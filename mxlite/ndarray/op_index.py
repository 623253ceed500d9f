"""Gather and scatter ops of ``mx.nd``: take, gather_nd, scatter_nd, Embedding.

Semantics as MXNet 1.9.1 (checked in tests/ndarray/test_nd_ops_oracle.py): float indices are truncated
toward zero; ``take`` clips (``mode='clip'``), wraps (``'wrap'``) or refuses (``'raise'``)
indices outside the axis; ``gather_nd`` accepts ``[-n, n)`` per indexed axis and raises
IndexError outside it; ``Embedding`` is ``take(weight, data, axis=0, mode='clip')``.

Recorded for autograd as ``take`` (attrs ``axis`` and the effective int64 ``index``: the
gradient is scattered back, adding repeated indices), ``gather_nd`` (``index``: a tuple of
int64 arrays) and ``scatter_nd`` (its gradient gathers at the same positions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mxlite.base import MXNetError
from mxlite.ndarray._op_args import accepts_out, check_choice, normalize_axis, shape_text, to_index
from mxlite.ndarray.ndarray import (
    NDArray,
    as_raw,
    autograd_record,
    on_device,
    out_ctx,
    same_ctx,
)
from mxlite.ndarray.op_math import write_out

__all__ = ["take", "gather_nd", "scatter_nd", "Embedding"]

_MODES = ("clip", "raise", "wrap")
_MSG_TAKE_AXIS = (
    "take: Axis should be in the range of [-r, r-1] where r is the rank of input tensor; got "
    "axis={axis} for an input of rank {r}."
)
_MSG_TAKE_BOUNDS = (
    "take operator contains indices out of bound: mode='raise' accepts indices in [0, {n}) "
    "along axis {axis}; use mode='clip' or mode='wrap' to map the others."
)
_MSG_INDEX_BOUNDS = "index {index} is out of bounds for axis {axis} with size {size}"
_MSG_ND_RANK = (
    "{op} requires index tensor to have at least 2 dimensions: indices of shape {shape} must be "
    "(M, ...) with M <= the rank of the data."
)
_MSG_ND_DEPTH = (
    "{op}: the first dimension of indices ({m}) exceeds the rank of the data ({ndim}); indices "
    "of shape (M, ...) address the first M axes."
)
_MSG_SCATTER_SHAPE = (
    "scatter_nd: Shape inconsistent, data of shape {data} does not fit indices of shape "
    "{indices} and shape {shape}; data must have shape {expected}."
)
_MSG_EMB_SHAPE = (
    "Embedding: Shape inconsistent, Provided = {provided}, inferred shape=({n},{m}): the weight "
    "must be (input_dim, output_dim)."
)


def effective_index(xp: Any, idx: Any, n: int, mode: str, axis: int) -> Any:
    """``idx`` (int64) mapped into ``[0, n)`` by ``mode``.

    Raises:
        MXNetError: ``mode='raise'`` and an index outside ``[0, n)``.
    """
    if mode == "wrap":
        return xp.mod(idx, n)
    if mode == "raise":
        if idx.size and (bool((idx < 0).any()) or bool((idx >= n).any())):
            raise MXNetError(_MSG_TAKE_BOUNDS.format(n=n, axis=axis))
        return idx
    return xp.clip(idx, 0, n - 1)


def _take_raw(xp: Any, a: Any, idx: Any, axis: int) -> Any:
    """``a`` gathered at the int64 ``idx`` along ``axis`` (shape ``a[:axis] + idx + a[axis+1:]``)."""
    if axis == 0:
        return a[idx]
    return xp.take(a, idx, axis=axis)


@on_device
def take(
    a: NDArray,
    indices: NDArray,
    axis: int = 0,
    mode: str = "clip",
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Elements of ``a`` at ``indices`` along ``axis``.

    Output shape: ``a.shape[:axis] + indices.shape + a.shape[axis + 1:]``, in ``a``'s dtype.

    Args:
        a: the array to gather from.
        indices: indices (any dtype; floats are truncated toward zero).
        axis: the axis to index.
        mode: ``'clip'`` clamps to ``[0, n)``, ``'wrap'`` takes indices modulo ``n``, ``'raise'``
            refuses indices outside ``[0, n)``.

    Raises:
        MXNetError: unknown ``mode``, ``axis`` out of range, or (``'raise'``) an index out of
            bounds.
    """
    check_choice("take", "mode", mode, _MODES)
    ctx = same_ctx("take", a, indices)
    ax = normalize_axis("take", axis, a.ndim, _MSG_TAKE_AXIS)
    xp = a._xp
    n = a.shape[ax]
    if n == 0:
        raise MXNetError(f"take: cannot index axis {ax} of size 0 of an input of shape {a.shape}")
    idx = effective_index(xp, to_index(xp, as_raw(indices, a)), n, mode, ax)
    result = type(a)(_take_raw(xp, a._data, idx, ax), out_ctx(ctx))
    autograd_record("take", [a], result, axis=ax, index=idx)
    return write_out(result, out)


def _nd_index(op: str, xp: Any, raw: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """The rows of an ``(M, ...)`` index array as a tuple of int64 arrays addressing the first
    M axes of ``shape`` (negative entries count from the end).

    Raises:
        MXNetError: indices of fewer than 2 dimensions, or M larger than the rank.
        IndexError: an index outside ``[-n, n)`` of its axis.
    """
    if raw.ndim < 2:
        raise MXNetError(_MSG_ND_RANK.format(op=op, shape=tuple(raw.shape)))
    m = int(raw.shape[0])
    if m > len(shape):
        raise MXNetError(_MSG_ND_DEPTH.format(op=op, m=m, ndim=len(shape)))
    idx = to_index(xp, raw)
    rows = []
    for axis in range(m):
        row, size = idx[axis], shape[axis]
        if row.size:
            lo, hi = int(row.min()), int(row.max())
            bad = lo if lo < -size else hi if hi >= size else None
            if bad is not None:
                raise IndexError(_MSG_INDEX_BOUNDS.format(index=bad, axis=axis, size=size))
        rows.append(xp.where(row < 0, row + size, row))
    return tuple(rows)


@accepts_out
@on_device
def gather_nd(data: NDArray, indices: NDArray, **kwargs: Any) -> NDArray:
    """``data[indices[0], indices[1], ..., indices[M-1]]``: indices of shape ``(M, Y0, ...)``
    address the first M axes; the output has shape ``(Y0, ...) + data.shape[M:]``.

    Raises:
        MXNetError: indices of fewer than 2 dimensions, or M above the rank of ``data``.
        IndexError: an index outside its axis (as MXNet).
    """
    ctx = same_ctx("gather_nd", data, indices)
    xp = data._xp
    key = _nd_index("gather_nd", xp, as_raw(indices, data), data.shape)
    result = type(data)(data._data[key], out_ctx(ctx))
    autograd_record("gather_nd", [data], result, index=key)
    return result


@accepts_out
@on_device
def scatter_nd(data: NDArray, indices: NDArray, shape: Sequence[int], **kwargs: Any) -> NDArray:
    """A zero array of ``shape`` with ``data`` written at ``indices`` (the inverse of
    :func:`gather_nd`); where indices repeat, the last write wins on the CPU (as MXNet's CPU
    kernel; the GPU order is unspecified, as in MXNet).

    Raises:
        MXNetError: bad index rank, or ``data`` not of shape ``indices.shape[1:] + shape[M:]``.
        IndexError: an index outside ``shape`` (MXNet reads out of bounds there).
    """
    ctx = same_ctx("scatter_nd", data, indices)
    xp = data._xp
    target = tuple(int(s) for s in shape)
    raw = as_raw(indices, data)
    key = _nd_index("scatter_nd", xp, raw, target)
    expected = tuple(raw.shape[1:]) + target[int(raw.shape[0]) :]
    if data.shape != expected:
        raise MXNetError(
            _MSG_SCATTER_SHAPE.format(
                data=data.shape, indices=tuple(raw.shape), shape=target, expected=expected
            )
        )
    res = xp.zeros(target, dtype=data._data.dtype)
    res[key] = data._data
    result = type(data)(res, out_ctx(ctx))
    autograd_record("scatter_nd", [data], result, index=key)
    return result


@accepts_out
@on_device
def Embedding(  # noqa: N802 - MXNet's name
    data: NDArray,
    weight: NDArray,
    input_dim: int,
    output_dim: int,
    dtype: Any = "float32",
    sparse_grad: bool = False,
    **kwargs: Any,
) -> NDArray:
    """Rows of ``weight`` (``(input_dim, output_dim)``) at the indices in ``data``: output shape
    ``data.shape + (output_dim,)`` in the weight's dtype. Indices are truncated toward zero and
    clipped to ``[0, input_dim)``, as MXNet's. The weight's gradient adds the output gradients
    of repeated indices; ``data`` gets none. With ``sparse_grad`` it is row_sparse: only the rows
    looked up (``mxlite.ops.row_sparse.RowSparseGrad`` on the tape).

    Raises:
        MXNetError: the weight's shape is not ``(input_dim, output_dim)``.
    """
    if weight.shape != (int(input_dim), int(output_dim)):
        raise MXNetError(
            _MSG_EMB_SHAPE.format(provided=shape_text(weight.shape), n=input_dim, m=output_dim)
        )
    ctx = same_ctx("Embedding", data, weight)
    xp = weight._xp
    idx = effective_index(xp, to_index(xp, as_raw(data, weight)), int(input_dim), "clip", 0)
    result = type(data)(weight._data[idx], out_ctx(ctx))
    autograd_record("_embedding_row_sparse" if sparse_grad else "take", [weight], result, axis=0,
                    index=idx)  # fmt: skip
    return result
