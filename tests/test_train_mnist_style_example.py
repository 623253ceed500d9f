"""examples/train_mnist_style.py: the Gluon MNIST-style script (DataLoader over an ArrayDataset,
Flatten/Dense/Dropout, mx.metric.Accuracy, Trainer on [cpu(0), cpu(1)], save/load).

Runs the script's ``main()`` in-process with few epochs: it must return 0 (the validation
accuracy reaches the bar and the reloaded network reproduces it) and print one line per epoch.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import mxlite as mx

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_mnist_style.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    pytest.importorskip("sklearn", reason="the example trains on scikit-learn's digits")
    spec = importlib.util.spec_from_file_location("train_mnist_style_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_example_trains_on_two_cpu_contexts_and_reloads(
    example: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    status = example.main(["--contexts", "cpu0,cpu1", "--epochs", "3", "--min-accuracy", "0.85"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "contexts: [cpu(0), cpu(1)]" in out
    epochs = re.findall(
        r"^epoch +\d+ +loss [0-9.]+ +train accuracy [0-9.]+ +validation accuracy ([0-9.]+)$",
        out,
        re.M,
    )
    assert len(epochs) == 3
    match = re.search(r"final validation accuracy ([0-9.]+); reloaded ([0-9.]+);", out)
    assert match is not None, out
    assert float(match.group(1)) >= 0.85 and match.group(1) == match.group(2)


def test_example_reports_failure_below_required_accuracy(
    example: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    status = example.main(["--contexts", "cpu0", "--epochs", "1", "--min-accuracy", "1.01"])
    assert status == 1
    assert "is below the required 1.01" in capsys.readouterr().out


def test_parse_contexts(example: ModuleType) -> None:
    assert example.parse_contexts("cpu0,cpu1") == [mx.cpu(0), mx.cpu(1)]
    assert example.parse_contexts("gpu1") == [mx.gpu(1)]
    n = mx.context.num_gpus()
    assert example.parse_contexts(None) == ([mx.gpu(i) for i in range(n)] or [mx.cpu(0), mx.cpu(1)])
