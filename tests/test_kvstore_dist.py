"""Distributed stores without starting MPI in this process: creation errors, configuration,
packaging, and the report of workers that disagree. Real multi-process runs are in
tests/test_kvstore_dist_mpi.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mxlite as mx
from mxlite.base import MXNetError
from mxlite.kvstore import _fused, _mpi
from mxlite.kvstore.dist import create_dist, disagreement

ROOT = Path(__file__).resolve().parents[1]


def run_python(
    code: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    import os

    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full,
        timeout=120,
    )


@pytest.mark.parametrize("name", ["dist_async", "dist_device_async", "DIST_ASYNC"])
def test_async_types_are_refused_pointing_to_dist_sync(name: str) -> None:
    with pytest.raises(MXNetError, match="asynchronous parameter server") as info:
        mx.kv.create(name)
    assert "use 'dist_sync'" in str(info.value) and name.lower() in str(info.value)
    with pytest.raises(MXNetError, match="not supported"):
        create_dist(name.lower())


def test_import_mxlite_never_imports_mpi4py(tmp_path: Path) -> None:
    proc = run_python(
        """
        import sys
        import mxlite as mx
        from mxlite import gluon, kvstore
        mx.kv.create("device")
        gluon.Trainer
        import mxlite.kvstore.kvstore
        print("mpi4py" in sys.modules, "mxlite.kvstore.dist" in sys.modules)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


def test_without_mpi4py_a_dist_store_says_what_to_install(tmp_path: Path) -> None:
    proc = run_python(
        """
        import sys

        class NoMpi:
            def find_spec(self, name, path=None, target=None):
                if name == "mpi4py" or name.startswith("mpi4py."):
                    raise ImportError("mpi4py is blocked in this test")
                return None

        sys.meta_path.insert(0, NoMpi())
        import mxlite as mx
        try:
            mx.kv.create("dist_sync")
        except mx.base.MXNetError as err:
            print(type(err).__name__, "::", err)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("MXNetError ::"), out
    for fragment in ("'dist_sync'", "mpi4py", "pip install 'mxlite[dist]'", "mpiexec -n"):
        assert fragment in out, out


def test_a_foreign_launcher_is_named(tmp_path: Path) -> None:
    pytest.importorskip("mpi4py")
    # PMI_SIZE says 2 processes were launched, but this python runs alone (a singleton MPI).
    proc = run_python(
        """
        import mxlite as mx
        try:
            mx.kv.create("dist_sync")
        except mx.base.MXNetError as err:
            print(err)
        """,
        tmp_path,
        env={"PMI_SIZE": "2"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "started 2 processes" in proc.stdout and "another MPI" in proc.stdout, proc.stdout


@pytest.mark.parametrize("value", ["soon", "-3", "nan"])
def test_a_malformed_timeout_is_refused_naming_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MXLITE_DIST_TIMEOUT", value)
    with pytest.raises(MXNetError, match="MXLITE_DIST_TIMEOUT") as info:
        _mpi.timeout_s()
    assert repr(value) in str(info.value) and "0 to wait forever" in str(info.value)


def test_timeout_default_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MXLITE_DIST_TIMEOUT", raising=False)
    assert _mpi.timeout_s() == _mpi.DEFAULT_TIMEOUT_S == 30.0
    monkeypatch.setenv("MXLITE_DIST_TIMEOUT", "0")
    assert _mpi.timeout_s() is None
    monkeypatch.setenv("MXLITE_DIST_TIMEOUT", " 2.5 ")
    assert _mpi.timeout_s() == 2.5


@pytest.mark.parametrize("value", ["big", "0", "-1", "inf"])
def test_a_malformed_bucket_size_is_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXLITE_DIST_BUCKET_MB", value)
    with pytest.raises(MXNetError, match="MXLITE_DIST_BUCKET_MB"):
        _fused.bucket_bytes()


def test_bucket_size_default_and_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MXLITE_DIST_BUCKET_MB", raising=False)
    assert _fused.bucket_bytes() == 64 * 2**20
    monkeypatch.setenv("MXLITE_DIST_BUCKET_MB", "0.5")
    assert _fused.bucket_bytes() == 2**19


def _sig(*entries: tuple) -> list[list]:
    return [[key, list(shape), dtype, 1, kind] for key, shape, dtype, kind in entries]


def test_disagreement_names_each_key_and_the_ranks() -> None:
    good = _sig(("w", (3, 4), "float32", "host"), ("b", (4,), "float32", "host"))
    assert disagreement([good, good, good]) == []
    bad_shape = _sig(("w", (4, 4), "float32", "host"), ("b", (4,), "float32", "host"))
    no_b = _sig(("w", (3, 4), "float32", "host"))
    problems = disagreement([good, bad_shape, no_b])
    assert problems == [
        "key 'w': shape (3, 4) float32 on the host on ranks [0, 2]; "
        "shape (4, 4) float32 on the host on rank 1",
        "key 'b' is given on ranks [0, 1] but not on rank 2",
    ]
    other_dtype = _sig(("w", (3, 4), "float16", "host"), ("b", (4,), "float32", "nccl"))
    problems = disagreement([good, other_dtype])
    assert "shape (3, 4) float16 on the host on rank 1" in problems[0]
    assert (
        "key 'b': shape (4,) float32 on the host on rank 0; shape (4,) float32 on GPUs"
        in (problems[1])
    )
    swapped = list(reversed(good))
    (order,) = disagreement([good, swapped])
    assert order.startswith("the keys come in different orders: rank 0 gives ['w', 'b']")
    extra = _sig(
        ("w", (3, 4), "float32", "host"), ("b", (4,), "float32", "host"), (7, (1,), "int32", "host")
    )
    assert disagreement([good, extra]) == ["key 7 is given on rank 1 but not on rank 0"]


def test_the_dist_extra_and_make_test_bring_mpi() -> None:
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(r.split(">")[0] for r in extras["optional-dependencies"]["dist"]) == [
        "mpi4py",
        "mpich",
    ]
    assert not any(r.startswith("mpi") for r in extras["dependencies"]), "MPI stays optional"
    makefile = (ROOT / "Makefile").read_text()
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "$(BIN)/.dist" in test_rule.split()
    assert "pip install -q -e '.[dist]'" in makefile.split("$(BIN)/.dist:")[1].split("\n\n")[0]
