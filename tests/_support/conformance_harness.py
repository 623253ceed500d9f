"""Run one batch of expressions under MXNet 1.9.1 and under mxlite and compare what a user sees.

A case is ``(name, expression, fragment)``: the expression is evaluated after a shared prelude
(``mx``, ``np`` and the prelude's names in scope). Its outcome is summarised the same way in both
libraries: for a value, its shape, dtype and elements (``repr`` of each, so NaN compares equal);
for an exception, the names of its class and of its bases, and its message. ``fragment`` (or
None) is text both messages must contain, so the wording checked really is MXNet's.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import numpy as np

import mxlite as mx
from tests._support.oracle import run_oracle_json

#: Summarises one outcome; the same source runs in both libraries.
_SUMMARY = """
def _summary(thunk):
    try:
        r = thunk()
    except Exception as e:
        return {"err": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__],
                "msg": str(e)}
    if hasattr(r, "asnumpy"):
        a = r.asnumpy()
        return {"shape": list(a.shape), "dtype": str(a.dtype),
                "value": [repr(v) for v in a.astype("float64").ravel().tolist()]}
    if isinstance(r, np.ndarray):
        return {"np_shape": list(r.shape), "dtype": str(r.dtype),
                "value": [repr(v) for v in r.astype("float64").ravel().tolist()]}
    return {"py": repr(r)}
"""

Case = tuple[str, str, str | None]


def _driver(prelude: str, cases: list[Case]) -> str:
    body = [_SUMMARY, textwrap.dedent(prelude), "_out = {}"]
    for name, expr, _ in cases:
        body.append(f"_out[{name!r}] = _summary(lambda: ({expr}))")
    return "\n".join(body)


def run_both(prelude: str, cases: list[Case]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(mxnet_outcomes, mxlite_outcomes)`` of ``cases`` by name."""
    script = _driver(prelude, cases)
    ref = run_oracle_json(script + "\nprint(json.dumps(_out))")
    scope: dict[str, Any] = {"mx": mx, "np": np, "json": json}
    exec(compile(script, "<conformance>", "exec"), scope)  # noqa: S102 - our own test source
    return ref, scope["_out"]


def _close(want: dict[str, Any], have: dict[str, Any], rtol: float) -> bool:
    """Same shape and dtype, and values within ``rtol`` (NaN equal to NaN)."""
    if rtol == 0 or "value" not in want or "value" not in have:
        return want == have
    if {k: v for k, v in want.items() if k != "value"} != {
        k: v for k, v in have.items() if k != "value"
    }:
        return False
    a = np.array([float(v) for v in want["value"]])
    b = np.array([float(v) for v in have["value"]])
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=0, equal_nan=True))


def check_same(
    ref: dict[str, Any], got: dict[str, Any], cases: list[Case], rtol: float = 0.0
) -> None:
    """Assert that every case has MXNet's outcome: the same value (bitwise, or within ``rtol``),
    shape and dtype, or an exception of MXNet's class (or a subclass) whose message holds the
    case's fragment."""
    problems = []
    for name, expr, fragment in cases:
        want, have = ref[name], got[name]
        if "err" in want:
            if "err" not in have or want["err"] not in have["mro"]:
                problems.append(f"{name}: {expr}\n  MXNet raised {want}\n  mxlite gave {have}")
                continue
            if fragment is not None:
                if fragment not in want["msg"]:
                    problems.append(f"{name}: fragment {fragment!r} is not MXNet's: {want['msg']}")
                elif fragment not in have["msg"]:
                    problems.append(f"{name}: {fragment!r} missing from {have['msg']!r}")
        elif not _close(want, have, rtol):
            problems.append(f"{name}: {expr}\n  MXNet {want}\n  mxlite {have}")
    assert not problems, "\n".join(problems)


def assert_matches_mxnet(prelude: str, cases: list[Case], rtol: float = 0.0) -> None:
    """:func:`run_both` then :func:`check_same`."""
    ref, got = run_both(prelude, cases)
    check_same(ref, got, cases, rtol)
