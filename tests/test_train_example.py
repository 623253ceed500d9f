"""examples/train_mlp.py (the main job): data-parallel digits MLP on [cpu(0), cpu(1)].

Runs the script's ``main()`` in-process: it must return 0 (>= 95% test accuracy, and the
reloaded network reproduces the trained accuracy) and finish well under a minute.
"""

from __future__ import annotations

import importlib.util
import re
import sys
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


@pytest.mark.slow
def test_example_on_two_workers_reaches_the_accuracy_of_one_process(tmp_path: Path) -> None:
    """``mpiexec -n 2 ... --kvstore dist_sync`` (one cpu(0) per worker) sums bitwise the gradients
    of one process on [cpu(0), cpu(1)]: the same final accuracy; only rank 0 prints."""
    pytest.importorskip("sklearn", reason="the example trains on scikit-learn's digits")
    from tests.dist_harness import mpiexec, run, worker_env

    args = [str(EXAMPLE), "--epochs", "6", "--min-accuracy", "0.9"]
    status, one, _ = run(
        [sys.executable, *args, "--contexts", "cpu0,cpu1"], 300, worker_env(None), tmp_path
    )
    assert status == 0, one
    status, two, _ = run(
        [mpiexec(), "-n", "2", sys.executable, *args, "--kvstore", "dist_sync"],
        300,
        worker_env(None),
        tmp_path,
    )
    assert status == 0, two
    assert "contexts: [cpu(0)]; 2 workers" in two
    assert len(re.findall(r"^epoch +6 ", two, re.M)) == 1  # rank 0 alone prints
    final = re.compile(r"final test accuracy ([0-9.]+); reloaded ([0-9.]+);")
    acc_one, acc_two = final.search(one), final.search(two)
    assert acc_one is not None and acc_two is not None, two
    assert acc_two.group(1) == acc_one.group(1) == acc_two.group(2)
    assert float(acc_two.group(1)) >= 0.9
