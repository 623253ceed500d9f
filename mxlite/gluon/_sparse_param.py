"""Sparse storage of Parameters (``stype`` / ``grad_stype`` ``'row_sparse'`` or ``'csr'``).

Helpers that compute arrays for :class:`~mxlite.gluon.parameter.Parameter`; only the Parameter
installs them (its owning methods). Semantics of MXNet 1.9.1's ``gluon/parameter.py``:

- a ``stype='row_sparse'`` Parameter's replicas are RowSparseNDArrays holding every row after
  initialization; ``data()``/``list_data()`` refuse it, ``row_sparse_data(row_id)`` returns the
  replica on ``row_id``'s context with the rows ``row_id`` names pulled from the Trainer's
  kvstore (the weight lives there and is updated there);
- a ``grad_stype='row_sparse'`` Parameter's gradient buffers are RowSparseNDArrays: backward
  stores only the rows a batch touched (``'add'`` merges rows), ``zero_grad`` drops every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray

__all__ = [
    "stored_as",
    "zero_grads_for",
    "zero_sparse",
    "split_dense",
    "get_row_sparse",
    "all_rows",
]

_MSG_NO_TRAINER = (
    "Cannot get row_sparse data for Parameter '{name}' when no Trainer is created with it. "
    "Create a gluon.Trainer with this Parameter first (the rows are pulled from its kvstore)."
)


def stored_as(stype: str, replicas: Sequence[NDArray]) -> list[NDArray]:
    """``replicas`` in storage ``stype`` (unchanged for ``'default'``)."""
    if stype == "default":
        return list(replicas)
    return [r if r.stype == stype else r.tostype(stype) for r in replicas]


def zero_grads_for(grad_stype: str, data: Sequence[NDArray]) -> list[NDArray]:
    """Empty sparse gradient buffers, one per replica of ``data`` (same shape, dtype, context)."""
    from mxlite.ndarray import _sparse_build

    return [_sparse_build.zeros(grad_stype, d.shape, d.context, d.dtype) for d in data]


def zero_sparse(grads: Sequence[Any]) -> None:
    """Drop every stored row/entry of sparse gradient buffers (MXNet's ``zeros_like(g, out=g)``)."""
    for g in grads:
        g._clear()


def split_dense(arrays: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """``(dense, sparse)`` arrays of ``arrays``, order kept within each."""
    dense = [a for a in arrays if a.stype == "default"]
    sparse = [a for a in arrays if a.stype != "default"]
    return dense, sparse


def get_row_sparse(param: Any, arr_list: Any, ctx: Context | type, row_id: Any) -> Any:
    """MXNet's ``Parameter._get_row_sparse``: the replica(s) on ``ctx`` (``list``: all) with
    the rows of ``row_id`` pulled from the Trainer.

    Raises:
        TypeError: ``row_id`` is not an NDArray.
        RuntimeError: no Trainer was created with the Parameter.
    """
    if not isinstance(row_id, NDArray):
        raise TypeError(f"row_id must have NDArray type, but {type(row_id)} is given")
    if not param._trainer:
        raise RuntimeError(_MSG_NO_TRAINER.format(name=param.name))
    results = param._check_and_get(arr_list, ctx)
    param._trainer._row_sparse_pull(param, results, row_id)
    return results


def all_rows(param: Any) -> Any:
    """Every row of a row_sparse Parameter on cpu(0) (MXNet's ``_reduce``): pulled from the
    Trainer's store when the Parameter has a Trainer, else a copy of replica 0."""
    from mxlite.context import cpu
    from mxlite.ndarray import _sparse_build, creation

    first = param._check_and_get(param._data, list)[0]
    if not param._trainer:
        return first.copyto(cpu(0))
    out = _sparse_build.zeros(param._stype, first.shape, cpu(0), first.dtype)
    all_ids = creation.arange(first.shape[0], dtype="int64")
    param._trainer._row_sparse_pull(param, out, all_ids, full_idx=True)
    return out
