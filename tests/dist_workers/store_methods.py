"""Worker: every method of a distributed store against the single-process 'device' store.

Run with ``python store_methods.py KVTYPE [gpu]`` alone (one worker) or under ``mpiexec -n W``.
Worker ``r`` gives values ``value(key, r, c)`` on its contexts ``c``; the reference is a
'device' store in the same process that receives all ``W * C`` values in (rank, context) order,
so every sum, stored value and update must be bitwise equal. With ``gpu`` (on tests/fake_cupy.py
with two fake GPUs, or real ones) the contexts are ``gpu(0), gpu(1)``.

Prints ``JSON{"rank": r, "checks": n, "failures": [...]}``; exits 0 when nothing failed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zlib
from typing import Any

import numpy as np

if len(sys.argv) > 2 and sys.argv[2] == "fake-gpu":
    from tests import fake_cupy

    fake_cupy.install(devices=2)

import mxlite as mx
from mxlite import nd
from mxlite.base import CheckError, MXNetError

KVTYPE = sys.argv[1]
ON_GPU = len(sys.argv) > 2
kv = mx.kv.create(KVTYPE)
W, RANK = kv.num_workers, kv.rank
CTXS = [mx.gpu(0), mx.gpu(1)] if ON_GPU else [mx.cpu(0), mx.cpu(1)]
C = len(CTXS)
checks = 0
failures: list[str] = []


def value(seed: Any, r: int, c: int, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    rng = np.random.RandomState(zlib.crc32(repr((seed, r, c)).encode()))
    return (rng.standard_normal(shape) * 3).astype(dtype)


def mine(seed: Any, shape: tuple[int, ...], dtype: Any = np.float32) -> list[nd.NDArray]:
    return [
        nd.array(value(seed, RANK, c, shape, dtype), ctx=ctx, dtype=dtype)
        for c, ctx in enumerate(CTXS)
    ]


def everyone(seed: Any, shape: tuple[int, ...], dtype: Any = np.float32) -> list[nd.NDArray]:
    return [
        nd.array(value(seed, r, c, shape, dtype), dtype=dtype) for r in range(W) for c in range(C)
    ]


def same(what: str, got: Any, want: Any) -> None:
    global checks
    checks += 1
    g = got.asnumpy() if hasattr(got, "asnumpy") else np.asarray(got)
    w = want.asnumpy() if hasattr(want, "asnumpy") else np.asarray(want)
    if g.dtype != w.dtype or g.shape != w.shape or g.tobytes() != w.tobytes():
        failures.append(f"{what}: got {g.ravel()[:4]} {g.dtype}, want {w.ravel()[:4]} {w.dtype}")


def raises(what: str, exc: type, fragment: str, call: Any) -> None:
    global checks
    checks += 1
    try:
        call()
    except exc as err:
        if fragment not in str(err):
            failures.append(f"{what}: message {str(err)!r} lacks {fragment!r}")
        return
    except Exception as err:  # noqa: BLE001
        failures.append(f"{what}: raised {type(err).__name__}: {err}")
        return
    failures.append(f"{what}: did not raise")


ref = mx.kv.create("device")

# properties
same("rank in range", 0 <= RANK < W, True)
same("num_workers", kv.num_workers, int(os.environ.get("PMI_SIZE", "1")))
same("type", np.array([kv.type == KVTYPE]), np.array([True]))
same("is_capable", kv.is_capable("optimizer"), True)
raises("is_capable bad", ValueError, "Unknown capability", lambda: kv.is_capable("bogus"))

# init (rank 0's value wins) and pull, one key and a list with several dtypes
shapes = {3: (4, 5), 5: (7,), 9: (2, 3, 2)}
dtypes = {3: np.float32, 5: np.float64, 9: np.float16}
for store in (kv, ref):
    w0 = [
        nd.array(
            value(("init", k), 0 if store is ref else RANK, 0, shapes[k], dtypes[k]),
            dtype=dtypes[k],
        )
        for k in shapes
    ]
    store.init(list(shapes), w0)
for k in shapes:
    got, want = nd.zeros(shapes[k], dtype=dtypes[k]), nd.zeros(shapes[k], dtype=dtypes[k])
    kv.pull(k, out=got)
    ref.pull(k, out=want)
    same(f"init+pull {k}", got, want)
raises("duplicate init", MXNetError, "duplicate init of key 3", lambda: kv.init(3, nd.ones((4, 5))))
raises("mixed key types", MXNetError, "Mixed key types", lambda: kv.init("s", nd.ones(2)))
raises("pull uninited", MXNetError, "has not been inited", lambda: kv.pull(77, out=nd.ones(2)))
raises("push uninited", MXNetError, "has not been inited", lambda: kv.push(77, nd.ones(2)))
raises("pull without out", CheckError, "pull needs out", lambda: kv.pull(3))

# push of one key, then of a list of keys with per-device lists; pull into several outputs
kv.push(3, mine("p3", shapes[3]))
ref.push(3, everyone("p3", shapes[3]))
outs = [nd.zeros(shapes[3], ctx=c) for c in CTXS]
kv.pull(3, out=outs)
want = nd.zeros(shapes[3])
ref.pull(3, out=want)
for o in outs:
    same("push one key", o, want)
keys = list(shapes)
kv.push(keys, [mine(("pl", k), shapes[k], dtypes[k]) for k in keys])
ref.push(keys, [everyone(("pl", k), shapes[k], dtypes[k]) for k in keys])
for k in keys:
    got, want = nd.zeros(shapes[k], dtype=dtypes[k]), nd.zeros(shapes[k], dtype=dtypes[k])
    kv.pull(k, out=got)
    ref.pull(k, out=want)
    same(f"push list {k}", got, want)

# pushpull: out=None (all-reduce in place), with out, and repeated (the plan path)
vals = [mine(("pp", k), shapes[k], dtypes[k]) for k in keys]
rvals = [everyone(("pp", k), shapes[k], dtypes[k]) for k in keys]
for step in range(3):
    kv.pushpull(keys, vals)
    ref.pushpull(keys, rvals)
    for k, v, rv in zip(keys, vals, rvals):
        for x in v:
            same(f"pushpull step {step} key {k}", x, rv[0])
same("plan in use", type(kv._plan).__name__ == "DistPushPullPlan", True)
outs = [[nd.zeros(shapes[k], ctx=c, dtype=dtypes[k]) for c in CTXS] for k in keys]
for step in range(2):
    kv.pushpull(keys, [mine(("po", k, step), shapes[k], dtypes[k]) for k in keys], out=outs)
    want_outs = [[nd.zeros(shapes[k], dtype=dtypes[k])] for k in keys]
    ref.pushpull(
        keys, [everyone(("po", k, step), shapes[k], dtypes[k]) for k in keys], out=want_outs
    )
    for k, o, wo in zip(keys, outs, want_outs):
        for x in o:
            same(f"pushpull out step {step} key {k}", x, wo[0])
# strided values (transposed views): no plan, every call reads them afresh
strided = [nd.NDArray(v._data.T, v.context) for v in mine("strided", (3, 4))]
rstrided = [nd.NDArray(v._data.T, v.context) for v in everyone("strided", (3, 4))]
for store in (kv, ref):
    store.init([40, 41], [nd.zeros((4, 3)), nd.zeros((4, 3))])
other = [nd.ones((4, 3), ctx=c) for c in CTXS]
rother = [nd.ones((4, 3)) for _ in range(W * C)]
for step in range(3):
    for v in strided + rstrided:
        v[:] = v + 1
    kv.pushpull([40, 41], [strided, other])
    ref.pushpull([40, 41], [rstrided, rother])
    same(f"strided step {step}", strided[0], rstrided[0])
same("no plan for strided values", kv._plan is None, True)
one = mine("single", shapes[5], dtypes[5])
kv.pushpull(5, one)
rone = everyone("single", shapes[5], dtypes[5])
ref.pushpull(5, rone)
same("pushpull one key", one[1], rone[0])

# broadcast: rank 0's value into every output
bouts = [nd.zeros((3, 3), ctx=c) for c in CTXS]
kv.broadcast(11, nd.array(value("b", RANK, 0, (3, 3))), out=bouts)
rb = nd.zeros((3, 3))
ref.broadcast(11, nd.array(value("b", 0, 0, (3, 3))), out=rb)
for b in bouts:
    same("broadcast", b, rb)

# an optimizer on the store: pushed gradients update the stored weights (Trainer's path)
okeys = [20, 21, 22]
oshapes = {20: (6, 4), 21: (4,), 22: (5, 5)}
for store, r0 in ((kv, RANK), (ref, 0)):
    store.init(okeys, [nd.array(value(("w", k), r0, 0, oshapes[k])) for k in okeys])
    store.set_optimizer(
        mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=0.01, rescale_grad=0.25)
    )
weights = [[nd.zeros(oshapes[k], ctx=c) for c in CTXS] for k in okeys]
rweights = [[nd.zeros(oshapes[k])] for k in okeys]
grads = [mine(("g", k), oshapes[k]) for k in okeys]
rgrads = [everyone(("g", k), oshapes[k]) for k in okeys]
for step in range(3):
    kv.pushpull(okeys, grads, out=weights)
    ref.pushpull(okeys, rgrads, out=rweights)
    for k, w_, rw in zip(okeys, weights, rweights):
        for x in w_:
            same(f"optimizer step {step} key {k}", x, rw[0])

# optimizer states: save (atomic, one file per rank), load into a fresh store, go on
tmp = tempfile.mkdtemp()
path = os.path.join(tmp, f"states.rank{RANK}")
kv.save_optimizer_states(path, dump_optimizer=True)
rpath = os.path.join(tmp, "ref.states")
ref.save_optimizer_states(rpath, dump_optimizer=True)
kv2 = mx.kv.create(KVTYPE)
kv2.init(okeys, [w_[0] for w_ in weights])
kv2.set_optimizer(mx.optimizer.SGD())
kv2.load_optimizer_states(path)
ref.load_optimizer_states(rpath)
for step in range(2):
    kv2.pushpull(okeys, grads, out=weights)
    ref.pushpull(okeys, rgrads, out=rweights)
    for k, w_, rw in zip(okeys, weights, rweights):
        same(f"after load step {step} key {k}", w_[0], rw[0])
kvn = mx.kv.create(KVTYPE)
raises(
    "save without optimizer", CheckError, "no optimizer", lambda: kvn.save_optimizer_states(path)
)

# 2-bit compression: each worker quantizes the sum of its contexts, residual per key
kvc = mx.kv.create(KVTYPE)
kvc.set_gradient_compression({"type": "2bit", "threshold": 0.5})
kvc.init("g", nd.zeros((10,)))
per_rank = [mx.kv.create("device") for _ in range(W)]
for store in per_rank:
    store.set_gradient_compression({"type": "2bit", "threshold": 0.5})
    store.init("g", nd.zeros((10,)))
for step in range(3):
    kvc.push(
        "g",
        [nd.array(value(("c", step), RANK, c, (10,)) * 0.2, ctx=ctx) for c, ctx in enumerate(CTXS)],
    )
    got = nd.zeros((10,))
    kvc.pull("g", out=got)
    total = None
    for r, store in enumerate(per_rank):
        local = nd.array(value(("c", step), r, 0, (10,)) * 0.2) + nd.array(
            value(("c", step), r, 1, (10,)) * 0.2
        )
        store.push("g", local)
        q = nd.zeros((10,))
        store.pull("g", out=q)
        total = q if total is None else total + q
    same(f"compression step {step}", got, total)
raises(
    "compression float16",
    MXNetError,
    "float32 gradients only",
    lambda: (
        kvc.init("h", nd.zeros((2,), dtype="float16")),
        kvc.push("h", nd.zeros((2,), dtype="float16")),
    ),
)

# the rest
raises(
    "row_sparse_pull",
    MXNetError,
    "row_sparse",
    lambda: kv.row_sparse_pull(3, out=nd.zeros((4, 5)), row_ids=nd.array([0])),
)
raises(
    "server command", MXNetError, "no parameter servers", lambda: kv._send_command_to_servers(0, "")
)
kv._barrier()
kv.barrier()
same("barriers", True, True)

print("JSON" + json.dumps({"rank": RANK, "checks": checks, "failures": failures}), flush=True)
sys.exit(1 if failures else 0)
