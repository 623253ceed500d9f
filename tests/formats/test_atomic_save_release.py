"""atomic_write frees the replaced file off the caller's path: held open, closed in the background."""

from __future__ import annotations

import os
import signal
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import mxlite as mx
from mxlite._formats import atomic_file
from mxlite._formats.atomic_file import atomic_write, wait_for_pending_releases
from mxlite.ndarray import serialization
from tests._support.writer_process import expect_line, python_process

WORKER = "mxlite-release-old"

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="inspects open descriptors through /proc/self/fd"
)


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _deleted_fds(target: Path) -> list[int]:
    """Descriptors of this process that still hold a replaced (deleted) version of ``target``."""
    found = []
    for entry in os.listdir("/proc/self/fd"):
        with_deleted = f"{target} (deleted)"
        try:
            if os.readlink(f"/proc/self/fd/{entry}") == with_deleted:
                found.append(int(entry))
        except OSError:
            continue
    return found


def _write(target: Path, data: bytes) -> None:
    with atomic_write(target) as f:
        f.write(data)


def _workers() -> int:
    return sum(t.name == WORKER for t in threading.enumerate())


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Background closes wait until the event is set (always set, and drained, at teardown)."""
    event = threading.Event()
    real = atomic_file._close_fd
    owner = os.getpid()  # a forked child's worker is never gated

    def gated(fd: int) -> None:
        if threading.current_thread().name == WORKER and os.getpid() == owner:
            event.wait(30)
        real(fd)

    monkeypatch.setattr(atomic_file, "_close_fd", gated)
    yield event
    event.set()
    assert wait_for_pending_releases(30)


@pytest.fixture(autouse=True)
def _drained() -> Iterator[None]:
    yield
    assert wait_for_pending_releases(30)


def test_old_file_is_freed_after_the_save_returns(tmp_path: Path, gate: threading.Event) -> None:
    target = tmp_path / "m.params"
    target.write_bytes(b"old" * 1000)
    _write(target, b"new")
    # The save is complete and durable while the old file is still held open, not freed.
    assert target.read_bytes() == b"new"
    assert _listing(tmp_path) == ["m.params"]  # nothing extra is ever visible
    (fd,) = _deleted_fds(target)
    assert os.fstat(fd).st_nlink == 0 and os.fstat(fd).st_size == 3000
    assert not wait_for_pending_releases(0.05)
    gate.set()
    assert wait_for_pending_releases(30)
    assert _deleted_fds(target) == []
    assert atomic_file._RELEASER._held == {}


def test_new_target_and_symlink_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real = atomic_file._open_old
    monkeypatch.setattr(atomic_file, "_open_old", lambda p: opened.append(p) or real(p))
    fresh = tmp_path / "fresh.params"
    _write(fresh, b"first")
    assert opened == [] and fresh.read_bytes() == b"first"
    real_file = tmp_path / "real.params"
    real_file.write_bytes(b"old")
    link = tmp_path / "link.params"
    link.symlink_to(real_file)
    serialization.save(str(link), [mx.nd.array([1.0, 2.0])])
    assert opened == [str(real_file)]  # the link's target is held, not the link
    assert link.is_symlink() and os.readlink(link) == str(real_file)
    assert serialization.load(str(real_file))[0].asnumpy().tolist() == [1.0, 2.0]
    assert wait_for_pending_releases(30)
    assert _deleted_fds(real_file) == []


def test_old_file_that_cannot_be_opened_is_freed_by_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def refuse(path: str) -> int:
        calls.append(path)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(atomic_file, "_open_old", refuse)
    target = tmp_path / "m.params"
    target.write_bytes(b"old")
    _write(target, b"new")
    assert calls == [str(target)]
    assert target.read_bytes() == b"new"
    assert _listing(tmp_path) == ["m.params"]
    assert _deleted_fds(target) == [] and atomic_file._RELEASER._held == {}


def test_rename_refused_while_open_is_retried_without_the_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "m.params"
    target.write_bytes(b"old")
    real = os.replace
    held_at_call: list[int] = []

    def picky_replace(src: str, dst: str) -> None:
        held_at_call.append(len(atomic_file._RELEASER._held))
        if len(held_at_call) == 1:
            raise OSError(16, "Device or resource busy", dst)
        real(src, dst)

    monkeypatch.setattr(atomic_file.os, "replace", picky_replace)
    _write(target, b"new")
    assert held_at_call == [1, 0]
    assert target.read_bytes() == b"new"
    assert _listing(tmp_path) == ["m.params"]
    assert _deleted_fds(target) == []


def test_failed_rename_keeps_target_and_holds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "m.params"
    target.write_bytes(b"old")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(18, "Invalid cross-device link", dst)

    monkeypatch.setattr(atomic_file.os, "replace", failing_replace)
    with pytest.raises(OSError, match="cross-device"):
        _write(target, b"new")
    assert target.read_bytes() == b"old"
    assert _listing(tmp_path) == ["m.params"]
    assert atomic_file._RELEASER._held == {}
    assert not any(t.name == WORKER for t in threading.enumerate())


def test_saves_in_a_loop_pile_up_neither_threads_nor_descriptors(tmp_path: Path) -> None:
    target = tmp_path / "m.params"
    target.write_bytes(b"0")
    fds_before = len(os.listdir("/proc/self/fd"))
    most_workers = 0
    for i in range(40):
        _write(target, bytes([i]) * 100_000)
        most_workers = max(most_workers, _workers())
    assert most_workers <= 1
    assert wait_for_pending_releases(30)
    for t in threading.enumerate():
        if t.name == WORKER:
            t.join(5)
    assert _workers() == 0
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert target.read_bytes() == bytes([39]) * 100_000
    assert _listing(tmp_path) == ["m.params"]


def test_waiting_descriptors_are_bounded(
    tmp_path: Path, gate: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(atomic_file, "MAX_PENDING_RELEASES", 2)
    target = tmp_path / "m.params"
    target.write_bytes(b"0")
    for i in range(1, 4):
        _write(target, bytes([i]))
    # One being closed by the (blocked) worker, two waiting: the limit.
    assert len(atomic_file._RELEASER._queue) == 2
    assert len(_deleted_fds(target)) == 3
    _write(target, b"\x04")  # over the limit: this caller closes its own at once
    assert len(atomic_file._RELEASER._queue) == 2
    assert len(_deleted_fds(target)) == 3
    gate.set()
    assert wait_for_pending_releases(30)
    assert _deleted_fds(target) == []
    assert target.read_bytes() == b"\x04"


def _fork_and_check(target: Path) -> int:
    """Fork; the child exits 0 if it holds no replaced ``target`` and can still save it."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if _deleted_fds(target) == [] and atomic_file._RELEASER._held == {}:
                _write(target, b"child")
                code = 0 if wait_for_pending_releases(10) and _deleted_fds(target) == [] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_closes_its_copies_of_held_files(tmp_path: Path) -> None:
    target = tmp_path / "m.params"
    target.write_bytes(b"old")
    fd = atomic_file._RELEASER.hold(str(target))
    assert fd is not None
    try:
        (tmp_path / "n").write_bytes(b"new")
        os.replace(tmp_path / "n", target)
        assert _deleted_fds(target) == [fd]
        code = _fork_and_check(target)
    finally:
        atomic_file._RELEASER.release(fd)
    assert code == 0
    assert target.read_bytes() == b"child"
    assert wait_for_pending_releases(30)
    assert _deleted_fds(target) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_during_a_background_close_neither_waits_nor_inherits(
    tmp_path: Path, gate: threading.Event
) -> None:
    target = tmp_path / "m.params"
    target.write_bytes(b"0")
    for i in range(1, 4):
        _write(target, bytes([i]) * 1000)
    assert len(_deleted_fds(target)) == 3  # one about to be closed by the (blocked) worker
    timer = threading.Timer(5.0, gate.set)  # only a safety net: the fork must not wait for it
    timer.start()
    try:
        code = _fork_and_check(target)
        assert not gate.is_set()
    finally:
        timer.cancel()
    assert code == 0
    assert target.read_bytes() == b"child"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_leaves_a_reused_descriptor_number_alone(tmp_path: Path) -> None:
    target = tmp_path / "m.params"
    target.write_bytes(b"old")
    other = tmp_path / "other.txt"
    other.write_bytes(b"unrelated")
    releaser = atomic_file._RELEASER
    fd = releaser.hold(str(target))
    assert fd is not None
    # As if the parent closed the held file and the number went to an unrelated file at once.
    unrelated = os.open(other, os.O_RDONLY)
    os.dup2(unrelated, fd)
    os.close(unrelated)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                os._exit(0 if os.pread(fd, 9, 0) == b"unrelated" else 1)
            except OSError:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
    finally:
        releaser.close_now(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert releaser._held == {}


_EXIT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from mxlite._formats import atomic_file

    real = atomic_file._close_fd

    def slow_close(fd):
        time.sleep(0.5)
        real(fd)
        with open(sys.argv[2], "w") as marker:
            marker.write("closed")

    atomic_file._close_fd = slow_close
    with atomic_file.atomic_write(sys.argv[1]) as f:
        f.write(b"new")
    print("SAVED", flush=True)
    """
)


def test_interpreter_exit_finishes_pending_closes(tmp_path: Path) -> None:
    target = tmp_path / "m.params"
    target.write_bytes(b"old")
    marker = tmp_path / "closed.txt"
    with python_process(_EXIT_SCRIPT, str(target), str(marker)) as proc:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "SAVED"
    assert marker.read_text() == "closed"  # the background close ran before the process ended
    assert target.read_bytes() == b"new"


_KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import mxlite as mx
    from mxlite._formats import atomic_file
    from mxlite.ndarray import serialization

    atomic_file._close_fd = lambda fd: time.sleep(120)
    serialization.save(sys.argv[1], {"w": mx.nd.array([4.0, 5.0])})
    print("SAVED", flush=True)
    time.sleep(120)
    """
)


@pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")
def test_writer_killed_before_the_old_file_is_freed_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "m.params"
    serialization.save(str(target), {"w": mx.nd.array([1.0])})
    with python_process(_KILLED_SCRIPT, str(target)) as proc:
        expect_line(proc, "SAVED")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _listing(tmp_path) == ["m.params"]
    assert serialization.load(str(target))["w"].asnumpy().tolist() == [4.0, 5.0]
