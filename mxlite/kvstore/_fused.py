"""Fused, ordered sums of many keys over every context of every worker.

Every worker holds, for each key, one value per context (``C_r`` contexts on worker ``r``). The
sum of a key is taken element by element in one fixed order, by rank and then by context::

    total = v[0][0] + v[0][1] + ... + v[0][C_0 - 1] + v[1][0] + ... + v[W-1][C_{W-1} - 1]

(each ``+`` rounded as one IEEE addition, left to right), which is also the order in which the
single-process 'device' store sums the values of one process's contexts. So the result does not
depend on how the same values are spread over processes: 2 workers x 2 contexts, 1 x 4 and
4 x 1 give the same bits.

No MPI or NCCL reduction is used (their order depends on the algorithm and the number of
workers). Instead, per (dtype, transport) group of keys:

1. the keys' elements are laid out one after another and cut into buckets of at most
   ``MXLITE_DIST_BUCKET_MB`` MiB (a larger key is a bucket of its own); a bucket of ``T``
   elements is split into ``W`` shards of ``chunk = ceil(T / W)`` elements (rounded up to 16);
2. each worker copies its contexts' values of the other workers' shards into a send buffer laid
   out ``[shard][context]``, and one ``Alltoallv`` gives worker ``j`` shard ``j`` of every
   context of every other worker, in rank order (a reduce-scatter whose order mxlite controls);
3. worker ``j`` sums, in (rank, context) order, those rows and its own values of shard ``j``
   (read where they are: never packed nor sent to itself) into shard ``j`` of the result buffer;
4. one in-place ``Allgather`` gives every worker the whole result.

That is two collectives per bucket, moving ``(C + 1) * T * (W - 1) / W`` elements in and out of
each worker, the volume of a ring all-reduce when ``C = 1``, plus one local copy of the values
that leave the worker. Host groups go through MPI
(:class:`mxlite.kvstore._mpi.World`), GPU groups through NCCL on the device
(:class:`mxlite.kvstore._nccl.NcclTransport`); both move raw bytes. With one worker, host groups
sum the values straight into the result (no copies, as the 'device' store).

The result buffer, the views of each key in it and the staging buffers live as long as the
:class:`FusedGroup`, so a repeated call (a Trainer's step) allocates nothing.

Buckets run one after another. On the host nothing would be gained by overlapping them: MPICH
moves data only inside MPI calls (no progress thread), and the packing competes for the same
cores. On a GPU every step is queued on the device's stream without waiting; overlapping the
packing of one bucket with the transfer of the previous one (a second stream) is left until it
can be measured on a multi-GPU host.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError
from mxlite.context import Context

__all__ = ["FusedGroup", "bucket_bytes", "ENV_BUCKET_MB", "DEFAULT_BUCKET_MB"]

ENV_BUCKET_MB = "MXLITE_DIST_BUCKET_MB"
DEFAULT_BUCKET_MB = 64.0
_ALIGN = 16  # shard lengths are multiples of this many elements

_MSG_BAD_BUCKET = (
    "{env}={value!r} is not a positive number of MiB; set it to the size of one fused "
    "collective (default {default:g})."
)


def bucket_bytes() -> int:
    """The bucket size from ``MXLITE_DIST_BUCKET_MB``, in bytes.

    Raises:
        MXNetError: the variable is not a positive number.
    """
    raw = os.environ.get(ENV_BUCKET_MB, "").strip()
    if not raw:
        return int(DEFAULT_BUCKET_MB * 2**20)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise MXNetError(
            _MSG_BAD_BUCKET.format(env=ENV_BUCKET_MB, value=raw, default=DEFAULT_BUCKET_MB)
        )
    return max(int(value * 2**20), 1)


def _ceil_to(n: int, k: int) -> int:
    return -(-n // k) * k


def _same_device(raw: Any, ctx: Context) -> bool:
    if ctx.device_typeid == 2:
        return backend.is_gpu_array(raw) and int(raw.device.id) == ctx.device_id
    return not backend.is_gpu_array(raw)


class _Bucket:
    """Consecutive keys of a group: where their shards go and where the sum lands (views into
    the group's buffers, made once)."""

    __slots__ = (
        "start", "chunk", "pieces", "send", "send_counts", "recv", "recv_counts", "order",
        "region", "shard", "what_exchange", "what_gather",
    )  # fmt: skip

    def __init__(self, start: int, chunk: int) -> None:
        self.start = start  # offset of the bucket's region (size * chunk elements) in the result
        self.chunk = chunk
        self.pieces: list[tuple[Any, Any, bool]] = []  # (send slice, value slice, same device)
        self.send: Any = None  # values for the other workers, [their rank][context][chunk]
        self.send_counts: list[int] = []
        self.recv: Any = None  # the other workers' values of this worker's shard
        self.recv_counts: list[int] = []
        # The terms of the sum, in (rank, context) order: ("row", a row of recv) or
        # ("own", [(position in the shard, value slice, same device), ...]) for a context here.
        self.order: list[tuple[str, Any]] = []
        self.region: Any = None  # the bucket's part of the result: every shard
        self.shard: Any = None  # this worker's shard of it
        self.what_exchange = ""
        self.what_gather = ""


class FusedGroup:
    """The ordered sum of a group of keys that share a dtype and a transport.

    Args:
        keys: the keys, in the order every worker gives them.
        values: per key, this worker's values (raw contiguous arrays, context order), all of
            ``dtype`` and of the key's shape.
        counts: per worker, how many values it gives for each key (``C_r``).
        rank: this worker's rank.
        ctx: where the sum is computed and kept (``cpu(0)`` or this worker's NCCL GPU).
        transport: a :class:`~mxlite.kvstore._mpi.World` (host) or
            :class:`~mxlite.kvstore._nccl.NcclTransport` (GPU); None with one worker on the host.
        cap: the bucket size in bytes.
        op: the store operation (for the watchdog's messages).

    Attributes:
        views: per key, its sum: a raw array of the key's shape, a view into the result buffer.
    """

    def __init__(
        self,
        keys: Sequence[Any],
        values: Sequence[Sequence[Any]],
        counts: Sequence[int],
        rank: int,
        ctx: Context,
        transport: Any,
        cap: int,
        op: str,
    ) -> None:
        self.keys = list(keys)
        self.values = [list(vals) for vals in values]
        self.counts = list(counts)
        self.size = len(counts)
        self.rank = rank
        self.ctx = ctx
        self.transport = transport
        first = self.values[0][0]
        self.dtype = first.dtype
        self.xp = backend.get_xp(ctx)
        self.sizes = [int(vals[0].size) for vals in self.values]
        self.shapes = [tuple(vals[0].shape) for vals in self.values]
        self.direct = transport is None
        self._same = [[_same_device(v, ctx) for v in vals] for vals in self.values]
        self.buckets: list[_Bucket] = []
        offsets = self._layout(cap)
        with backend.device_guard(ctx):
            self.result = self.xp.zeros(max(self._total, 1), dtype=self.dtype)
            self.views = [
                self.result[o : o + n].reshape(shape)
                for o, n, shape in zip(offsets, self.sizes, self.shapes)
            ]
            if not self.direct:
                self._make_staging(offsets, op)

    # ------------------------------------------------------------------ layout
    def _layout(self, cap: int) -> list[int]:
        """Cut the keys into buckets; returns each key's offset in the result buffer."""
        item = np.dtype(self.dtype).itemsize
        offsets: list[int] = []
        self._bucket_keys: list[tuple[int, int]] = []
        total = 0
        i = 0
        while i < len(self.keys):
            j, nbytes = i, 0
            while j < len(self.keys) and (j == i or nbytes + self.sizes[j] * item <= cap):
                nbytes += self.sizes[j] * item
                j += 1
            count = sum(self.sizes[i:j])
            chunk = count if self.direct else _ceil_to(-(-count // self.size), _ALIGN)
            bucket = _Bucket(total, chunk)
            pos = total
            for k in range(i, j):
                offsets.append(pos)
                pos += self.sizes[k]
            self.buckets.append(bucket)
            self._bucket_keys.append((i, j))
            total += chunk * (1 if self.direct else self.size)
            i = j
        self._total = total
        return offsets

    def _make_staging(self, offsets: list[int], op: str) -> None:
        """Send/receive buffers for the largest bucket, and each bucket's copy list and terms."""
        mine = self.counts[self.rank]
        others = [r for r in range(self.size) if r != self.rank]
        rows = sum(self.counts[r] for r in others)
        biggest = max((b.chunk for b in self.buckets), default=0)
        self.send = self.xp.zeros(max(len(others) * mine * biggest, 1), dtype=self.dtype)
        self.recv = self.xp.zeros(max(rows * biggest, 1), dtype=self.dtype)
        n_buckets = len(self.buckets)
        for b, (bucket, (i, j)) in enumerate(zip(self.buckets, self._bucket_keys)):
            chunk = bucket.chunk
            bucket.send = self.send[: len(others) * mine * chunk]
            bucket.send_counts = [0 if r == self.rank else mine * chunk for r in range(self.size)]
            bucket.recv = self.recv[: rows * chunk]
            bucket.recv_counts = [
                0 if r == self.rank else c * chunk for r, c in enumerate(self.counts)
            ]
            bucket.region = self.result[bucket.start : bucket.start + self.size * chunk]
            bucket.shard = bucket.region[self.rank * chunk : (self.rank + 1) * chunk]
            send = bucket.send.reshape(len(others), mine, chunk)
            own: list[list[tuple[int, Any, bool]]] = [[] for _ in range(mine)]
            for k in range(i, j):
                local = offsets[k] - bucket.start  # the key's first element within the bucket
                for c, raw in enumerate(self.values[k]):
                    flat = raw.reshape(-1)
                    done = 0
                    while done < self.sizes[k]:
                        shard, pos = divmod(local + done, chunk)
                        n = min(chunk - pos, self.sizes[k] - done)
                        piece, same = flat[done : done + n], self._same[k][c]
                        if shard == self.rank:
                            own[c].append((pos, piece, same))
                        else:
                            dest = send[shard - (shard > self.rank), c, pos : pos + n]
                            bucket.pieces.append((dest, piece, same))
                        done += n
            row = 0
            for r in range(self.size):
                for c in range(self.counts[r]):
                    if r == self.rank:
                        bucket.order.append(("own", own[c]))
                    else:
                        bucket.order.append(("row", bucket.recv[row * chunk : (row + 1) * chunk]))
                        row += 1
            label = f"{op} ({len(self.keys)} keys of {np.dtype(self.dtype).name}"
            label += f", bucket {b + 1}/{n_buckets})" if n_buckets > 1 else ")"
            bucket.what_exchange = f"{label}: exchanging shards"
            bucket.what_gather = f"{label}: gathering the sums"

    # ------------------------------------------------------------------ running
    def _sum_rows(self, rows: Sequence[Any], out: Any) -> None:
        """``out = rows[0] + rows[1] + ...``, left to right."""
        add = self.xp.add
        if len(rows) == 1:
            out[...] = rows[0]
            return
        add(rows[0], rows[1], out=out)
        for row in rows[2:]:
            add(out, row, out=out)

    def run(self) -> None:
        """Sum every key over every context of every worker into :attr:`views`."""
        with backend.device_guard(self.ctx):
            if self.direct:
                self._run_direct()
            else:
                self._run_exchange()

    def _run_direct(self) -> None:
        for view, vals, same in zip(self.views, self.values, self._same):
            if all(same):
                self._sum_rows(vals, view)
            else:
                self._sum_rows(
                    [v if s else backend.to_ctx(v, self.ctx) for v, s in zip(vals, same)], view
                )

    def _run_exchange(self) -> None:
        transport = self.transport
        for bucket in self.buckets:
            if bucket.chunk == 0:
                continue
            for dst, src, same in bucket.pieces:
                if same:
                    dst[...] = src
                else:
                    dst[...] = backend.to_ctx(src, self.ctx)
            transport.alltoallv(
                bucket.send,
                bucket.send_counts,
                bucket.recv,
                bucket.recv_counts,
                bucket.what_exchange,
            )
            self._sum_terms(bucket.order, bucket.shard)
            transport.allgather_inplace(bucket.region, bucket.chunk, bucket.what_gather)
        transport.finish(self.buckets[-1].what_gather if self.buckets else "")

    def _local(self, src: Any, same: bool) -> Any:
        return src if same else backend.to_ctx(src, self.ctx)

    def _sum_terms(self, order: list[tuple[str, Any]], shard: Any) -> None:
        """``shard = term0 + term1 + ...``, left to right; a row covers the shard, a context of
        this worker only the elements of its keys (the rest of the shard is padding)."""
        add = self.xp.add
        kind0, first = order[0]
        if len(order) == 1:
            if kind0 == "row":
                shard[...] = first
            for pos, src, same in first if kind0 == "own" else ():
                shard[pos : pos + src.size] = self._local(src, same)
            return
        kind1, second = order[1]
        if kind0 == "row" and kind1 == "row":
            add(first, second, out=shard)
        elif kind0 == "own" and kind1 == "own":  # two contexts here: the same positions
            for (pos, a, sa), (_, b, sb) in zip(first, second):
                add(self._local(a, sa), self._local(b, sb), out=shard[pos : pos + a.size])
        elif kind0 == "own":
            for pos, a, sa in first:
                n = a.size
                add(self._local(a, sa), second[pos : pos + n], out=shard[pos : pos + n])
        else:
            for pos, b, sb in second:
                n = b.size
                add(first[pos : pos + n], self._local(b, sb), out=shard[pos : pos + n])
        for kind, term in order[2:]:
            if kind == "row":
                add(shard, term, out=shard)
                continue
            for pos, src, same in term:
                dst = shard[pos : pos + src.size]
                add(dst, self._local(src, same), out=dst)
