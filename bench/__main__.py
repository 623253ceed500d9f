"""``python -m bench``: run the parameter-set benchmarks on every available context.

Examples:
    python -m bench --size tiny            # smoke run (CI): both suites, few steps
    python -m bench --size full --out bench/results
    python -m bench --suite train --size full --runs 3   # the training-step suite only

Suites: ``params`` (init, zero_grad, save/load, reset_ctx and optimizer steps on the S1-S4
parameter sets), ``train`` (forward + backward + ``Trainer.step`` of real networks against
MXNet 1.9.1, PyTorch and the bare matrix products; see bench/train_step.py) and ``sparse``
(lazy optimizer steps of a large embedding table and row_sparse_pull; see
bench/sparse_embedding.py; not part of ``all``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import mxlite as mx
from bench import cases, first_call, peer_mxnet, report, sets, sparse_embedding, train_step
from bench.progress import Progress, progress
from bench.timing import gpu_canary


def _header(notes: list[str]) -> str:
    import numpy

    parts = [
        f"python {platform.python_version()}",
        f"numpy {numpy.__version__}",
        f"mxlite {mx.__version__}",
    ]
    try:
        import torch

        parts.append(f"torch {torch.__version__}")
    except ImportError:
        pass
    gpu = ""
    if mx.num_gpus():
        import cupy

        gpu = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        parts.append(f"cupy {cupy.__version__}")
    machine = f"{platform.machine()}, {__import__('os').cpu_count()} cores" + (
        f", {gpu}" if gpu else ""
    )
    text = f"## Benchmark ({time.strftime('%Y-%m-%d %H:%M')}; {machine}; {', '.join(parts)})"
    for note in notes:
        text += f"\n\nNote: {note}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--suite", choices=["params", "train", "sparse", "all"], default="all")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed runs per case (default: tiny 3, full 7)"
    )
    parser.add_argument("--no-mxnet", action="store_true", help="skip the real-MXNet peer")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch peer")
    parser.add_argument("--cpu-only", action="store_true")
    parser.add_argument(
        "--gpu-only", action="store_true", help="params suite: gpu(0) only (make gpu-check)"
    )
    parser.add_argument(
        "--no-first-call", action="store_true", help="skip the fresh-process first-call timing"
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="train suite: time each process's CPU time (fair on a loaded machine with --threads 1)",
    )
    parser.add_argument("--threads", type=int, default=None, help="train suite: threads per pool")
    parser.add_argument(
        "--cases",
        default=None,
        help="train suite: comma-separated cases (mlp, deep, resnet18_32, resnet18_224, demo)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="run the whole suite this many times (peers included) and report per-case medians",
    )
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.size == "tiny" else 7
    if args.suite in ("params", "all"):
        _params_suite(args)
    if args.suite in ("train", "all"):
        _train_suite(args)
    if args.suite == "sparse":
        sparse_embedding.main(
            ["--size", args.size, "--repeat", str(args.repeat), "--out", args.out]
            + (["--no-torch"] if args.no_torch else [])
        )
    return 0


def _train_suite(args: argparse.Namespace) -> None:
    libs = train_step.available_libs(args.no_mxnet, args.no_torch)
    gpu = bool(mx.num_gpus()) and not args.cpu_only
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = tuple(args.cases.split(",")) if args.cases else None
    n_jobs = len([j for j in train_step.jobs(libs, gpu, args.size) if not cases or j.case in cases])
    bar = Progress(args.runs * n_jobs, "train steps", "job")

    def partial(rows: list[dict]) -> None:
        (out / "train_steps.json").write_text(json.dumps(rows, indent=1))

    rows = train_step.suite(
        args.size, args.runs, libs, gpu, bar.step, partial, args.cpu_time, args.threads, cases
    )
    bar.close()
    table = train_step.markdown(rows)
    timing = "process CPU time" if args.cpu_time else "wall time"
    threads = f", {args.threads} thread(s) per pool" if args.threads else ""
    header = _header(
        [
            f"training steps: median of {args.runs} run(s), each a median of steps ({timing}{threads})"
        ]
    )
    (out / "train_steps.md").write_text(header + "\n\n" + table + "\n")
    print(header + "\n\n" + table)
    print(f"wrote {out / 'train_steps.md'}, {out / 'train_steps.json'}")


def _params_suite(args: argparse.Namespace) -> None:
    notes: list[str] = []
    contexts = [] if args.gpu_only else [mx.cpu(0)]
    if mx.num_gpus() and not args.cpu_only:
        canary = gpu_canary()
        notes.append(f"canary: {canary.describe()}")
        if not canary.healthy:
            print(
                f"GPU canary failed ({canary.describe()}): GPU results would be discarded",
                file=sys.stderr,
            )
        else:
            contexts.append(mx.gpu(0))
    if args.size == "tiny":
        param_sets = sets.tiny()
    else:
        free = None
        if mx.gpu(0) in contexts:
            free = mx.gpu_memory_info(0)[0]
        param_sets, more = sets.full(free)
        notes += more
    cpu_sets = [p for p in param_sets if args.size == "tiny" or p.name in ("S1", "S2")]
    jobs = [(p, c) for c in contexts for p in (cpu_sets if c.device_type == "cpu" else param_sets)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "results.partial.json"
    torch_gpu = cases.torch_device_usable("cuda:0")
    if not args.no_torch and mx.gpu(0) in contexts and not torch_gpu:
        notes.append("torch has no CUDA here (a CPU-only build?): no PyTorch rows on gpu(0)")
    runs: list[list[dict]] = []
    for run in range(args.runs):
        rows: list[dict] = []
        label = "bench" if args.runs == 1 else f"bench run {run + 1}/{args.runs}"
        for pset, ctx in progress(jobs, label, "set"):
            for measure in _case_groups(args, pset, ctx, torch_gpu):
                rows += measure()
                # what is measured so far survives a crash, a timeout or a kill of a later case
                done = [*_flat(runs), *rows]
                partial.write_text(json.dumps({"notes": notes, "rows": done}, indent=1))
        runs.append(rows)
    if args.runs > 1:
        notes.append(
            f"each time is the median over {args.runs} runs of the whole suite (each run's "
            f"time is itself a median of {args.repeat}); the machine is shared, so single "
            "runs vary"
        )
    rows = report.add_ratios(report.merge_runs(runs))
    header = _header(notes)
    extra = ""
    if not args.no_first_call:
        extra = first_call.markdown(first_call.measure(1 if args.size == "tiny" else 5))
    written = report.write_all(rows, out, header, extra)
    print(report.markdown(rows, header) + ("\n" + extra if extra else ""))
    print("wrote " + ", ".join(str(p) for p in written))


def _case_groups(
    args: argparse.Namespace, pset: sets.ParamSet, ctx: mx.Context, torch_gpu: bool
) -> list[Callable[[], list[dict]]]:
    """The measurements of one parameter set on one context, each a call returning its rows."""
    repeat = args.repeat
    groups: list[Callable[[], list[dict]]] = [lambda: cases.mxlite_cases(pset, ctx, repeat)]
    if not args.no_torch and (ctx.device_type == "cpu" or torch_gpu):
        device = "cuda:0" if ctx.device_type == "gpu" else "cpu"
        groups.append(lambda: cases.torch_cases(pset, device, repeat))
    if ctx.device_type == "cpu":
        groups.append(lambda: cases.numpy_limits(pset, repeat))
        groups.append(lambda: cases.reset_ctx_case(pset, repeat))
        if not args.no_mxnet:
            groups.append(lambda: peer_mxnet.mxnet_cases(pset, repeat))
    return groups


def _flat(runs: list[list[dict]]) -> list[dict]:
    return [row for rows in runs for row in rows]


if __name__ == "__main__":
    sys.exit(main())
