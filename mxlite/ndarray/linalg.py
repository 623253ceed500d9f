"""``mx.nd.linalg``: batched matrix products ``gemm2`` and ``gemm`` (also ``mx.nd.linalg_gemm2``,
``mx.nd.linalg_gemm``).

Inputs are float32 or float64 (as MXNet's CPU kernels), of at least 2 dimensions: the matrices
span ``axis`` (rows, default -2) and the last axis (columns); every other axis is a batch axis
and must agree between the operands. Recorded for autograd as ``linalg_gemm2`` / ``linalg_gemm``
(attrs ``transpose_a``, ``transpose_b``, ``alpha``, ``beta``) on the row-axis-second-to-last
layout; another ``axis`` adds recorded transposes around it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import _threads
from mxlite.base import MXNetError
from mxlite.ndarray._op_args import accepts_out
from mxlite.ndarray.ndarray import NDArray, as_raw, autograd_record, on_device, out_ctx, same_ctx
from mxlite.ndarray.op_shape import transpose

__all__ = ["gemm2", "gemm"]

_MSG_DTYPE = (
    "linalg.{op}: This operation only supports 32-bit and 64-bit floating point, got {dtype}; "
    "cast the inputs with .astype('float32') first."
)
_MSG_RANK = "linalg.{op}: inputs need at least 2 dimensions, got shapes {shapes}"
_MSG_BATCH = (
    "linalg.{op}: Shapes of inputs 0, 1 must be the same, except on row/col axis: {a} vs {b}"
)
_MSG_INNER = (
    "linalg.{op}: Incompatible matrix dimensions for multiplication: {a} X {b} "
    "(transpose_a={ta}, transpose_b={tb})"
)
_MSG_C_SHAPE = "linalg.gemm: Shape inconsistent, Provided = {c}, inferred shape={want}"
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check(op: str, arrays: list[NDArray]) -> None:
    shapes = [a.shape for a in arrays]
    if any(len(s) < 2 for s in shapes):
        raise MXNetError(_MSG_RANK.format(op=op, shapes=shapes))
    for a in arrays:
        if a._data.dtype not in _FLOATS:
            raise MXNetError(_MSG_DTYPE.format(op=op, dtype=a._data.dtype.name))
    if len({a._data.dtype for a in arrays}) > 1:
        raise MXNetError(
            f"linalg.{op}: all inputs need one dtype, got {[a._data.dtype.name for a in arrays]}"
        )


def _rows_order(ndim: int, axis: int) -> list[int] | None:
    """The permutation that moves the row axis ``axis`` to position ``ndim - 2`` (None when it
    is there already)."""
    ax = axis % ndim
    if ax == ndim - 2:
        return None
    return [i for i in range(ndim - 1) if i != ax] + [ax, ndim - 1]


def _to_rows_second_last(x: NDArray, axis: int) -> NDArray:
    """``x`` with its row axis moved to position ``ndim - 2`` (a recorded transpose)."""
    order = _rows_order(x.ndim, axis)
    return x if order is None else transpose(x, axes=order)


def _from_rows_second_last(x: NDArray, axis: int) -> NDArray:
    """The inverse of :func:`_to_rows_second_last`."""
    order = _rows_order(x.ndim, axis)
    return x if order is None else transpose(x, axes=[int(i) for i in np.argsort(order)])


def _product(
    op: str, a: NDArray, b: NDArray, transpose_a: bool, transpose_b: bool
) -> tuple[Any, Any, Any]:
    """The raw operands and ``op(a) @ op(b)``, after the shape checks."""
    ra, rb = a._data, as_raw(b, a)
    if ra.shape[:-2] != rb.shape[:-2]:
        raise MXNetError(_MSG_BATCH.format(op=op, a=list(ra.shape), b=list(rb.shape)))
    ma = ra.swapaxes(-1, -2) if transpose_a else ra
    mb = rb.swapaxes(-1, -2) if transpose_b else rb
    if ma.shape[-1] != mb.shape[-2]:
        raise MXNetError(
            _MSG_INNER.format(
                op=op, a=list(ra.shape), b=list(rb.shape), ta=transpose_a, tb=transpose_b
            )
        )
    if type(ra) is np.ndarray:
        _threads.host_threads()  # the BLAS pool follows the thread policy
    return ra, rb, a._xp.matmul(ma, mb)


@accepts_out
@on_device
def gemm2(
    A: NDArray,  # noqa: N803 - MXNet's names
    B: NDArray,  # noqa: N803
    transpose_a: bool = False,
    transpose_b: bool = False,
    alpha: float = 1.0,
    axis: int = -2,
    **kwargs: Any,
) -> NDArray:
    """``alpha * op(A) @ op(B)`` for each matrix of the batch (``op`` transposes when asked).

    Raises:
        MXNetError: non-float or mixed dtypes, fewer than 2 dimensions, batch axes that differ,
            or inner dimensions that differ.
    """
    ctx = same_ctx("linalg_gemm2", A, B)
    _check("gemm2", [A, B])
    a, b = _to_rows_second_last(A, axis), _to_rows_second_last(B, axis)
    _, _, res = _product("gemm2", a, b, transpose_a, transpose_b)
    if alpha != 1.0:
        res *= res.dtype.type(alpha)
    out = type(A)(res, out_ctx(ctx))
    autograd_record(
        "linalg_gemm2", [a, b], out, transpose_a=transpose_a, transpose_b=transpose_b, alpha=alpha
    )
    return _from_rows_second_last(out, axis)


@accepts_out
@on_device
def gemm(
    A: NDArray,  # noqa: N803 - MXNet's names
    B: NDArray,  # noqa: N803
    C: NDArray,  # noqa: N803
    transpose_a: bool = False,
    transpose_b: bool = False,
    alpha: float = 1.0,
    beta: float = 1.0,
    axis: int = -2,
    **kwargs: Any,
) -> NDArray:
    """``alpha * op(A) @ op(B) + beta * C`` for each matrix of the batch.

    Raises:
        MXNetError: as :func:`gemm2`, or ``C`` not of the product's shape.
    """
    ctx = same_ctx("linalg_gemm", A, B, C)
    _check("gemm", [A, B, C])
    a, b, c = (_to_rows_second_last(x, axis) for x in (A, B, C))
    _, _, res = _product("gemm", a, b, transpose_a, transpose_b)
    rc = as_raw(c, a)
    if rc.shape != res.shape:
        raise MXNetError(_MSG_C_SHAPE.format(c=list(rc.shape), want=list(res.shape)))
    res *= res.dtype.type(alpha)
    res += rc * rc.dtype.type(beta)
    out = type(A)(res, out_ctx(ctx))
    autograd_record(
        "linalg_gemm",
        [a, b, c],
        out,
        transpose_a=transpose_a,
        transpose_b=transpose_b,
        alpha=alpha,
        beta=beta,
    )
    return _from_rows_second_last(out, axis)
