"""Benchmark of the distributed store, run under MPI (not a test)::

    mpiexec -n 2 python -m bench.dist_allreduce               # allreduce of S2 (and S1)
    mpiexec -n 4 python -m bench.dist_allreduce --set S2
    mpiexec -n 2 python -m bench.dist_allreduce --mlp         # Trainer step, 2 ranks x 1 context
    python -m bench.dist_allreduce --mlp --contexts 2         # the same step, 1 rank x 2 contexts

``allreduce``: the sum of a gradient set (bench/sets.py: S2 is ResNet-50's 161 float32 tensors,
S1 2,000 x (64, 64); MLP the benchmark MLP's 6) over every rank, one context per rank, result
back in every gradient:

* ``floor``: one raw mpi4py ``Allreduce`` of a contiguous buffer of the same bytes (no packing,
  no copies back: the physical floor of any implementation);
* ``mxlite fused``: ``kv.pushpull(keys, grads)`` on a 'dist_sync' store, the Trainer's call
  (steady state: the plan, fused buckets, ordered sums, copies back into every gradient);
* ``mpi4py per parameter``: one raw ``Allreduce`` per tensor (in place);
* ``mxlite per key``: ``kv.pushpull(key, grad)`` once per key, as MXNet's Trainer calls it.

``--mlp``: training steps of the benchmark MLP (bench/train_script.py's ``mlp``: Dense
784-512-512-10, global batch 256) with the gradient reduced through the store: the whole step,
its forward+backward, and its ``trainer.step`` (started after a barrier, so it holds no waiting
for a slower rank) with the part spent in the store's ``pushpull``.

Each figure is the median over ``--runs`` of the slowest rank's time, after warm-up (the cases
take turns in every run); rank 0 prints a Markdown table (and writes JSON with ``--out``). When
several ranks share a machine, give each one thread (``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1``),
as for training.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _once(comm: Any, fn: Callable[[], None]) -> float:
    """The slowest rank's seconds for one ``fn()``, started together after a barrier."""
    from mpi4py import MPI

    comm.Barrier()
    start = time.perf_counter()
    fn()
    mine = np.array([time.perf_counter() - start])
    worst = np.empty(1)
    comm.Allreduce(mine, worst, op=MPI.MAX)
    return float(worst[0])


