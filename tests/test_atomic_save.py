"""Atomic saving: a writer killed mid-write leaves the previous file intact and readable."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import mxlite as mx
from mxlite.ndarray import _save_tmp, atomic_file, serialization
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


_NAMED_TEMPS = "from mxlite.ndarray import _save_tmp; _save_tmp.USE_O_TMPFILE = False\n"
_UNNAMED = _save_tmp.USE_O_TMPFILE  # O_TMPFILE works here (Linux)


def _leftovers(directory: Path, target: str) -> list[str]:
    return [n for n in _listing(directory) if n != target]


def _kill_all(procs: list) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGKILL)
    for proc in procs:
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL


@pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")
@pytest.mark.parametrize("named", [False, True], ids=["unnamed", "named"])
def test_killed_writers_leave_previous_file_intact_and_no_files(
    tmp_path: Path, named: bool
) -> None:
    """Three writers killed mid-save: the target keeps its old bytes; nothing is left in the
    directory (unnamed temporary files), or what is left goes with the next load."""
    if not named and not _UNNAMED:
        pytest.skip("O_TMPFILE is not available here")
    target = tmp_path / "model.params"
    serialization.save(str(target), {"w": mx.nd.array([1.0, 2.0, 3.0])})
    before = target.read_bytes()
    script = (_NAMED_TEMPS if named else "") + _SLOW_WRITER
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(python_process(script, str(target))) for _ in range(3)]
        for proc in procs:
            expect_line(proc, "PARTIAL")  # each is mid-save, part of its data written
        during = _leftovers(tmp_path, "model.params")
        _kill_all(procs)
    after = _leftovers(tmp_path, "model.params")
    assert target.read_bytes() == before
    if not named:
        assert during == [] and after == []  # unnamed while written: nothing to leave
        return
    # Named temporary files: hidden, tagged with the writer, a suffix no loader matches.
    assert len(during) == 3 and sorted(after) == sorted(during)
    for name in after:
        assert name.startswith(".model.params.") and name.endswith(TMP_SUFFIX)
        assert (tmp_path / name).stat().st_size > 4096
    assert not list(tmp_path.glob("*.params"))[1:]
    # The writers are gone: the next load removes their files at once (no waiting period).
    loaded = serialization.load(str(target))
    assert loaded["w"].asnumpy().tolist() == [1.0, 2.0, 3.0]
    assert _listing(tmp_path) == ["model.params"]


@pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")
def test_leftovers_of_killed_writers_go_with_the_next_save(tmp_path: Path) -> None:
    target = tmp_path / "model.params"
    serialization.save(str(target), {"w": mx.nd.array([1.0])})
    with python_process(_NAMED_TEMPS + _SLOW_WRITER, str(target)) as proc:
        expect_line(proc, "PARTIAL")
        _kill_all([proc])
    assert len(_leftovers(tmp_path, "model.params")) == 1
    serialization.save(str(target), {"w": mx.nd.array([4.0])})
    assert _listing(tmp_path) == ["model.params"]
    assert serialization.load(str(target))["w"].asnumpy().tolist() == [4.0]


def _save_forever(target: str, value: float) -> None:
    """A forked child: save ``target`` over and over until it is killed."""
    try:
        arr = mx.nd.array(np.full(50_000, value, dtype=np.float32))
        while True:
            serialization.save(target, {"w": arr})
    finally:
        os._exit(0)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks writers")
@pytest.mark.parametrize("named", [False, True], ids=["unnamed", "named"])
def test_writers_killed_at_random_moments(tmp_path: Path, named: bool, monkeypatch) -> None:
    """40 writers saving in a loop, each killed after a random 0-40 ms: the file always holds
    one complete save, and after one load nothing else is in the directory."""
    if not named and not _UNNAMED:
        pytest.skip("O_TMPFILE is not available here")
    monkeypatch.setattr(_save_tmp, "USE_O_TMPFILE", not named)
    target = tmp_path / "model.params"
    serialization.save(str(target), {"w": mx.nd.zeros((50_000,))})
    rng = np.random.default_rng(0)
    atomic_file.wait_for_pending_releases(30)
    for i in range(40):
        pid = os.fork()
        if pid == 0:
            _save_forever(str(target), float(i + 1))
        time.sleep(float(rng.uniform(0, 0.04)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    left = len(_leftovers(tmp_path, "model.params"))
    values = serialization.load(str(target))["w"].asnumpy()
    assert values.shape == (50_000,) and (values == values[0]).all()
    assert _listing(tmp_path) == ["model.params"], left
    if not named:
        assert left <= 4  # only a kill between naming and renaming can leave a file


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


# ------------------------------------------------------------------------------ writer tags
def _leftover(directory: Path, target: str, tag: str, age: float = 0.0) -> Path:
    path = directory / f".{target}.{tag}.0badc0de{TMP_SUFFIX}"
    path.write_bytes(b"partial save")
    if age:
        when = time.time() - age
        os.utime(path, (when, when))
    return path


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc/<pid>/stat")
def test_leftovers_are_removed_exactly_when_their_writer_is_gone(tmp_path: Path) -> None:
    import subprocess
    import sys

    ns = os.stat("/proc/self/ns/pid").st_ino
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = _save_tmp._start_time(sleeper.pid)
        assert start
        live = _leftover(tmp_path, "m.params", f"{sleeper.pid}-{start}-{ns}")
        reused = _leftover(tmp_path, "m.params", f"{sleeper.pid}-{start - 1}-{ns}")
        mine = _leftover(tmp_path, "m.params", _save_tmp.writer_tag())
        other_ns = _leftover(tmp_path, "m.params", f"{sleeper.pid + 10**6}-5-{ns + 1}")
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        gone = _leftover(tmp_path, "m.params", f"{dead.pid}-1-{ns}")
        other_target = _leftover(tmp_path, "n.params", f"{dead.pid}-1-{ns}")
        removed = atomic_file.remove_dead_leftovers(tmp_path / "m.params")
        assert removed == 2
        assert live.exists() and mine.exists() and other_ns.exists() and other_target.exists()
        assert not reused.exists()  # the pid lives on in another process: its writer is gone
        assert not gone.exists()
        # A writer in another pid namespace (a container) is only judged by age.
        os.utime(other_ns, (time.time() - 2 * atomic_file.STALE_TMP_SECONDS,) * 2)
        assert atomic_file.remove_dead_leftovers(tmp_path / "m.params") == 1
        assert not other_ns.exists() and live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_unnamed_temporary_file_never_appears_while_writing(tmp_path: Path) -> None:
    if not _UNNAMED:
        pytest.skip("O_TMPFILE is not available here")
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with atomic_write(target) as f:
        f.write(b"x" * 100_000)
        f.flush()
        assert _listing(tmp_path) == ["f.bin"]
    assert target.read_bytes() == b"x" * 100_000
    assert _listing(tmp_path) == ["f.bin"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_unnamed_file_that_cannot_be_linked_is_copied(tmp_path: Path, monkeypatch) -> None:
    if not _UNNAMED:
        pytest.skip("O_TMPFILE is not available here")

    def refuse(*args: object) -> str:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(_save_tmp, "_link_unnamed", refuse)
    monkeypatch.setattr(_save_tmp, "USE_O_TMPFILE", True)
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    data = bytes(range(256)) * 5000
    with atomic_write(target) as f:
        f.write(data)
    assert target.read_bytes() == data and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _listing(tmp_path) == ["f.bin"]
    assert not _save_tmp.USE_O_TMPFILE  # later saves use named files from the start
