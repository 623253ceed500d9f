"""Per-step cost of ``Updater(indices, grads, weights)`` over 2,000 parameters (CPU).

Rows (medians of per-repeat medians; the machine may be shared, so repeat):
  S1 step      2,000 x (64, 64) float32, wall time of the whole step (Numba kernels included);
  tiny step    2,000 x (4,) float32, wall time (the kernels cost almost nothing);
  python-only  2,000 x (4,) with the Numba drivers replaced by no-ops, CPU time of this thread:
               the pure Python/NumPy bookkeeping, also with an LR scheduler and with a
               ``param_dict`` of gluon Parameters (as Trainer passes it).
  trainer      ``gluon.Trainer.step`` over 2,000 x (4,) float32 Parameters (wall time): on one
               context (no kvstore), and on [cpu(0), cpu(1)] with update_on_kvstore False/True
               (the kvstore's reduce included). Gradients are marked fresh between steps (as a
               backward pass would) outside the timed region.
Each Updater step passes fresh lists of the same arrays, as ``Trainer`` does.

Run from the repository root: ``.venv/bin/python tools/bench_optimizer_step.py [--only python]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

import mxlite as mx
from mxlite.optimizer import Updater

N = 2000
CASES = (
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-4}),
    ("adam", {"learning_rate": 1e-3, "wd": 1e-4}),
)


def _bench(
    name: str, kwargs: dict[str, Any], shape: tuple[int, ...], extra: str, steps: int,
    repeats: int, clock: Any,
) -> float:  # fmt: skip
    rng = np.random.default_rng(0)
    weights = [mx.nd.array(rng.standard_normal(shape).astype("float32")) for _ in range(N)]
    grads = [mx.nd.array(rng.standard_normal(shape).astype("float32")) for _ in range(N)]
    kwargs = dict(kwargs)
    if extra == "sched":
        base = kwargs["learning_rate"]
        kwargs["lr_scheduler"] = mx.lr_scheduler.FactorScheduler(10, 0.9, base_lr=base)
    if extra == "param_dict":
        kwargs["param_dict"] = {
            i: mx.gluon.Parameter(f"p{i}_weight", shape=shape) for i in range(N)
        }
    updater = Updater(mx.optimizer.create(name, **kwargs))
    indices = list(range(N))
    for _ in range(3):
        updater(list(indices), list(grads), list(weights))
    medians = []
    for _ in range(repeats):
        times = []
        for _ in range(steps):
            args = (list(indices), list(grads), list(weights))
            start = clock()
            updater(*args)
            times.append(clock() - start)
        medians.append(statistics.median(times))
    return statistics.median(medians) * 1e3


def _bench_trainer(
    name: str, kwargs: dict[str, Any], ctxs: list[Any], uok: bool | None, steps: int,
    repeats: int,
) -> float:  # fmt: skip
    params = [mx.gluon.Parameter(f"p{i}_weight", shape=(4,)) for i in range(N)]
    for p in params:
        p.initialize(mx.init.Constant(0.5), ctx=ctxs)
    trainer = mx.gluon.Trainer(params, name, dict(kwargs), update_on_kvstore=uok)
    nodes = [arr._ag_node for p in params for arr in p.list_data()]

    def backward() -> None:  # what backward leaves behind: every gradient fresh
        for node in nodes:
            node.fresh = True

    for _ in range(3):
        backward()
        trainer.step(1)
    medians = []
    for _ in range(repeats):
        times = []
        for _ in range(steps):
            backward()
            start = time.perf_counter()
            trainer.step(1)
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return statistics.median(medians) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--only", default="s1,tiny,python,trainer", help="comma list of s1,tiny,python,trainer"
    )
    args = parser.parse_args()
    only = args.only.split(",")
    rows: list[tuple[str, float]] = []
    run = lambda name, kw, shape, extra="", clock=time.perf_counter: _bench(  # noqa: E731
        name, kw, shape, extra, args.steps, args.repeats, clock
    )
    for name, kw in CASES:
        if "s1" in only:
            rows.append((f"S1 step {name} (wall)", run(name, kw, (64, 64))))
        if "tiny" in only:
            rows.append((f"tiny step {name} (wall)", run(name, kw, (4,))))
    if "trainer" in only:
        two = [mx.cpu(0), mx.cpu(1)]
        for name, kw in CASES:
            for label, ctxs, uok in (
                ("1 ctx", [mx.cpu(0)], None), ("2 ctx uok=False", two, False),
                ("2 ctx uok=True", two, True),
            ):  # fmt: skip
                ms = _bench_trainer(name, kw, ctxs, uok, args.steps, args.repeats)
                rows.append((f"trainer {name} {label} (wall)", ms))
    if "python" in only:
        from mxlite.ops._numba import optimizer as _twin

        _twin.multi_optimizer_step = lambda *a, **k: None  # time the Python side only
        for name, kw in CASES:
            for extra in ("", "sched", "param_dict"):
                label = f"python-only {name}" + (f" +{extra}" if extra else "") + " (CPU)"
                rows.append((label, run(name, kw, (4,), extra, time.thread_time)))
    for label, ms in rows:
        print(f"{label:36s} {ms:8.3f} ms", flush=True)


if __name__ == "__main__":
    main()
