"""Real MXNet 1.9.1 as a peer on the CPU, run in its own virtual environment (the oracle venv).

The same cases as mxlite's (Xavier init, zero_grad, save, load, reset_ctx) run in one MXNet
process per parameter set; it prints its rows as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from bench.sets import ParamSet

ORACLE_PYTHON = Path(os.environ.get("MXLITE_ORACLE_VENV", "/tmp/mxref")) / "bin" / "python"

_SCRIPT = r"""
import json, os, statistics, sys, tempfile, time, warnings
warnings.filterwarnings("ignore")
import mxnet as mx
spec = json.loads(sys.argv[1])
shapes = [tuple(s) for s in spec["shapes"]]
names = spec["names"]
repeat = spec["repeat"]

def median_time(fn):
    fn(); mx.nd.waitall()
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); mx.nd.waitall(); times.append(time.perf_counter() - t)
        if sum(times) > 10: break
    return statistics.median(times)

params = mx.gluon.ParameterDict()
for n, s in zip(names, shapes):
    params.get(n, shape=s, init="zeros" if len(s) == 1 else None)
ctx = [mx.cpu(0)]
params.initialize(mx.init.Uniform(), ctx=ctx)
rows = {}
rows["init_xavier"] = median_time(lambda: params.initialize(mx.init.Xavier(), ctx=ctx, force_reinit=True))
rows["zero_grad"] = median_time(params.zero_grad)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "b.params")
    rows["save"] = median_time(lambda: params.save(path))
    rows["load"] = median_time(lambda: params.load(path, ctx=ctx))
if spec.get("reset_ctx"):
    a, b = [mx.cpu(0), mx.cpu(1)], [mx.cpu(2), mx.cpu(3)]
    params.reset_ctx(a)
    state = {"at": a}
    def flip():
        state["at"] = b if state["at"] is a else a
        params.reset_ctx(state["at"])
    rows["reset_ctx_2"] = median_time(flip)
print(json.dumps(rows))
"""


def available() -> bool:
    return ORACLE_PYTHON.exists()


def mxnet_cases(
    pset: ParamSet, repeat: int, reset_ctx: bool = True, timeout: float = 900
) -> list[dict[str, Any]]:
    """Rows for real MXNet on cpu(0); empty when the oracle venv is missing."""
    if not available():
        return []
    spec = json.dumps(
        {
            "shapes": [list(s) for s in pset.shapes],
            "names": pset.names(),
            "repeat": repeat,
            "reset_ctx": reset_ctx,
        }
    )
    proc = subprocess.run(
        [str(ORACLE_PYTHON), "-c", _SCRIPT, spec],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )
    if proc.returncode != 0:
        raise RuntimeError(f"MXNet peer failed on {pset.name}:\n{proc.stderr[-2000:]}")
    timings = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = []
    for case, seconds in timings.items():
        nbytes = 2 * pset.nbytes if case == "reset_ctx_2" else pset.nbytes
        ctx = "cpu x2" if case == "reset_ctx_2" else "cpu(0)"
        rows.append(
            {
                "case": case,
                "set": pset.name,
                "tensors": pset.count,
                "ctx": ctx,
                "impl": "mxnet 1.9.1",
                "seconds": seconds,
                "bytes": nbytes,
                "GBps": nbytes / seconds / 1e9,
            }
        )
    return rows


# What the main job (examples/train_mlp.py) imports besides MXNet; installed into the oracle
# venv on first use, with NumPy held below 1.24 (MXNet 1.9.1's limit).
DEMO_PACKAGES = ("scikit-learn<1.6", "tqdm", "numpy<1.24")


def ensure_demo_packages() -> bool:
    """Make the oracle venv able to run examples/train_mlp.py; False when it cannot."""
    if not available():
        return False
    probe = subprocess.run(
        [str(ORACLE_PYTHON), "-c", "import sklearn, tqdm"], capture_output=True, cwd="/"
    )
    if probe.returncode == 0:
        return True
    print("installing scikit-learn and tqdm into the MXNet oracle venv (once)", flush=True)
    proc = subprocess.run(
        [str(ORACLE_PYTHON), "-m", "pip", "install", "-q", *DEMO_PACKAGES],
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0
