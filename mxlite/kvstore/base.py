"""The key-value store interface (``KVStoreBase``), its registry, ``TestStore``, and the
key/value forms every store accepts (one key with one array or a list of per-device arrays, or
a list of keys with a matching list of values; keys are int or str)."""

from __future__ import annotations

import builtins
import warnings
from typing import Any

from mxlite import backend
from mxlite.base import CheckError
from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray

__all__ = ["KVStoreBase", "TestStore", "key_kind", "flatten_pairs", "group_pairs", "sum_arrays"]


def key_kind(key: Any) -> type:
    if isinstance(key, str):
        return str
    if isinstance(key, int):
        return int
    raise CheckError(f"unexpected type for keys: {type(key)}; keys must be int or str")


def flatten_pairs(keys: Any, vals: Any, what: str) -> list[tuple[Any, NDArray]]:
    """MXNet's key/value forms as flat (key, array) pairs: one key with one array or a list of
    arrays (one per device, the key repeated), or a list of keys with a matching list of values.

    Raises:
        CheckError: a key is neither int nor str, key kinds differ within the list, the numbers of
            keys and values differ, or a value is not an NDArray.
    """
    if isinstance(keys, (tuple, list)):
        if not isinstance(vals, (tuple, list)) or len(keys) != len(vals):
            got = f"{len(vals)} values" if isinstance(vals, (tuple, list)) else "a single value"
            raise CheckError(
                f"{what}: {len(keys)} keys but {got} were given; pass one value (or one list of "
                "per-device values) per key."
            )
        pairs: list[tuple[Any, NDArray]] = []
        kind = None
        for key, val in zip(keys, vals, strict=True):
            if kind is not None and key_kind(key) is not kind:
                raise CheckError("inconsistent types of keys detected.")
            kind = key_kind(key)
            pairs.extend(flatten_pairs(key, val, what))
        return pairs
    key_kind(keys)
    items = [vals] if isinstance(vals, NDArray) else vals
    if not isinstance(items, (tuple, list)):
        raise CheckError(
            f"{what}: the value of key {keys!r} must be an NDArray or a list of NDArrays, got "
            f"{type(vals).__name__}"
        )
    for item in items:
        if not isinstance(item, NDArray):
            raise CheckError(
                f"{what}: the values of key {keys!r} must be NDArrays, got {type(item).__name__}"
            )
    return [(keys, item) for item in items]


def group_pairs(pairs: list[tuple[Any, NDArray]]) -> dict[Any, list[NDArray]]:
    """Pairs grouped by key, keys in first-seen order, values in the order given."""
    grouped: dict[Any, list[NDArray]] = {}
    for key, val in pairs:
        grouped.setdefault(key, []).append(val)
    return grouped


def sum_arrays(arrays: list[NDArray], ctx: Context) -> Any:
    """Sum NDArrays of several devices on ``ctx`` in the order given; a fresh raw array there."""
    with backend.device_guard(ctx):
        total = backend.to_ctx(arrays[0]._data, ctx, copy=True)
        for arr in arrays[1:]:
            total += backend.to_ctx(arr._data, ctx)
    return total


class KVStoreBase:
    """The interface of a key-value store for data-parallel training, and the store registry.

    Subclasses registered with :meth:`register` are created by name with :func:`create`.
    """

    OPTIMIZER = "optimizer"
    kv_registry: dict[str, builtins.type] = {}

    def broadcast(self, key: Any, value: Any, out: Any, priority: int = 0) -> None:
        """Initialize ``key`` with ``value`` and copy it into every array of ``out``."""
        raise NotImplementedError()

    def pushpull(self, key: Any, value: Any, out: Any = None, priority: int = 0) -> None:
        """Sum ``value`` over devices and write the result to ``out`` (or back to ``value``)."""
        raise NotImplementedError()

    def set_optimizer(self, optimizer: Any) -> None:
        """Apply ``optimizer`` on push (the stored value is then the weight)."""
        raise NotImplementedError()

    def is_capable(self, capability: str) -> bool:
        """Whether the store supports ``capability`` (``KVStoreBase.OPTIMIZER``)."""
        raise NotImplementedError()

    def save_optimizer_states(self, fname: str, dump_optimizer: bool = False) -> None:
        """Save the optimizer states to ``fname``."""
        raise NotImplementedError()

    def load_optimizer_states(self, fname: str) -> None:
        """Load optimizer states from ``fname``."""
        raise NotImplementedError()

    @property
    def type(self) -> str:
        """The store's type string."""
        raise NotImplementedError()

    @property
    def rank(self) -> int:
        """This worker's rank."""
        raise NotImplementedError()

    @property
    def num_workers(self) -> int:
        """The number of workers."""
        raise NotImplementedError()

    @staticmethod
    def register(klass: builtins.type) -> builtins.type:
        """Register a store class under its lower-cased class name (usable as a decorator).

        Raises:
            CheckError: ``klass`` is not a class.
        """
        if not isinstance(klass, type):
            raise CheckError(f"KVStoreBase.register expects a class, got {type(klass).__name__}")
        name = klass.__name__.lower()
        previous = KVStoreBase.kv_registry.get(name)
        if previous is not None:
            warnings.warn(
                f"WARNING: New kvstore {klass.__module__}.{klass.__name__} is overriding existing "
                f"kvstore {previous.__module__}.{previous.__name__}",
                stacklevel=2,
            )
        KVStoreBase.kv_registry[name] = klass
        return klass


@KVStoreBase.register
class TestStore(KVStoreBase):
    """A store for tests: ``pushpull`` sums on the first value's context; no optimizer."""

    __test__ = False  # not a pytest test class

    def broadcast(self, key: Any, value: Any, out: Any, priority: int = 0) -> None:
        """Copy ``value`` into every array of ``out``."""
        for dst in out if isinstance(out, list) else [out]:
            dst[:] = value

    def pushpull(self, key: Any, value: Any, out: Any = None, priority: int = 0) -> None:
        """Sum the list ``value`` into ``out`` (or into every array of ``value``)."""
        if isinstance(value, NDArray):
            if out is not None:
                for dst in out if isinstance(out, list) else [out]:
                    dst[:] = value
            return
        ctx = value[0].context
        reduced = NDArray(sum_arrays(list(value), ctx), ctx)
        for dst in value if out is None else (out if isinstance(out, list) else [out]):
            dst[:] = reduced

    @staticmethod
    def is_capable(capability: str) -> bool:  # type: ignore[override]
        """Only 'optimizer' is known, and this store does not support it.

        Raises:
            ValueError: an unknown capability.
        """
        if capability.lower() == KVStoreBase.OPTIMIZER:
            return False
        raise ValueError(f"Unknown capability: {capability}")

    @property
    def type(self) -> str:
        """``'teststore'``."""
        return "teststore"

    @property
    def rank(self) -> int:
        """Always 0."""
        return 0

    @property
    def num_workers(self) -> int:
        """Always 1."""
        return 1
