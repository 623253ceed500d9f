"""Atomic file replacement: a crash while saving never leaves a half-written parameter file.

:func:`atomic_write` writes the new contents into a temporary file in the target's directory,
flushes and fsyncs it, renames it over the target (``os.replace``, atomic on POSIX and Windows)
and fsyncs the directory, so the target holds either its old bytes or all of the new ones, even
across a power cut.

The temporary file is unnamed while it is written where the system allows (``O_TMPFILE`` on
Linux) and is named only just before the rename; elsewhere it is named
``.<target name>.<writer>.<random>.mxlite-tmp`` from the start (see :mod:`._save_tmp`). So a
writer killed mid-save (SIGKILL, OOM killer) leaves nothing on Linux, and anything it leaves
elsewhere is removed by the next save or load of the same target as soon as that writer is gone.

Errors name the target and the reason (disk full, file too large, read-only file system,
permission denied, a directory in the way); the previous file is then unchanged. When the
target's directory is not writable but the target itself is, MXNet (which writes in place)
succeeds where an atomic save cannot: with ``in_place_fallback=True`` or the environment
variable ``MXLITE_SAVE_IN_PLACE=1`` mxlite then overwrites the file in place, without crash
safety, and says so with a :class:`SaveNotAtomicWarning`. Never otherwise.

The replaced old file is freed off the caller's critical path. Replacing a file frees the old
one's blocks inside the rename, and that is slow: saving ResNet-50's 102 MB of parameters over an
existing file on ext4 mounted with ``discard`` spent about 40 ms writing, 115-135 ms in the file
fsync (disk bandwidth), 60-85 ms in ``os.replace`` freeing (and discarding) the old blocks and under
1 ms in the directory fsync. So, just before the rename, :func:`atomic_write` opens the old file
(``O_PATH`` on Linux: no permission needed, no data read): the rename then only drops a name
(about 0.1 ms) and the blocks are freed when that descriptor is closed, which one background
thread does after the directory fsync. Durability is unchanged: the new file is fsynced before the
rename and the rename is durable before anything of the old file is freed.

A descriptor rather than a second hard link under a hidden name, because nothing new ever appears
in the directory (no race with ``shutil.rmtree`` or a listing right after a save), nothing can be
left behind (the kernel closes the descriptors of a killed process; after a power cut the file
system frees unlinked-but-open files from its orphan list at mount) and it needs no hard-link
support. Where the old file cannot be opened, on Windows (an open file cannot be replaced there)
and where a file system refuses to replace a file that is open (the rename is retried without the
descriptor), the old file is freed inside the rename as before. At most
:data:`MAX_PENDING_RELEASES` descriptors wait for the background thread; beyond that the caller
closes its own. The thread is started when work arrives and ends when none is left; it is not a
daemon, so a normal interpreter exit first finishes the pending closes. A forked child closes
its copies of the held descriptors at once (else it would keep the old files' blocks allocated
for as long as it lives).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import stat
import threading
import warnings
from collections.abc import Iterator
from typing import IO

from mxlite.ndarray import _save_tmp
from mxlite.ndarray._save_tmp import STALE_TMP_SECONDS, TMP_SUFFIX, tmp_name_pattern

__all__ = [
    "atomic_write",
    "TMP_SUFFIX",
    "STALE_TMP_SECONDS",
    "MAX_PENDING_RELEASES",
    "IN_PLACE_ENV",
    "SaveNotAtomicWarning",
    "tmp_name_pattern",
    "remove_dead_leftovers",
    "wait_for_pending_releases",
]

#: Replaced files whose descriptors may wait for the background thread; more are closed at once.
MAX_PENDING_RELEASES = 32
#: Set to 1 to overwrite a writable target in place when its directory is not writable.
IN_PLACE_ENV = "MXLITE_SAVE_IN_PLACE"


class SaveNotAtomicWarning(UserWarning):
    """A file was overwritten in place, without crash safety (``MXLITE_SAVE_IN_PLACE``)."""


_MSG_IN_PLACE = (
    "Saved {target!r} in place, NOT atomically: its directory is not writable ({why}), and "
    "{env}=1 (or in_place_fallback=True) asks for an in-place write there. A crash during "
    "such a save leaves the file damaged; make the directory writable to get atomic saves back."
)
_MSG_DENIED = (
    "permission denied: saving needs write access to the directory {directory!r} (the new file "
    "is written next to the target, then renamed over it). Make the directory writable, save "
    "elsewhere, or set {env}=1 to overwrite an existing writable file in place, without crash "
    "safety"
)

# O_PATH pins the inode without opening the file's data (Linux); elsewhere a read-only open that
# cannot block (FIFOs are never held, but the target may change between stat and open).
_HOLD_FLAGS = getattr(os, "O_PATH", os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)) | getattr(
    os, "O_CLOEXEC", 0
)


def _resolve(path: str) -> str:
    """The file to replace: a symlink's final target, so saving through a link updates the file."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _fsync_dir(directory: str) -> None:
    """Make the rename durable; silently skipped where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _open_old(path: str) -> int:
    """A descriptor that keeps the file at ``path`` allocated after its name is replaced."""
    return os.open(path, _HOLD_FLAGS)


def _close_fd(fd: int) -> None:
    """Close a held descriptor; for a replaced file this is where its blocks are freed."""
    with contextlib.suppress(OSError):
        os.close(fd)


class _Releaser:
    """Holds replaced files open and closes them on one short-lived, non-daemon thread.

    Fork safety: a child must neither keep a replaced file allocated nor close a descriptor number
    that its parent has meanwhile closed and reused. ``_held`` maps every descriptor from
    :meth:`hold` that is not yet closed to the ``(st_dev, st_ino)`` of its file, and the child
    closes a descriptor only while it still refers to that file. A fork never waits for a close.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()  # guards _queue, _held and _running
        self._queue: collections.deque[int] = collections.deque()
        self._held: dict[int, tuple[int, int]] = {}
        self._running = False

    def hold(self, path: str) -> int | None:
        """Open ``path`` so that replacing it frees nothing yet; None where that is not possible."""
        if os.name != "posix":
            return None
        with self._cond:  # a fork cannot fall between the open and the bookkeeping
            try:
                fd = _open_old(path)
            except OSError:
                return None
            try:
                info = os.fstat(fd)
            except OSError:
                _close_fd(fd)
                return None
            self._held[fd] = (info.st_dev, info.st_ino)
        return fd

    def close_now(self, fd: int) -> None:
        """Close a held descriptor in the calling thread."""
        with self._cond:
            ident = self._held.get(fd)
        _close_fd(fd)
        with self._cond:  # unless hold() has reused the number meanwhile
            if self._held.get(fd) is ident:
                self._held.pop(fd, None)

    def release(self, fd: int) -> None:
        """Close ``fd`` on the background thread (here, if too many wait or no thread starts)."""
        with self._cond:
            if len(self._queue) >= MAX_PENDING_RELEASES:
                queued = start = False
            else:
                self._queue.append(fd)
                queued, start = True, not self._running
                self._running = True
        if not queued:
            self.close_now(fd)
            return
        if not start:
            return
        try:
            threading.Thread(target=self._work, name="mxlite-release-old", daemon=False).start()
        except RuntimeError:  # interpreter shutting down, or the thread limit is reached
            with self._cond:
                pending = list(self._queue)
                self._queue.clear()
                self._running = False
                self._cond.notify_all()
            for other in pending:
                self.close_now(other)

    def _work(self) -> None:
        try:
            while True:
                with self._cond:
                    if not self._queue:  # stop in the same locked step that finds no work
                        self._running = False
                        self._cond.notify_all()
                        return
                    fd = self._queue.popleft()
                self.close_now(fd)
        except BaseException:
            with self._cond:
                self._running = False
                self._cond.notify_all()
            raise

    def wait(self, timeout: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._running and not self._queue, timeout)

    def before_fork(self) -> None:
        self._cond.acquire()

    def after_fork_in_parent(self) -> None:
        self._cond.release()

    def after_fork_in_child(self) -> None:
        held = self._held
        self._reset()
        for fd, ident in held.items():
            try:
                info = os.fstat(fd)
            except OSError:
                continue  # the parent had closed it already
            if (info.st_dev, info.st_ino) == ident:
                _close_fd(fd)


