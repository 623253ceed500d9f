"""mx.lr_scheduler against MXNet 1.9.1: sequences of num_update values, logging, argument checks."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from mxlite import lr_scheduler
from tests._support.oracle import run_oracle_json

# (class name, kwargs, num_update sequence). Sequences are stateful: each runs on one instance.
_MONO = list(range(0, 31))
_JUMPY = [0, 1, 5, 4, 12, 30, 31, 29, 100, 7, 250, 251]
SCENARIOS: list[tuple[str, dict[str, Any], list[int]]] = [
    ("FactorScheduler", {"step": 5, "factor": 0.5}, _MONO),
    ("FactorScheduler", {"step": 5, "factor": 0.5}, _JUMPY),
    ("FactorScheduler", {"step": 1, "factor": 0.9, "base_lr": 0.1}, _MONO),
    ("FactorScheduler", {"step": 3, "factor": 0.1, "stop_factor_lr": 1e-4, "base_lr": 1.0}, _MONO),
    (
        "FactorScheduler",
        {"step": 4, "factor": 0.5, "warmup_steps": 6, "warmup_begin_lr": 0.001},
        _MONO,
    ),
    (
        "FactorScheduler",
        {
            "step": 4,
            "factor": 0.5,
            "warmup_steps": 6,
            "warmup_begin_lr": 0.002,
            "warmup_mode": "constant",
        },
        _JUMPY,
    ),
    ("FactorScheduler", {"step": 2.5, "factor": 0.5}, _MONO),
    ("MultiFactorScheduler", {"step": [3, 7, 8, 20], "factor": 0.5}, _MONO),
    ("MultiFactorScheduler", {"step": [3, 7, 8, 20], "factor": 0.5}, _JUMPY),
    (
        "MultiFactorScheduler",
        {"step": [1], "factor": 0.1, "base_lr": 2.0, "warmup_steps": 3},
        _MONO,
    ),
    ("PolyScheduler", {"max_update": 20}, _MONO),
    ("PolyScheduler", {"max_update": 20, "base_lr": 0.5, "pwr": 3, "final_lr": 0.01}, _JUMPY),
    (
        "PolyScheduler",
        {"max_update": 25, "pwr": 1, "warmup_steps": 5, "warmup_begin_lr": 0.001},
        _MONO,
    ),
    ("CosineScheduler", {"max_update": 20}, _MONO),
    ("CosineScheduler", {"max_update": 20, "base_lr": 0.3, "final_lr": 0.05}, _JUMPY),
    (
        "CosineScheduler",
        {"max_update": 24, "warmup_steps": 4, "warmup_begin_lr": 0.004, "warmup_mode": "constant"},
        _MONO,
    ),
]

# (class name, kwargs, a fragment our message must contain)
BAD_ARGS: list[tuple[str, dict[str, Any], str]] = [
    ("FactorScheduler", {"step": 0}, "greater or equal than 1"),
    ("FactorScheduler", {"step": 2, "factor": 1.5}, "no more than 1"),
    ("FactorScheduler", {"step": 2, "warmup_steps": 1.5}, "warmup_steps must be an int"),
    ("FactorScheduler", {"step": 2, "warmup_steps": -1}, "positive or 0"),
    ("FactorScheduler", {"step": 2, "warmup_begin_lr": 0.5}, "higher than warmup_begin_lr"),
    ("FactorScheduler", {"step": 2, "warmup_mode": "cubic"}, "linear and constant"),
    ("MultiFactorScheduler", {"step": 5}, "must be a list"),
    ("MultiFactorScheduler", {"step": []}, "at least one"),
    ("MultiFactorScheduler", {"step": [5, 5]}, "increasing"),
    ("MultiFactorScheduler", {"step": [0, 5]}, "greater or equal than 1"),
    ("MultiFactorScheduler", {"step": [2], "factor": 2}, "no more than 1"),
    ("PolyScheduler", {"max_update": 10.0}, "max_update must be an int"),
    ("PolyScheduler", {"max_update": 0}, "strictly positive"),
    ("PolyScheduler", {"max_update": 10, "warmup_begin_lr": 1.0}, "higher than warmup_begin_lr"),
    ("CosineScheduler", {"max_update": "10"}, "max_update must be an int"),
    ("CosineScheduler", {"max_update": -3}, "strictly positive"),
]

_ORACLE_SCRIPT = """
import logging
scenarios = json.loads({scen!r})
bad = json.loads({bad!r})
class Grab(logging.Handler):
    def __init__(self):
        super().__init__(); self.lines = []
    def emit(self, record):
        self.lines.append(record.getMessage())
