"""The benchmark harness (bench/) on a minimal image: no tqdm, no matplotlib, a CPU-only PyTorch,
partial results kept when a later case dies, and a GPU canary measured against the card's own
theoretical bandwidth (issue 17, item 7)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bench import __main__ as bench_main
from bench import cases, report, timing, train_step
from bench.progress import Progress, progress


def test_progress_without_tqdm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    assert list(progress(["a", "b"], "sets", "set")) == ["a", "b"]
    bar = Progress(1, "train steps", "job")
    bar.step("mlp cpu x1")
    bar.close()
    err = capsys.readouterr().err
    assert "sets: 1/2 set" in err and "sets: 2/2 set" in err
    assert "train steps: 1/1 job mlp cpu x1" in err


def test_results_without_matplotlib(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    rows = [{"case": "zero_grad", "set": "S1", "tensors": 2, "ctx": "cpu(0)", "impl": "mxlite",
             "seconds": 0.001, "bytes": 4096, "GBps": 0.004}]  # fmt: skip
    written = report.write_all(report.add_ratios(rows), tmp_path, "## header")
    assert [p.name for p in written] == ["results.json", "results.md"]
    assert json.loads((tmp_path / "results.json").read_text())[0]["case"] == "zero_grad"
    assert "no plots written" in capsys.readouterr().err


def _torch_without_cuda() -> types.ModuleType:
    torch = types.ModuleType("torch")
    torch.cuda = types.SimpleNamespace(is_available=lambda: False, device_count=lambda: 0)  # type: ignore[attr-defined]
    return torch


def test_a_cpu_only_torch_is_never_asked_for_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", _torch_without_cuda())
    assert cases.torch_device_usable("cpu") and not cases.torch_device_usable("cuda:0")
    pset = bench_main.sets.tiny()[0]
    assert cases.torch_cases(pset, "cuda:0", 1) == []  # no torch.device('cuda:0') tensors
    jobs = train_step.jobs(("mxlite", "torch", "floor"), gpu=True)
    assert not [j for j in jobs if j.lib == "torch" and j.device == "gpu"]
    assert [j for j in jobs if j.lib == "mxlite" and j.device == "gpu"]
    monkeypatch.setitem(sys.modules, "torch", None)
    assert not cases.torch_device_usable("cpu")


def test_partial_results_survive_a_failing_case(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fake_mxlite(pset: Any, ctx: Any, repeat: int) -> list[dict]:
        return [{"case": "zero_grad", "set": pset.name, "ctx": str(ctx), "impl": "mxlite",
                 "seconds": 1e-3, "bytes": 8, "GBps": 8e-6, "tensors": 1}]  # fmt: skip

    def limits(pset: Any, repeat: int) -> list[dict]:
        if pset.name == "S2":
            raise RuntimeError("the second set's case dies")
        return []

    monkeypatch.setattr(cases, "mxlite_cases", fake_mxlite)
    monkeypatch.setattr(cases, "numpy_limits", limits)
    monkeypatch.setattr(cases, "reset_ctx_case", lambda pset, repeat: [])
    argv = ["--size", "tiny", "--suite", "params", "--no-mxnet", "--no-torch", "--cpu-only",
            "--no-first-call", "--out", str(tmp_path)]  # fmt: skip
    with pytest.raises(RuntimeError, match="dies"):
        bench_main.main(argv)
    partial = json.loads((tmp_path / "results.partial.json").read_text())
    assert [(r["set"], r["case"]) for r in partial["rows"]] == [
        ("S1", "zero_grad"),
        ("S2", "zero_grad"),
    ]


def test_canary_compares_with_the_cards_own_peak(
    fake_gpu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests._support import fake_cupy_cuda

    # An H100 PCIe: 1593 MHz HBM2e on a 5120-bit bus, 2.04 TB/s; it can never copy at 2.7 TB/s.
    props = dict(fake_cupy_cuda.PROPERTIES, memoryClockRate=1593000, memoryBusWidth=5120)
    monkeypatch.setattr(fake_cupy_cuda, "PROPERTIES", props)
    assert timing.peak_bandwidth(0) == pytest.approx(1593e6 * 2 * 640)
    nbytes = 1 << 20
    for tbps, healthy in ((1.8, True), (1.0, False)):
        monkeypatch.setattr(timing, "median_time", lambda fn, **kw: 2 * nbytes / (tbps * 1e12))
        canary = timing.gpu_canary(nbytes)
        assert canary.healthy is healthy and canary.peak_tbps == pytest.approx(2.039, abs=1e-3)
        assert canary.tbps == pytest.approx(tbps)
        text = canary.describe()
        assert f"{100 * tbps / 2.039:.0f}% of this card's peak 2.04 TB/s" in text, text
        assert ("DEGRADED" in text) is not healthy
    # CUDA 13's cudaDeviceProp has no memory clock: the device attributes give it
    monkeypatch.setattr(fake_cupy_cuda, "PROPERTIES", {"name": b"x"})
    assert timing.peak_bandwidth(0) == pytest.approx(2619e6 * 2 * 640)


def test_sparse_suite_runs_tiny(tmp_path: Path) -> None:
    """``python -m bench --suite sparse`` (tiny): every case reports, results are written."""
    bench_main.main(
        ["--suite", "sparse", "--size", "tiny", "--repeat", "1", "--out", str(tmp_path)]
    )
    rows = json.loads((tmp_path / "sparse_embedding.json").read_text())
    cases_run = {row["case"] for row in rows}
    assert {"sgd step", "adam step", "gradient bytes", "row_sparse_pull 2 contexts"} <= cases_run
    grad = next(row for row in rows if row["case"] == "gradient bytes")
    assert grad["row_sparse_bytes"] < grad["dense_bytes"]
    assert (tmp_path / "sparse_embedding.md").read_text().startswith("| case |")
