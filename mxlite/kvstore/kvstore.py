"""Key-value stores for single-process data parallelism: ``mx.kv.create('local' | 'device')``.

A store keeps one array per key. ``push`` sums the values pushed for a key (one per device) and
either stores the sum or, once an optimizer is set, applies one update to the stored weight with
that sum as the gradient; ``pull`` copies the stored array into every output. 'local' reduces on
the CPU; 'device' reduces on a GPU of the pushed arrays when there is one (keys are spread over
the GPUs by size, as MXNet's device communicator does), so GPU gradients never cross to the host.

Sums run in the order the values were given, so results are deterministic. Unlike MXNet, bad
input is refused before anything is stored: a failing ``init`` leaves the store as it was.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from mxlite import backend
from mxlite._epoch import Versioned
from mxlite.base import CheckError, MXNetError
from mxlite.context import Context, cpu
from mxlite.kvstore import _sparse
from mxlite.kvstore._plan import PushPullPlan, plannable
from mxlite.kvstore.base import KVStoreBase, flatten_pairs, group_pairs, key_kind, sum_arrays
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer.updater import Updater

__all__ = ["KVStore", "create"]

_MSG_NOT_INITED = (
    "key {key!r} has not been inited. Did you init? Call kv.init({key!r}, value) (or "
    "kv.broadcast) before push/pull."
)
_MSG_DUPLICATE_INIT = (
    "duplicate init of key {key!r}. Please double check if you called kv.init or kv.broadcast "
    "with this key multiple times"
)
_MSG_MIXED_KEYS = (
    "Mixed key types are not allowed: this store uses {have} keys, but got key {key!r}. Use "
    "either int or str keys throughout one store."
)
_MSG_NO_UPDATER = (
    "Cannot {what} optimizer states: no optimizer was set on this kvstore. Call "
    "kv.set_optimizer(optimizer) first."
)
_MSG_NO_COMPRESSION = (
    "Gradient compression is not supported for this type of kvstore ({type!r}); it applies to "
    "'device' and distributed stores. Use kvstore='device' or drop compression_params."
)
# MXNet's native store: Comm on the devices when the type names them, else on the CPU.


def _same_device(a: Any, b: Any) -> bool:
    """Whether raw arrays ``a`` and ``b`` live on the same device (host, or one GPU)."""
    if backend.is_gpu_array(a) != backend.is_gpu_array(b):
        return False
    return not backend.is_gpu_array(a) or a.device.id == b.device.id


def _copy_into(dst: NDArray, src: Any, what: str) -> None:
    if tuple(dst.shape) != tuple(src.shape):
        raise MXNetError(
            f"{what}: cannot copy a stored value of shape {tuple(src.shape)} into an output of "
            f"shape {tuple(dst.shape)}; pull into arrays shaped like the value given to init."
        )
    backend.copy_into(dst._data, src)


class KVStore(KVStoreBase, Versioned):
    """A single-process store (``'local'``, ``'device'``, ...): one array per key.

    Args:
        kv_type: the type string; one containing 'device' or 'nccl' reduces on the GPUs of the
            pushed arrays, any other on the CPU.
    """

    def __init__(self, kv_type: str = "local") -> None:
        self._type = kv_type
        self._on_device = "device" in kv_type or "nccl" in kv_type
        self._store: dict[Any, NDArray] = {}
        self._key_type: builtins.type | None = None
        self._merge_ctx: dict[Any, Context] = {}
        self._merge_load: dict[Context, int] = {}
        self._updater: Any = None
        self._threshold: float | None = None
        self._residuals: dict[tuple[Any, int], Any] = {}
        # _version (Versioned): touched by everything that changes what is stored or how
        # (PushPullPlan validity).
        self._plan: PushPullPlan | None = None
        self._rsp_keys: set[Any] = set()  # keys holding a row_sparse weight (see _sparse)
        self._rsp_views: dict[Any, Any] = {}  # their row_sparse views for the updater

    # ------------------------------------------------------------------ properties
    @property
    def type(self) -> str:
        """The store's type string (lower case)."""
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
        """Whether the store supports ``capability``; 'optimizer' is supported.

        Raises:
            ValueError: an unknown capability.
        """
        if capability.lower() == KVStoreBase.OPTIMIZER:
            return True
        raise ValueError(f"Unknown capability: {capability}")

    # ------------------------------------------------------------------ helpers
    def _check_key_types(self, keys: Any) -> None:
        for key in keys:
            kind = key_kind(key)
            if self._key_type is not None and kind is not self._key_type:
                raise MXNetError(_MSG_MIXED_KEYS.format(have=self._key_type.__name__, key=key))

    def _outputs(self, key: Any, out: Any, what: str) -> dict[Any, list[NDArray]]:
        """The outputs of a pull-like call grouped by key, once every key is known to hold a
        value (nothing is written before the checks pass)."""
        grouped = group_pairs(flatten_pairs(key, out, what))
        self._check_key_types(grouped)
        for k in grouped:
            self._stored(k)
        return grouped

    def _stored(self, key: Any) -> NDArray:
        stored = self._store.get(key)
        if stored is None:
            raise MXNetError(_MSG_NOT_INITED.format(key=key))
        return stored

    def _merge_context(self, key: Any, values: list[NDArray]) -> Context:
        """Where the values of ``key`` are summed: CPU for CPU stores or CPU values; for device
        stores the GPU (among the values' GPUs) with the fewest bytes assigned, fixed per key."""
        gpus = [v.context for v in values if v.context.is_gpu]
        if not self._on_device or not gpus:
            return cpu(0)
        ctx = self._merge_ctx.get(key)
        if ctx is None or ctx not in gpus:
            ctx = min(dict.fromkeys(gpus), key=lambda c: self._merge_load.get(c, 0))
            self._merge_ctx[key] = ctx
            nbytes = int(values[0]._data.nbytes)
            self._merge_load[ctx] = self._merge_load.get(ctx, 0) + nbytes
        return ctx

    def _quantize(self, key: Any, index: int, value: NDArray) -> Any:
        """2-bit compression of one pushed value: residual += value; emit +-threshold where the
        residual reaches it (0 elsewhere) and keep the rest as the new residual."""
        raw = value._data
        if raw.dtype != np.float32:
            raise MXNetError(
                f"2bit gradient compression supports float32 gradients only; key {key!r} got "
                f"{raw.dtype}."
            )
        xp = backend.xp_of(raw)
        residual = self._residuals.get((key, index))
        with backend.device_guard(value.context):
            if residual is None or residual.shape != raw.shape or not _same_device(residual, raw):
                residual = xp.zeros_like(raw)
            residual += raw
            thr = np.float32(self._threshold)
            zero = np.float32(0)
            quant = xp.where(residual >= thr, thr, xp.where(residual <= -thr, -thr, zero))
            quant = quant.astype(np.float32)
            residual -= quant
        self._residuals[(key, index)] = residual
        return quant

    def _reduce(self, key: Any, values: list[NDArray]) -> NDArray:
        ctx = self._merge_context(key, values)
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) > 1:
            raise MXNetError(
                f"push: the values pushed for key {key!r} have different shapes {sorted(shapes)}; "
                "every device must push an array of the same shape."
            )
        if any(map(_sparse.is_sparse, values)):
            return _sparse.merge(values, ctx)  # type: ignore[no-any-return]
        if self._threshold is not None:
            quants = [NDArray(self._quantize(key, i, v), v.context) for i, v in enumerate(values)]
            return NDArray(sum_arrays(quants, ctx), ctx)
        return NDArray(sum_arrays(values, ctx), ctx)

    # ------------------------------------------------------------------ core operations
    def init(self, key: Any, value: Any) -> None:
        """Store the initial value of each key (a copy, on the CPU).

        Raises:
            MXNetError: a key was initialized before (nothing is stored then), or int and str keys
                are mixed.
            CheckError: malformed keys or values.
        """
        pairs = flatten_pairs(key, value, "init")
        keys = [k for k, _ in pairs]
        self._check_key_types(keys)
        seen: set[Any] = set()
        for k in keys:
            if k in self._store or k in seen:
                raise MXNetError(_MSG_DUPLICATE_INIT.format(key=k))
            seen.add(k)
        for k, val in pairs:
            if val.stype == "row_sparse":  # a row_sparse weight, kept dense (see _sparse)
                self._rsp_keys.add(k)
                val = NDArray(val._data, val.context)
            self._store[k] = val.copyto(cpu(0))
        if pairs:
            self._key_type = key_kind(pairs[0][0])
        self._touch()

    def push(self, key: Any, value: Any, priority: int = 0) -> None:
        """Sum the values of each key; store the sum, or update the stored weight with it.

        Raises:
            MXNetError: a key was not initialized, mixed key types, or shapes differ.
            CheckError: malformed keys or values.
        """
        grouped = group_pairs(flatten_pairs(key, value, "push"))
        self._check_key_types(grouped)
        for k in grouped:
            self._stored(k)
        self._touch()
        merged = {k: self._reduce(k, vals) for k, vals in grouped.items()}
        if self._updater is None:
            self._store.update(merged)
            return
        for k, grad in merged.items():
            stored = self._store[k]
            if tuple(stored.shape) != tuple(grad.shape):
                raise MXNetError(
                    f"push: key {k!r} holds a weight of shape {tuple(stored.shape)} but the "
                    f"pushed gradient has shape {tuple(grad.shape)}."
                )
        self._apply_updater(merged)

    def _apply_updater(self, merged: dict[Any, NDArray]) -> None:
        """Update each stored weight with its merged gradient. MXNet calls the updater once per
        key; an :class:`~mxlite.optimizer.Updater` gets all keys whose weights share a device
        in one call (its multi-tensor path, bitwise equal to per-key calls)."""
        groups: dict[Context, list[Any]] = {}
        for k, grad in merged.items():
            stored = self._store[k]
            if grad.context.is_gpu and stored.context != grad.context:
                stored = stored.copyto(grad.context)
                self._store[k] = stored
            groups.setdefault(stored.context, []).append(k)
        weight = self._updater_weight
        if not isinstance(self._updater, Updater):
            for k, grad in merged.items():
                self._updater(k, grad, weight(k))
            return
        for keys in groups.values():
            if len(keys) == 1:
                self._updater(keys[0], merged[keys[0]], weight(keys[0]))
            else:
                self._updater(keys, [merged[k] for k in keys], [weight(k) for k in keys])

    def _updater_weight(self, key: Any) -> NDArray:
        """The stored weight as the updater sees it: a row_sparse weight as a RowSparseNDArray
        view of every row (MXNet hands the updater the row_sparse weight)."""
        stored = self._store[key]
        if key not in self._rsp_keys:
            return stored
        view = self._rsp_views[key] = _sparse.weight_view(stored, self._rsp_views.get(key))
        return view  # type: ignore[no-any-return]

    def pull(
        self, key: Any, out: Any = None, priority: int = 0, ignore_sparse: bool = True
    ) -> None:
        """Copy each key's stored array into every array of ``out`` (casting to its dtype);
        row_sparse outputs are skipped unless ``ignore_sparse=False`` (as MXNet).

        Raises:
            CheckError: ``out`` is None or malformed.
            MXNetError: a key was not initialized, mixed key types, or shapes differ.
        """
        if out is None:
            raise CheckError("pull needs out=: the array(s) to copy the stored value into")
        grouped = self._outputs(key, out, "pull")
        for k, outs in grouped.items():
            stored = self._store[k]
            for dst in outs:
                if dst.stype != "default" or stored.stype != "default":
                    if dst.stype == "default" or not ignore_sparse:
                        _sparse.copy_out(stored, dst)
                    continue
                _copy_into(dst, stored._data, f"pull of key {k!r}")

    def pushpull(self, key: Any, value: Any, out: Any = None, priority: int = 0) -> None:
        """``push`` then ``pull``; with ``out=None`` the result goes back into ``value``.

        Without an optimizer this is an all-reduce: every array ends up holding the sum. A list
        call repeated with the same keys and arrays (a Trainer's step) reuses a
        :class:`~mxlite.kvstore._plan.PushPullPlan`: same sums and updates, no per-key Python.
        """
        plan = self._plan
        if plan is not None and self._threshold is None and plan.matches(self, key, value, out):
            plan.run(self)
            return
        self._plan = None
        if out is not None:
            flatten_pairs(key, out, "pushpull")
        self.push(key, value, priority)
        self.pull(key, out if out is not None else value, priority)
        sparse = any(_sparse.is_sparse(v) for _, v in flatten_pairs(key, value, "pushpull"))
        if self._threshold is None and not sparse and plannable(key, value, out):
            self._plan = PushPullPlan(self, key, value, out)

    def broadcast(self, key: Any, value: Any, out: Any, priority: int = 0) -> None:
        """``init`` the key with ``value``, then ``pull`` it into ``out``."""
        flatten_pairs(key, out, "broadcast")
        self.init(key, value)
        self.pull(key, out, priority)

    def row_sparse_pull(
        self, key: Any, out: Any = None, priority: int = 0, row_ids: Any = None
    ) -> None:
        """Copy the rows ``row_ids`` of each key's row_sparse value into the RowSparseNDArrays
        of ``out`` (``row_ids``: one NDArray, or one per output; repeats are dropped).

        Raises:
            CheckError: ``out`` or ``row_ids`` is None, or malformed.
            MXNetError: a key was not initialized or holds a dense value, an output is dense, or
                a row id is out of range (nothing is written then).
        """
        if out is None:
            raise CheckError("row_sparse_pull needs out=: the RowSparseNDArrays to fill")
        if row_ids is None:
            raise CheckError("row_sparse_pull needs row_ids=: the rows to pull")
        grouped = self._outputs(key, out, "row_sparse_pull")
        if isinstance(key, (list, tuple)) and not isinstance(row_ids, (list, tuple)):
            row_ids = [row_ids] * len(key)
        if isinstance(key, (list, tuple)):
            per_key = dict(zip(key, row_ids))
        else:
            per_key = {key: row_ids}
        for k, outs in grouped.items():
            _sparse.pull_rows(k, self._store[k], k in self._rsp_keys, outs, per_key[k])

    def set_gradient_compression(self, compression_params: dict[str, Any]) -> None:
        """Compress pushed gradients: ``{'type': '2bit', 'threshold': 0.5}``.

        Each pushed value is added to a residual kept per (key, device); the store receives
        ``+threshold`` where the residual is >= threshold, ``-threshold`` where it is <=
        -threshold and 0 elsewhere, and that amount is taken off the residual.

        Raises:
            CheckError: ``compression_params`` is not a dict.
            MXNetError: the store type does not support compression, or bad parameters.
        """
        if not isinstance(compression_params, dict):
            raise CheckError(f"unexpected type for param_dict: {type(compression_params)}")
        if "device" not in self._type and "dist" not in self._type:
            raise MXNetError(_MSG_NO_COMPRESSION.format(type=self._type))
        if "type" not in compression_params:
            raise MXNetError("Required parameter type of string is not presented")
        kind = str(compression_params["type"])
        if kind != "2bit":
            raise MXNetError(f"Unknown type for gradient compression {kind}")
        raw = compression_params.get("threshold", 0.5)
        try:
            threshold = float(str(raw))
        except ValueError:
            raise MXNetError(
                f"Invalid Parameter format for threshold expect float but value='{raw}'"
            ) from None
        if not threshold > 0:
            raise MXNetError(f"threshold must be greater than 0, got {threshold}")
        self._threshold = threshold
        self._residuals = {}
        self._touch()

    # ------------------------------------------------------------------ optimizer
    def set_optimizer(self, optimizer: Any) -> None:
        """Run ``optimizer`` on push: the stored value is the weight, pushes bring gradients."""
        from mxlite import optimizer as opt

        self._set_updater(opt.get_updater(optimizer))

    def _set_updater(self, updater: Callable[[Any, NDArray, NDArray], None]) -> None:
        """Call ``updater(key, merged_gradient, stored_weight)`` on every push."""
        self._updater = updater
        self._touch()

    def _barrier(self) -> None:
        """Synchronize workers: nothing to do in a single process."""

    def save_optimizer_states(self, fname: str, dump_optimizer: bool = False) -> None:
        """Write the updater's states to ``fname`` (atomically).

        Raises:
            CheckError: no optimizer was set.
        """
        if self._updater is None:
            raise CheckError(_MSG_NO_UPDATER.format(what="save"))
        from mxlite._formats.atomic_file import atomic_write

        states = self._updater.get_states(dump_optimizer)
        with atomic_write(fname) as f:
            f.write(states)

    def load_optimizer_states(self, fname: str) -> None:
        """Load states written by :meth:`save_optimizer_states`.

        Raises:
            CheckError: no optimizer was set.
            OSError: ``fname`` cannot be read.
        """
        if self._updater is None:
            raise CheckError(_MSG_NO_UPDATER.format(what="load"))
        with open(fname, "rb") as f:
            self._updater.set_states(f.read())
        self._touch()


def create(name: str = "local") -> KVStoreBase:
    """Create a store by type name (case-insensitive).

    Registered classes (:meth:`KVStoreBase.register`, e.g. 'teststore') come first; a name
    containing 'dist' gives a :class:`~mxlite.kvstore.dist.DistKVStore` ('dist_sync',
    'dist_device_sync', ...: the processes of an MPI job); any other name gives a
    single-process :class:`KVStore` that reduces on the GPUs when the name contains 'device' or
    'nccl' ('local', 'device', 'local_allreduce_cpu', ...), as MXNet's native store.

    Raises:
        TypeError: ``name`` is not a string.
        MXNetError: 'dist_async' (not supported), or a distributed type without mpi4py (the
            message says what to install).
    """
    if not isinstance(name, str):
        raise TypeError("name must be a string")
    name = name.lower()
    klass = KVStoreBase.kv_registry.get(name)
    if klass is not None:
        return klass()  # type: ignore[no-any-return]
    if "dist" in name:
        from mxlite.kvstore.dist import create_dist  # imports mpi4py, on first use only

        return create_dist(name)
    return KVStore(name)