_RELEASER = _Releaser()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_RELEASER.before_fork,
        after_in_parent=_RELEASER.after_fork_in_parent,
        after_in_child=_RELEASER.after_fork_in_child,
    )


def wait_for_pending_releases(timeout: float | None = None) -> bool:
    """Wait until every replaced file has been closed (freed); False if ``timeout`` ran out."""
    return _RELEASER.wait(timeout)


def remove_dead_leftovers(path: str | os.PathLike[str]) -> int:
    """Remove what killed saves of ``path`` left behind, where their writers are gone (see
    :mod:`._save_tmp`); the number of files removed. Loads call it too. Never raises."""
    directory, name = os.path.split(os.path.abspath(_resolve(os.fspath(path))))
    return _save_tmp.remove_dead_leftovers(directory, name)


def _reason(err: OSError, directory: str, written: int) -> str:
    """Why saving failed, in words that say what to do."""
    code = err.errno
    kept = "the previous file is unchanged"
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        what = "no space left on device" if code == errno.ENOSPC else "disk quota exceeded"
        return f"{what} after {written} bytes of the new file; {kept}. Free space, save again"
    if code == errno.EFBIG:
        return (
            f"the file is too large for the file system or the process's file-size limit "
            f"(ulimit -f) after {written} bytes; {kept}"
        )
    if code == errno.EROFS:
        return f"the file system of {directory!r} is read-only"
    if code in (errno.EACCES, errno.EPERM):
        return _MSG_DENIED.format(directory=directory, env=IN_PLACE_ENV)
    if code == errno.EISDIR:
        return "it is a directory"
    if code == errno.ENOENT:
        return f"{err.strerror} (does the directory exist? {directory!r} was not found)"
    return err.strerror or str(err)


