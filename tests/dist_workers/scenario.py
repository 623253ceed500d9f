"""Worker: one dist_sync scenario written as an MXNet 1.x script, run under MXNet 1.9.1 (ps-lite:
scheduler, server and workers started with DMLC_* variables) or under mxlite (``mpiexec``).

``python scenario.py mxnet|mxlite store|kv``. MXNet's ps-lite starts once per process, so each
run creates one store and the scenario comes in two parts:

* ``store``: rank and size, rank 0 winning ``init``, sums of ``push``/``pushpull`` over every
  context of every worker, and 2-bit compression of each worker's locally merged gradient;
* ``kv``: a Trainer with ``update_on_kvstore=True`` (the optimizer runs on the store), and the
  errors MXNet raises for a changed batch size and a reset of the store.

(MXNet 1.9.1's ps-lite gave workers different weights in 2 of 5 runs of the same Trainer with
``update_on_kvstore=False`` on this machine, so that mode is not compared with it; mxlite's is
checked bitwise against ``update_on_kvstore=True`` in tests/test_kvstore_dist_mpi.py.)

Each worker prints one line ``JSON{...}``.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

if sys.argv[1] == "mxnet":
    import mxnet as mx
    from mxnet import autograd, gluon
else:
    import mxlite as mx
    from mxlite import autograd, gluon

kv = mx.kv.create("dist_sync")
if os.environ.get("DMLC_ROLE", "worker") != "worker":
    sys.exit(0)
rank, size = kv.rank, kv.num_workers
ctxs = [mx.cpu(0), mx.cpu(1)]
out: dict = {"rank": rank, "num_workers": size, "type": kv.type}


def trainer_run(update_on_kvstore: bool) -> tuple[list, dict]:
    rng = np.random.RandomState(5)
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(ctx=[mx.cpu(0)])
    net.weight.set_data(mx.nd.array(rng.uniform(-1, 1, (3, 4))))
    net.bias.set_data(mx.nd.array(rng.uniform(-1, 1, (3,))))
    trainer = gluon.Trainer(
        net.collect_params(),
        "sgd",
        {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01},
        kvstore=kv,
        update_on_kvstore=update_on_kvstore,
    )
    for _ in range(3):
        x = rng.uniform(-1, 1, (4 * size, 4)).astype(np.float32)
        xb = mx.nd.array(x[rank * 4 : (rank + 1) * 4])
        with autograd.record():
            loss = (net(xb) ** 2).sum()
        loss.backward()
        trainer.step(4 * size)
    weights = [net.weight.data().asnumpy().tolist(), net.bias.data().asnumpy().tolist()]
    errors = {}
    try:
        with autograd.record():
            loss = (net(xb) ** 2).sum()
        loss.backward()
        trainer.step(5)
    except Exception as err:  # noqa: BLE001 - the type and message are the result
        errors["batch_change"] = [type(err).__name__, str(err)]
    try:
        trainer._reset_kvstore()
    except Exception as err:  # noqa: BLE001
        errors["reset"] = [type(err).__name__, str(err)]
    return weights, errors


if sys.argv[2] == "kv":
    out["trainer"], out["errors"] = trainer_run(True)
    print("JSON" + json.dumps(out), flush=True)
    sys.exit(0)

# init: rank 0's value wins; push: the sum over every context of every worker replaces it
kv.init(100, mx.nd.ones((2, 3)) * (rank + 1))
o = mx.nd.zeros((2, 3))
kv.pull(100, out=o)
out["init"] = o.asnumpy().tolist()
kv.push(100, [mx.nd.ones((2, 3), ctx=c) * (rank + 1 + 10 * i) for i, c in enumerate(ctxs)])
kv.pull(100, out=o)
out["push"] = o.asnumpy().tolist()
kv.init([101, 102], [mx.nd.zeros((3,)), mx.nd.zeros((2, 2))])
vals = [
    [mx.nd.array(np.arange(3) * (rank + 1) + i, ctx=c) for i, c in enumerate(ctxs)],
    [mx.nd.ones((2, 2), ctx=c) * 0.25 for c in ctxs],
]
kv.pushpull([101, 102], vals)
out["pushpull"] = [vals[0][1].asnumpy().tolist(), vals[1][0].asnumpy().tolist()]
kv._barrier()

# 2-bit compression: each worker quantizes the sum of its contexts (residual per key)
kv.set_gradient_compression({"type": "2bit", "threshold": 0.5})
kv.init(200, mx.nd.zeros((4,)))
got = []
for _ in range(2):
    kv.push(200, [mx.nd.array([0.3, -0.3, 0.6, 0.1], ctx=c) for c in ctxs])
    g = mx.nd.zeros((4,))
    kv.pull(200, out=g)
    got.append(g.asnumpy().tolist())
out["compressed"] = got
print("JSON" + json.dumps(out), flush=True)
