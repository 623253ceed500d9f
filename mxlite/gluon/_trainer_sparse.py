"""The Trainer with sparse Parameters (MXNet 1.9.1's ``Trainer._init_kvstore`` and
``_allreduce_grads`` rules for them).

* **row_sparse weights** always live on a kvstore that updates them (``update_on_kvstore`` is
  True; False is refused). A step: ``row_sparse_data`` pulls the rows a batch needs, backward,
  ``push`` of the row_sparse gradients updates the stored weight lazily; nothing is pulled back
  until the next ``row_sparse_data``.
* **row_sparse gradients of dense weights**: one process prefers ``update_on_kvstore=False``:
  the gradients are pushed (merged by row) and pulled back into every replica's gradient buffer,
  then each replica is updated locally (lazily). With a distributed store the update runs on
  the store and the dense weights are pulled.
* dense Parameters of the same Trainer keep the batched ``pushpull``.
"""

from __future__ import annotations

from typing import Any

from mxlite import kvstore as kvs

__all__ = ["create_kvstore", "allreduce"]

_MSG_SPARSE_WEIGHT_OFF = "Cannot set update_on_kvstore=False when sparse weights are present."
_MSG_DIST_OFF = (
    "Cannot set update_on_kvstore=False on dist kvstore when sparse gradients are present."
)


def create_kvstore(trainer: Any, kvstore: Any) -> tuple[Any, bool]:
    """The store and ``update_on_kvstore`` of a Trainer with sparse weights or gradients.

    Raises:
        TypeError: sparse weights with a ``kvstore`` that is neither a KVStore nor a str.
        ValueError: ``update_on_kvstore=False`` with sparse weights, or with sparse gradients
            on a distributed store.
    """
    requested = trainer._kvstore_params["update_on_kvstore"]
    if trainer._contains_sparse_weight:
        if isinstance(kvstore, kvs.KVStoreBase):
            kv = kvstore
        elif isinstance(kvstore, str):
            kv = kvs.create(kvstore)
        else:
            raise TypeError(
                f"Cannot create '{kvstore}' KVStore with row_sparse parameters. The type must be "
                "KVStore or str."
            )
        if requested is False:
            raise ValueError(_MSG_SPARSE_WEIGHT_OFF)
        return kv, True
    kv, _ = trainer._create_kvstore(kvstore)
    distributed = kv is not None and "dist" in kv.type
    update_on_kvstore = distributed
    if requested is not None:
        if requested is False and distributed:
            raise ValueError(_MSG_DIST_OFF)
        update_on_kvstore = bool(requested)
    return kv, update_on_kvstore


def allreduce(trainer: Any, lists: Any) -> None:
    """Reduce the gradients of a Trainer holding sparse Parameters: ``push`` + ``pull`` for
    sparse gradients (as MXNet), one batched ``pushpull`` for the dense ones."""
    kv = trainer._kvstore
    on_kv = bool(trainer._update_on_kvstore)
    dense_keys, dense_grads, dense_outs = [], [], []
    for i, param, grads, datas in zip(lists.indices, lists.params, lists.grads, lists.datas):
        if grads[0].stype != "default":
            kv.push(i, grads, priority=-i)
            if param._stype == "default":
                kv.pull(
                    i, datas if on_kv else grads, priority=-i, ignore_sparse=trainer._distributed
                )
            continue
        dense_keys.append(i)
        dense_grads.append(grads)
        dense_outs.append(datas)
    if dense_keys:
        kv.pushpull(dense_keys, dense_grads, out=dense_outs if on_kv else None)
