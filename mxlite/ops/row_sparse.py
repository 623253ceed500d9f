"""Row-sparse kernels over raw arrays (NumPy on the host, CuPy on a GPU), below autograd.

A row-sparse tensor of shape ``(N, d1, ...)`` is a pair of raw buffers: ``indices`` (int64,
``(k,)``, strictly increasing row ids in ``[0, N)``) and ``values`` (``(k, d1, ...)``, the rows at
those ids). Everything here is vectorized over the ``k`` rows (sorting, segment sums, fancy
indexing); no Python loop runs per row.

:class:`RowSparseGrad` is how a gradient rule hands a row-sparse gradient to the autograd tape
(``Embedding(sparse_grad=True)``, ``sparse.dot``): it has ``shape`` and ``dtype`` like a raw
array, adds to another one (rows merged) or to a dense array (a dense result), and
:func:`store_grad` writes it into a variable's gradient buffer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import backend

__all__ = [
    "RowSparseGrad",
    "merge_rows",
    "union_rows",
    "densify",
    "scatter_add",
    "store_grad",
    "csr_dot_raw",
    "csr_t_dot_raw",
]


def merge_rows(xp: Any, indices: Any, values: Any) -> tuple[Any, Any]:
    """Sorted unique row ids of ``indices`` and the sum of the ``values`` rows of each id.

    Args:
        xp: numpy or cupy.
        indices: ``(k,)`` integer row ids, any order, repeats allowed.
        values: ``(k, ...)`` rows.

    Returns:
        ``(uniq, summed)``: ``(u,)`` int64 strictly increasing, ``(u, ...)`` in values' dtype.
    """
    idx = indices.astype(np.int64, copy=False).reshape(-1)
    if idx.size == 0:
        return idx, values.reshape((0,) + tuple(values.shape[1:]))
    if idx.size == 1 or bool((idx[1:] > idx[:-1]).all()):
        return idx, values
    order = xp.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = xp.flatnonzero(
        xp.concatenate([xp.ones(1, dtype=bool), sorted_idx[1:] != sorted_idx[:-1]])
    )
    uniq = sorted_idx[starts]
    rows = values[order]
    if xp is np:
        summed = np.add.reduceat(rows, starts, axis=0, dtype=rows.dtype)
    else:  # CuPy: scatter-add the sorted rows onto their segment
        seg = xp.cumsum(
            xp.concatenate(
                [xp.zeros(1, dtype=np.int64), (sorted_idx[1:] != sorted_idx[:-1]).astype(np.int64)]
            )
        )
        summed = xp.zeros((int(uniq.size),) + tuple(values.shape[1:]), dtype=values.dtype)
        xp.add.at(summed, seg, rows)
    return uniq, summed


def union_rows(xp: Any, ia: Any, va: Any, ib: Any, vb: Any, sign: float = 1.0) -> tuple[Any, Any]:
    """``a + sign * b`` of two row-sparse operands with sorted unique indices (rows merged).

    Returns:
        ``(indices, values)`` of the union of the rows, in the common dtype of ``va``.
    """
    uniq = xp.union1d(ia, ib).astype(np.int64, copy=False)
    out = xp.zeros((int(uniq.size),) + tuple(va.shape[1:]), dtype=va.dtype)
    out[xp.searchsorted(uniq, ia)] += va
    pos_b = xp.searchsorted(uniq, ib)
    if sign == 1.0:
        out[pos_b] += vb.astype(va.dtype, copy=False)
    else:
        out[pos_b] -= vb.astype(va.dtype, copy=False)
    return uniq, out


def densify(xp: Any, indices: Any, values: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """A dense ``shape`` array, zero except the given rows."""
    out = xp.zeros(shape, dtype=dtype)
    if int(indices.size):
        out[indices] = values
    return out


def scatter_add(dense: Any, indices: Any, values: Any) -> None:
    """``dense[indices] += values`` in place for sorted unique ``indices``."""
    if int(indices.size):
        dense[indices] += values.astype(dense.dtype, copy=False)


def csr_dot_raw(values: Any, indices: Any, indptr: Any, rows: Any, n_rows: int, b: Any) -> Any:
    """``csr @ b`` for raw CSR components and dense 2-D ``b``: ``(n_rows, b.shape[1])``."""
    xp = backend.xp_of(b)
    out = xp.zeros((n_rows, int(b.shape[1])), dtype=b.dtype)
    if not int(values.size):
        return out
    contrib = b[indices] * values.astype(b.dtype, copy=False)[:, None]
    if xp is np:
        counts = np.diff(indptr)
        nonempty = np.flatnonzero(counts)
        out[nonempty] = np.add.reduceat(contrib, indptr[:-1][nonempty], axis=0)
    else:  # CuPy: atomic adds of each entry's row
        xp.add.at(out, rows, contrib)
    return out


def csr_t_dot_raw(values: Any, indices: Any, rows: Any, b: Any) -> tuple[Any, Any]:
    """``csr.T @ b`` as row-sparse ``(indices, rows)``: rows are the csr's distinct columns."""
    contrib = b[rows] * values.astype(b.dtype, copy=False)[:, None]
    return merge_rows(backend.xp_of(b), indices, contrib)


