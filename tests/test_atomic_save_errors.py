"""Failed saves say which target could not be saved and why, leave the previous file and the
directory as they were, and write in place (not atomically) only when the user asks for it."""

from __future__ import annotations

import errno
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

import mxlite as mx
from mxlite import gluon
from mxlite.ndarray import _save_tmp, atomic_file
from mxlite.ndarray.atomic_file import IN_PLACE_ENV, SaveNotAtomicWarning, atomic_write
from tests.writer_process import python_process

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _saved(tmp_path: Path) -> Path:
    target = tmp_path / "model.params"
    mx.nd.save(str(target), {"w": mx.nd.array([1.0, 2.0])})
    return target


def _refuse_temp_files(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """The directory refuses new files with ``code`` (as a read-only or non-writable one)."""

    def refuse(*args: Any) -> Any:
        raise OSError(code, os.strerror(code), args[0])

    monkeypatch.setattr(_save_tmp, "open_unnamed", refuse)
    monkeypatch.setattr(_save_tmp, "open_named", refuse)


def test_target_that_is_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "model.params"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as err:
        mx.nd.save(str(target), [mx.nd.ones((2,))])
    msg = str(err.value)
    assert repr(str(target)) in msg and "it is a directory" in msg and ".mxlite-tmp" not in msg
    assert _listing(tmp_path) == ["model.params"] and target.is_dir()


def test_disk_full_names_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _saved(tmp_path)
    before = target.read_bytes()
    real = os.fdopen

    class Full:
        """A file on a disk that fills up after 4 KiB."""

        def __init__(self, f: Any) -> None:
            self._f, self._n = f, 0

        def write(self, data: Any) -> int:
            self._n += len(bytes(data))
            if self._n > 4096:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self._f.write(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._f, name)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: Any) -> None:
            self._f.close()

    monkeypatch.setattr(atomic_file.os, "fdopen", lambda *a, **k: Full(real(*a, **k)))
    with pytest.raises(OSError) as err:
        mx.nd.save(str(target), {"w": mx.nd.ones((10_000,))})
    assert err.value.errno == errno.ENOSPC
    msg = str(err.value)
    assert repr(str(target)) in msg and "no space left on device" in msg
    assert "previous file is unchanged" in msg and ".mxlite-tmp" not in msg
    assert target.read_bytes() == before and _listing(tmp_path) == ["model.params"]


_FSIZE_SCRIPT = textwrap.dedent(
    """
    import os, resource, sys
    import mxlite as mx
    target = sys.argv[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
    try:
        mx.nd.save(target, {"w": mx.nd.ones((100_000,))})
    except OSError as err:
        print(err.errno, type(err).__name__, str(err), sep="|", flush=True)
    """
)


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE")
def test_file_size_limit_names_the_target(tmp_path: Path) -> None:
    target = _saved(tmp_path)
    before = target.read_bytes()
    with python_process(_FSIZE_SCRIPT, str(target)) as proc:
        out, err = proc.communicate(timeout=120)
    code, kind, msg = out.strip().split("|", 2)
    assert int(code) == errno.EFBIG and kind == "OSError", err
    assert repr(str(target)) in msg and "too large" in msg and "ulimit -f" in msg
    assert target.read_bytes() == before and _listing(tmp_path) == ["model.params"]


def test_read_only_file_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _saved(tmp_path)
    before = target.read_bytes()
    _refuse_temp_files(monkeypatch, errno.EROFS)
    monkeypatch.setenv(IN_PLACE_ENV, "1")  # never helps on a read-only file system
    with pytest.raises(OSError) as err:
        mx.nd.save(str(target), [mx.nd.ones((2,))])
    assert err.value.errno == errno.EROFS
    assert repr(str(target)) in str(err.value) and "read-only" in str(err.value)
    assert target.read_bytes() == before


def _deny_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if ROOT:  # root writes anywhere: make the directory refuse as it would for a user
        _refuse_temp_files(monkeypatch, errno.EACCES)
    else:
        tmp_path.chmod(0o555)


def test_permission_denied_names_target_and_remedy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _saved(tmp_path)
    before = target.read_bytes()
    monkeypatch.delenv(IN_PLACE_ENV, raising=False)
    _deny_directory(tmp_path, monkeypatch)
    try:
        with pytest.raises(PermissionError) as err:
            mx.nd.save(str(target), [mx.nd.ones((2,))])
        msg = str(err.value)
        assert repr(str(target)) in msg and "permission denied" in msg
        assert IN_PLACE_ENV in msg and ".mxlite-tmp" not in msg
        assert target.read_bytes() == before
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize("how", ["environment", "argument"])
def test_in_place_fallback_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    target = _saved(tmp_path)
    inode = target.stat().st_ino
    _deny_directory(tmp_path, monkeypatch)
    try:
        if how == "environment":
            monkeypatch.setenv(IN_PLACE_ENV, "1")
            with pytest.warns(SaveNotAtomicWarning, match="NOT atomically"):
                mx.nd.save(str(target), {"w": mx.nd.array([7.0])})
        else:
            monkeypatch.delenv(IN_PLACE_ENV, raising=False)
            with pytest.warns(SaveNotAtomicWarning, match=IN_PLACE_ENV):
                with atomic_write(target, in_place_fallback=True) as f:
                    f.write(_params_of([7.0]))
        assert target.stat().st_ino == inode  # written in place
        assert mx.nd.load(str(target))["w"].asnumpy().tolist() == [7.0]
        # A new file cannot be written in place: still an error.
        with pytest.raises(PermissionError):
            with atomic_write(tmp_path / "new.params", in_place_fallback=True) as f:
                f.write(b"x")
        assert not (tmp_path / "new.params").exists()
    finally:
        tmp_path.chmod(0o755)


def _params_of(values: list[float]) -> bytes:
    from mxlite.ndarray import params_format

    return params_format.dumps_params({"w": mx.nd.array(values).asnumpy()}, np_magic=False)


def test_trainer_save_states_errors_name_the_file(tmp_path: Path) -> None:
    p = gluon.Parameter("w", shape=(2,))
    p.initialize()
    t = gluon.Trainer([p], "sgd", {"learning_rate": 0.1})
    target = tmp_path / "t.states"
    target.mkdir()
    with pytest.raises(IsADirectoryError, match="it is a directory") as err:
        t.save_states(str(target))
    assert repr(str(target)) in str(err.value)


def test_errors_of_the_callers_block_are_not_reworded(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError, match="^\\[Errno 2\\] elsewhere$"):
        with atomic_write(target) as f:
            f.write(b"new")
            raise FileNotFoundError(2, "elsewhere")
    assert target.read_bytes() == b"old" and _listing(tmp_path) == ["f.bin"]
