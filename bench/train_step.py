"""The training-step suite (``python -m bench --suite train``): the same Gluon training loop
under mxlite and real MXNet 1.9.1, the same networks in PyTorch, and the bare matrix products.

Every measurement runs ``bench/train_script.py`` in a fresh process (MXNet's in its own virtual
environment), so no library's thread pools or caches leak into another's. The jobs of one run are
interleaved, and ``--runs`` repeats the whole list; each figure is the median over the runs of the
per-run median step. "Loaded" jobs start a process that keeps one core busy for the duration.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import peer_mxnet

SCRIPT = Path(__file__).resolve().parent / "train_script.py"
DEMO = Path(__file__).resolve().parents[1] / "examples" / "train_mlp.py"
# The checkout this harness belongs to: its mxlite is the one measured (a script's own folder,
# not the current directory, starts sys.path, so an installed mxlite would win otherwise).
_CHECKOUT_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")) if p
    ),
}
# Runs the main job's own source with ``mxlite`` replaced by ``mxnet``: the same script an MXNet
# user would run, with only the import changed.
_AS_MXNET = (
    "import sys; src = open(sys.argv[1]).read().replace('mxlite', 'mxnet'); "
    "sys.argv = sys.argv[1:]; exec(compile(src, sys.argv[0], 'exec'), {'__name__': '__main__'})"
)
LIBS = ("mxlite", "mxnet", "torch", "floor")


@dataclass(frozen=True)
class Job:
    """One measurement: a library, a case of train_script.CASES, a context count, a device."""

    lib: str
    case: str
    contexts: int
    device: str = "cpu"
    loaded: bool = False

    @property
    def label(self) -> str:
        load = ", one core busy" if self.loaded else ""
        return f"{self.case} {self.device} x{self.contexts}{load}"


# The ResNet cases' steps and warm-up steps (a step takes seconds on two CPU cores).
_RESNET_STEPS = {"resnet18_32": (5, 2), "resnet18_224": (3, 1)}


def jobs(libs: tuple[str, ...], gpu: bool, size: str = "full") -> list[Job]:
    """The suite's jobs: mlp and deep on 1 and 2 CPU contexts (PyTorch and the floor on one),
    the MLP on one context with one core busy, ResNet-18 at 32x32 (and, at full size, 224x224)
    on one context, and with a GPU each case on gpu(0)."""
    out: list[Job] = []
    for case in ("mlp", "deep"):
        for n in (1, 2):
            for lib in libs:
                if n == 1 or lib in ("mxlite", "mxnet"):
                    out.append(Job(lib, case, n))
    for case in ("resnet18_32", "resnet18_224") if size == "full" else ("resnet18_32",):
        for lib in libs:
            out.append(Job(lib, case, 1))
    for lib in libs:
        if lib != "floor":
            out.append(Job(lib, "mlp", 1, loaded=True))
    if gpu:
        from bench.cases import torch_device_usable

        for case in ("mlp", "deep", "resnet18_224"):
            for lib in libs:
                if lib == "torch" and not torch_device_usable("cuda:0"):
                    continue  # a CPU-only PyTorch build: no GPU peer
                if lib != "mxnet":  # the oracle's MXNet is a CPU build
                    out.append(Job(lib, case, 1, device="gpu"))
    return out


def _command(
    job: Job, steps: int, warmup: int, cpu_time: bool = False, threads: int | None = None
) -> list[str]:
    python = str(peer_mxnet.ORACLE_PYTHON) if job.lib == "mxnet" else sys.executable
    extra = (["--cpu-time"] if cpu_time else []) + (
        ["--threads", str(threads)] if threads is not None else []
    )
    return [
        python,
        str(SCRIPT),
        "--lib",
        job.lib,
        "--case",
        job.case,
        "--contexts",
        str(job.contexts),
        "--steps",
        str(steps),
        "--warmup",
        str(warmup),
        "--device",
        job.device,
        *extra,
    ]


def run_job(
    job: Job,
    steps: int,
    warmup: int,
    timeout: float = 900,
    cpu_time: bool = False,
    threads: int | None = None,
) -> dict[str, Any] | None:
    """One job in a fresh process; its JSON result, or None (with the reason on stderr).
    ``cpu_time``/``threads`` time the process's CPU time with that many threads per pool."""
    busy = None
    if job.loaded:
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)  # let it take its core (and the sampling policy see it)
    try:
        proc = subprocess.run(
            _command(job, steps, warmup, cpu_time, threads),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if job.lib == "mxnet" else _CHECKOUT_ENV,
        )
    except subprocess.TimeoutExpired:
        print(f"train bench: {job} timed out after {timeout:.0f} s", file=sys.stderr)
        return None
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    if proc.returncode != 0:
        print(f"train bench: {job} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def demo_training_seconds(lib: str, timeout: float = 600) -> float | None:
    """The training loop's wall time of ``make demo``'s script (examples/train_mlp.py, default
    arguments: 20 epochs of digits on [cpu(0), cpu(1)]) under ``lib`` ('mxlite' or 'mxnet')."""
    if lib == "mxnet":
        if not peer_mxnet.ensure_demo_packages():
            return None
        cmd = [str(peer_mxnet.ORACLE_PYTHON), "-c", _AS_MXNET, str(DEMO)]
    else:
        cmd = [sys.executable, str(DEMO)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/")
    match = re.search(r"\(training ([0-9.]+) s\)", proc.stdout)
    if proc.returncode != 0 or match is None:
        print(f"train bench: the demo under {lib} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return float(match.group(1))


def available_libs(no_mxnet: bool, no_torch: bool) -> tuple[str, ...]:
    libs = ["mxlite"]
    if not no_mxnet and peer_mxnet.available():
        libs.append("mxnet")
    if not no_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            pass
        else:
            libs.append("torch")
    libs.append("floor")
    return tuple(libs)


def suite(
    size: str,
    runs: int,
    libs: tuple[str, ...],
    gpu: bool,
    progress: Any = None,
    on_result: Any = None,
    cpu_time: bool = False,
    threads: int | None = None,
    cases: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """Run every job ``runs`` times (interleaved); one row per job with the per-run medians.

    ``on_result(rows)`` is called after each job with the rows so far (partial results);
    ``cases`` limits the jobs to those cases; ``cpu_time``/``threads`` see :func:`run_job`."""
    steps, warmup = (20, 5) if size == "full" else (4, 2)
    all_jobs = [j for j in jobs(libs, gpu, size) if cases is None or j.case in cases]
    results: dict[Job, list[float]] = {job: [] for job in all_jobs}
    demo_libs = [lib for lib in ("mxlite", "mxnet") if lib in libs] if size == "full" else []
    if cases is not None and "demo" not in cases:
        demo_libs = []
    for run in range(runs):
        for job in all_jobs:
            if progress is not None:
                progress(f"run {run + 1}/{runs}: {job.lib} {job.label}")
            n_steps, n_warm = (steps, warmup)
            if job.case in _RESNET_STEPS:
                n_steps, n_warm = _RESNET_STEPS[job.case] if size == "full" else (1, 1)
            res = run_job(job, n_steps, n_warm, cpu_time=cpu_time, threads=threads)
            if res is not None:
                results[job].append(res["median_ms"])
            if on_result is not None:
                on_result(_rows(results))
        for lib in demo_libs:
            if progress is not None:
                progress(f"run {run + 1}/{runs}: {lib} make demo")
            seconds = demo_training_seconds(lib)
            if seconds is not None:
                results.setdefault(Job(lib, "demo", 2), []).append(seconds * 1e3)
    return _rows(results)


def _rows(results: dict[Job, list[float]]) -> list[dict[str, Any]]:
    from bench.train_script import CASES

    rows = []
    for job, per_run in results.items():
        if not per_run:
            continue
        ms = statistics.median(per_run)
        batch = CASES[job.case]["batch"] if job.case in CASES else 64
        rows.append(
            {
                "lib": job.lib,
                "case": job.case,
                "contexts": job.contexts,
                "device": job.device,
                "loaded": job.loaded,
                "ms": ms,
                "runs_ms": per_run,
                "samples_per_s": batch / ms * 1e3,
            }
        )
    return rows


def _find(rows: list[dict[str, Any]], **key: Any) -> dict[str, Any] | None:
    for row in rows:
        if all(row[k] == v for k, v in key.items()):
            return row
    return None


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table: mxlite's step, its samples/s, and each peer's step with the ratio."""
    lines = [
        "| case | contexts | mxlite ms (samples/s) | MXNet 1.9.1 ms (mxlite faster by) "
        "| PyTorch ms (mxlite / PyTorch) | matmuls alone ms (of mxlite's step) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["lib"] != "mxlite" or row["case"] == "demo":
            continue
        key = {k: row[k] for k in ("case", "device", "loaded")}
        cells = [
            f"{row['case']}" + (" (one core busy)" if row["loaded"] else ""),
            f"{row['device']} x{row['contexts']}",
            f"{row['ms']:.2f} ({row['samples_per_s']:.0f})",
        ]
        mxnet = _find(rows, lib="mxnet", contexts=row["contexts"], **key)
        cells.append(f"{mxnet['ms']:.2f} ({mxnet['ms'] / row['ms']:.2f}x)" if mxnet else "-")
        torch = _find(rows, lib="torch", contexts=1, **key)
        cells.append(f"{torch['ms']:.2f} ({row['ms'] / torch['ms']:.2f}x)" if torch else "-")
        floor = _find(rows, lib="floor", contexts=1, **{k: row[k] for k in ("case", "device")})
        cells.append(
            f"{floor['ms']:.2f} ({100 * floor['ms'] / row['ms']:.0f}%)"
            if floor and not row["loaded"]
            else "-"
        )
        lines.append("| " + " | ".join(cells) + " |")
    quiet = _find(rows, lib="mxlite", case="mlp", contexts=1, device="cpu", loaded=False)
    busy = _find(rows, lib="mxlite", case="mlp", contexts=1, device="cpu", loaded=True)
    if quiet and busy:
        lines.append("")
        lines.append(
            f"MLP step with one core busy / quiet: mxlite {busy['ms'] / quiet['ms']:.2f}x"
            + "".join(
                f", {lib} {b['ms'] / q['ms']:.2f}x"
                for lib in ("mxnet", "torch")
                if (q := _find(rows, lib=lib, case="mlp", contexts=1, device="cpu", loaded=False))
                and (b := _find(rows, lib=lib, case="mlp", contexts=1, device="cpu", loaded=True))
            )
        )
    demo = _find(rows, lib="mxlite", case="demo")
    demo_mxnet = _find(rows, lib="mxnet", case="demo")
    if demo:
        lines.append("")
        lines.append(
            f"`make demo` training loop (examples/train_mlp.py, 20 epochs, [cpu(0), cpu(1)]): "
            f"mxlite {demo['ms'] / 1e3:.2f} s"
            + (
                f", MXNet 1.9.1 {demo_mxnet['ms'] / 1e3:.2f} s "
                f"(mxlite faster by {demo_mxnet['ms'] / demo['ms']:.2f}x)"
                if demo_mxnet
                else ""
            )
        )
    return "\n".join(lines)