class RowSparseGrad:
    """A row-sparse gradient on the autograd tape (merged rows: sorted unique indices).

    Attributes:
        indices: ``(k,)`` int64 row ids.
        values: ``(k, ...)`` rows.
        shape: the full shape ``(N, ...)``.
    """

    __slots__ = ("indices", "values", "shape")
    # NumPy defers ``dense + grad`` to :meth:`__radd__` instead of building an object array.
    __array_ufunc__ = None

    def __init__(self, indices: Any, values: Any, shape: tuple[int, ...]) -> None:
        self.indices = indices
        self.values = values
        self.shape = tuple(int(d) for d in shape)

    @property
    def dtype(self) -> Any:
        """The values' dtype."""
        return self.values.dtype

    @property
    def xp(self) -> Any:
        """numpy or cupy, as the buffers."""
        return backend.xp_of(self.values)

    def astype(self, dtype: Any, copy: bool = True) -> RowSparseGrad:
        """The same rows in ``dtype``."""
        return RowSparseGrad(self.indices, self.values.astype(dtype, copy=copy), self.shape)

    def dense(self) -> Any:
        """The dense raw array."""
        return densify(self.xp, self.indices, self.values, self.shape, self.values.dtype)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, RowSparseGrad):
            idx, vals = union_rows(self.xp, self.indices, self.values, other.indices, other.values)
            return RowSparseGrad(idx, vals, self.shape)
        out = other.copy()
        scatter_add(out, self.indices, self.values)
        return out

    __radd__ = __add__


def store_grad(target: Any, g: Any, req: str) -> None:
    """Write the gradient ``g`` (raw dense, :class:`RowSparseGrad` or None) into the gradient
    buffer NDArray ``target`` with ``req`` ``'write'`` or ``'add'``.

    A row_sparse ``target`` keeps only the rows of ``g`` ('write') or the union of its rows and
    ``g``'s ('add', rows summed); a dense ``target`` is written or added to densely.
    """
    if target.stype == "row_sparse":
        xp = backend.xp_of(target._values)
        if g is None:
            sg = None
        elif isinstance(g, RowSparseGrad):
            sg = g
        else:  # a dense gradient into a row_sparse buffer: keep its nonzero rows
            flat = g.reshape(g.shape[0], -1) if g.ndim > 1 else g.reshape(-1, 1)
            rows = xp.flatnonzero((flat != 0).any(axis=1))
            sg = RowSparseGrad(rows.astype(np.int64), g[rows], g.shape)
        if req == "write" or sg is None:
            if sg is None:
                if req == "write":
                    target._set_rows(xp.zeros(0, dtype=np.int64), None)
                return
            target._set_rows(sg.indices, sg.values)
        else:
            idx, vals = union_rows(xp, target._indices, target._values, sg.indices, sg.values)
            target._set_rows(idx, vals)
        return
    buf = target._data
    with backend.array_device_guard(buf):
        if req == "write":
            if isinstance(g, RowSparseGrad):
                buf[...] = 0
                scatter_add(buf, g.indices, g.values)
            elif g is None:
                buf[...] = 0
            else:
                buf[...] = g
        elif isinstance(g, RowSparseGrad):
            scatter_add(buf, g.indices, g.values)
        elif g is not None:
            buf += g.astype(buf.dtype, copy=False)
