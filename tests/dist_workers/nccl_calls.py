"""Worker: the NCCL calls of a 'dist_device_sync' pushpull, on tests/fake_cupy.py.

Run alone or under ``mpiexec -n W``; each process has two fake GPUs and pushes from both. Checks,
against the store's own buffers, that every pushpull of three float32 keys and one float64 key
makes one NCCL group of sends/receives (to and from every other worker) and one in-place allGather
per dtype (fused, not one call per key), with the right pointers, byte counts, peers and the
device's current stream, on the communicator of the first GPU. Prints ``JSON{"rank": r, "failures": [...], ...}``.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from tests import fake_cupy, fake_nccl

fake_cupy.install(devices=2)

import mxlite as mx  # noqa: E402 - after the fake CuPy is installed
from mxlite import nd  # noqa: E402

kv = mx.kv.create("dist_device_sync")
W, RANK = kv.num_workers, kv.rank
ctxs = [mx.gpu(0), mx.gpu(1)]
keys = ["a", "b", "c", "d"]
shapes = {"a": (3, 5), "b": (7,), "c": (2, 2, 2), "d": (6,)}
dtypes = {"a": "float32", "b": "float32", "c": "float32", "d": "float64"}
kv.init(keys, [nd.zeros(shapes[k], dtype=dtypes[k]) for k in keys])
grads = [[nd.ones(shapes[k], ctx=c, dtype=dtypes[k]) * (RANK + 1) for c in ctxs] for k in keys]
failures: list[str] = []


def expect(what: str, got: object, want: object) -> None:
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


kv.pushpull(keys, grads)  # general path: builds the fused groups
fake_nccl.CALLS.clear()
kv.pushpull(keys, [[g * 0 + (RANK + 1) for g in gs] for gs in grads])  # new arrays: general path
fake_nccl.CALLS.clear()
for _ in range(2):
    kv.pushpull(keys, grads)  # the plan
expect("plan", type(kv._plan).__name__, "DistPushPullPlan")
calls = list(fake_nccl.CALLS)
groups = kv._plan.fused
expect("groups", [str(np.dtype(g.dtype)) for g in groups], ["float32", "float64"])
stream = int(fake_cupy.cuda.get_current_stream().ptr)
want: list[dict] = []
for _ in range(2):
    for g in groups:
        item = np.dtype(g.dtype).itemsize
        for bucket in g.buckets:
            chunk = bucket.chunk * item
            peers = [p for p in range(W) if p != RANK]  # a worker's own shard is never sent
            if peers:
                want.append({"op": "groupStart"})
            for n, peer in enumerate(peers):
                want.append(
                    {"op": "send", "rank": RANK, "device": 0, "ptr": g.send.data.ptr + n * 2 * chunk,
                     "count": 2 * chunk, "datatype": fake_nccl.NCCL_UINT8, "peer": peer, "stream": stream}
                )  # fmt: skip
                want.append(
                    {"op": "recv", "rank": RANK, "device": 0, "ptr": g.recv.data.ptr + n * 2 * chunk,
                     "count": 2 * chunk, "datatype": fake_nccl.NCCL_UINT8, "peer": peer, "stream": stream}
                )  # fmt: skip
            if peers:
                want.append({"op": "groupEnd"})
            base = g.result.data.ptr + bucket.start * item
            want.append(
                {"op": "allGather", "rank": RANK, "device": 0, "sendbuf": base + RANK * chunk,
                 "recvbuf": base, "count": chunk, "datatype": fake_nccl.NCCL_UINT8, "stream": stream}
            )  # fmt: skip
expect("number of calls", len(calls), len(want))
for i, (got_call, want_call) in enumerate(zip(calls, want)):
    expect(f"call {i}", got_call, want_call)
# every value was sum(r + 1 over ranks, twice per rank) after the first call, then two plan
# runs each multiplied it by the number of values (2 per rank)
total = 2 * sum(range(1, W + 1)) * (2 * W) ** 2
for k, gs in zip(keys, grads):
    for g in gs:
        expect(f"sum of {k}", g.asnumpy().ravel().tolist(), [float(total)] * g.size)
print("JSON" + json.dumps({"rank": RANK, "calls": len(calls), "failures": failures}), flush=True)
sys.exit(1 if failures else 0)
