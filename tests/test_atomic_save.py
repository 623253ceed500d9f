"""Atomic saving: a writer killed mid-write leaves the previous file intact and readable."""

from __future__ import annotations

import os
import signal
import stat
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import mxlite as mx
from mxlite.ndarray import atomic_file, serialization
from mxlite.ndarray.atomic_file import TMP_SUFFIX, atomic_write
from mxlite.ndarray.ndarray import NDArray
from tests.writer_process import expect_line, python_process


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with atomic_write(target) as f:
        f.write(b"new contents")
        assert target.read_bytes() == b"old"  # not visible until the block ends
    assert target.read_bytes() == b"new contents"
    assert _listing(tmp_path) == ["f.bin"]


def test_exception_inside_block_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(target) as f:
        f.write(b"partial")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert _listing(tmp_path) == ["f.bin"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_permissions_kept_and_new_files_follow_umask(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with atomic_write(target) as f:
        f.write(b"x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    fresh = tmp_path / "g.bin"
    umask = os.umask(0o022)
    try:
        with atomic_write(fresh) as f:
            f.write(b"y")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_saving_through_a_symlink_updates_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real.params"
    real.write_bytes(b"old")
    link = tmp_path / "link.params"
    link.symlink_to(real)
    serialization.save(str(link), [mx.nd.array([1.0, 2.0])])
    assert link.is_symlink()
    assert serialization.load(str(real))[0].asnumpy().tolist() == [1.0, 2.0]


def test_failed_save_midway_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "model.params"
    serialization.save(str(target), {"w": mx.nd.array([1.0, 2.0, 3.0])})
    before = target.read_bytes()
    bad = NDArray(
        np.ones(4, np.int16)
    )  # no MXNet type flag: fails after the first array is written
    with pytest.raises(TypeError, match="int16"):
        serialization.save(str(target), {"ok": mx.nd.ones((1000,)), "bad": bad})
    assert target.read_bytes() == before
    assert _listing(tmp_path) == ["model.params"]


_SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import mxlite as mx
    from mxlite.ndarray import params_format, serialization

    original = params_format.write_params

    class SlowStream:
        def __init__(self, f):
            self.f = f
            self.written = 0
            self.signalled = False

        def write(self, data):
            n = self.f.write(data)
            self.written += len(bytes(data))
            if self.written > 4096 and not self.signalled:
                self.f.flush()
                self.signalled = True
                print("PARTIAL", flush=True)
                time.sleep(120)
            return n

    def slow_write_params(f, *args, **kwargs):
        return original(SlowStream(f), *args, **kwargs)

    params_format.write_params = slow_write_params
    big = mx.nd.array(np.arange(200_000, dtype=np.float32))
    serialization.save(sys.argv[1], {"w": big})
    print("FINISHED", flush=True)
    """
)


@pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")
def test_killed_writer_leaves_previous_file_intact(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "model.params"
    serialization.save(str(target), {"w": mx.nd.array([1.0, 2.0, 3.0])})
    before = target.read_bytes()
    with python_process(_SLOW_WRITER, str(target)) as proc:
        expect_line(proc, "PARTIAL")
        # The writer is mid-save: part of the new data is on disk in its temporary file.
        temps = [n for n in _listing(tmp_path) if n != "model.params"]
        assert len(temps) == 1 and (tmp_path / temps[0]).stat().st_size > 4096
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == before
    loaded = serialization.load(str(target))
    assert loaded["w"].asnumpy().tolist() == [1.0, 2.0, 3.0]
    # The leftover cannot be mistaken for the target: hidden, and with a suffix no loader matches.
    leftovers = [n for n in _listing(tmp_path) if n != "model.params"]
    assert len(leftovers) == 1
    assert leftovers[0].startswith(".model.params.") and leftovers[0].endswith(TMP_SUFFIX)
    assert not list(tmp_path.glob("*.params"))[1:]
    # The next save removes the dead writer's leftover once it is stale.
    monkeypatch.setattr(atomic_file, "STALE_TMP_SECONDS", 0.0)
    time.sleep(0.01)
    serialization.save(str(target), {"w": mx.nd.array([4.0])})
    assert _listing(tmp_path) == ["model.params"]
    assert serialization.load(str(target))["w"].asnumpy().tolist() == [4.0]


def test_fresh_leftovers_and_live_writers_are_not_removed(tmp_path: Path) -> None:
    target = tmp_path / "m.params"
    live = tmp_path / f".m.params.{os.getpid()}.abcd1234{TMP_SUFFIX}"
    live.write_bytes(b"in progress")
    old = time.time() - 10 * atomic_file.STALE_TMP_SECONDS
    os.utime(live, (old, old))
    other = tmp_path / f".other.params.999999.abcd1234{TMP_SUFFIX}"
    other.write_bytes(b"not ours")
    os.utime(other, (old, old))
    serialization.save(str(target), [mx.nd.ones((2,))])
    assert live.exists() and other.exists()
