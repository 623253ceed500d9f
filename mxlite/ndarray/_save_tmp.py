"""The temporary files of saves: unnamed where possible, else named after their writer, and
removed as soon as that writer is gone.

On Linux a save writes into an unnamed file (``O_TMPFILE``) in the target's directory and gives
it a name only once it is complete and fsynced, just before renaming it over the target. A
writer killed while writing leaves nothing: the kernel frees an unnamed file with its last
descriptor. Only a kill in the microseconds between naming and renaming leaves a file; elsewhere
(other systems, file systems without ``O_TMPFILE``) the file has its name from the start.

Names are ``.<target name>.<writer>.<random>.mxlite-tmp``: hidden, and with a suffix that no
loader or glob for the target matches. ``<writer>`` is ``<pid>-<start>-<pidns>``: the writer's
pid, its start time (clock ticks after boot, from ``/proc/<pid>/stat``; 0 where unknown) and
the inode of its pid namespace. :func:`remove_dead_leftovers` (run by every save and load of the
target) removes a leftover at once when its writer is provably gone: same pid namespace, and no
process has that pid, or the process that has it started at another time (the pid was reused).
Leftovers of writers in other pid namespaces (containers sharing the directory), and names in
the older ``<pid>`` form, are removed only once older than :data:`STALE_TMP_SECONDS` and their
pid is not alive here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time

__all__ = [
    "TMP_SUFFIX",
    "STALE_TMP_SECONDS",
    "tmp_name_pattern",
    "writer_tag",
    "open_unnamed",
    "open_named",
    "name_unnamed",
    "remove_dead_leftovers",
]

TMP_SUFFIX = ".mxlite-tmp"
#: Leftovers whose writer cannot be checked are removed only once older than this.
STALE_TMP_SECONDS = 600.0
#: Use ``O_TMPFILE`` where the system offers it (tests switch it off to exercise named files).
USE_O_TMPFILE = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")

# Errors of an O_TMPFILE open that mean "not supported here" (then a named file is used).
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOTSUP}
_OPEN_FLAGS = os.O_WRONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = (
    getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
)
_TAGS: dict[int, str] = {}


def tmp_name_pattern(target_name: str) -> tuple[str, str]:
    """``(prefix, suffix)`` of the temporary files used while saving ``target_name``."""
    return f".{target_name}.", TMP_SUFFIX


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:  # field 22; the command name (field 2) may hold spaces and parentheses
        return int(data[data.rindex(b")") + 2 :].split()[19])
    except (ValueError, IndexError):
        return None


def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def writer_tag() -> str:
    """This process's ``<pid>-<start>-<pidns>`` (recomputed after a fork)."""
    pid = os.getpid()
    tag = _TAGS.get(pid)
    if tag is None:
        tag = _TAGS[pid] = f"{pid}-{_start_time(pid) or 0}-{_pid_namespace()}"
    return tag


def open_unnamed(directory: str, mode: int) -> int | None:
    """A descriptor of a new unnamed file in ``directory`` (``O_TMPFILE``), or None where that
    is not supported.

    Raises:
        OSError: the directory cannot hold the file (missing, not writable, read-only, ...).
    """
    if not USE_O_TMPFILE:
        return None
    try:  # readable too: if it cannot be named, its bytes are copied (see name_unnamed)
        return os.open(directory, os.O_TMPFILE | os.O_RDWR | _OPEN_FLAGS & ~os.O_WRONLY, mode)
    except OSError as err:
        if err.errno in _NO_TMPFILE:
            return None
        raise


def _new_name(directory: str, name: str) -> str:
    prefix, suffix = tmp_name_pattern(name)
    return os.path.join(directory, f"{prefix}{writer_tag()}.{secrets.token_hex(4)}{suffix}")


def open_named(directory: str, name: str, mode: int) -> tuple[int, str]:
    """A new file ``.<name>.<writer>.<random>.mxlite-tmp`` in ``directory``: ``(fd, path)``.

    Raises:
        OSError: the directory cannot hold it.
    """
    flags = _OPEN_FLAGS | os.O_CREAT | os.O_EXCL
    for _ in range(100):
        tmp = _new_name(directory, name)
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(
        errno.EEXIST, f"could not create a temporary file next to {name!r} in {directory!r}"
    )


def name_unnamed(fd: int, directory: str, name: str) -> str:
    """Give the complete, fsynced unnamed file ``fd`` a temporary name in ``directory``; its
    path. Where the file system refuses to link it (some refuse ``linkat`` through
    ``/proc/self/fd``), its bytes and mode are copied into a named file instead, and later
    saves of this process use named files from the start.

    Raises:
        OSError: neither works (no space, ...).
    """
    global USE_O_TMPFILE
    try:
        return _link_unnamed(fd, directory, name)
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EROFS):
            raise
    USE_O_TMPFILE = False
    info = os.fstat(fd)
    out, tmp = open_named(directory, name, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(out, stat.S_IMODE(info.st_mode))
        size = info.st_size
        done = 0
        while done < size:
            chunk = os.pread(fd, min(size - done, 1 << 24), done)
            if not chunk:
                raise OSError(errno.EIO, "the unnamed temporary file ended early")
            done += os.write(out, chunk)
        os.fsync(out)
    except BaseException:
        os.close(out)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(out)
    return tmp


def _link_unnamed(fd: int, directory: str, name: str) -> str:
    # linkat(AT_FDCWD, "/proc/self/fd/N", dirfd, tmp, AT_SYMLINK_FOLLOW): os.link only calls
    # linkat with a dir_fd (plain link() does not follow the magic link: EXDEV).
    dir_fd = os.open(directory, _DIR_FLAGS)
    try:
        for _ in range(100):
            tmp = _new_name(directory, name)
            try:
                os.link(
                    f"/proc/self/fd/{fd}",
                    os.path.basename(tmp),
                    dst_dir_fd=dir_fd,
                    follow_symlinks=True,
                )
                return tmp
            except FileExistsError:
                continue
    finally:
        os.close(dir_fd)
    raise FileExistsError(
        errno.EEXIST, f"could not name a temporary file next to {name!r} in {directory!r}"
    )


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no safe liveness check (os.kill would terminate the process)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but is not ours, or we cannot tell: keep its file
    return True


def _writer_gone(tag: str, age: float) -> bool:
    """Whether the writer named by ``tag`` is certainly gone (its file may be removed)."""
    parts = tag.split("-")
    if not all(p.isdigit() for p in parts) or len(parts) not in (1, 3):
        return False
    pid = int(parts[0])
    if len(parts) == 1 or int(parts[2]) != _pid_namespace():  # an older name, or a container
        return age >= STALE_TMP_SECONDS and not _pid_alive(pid)
    if not _pid_alive(pid):
        return True
    start = int(parts[1])
    now = _start_time(pid)
    return start != 0 and now is not None and now != start  # the pid was reused


def remove_dead_leftovers(directory: str, name: str) -> int:
    """Remove the temporary files of saves of ``name`` in ``directory`` whose writer is gone
    (see the module docstring); the number removed. Never raises."""
    prefix, suffix = tmp_name_pattern(name)
    try:
        entries = os.listdir(directory)
    except OSError:
        return 0
    removed = 0
    now = time.time()
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(suffix)):
            continue
        middle = entry[len(prefix) : -len(suffix)].split(".")
        if len(middle) != 2:
            continue
        path = os.path.join(directory, entry)
        with contextlib.suppress(OSError):
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode) and _writer_gone(middle[0], now - info.st_mtime):
                os.unlink(path)
                removed += 1
    return removed
