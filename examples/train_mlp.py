"""Data-parallel MLP training on scikit-learn's digits, written exactly as an MXNet 1.x script.

Every available context gets a slice of each batch: all GPUs on a GPU host, ``[cpu(0), cpu(1)]``
on a CPU box. The network uses deferred initialization (no ``in_units``); after training the
parameters are saved, reloaded into a fresh network, and the reloaded test accuracy must equal
the trained one.

Run: ``python examples/train_mlp.py [--epochs N] [--batch-size B] [--contexts cpu0,cpu1]``

On several processes (``pip install 'mxlite[dist]'``): ``mpiexec -n 2 python
examples/train_mlp.py --kvstore dist_sync``. Each worker then takes its share of every global
batch (by ``kv.rank`` and ``kv.num_workers``) on one context per process (its own GPU,
``mx.gpu(kv.local_rank)``, on a GPU host), ``step`` gets the global batch size, and only rank 0
prints and saves. The summed gradients are bitwise those of one process with one context per
worker, so the accuracy is the same.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import mxlite as mx
from mxlite import autograd, gluon, nd
from mxlite.gluon import nn


def parse_contexts(spec: str | None, kv: mx.kv.KVStoreBase | None = None) -> list[mx.Context]:
    """``'cpu0,cpu1'`` / ``'gpu0'`` -> contexts; default: every GPU, else two CPU contexts, or
    with a distributed store one context per worker: its own GPU (by local rank), else cpu(0)."""
    if spec:
        out = []
        for item in spec.split(","):
            kind, idx = item.strip()[:3], int(item.strip()[3:] or 0)
            out.append(mx.gpu(idx) if kind == "gpu" else mx.cpu(idx))
        return out
    n_gpu = mx.context.num_gpus()
    if kv is not None:
        return [mx.gpu(kv.local_rank % n_gpu)] if n_gpu else [mx.cpu(0)]
    return [mx.gpu(i) for i in range(n_gpu)] if n_gpu else [mx.cpu(0), mx.cpu(1)]


def build_net() -> nn.Sequential:
    """Two hidden ReLU layers; input size inferred at the first forward (deferred init)."""
    net = nn.Sequential()
    net.add(nn.Dense(128, activation="relu"))
    net.add(nn.Dense(64, activation="relu"))
    net.add(nn.Dense(10))
    return net


def accuracy(net: nn.Sequential, x: np.ndarray, y: np.ndarray, ctx: mx.Context) -> float:
    """Top-1 accuracy of ``net`` on (x, y), evaluated on one context."""
    out = net(nd.array(x, ctx=ctx))
    pred = out.asnumpy().argmax(axis=1)
    return float((pred == y).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--contexts", default=None, help="e.g. cpu0,cpu1 or gpu0")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--min-accuracy", type=float, default=0.95)
    parser.add_argument("--kvstore", default="device", help="e.g. dist_sync under mpiexec")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    mx.random.seed(args.seed)
    kv = mx.kv.create(args.kvstore) if "dist" in args.kvstore else None
    rank, workers = (kv.rank, kv.num_workers) if kv is not None else (0, 1)
    say = print if rank == 0 else (lambda *a, **k: None)
    ctx = parse_contexts(args.contexts, kv)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=args.seed, stratify=y
    )
    where = f"; {workers} workers" if kv is not None else ""
    say(f"digits: {len(x_train)} train / {len(x_test)} test samples; contexts: {ctx}{where}")

    net = build_net()
    net.initialize(mx.init.Xavier(), ctx=ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(
        net.collect_params(),
        "sgd",
        {"learning_rate": args.lr, "momentum": 0.9, "wd": 1e-4},
        kvstore=kv if kv is not None else args.kvstore,
    )
    # Keep whole batches only, so every context of every worker gets the same share.
    shares = len(ctx) * workers
    per_step = args.batch_size - args.batch_size % shares
    share = per_step // workers  # this worker's part of each global batch
    rng = np.random.default_rng(args.seed)

    train_start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        total_loss, seen = 0.0, 0
        steps = range(0, len(order) - per_step + 1, per_step)
        bar = tqdm(steps, desc=f"epoch {epoch:2d}", leave=False, disable=not sys.stderr.isatty())
        for begin in bar:
            idx = order[begin : begin + per_step][rank * share : (rank + 1) * share]
            xs = gluon.utils.split_and_load(x_train[idx], ctx)
            ys = gluon.utils.split_and_load(y_train[idx], ctx)
            with autograd.record():
                losses = [loss_fn(net(xb), yb) for xb, yb in zip(xs, ys, strict=True)]
            for loss in losses:
                loss.backward()
            trainer.step(per_step)
            total_loss += sum(float(loss.sum().asscalar()) for loss in losses)
            seen += share
        acc = accuracy(net, x_test, y_test.astype(np.int64), ctx[0])
        mine = " (rank 0's share)" if kv is not None else ""
        say(f"epoch {epoch:2d}  loss {total_loss / seen:.4f}{mine}  test accuracy {acc:.4f}")

    train_seconds = time.perf_counter() - train_start
    trained_acc = accuracy(net, x_test, y_test.astype(np.int64), ctx[0])
    reloaded_acc = trained_acc
    if rank == 0:  # every worker holds the same weights: one saves them
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "mlp.params")
            net.save_parameters(path)
            fresh = build_net()
            fresh.load_parameters(path, ctx=ctx)
            reloaded_acc = accuracy(fresh, x_test, y_test.astype(np.int64), ctx[0])
    if kv is not None:
        kv.barrier()  # the others wait for rank 0's save
    elapsed = time.perf_counter() - start
    say(
        f"final test accuracy {trained_acc:.4f}; reloaded {reloaded_acc:.4f}; "
        f"{elapsed:.1f} s on {ctx}{where} (training {train_seconds:.2f} s)"
    )
    if reloaded_acc != trained_acc:
        print("ERROR: the reloaded network does not reproduce the trained accuracy")
        return 1
    if trained_acc < args.min_accuracy:
        print(f"ERROR: accuracy {trained_acc:.4f} is below the required {args.min_accuracy}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
