"""What a fresh process pays the first time it runs mxlite's CPU kernels.

Every Numba kernel is compiled once and cached on disk (``cache=True``); a new process still
imports Numba, lets it initialize its typing registries (Numba imports ``scipy.linalg`` there
when SciPy is installed, to look for BLAS) and loads each kernel from the cache on its first
call. ``import mxlite`` does not import Numba: that happens at the first kernel call. Each row
below is measured in its own fresh interpreter, median of ``repeat`` processes:

* ``import mxlite``;
* ``first initialize+zero_grad``: the whole first ``ParameterDict.initialize`` (50 x (64, 64),
  Xavier) plus the first ``zero_grad``, imports included, after ``import mxlite``;
* ``numba import`` and ``numba first dispatch`` (a trivial cached kernel: Numba's one-time
  initialization, SciPy included when installed);
* ``mxlite kernels``: the first calls of the fill, zero and average kernels once Numba is up
  (loading them from the cache): the cost that is mxlite's own.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import mxlite as mx
t1 = time.perf_counter()
out = {"import mxlite": t1 - t0, "scipy installed": False}
try:
    import importlib.util
    out["scipy installed"] = importlib.util.find_spec("scipy") is not None
except Exception:
    pass
if sys.argv[1] == "whole":
    p = mx.gluon.ParameterDict()
    for i in range(50):
        p.get(f"p{i}_weight", shape=(64, 64))
    t2 = time.perf_counter()
    p.initialize(mx.init.Xavier())
    p.zero_grad()
    out["first initialize+zero_grad"] = time.perf_counter() - t2
else:
    import numpy as np
    t2 = time.perf_counter()
    import numba
    t3 = time.perf_counter()
    from mxlite.ops._numba import _primitives as _cpu_primitives
    _cpu_primitives.data_address(np.empty(1, np.float32))
    t4 = time.perf_counter()
    from mxlite import ops
    a = [np.empty((64, 64), np.float32) for _ in range(3)]
    ops.multi_fill_uniform(a, [0.0] * 3, [1.0] * 3, [(1, 2)] * 3)
    ops.multi_fill_normal(a, [0.0] * 3, [1.0] * 3, [(1, 2)] * 3)
    big = [np.empty(1 << 15, np.float32) for _ in range(3)]
    ops.ZeroPlan(big)()
    ops.AveragePlan([big[:2]], [big[2]])()
    t5 = time.perf_counter()
    out.update({"numba import": t3 - t2, "numba first dispatch": t4 - t3,
                "mxlite kernels": t5 - t4})
print(json.dumps(out))
"""


def measure(repeat: int = 3) -> dict[str, Any]:
    """Median seconds of each step over ``repeat`` fresh processes (see the module docstring)."""
    samples: dict[str, list[float]] = {}
    scipy = False
    for _ in range(repeat):
        for mode in ("whole", "parts"):
            proc = subprocess.run(
                [sys.executable, "-c", _SCRIPT, mode],
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            scipy = bool(row.pop("scipy installed"))
            for key, value in row.items():
                samples.setdefault(key, []).append(float(value))
    result: dict[str, Any] = {k: statistics.median(v) for k, v in samples.items()}
    result["scipy installed"] = scipy
    return result


def markdown(result: dict[str, Any]) -> str:
    """A small table of :func:`measure`'s result."""
    lines = [
        "First call in a fresh process (median of fresh interpreters; SciPy "
        + ("installed" if result.get("scipy installed") else "not installed")
        + "):",
        "",
        "| step | seconds |",
        "|---|---|",
    ]
    for key, value in result.items():
        if key != "scipy installed":
            lines.append(f"| {key} | {value:.3f} |")
    return "\n".join(lines) + "\n"
