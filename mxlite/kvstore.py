"""Key-value stores for single-process data parallelism: ``mx.kv.create('local' | 'device')``.

A store keeps one array per key. ``push`` sums the values pushed for a key (one per device) and
either stores the sum or, once an optimizer is set, applies one update to the stored weight with
that sum as the gradient; ``pull`` copies the stored array to every output. 'local' reduces on
the CPU; 'device' reduces on the device of the pushed arrays (the first GPU among them), so GPU
gradients never cross to the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mxlite import backend
from mxlite.base import MXNetError
from mxlite.context import Context, cpu
from mxlite.ndarray.ndarray import NDArray

__all__ = ["KVStore", "KVStoreBase", "create"]

_KNOWN_TYPES = ("local", "device", "local_allreduce_cpu", "local_allreduce_device", "nccl")

_MSG_NOT_INITED = "key {key} has not been inited; call kv.init({key!r}, value) first"
_MSG_DUPLICATE_INIT = (
    "duplicate init of key {key}. Please double check if you called kv.init or kv.broadcast "
    "with this key multiple times"
)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _pairs(key: Any, value: Any) -> list[tuple[Any, list[NDArray]]]:
    """Normalize MXNet's key/value forms: one key with one array or a list of per-device arrays,
    or a list of keys with a matching list of values."""
    if isinstance(key, (list, tuple)):
        values = list(value) if value is not None else [None] * len(key)
        if len(values) != len(key):
            raise ValueError(f"{len(key)} keys but {len(values)} values were given")
        return [(k, _as_list(v)) for k, v in zip(key, values, strict=True)]
    return [(key, _as_list(value))]


def sum_arrays(arrays: Sequence[NDArray], ctx: Context) -> Any:
    """Sum raw arrays of several devices on ``ctx`` (in fixed order, so the result is
    deterministic); returns a raw array on ``ctx``."""
    total = backend.to_ctx(arrays[0]._data, ctx, copy=True)
    for arr in arrays[1:]:
        total += backend.to_ctx(arr._data, ctx)
    return total


class KVStoreBase:
    """Capabilities MXNet's stores advertise."""

    OPTIMIZER = "optimizer"


