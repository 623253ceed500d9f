"""``pytest -m gpu`` collects on an image with pytest and mxlite's own dependencies only.

A GPU image may lack the test extras (hypothesis, safetensors, scikit-learn...): a test module that
imports one of them at module level must skip itself (``pytest.importorskip``) instead of
stopping the whole collection.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What every GPU image has: the standard library, pytest, mxlite and its dependencies.
ALWAYS = {"numpy", "numba", "ml_dtypes", "pytest", "mxlite", "tests", "bench", "_pytest"}
_BLOCKER = """
import sys


class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("hypothesis", "safetensors"):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
        return None


sys.meta_path.insert(0, _Block())
"""


def _module_level_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def test_test_modules_import_only_what_every_image_has() -> None:
    allowed = ALWAYS | set(sys.stdlib_module_names)
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / "tests").glob("*.py")) + sorted((ROOT / "bench").glob("*.py"))
        for line, name in _module_level_imports(path)
        if name not in allowed
    ]
    assert not offenders, "use pytest.importorskip (or a lazy import) for: " + "; ".join(offenders)


@pytest.mark.slow
def test_collection_survives_missing_hypothesis_and_safetensors(tmp_path: Path) -> None:
    (tmp_path / "hide_optional.py").write_text(_BLOCKER)
    modules = ["test_params_format.py", "test_params_hostile.py", "test_safetensors_npz.py"]
    cmd = [
        sys.executable, "-m", "pytest", "-p", "hide_optional", "-p", "no:hypothesispytest",
        "-p", "no:cacheprovider", "--collect-only", "-m", "gpu", "-rs",
        *(f"tests/{m}" for m in modules),
    ]  # fmt: skip
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 5), out  # 5: nothing collected (all skipped or deselected)
    assert "error" not in out.lower(), out
    assert "3 skipped" in out and out.count("could not import") == 3, out
