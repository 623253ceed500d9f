"""``gluon.Trainer``: applies an optimizer to a set of Parameters, across their replicas.

``step(batch_size)`` is ``allreduce_grads()`` then ``update()``: the gradients of every replica
are summed (through a kvstore when there are several contexts), and every replica receives the
identical update, so replicas never drift apart (each context keeps its own update counts,
even where MXNet's would collide: see :func:`mxlite.gluon._trainer_step.count_keys`). Semantics
follow MXNet 1.9.1's Trainer, including its choice of updating on the kvstore and its
stale-gradient check.

Steady-state steps do no per-Parameter bookkeeping: the replicas, gradients and per-context
update lists are gathered once (:class:`~mxlite.gluon._trainer_step.StepLists`, rebuilt when any
gradient buffer is replaced), the stale-gradient check and the reset of the fresh flags are one
tight loop over the replicas' autograd nodes, the kvstore runs a cached ``pushpull`` plan (a
tight loop of NumPy calls per key on the host), and each updater a cached step plan.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mxlite import kvstore as kvs
from mxlite import optimizer as opt
from mxlite.autograd import tape
from mxlite.base import CheckError
from mxlite.gluon import _trainer_sparse
from mxlite.gluon._trainer_step import StepLists, fork_missing_counts
from mxlite.gluon.parameter import Parameter, ParameterDict

__all__ = ["Trainer"]

_MSG_STALE = (
    "Gradient of Parameter `{name}` on context {ctx} has not been updated by backward since last "
    "`step`. This could mean a bug in your model that made it only use a subset of the "
    "Parameters (Blocks) for this iteration. If you are intentionally only using a subset, call "
    "step with ignore_stale_grad=True to suppress this warning and skip updating of Parameters "
    "with stale gradient"
)
_MSG_NOT_LIST = "First argument must be a list or dict of Parameters, got {what}."
_MSG_ON_KVSTORE = (
    "{call}() when parameters are updated on kvstore is not supported. Try setting "
    "`update_on_kvstore` to False when creating trainer."
)
_MSG_NO_KVSTORE = (
    "update_on_kvstore=True needs a kvstore, but this trainer has none (kvstore={kvstore!r}; a "
    "kvstore given by name is only created for several contexts). Leave update_on_kvstore as "
    "None or False."
)
_MSG_BATCH_CHANGED = (
    "Possible change in the `batch_size` from previous `step` detected. Optimizer gradient "
    "normalizing factor will not change w.r.t new batch_size when update_on_kvstore=True and "
    "when distributed kvstore is used."
)
_MSG_EMPTY = (
    "Trainer got no Parameters; pass a non-empty list or dict of Parameters, e.g. "
    "net.collect_params()."
)
# MXNet's 'local' store stops updating on the store above this many elements in one parameter.
_LOCAL_UPDATE_ON_KV_MAX_SIZE = 1024 * 1024 * 16


class Trainer:
    """Applies an Optimizer on a set of Parameters; use it with autograd.

    Args:
        params: a ParameterDict, a dict of Parameters or a list of Parameters.
        optimizer: an optimizer name (``'sgd'``) or an Optimizer instance.
        optimizer_params: keyword arguments for the optimizer when given by name.
        kvstore: 'device', 'local', 'dist_sync' / 'dist_device_sync' (the processes of an
            ``mpiexec`` job: the gradient is summed over every context of every worker), a
            KVStore, or None (no store: single context only).
        compression_params: gradient compression, e.g. ``{'type': '2bit', 'threshold': 0.5}``;
            applied by 'device' stores, refused by 'local' ones (as MXNet).
        update_on_kvstore: whether the update runs once on the store (then the new weight is
            copied to each replica) or on each replica with the summed gradient. None picks as
            MXNet does.

    Raises:
        ValueError: ``params`` is not a list or dict of Parameters.
        TypeError: ``params`` is empty (MXNet fails with a TypeError too).
        CheckError: Parameters live on different sets of contexts, or an Optimizer instance
            comes with ``optimizer_params``.
        RuntimeError: a Parameter was never initialized.
    """

    def __init__(
        self,
        params: Any,
        optimizer: Any,
        optimizer_params: dict[str, Any] | None = None,
        kvstore: Any = "device",
        compression_params: dict[str, Any] | None = None,
        update_on_kvstore: bool | None = None,
    ) -> None:
        if isinstance(params, (dict, ParameterDict)):
            params = [params[key] for key in sorted(params.keys())]
        if not isinstance(params, (list, tuple)):
            raise ValueError(_MSG_NOT_LIST.format(what=type(params)))
        for param in params:
            if not isinstance(param, Parameter):
                raise ValueError(_MSG_NOT_LIST.format(what=f"list of {type(param)}"))
        if not params:
            raise TypeError(_MSG_EMPTY)
        self._params: list[Parameter] = list(params)
        self._contains_sparse_weight = any(p._stype != "default" for p in params)
        self._contains_sparse_grad = any(p._grad_stype != "default" for p in params)
        self._param2idx: dict[str, int] = {param.name: i for i, param in enumerate(params)}
        self._compression_params = compression_params
        self._contexts = self._check_contexts()
        self._init_optimizer(optimizer, optimizer_params or {})
        self._scale = self._optimizer.rescale_grad
        self._kvstore_params = {"kvstore": kvstore, "update_on_kvstore": update_on_kvstore}
        self._kv_initialized = False
        self._kvstore: Any = None
        self._update_on_kvstore: bool | None = None
        self._distributed = False
        self._params_to_init: list[Parameter] = []
        self._lists: StepLists | None = None
        self._reset_kvstore()
        # Last, so that a constructor that raises leaves the Parameters untouched.
        for param in self._params:
            param._set_trainer(self)

    # ------------------------------------------------------------------ set-up
    def _check_contexts(self) -> list[Any]:
        contexts: list[Any] | None = None
        for param in self._params:
            ctx = param.list_ctx()
            if contexts is not None and contexts != ctx:
                raise CheckError(
                    "All Parameters must be initialized on the same set of contexts, but "
                    f"Parameter {param.name} is initialized on {ctx} while previous Parameters "
                    f"are initialized on {contexts}."
                )
            contexts = ctx
        assert contexts is not None  # params is not empty
        return contexts

    def _init_optimizer(self, optimizer: Any, optimizer_params: dict[str, Any]) -> None:
        param_dict = dict(enumerate(self._params))
        if isinstance(optimizer, opt.Optimizer):
            if optimizer_params:
                raise CheckError(
                    "optimizer_params must be None if optimizer is an instance of Optimizer "
                    "instead of str"
                )
            self._optimizer = optimizer
            self._optimizer.param_dict = param_dict
        else:
            self._optimizer = opt.create(optimizer, param_dict=param_dict, **optimizer_params)
        self._updaters = [opt.get_updater(self._optimizer) for _ in self._contexts]

    def _reset_kvstore(self) -> None:
        """Forget the store; it is created again (and the weights broadcast) at the next step.

        Raises:
            RuntimeError: the store is distributed (as in MXNet: every worker holds it).
        """
        if self._kvstore is not None and "dist" in self._kvstore.type:
            raise RuntimeError("Cannot reset distributed KVStore.")
        self._kv_initialized = False
        self._kvstore = None
        self._distributed = False
        self._update_on_kvstore = None
        self._params_to_init = list(self._params)

    def _create_kvstore(self, kvstore: Any) -> tuple[Any, bool]:
        """The store and the default of ``update_on_kvstore``, chosen as MXNet does.

        No store for a single context (unless a store object is given); 'local' stops updating
        on the store when one parameter has more than 16M elements; ``MXNET_UPDATE_ON_KVSTORE``
        gives the default; a store without optimizer support never updates.
        """
        update_on_kvstore = bool(int(os.getenv("MXNET_UPDATE_ON_KVSTORE", "1")))
        # MXNet reads every weight here, so a parameter still waiting for deferred
        # initialization raises DeferredInitializationError (run a forward pass first).
        first_ctx = (self._contexts or [None])[0]
        shapes = [param.data(first_ctx).shape for param in self._params]
        kv: Any
        if kvstore is None:
            kv = None
        elif isinstance(kvstore, kvs.KVStoreBase):
            kv = kvstore
        elif isinstance(kvstore, str):
            if len(self._contexts or []) == 1 and "dist" not in kvstore:
                kv = None
            else:
                kv = kvs.create(kvstore)
                if kvstore == "local" and shapes:
                    if max(int(np.prod(shape)) for shape in shapes) > _LOCAL_UPDATE_ON_KV_MAX_SIZE:
                        update_on_kvstore = False
        else:
            raise TypeError("kvstore must be KVStore, str or None")
        if kv is None:
            return None, False
        return kv, update_on_kvstore and bool(kv.is_capable(kvs.KVStoreBase.OPTIMIZER))

    def _init_kvstore(self) -> None:
        config = self._kvstore_params
        requested = config["update_on_kvstore"]
        if self._contains_sparse_weight or self._contains_sparse_grad:
            kv, update_on_kvstore = _trainer_sparse.create_kvstore(self, config["kvstore"])
            self._distributed = kv is not None and "dist" in kv.type
            requested = None  # settled by the sparse rules
        else:
            kv, update_on_kvstore = self._create_kvstore(config["kvstore"])
            self._distributed = kv is not None and "dist" in kv.type
        if requested is not None:
            update_on_kvstore = bool(requested)
        if update_on_kvstore and kv is None:
            raise ValueError(_MSG_NO_KVSTORE.format(kvstore=config["kvstore"]))
        if update_on_kvstore and not kv.is_capable(kvs.KVStoreBase.OPTIMIZER):
            if requested:
                raise ValueError(
                    f"Please set update_on_kvstore=False when training with {type(kv)}"
                )
            update_on_kvstore = False
        if kv is not None:
            if self._compression_params:
                kv.set_gradient_compression(self._compression_params)
            if update_on_kvstore:
                kv.set_optimizer(self._optimizer)
            self._kvstore = kv
            self._update_on_kvstore = update_on_kvstore
        else:
            self._kvstore = None
            self._update_on_kvstore = None
        self._kv_initialized = True

    def _init_params(self) -> None:
        """Put initialized parameters into the store (copying replica 0 to every replica);
        parameters still waiting for deferred initialization stay queued."""
        waiting = []
        if self._kvstore is not None:
            for param in self._params_to_init:
                if param._deferred_init:
                    waiting.append(param)
                    continue
                idx = self._param2idx[param.name]
                if param._stype != "default":  # the store keeps the weight; rows are pulled
                    self._kvstore.init(idx, param._check_and_get(param._data, list)[0])
                    continue
                arrays = param.list_data()
                self._kvstore.broadcast(idx, arrays[0], arrays)
        self._params_to_init = waiting

    def _prepare(self) -> None:
        if not self._kv_initialized:
            self._init_kvstore()
        if self._params_to_init:
            self._init_params()

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> float:
        """The optimizer's current learning rate."""
        return self._optimizer.learning_rate

    @property
    def optimizer(self) -> Any:
        """The optimizer instance."""
        return self._optimizer

    def set_learning_rate(self, lr: float) -> None:
        """Set the optimizer's learning rate."""
        self._optimizer.set_learning_rate(lr)

    # ------------------------------------------------------------------ stepping
    def _check_and_rescale_grad(self, scale: float) -> None:
        """Set the optimizer's ``rescale_grad``; with a distributed store that updates, MXNet
        fixes it at the first step and raises when the batch size changes.

        Raises:
            UserWarning: as MXNet, a new batch size with a distributed store that updates.
        """
        if self._update_on_kvstore and self._distributed and self._kv_initialized:
            if self._optimizer.rescale_grad != scale:
                raise UserWarning(_MSG_BATCH_CHANGED)
        self._optimizer.rescale_grad = scale

    def step(self, batch_size: int, ignore_stale_grad: bool = False) -> None:
        """One update: reduce gradients across replicas, then apply the optimizer.

        Gradients are scaled by ``rescale_grad / batch_size`` (the optimizer's rescale_grad at
        construction). Call it after ``backward`` and outside ``autograd.record()``.

        Raises:
            UserWarning: a gradient was not refreshed by backward since the last step (unless
                ``ignore_stale_grad``), as MXNet raises it.
        """
        self._check_and_rescale_grad(self._scale / batch_size)
        self._prepare()
        self._allreduce_grads()
        self._update(ignore_stale_grad)

    def allreduce_grads(self) -> None:
        """Sum each parameter's gradients over its replicas, in place in every replica.

        Raises:
            CheckError: the trainer updates on the kvstore (use update_on_kvstore=False).
        """
        self._prepare()
        if self._kvstore is not None and self._update_on_kvstore:
            raise CheckError(_MSG_ON_KVSTORE.format(call="allreduce_grads"))
        self._allreduce_grads()

    def _step_lists(self) -> StepLists:
        """This step's :class:`StepLists` (rebuilt after any gradient buffer was replaced)."""
        lists = self._lists
        if lists is None or not lists.current:
            lists = self._lists = None  # drop the old references before gathering new ones
            lists = self._lists = StepLists(self._params, len(self._updaters))
        return lists

    def _allreduce_grads(self) -> None:
        if self._kvstore is None:
            return
        lists = self._step_lists()
        if self._contains_sparse_grad or self._contains_sparse_weight:
            _trainer_sparse.allreduce(self, lists)
            return
        indices = lists.indices
        outs = lists.datas if self._update_on_kvstore else None
        if isinstance(self._kvstore, kvs.KVStore) and indices:
            # One call for every key: same sums and updates as MXNet's call per parameter.
            self._kvstore.pushpull(indices, lists.grads, out=outs)
            return
        for n, i in enumerate(indices):
            self._kvstore.pushpull(
                i, lists.grads[n], out=None if outs is None else outs[n], priority=-i
            )

    def _row_sparse_pull(
        self, parameter: Parameter, out: Any, row_id: Any, full_idx: bool = False
    ) -> None:
        """Pull the rows ``row_id`` of a row_sparse Parameter from the store into ``out`` (all
        rows with a plain ``pull`` when ``full_idx`` and the store is not distributed)."""
        self._prepare()
        idx = self._param2idx[parameter.name]
        if full_idx and "dist" not in self._kvstore.type:
            self._kvstore.pull(idx, out=out, priority=-idx, ignore_sparse=False)
        else:
            self._kvstore.row_sparse_pull(idx, out=out, row_ids=row_id, priority=-idx)

    def update(self, batch_size: int, ignore_stale_grad: bool = False) -> None:
        """Apply the optimizer with the gradients as they are (after ``allreduce_grads``).

        Raises:
            CheckError: the trainer updates on the kvstore (use update_on_kvstore=False).
        """
        self._prepare()
        if self._kvstore is not None and self._update_on_kvstore:
            raise CheckError(_MSG_ON_KVSTORE.format(call="update"))
        self._check_and_rescale_grad(self._scale / batch_size)
        self._update(ignore_stale_grad)

    def _update(self, ignore_stale_grad: bool = False) -> None:
        """MXNet's ``Trainer._update``: check that every gradient is fresh (unless
        ``ignore_stale_grad``), then hand each context's (fresh) gradients to its updater and
        mark them consumed; with updates on the kvstore, only the check."""
        on_kvstore = self._kvstore is not None and bool(self._update_on_kvstore)
        lists = self._step_lists()
        nodes = lists.nodes()
        if nodes is None or (ignore_stale_grad and not tape.all_fresh(nodes)):
            self._update_each(lists, ignore_stale_grad, on_kvstore)
            return
        if not ignore_stale_grad and not tape.all_fresh(nodes):
            self._raise_stale(lists, on_kvstore)
        if on_kvstore:
            return
        lists.check_mismatch()
        tape.clear_fresh(nodes)
        self._run_updaters(lists, lists.updates)

    def _raise_stale(self, lists: StepLists, on_kvstore: bool) -> None:
        """Raise MXNet's stale-gradient warning for the first stale replica, after consuming the
        fresh flags of the Parameters before it (MXNet's loop has reset them by then).

        Raises:
            UserWarning: always.
        """
        for param, datas in zip(lists.params, lists.datas, strict=True):
            for data in datas:
                if not data._fresh_grad:
                    raise UserWarning(_MSG_STALE.format(name=param.name, ctx=data.context))
            if not on_kvstore:
                lists.check_mismatch()
                for data in datas:
                    data._fresh_grad = False
        raise AssertionError("unreachable: a stale gradient was seen")  # pragma: no cover

    def _update_each(self, lists: StepLists, ignore_stale_grad: bool, on_kvstore: bool) -> None:
        """The step replica by replica, as MXNet's loop runs it (stale replicas skipped with
        ``ignore_stale_grad``, or replicas that are not autograd variables)."""
        if not ignore_stale_grad and not all(data._fresh_grad for data in lists.flat):
            self._raise_stale(lists, on_kvstore)
        if on_kvstore:
            return
        lists.check_mismatch()
        updates: list[tuple[list[int], list[Any], list[Any]]] = [
            ([], [], []) for _ in self._updaters
        ]
        for i, datas, grads in zip(lists.indices, lists.datas, lists.grads, strict=True):
            for (idx, upd_grads, weights), arr, grad in zip(updates, datas, grads, strict=True):
                if not ignore_stale_grad or arr._fresh_grad:
                    idx.append(i)
                    upd_grads.append(grad)
                    weights.append(arr)
                    arr._fresh_grad = False
        self._run_updaters(lists, updates)

    def _run_updaters(
        self, lists: StepLists, updates: list[tuple[list[int], list[Any], list[Any]]]
    ) -> None:
        if not lists.indices:
            return
        fork_missing_counts(self._optimizer, lists.keys)
        for updater, (idx, grads, weights), key in zip(
            self._updaters, updates, lists.keys, strict=True
        ):
            if idx:
                updater.count_key = key
                updater(idx, grads, weights)

    # ------------------------------------------------------------------ states
    def save_states(self, fname: str) -> None:
        """Save the optimizer and its states (momentum, ...) to ``fname``, atomically, in mxlite's
        pickle-free format. ``param_dict`` (lr_mult, wd_mult) is not saved.

        Raises:
            CheckError: updating on the kvstore while some parameters are not in it yet.
        """
        self._prepare()
        if self._update_on_kvstore and self._kvstore is not None:
            if self._params_to_init:
                raise CheckError(
                    "Cannot save trainer states when some parameters are not yet initialized "
                    "in kvstore."
                )
            self._kvstore.save_optimizer_states(fname, dump_optimizer=True)
            return
        from mxlite._formats.atomic_file import atomic_write

        with atomic_write(fname) as f:
            f.write(self._updaters[0].get_states(dump_optimizer=True))

    def load_states(self, fname: str) -> None:
        """Load the optimizer and states written by :meth:`save_states`.

        The states may have been saved on other contexts: each state moves to its weight's
        context at the next update. ``param_dict`` is set from this trainer's parameters.

        All or nothing: the file is decoded and checked for every updater before any states
        or the optimizer are replaced.

        Raises:
            OSError: ``fname`` cannot be read.
            mxlite.base.ParamFileError: the file is damaged or was pickled by real MXNet (the
                message names the entry); the optimizer and its states are unchanged.
        """
        from mxlite._formats.atomic_file import remove_dead_leftovers

        self._prepare()
        remove_dead_leftovers(fname)  # what killed saves of this file left behind
        if self._update_on_kvstore and self._kvstore is not None:
            self._kvstore.load_optimizer_states(fname)
            self._optimizer = self._kvstore._updater.optimizer
        else:
            with open(fname, "rb") as f:
                states = f.read()
            decoded = [updater._decode_states(states) for updater in self._updaters]
            for updater, (loaded, optimizer) in zip(self._updaters, decoded, strict=True):
                updater._install_states(loaded, optimizer)
                updater.optimizer = self._updaters[0].optimizer
            self._optimizer = self._updaters[0].optimizer
        self._optimizer.param_dict = dict(enumerate(self._params))
