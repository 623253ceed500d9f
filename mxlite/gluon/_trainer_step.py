"""What ``gluon.Trainer`` reads of its Parameters at every step, built once and reused.

A step needs, for every Parameter that has gradients (``grad_req != 'null'``): its replicas and
gradient buffers (for the kvstore's reduce and the updaters), their fresh-gradient flags (the
stale-gradient check), and per context the lists ``(indices, grads, weights)`` handed to that
context's updater. Gathering them Parameter by Parameter costs a few microseconds each, i.e.
milliseconds per step for thousands of Parameters, although they only change when a Parameter's
buffers are replaced.

:class:`StepLists` gathers them once. It stays valid while no gradient buffer anywhere has been
(re)installed (the :data:`mxlite._epoch.BUFFERS` epoch): every replacement of a Parameter's
replicas or gradients (``initialize``, ``force_reinit``, deferred initialization, ``reset_ctx``,
``cast``, a ``grad_req`` change, ``load_parameters`` of an uninitialized Parameter) allocates
gradient buffers through the Parameter's owning methods, which bump it. The replicas' autograd
nodes, whose ``fresh`` flags the check reads, are kept while no array anywhere is re-marked as a
variable (the :data:`mxlite._epoch.VARIABLES` epoch), so the steady-state check and reset are one
tight loop over the nodes each.
"""

from __future__ import annotations

from typing import Any

from mxlite import _epoch
from mxlite.autograd import tape

__all__ = ["StepLists", "count_keys"]


def count_keys(contexts: list[Any]) -> list[Any]:
    """The update-count table of each updater (see ``Updater.count_key``), given the context of
    its weights.

    The first context of a device id uses MXNet's table, the device id itself, so every setup
    whose device ids differ counts exactly as MXNet does (and states saved on one set of
    contexts load onto another). A later context with the same id (``cpu(0)`` after ``gpu(0)``)
    gets ``(device_typeid, device_id)`` instead of sharing the table: MXNet counts such a step
    twice (Adam's bias correction and the schedule run ahead, and the replicas drift apart).
    Such a table starts as a copy of the device id's table (see :func:`fork_missing_counts`).
    """
    keys: list[Any] = []
    taken: set[Any] = set()
    for n, ctx in enumerate(contexts):
        key: Any = ctx.device_id
        if key in taken:
            key = (ctx.device_typeid, ctx.device_id)
            if key in taken:  # the same context twice
                key = (ctx.device_typeid, ctx.device_id, n)
        taken.add(key)
        keys.append(key)
    return keys


def fork_missing_counts(optimizer: Any, keys: list[Any]) -> None:
    """Before any updater of a step counts: contexts without update counts start from a copy
    of the first context's counts that has some.

    Counts go missing when states are loaded onto partly other contexts (saved on ``[cpu(0)]``,
    loaded onto ``[cpu(0), cpu(1)]``) or a context joins a device id; MXNet then restarts those
    contexts' counts alone and the replicas drift apart. When no context has counts (loaded
    onto all-new device ids) every one starts afresh, as in MXNet.
    """
    tables = optimizer._all_index_update_counts
    source = next((key for key in keys if key in tables), None)
    if source is None:
        return
    for key in keys:
        optimizer._fork_count_table(key, source)


class StepLists:
    """The replicas, gradients and per-updater lists of a Trainer's Parameters.

    Args:
        params: the Trainer's Parameters, in order.
        n_updaters: the Trainer's number of updaters (one per context it was created for).

    Raises:
        RuntimeError: a Parameter with gradients is not initialized (as ``list_data`` raises).
        DeferredInitializationError: one still waits for its first forward pass.
    """

    def __init__(self, params: list[Any], n_updaters: int) -> None:
        self.epoch = _epoch.BUFFERS.value
        self.indices = [i for i, param in enumerate(params) if param.grad_req != "null"]
        self.params = [params[i] for i in self.indices]
        # a row_sparse weight's replicas (list_data refuses them; the rows come from the store)
        self.datas = [param._check_and_get(param._data, list) if param._stype != "default"
                      else param.list_data() for param in self.params]  # fmt: skip
        self.grads = [param.list_grad() for param in self.params]
        self.flat = [arr for datas in self.datas for arr in datas]
        self.n_updaters = n_updaters
        self.mismatch = next(
            (
                (param.name, len(datas))
                for param, datas in zip(self.params, self.datas, strict=True)
                if len(datas) != n_updaters
            ),
            None,
        )
        self.updates: list[tuple[list[int], list[Any], list[Any]]] = []
        if self.mismatch is None:
            for j in range(n_updaters):
                self.updates.append(
                    (
                        self.indices,
                        [grads[j] for grads in self.grads],
                        [datas[j] for datas in self.datas],
                    )
                )
        contexts = [arr.context for arr in self.datas[0]] if self.datas else []
        self.keys = count_keys(contexts)
        self._nodes: list[Any] | None = None
        self._nodes_epoch = -1

    @property
    def current(self) -> bool:
        """Whether no gradient buffer has been (re)allocated since these lists were built."""
        return self.epoch == _epoch.BUFFERS.value

    def nodes(self) -> list[Any] | None:
        """The autograd nodes of :attr:`flat` (None when a replica is not a variable)."""
        now = _epoch.VARIABLES.value
        if now != self._nodes_epoch:
            self._nodes = tape.variable_nodes(self.flat)
            self._nodes_epoch = now
        return self._nodes

    def check_mismatch(self) -> None:
        """Raise when a Parameter's replicas do not match the updaters one to one.

        Raises:
            ValueError: a Parameter lives on a different number of contexts than the Trainer
                was created for (e.g. after ``reset_ctx``).
        """
        if self.mismatch is not None:
            name, count = self.mismatch
            raise ValueError(
                f"Parameter '{name}' has {count} replicas, but this Trainer was created for "
                f"{self.n_updaters} contexts. Create a new Trainer after moving Parameters to "
                "another number of contexts (reset_ctx)."
            )
