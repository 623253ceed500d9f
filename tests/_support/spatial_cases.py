"""A harness for differential operator tests: one list of cases runs under MXNet 1.9.1 (one
oracle process) and under mxlite, with the identical runner code, and the results are compared.

A case is ``{"op": name, "kwargs": {...}, "inputs": [arrays], "grad": [input indices],
"train": bool}``. The runner records the op under ``autograd.record(train_mode=train)``,
differentiates the first output with a fixed head gradient (``RandomState(i)``, so both sides
use the same one), and returns the outputs, the input gradients and every input after the call
(BatchNorm updates its moving statistics in place) — or the exception's type and message.
Inputs and results travel through ``.npz`` files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tests._support.oracle import run_oracle

RUNNER = """
def run_cases(mx, np, cases, arrays):
    results, errors = {}, {}
    for i, case in enumerate(cases):
        try:  # an earlier case's asynchronous error surfaces here, not in this case
            mx.nd.waitall()
        except Exception:
            pass
        op = mx.nd
        for part in case["op"].split("."):
            op = getattr(op, part)
        ins = []
        for j in range(case["n_in"]):
            a = arrays["%d_in%d" % (i, j)]
            ins.append(mx.nd.array(a, dtype=a.dtype))
        for j in case["grad"]:
            ins[j].attach_grad()
        try:
            with mx.autograd.record(train_mode=case["train"]):
                res = op(*ins, **case["kwargs"])
            outs = list(res) if isinstance(res, (list, tuple)) else [res]
            if case["grad"]:
                head = np.random.RandomState(i).uniform(0.5, 1.5, outs[0].shape)
                outs[0].backward(mx.nd.array(head, dtype=outs[0].dtype),
                                 train_mode=case["backward_train"])
            for k, o in enumerate(outs):
                results["%d_out%d" % (i, k)] = o.asnumpy()
            for j in case["grad"]:
                results["%d_grad%d" % (i, j)] = ins[j].grad.asnumpy()
            for j in range(len(ins)):
                results["%d_after%d" % (i, j)] = ins[j].asnumpy()
            mx.nd.waitall()
        except Exception as err:  # compared with mxlite's error
            errors[str(i)] = [type(err).__name__, str(err)]
    return results, errors
"""


def _prepare(cases: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    meta, arrays = [], {}
    for i, case in enumerate(cases):
        for j, arr in enumerate(case["inputs"]):
            arrays[f"{i}_in{j}"] = np.asarray(arr)
        train = case.get("train", True)
        meta.append(
            {
                "op": case["op"],
                "kwargs": case.get("kwargs", {}),
                "n_in": len(case["inputs"]),
                "grad": list(case.get("grad", [])),
                "train": train,
                "backward_train": case.get("backward_train", train),
            }
        )
    return meta, arrays


def run_mxnet(cases: list[dict[str, Any]], tmp: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Run ``cases`` under MXNet 1.9.1 (one process); returns (results, errors)."""
    meta, arrays = _prepare(cases)
    np.savez(tmp / "cases_in.npz", **arrays)
    (tmp / "cases.json").write_text(json.dumps(meta))
    script = (
        RUNNER
        + """
arrays = dict(np.load("cases_in.npz"))
cases = json.load(open("cases.json"))
results, errors = run_cases(mx, np, cases, arrays)
np.savez("cases_out.npz", **results)
json.dump(errors, open("cases_err.json", "w"))
"""
    )
    run_oracle(script, cwd=tmp, timeout=600)
    with np.load(tmp / "cases_out.npz") as f:
        results = dict(f)
    return results, json.loads((tmp / "cases_err.json").read_text())


def run_mxlite(cases: list[dict[str, Any]]) -> tuple[dict[str, np.ndarray], dict]:
    """Run ``cases`` under mxlite with the same runner; returns (results, errors)."""
    import mxlite

    meta, arrays = _prepare(cases)
    scope: dict[str, Any] = {}
    exec(RUNNER, scope)  # noqa: S102 - the shared runner text, also run by the oracle
    results, errors = scope["run_cases"](mxlite, np, meta, arrays)
    return results, {str(k): list(v) for k, v in errors.items()}


def tolerance(dtype: Any) -> dict[str, float]:
    """Comparison tolerances by input dtype."""
    return {
        np.dtype(np.float16): {"rtol": 2e-2, "atol": 2e-2},
        np.dtype(np.float32): {"rtol": 1e-4, "atol": 1e-4},
        np.dtype(np.float64): {"rtol": 1e-9, "atol": 1e-10},
    }[np.dtype(dtype)]


def compare(
    cases: list[dict[str, Any]],
    ref: tuple[dict[str, np.ndarray], dict],
    got: tuple[dict[str, np.ndarray], dict],
    error_fragments: dict[int, str] | None = None,
) -> None:
    """Assert that mxlite's results equal MXNet's case by case (values within the dtype's
    tolerance, shapes and dtypes exactly; errors: the same outcome, the exception type name, and
    ``error_fragments[i]`` in mxlite's message when given)."""
    ref_res, ref_err = ref
    res, err = got
    problems = []
    for i, case in enumerate(cases):
        key = str(i)
        label = f"case {i} ({case['op']} {case.get('kwargs', {})})"
        if key in ref_err or key in err:
            if key not in ref_err:
                problems.append(f"{label}: mxlite raised {err[key]}, MXNet did not")
            elif key not in err:
                problems.append(f"{label}: MXNet raised {ref_err[key][0]}, mxlite did not")
            elif ref_err[key][0] != err[key][0]:
                problems.append(f"{label}: {err[key][0]} instead of MXNet's {ref_err[key][0]}")
            elif error_fragments and i in error_fragments and error_fragments[i] not in err[key][1]:
                problems.append(f"{label}: message lacks {error_fragments[i]!r}: {err[key][1]}")
            continue
        tol = tolerance(case["inputs"][0].dtype)
        names = sorted(k for k in ref_res if k.split("_")[0] == key)
        for name in names:
            if name not in res:
                problems.append(f"{label}: mxlite has no {name}")
                continue
            a, b = res[name], ref_res[name]
            if a.shape != b.shape or a.dtype != b.dtype:
                problems.append(f"{label} {name}: {a.shape} {a.dtype} vs MXNet {b.shape} {b.dtype}")
            elif not np.allclose(a, b, equal_nan=True, **tol):
                diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
                problems.append(f"{label} {name}: max |diff| {np.nanmax(diff):.3g}")
    assert not problems, "\n".join(problems)
