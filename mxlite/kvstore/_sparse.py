"""Row_sparse values in the single-process stores (MXNet 1.9.1's semantics, checked in
tests/gluon/test_sparse_trainer_oracle.py).

* A key initialized with a RowSparseNDArray holds a *row_sparse weight*: the store keeps it as a
  dense array (the optimizer updates it in place, lazily for row_sparse gradients) and remembers
  its storage type; ``row_sparse_pull(key, out, row_ids)`` copies just the rows ``row_ids`` name
  (sorted, repeats dropped) into each row_sparse ``out`` on its own context: the bytes moved are
  those of the rows pulled.
* Pushed row_sparse values are merged by row (union of the rows, rows summed in the order
  given) on the merge context; without an optimizer the sum is stored as a RowSparseNDArray
  and ``pull(..., ignore_sparse=False)`` copies it into row_sparse outputs.
* ``pull`` skips row_sparse outputs unless ``ignore_sparse=False``, as MXNet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import CheckError, MXNetError
from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray
from mxlite.ops import row_sparse

__all__ = ["is_sparse", "merge", "pull_rows", "copy_out", "weight_view"]

_MSG_SRC = (
    "PullRowSparse expects row_sparse src NDArray: key {key!r} was initialized with a dense "
    "array. Initialize it with a RowSparseNDArray (value.tostype('row_sparse')) or use pull()."
)
_MSG_OUT = (
    "Expected row_sparse storage type for row_sparse_pull values, but detected storage type "
    "{stype}: pass RowSparseNDArray outputs (mx.nd.sparse.zeros('row_sparse', shape, ctx))."
)


def is_sparse(value: Any) -> bool:
    """Whether ``value`` is a sparse NDArray."""
    return getattr(value, "stype", "default") != "default"


def merge(values: Sequence[Any], ctx: Context) -> Any:
    """The sum of row_sparse ``values`` (several devices) on ``ctx``: a RowSparseNDArray with
    the union of their rows.

    Raises:
        MXNetError: a value is not row_sparse (row_sparse and dense pushes of one key).
    """
    from mxlite.ndarray._sparse_base import RowSparseNDArray

    if any(v.stype != "row_sparse" for v in values):
        raise MXNetError(
            "push: the values of one key must all be row_sparse or all dense; got storage types "
            f"{[v.stype for v in values]}."
        )
    first = values[0]
    with backend.device_guard(ctx):
        xp = backend.get_xp(ctx)
        idx = backend.to_ctx(first._indices, ctx, copy=True)
        vals = backend.to_ctx(first._values, ctx, copy=True)
        for v in values[1:]:
            idx, vals = row_sparse.union_rows(
                xp, idx, vals, backend.to_ctx(v._indices, ctx), backend.to_ctx(v._values, ctx)
            )
    return RowSparseNDArray._make(vals, idx, first.shape, ctx)


def _row_ids(rid: Any, bound: int) -> Any:
    """Sorted unique int64 row ids of NDArray ``rid`` (host or device).

    Raises:
        MXNetError: an id outside ``[0, bound)``.
    """
    raw = rid._data.reshape(-1)
    xp = backend.xp_of(raw)
    ids = raw.astype(np.int64)  # a copy: the outputs keep it
    if int(ids.size) > 1 and not bool((ids[1:] > ids[:-1]).all()):  # sorted unique: as given
        ids.sort()
        ids = ids[xp.concatenate([xp.ones(1, dtype=bool), ids[1:] != ids[:-1]])]
    if int(ids.size) and (int(ids[0]) < 0 or int(ids[-1]) >= bound):
        raise MXNetError(
            f"row_sparse_pull: row_ids must be in [0, {bound}); got {int(ids[0])}..{int(ids[-1])}"
        )
    return ids


def pull_rows(
    key: Any, stored: NDArray, is_rsp_weight: bool, outs: list[Any], row_ids: Any
) -> None:
    """``row_sparse_pull``: the rows ``row_ids`` of the stored value into each of ``outs``.

    Args:
        key: the key (for messages).
        stored: the stored array (dense for a row_sparse weight, RowSparseNDArray for pushed
            sums).
        is_rsp_weight: the key was initialized with a RowSparseNDArray.
        outs: RowSparseNDArray outputs.
        row_ids: one NDArray for every output, or one per output.

    Raises:
        CheckError: ``row_ids`` missing or not one per output.
        MXNetError: the key holds a dense value, an output is not row_sparse, or a row id is out
            of range.
    """
    if row_ids is None:
        raise CheckError("row_sparse_pull needs row_ids=: the rows to pull")
    rids = list(row_ids) if isinstance(row_ids, (list, tuple)) else [row_ids] * len(outs)
    if len(rids) != len(outs):
        raise CheckError(
            f"row_sparse_pull: {len(rids)} row_ids for {len(outs)} outputs; pass one NDArray of "
            "row ids, or one per output."
        )
    if not is_rsp_weight and not is_sparse(stored):
        raise MXNetError(_MSG_SRC.format(key=key))
    for out in outs:
        if out.stype != "row_sparse":
            raise MXNetError(_MSG_OUT.format(stype=out.stype))
        if tuple(out.shape) != tuple(stored.shape):
            raise MXNetError(
                f"row_sparse_pull of key {key!r}: output shape {out.shape} differs from the "
                f"stored {stored.shape}."
            )
    plans = [_row_ids(rid, stored.shape[0]) for rid in rids]  # every check before any write
    for out, ids in zip(outs, plans):
        src_ids = backend.to_ctx(ids, stored.context)
        with backend.device_guard(stored.context):
            if is_sparse(stored):
                keep = backend.xp_of(stored._indices).isin(stored._indices, src_ids)
                src_ids, rows = stored._indices[keep], stored._values[keep]
            else:
                rows = stored._data[src_ids]
        with backend.device_guard(out.context):  # the gathered rows are fresh arrays
            out._set_rows(
                backend.to_ctx(src_ids, out.context, copy=src_ids is ids),
                backend.to_ctx(rows, out.context).astype(out.dtype, copy=False),
            )


def copy_out(stored: NDArray, dst: Any) -> None:
    """``pull`` of a stored value into ``dst`` when either is sparse (storage converted)."""
    if tuple(dst.shape) != tuple(stored.shape):
        raise MXNetError(
            f"pull: cannot copy a stored value of shape {tuple(stored.shape)} into an output of "
            f"shape {tuple(dst.shape)}."
        )
    stored.copyto(dst)


def weight_view(stored: NDArray, cached: Any) -> Any:
    """The stored dense value of a row_sparse weight as a RowSparseNDArray holding every row and
    sharing its memory (what the updater gets, as MXNet hands it the row_sparse weight);
    ``cached`` is returned when it is still a view of ``stored``."""
    from mxlite.ndarray._sparse_base import RowSparseNDArray

    if cached is not None and cached._values is stored._data:
        return cached
    with backend.device_guard(stored.context):
        rows = backend.get_xp(stored.context).arange(stored.shape[0], dtype=np.int64)
    return RowSparseNDArray._make(stored._data, rows, stored.shape, stored.context)
