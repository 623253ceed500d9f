"""``make gpu-check`` (tools/gpu_check.py): its dry run on a machine without a GPU, and its GPU
steps on the fake CuPy (so the script that meets a real GPU has run before, end to end)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "gpu_check.py"
STEPS = ["env", "install", "bandwidth", "kernels", "philox", "big", "selftest", "pytest", "bench"]


def _run(tmp_path: Path, *args: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    summary = (
        json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    )
    return proc.returncode, summary, proc.stdout + proc.stderr


def test_dry_run_reports_every_step_and_skips_the_gpu_ones(tmp_path: Path) -> None:
    code, summary, text = _run(tmp_path, "--dry-run")
    assert code == 0, text
    assert list(summary) == STEPS
    assert summary["env"]["status"] == "ok" and "python" in summary["env"]["details"]
    for name in STEPS[1:]:
        assert summary[name]["status"] == "skipped", (name, summary[name])
    table = (tmp_path / "out" / "summary.md").read_text()
    assert "| kernels | skipped |" in table and "gpu-check passed (dry run" in table
    for name in STEPS:
        assert (tmp_path / "out" / f"{name}.json").exists()


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("gpu_check_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_a_hanging_step_is_killed_at_its_limit(tmp_path: Path) -> None:
    script = _load_script()
    run = script.Run(tmp_path, budget=60, fake=False)
    start = time.monotonic()
    code, tail = run.command("hang", [sys.executable, "-c", "print('started', flush=True); "
                                      "import time; time.sleep(60)"], 1.0)  # fmt: skip
    assert code is None and "started" in tail and time.monotonic() - start < 30
    assert (tmp_path / "hang.log").read_text().startswith("started")


def test_every_kernel_entry_point_is_known() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gpu_check_steps as steps
    finally:
        sys.path.remove(str(ROOT / "tools"))
    names = steps.entry_points()
    assert "fill_uniform<float>" in names and "philox4x32_10_rows" in names
    assert "multi_zero_bytes" in names and "multi_average<__half>" in names
    assert not [n for n in names if n.endswith("<no instance>")], names
    assert steps.windows((1 << 31) + (1 << 21))["2**31 boundary"] == (
        (1 << 31) - 2048,
        (1 << 31) + 2048,
    )


@pytest.mark.slow
def test_gpu_steps_pass_on_the_fake_gpus(tmp_path: Path) -> None:
    steps = "env,install,bandwidth,kernels,philox,big,selftest,pytest"
    code, summary, text = _run(tmp_path, "--fake", "--steps", steps, timeout=600)
    assert code == 0, text
    assert [s for s in summary if summary[s]["status"] != "ok"] == ["install"], summary
    assert "all equal" in summary["kernels"]["summary"]
    assert summary["kernels"]["details"]["problems"] == []
    assert "equal to the CPU" in summary["big"]["summary"]
    assert "3 known answers" in summary["philox"]["summary"]
    assert "gpu(1) kernels" in summary["selftest"]["summary"]
    assert (tmp_path / "out" / "pytest-gpu.xml").exists()
    assert "% of this card's peak" in summary["bandwidth"]["summary"]


@pytest.mark.slow
def test_kernels_step_compiles_what_it_cannot_launch(
    fake_gpu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where CuPy makes no bfloat16 arrays, the bfloat16 fill instances are compiled, not
    launched, and that is a note, not a failure; a kernel never obtained is a failure."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gpu_check_steps as steps
    finally:
        sys.path.remove(str(ROOT / "tools"))
    monkeypatch.setattr(steps, "_no_bfloat16", lambda cp: "TypeError: dtype not supported")
    result = steps.step_kernels()
    assert result["status"] == "ok", result["summary"]
    assert "no bfloat16 arrays here" in result["summary"]
    assert not [c for c in result["details"]["checks"] if "bfloat16" in c]
    monkeypatch.setattr(steps, "entry_points", lambda: {"fill_uniform<float>", "a_new_kernel"})
    result = steps.step_kernels()
    assert result["status"] == "FAIL" and "a_new_kernel: never launched" in result["summary"]