root = logging.getLogger(); root.setLevel(logging.INFO)
out = {{"seq": [], "bad": []}}
for name, kwargs, seq in scenarios:
    grab = Grab(); root.addHandler(grab)
    sched = getattr(mx.lr_scheduler, name)(**kwargs)
    lrs = [sched(n) for n in seq]
    root.removeHandler(grab)
    out["seq"].append({{"lrs": lrs, "log": grab.lines, "base_lr": sched.base_lr}})
for name, kwargs in bad:
    try:
        getattr(mx.lr_scheduler, name)(**kwargs)
        out["bad"].append(None)
    except Exception as err:
        out["bad"].append(type(err).__name__)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def oracle_results() -> dict[str, Any]:
    scen = json.dumps([[n, k, s] for n, k, s in SCENARIOS])
    bad = json.dumps([[n, k] for n, k, _ in BAD_ARGS])
    return run_oracle_json(_ORACLE_SCRIPT.format(scen=scen, bad=bad))


@pytest.mark.oracle
@pytest.mark.parametrize(
    "case", range(len(SCENARIOS)), ids=[f"{s[0]}-{i}" for i, s in enumerate(SCENARIOS)]
)
def test_sequence_matches_oracle(
    case: int, oracle_results: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    name, kwargs, seq = SCENARIOS[case]
    expected = oracle_results["seq"][case]
    sched = getattr(lr_scheduler, name)(**kwargs)
    with caplog.at_level(logging.INFO):
        lrs = [sched(n) for n in seq]
    assert lrs == pytest.approx(expected["lrs"], rel=1e-15, abs=0)
    assert sched.base_lr == pytest.approx(expected["base_lr"], rel=1e-15)
    assert [r.getMessage() for r in caplog.records] == expected["log"]


@pytest.mark.oracle
@pytest.mark.parametrize(
    "case", range(len(BAD_ARGS)), ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_ARGS)]
)
def test_bad_arguments_match_oracle(case: int, oracle_results: dict[str, Any]) -> None:
    name, kwargs, fragment = BAD_ARGS[case]
    oracle_type = oracle_results["bad"][case]
    assert oracle_type in ("ValueError", "AssertionError")
    expected = ValueError if oracle_type == "ValueError" else AssertionError
    with pytest.raises(expected, match=fragment):
        getattr(lr_scheduler, name)(**kwargs)


def test_assert_style_errors_are_also_typed() -> None:
    with pytest.raises(TypeError, match="warmup_steps must be an int"):
        lr_scheduler.CosineScheduler(10, warmup_steps=2.0)  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        lr_scheduler.MultiFactorScheduler([])
    with pytest.raises(TypeError, match="must be a list"):  # MXNet: AssertionError for a tuple too
        lr_scheduler.MultiFactorScheduler((5, 6))  # type: ignore[arg-type]


def test_base_class_call_is_abstract() -> None:
    with pytest.raises(NotImplementedError, match="must override this"):
        lr_scheduler.LRScheduler()(3)


def test_get_warmup_lr_outside_warmup_raises() -> None:
    sched = lr_scheduler.FactorScheduler(step=2, warmup_steps=3)
    assert sched.get_warmup_lr(2) == pytest.approx(0.01 * 2 / 3)
    with pytest.raises(AssertionError, match="not inside the warmup"):
        sched.get_warmup_lr(3)


def test_factor_scheduler_state_is_kept_across_calls() -> None:
    sched = lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=1.0)
    assert sched(7) == 0.125  # three boundaries passed: 2, 4, 6
    assert sched(1) == 0.125  # never raised again
    assert sched.count == 6


def test_failed_construction_leaves_no_partial_object() -> None:
    with pytest.raises(ValueError):
        lr_scheduler.FactorScheduler(step=0)
    sched = lr_scheduler.FactorScheduler(step=3)
    assert (sched.step, sched.factor, sched.count, sched.base_lr) == (3, 1, 0, 0.01)
