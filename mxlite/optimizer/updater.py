"""``Updater``: the per-context closure that owns optimizer states (MXNet's kvstore updater).

``updater(index, grad, weight)`` takes one index or lists of them; states are created on first
use (:meth:`Optimizer.create_state_multi_precision`) and moved to the weight's context after
:meth:`Updater.set_states`. A list call hands everything to :meth:`Optimizer.update_multi`, which
does what MXNet's Updater does (dtype groups, ``aggregate_num`` chunks) and runs the built-in
multi-tensor paths in one call per dtype group.

``get_states``/``set_states`` use mxlite's pickle-free format (:mod:`._states_format`); states
pickled by real MXNet are refused with :class:`mxlite.base.ParamFileError`.
"""

from __future__ import annotations

from typing import Any

from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer import _states_format
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


class Updater:
    """Applies ``optimizer`` to (index, grad, weight) triples and keeps their states.

    Args:
        optimizer: the optimizer to apply; several Updaters (one per context) may share it.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.states: dict[Any, Any] = {}
        self.states_synced: dict[Any, bool] = {}
        self.aggregate_updates = optimizer.aggregate_num > 0

    def __call__(self, index: Any, grad: Any, weight: Any) -> None:
        """Update ``weight`` from ``grad`` for one index or for lists of them (one context).

        Raises:
            ValueError: ``index``, ``grad`` and ``weight`` lists differ in length.
        """
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
        if weights:
            self.optimizer._set_current_context(weights[0].context.device_id)
        for i, idx in enumerate(indices):
            if isinstance(idx, bytes):
                idx = idx.decode("utf-8")
                indices[i] = idx
            if idx not in self.states:
                self.states[idx] = self.optimizer.create_state_multi_precision(idx, weights[i])
                self.states_synced[idx] = True
            elif not self.states_synced[idx]:
                self.states[idx] = self.sync_state_context(self.states[idx], weights[i].context)
                self.states_synced[idx] = True
        self.optimizer.update_multi(indices, weights, grads, [self.states[idx] for idx in indices])

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

        Raises:
            TypeError: ``states`` is not bytes.
            mxlite.base.ParamFileError: pickled states from real MXNet, or damaged bytes.
        """
        if not isinstance(states, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"Updater.set_states expects the bytes get_states returned, got {type(states).__name__}."
            )
        loaded, optimizer = _states_format.loads(states)
        self.states = loaded
        if optimizer is not None:
            self.optimizer = optimizer
        self.states_synced = dict.fromkeys(self.states.keys(), False)

    def get_states(self, dump_optimizer: bool = False) -> bytes:
        """States as bytes (mxlite's pickle-free format); with ``dump_optimizer`` the optimizer
        (learning rate, schedule, update counts) is included, ``param_dict`` excepted."""
        return _states_format.dumps(self.states, self.optimizer if dump_optimizer else None)


def get_updater(optimizer: Optimizer) -> Updater:
    """An :class:`Updater` for ``optimizer`` (the closure kvstore and Trainer call)."""
    return Updater(optimizer)
