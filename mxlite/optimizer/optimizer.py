"""The ``Optimizer`` base class, its registry and the helpers custom optimizers call.

Semantics follow MXNet 1.9.1's ``mxnet.optimizer.Optimizer``:

* ``learning_rate=None`` means 0.01 unless an ``lr_scheduler`` is given; a given rate overrides
  the scheduler's ``base_lr`` (and prints MXNet's notice when they differ).
* Per-index update counts (``_index_update_count``, one table per device id) start at
  ``begin_num_update``; ``num_update`` is the largest count seen and is what the scheduler gets.
  (A Trainer whose contexts share a device id, ``[gpu(0), cpu(0)]``, gives the later ones tables
  of their own, keyed ``(device_typeid, device_id)``: MXNet counts such steps twice.)
* Learning-rate and weight-decay multipliers come first from ``param_dict`` (gluon Parameters'
  ``lr_mult``/``wd_mult``), then from ``set_lr_mult``/``set_wd_mult`` by index, then by name via
  ``param_idx2name``. When names are known, every name not ending in ``_weight`` or ``_gamma``
  gets ``wd_mult`` 0.

Beyond MXNet, :meth:`Optimizer.update_multi` updates all parameters of one context at once; the
built-in SGD, NAG and Adam run it as one multi-tensor call per dtype group (see ``sgd.py``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite._epoch import Versioned
from mxlite.lr_scheduler import ArgumentTypeError, LRScheduler
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer._common import group_by_dtype, scalar_product
from mxlite.util import is_np_array

__all__ = ["Optimizer", "register", "create", "aggregation_size"]

# Assigning one of these bumps ``Optimizer._version``: cached step plans (multipliers, dtype
# groups, chunk order, state layout) are rebuilt. Per-step values (lr, wd, rescale_grad,
# clip_gradient, momentum, betas, num_update) are read at every step and bump nothing.
_PLAN_ATTRS = frozenset(
    {
        "param_dict",
        "lr_mult",
        "wd_mult",
        "idx2name",
        "lr_scheduler",
        "aggregate_num",
        "multi_precision",
        "begin_num_update",
        "sym_info",
        "allow_np_array",
        "_all_index_update_counts",
    }
)

_FP16_WARNING = (
    "Accumulating with float16 in optimizer can lead to poor accuracy or slow convergence. "
    "Consider using multi_precision=True option of the {}optimizer"
)
_SET_LR_WITH_SCHEDULER = (
    "LRScheduler of the optimizer has already been defined. Note that set_learning_rate can "
    "mutate the value of the learning rate of the optimizer only when the LRScheduler of the "
    "optimizer is undefined."
)


def aggregation_size() -> int:
    """How many tensors MXNet's SGD updates per aggregated call: ``MXNET_OPTIMIZER_AGGREGATION_SIZE``
    (default 4). Chunking only decides when the learning rate is read; mxlite's multi-tensor path
    keeps that timing and still updates a whole dtype group in one call."""
    raw = os.getenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", "4")
    try:
        return int(raw)
    except ValueError as err:
        raise ValueError(
            f"MXNET_OPTIMIZER_AGGREGATION_SIZE must be an integer, got {raw!r}; unset it or use e.g. 4."
        ) from err


class Optimizer(Versioned):
    """The base class of all optimizers.

    Args:
        rescale_grad: gradients are multiplied by this first (often ``1 / batch_size``).
        param_idx2name: dict from parameter index to name; names decide default wd multipliers.
        wd: weight decay (L2 penalty) coefficient.
        clip_gradient: clip gradients into ``[-clip_gradient, clip_gradient]`` (None: no clip).
        learning_rate: the initial rate; None means the scheduler's ``base_lr``, or 0.01.
        lr_scheduler: an :class:`mxlite.lr_scheduler.LRScheduler`.
        sym: accepted for compatibility; an object with ``attr_dict()`` and ``list_arguments()``
            whose ``__lr_mult__``/``__wd_mult__`` attributes set multipliers.
        begin_num_update: the update count to start from.
        multi_precision: keep float32 master weights (and float32 states) for float16 weights.
        param_dict: dict from index to gluon Parameter (not copied), for ``lr_mult``/``wd_mult``.
        aggregate_num: tensors per aggregated update call (mxlite extension; MXNet sets it from
            ``MXNET_OPTIMIZER_AGGREGATION_SIZE`` for SGD, 0 otherwise). None keeps that default.
    """

    opt_registry: dict[str, type[Optimizer]] = {}

    def __init__(
        self,
        rescale_grad: float = 1.0,
        param_idx2name: dict[int, str] | None = None,
        wd: float = 0.0,
        clip_gradient: float | None = None,
        learning_rate: float | None = None,
        lr_scheduler: LRScheduler | None = None,
        sym: Any = None,
        begin_num_update: int = 0,
        multi_precision: bool = False,
        param_dict: dict[int, Any] | None = None,
        aggregate_num: int | None = None,
    ) -> None:
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        if self.lr_scheduler is None and learning_rate is None:
            learning_rate = 0.01
        self.lr = learning_rate
        if self.lr_scheduler is not None and learning_rate is not None:
            if self.lr_scheduler.base_lr != learning_rate:
                print(  # MXNet prints (not warns) this notice
                    UserWarning(
                        "learning rate from ``lr_scheduler`` has been overwritten by "
                        "``learning_rate`` in optimizer."
                    )
                )
                self.lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.lr_mult: dict[Any, float] = {}
        self.wd_mult: dict[Any, float] = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        self._all_index_update_counts: dict[int, dict[Any, int]] = {0: {}}
        self._index_update_count = self._all_index_update_counts[0]
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.aggregate_num = 0 if aggregate_num is None else int(aggregate_num)
        if param_idx2name is None:
            param_idx2name = {}
        if not isinstance(param_idx2name, dict):
            raise ArgumentTypeError(
                "param_idx2name should be a dict of param indexes to names. "
                f"Got {type(param_idx2name).__name__}; pass e.g. {{0: 'fc1_weight'}}."
            )
        self.idx2name = param_idx2name.copy()
        self.sym_info: tuple[Any, ...] = ()
        if sym is not None:
            if not (hasattr(sym, "attr_dict") and hasattr(sym, "list_arguments")):
                raise ArgumentTypeError(
                    f"sym must be a Symbol (with attr_dict() and list_arguments()), got "
                    f"{type(sym).__name__}. mxlite has no symbolic API: pass sym=None and use "
                    "set_lr_mult/set_wd_mult or Parameter.lr_mult/wd_mult instead."
                )
            self.sym_info = (sym.attr_dict(), sym.list_arguments())
        self.param_dict = param_dict if param_dict else {}
        self.allow_np_array = is_np_array()
        self.set_lr_mult({})
        self.set_wd_mult({})

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _PLAN_ATTRS:
            self._touch()

    # ------------------------------------------------------------------ registry
    @staticmethod
    def register(klass: type[Optimizer]) -> type[Optimizer]:
        """Register an Optimizer subclass under its lower-cased class name (usable as decorator).

        Raises:
            ArgumentTypeError: ``klass`` is not a class.
        """
        if not isinstance(klass, type):
            raise ArgumentTypeError(
                f"Optimizer.register expects a class, got {klass!r}; decorate the class itself."
            )
        name = klass.__name__.lower()
        if name in Optimizer.opt_registry:
            old = Optimizer.opt_registry[name]
            warnings.warn(
                f"WARNING: New optimizer {klass.__module__}.{klass.__name__} is overriding "
                f"existing optimizer {old.__module__}.{old.__name__}",
                stacklevel=2,
            )
        Optimizer.opt_registry[name] = klass
        return klass

    @staticmethod
    def create_optimizer(name: str, **kwargs: Any) -> Optimizer:
        """Instantiate the optimizer registered as ``name`` (case-insensitive) with ``kwargs``.

        Raises:
            ValueError: no optimizer of that name is registered.
        """
        key = name.lower()
        if key in Optimizer.opt_registry:
            return Optimizer.opt_registry[key](**kwargs)
        raise ValueError(
            f"Cannot find optimizer {name}. Registered optimizers: "
            f"{', '.join(sorted(Optimizer.opt_registry))}. Register a custom one with "
            "@mx.optimizer.register."
        )

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> float:
        """The current learning rate (from the scheduler at ``num_update`` when one is set)."""
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr  # type: ignore[return-value]

    def set_learning_rate(self, lr: float) -> None:
        """Set the learning rate.

        Raises:
            UserWarning: an lr_scheduler is set (MXNet raises this warning class as an error).
        """
        if self.lr_scheduler is not None:
            raise UserWarning(_SET_LR_WITH_SCHEDULER)
        self.lr = lr

    def set_lr_scale(self, args_lrscale: Any) -> None:
        """[DEPRECATED] Raises DeprecationWarning; use :meth:`set_lr_mult`."""
        raise DeprecationWarning("set_lr_scale is deprecated; use set_lr_mult instead.")

    def set_lr_mult(self, args_lr_mult: dict[Any, float]) -> None:
        """Set per-parameter learning-rate multipliers, keyed by name or index.

        Replaces earlier calls; ``sym`` attributes ``__lr_mult__`` come first.
        """
        self.lr_mult = self._sym_mults("__lr_mult__")
        self.lr_mult.update(args_lr_mult)

    def set_wd_mult(self, args_wd_mult: dict[Any, float]) -> None:
        """Set per-parameter weight-decay multipliers, keyed by name or index.

        Names from ``param_idx2name`` not ending in ``_weight`` or ``_gamma`` get 0 first.
        """
        self.wd_mult = {}
        for name in self.idx2name.values():
            if not (name.endswith("_weight") or name.endswith("_gamma")):
                self.wd_mult[name] = 0.0
        self.wd_mult.update(self._sym_mults("__wd_mult__"))
        self.wd_mult.update(args_wd_mult)

    def _sym_mults(self, key: str) -> dict[Any, float]:
        """``{name: float(attr[name][key])}`` over the arguments of ``sym`` that carry ``key``
        (``__lr_mult__`` or ``__wd_mult__``); empty without a symbol."""
        if not self.sym_info:
            return {}
        attr, arg_names = self.sym_info
        return {
            name: float(attr[name][key]) for name in arg_names if name in attr and key in attr[name]
        }

    # ------------------------------------------------------------------ counts, lrs, wds
    def _set_current_context(self, device_id: Any) -> None:
        """Switch the per-index update counts to those of device ``device_id`` (any hashable
        key: :class:`Updater` passes its ``count_key`` when one is set)."""
        if device_id not in self._all_index_update_counts:
            self._all_index_update_counts[device_id] = {}
        self._index_update_count = self._all_index_update_counts[device_id]

    def _fork_count_table(self, key: Any, source: Any) -> None:
        """Give ``key`` update counts of its own, starting as a copy of ``source``'s table (empty
        when there is none), unless it has a table already."""
        tables = self._all_index_update_counts
        if key not in tables:
            tables[key] = dict(tables.get(source, {}))

    def _update_count(self, index: Any) -> None:
        """Count one more update of ``index`` (an index or a list of them); bump ``num_update``."""
        indices = index if isinstance(index, (list, tuple)) else [index]
        for idx in indices:
            if idx not in self._index_update_count:
                self._index_update_count[idx] = self.begin_num_update
            self._index_update_count[idx] += 1
            self.num_update = max(self._index_update_count[idx], self.num_update)

    def _get_lrs(self, indices: Sequence[Any]) -> list[float]:
        """Learning rates for ``indices`` (scheduler or ``lr``, times each multiplier)."""
        if self.lr_scheduler is not None:
            lr = self.lr_scheduler(self.num_update)
        else:
            lr = self.lr  # type: ignore[assignment]
        return self._times_mults(lr, indices, "lr_mult", self.lr_mult)

    def _times_mults(
        self, value: Any, indices: Sequence[Any], attr: str, mults: dict[Any, Any]
    ) -> list[float]:
        """``value`` times each index's multiplier, looked up as MXNet does: the gluon
        Parameter's ``attr`` (``lr_mult``/``wd_mult``) when ``param_dict`` has the index, else
        ``mults`` by index, else ``mults`` by the index's name (1.0 when absent)."""
        values = [value for _ in indices]
        for i, index in enumerate(indices):
            if index in self.param_dict:
                values[i] = scalar_product(value, getattr(self.param_dict[index], attr))
            elif index in mults:
                values[i] = scalar_product(value, mults[index])
            elif index in self.idx2name:
                values[i] = scalar_product(value, mults.get(self.idx2name[index], 1.0))
        return values

    def _get_lr(self, index: Any) -> float:
        """Learning rate for one index."""
        return self._get_lrs([index])[0]

    def _get_wds(self, indices: Sequence[Any]) -> list[float]:
        """Weight decays for ``indices`` (``wd`` times each multiplier)."""
        return self._times_mults(self.wd, indices, "wd_mult", self.wd_mult)

    def _get_wd(self, index: Any) -> float:
        """Weight decay for one index."""
        return self._get_wds([index])[0]

    # ------------------------------------------------------------------ states and updates
    def create_state(self, index: Any, weight: NDArray) -> Any:
        """Auxiliary state for ``weight`` (None here; subclasses return NDArrays or tuples)."""
        return None

    def _fp16_warning(self) -> str:
        return _FP16_WARNING.format("")

    def create_state_multi_precision(self, index: Any, weight: NDArray) -> Any:
        """Like :meth:`create_state`, plus a float32 master copy for float16 weights when
        ``multi_precision`` is on: returns ``(weight32, state)``."""
        if self.multi_precision and weight.dtype == np.float16:
            master = weight.astype(np.float32)
            return self._pack_mp_state(master, self.create_state(index, master))
        if weight.dtype == np.float16 and not self.multi_precision:
            warnings.warn(self._fp16_warning(), stacklevel=2)
        return self.create_state(index, weight)

    def _pack_mp_state(self, master: NDArray, state: Any) -> tuple[Any, Any]:
        """The multi-precision state of a float16 weight: ``(weight32, state)`` (SGD and NAG put
        the master copy second, as MXNet does)."""
        return (master, state)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        """Update ``weight`` in place from ``grad`` and ``state``; subclasses implement it."""
        raise NotImplementedError()

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        """:meth:`update`, through the float32 master copy for float16 weights when
        ``multi_precision`` is on."""
        if self.multi_precision and weight.dtype == np.float16:
            master, inner = state
            grad32 = NDArray(grad._data.astype(np.float32), grad.context)
            self.update(index, master, grad32, inner)
            weight._data[...] = master._data.astype(weight._data.dtype)
        else:
            self.update(index, weight, grad, state)

    def update_multi(
        self,
        indices: Sequence[Any],
        weights: Sequence[NDArray],
        grads: Sequence[NDArray],
        states: Sequence[Any],
    ) -> None:
        """Update every given parameter of one context, exactly as MXNet's Updater would.

        With ``aggregate_num > 0`` parameters are grouped by dtype (first appearance order) and
        handed over in chunks of ``aggregate_num``; otherwise one at a time, in order. Built-in
        optimizers with a multi-tensor path override this with one call per dtype group.

        Args:
            indices: parameter indices (keys of the update counts and multipliers).
            weights, grads: NDArrays on one context, same order as ``indices``.
            states: the states :meth:`create_state_multi_precision` returned, same order.
        """
        if self.aggregate_num > 0:
            for _, positions in group_by_dtype(weights):
                for start in range(0, len(positions), self.aggregate_num):
                    chunk = positions[start : start + self.aggregate_num]
                    self.update_multi_precision(
                        [indices[p] for p in chunk],
                        [weights[p] for p in chunk],
                        [grads[p] for p in chunk],
                        [states[p] for p in chunk],
                    )
        else:
            for idx, weight, grad, state in zip(indices, weights, grads, states):
                self.update_multi_precision(idx, weight, grad, state)

    # ------------------------------------------------------------------ multi-tensor helpers
    def _step_plan(
        self,
        indices: Sequence[Any],
        weights: Sequence[NDArray],
        grads: Sequence[NDArray],
        states: Sequence[Any],
    ) -> Any:
        """A reusable :meth:`update_multi` for these arguments: an object with ``run(opt)``
        (one step) and ``valid(opt)``; :class:`Updater` caches it per index list. Here it just
        calls :meth:`update_multi`; the fused families return a precomputed plan."""
        return GenericStep(self, self.update_multi, indices, weights, grads, states)

    def _step_scalars(self, index: Any) -> tuple[float, float]:
        """Count one update of ``index`` and return its ``(lr, wd)``, as ``update`` does.

        Optimizers whose kernel takes a derived rate (Adam's bias correction) override this.
        """
        self._update_count(index)
        return self._get_lr(index), self._get_wd(index)

    def _chunk_scalars(self, indices: list[Any]) -> tuple[list[float], list[float]]:
        """``(lrs, wds)`` of an aggregated chunk whose updates were just counted."""
        return self._get_lrs(indices), self._get_wds(indices)

    def _plan_scalars(
        self, indices: Sequence[Any], weights: Sequence[NDArray]
    ) -> tuple[list[float], list[float]]:
        """Per-position ``(lrs, wds)`` for :meth:`update_multi`, counting updates and reading the
        scheduler in exactly the order MXNet's Updater would (chunks of ``aggregate_num`` per
        dtype group, or one index at a time)."""
        lrs = [0.0] * len(indices)
        wds = [0.0] * len(indices)
        if self.aggregate_num > 0:
            for _, positions in group_by_dtype(weights):
                for start in range(0, len(positions), self.aggregate_num):
                    chunk = positions[start : start + self.aggregate_num]
                    chunk_idx = [indices[p] for p in chunk]
                    self._update_count(chunk_idx)
                    for p, lr, wd in zip(chunk, *self._chunk_scalars(chunk_idx)):
                        lrs[p], wds[p] = lr, wd
        else:
            for p, index in enumerate(indices):
                lrs[p], wds[p] = self._step_scalars(index)
        return lrs, wds

    # ------------------------------------------------------------------ copying
    def __getstate__(self) -> dict[str, Any]:
        ret = self.__dict__.copy()
        ret.pop("param_dict", None)  # the Trainer sets it again
        ret.pop("_version", None)  # bookkeeping of this process's step plans
        return ret

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__ = state
        self.param_dict = {}


class GenericStep:
    """The step plan of optimizers without a fused path: calls ``update`` (a bound
    ``update_multi``) with the arguments it was made with."""

    def __init__(
        self,
        opt: Optimizer,
        update: Any,
        indices: Sequence[Any],
        weights: Sequence[NDArray],
        grads: Sequence[NDArray],
        states: Sequence[Any],
    ) -> None:
        self.version = opt._version
        self.update = update
        self.args = (list(indices), list(weights), list(grads), list(states))

    def valid(self, opt: Optimizer) -> bool:
        return opt._version == self.version

    def run(self, opt: Optimizer) -> None:
        self.update(*self.args)


register = Optimizer.register
create = Optimizer.create_optimizer