def _save_error(err: OSError, target: str, directory: str, written: int) -> OSError:
    """``err`` reworded for the target (an OSError of the same errno, so of the same class)."""
    return OSError(err.errno, f"Cannot save {target!r}: {_reason(err, directory, written)}.")


def _wants_in_place(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return os.environ.get(IN_PLACE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@contextlib.contextmanager
def _write_in_place(target: str, why: str) -> Iterator[IO[bytes]]:
    """Overwrite ``target`` in place (truncate, write, fsync), with a warning."""
    fd = os.open(target, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "wb") as f:
        yield f
        f.flush()
        os.fsync(f.fileno())
    warnings.warn(
        _MSG_IN_PLACE.format(target=target, why=why, env=IN_PLACE_ENV),
        SaveNotAtomicWarning,
        stacklevel=4,
    )


class _Counting:
    """A binary file wrapper that counts the bytes written and keeps a failed write's error (so
    that only errors of the file itself are reworded, not other ones of the caller's block)."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.written = 0
        self.error: OSError | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        try:
            n = self._f.write(data)
        except OSError as err:
            self.error = err
            raise
        self.written += n
        return n

    def __getattr__(self, name: str) -> object:
        return getattr(self._f, name)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], in_place_fallback: bool | None = None
) -> Iterator[IO[bytes]]:
    """Open a binary file whose contents replace ``path`` only when the block ends without error.

    Example::

        with atomic_write("model.params") as f:
            f.write(data)

    On an exception the temporary file is removed, ``path`` is left as it was and the exception
    propagates. An existing target's permission bits are kept; a new file gets the usual
    ``0o666 & ~umask``. The new contents are durable when the block ends; the replaced file's
    disk space is freed shortly after, by a background thread (see the module docstring;
    :func:`wait_for_pending_releases` waits for it). Leftovers of earlier saves of ``path``
    whose writers were killed are removed first.

    Args:
        path: the file to write.
        in_place_fallback: when the directory is not writable but ``path`` is an existing
            writable file, overwrite it in place (not atomically, with a
            :class:`SaveNotAtomicWarning`). None reads ``MXLITE_SAVE_IN_PLACE``.

    Raises:
        OSError: of the errno's class (``PermissionError``, ``IsADirectoryError``, ...), naming
            the target and the reason: the directory does not exist or is not writable, the
            disk is full, the file is too large, the file system is read-only, ``path`` is a
            directory.
    """
    target = _resolve(os.fspath(path))
    directory, name = os.path.split(os.path.abspath(target))
    try:
        old: os.stat_result | None = os.stat(target)
    except OSError:
        old = None
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise _save_error(OSError(errno.EISDIR, "Is a directory"), target, directory, 0)
    _save_tmp.remove_dead_leftovers(directory, name)
    mode = stat.S_IMODE(old.st_mode) if old is not None else 0o666
    tmp: str | None = None
    try:
        fd = _save_tmp.open_unnamed(directory, 0o666)
        if fd is None:
            fd, tmp = _save_tmp.open_named(directory, name, 0o666)
    except OSError as err:
        denied = err.errno in (errno.EACCES, errno.EPERM)
        if (
            denied
            and old is not None
            and stat.S_ISREG(old.st_mode)
            and _wants_in_place(in_place_fallback)
        ):
            with _write_in_place(target, err.strerror or "permission denied") as f:
                yield f
            return
        raise _save_error(err, target, directory, 0) from err
    held: int | None = None
    counting: _Counting | None = None
    in_block = False
    try:
        if old is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", closefd=False) as raw:
            counting = _Counting(raw)
            in_block = True
            yield counting  # type: ignore[misc]
            in_block = False
            raw.flush()
        os.fsync(fd)
        if tmp is None:
            tmp = _save_tmp.name_unnamed(fd, directory, name)
        os.close(fd)
        fd = -1
        if old is not None and stat.S_ISREG(old.st_mode):
            held = _RELEASER.hold(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if held is None:
                raise
            # Some file systems refuse to replace a file that is open: retry the plain way.
            _RELEASER.close_now(held)
            held = None
            os.replace(tmp, target)
    except BaseException as err:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        if held is not None:
            _RELEASER.close_now(held)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        ours = not in_block or (counting is not None and err is counting.error)
        if isinstance(err, OSError) and ours:
            written = counting.written if counting is not None else 0
            raise _save_error(err, target, directory, written) from err
        raise
    try:
        _fsync_dir(directory)
    finally:
        if held is not None:
            _RELEASER.release(held)
