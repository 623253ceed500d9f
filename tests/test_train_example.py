"""examples/train_mlp.py (the main job): data-parallel digits MLP on [cpu(0), cpu(1)].

Runs the script's ``main()`` in-process: it must return 0 (>= 95% test accuracy, and the
reloaded network reproduces the trained accuracy) and finish well under a minute.
"""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path
from types import ModuleType

import pytest

import mxlite as mx

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_mlp.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_mlp_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> ModuleType:
    pytest.importorskip("sklearn", reason="the example trains on scikit-learn's digits")
    return _load_example()


def test_example_trains_to_95_percent_on_two_cpu_contexts_quickly(
    example: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.perf_counter()
    status = example.main(["--contexts", "cpu0,cpu1", "--epochs", "15"])
    elapsed = time.perf_counter() - start
    out = capsys.readouterr().out
    assert status == 0, out
    assert elapsed < 30.0, f"the example took {elapsed:.1f} s"
    assert "contexts: [cpu(0), cpu(1)]" in out
    assert len(re.findall(r"^epoch +\d+ +loss [0-9.]+ +test accuracy [0-9.]+$", out, re.M)) == 15
    match = re.search(r"final test accuracy ([0-9.]+); reloaded ([0-9.]+);", out)
    assert match is not None, out
    trained, reloaded = float(match.group(1)), float(match.group(2))
    assert trained >= 0.95 and reloaded == trained


def test_example_reports_failure_below_required_accuracy(
    example: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    status = example.main(["--contexts", "cpu0", "--epochs", "1", "--min-accuracy", "1.01"])
    out = capsys.readouterr().out
    assert status == 1
    assert "is below the required 1.01" in out


def test_parse_contexts() -> None:
    mod = _load_example()
    assert mod.parse_contexts("cpu0,cpu1") == [mx.cpu(0), mx.cpu(1)]
    assert mod.parse_contexts("gpu1") == [mx.gpu(1)]
    default = mod.parse_contexts(None)
    assert default == ([mx.gpu(i) for i in range(mx.context.num_gpus())] or [mx.cpu(0), mx.cpu(1)])