def _timed(comm: Any, fns: list[Callable[[], None]], runs: int, warmup: int) -> list[float]:
    """Per function, the median over ``runs`` of the slowest rank's seconds; the functions
    take turns in every run, so a change of load on the machine hits them alike."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, got in zip(fns, times):
            got.append(_once(comm, fn))
    return [statistics.median(got) for got in times]


def allreduce(args: argparse.Namespace) -> list[dict[str, Any]]:
    from mpi4py import MPI

    import mxlite as mx
    from bench import sets

    comm = MPI.COMM_WORLD
    kv = mx.kv.create("dist_sync")
    kv_each = mx.kv.create("dist_sync")  # its own store, so the per-key calls leave kv's plan be
    if args.set == "MLP":
        from bench.train_script import CASES

        spec = CASES["mlp"]
        sizes = [spec["in"], *spec["hidden"], spec["out"]]
        shapes = [s for n_in, n_out in zip(sizes, sizes[1:]) for s in ((n_out, n_in), (n_out,))]
        pset = sets.ParamSet("MLP", tuple(shapes), "the benchmark MLP")
    else:
        pset = {"S1": sets.s1, "S2": sets.s2}[args.set]()
    rng = np.random.default_rng(kv.rank)
    grads = [mx.nd.array(rng.standard_normal(s).astype(np.float32)) for s in pset.shapes]
    keys = list(range(len(grads)))
    kv.init(keys, [mx.nd.zeros(s) for s in pset.shapes])
    kv_each.init(keys, [mx.nd.zeros(s) for s in pset.shapes])
    flat_in = np.ones(pset.numel, dtype=np.float32)
    flat_out = np.empty_like(flat_in)
    raws = [g._data for g in grads]

    def floor() -> None:
        comm.Allreduce(flat_in, flat_out)

    def fused() -> None:
        kv.pushpull(keys, grads)

    def per_param() -> None:
        for raw in raws:
            comm.Allreduce(MPI.IN_PLACE, raw)

    def per_key() -> None:
        for k, g in zip(keys, grads):
            kv_each.pushpull(k, g)

    cases = {
        "floor: one mpi4py Allreduce of the same bytes": floor,
        "mxlite fused: kv.pushpull(keys, grads)": fused,
        "mpi4py: one Allreduce per parameter": per_param,
        "mxlite: kv.pushpull per key": per_key,
    }
    seconds = _timed(comm, list(cases.values()), args.runs, args.warmup)
    return [
        {"case": name, "ms": t * 1e3, "x_floor": t / seconds[0], "x_fused": t / seconds[1]}
        for name, t in zip(cases, seconds)
    ]


def mlp(args: argparse.Namespace) -> list[dict[str, Any]]:
    from mpi4py import MPI

    import mxlite as mx
    from bench.train_script import CASES, _data
    from mxlite import autograd, gluon
    from mxlite.gluon import nn

    comm = MPI.COMM_WORLD
    workers, rank = comm.Get_size(), comm.Get_rank()
    kv: Any = mx.kv.create("dist_sync") if workers > 1 else "device"
    spec = CASES["mlp"]
    ctx = [mx.cpu(i) for i in range(args.contexts)]
    mx.random.seed(1)
    net = nn.Sequential()
    with net.name_scope():
        for units in spec["hidden"]:
            net.add(nn.Dense(units, activation="relu"))
        net.add(nn.Dense(spec["out"]))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(
        net.collect_params(), "sgd", {"learning_rate": 0.01, "momentum": 0.9}, kvstore=kv
    )
    x, y = _data("mlp", np)
    share = spec["batch"] // workers
    xs = gluon.utils.split_and_load(x[rank * share : (rank + 1) * share], ctx)
    ys = gluon.utils.split_and_load(y[rank * share : (rank + 1) * share], ctx)
    spent = {"forward+backward": 0.0, "trainer.step": 0.0, "of which pushpull": 0.0}

    def step() -> None:
        start = time.perf_counter()
        with autograd.record():
            losses = [loss_fn(net(a), b) for a, b in zip(xs, ys)]
        autograd.backward(losses)
        losses[0].wait_to_read()
        middle = time.perf_counter()
        comm.Barrier()  # so that the step's time holds no waiting for a slower rank
        after = time.perf_counter()
        trainer.step(spec["batch"])
        end = time.perf_counter()
        spent["forward+backward"] += middle - start
        spent["trainer.step"] += end - after
        if trainer._kvstore is not None and not hasattr(trainer._kvstore, "_timed"):
            store = trainer._kvstore
            inner = store.pushpull

            def pushpull(*a: Any, **k: Any) -> None:
                begin = time.perf_counter()
                inner(*a, **k)
                spent["of which pushpull"] += time.perf_counter() - begin

            store.pushpull = pushpull
            store._timed = True

    for _ in range(args.warmup):
        step()
    for key in spent:
        spent[key] = 0.0
    (total,) = _timed(comm, [step], args.runs, 0)
    row: dict[str, Any] = {
        "case": f"mlp step, {workers} rank(s) x {args.contexts} context(s)",
        "ms": total * 1e3,
    }
    row.update({f"{k} ms": v / args.runs * 1e3 for k, v in spent.items()})
    return [row]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["S1", "S2", "MLP"], default="S2")
    parser.add_argument("--mlp", action="store_true", help="time Trainer steps of the MLP")
    parser.add_argument("--contexts", type=int, default=1, help="contexts per rank (--mlp)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the rows as JSON here (rank 0)")
    args = parser.parse_args(argv)
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rows = mlp(args) if args.mlp else allreduce(args)
    if comm.Get_rank() == 0:
        what = "MLP step" if args.mlp else f"allreduce of {args.set}"
        print(f"\n{what}, {comm.Get_size()} rank(s), median of {args.runs} runs\n")
        keys = list(rows[0])
        print("| " + " | ".join(keys) + " |")
        print("|" + "---|" * len(keys))
        for row in rows:
            cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()]
            print("| " + " | ".join(cells) + " |")
        if args.out:
            with open(args.out, "w") as f:
                json.dump({"workers": comm.Get_size(), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
