"""``Updater``: the per-context closure that owns optimizer states (MXNet's kvstore updater).

``updater(index, grad, weight)`` takes one index or lists of them; states are created on first
use (:meth:`Optimizer.create_state_multi_precision`) and moved to the weight's context after
:meth:`Updater.set_states`. A list call hands everything to :meth:`Optimizer.update_multi`, which
does what MXNet's Updater does (dtype groups, ``aggregate_num`` chunks) and runs the built-in
multi-tensor paths in one call per dtype group.

``get_states``/``set_states`` use mxlite's pickle-free format (:mod:`._states_format`); states
pickled by real MXNet are refused with :class:`mxlite.base.ParamFileError`.

Step plans: a list call also keeps the optimizer's step plan (:meth:`Optimizer._step_plan`),
keyed by the tuple of indices. The next call with the same indices, the very same weight and
gradient objects (compared by identity), the same optimizer and untouched states runs the plan
directly: no conversions, state lookups, argument checks or per-index Python work. Reading
``updater.states`` from outside (it may be edited), ``set_states`` or a change of the optimizer's
multipliers, scheduler or groups (``Optimizer._version``) makes the next call rebuild it.
A plan holds references to the arrays of its last call; :meth:`Updater.clear_plans` drops them.
"""

from __future__ import annotations

from typing import Any

from mxlite import backend
from mxlite._epoch import Versioned, same_objects
from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer import _sparse_update, _states_format
from mxlite.optimizer.optimizer import Optimizer
from mxlite.util import is_np_array

__all__ = ["Updater", "get_updater"]


def _as_classic(value: Any, allow_np: bool) -> Any:
    """``mx.np.ndarray`` inputs as classic NDArrays sharing memory (MXNet's ``as_nd_ndarray``).

    Raises:
        ValueError: an ``mx.np.ndarray`` arrives while the optimizer was made outside numpy mode.
    """
    from mxlite.numpy.multiarray import ndarray as np_ndarray  # noqa: PLC0415 - mx.np sits above

    def convert(x: Any) -> Any:
        if isinstance(x, np_ndarray):
            if not allow_np:
                raise ValueError(
                    "Converting np.ndarray to mx.nd.NDArray is not allowed: the optimizer was "
                    "created outside numpy mode. Create it after npx.set_np()."
                )
            return NDArray(x._data, x.context)
        return x

    if isinstance(value, (tuple, list)):
        return [convert(x) for x in value]
    return convert(value)


