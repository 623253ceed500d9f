"""Run snippets under real MXNet 1.9.1 (the oracle) in its own virtual environment.

The Makefile's ``test`` target creates that environment (tools/ensure_oracle.sh), so differential
tests run in CI instead of skipping. Set ``MXLITE_ORACLE_VENV`` to use another location.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

ORACLE_VENV = Path(os.environ.get("MXLITE_ORACLE_VENV", "/tmp/mxref"))
ORACLE_PYTHON = ORACLE_VENV / "bin" / "python"

_PRELUDE = "import warnings\nwarnings.filterwarnings('ignore')\nimport json\nimport numpy as np\nimport mxnet as mx\n"


class OracleError(RuntimeError):
    """The oracle snippet failed; the message holds its stderr."""


def oracle_available() -> bool:
    return ORACLE_PYTHON.exists()


def run_oracle(script: str, cwd: str | os.PathLike[str] | None = None, timeout: float = 120) -> str:
    """Run ``script`` (dedented; numpy as np, mxnet as mx, json already imported) and return stdout.

    Raises:
        OracleError: when the snippet exits non-zero.
    """
    if not oracle_available():
        if os.environ.get("CI"):
            raise OracleError(f"the oracle venv {ORACLE_VENV} is missing; run `make oracle`")
        pytest.skip(f"oracle venv {ORACLE_VENV} missing: run `make oracle` to create it")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["MXNET_STORAGE_FALLBACK_LOG_VERBOSE"] = "0"
    proc = subprocess.run(
        [str(ORACLE_PYTHON), "-c", _PRELUDE + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise OracleError(f"oracle snippet failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def run_oracle_json(script: str, cwd: str | os.PathLike[str] | None = None) -> Any:
    """Run ``script``, which must ``print(json.dumps(result))`` as its last line; return result."""
    out = run_oracle(script, cwd=cwd).strip().splitlines()
    return json.loads(out[-1])
