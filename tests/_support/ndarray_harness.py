"""Run the same NDArray scenarios under real MXNet 1.9.1 and under mxlite, then compare.

A scenario is a snippet of Python that assigns its outcome to ``r``; it sees ``mx`` (mxnet or
mxlite) and ``onp`` (NumPy). :data:`HARNESS` describes every outcome the same way in both
interpreters: arrays by class name, dtype, shape, context and values; Python values as they are;
exceptions by the first of MXNet's exception kinds in their MRO. One oracle process runs a whole
batch of scenario groups.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import mxlite
from tests._support.oracle import run_oracle_json

HARNESS = r"""
import numpy as _onp

_KINDS = ("MXNetError", "IndexError", "KeyError", "ValueError", "TypeError", "AttributeError",
          "AssertionError", "ZeroDivisionError")


def _kind(err):
    for cls in type(err).__mro__:
        if cls.__name__ in _KINDS:
            return cls.__name__
    return type(err).__name__


def _num(v):
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    return v


def _describe(r):
    if hasattr(r, "asnumpy") and hasattr(r, "shape") and hasattr(r, "context"):
        a = r.asnumpy()
        vals = a.ravel().tolist() if a.dtype.kind == "b" else a.astype("float64").ravel().tolist()
        return {"t": "array", "cls": type(r).__name__, "dtype": _onp.dtype(r.dtype).name,
                "shape": list(r.shape), "ctx": str(r.context), "v": [_num(v) for v in vals]}
    if isinstance(r, _onp.ndarray):
        return {"t": "numpy", "dtype": r.dtype.name, "shape": list(r.shape),
                "v": [_num(v) for v in r.astype("float64").ravel().tolist()]}
    if isinstance(r, _onp.generic):
        return {"t": "npscalar", "dtype": r.dtype.name, "v": _num(r.item())}
    if isinstance(r, (tuple, list)):
        return {"t": type(r).__name__, "v": [_describe(x) for x in r]}
    if isinstance(r, type):
        return {"t": "type", "v": r.__name__}
    if r is None or isinstance(r, (bool, int, float, str)):
        return {"t": "py", "type": type(r).__name__, "v": _num(r)}
    if isinstance(r, _onp.dtype):
        return {"t": "dtype", "v": str(r)}
    if type(r).__name__ == "Context":
        return {"t": "ctx", "v": str(r)}
    return {"t": "other", "v": type(r).__name__}


def run_groups(mx, groups):
    out = {}
    for gname, (np_mode, cases) in groups.items():
        res = {}
        for name, code in cases:
            ns = {"mx": mx, "onp": _onp}
            if np_mode:
                mx.npx.set_np()
            try:
                exec(code, ns)
                res[name] = _describe(ns["r"])
            except Exception as err:
                res[name] = {"t": "error", "v": _kind(err)}
            finally:
                if np_mode:
                    mx.npx.reset_np()
        out[gname] = res
    return out
"""

Groups = dict[str, tuple[bool, list[tuple[str, str]]]]


def run_reference(groups: Groups, workdir: Path) -> dict[str, dict[str, Any]]:
    """Outcomes of ``groups`` under real MXNet (one oracle process; the scenarios and the harness
    travel through files in ``workdir``, too long for a command line)."""
    (workdir / "groups.json").write_text(json.dumps(groups))
    (workdir / "harness.py").write_text(HARNESS)
    script = (
        "exec(open('harness.py').read())\n"
        "print(json.dumps(run_groups(mx, json.load(open('groups.json')))))\n"
    )
    return run_oracle_json(script, cwd=workdir)


def run_mxlite(groups: Groups) -> dict[str, dict[str, Any]]:
    """Outcomes of ``groups`` under mxlite, in this process."""
    ns: dict[str, Any] = {}
    exec(HARNESS, ns)
    plain = json.loads(json.dumps(groups))
    return json.loads(json.dumps(ns["run_groups"](mxlite, plain)))


def _close(a: Any, b: Any, rtol: float) -> bool:
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    return math.isclose(a, b, rel_tol=rtol, abs_tol=rtol * 1e-3)


def same(ref: dict[str, Any], got: dict[str, Any], rtol: float = 2e-7) -> bool:
    """Whether two outcome descriptions agree (values within ``rtol`` for floats)."""
    if ref.get("t") != got.get("t"):
        return False
    if ref["t"] in ("array", "numpy"):
        keys = ("cls", "dtype", "shape", "ctx") if ref["t"] == "array" else ("dtype", "shape")
        if any(ref.get(k) != got.get(k) for k in keys) or len(ref["v"]) != len(got["v"]):
            return False
        return all(_close(x, y, rtol) for x, y in zip(ref["v"], got["v"]))
    if ref["t"] in ("tuple", "list"):
        return len(ref["v"]) == len(got["v"]) and all(
            same(x, y, rtol) for x, y in zip(ref["v"], got["v"])
        )
    if ref["t"] == "npscalar":
        return ref["dtype"] == got["dtype"] and _close(ref["v"], got["v"], rtol)
    if ref["t"] == "py" and ref.get("type") == "float":
        return got.get("type") == "float" and _close(ref["v"], got["v"], rtol)
    return ref == got


def mismatches(
    ref: dict[str, Any], got: dict[str, Any], cases: list[tuple[str, str]], rtol: float = 2e-7
) -> list[str]:
    """Readable lines for every case whose outcomes differ."""
    lines = []
    for name, code in cases:
        if not same(ref[name], got[name], rtol):
            lines.append(f"{name}: {code!r}\n    mxnet : {ref[name]}\n    mxlite: {got[name]}")
    return lines
