"""``make gpu-check``: check mxlite on a real GPU in a few minutes, results under ``$OUT``.

For a GPU machine with CuPy, Numba, pytest and PyTorch installed and no network::

    OUT=/tmp/gpu-check make gpu-check            # or: python tools/gpu_check.py --out DIR

Steps, in order; each gets the time the earlier ones left (``--budget`` seconds in all, 450 by
default, so the whole run stays under 8 minutes):

1. ``env``        driver, CUDA runtime, NVRTC, headers and cuBLAS (mxlite's GPU probe), devices
2. ``install``    ``pip install --no-deps --no-build-isolation -e .`` (else ``PYTHONPATH``)
3. ``bandwidth``  1 GiB device-to-device copy as a percentage of the card's peak; zero/average
                  chunk sizing; normal vs uniform fills
4. ``kernels``    compile and launch every kernel entry point, compare with the CPU path
5. ``philox``     Random123's known answers on every GPU
6. ``big``        a float16 tensor of 2**31 + 2**21 elements (4 GiB): fill, zero, average, fused
                  SGD at the head, across 2**31 and at the tail, against the CPU path
7. ``selftest``   ``python -m mxlite.selftest --require-gpu``
8. ``pytest``     ``pytest -m gpu`` with a time limit and a junit report
9. ``bench``      ``python -m bench --suite params --gpu-only`` (full when the time allows,
                  else tiny), partial results kept as each case finishes

Each step's result goes to ``$OUT/<step>.json`` (and its output to ``$OUT/<step>.log``);
``$OUT/summary.md`` and ``summary.json`` collect them. Without a usable GPU the install and the
GPU steps are reported as skipped (a dry run; ``--dry-run`` forces one), so CI runs the script too
without touching its environment. Exit status 1 when any step failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tools/ is sys.path[0] when run as a script

# step -> (the most it may take, seconds; whether it needs a GPU)
STEPS: dict[str, tuple[int, bool]] = {
    "env": (60, False),
    "install": (90, True),  # only where the GPU steps run: never into a dry run's environment
    "bandwidth": (60, True),
    "kernels": (120, True),
    "philox": (40, True),
    "big": (120, True),
    "selftest": (60, True),
    "pytest": (240, True),
    "bench": (600, True),
}
# Time kept back for the bench step, so pytest cannot take it all; a full bench needs this much.
BENCH_RESERVE = 60
FULL_BENCH = 150
BIG_ELEMENTS = (1 << 31) + (1 << 21)


class Run:
    """The budget, the output folder and the environment of the child processes."""

    def __init__(self, out: Path, budget: float, fake: bool) -> None:
        self.out = out
        self.deadline = time.monotonic() + budget
        self.fake = fake
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        )
        if fake:
            self.env["MXLITE_GPU_CHECK_FAKE"] = "1"
            self.env["MXLITE_FAKE_CUPY"] = "1"  # pytest's conftest installs the fake
        self.gpu = False
        self.results: dict[str, dict[str, Any]] = {}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def command(self, name: str, cmd: list[str], limit: float) -> tuple[int | None, str]:
        """Run ``cmd`` in ``ROOT`` with output to ``<name>.log``; (exit code or None on timeout,
        the last lines of output). The whole process group is killed on timeout."""
        log = self.out / f"{name}.log"
        with log.open("w") as handle:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=handle,
                                    stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
            try:
                code: int | None = proc.wait(timeout=max(1.0, limit))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code = None
        lines = log.read_text(errors="replace").strip().splitlines()
        return code, "\n".join(lines[-15:])


def _module(run: Run, module: str, *args: str) -> list[str]:
    """``python -m module args``; on the fake CuPy, with the fake installed first."""
    if not run.fake:
        return [sys.executable, "-m", module, *args]
    code = (
        "import runpy, sys; from tests import fake_cupy; fake_cupy.install(devices=2); "
        f"sys.argv = {[module, *args]!r}; runpy.run_module({module!r}, run_name='__main__')"
    )
    return [sys.executable, "-c", code]


def _limit(run: Run, name: str) -> float:
    cap = STEPS[name][0]
    reserve = BENCH_RESERVE if name not in ("bench",) and run.gpu else 0
    return max(0.0, min(cap, run.left() - reserve))


def _in_process_step(run: Run, name: str, *extra: str) -> dict[str, Any]:
    """A step of tools/gpu_check_steps.py in its own process (a crash or hang stays there)."""
    result_file = run.out / f"{name}.json"
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__)), "--step", name, "--out", str(run.out), *extra]
    code, tail = run.command(name, cmd, _limit(run, name))
    if result_file.exists():
        return json.loads(result_file.read_text())
    why = "timed out" if code is None else f"exited with {code} before writing a result"
    return {"status": "FAIL", "summary": f"{why}: {tail[-600:]}"}


def _install(run: Run, fake: bool) -> dict[str, Any]:
    if fake:
        return {"status": "skipped", "summary": "fake GPUs: using PYTHONPATH=" + str(ROOT)}
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", "."]
    code, tail = run.command("install", cmd, _limit(run, "install"))
    if code == 0:
        return {"status": "ok", "summary": "pip install --no-deps --no-build-isolation -e . done"}
    why = "timed out" if code is None else f"failed ({tail.splitlines()[-1] if tail else code})"
    return {"status": "ok", "summary": f"pip install {why}; using PYTHONPATH={ROOT} instead"}


def _selftest(run: Run) -> dict[str, Any]:
    cmd = _module(run, "mxlite.selftest", "--require-gpu")
    code, tail = run.command("selftest", cmd, _limit(run, "selftest"))
    status = "ok" if code == 0 else "FAIL"
    kernels = [
        line.strip() for line in tail.splitlines() if "kernels" in line or "selftest" in line
    ]
    return {"status": status, "summary": "; ".join(kernels[-4:]) or tail[-300:]}


def _pytest(run: Run) -> dict[str, Any]:
    junit = run.out / "pytest-gpu.xml"
    targets = ["tests/test_philox.py", "tests/test_ndarray_gpu.py"] if run.fake else ["tests"]
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-ra", "-p", "no:cacheprovider",
           f"--junitxml={junit}", *targets]  # fmt: skip
    limit = _limit(run, "pytest")
    code, tail = run.command("pytest", cmd, limit)
    counts = next((line for line in reversed(tail.splitlines()) if " in " in line), tail[-200:])
    if code is None:
        return {"status": "FAIL", "summary": f"timed out after {limit:.0f} s (see pytest.log)"}
    return {"status": "ok" if code == 0 else "FAIL", "summary": counts.strip("= ")}


def _bench(run: Run) -> dict[str, Any]:
    limit = _limit(run, "bench")
    size = "full" if limit >= FULL_BENCH and not run.fake else "tiny"
    out = run.out / "bench"
    args = ["--suite", "params", "--size", size, "--out", str(out), "--gpu-only", "--no-mxnet",
            "--no-first-call", "--repeat", "3"]  # fmt: skip
    cmd = _module(run, "bench", *args, *(["--no-torch"] if run.fake else []))
    code, tail = run.command("bench", cmd, limit)
    partial = out / "results.partial.json"
    rows = len(json.loads(partial.read_text())["rows"]) if partial.exists() else 0
    if code is None:  # the budget's end, not a fault: what was measured is kept
        return {"status": "ok", "summary": f"{size} run stopped at the time limit "
                f"({limit:.0f} s); {rows} result rows kept in {partial}"}  # fmt: skip
    status = "ok" if code == 0 else "FAIL"
    return {"status": status, "summary": f"{size} run, {rows} result rows in {out}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/gpu_check.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or "gpu-check-results")
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for all steps")
    parser.add_argument(
        "--dry-run", action="store_true", help="skip every GPU step and the install"
    )
    parser.add_argument(
        "--fake", action="store_true", help="GPU steps on tests/fake_cupy.py (tests)"
    )
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset")
    parser.add_argument("--step", help=argparse.SUPPRESS)  # internal: run one in-process step
    parser.add_argument("--big-elements", type=int, default=BIG_ELEMENTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.step:
        return _child(args.step, out, args.big_elements)
    run = Run(out, args.budget, args.fake)
    started = time.monotonic()
    wanted = [s for s in STEPS if s in args.steps.split(",")]
    for name in wanted:
        t0 = time.monotonic()
        needs_gpu = STEPS[name][1]
        if needs_gpu and (args.dry_run or not run.gpu):
            why = "dry run" if args.dry_run else "no usable GPU (see env)"
            result = {"status": "skipped", "summary": why}
        elif run.left() <= 1:
            result = {"status": "skipped", "summary": "no time left in the budget"}
        elif name == "install":
            result = _install(run, args.fake)
        elif name in ("selftest", "pytest", "bench"):
            result = {"selftest": _selftest, "pytest": _pytest, "bench": _bench}[name](run)
        else:
            extra = ["--big-elements", str((1 << 20) + 4096)] if name == "big" and args.fake else []
            result = _in_process_step(run, name, *extra)
        if name == "env":
            run.gpu = bool(result.get("details", {}).get("gpu_count")) and not args.dry_run
        result["seconds"] = round(time.monotonic() - t0, 1)
        run.results[name] = result
        (out / f"{name}.json").write_text(json.dumps(result, indent=1, default=str))
        print(f"[{result['status']:>7}] {name:<9} {result['seconds']:6.1f} s  {result['summary']}",
              flush=True)  # fmt: skip
    return _summary(run, time.monotonic() - started)


def _summary(run: Run, took: float) -> int:
    failed = [n for n, r in run.results.items() if r["status"] == "FAIL"]
    lines = [f"# mxlite gpu-check ({time.strftime('%Y-%m-%d %H:%M')}, {took:.0f} s)", "",
             "| step | status | seconds | summary |", "| --- | --- | --- | --- |"]  # fmt: skip
    for name, r in run.results.items():
        lines.append(f"| {name} | {r['status']} | {r['seconds']} | {r['summary']} |")
    verdict = "FAILED: " + ", ".join(failed) if failed else "passed"
    lines += ["", f"gpu-check {verdict}" + ("" if run.gpu else " (dry run: no GPU steps ran)")]
    (run.out / "summary.md").write_text("\n".join(lines) + "\n")
    (run.out / "summary.json").write_text(json.dumps(run.results, indent=1, default=str))
    print("\n".join(lines[-1:]) + f"; results in {run.out}")
    return 1 if failed else 0


def _child(name: str, out: Path, big_elements: int) -> int:
    """Run one step of tools/gpu_check_steps.py here and write ``<name>.json``."""
    import gpu_check_steps as steps  # tools/ is sys.path[0]

    try:
        result = steps.step_big(big_elements) if name == "big" else steps.STEPS[name]()
    except Exception as err:  # report the step's failure, with the traceback in <name>.log
        import traceback

        traceback.print_exc()
        result = {"status": "FAIL", "summary": f"{type(err).__name__}: {err}"}
    (out / f"{name}.json").write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
