"""Worker: a few Trainer steps of a small MLP on one fixed global batch per step.

Run as ``python train_steps.py --kvstore device --contexts 4`` (one process) or under
``mpiexec -n W`` with a 'dist_*' store. The global batch of every step is cut into
``W * contexts`` equal slices, slice ``rank * contexts + c`` on context ``c`` of worker
``rank``, and ``step`` gets the global batch size: every layout applies the same summed
gradient. Each worker writes its final weights, for ``update_on_kvstore`` True and False, to
``<out>.rank<r>.npz`` and checks that the replicas of each weight are identical. ``--gpu`` puts
the contexts on ``gpu(i)`` (``--fake-gpu``: on tests/fake_cupy.py, two fake GPUs per process);
``--states`` saves each worker's ``Trainer.save_states`` next to its weights.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

if "--fake-gpu" in sys.argv:  # tests/fake_cupy.py with two fake GPUs per process
    from tests import fake_cupy

    fake_cupy.install(devices=2)

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import nn

GLOBAL_BATCH = 24
FEATURES = 20
CLASSES = 5


def build_net() -> nn.HybridSequential:
    net = nn.HybridSequential(prefix="net_")
    with net.name_scope():
        net.add(nn.Dense(32, activation="relu"), nn.Dense(16, activation="relu"), nn.Dense(CLASSES))
    return net


def train(args: argparse.Namespace, update_on_kvstore: bool) -> dict[str, np.ndarray]:
    kv = mx.kv.create(args.kvstore) if "dist" in args.kvstore else args.kvstore
    rank = kv.rank if "dist" in args.kvstore else 0
    workers = kv.num_workers if "dist" in args.kvstore else 1
    make = mx.gpu if args.gpu else mx.cpu
    ctx = [make(i) for i in range(args.contexts)]
    mx.random.seed(11)
    net = build_net()
    net.initialize(mx.init.Xavier(magnitude=2.0), ctx=ctx)
    trainer = gluon.Trainer(
        net.collect_params(),
        args.optimizer,
        {"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-3}
        if args.optimizer == "sgd"
        else {"learning_rate": 0.01},
        kvstore=kv,
        update_on_kvstore=update_on_kvstore,
    )
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    data = np.random.RandomState(3)
    per = GLOBAL_BATCH // (workers * len(ctx))
    for _ in range(args.steps):
        x = data.standard_normal((GLOBAL_BATCH, FEATURES)).astype(np.float32)
        y = data.randint(0, CLASSES, GLOBAL_BATCH).astype(np.float32)
        losses = []
        with autograd.record():
            for c, dev in enumerate(ctx):
                part = slice((rank * len(ctx) + c) * per, (rank * len(ctx) + c + 1) * per)
                xb = mx.nd.array(x[part], ctx=dev)
                yb = mx.nd.array(y[part], ctx=dev)
                losses.append(loss_fn(net(xb), yb))
        for loss in losses:
            loss.backward()
        trainer.step(GLOBAL_BATCH)
    if args.states:  # each worker saves its own trainer states
        trainer.save_states(
            f"{args.out}.{'kv' if update_on_kvstore else 'local'}.rank{rank}.states"
        )
    out = {}
    for i, param in enumerate(net.collect_params().values()):
        replicas = [a.asnumpy() for a in param.list_data()]
        for other in replicas[1:]:
            if other.tobytes() != replicas[0].tobytes():
                raise SystemExit(f"replicas of {param.name} differ on rank {rank}")
        out[f"p{i}"] = replicas[0]
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kvstore", default="device")
    parser.add_argument("--contexts", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--out", required=True)
    parser.add_argument("--gpu", action="store_true", help="gpu(i) contexts instead of cpu(i)")
    parser.add_argument("--states", action="store_true", help="Trainer.save_states per worker")
    parser.add_argument("--fake-gpu", action="store_true", help="on tests/fake_cupy.py")
    args = parser.parse_args()
    results = {}
    for on_kv in (True, False):
        for name, value in train(args, on_kv).items():
            results[f"{'kv' if on_kv else 'local'}_{name}"] = value
    rank = 0
    if "dist" in args.kvstore:
        rank = mx.kv.create(args.kvstore).rank
    np.savez(f"{args.out}.rank{rank}.npz", **results)
    print(f"rank {rank} done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