class Updater(Versioned):
    """Applies ``optimizer`` to (index, grad, weight) triples and keeps their states.

    Args:
        optimizer: the optimizer to apply; several Updaters (one per context) may share it.

    Attributes:
        count_key: which of the optimizer's update-count tables the calls use. None (the
            default) is MXNet's choice, the weights' device id; :class:`mxlite.gluon.Trainer`
            sets it so that contexts sharing a device id (``[gpu(0), cpu(0)]``) keep separate
            counts instead of counting every step twice.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self._states: dict[Any, Any] = {}
        self._plans: dict[tuple[Any, ...], _CallPlan] = {}
        self.states_synced: dict[Any, bool] = {}
        self.aggregate_updates = optimizer.aggregate_num > 0
        self.count_key: Any = None

    def _count_key(self, device_id: int) -> Any:
        """The optimizer's update-count table this call uses: :attr:`count_key` when set (a
        Trainer gives each of its contexts its own), else the weights' device id (MXNet)."""
        return device_id if self.count_key is None else self.count_key

    @property
    def states(self) -> dict[Any, Any]:
        """The optimizer states by index (``create_state_multi_precision``'s results).

        The caller may edit the dict, so every outside read makes cached step plans rebuild.
        """
        self._touch()
        return self._states

    @states.setter
    def states(self, value: dict[Any, Any]) -> None:
        self._touch()
        self._states = value

    def clear_plans(self) -> None:
        """Forget the cached step plans (and the array references they hold)."""
        self._plans.clear()

    def __call__(self, index: Any, grad: Any, weight: Any) -> None:
        """Update ``weight`` from ``grad`` for one index or for lists of them (one context).

        The update runs with the weights' GPU current (CuPy launches on the current device).

        Raises:
            ValueError: ``index``, ``grad`` and ``weight`` lists differ in length.
        """
        first = weight[0] if isinstance(weight, (list, tuple)) and weight else weight
        raw = getattr(first, "_data", None)
        with backend.array_device_guard(raw):
            self._update(index, grad, weight)

    def _update(self, index: Any, grad: Any, weight: Any) -> None:
        listed = isinstance(index, (list, tuple))
        if listed:
            plan = self._cached_plan(index, grad, weight)
            if plan is not None:
                self.optimizer._set_current_context(self._count_key(plan.device_id))
                plan.step.run(self.optimizer)
                return
        allow_np = getattr(self.optimizer, "allow_np_array", is_np_array())
        if not isinstance(index, (list, tuple)):
            indices: list[Any] = [index]
            grads = [_as_classic(grad, allow_np)]
            weights = [_as_classic(weight, allow_np)]
        else:
            indices = list(index)
            grads = _as_classic(grad, allow_np)
            weights = _as_classic(weight, allow_np)
            if not len(indices) == len(grads) == len(weights):
                raise ValueError(
                    f"Updater: got {len(indices)} indices, {len(grads)} gradients and "
                    f"{len(weights)} weights; pass one gradient and one weight per index."
                )
        device_id = weights[0].context.device_id if weights else 0
        if weights:
            self.optimizer._set_current_context(self._count_key(device_id))
        states = self._states
        for i, idx in enumerate(indices):
            if isinstance(idx, bytes):
                idx = idx.decode("utf-8")
                indices[i] = idx
            if idx not in states:
                states[idx] = self.optimizer.create_state_multi_precision(idx, weights[i])
                self.states_synced[idx] = True
                self._touch()
            elif not self.states_synced[idx]:
                states[idx] = self.sync_state_context(states[idx], weights[i].context)
                self.states_synced[idx] = True
                self._touch()
        arg_states = [states[idx] for idx in indices]
        # row_sparse gradients or weights: no cached plan
        if any(map(_sparse_update.is_sparse, grads)) or any(map(_sparse_update.is_sparse, weights)):
            _sparse_update.update_multi(self.optimizer, indices, weights, grads, arg_states)
            return
        if not (listed and weights):
            self.optimizer.update_multi(indices, weights, grads, arg_states)
            return
        step = self.optimizer._step_plan(indices, weights, grads, arg_states)
        step.run(self.optimizer)
        self._keep_plan(index, grad, weight, device_id, step)

    def _keep_plan(self, index: Any, grad: Any, weight: Any, device_id: int, step: Any) -> None:
        try:
            key = tuple(index)
            hash(key)
        except TypeError:
            return
        while len(self._plans) >= _MAX_PLANS:
            self._plans.pop(next(iter(self._plans)))
        self._plans[key] = _CallPlan(
            self.optimizer, self._states, self._version, grad, weight, device_id, step
        )

    def _cached_plan(self, index: Any, grad: Any, weight: Any) -> _CallPlan | None:
        """The cached plan for this call, or None when anything it relies on changed."""
        if not self._plans:
            return None
        try:
            plan = self._plans.get(tuple(index))
        except TypeError:
            return None
        if (
            plan is None
            or plan.optimizer is not self.optimizer
            or plan.states is not self._states
            or plan.states_version != self._version
            or not isinstance(grad, (list, tuple))
            or not isinstance(weight, (list, tuple))
            or not same_objects(grad, plan.grads)
            or not same_objects(weight, plan.weights)
            or not plan.step.valid(self.optimizer)
        ):
            return None
        return plan

    def sync_state_context(self, state: Any, context: Context) -> Any:
        """``state`` (NDArrays, possibly nested in tuples/lists) moved to ``context``."""
        if isinstance(state, NDArray):
            return state.as_in_context(context)
        if isinstance(state, (tuple, list)):
            synced = [self.sync_state_context(s, context) for s in state]
            return tuple(synced) if isinstance(state, tuple) else synced
        return state

    def set_states(self, states: bytes) -> None:
        """Load states written by :meth:`get_states`; with a dumped optimizer, replace it too.

        Everything is read and checked before anything is replaced: after an error the
        updater's states and optimizer are as they were.

        Raises:
            TypeError: ``states`` is not bytes.
            mxlite.base.ParamFileError: pickled states from real MXNet, or damaged bytes (the
                message names the entry).
        """
        self._install_states(*self._decode_states(states))

    def _decode_states(self, states: bytes) -> tuple[dict[Any, Any], Optimizer | None]:
        """The checked ``(states, optimizer or None)`` of ``states``; changes nothing (the
        first half of :meth:`set_states`, for callers that load several updaters at once)."""
        if not isinstance(states, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"Updater.set_states expects the bytes get_states returned, got {type(states).__name__}."
            )
        return _states_format.loads(states, self.optimizer)

    def _install_states(self, loaded: dict[Any, Any], optimizer: Optimizer | None) -> None:
        """Replace the states (and the optimizer, when given) by decoded ones."""
        self.states = loaded
        if optimizer is not None:
            self.optimizer = optimizer
        self.states_synced = dict.fromkeys(loaded.keys(), False)

    def get_states(self, dump_optimizer: bool = False) -> bytes:
        """States as bytes (mxlite's pickle-free format); with ``dump_optimizer`` the optimizer
        (learning rate, schedule, update counts) is included, ``param_dict`` excepted."""
        return _states_format.dumps(self._states, self.optimizer if dump_optimizer else None)


_MAX_PLANS = 4  # index lists whose step plans an Updater keeps


class _CallPlan:
    """What one list call was made with, and the optimizer's step plan for it."""

    __slots__ = (
        "optimizer",
        "states",
        "states_version",
        "grads",
        "weights",
        "device_id",
        "step",
    )

    def __init__(
        self,
        optimizer: Optimizer,
        states: dict[Any, Any],
        states_version: int,
        grads: Any,
        weights: Any,
        device_id: int,
        step: Any,
    ) -> None:
        self.optimizer = optimizer
        self.states = states
        self.states_version = states_version
        self.grads = tuple(grads)  # the caller's objects (before any mx.np conversion)
        self.weights = tuple(weights)
        self.device_id = device_id
        self.step = step


def get_updater(optimizer: Optimizer) -> Updater:
    """An :class:`Updater` for ``optimizer`` (the closure kvstore and Trainer call)."""
    return Updater(optimizer)
