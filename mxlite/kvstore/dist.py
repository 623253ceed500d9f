"""Distributed stores: ``mx.kv.create('dist_sync' | 'dist_device_sync' | 'dist_sync_device')``.

Workers are the processes of one MPI job (``mpiexec -n 4 python train.py``); each keeps a full
copy of the store. A ``push`` (or ``pushpull``) is collective: the values of every context of
every worker are summed in a fixed order (by rank, then by context; see
:mod:`mxlite.kvstore._fused`), and every worker then stores the same sum, or applies the same
optimizer update with it, so the stored values stay bitwise identical across workers without a
parameter server. ``pull`` is local. ``init`` and ``broadcast`` make rank 0's values win.

Seen from a Gluon script this is MXNet 1.9.1's ``dist_sync``: the gradient a
``Trainer(kvstore='dist_sync')`` applies is the sum over every context of every worker, scaled
by ``rescale_grad / batch_size`` (pass the global batch size to ``step`` for a mean);
``update_on_kvstore`` True and False give the same weights. Differences: the optimizer runs on
every worker rather than on servers, so ``save_optimizer_states`` / ``Trainer.save_states`` work
(MXNet's dist stores refuse them) and learning-rate changes take effect; 'dist_async' is not
provided.

'dist_sync' sums on the host over MPI. The device types ('dist_device_sync',
'dist_sync_device') sum GPU values on this worker's GPU over NCCL, with no host staging; CPU
values go over MPI as with 'dist_sync'.

Every collective checks that the workers agree: ``init`` and the general ``push`` path exchange
the keys, shapes, dtypes and transports (one small allgather), and a difference is raised on
every worker, naming the key and the ranks; an error one worker finds in its own arguments is
raised on every worker too. A Trainer's repeated ``pushpull`` runs a plan that skips the check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from mxlite.base import MXNetError
from mxlite.context import Context, cpu
from mxlite.kvstore._dist_plan import DistPushPullPlan
from mxlite.kvstore._fused import FusedGroup, bucket_bytes
from mxlite.kvstore._mpi import World
from mxlite.kvstore._plan import plannable
from mxlite.kvstore.base import flatten_pairs, group_pairs, sum_arrays
from mxlite.kvstore.kvstore import _MSG_DUPLICATE_INIT, KVStore
from mxlite.ndarray.ndarray import NDArray

__all__ = ["DistKVStore", "create_dist"]

_MSG_ASYNC = (
    "kvstore type {name!r} (an asynchronous parameter server) is not supported by mxlite; use "
    "'dist_sync' (or 'dist_device_sync' for GPUs): every worker then applies the same update "
    "at every step."
)
_MSG_PEER_ERROR = (
    "kvstore {type} {op} failed on {where} ({errors}); every worker raises this error, so that "
    "none waits for the others."
)
_MSG_DISAGREE = (
    "kvstore {type} {op}: the workers disagree on the keys, shapes or dtypes: {details}. Every "
    "worker must {op} the same keys, with values of the same shapes and dtypes on the same kind "
    "of device, in the same order."
)
_HOST, _NCCL = "host", "nccl"
_MAX_REPORTED = 8

# One key of one call as the workers compare it: [key, shape, dtype, number of values, kind].
Signature = list[list[Any]]


def create_dist(name: str) -> KVStore:
    """The store for a distributed type name (lower case, contains 'dist').

    Raises:
        MXNetError: an asynchronous type, or mpi4py is missing (says what to install).
    """
    if "_async" in name:
        raise MXNetError(_MSG_ASYNC.format(name=name))
    return DistKVStore(name)


def _ranks(ranks: list[int]) -> str:
    return f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {ranks}"


def _describe(entry: list[Any]) -> str:
    _, shape, dtype, _, kind = entry
    where = "on GPUs (NCCL)" if kind == _NCCL else "on the host"
    return f"shape {tuple(shape)} {dtype} {where}"


def disagreement(sigs: list[Signature]) -> list[str]:
    """What differs between the workers' signatures (empty when they agree). The number of
    values per key may differ (workers may have different numbers of contexts)."""
    compared = [[(e[0], tuple(e[1]), e[2], e[4]) for e in sig] for sig in sigs]
    if all(c == compared[0] for c in compared[1:]):
        return []
    problems: list[str] = []
    size = len(sigs)
    by_key = [{entry[0]: entry for entry in sig} for sig in sigs]
    all_keys = list(dict.fromkeys(k for sig in sigs for k in (e[0] for e in sig)))
    for key in all_keys:
        have = [r for r in range(size) if key in by_key[r]]
        if len(have) < size:
            missing = [r for r in range(size) if r not in have]
            problems.append(f"key {key!r} is given on {_ranks(have)} but not on {_ranks(missing)}")
            continue
        seen: dict[str, list[int]] = {}
        for r in range(size):
            seen.setdefault(_describe(by_key[r][key]), []).append(r)
        if len(seen) > 1:
            parts = "; ".join(f"{d} on {_ranks(rs)}" for d, rs in seen.items())
            problems.append(f"key {key!r}: {parts}")
    if not problems:
        key_lists = [[entry[0] for entry in sig] for sig in sigs]
        parts = "; ".join(f"rank {r} gives {key_lists[r]}" for r in range(size))
        problems.append(f"the keys come in different orders: {parts}")
    return problems


class DistKVStore(KVStore):
    """A store shared by the workers of an MPI job; see the module docstring.

    Args:
        kv_type: the type string ('dist_sync', 'dist_device_sync', 'dist_sync_device', ...).

    Raises:
        MXNetError: mpi4py is missing, or the job was started by another MPI's mpiexec.
    """

    def __init__(self, kv_type: str = "dist_sync") -> None:
        super().__init__(kv_type)
        self._world = World(kv_type)
        self._bucket_bytes = bucket_bytes()
        self._nccl: Any = None
        self._groups: list[FusedGroup] = []  # of the last general push (a plan takes them over)

    # ------------------------------------------------------------------ properties
    @property
    def rank(self) -> int:
        """This worker's rank, in ``[0, num_workers)``."""
        return self._world.rank

    @property
    def num_workers(self) -> int:
        """The number of workers (processes of the MPI job)."""
        return self._world.size

    @property
    def local_rank(self) -> int:
        """This worker's rank among the workers on its machine (use ``mx.gpu(local_rank)``)."""
        return self._world.local_rank

    @property
    def local_size(self) -> int:
        """The number of workers on this worker's machine."""
        return self._world.local_size

    @property
    def timeout(self) -> float | None:
        """How many seconds a collective may wait for the other workers before this worker
        aborts the job (None: forever). Starts from ``MXLITE_DIST_TIMEOUT`` (default 30); raise
        it around work that one worker does alone while the others wait (an mxlite extension).

        Raises:
            MXNetError: on assignment, a negative or non-numeric value.
        """
        return self._world.timeout

    @timeout.setter
    def timeout(self, seconds: float | None) -> None:
        self._world.set_timeout(seconds)

    def barrier(self) -> None:
        """Wait until every worker arrives (under the collective time limit)."""
        self._world.barrier("kv.barrier()")

    def _barrier(self) -> None:
        """MXNet's name for :meth:`barrier`."""
        self._world.barrier("kv._barrier()")

    # ------------------------------------------------------------------ agreement
    def _agree(self, op: str, build: Callable[[], Signature]) -> list[Signature]:
        """Run this worker's checks (``build``) and compare the signatures of every worker.

        Returns:
            every worker's signature, in rank order.

        Raises:
            the exception ``build`` raised on this worker; MXNetError when it raised on another
            worker, or when the signatures differ (on every worker alike).
        """
        error: BaseException | None = None
        sig: Signature = []
        try:
            sig = build()
        except (MXNetError, TypeError, ValueError) as err:
            error = err
        mine = {"sig": sig, "error": None if error is None else f"{type(error).__name__}: {error}"}
        gathered = self._world.allgather_bytes(json.dumps(mine).encode(), f"{op}: checking keys")
        payloads = [json.loads(raw) for raw in gathered]
        failed = [r for r, p in enumerate(payloads) if p["error"] is not None]
        if error is not None:
            raise error
        if failed:
            errors = "; ".join(
                payloads[r]["error"] if len(failed) == 1 else f"rank {r}: {payloads[r]['error']}"
                for r in failed
            )
            raise MXNetError(
                _MSG_PEER_ERROR.format(type=self._type, op=op, where=_ranks(failed), errors=errors)
            )
        sigs = [p["sig"] for p in payloads]
        problems = disagreement(sigs)
        if problems:
            details = "; ".join(problems[:_MAX_REPORTED])
            if len(problems) > _MAX_REPORTED:
                details += f"; and {len(problems) - _MAX_REPORTED} more"
            raise MXNetError(_MSG_DISAGREE.format(type=self._type, op=op, details=details))
        return sigs

    def _kind(self, values: list[NDArray]) -> str:
        if self._on_device and any(v.context.device_typeid == 2 for v in values):
            return _NCCL
        return _HOST

    @staticmethod
    def _entry(key: Any, values: list[NDArray], kind: str) -> list[Any]:
        raw = values[0]._data
        return [key, list(raw.shape), raw.dtype.name, len(values), kind]

    # ------------------------------------------------------------------ init
    def init(self, key: Any, value: Any, _out: Any = None) -> None:
        """Initialize keys on every worker with rank 0's values (collective).

        Raises:
            MXNetError: a key was initialized before, int and str keys are mixed, or the
                workers disagree on the keys, shapes or dtypes (on every worker).
            CheckError: malformed keys or values.
        """

        def build() -> Signature:
            pairs = flatten_pairs(key, value, "init")
            if _out is not None:
                flatten_pairs(key, _out, "broadcast")
            self._check_key_types([k for k, _ in pairs])
            seen: set[Any] = set()
            for k, _ in pairs:
                if k in self._store or k in seen:
                    raise MXNetError(_MSG_DUPLICATE_INIT.format(key=k))
                seen.add(k)
            return [self._entry(k, [v], _HOST) for k, v in pairs]

        self._agree("init", build)
        super().init(key, value)
        keys = list(dict.fromkeys(k for k, _ in flatten_pairs(key, value, "init")))
        self._broadcast_stored(keys)

    def _broadcast_stored(self, keys: list[Any]) -> None:
        """Overwrite the stored (host) values of ``keys`` with rank 0's: one Bcast per dtype."""
        if self._world.size == 1:
            return
        by_dtype: dict[str, list[Any]] = {}
        for k in keys:
            raw = self._store[k]._data
            by_dtype.setdefault(str(raw.dtype), []).append(raw)
        for dtype, raws in by_dtype.items():
            what = f"init ({len(raws)} keys of {dtype}): broadcasting rank 0's values"
            if len(raws) == 1:
                self._world.bcast(raws[0], what)
                continue
            flat = [r.reshape(-1) for r in raws]
            buffer = np.concatenate(flat)
            self._world.bcast(buffer, what)
            pos = 0
            for f in flat:
                f[...] = buffer[pos : pos + f.size]
                pos += f.size

    def broadcast(self, key: Any, value: Any, out: Any, priority: int = 0) -> None:
        """``init`` the keys with rank 0's ``value``, then ``pull`` them into ``out``."""
        self.init(key, value, _out=out)
        self.pull(key, out, priority)

    # ------------------------------------------------------------------ push
    def push(
        self, key: Any, value: Any, priority: int = 0, _out: Any = None, _op: str = "push"
    ) -> None:
        """Sum each key's values over every context of every worker (collective); store the
        sum, or update the stored weight with it (the same on every worker).

        Raises:
            MXNetError: a key was not initialized, mixed key types, shapes differ, or the
                workers disagree (on every worker).
            CheckError: malformed keys or values.
        """
        grouped: dict[Any, list[NDArray]] = {}

        def build() -> Signature:
            grouped.update(group_pairs(flatten_pairs(key, value, "push")))
            if _out is not None:
                flatten_pairs(key, _out, "pushpull")
            self._check_key_types(grouped)
            for k, vals in grouped.items():
                stored = self._stored(k)
                shapes = {tuple(v.shape) for v in vals}
                if len(shapes) > 1:
                    raise MXNetError(
                        f"push: the values pushed for key {k!r} have different shapes "
                        f"{sorted(shapes)}; every device must push an array of the same shape."
                    )
                if self._updater is not None and tuple(stored.shape) != shapes.pop():
                    raise MXNetError(
                        f"push: key {k!r} holds a weight of shape {tuple(stored.shape)} but the "
                        f"pushed gradient has shape {tuple(vals[0].shape)}."
                    )
            if self._threshold is not None:
                for k, vals in grouped.items():
                    if vals[0]._data.dtype != np.float32:
                        raise MXNetError(
                            "2bit gradient compression supports float32 gradients only; key "
                            f"{k!r} got {vals[0]._data.dtype}."
                        )
                return [self._entry(k, vals[:1], _HOST) for k, vals in grouped.items()]
            return [self._entry(k, vals, self._kind(vals)) for k, vals in grouped.items()]

        sigs = self._agree(_op, build)
        self._version += 1
        if self._threshold is not None:
            grouped = {k: [self._compressed(k, vals)] for k, vals in grouped.items()}
        merged = self._reduce_all(grouped, sigs, _op)
        if _op != "pushpull":
            self._groups = []  # only a pushpull's plan reuses them (and their buffers)
        if self._updater is None:
            self._store.update(merged)
        else:
            self._apply_updater(merged)

    def _compressed(self, key: Any, values: list[NDArray]) -> NDArray:
        """This worker's share of a compressed push: its contexts' sum, 2-bit quantized with a
        residual kept per key (as MXNet's dist stores compress the locally merged gradient)."""
        ctx = values[0].context
        local = NDArray(sum_arrays(values, ctx), ctx)
        return NDArray(self._quantize(key, 0, local), ctx)

    def _transport(self, kind: str, values: list[NDArray]) -> tuple[Any, Context]:
        """The transport and the context the sum of a group is computed on."""
        if kind == _NCCL:
            if self._nccl is None:
                from mxlite.kvstore._nccl import NcclTransport

                gpu = next(v.context for v in values if v.context.device_typeid == 2)
                self._nccl = NcclTransport(self._world, gpu)
            return self._nccl, self._nccl.ctx
        return (self._world if self._world.size > 1 else None), cpu(0)

    def _reduce_all(
        self, grouped: dict[Any, list[NDArray]], sigs: list[Signature], op: str
    ) -> dict[Any, NDArray]:
        """The agreed keys' sums, grouped by (dtype, kind, value counts per worker)."""
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, entry in enumerate(sigs[0]):
            counts = tuple(sig[i][3] for sig in sigs)
            groups.setdefault((entry[2], entry[4], counts), []).append(i)
        keys = list(grouped)
        self._groups = []
        merged: dict[Any, NDArray] = {}
        for (_, kind, counts), members in groups.items():
            gkeys = [keys[i] for i in members]
            values = [grouped[k] for k in gkeys]
            transport, ctx = self._transport(kind, values[0])
            group = FusedGroup(
                gkeys,
                [[v._data for v in vals] for vals in values],
                counts,
                self._world.rank,
                ctx,
                transport,
                self._bucket_bytes,
                op,
            )
            group.run()
            self._groups.append(group)
            for k, vals, view in zip(gkeys, values, group.views):
                merged[k] = type(vals[0])(view, ctx)
        return merged

    # ------------------------------------------------------------------ pushpull
    def pushpull(self, key: Any, value: Any, out: Any = None, priority: int = 0) -> None:
        """``push`` then ``pull`` (collective); with ``out=None`` the result goes back into
        ``value``. A list call repeated with the same keys and arrays (a Trainer's step) runs
        a :class:`~mxlite.kvstore._dist_plan.DistPushPullPlan`: the same sums and updates."""
        plan = self._plan
        if plan is not None and self._threshold is None and plan.matches(self, key, value, out):
            plan.run(self)
            return
        self._plan = None
        try:
            self.push(key, value, priority, _out=out, _op="pushpull")
            self.pull(key, out if out is not None else value, priority)
            if self._threshold is None and plannable(key, value, out) and self._contiguous():
                self._plan = DistPushPullPlan(self, key, value, out, self._groups)
        finally:
            self._groups = []

    def _send_command_to_servers(self, head: int, body: str) -> None:
        """MXNet's server commands have no receiver here.

        Raises:
            MXNetError: always (mxlite's distributed stores have no servers).
        """
        raise MXNetError(
            f"kvstore {self._type}: there are no parameter servers to send command {head} to; "
            "every mxlite worker holds the store itself (use set_optimizer / "
            "set_gradient_compression on the store)."
        )

    def _contiguous(self) -> bool:
        """Whether the last push's values are all C-contiguous (a plan packs from flat views
        of them made once; a strided value would be copied at that moment instead)."""
        return all(
            raw.flags.c_contiguous
            for group in self._groups
            for vals in group.values
            for raw in vals
        )
