"""``mx.nd.sparse.dot`` with MXNet 1.9.1's output storage types, and its gradients.

==========================================  ==============================
call                                        result
==========================================  ==============================
dot(csr, dense)  / transpose_b              default ``(M, K)``
dot(csr, dense, transpose_a=True)           row_sparse ``(N, K)``: rows = the csr's columns
                                            (dense while autograd records)
dot(csr, row_sparse) / transpose_a          as with a dense rhs
dot(dense, csr)  / transpose_b              csr (default with ``forward_stype='default'``)
anything else                               dense ``mx.nd.dot`` (storage fallback)
==========================================  ==============================

Work is proportional to the stored entries: ``dot(csr, B)`` sums ``value * B[col]`` per row
segment, ``dot(csr.T, B)`` merges ``value * B[row]`` by column. Gradient of the dense operand of
``dot(csr, W)`` is ``dot(csr.T, g)``: row_sparse (only the rows the csr touches) when ``W``'s
gradient buffer is row_sparse, else dense.
"""

from __future__ import annotations

from typing import Any

from mxlite import autograd, backend
from mxlite.base import MXNetError
from mxlite.ndarray._sparse_base import BaseSparseNDArray, CSRNDArray, RowSparseNDArray
from mxlite.ndarray._sparse_build import dense_to_csr
from mxlite.ndarray.ndarray import NDArray, as_raw
from mxlite.ops import row_sparse
from mxlite.ops.row_sparse import csr_dot_raw, csr_t_dot_raw

__all__ = ["dot"]

_MSG_SHAPE = "dot: shape mismatch, lhs {a}{ta} and rhs {b}{tb} cannot be multiplied."


def _parts(csr: CSRNDArray) -> tuple[Any, Any, Any, Any]:
    return csr._values, csr._indices, csr._indptr, csr._row_ids()


def _check(a: tuple[int, ...], b: tuple[int, ...], ta: bool, tb: bool) -> None:
    inner_a = a[0] if ta else a[-1]
    inner_b = b[-1] if tb else b[0]
    if len(a) != 2 or len(b) != 2 or inner_a != inner_b:
        raise MXNetError(_MSG_SHAPE.format(a=a, b=b, ta=".T" if ta else "", tb=".T" if tb else ""))


def dot(
    lhs: NDArray,
    rhs: NDArray,
    transpose_a: bool = False,
    transpose_b: bool = False,
    forward_stype: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """Matrix product with sparse operands (see the module table for output storage).

    Raises:
        MXNetError: the shapes do not multiply (2-D operands only when one is sparse).
    """
    from mxlite.ndarray import op as ops

    if isinstance(lhs, CSRNDArray) and not isinstance(rhs, CSRNDArray):
        _check(lhs.shape, rhs.shape, transpose_a, transpose_b)
        w = NDArray(rhs._data, rhs.context) if isinstance(rhs, BaseSparseNDArray) else rhs
        b = as_raw(w, NDArray(lhs._values, lhs.context))
        b = b.T if transpose_b else b
        vals, idx, ptr, rows = _parts(lhs)
        with backend.array_device_guard(b):
            # Under autograd recording the result stays dense so that ops after it are
            # recorded (mxlite's sparse operators are not differentiable).
            recording = autograd.is_recording() and not isinstance(rhs, BaseSparseNDArray)
            if transpose_a and not transpose_b and not recording:
                uniq, summed = csr_t_dot_raw(vals, idx, rows, b)
                out: NDArray = RowSparseNDArray._make(
                    summed, uniq, (lhs.shape[1], int(b.shape[1])), lhs.context
                )
            elif transpose_a:  # dense: transpose_b, or recorded for autograd
                uniq, summed = csr_t_dot_raw(vals, idx, rows, b)
                out = NDArray(
                    row_sparse.densify(
                        backend.xp_of(b), uniq, summed, (lhs.shape[1], int(b.shape[1])), b.dtype
                    ),
                    lhs.context,
                )
            else:
                out = NDArray(csr_dot_raw(vals, idx, ptr, rows, lhs.shape[0], b), lhs.context)
            if forward_stype == "default" and out.stype != "default":
                out = NDArray(out._data, out.context)
        if recording:
            sparse_grad = rhs._grad is not None and rhs._grad.stype == "row_sparse"
            attrs = {"csr": (vals, idx, ptr, rows, lhs.shape), "transpose_a": transpose_a,
                     "transpose_b": transpose_b, "sparse_grad": sparse_grad}  # fmt: skip
            autograd.record_op("_sparse_dot_csr_lhs", [rhs], out, attrs)
        return out
    if isinstance(rhs, CSRNDArray) and not isinstance(lhs, BaseSparseNDArray):
        _check(lhs.shape, rhs.shape, transpose_a, transpose_b)
        a = lhs._data.T if transpose_a else lhs._data
        vals, idx, ptr, rows = _parts(rhs)
        xp = backend.xp_of(a)
        with backend.array_device_guard(a):
            # a @ csr: column c of the result adds a[:, row] * value for each entry (row, c);
            # a @ csr.T swaps the roles of rows and columns.
            src, dst = (idx, rows) if transpose_b else (rows, idx)
            n_out = rhs.shape[0] if transpose_b else rhs.shape[1]
            res_t = xp.zeros((n_out, int(a.shape[0])), dtype=a.dtype)
            if int(vals.size):
                contrib = a.T[src] * vals.astype(a.dtype, copy=False)[:, None]
                uniq, summed = row_sparse.merge_rows(xp, dst, contrib)
                res_t[uniq] = summed
            res = xp.ascontiguousarray(res_t.T)
            if forward_stype == "default":
                return NDArray(res, lhs.context)
            v, i, p = dense_to_csr(xp, res)
        return CSRNDArray._make(v, i, res.shape, lhs.context, indptr=p)
    dense_l = NDArray(lhs._data, lhs.context) if isinstance(lhs, BaseSparseNDArray) else lhs
    dense_r = NDArray(rhs._data, rhs.context) if isinstance(rhs, BaseSparseNDArray) else rhs
    return ops.dot(dense_l, dense_r, transpose_a=transpose_a, transpose_b=transpose_b)
