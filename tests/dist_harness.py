"""Starting real worker processes for the distributed-store tests.

mxlite's workers run under ``mpiexec`` (mpi4py and MPICH from the ``dist`` extra); MXNet 1.9.1's
run under ps-lite, as MXNet's own launcher starts them: a scheduler, one server and the workers,
told their roles by ``DMLC_*`` variables, on 127.0.0.1. Worker scripts live in
``tests/dist_workers/`` and print one ``JSON{...}`` record each. Every process group is killed
when a test's time runs out, so nothing is left behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.oracle import ORACLE_PYTHON, oracle_available

ROOT = Path(__file__).resolve().parents[1]
WORKERS = ROOT / "tests" / "dist_workers"


def mpiexec() -> str:
    """The ``mpiexec`` of mpi4py's MPI (next to this Python, else on PATH); skips (fails in CI)
    when mpi4py or mpiexec is missing."""
    found = None
    if importlib.util.find_spec("mpi4py") is not None:
        local = Path(sys.executable).parent / "mpiexec"
        found = str(local) if local.exists() else shutil.which("mpiexec")
    if found is None:
        reason = "mpi4py and mpiexec are needed: pip install 'mxlite[dist]' (mpi4py, mpich)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def worker_env(extra: dict[str, str] | None) -> dict[str, str]:
    """This environment, with the checkout on PYTHONPATH (workers import this mxlite)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("MXLITE_FAKE_CUPY", None)
    # Workers share this machine's cores: one BLAS/Numba thread each (as the README advises),
    # and the same in the one-process runs they are compared with.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(NUMBA_NUM_THREADS="1")
    env.update(extra or {})
    return env


def run(cmd: list[str], timeout: float, env: dict[str, str], cwd: Path) -> tuple[int, str, float]:
    """Run ``cmd`` in its own process group; returns (status, stdout + stderr, seconds). On
    timeout the whole group is killed and the status is -9."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return -9, out + f"\n[killed after {timeout} s]", time.monotonic() - start
    return proc.returncode, out, time.monotonic() - start


def run_workers(
    n: int | None,
    script: str,
    *args: str,
    cwd: Path,
    timeout: float = 180,
    env: dict[str, str] | None = None,
) -> tuple[int, str, float]:
    """``mpiexec -n N python tests/dist_workers/SCRIPT ARGS`` (``n=None``: one plain process)."""
    cmd = [sys.executable, str(WORKERS / script), *args]
    if n is not None:
        cmd = [mpiexec(), "-n", str(n), *cmd]
    return run(cmd, timeout, worker_env(env), cwd)


def records(output: str) -> dict[int, dict[str, Any]]:
    """The ``JSON{...}`` records in ``output`` (lines of several workers may run together),
    by their "rank"."""
    decoder = json.JSONDecoder()
    found: dict[int, dict[str, Any]] = {}
    pos = output.find("JSON{")
    while pos >= 0:
        record, end = decoder.raw_decode(output, pos + 4)
        found[int(record.get("rank", 0))] = record
        pos = output.find("JSON{", end)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_mxnet_workers(
    n: int, script: str, *args: str, cwd: Path, timeout: float = 180
) -> dict[int, dict[str, Any]]:
    """Run SCRIPT under MXNet 1.9.1's ps-lite with ``n`` workers; their records by rank."""
    if not oracle_available():
        if os.environ.get("CI"):
            pytest.fail(f"the oracle venv {ORACLE_PYTHON.parent.parent} is missing; make oracle")
        pytest.skip("oracle venv missing: run `make oracle`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        DMLC_PS_ROOT_URI="127.0.0.1", DMLC_PS_ROOT_PORT=str(_free_port()), DMLC_NUM_SERVER="1",
        DMLC_NUM_WORKER=str(n),
    )  # fmt: skip
    cmd = [str(ORACLE_PYTHON), str(WORKERS / script), *args]
    roles = ["scheduler", "server"] + ["worker"] * n
    procs = [
        subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env={**env, "DMLC_ROLE": role},
            start_new_session=True,
        )  # fmt: skip
        for role in roles
    ]
    outputs = []
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
            outputs.append(out)
            if proc.returncode != 0:
                raise AssertionError(f"MXNet {roles[len(outputs) - 1]} failed:\n{out[-3000:]}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    return records("\n".join(outputs))
