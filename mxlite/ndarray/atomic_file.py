"""Atomic file replacement: a crash while saving never leaves a half-written parameter file.

:func:`atomic_write` writes to a temporary file in the target's directory, flushes and fsyncs it,
renames it over the target (``os.replace``, atomic on POSIX and Windows) and fsyncs the directory,
so the target holds either its old bytes or all of the new ones, even across a power cut.

Temporary files are named ``.<target name>.<pid>.<random>.mxlite-tmp``: hidden, and with a suffix
that no loader or glob for the target matches. A writer killed mid-write (SIGKILL, power loss)
cannot remove its temporary file; the next successful save of the same target removes such
leftovers once their writer process is gone and they are older than :data:`STALE_TMP_SECONDS`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import time
from collections.abc import Iterator
from typing import IO

__all__ = ["atomic_write", "TMP_SUFFIX", "STALE_TMP_SECONDS", "tmp_name_pattern"]

TMP_SUFFIX = ".mxlite-tmp"
#: Leftover temporary files younger than this are never removed (a writer may still be busy).
STALE_TMP_SECONDS = 600.0


def tmp_name_pattern(target_name: str) -> tuple[str, str]:
    """``(prefix, suffix)`` of the temporary files used while saving ``target_name``."""
    return f".{target_name}.", TMP_SUFFIX


def _resolve(path: str) -> str:
    """The file to replace: a symlink's final target, so saving through a link updates the file."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _open_tmp(directory: str, name: str, mode: int) -> tuple[int, str]:
    prefix, suffix = tmp_name_pattern(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f"{prefix}{os.getpid()}.{secrets.token_hex(4)}{suffix}")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file next to {name!r} in {directory!r}")


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


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours, or we cannot tell: keep its file
    return True


def _remove_stale_tmps(directory: str, name: str) -> None:
    """Remove temporary files of dead writers of ``name`` older than STALE_TMP_SECONDS."""
    prefix, suffix = tmp_name_pattern(name)
    now = time.time()
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(suffix)):
            continue
        middle = entry[len(prefix) : -len(suffix)].split(".")
        if len(middle) != 2 or not middle[0].isdigit():
            continue
        path = os.path.join(directory, entry)
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < STALE_TMP_SECONDS:
                continue
            if not _pid_alive(int(middle[0])):
                os.unlink(path)
        except OSError:
            continue


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a binary file whose contents replace ``path`` only when the block ends without error.

    Example::

        with atomic_write("model.params") as f:
            f.write(data)

    On an exception the temporary file is removed, ``path`` is left as it was and the exception
    propagates. An existing target's permission bits are kept; a new file gets the usual
    ``0o666 & ~umask``.

    Raises:
        OSError: the directory does not exist or is not writable, the disk is full, ...
    """
    target = _resolve(os.fspath(path))
    directory, name = os.path.split(os.path.abspath(target))
    try:
        old_mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        old_mode = None
    fd, tmp = _open_tmp(directory, name, 0o666)
    try:
        if old_mode is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, old_mode)
        with os.fdopen(fd, "wb") as f:
            fd = -1
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
    _remove_stale_tmps(directory, name)
