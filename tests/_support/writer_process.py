"""A Python writer in a fresh interpreter (repo importable), for kill and exit tests of saving."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def python_process(script: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """Run ``python -c script args...`` with text pipes; killed (if still running) and reaped."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(REPO),
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def expect_line(proc: subprocess.Popen[str], expected: str) -> None:
    """Wait for the process's next output line; fail with its stderr unless it is ``expected``."""
    line = proc.stdout.readline() if proc.stdout else ""
    if line.strip() != expected:
        err = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
        raise AssertionError(f"expected {expected!r} from the writer, got {line!r}; stderr: {err}")