class KVStore(KVStoreBase):
    """A single-process store ('local' or 'device').

    Args:
        kv_type: 'local' (reduce on the CPU) or 'device' (reduce on the arrays' device).
    """

    def __init__(self, kv_type: str = "local") -> None:
        self._type = kv_type
        self._store: dict[Any, NDArray] = {}
        self._updater: Any = None
        self._compression: dict[str, Any] | None = None

    # ------------------------------------------------------------------ properties
    @property
    def type(self) -> str:
        """The store's type string."""
        return self._type

    @property
    def rank(self) -> int:
        """Rank of this worker (always 0: single process)."""
        return 0

    @property
    def num_workers(self) -> int:
        """Number of workers (always 1: single process)."""
        return 1

    def is_capable(self, capability: str) -> bool:
        """Whether the store supports ``capability`` (only 'optimizer' is known)."""
        if capability.lower() == KVStoreBase.OPTIMIZER:
            return True
        raise ValueError(f"Unknown capability: {capability}")

    # ------------------------------------------------------------------ core operations
    def _reduce_ctx(self, arrays: Sequence[NDArray]) -> Context:
        if self._type in ("device", "local_allreduce_device", "nccl"):
            for arr in arrays:
                if arr.context.device_typeid == 2:
                    return arr.context
        return arrays[0].context if arrays[0].context.device_typeid != 2 else cpu(0)

    def _stored(self, key: Any) -> NDArray:
        stored = self._store.get(key)
        if stored is None:
            raise MXNetError(_MSG_NOT_INITED.format(key=key))
        return stored

    def init(self, key: Any, value: Any) -> None:
        """Store the initial value of each key (the first array when several are given).

        Raises:
            MXNetError: a key was initialized before.
        """
        for k, vals in _pairs(key, value):
            if k in self._store:
                raise MXNetError(_MSG_DUPLICATE_INIT.format(key=k))
            first = vals[0]
            self._store[k] = first.copyto(self._reduce_ctx([first]))

    def push(self, key: Any, value: Any, priority: int = 0) -> None:
        """Sum the values of each key and store the sum, or update the stored weight with it."""
        for k, vals in _pairs(key, value):
            stored = self._stored(k)
            ctx = stored.context
            merged = NDArray(sum_arrays(vals, ctx), ctx)
            if self._updater is not None:
                self._updater(_updater_key(k), merged, stored)
            else:
                stored._data[...] = merged._data

    def pull(
        self, key: Any, out: Any = None, priority: int = 0, ignore_sparse: bool = True
    ) -> None:
        """Copy each key's stored array into every array of ``out``."""
        if out is None:
            raise ValueError("pull needs out= (the arrays to copy the stored value into)")
        for k, outs in _pairs(key, out):
            stored = self._stored(k)
            for dst in outs:
                dst._data[...] = backend.to_ctx(stored._data, dst.context)

    def pushpull(self, key: Any, value: Any, out: Any = None, priority: int = 0) -> None:
        """``push`` then ``pull``; with ``out=None`` the result goes back into ``value``.

        Without an optimizer this is an all-reduce: every array ends up holding the sum.
        """
        self.push(key, value, priority)
        self.pull(key, out if out is not None else value, priority)

    def broadcast(self, key: Any, value: Any, out: Any, priority: int = 0) -> None:
        """``init`` the key with ``value`` then ``pull`` it into ``out``."""
        self.init(key, value)
        self.pull(key, out, priority)

    def row_sparse_pull(
        self, key: Any, out: Any = None, priority: int = 0, row_ids: Any = None
    ) -> None:
        """Sparse pull; mxlite stores arrays densely, so this is not supported."""
        raise NotImplementedError("row_sparse_pull: mxlite has dense storage only; use pull().")

    def set_gradient_compression(self, compression_params: dict[str, Any]) -> None:
        """Gradient compression is for multi-machine stores; single-process stores refuse it."""
        raise MXNetError(
            "Gradient compression is not supported for this type of kvstore "
            f"({self._type}); it only applies to distributed stores."
        )

    # ------------------------------------------------------------------ optimizer
    def set_optimizer(self, optimizer: Any) -> None:
        """Run ``optimizer`` on push: the stored value becomes the weight, pushes its gradient."""
        from mxlite import optimizer as opt

        self._updater = opt.get_updater(optimizer)

    def _set_updater(self, updater: Any) -> None:
        self._updater = updater

    def save_optimizer_states(self, fname: str, dump_optimizer: bool = False) -> None:
        """Write the updater's states to ``fname`` (atomically).

        Raises:
            MXNetError: no optimizer was set.
        """
        if self._updater is None:
            raise MXNetError("Cannot save optimizer states: no optimizer was set on this kvstore")
        from mxlite.ndarray.atomic_file import atomic_write

        with atomic_write(fname) as f:
            f.write(self._updater.get_states(dump_optimizer))

    def load_optimizer_states(self, fname: str) -> None:
        """Load states written by :meth:`save_optimizer_states`."""
        if self._updater is None:
            raise MXNetError("Cannot load optimizer states: no optimizer was set on this kvstore")
        with open(fname, "rb") as f:
            self._updater.set_states(f.read())


def _updater_key(key: Any) -> Any:
    """Updaters index states by int; string keys are kept as they are."""
    return key


def create(name: str = "local") -> KVStore:
    """Create a single-process store: 'local' or 'device'.

    Raises:
        ValueError: an unknown type, or a distributed type (not available in mxlite).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name.startswith("dist") or name == "horovod" or name == "byteps":
        raise ValueError(
            f"kvstore type {name!r} needs a multi-process setup, which mxlite does not provide; "
            "use 'local' or 'device'."
        )
    if name not in _KNOWN_TYPES:
        raise ValueError(f"Unknown kvstore type {name!r}; use one of {list(_KNOWN_TYPES)}.")
    return KVStore(name)
