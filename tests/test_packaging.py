"""Packaging contracts: import without CuPy, version, kernels as package data, self-test, demo."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

import mxlite as mx
from mxlite import selftest
from tests.conftest import HAS_GPU

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_import_does_not_import_cupy(tmp_path: Path) -> None:
    proc = run_python(
        """
        import sys
        import mxlite
        print("cupy" in sys.modules, "mxlite.ops._cuda" in sys.modules)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


def test_works_when_cupy_cannot_be_imported(tmp_path: Path) -> None:
    # A finder that makes `import cupy` fail, as on a machine without the CUDA extra.
    proc = run_python(
        """
        import sys

        class NoCupy:
            def find_spec(self, name, path=None, target=None):
                if name == "cupy" or name.startswith("cupy."):
                    raise ImportError("cupy is blocked in this test")
                return None

        sys.meta_path.insert(0, NoCupy())
        import mxlite as mx

        print(mx.num_gpus())
        print(float(mx.nd.ones((2, 3)).sum().asscalar()))
        try:
            mx.nd.zeros((2,), ctx=mx.gpu(0))
        except mx.MXNetError as err:
            print(type(err).__name__, "|", err)
        else:
            print("no error")
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    n_gpus, total, error = proc.stdout.strip().splitlines()
    assert n_gpus == "0"
    assert total == "6.0"
    assert "gpu(0)" in error
    assert "mxlite[cuda1" in error and "mx.cpu()" in error


def test_version_matches_metadata_and_pyproject() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+|\.dev\d+)?", mx.__version__)
    assert importlib.metadata.version("mxlite") == mx.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r'^version\s*=\s*"([^"]+)"', pyproject, re.MULTILINE)
    assert declared is not None and declared.group(1) == mx.__version__


def test_cuda_extras_name_the_matching_cupy_wheels() -> None:
    requires = importlib.metadata.requires("mxlite") or []
    by_extra: dict[str, list[str]] = {}
    for req in requires:
        match = re.search(r"""extra\s*==\s*['"]([\w-]+)['"]""", req)
        if match:
            by_extra.setdefault(match.group(1), []).append(req.split(";")[0].strip())
    assert any(r.startswith("cupy-cuda12x") for r in by_extra.get("cuda12", []))
    assert any(r.startswith("cupy-cuda13x") for r in by_extra.get("cuda13", []))
    core = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith("cupy") for r in core), "CuPy must stay optional"


def test_cuda_extras_bring_nvrtc_headers_and_cublas() -> None:
    """CuPy's [ctk] extra: without it a driver-only host counts its GPUs but compiles nothing."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for name, wheel in (("cuda12", "cupy-cuda12x"), ("cuda13", "cupy-cuda13x")):
        assert any(r.replace(" ", "").startswith(f"{wheel}[ctk]") for r in extras[name]), extras


def test_kernel_sources_come_from_this_checkout_not_another_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editable install of another checkout maps ``mxlite.kernels`` to its own folder (a meta
    path finder): the kernels must still be this package's."""
    import importlib.abc
    import importlib.util

    from mxlite.ops import _cuda

    other = tmp_path / "other_checkout_kernels"
    other.mkdir()
    (other / "__init__.py").write_text("")
    (other / "init_fill.cu").write_text("// another version of the kernels\n")

    class OtherInstall(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: object = None, target: object = None) -> object:
            if name != "mxlite.kernels":
                return None
            return importlib.util.spec_from_file_location(
                name, other / "__init__.py", submodule_search_locations=[str(other)]
            )

    monkeypatch.delitem(sys.modules, "mxlite.kernels", raising=False)
    monkeypatch.setattr(sys, "meta_path", [OtherInstall(), *sys.meta_path])
    source = _cuda.kernel_source("init_fill.cu")
    assert "another version" not in source
    assert source.startswith((ROOT / "kernels" / "init_fill.cu").read_text()[:200])


def test_kernel_sources_ship_as_package_data() -> None:
    sources = sorted(p.name for p in (ROOT / "kernels").glob("*.cu"))
    assert sources, "kernels/ has no .cu source"
    files = importlib.resources.files("mxlite.kernels")
    found = sorted(e.name for e in files.iterdir() if e.name.endswith(".cu"))
    assert found == sources
    for name in found:
        assert "__global__" in files.joinpath(name).read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert pyproject["package-dir"] == {"mxlite.kernels": "kernels"}
    assert "*.cu" in pyproject["package-data"]["mxlite.kernels"]


def test_package_list_matches_the_tree() -> None:
    """pyproject.toml lists the packages explicitly (for the kernels mapping): none may be missed."""
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "mxlite").rglob("__init__.py")
    }
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    assert listed == on_disk | {"mxlite.kernels"}


def test_cuda_loader_reads_the_installed_sources() -> None:
    from mxlite.ops import _cuda

    text = _cuda.kernel_source("init_fill.cu")
    assert "__global__" in text
    assert '#include "philox.cuh"' not in text, "local includes must be expanded"


def test_selftest_passes_on_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main([]) == 0
    out = capsys.readouterr().out
    assert "cpu(0): ok" in out
    assert f"usable GPUs: {mx.num_gpus()}" in out


@pytest.mark.skipif(HAS_GPU, reason="checks the no-GPU failure path")
def test_selftest_require_gpu_fails_without_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--require-gpu"]) == 2
    assert "a GPU is required" in capsys.readouterr().out


def test_selftest_reports_an_unusable_device() -> None:
    problem = selftest.check_context(mx.gpu(mx.num_gpus() + 3))
    assert "gpu(" in problem and "Error" in problem


def test_demo_runs_and_checks_itself(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "demo finished: every check passed" in proc.stdout
    assert list(tmp_path.iterdir()) == [], "the demo must not leave files behind"
