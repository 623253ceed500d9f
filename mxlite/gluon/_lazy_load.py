"""Loading a ``.params`` file into Parameters, all or nothing.

``ParameterDict.load`` / ``Block.load_parameters`` first *index* the file: the headers are parsed
with the checks of :func:`mxlite._formats.params.read_params` (every size against the
file's length and NumPy's limits, through the one shared
:meth:`~mxlite._formats._binio.BoundedReader.array_nbytes`) while the data is skipped, and the
open file's identity (device, inode, size, modification time) is noted. The load checks (names,
shapes, dtypes, contexts) then run on the index entries (:class:`FileArray`: shape and dtype).
Only then are bytes read, in two phases:

1. *Stage*: every array the load needs is read, from the very descriptor that was indexed,
   into one host buffer (neighbouring arrays in one ``preadv`` each). A short read, an I/O
   error, or a file whose size, modification time or inode differ from the indexed ones (a
   ``cp`` or another program rewrote it in place meanwhile) raises
   :class:`~mxlite.base.ParamFileError` naming the file and the array; no Parameter has changed.
2. *Apply*: an initialized Parameter whose replicas are host arrays of the file's dtype and
   shape gets a copy of its staged bytes in each replica; GPU replicas are filled from the
   staged bytes in one pinned batch (:mod:`mxlite.backend.staging`); anything else (a cast, a new
   shape, an uninitialized Parameter, a Trainer whose kvstore holds the weights) takes the
   ordinary path with an array over its staged bytes. None of this reads the file.

The staging buffer holds at most the file's size (the data of the arrays loaded, and the headers
between neighbours) and lives for the call. A file renamed over the path after indexing (an
atomic save) does not matter: the indexed file is read. Files of other formats (``.npz``,
``.safetensors``) are read whole before anything changes, by the ordinary readers.
"""

from __future__ import annotations

import bisect
import os
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite._formats import atomic_file
from mxlite._formats import params as params_format
from mxlite._formats._binio import BoundedReader
from mxlite.base import ParamFileError
from mxlite.context import cpu

__all__ = ["FileArray", "index_params", "apply_loads", "close"]

#: Arrays whose data lie at most this many bytes apart are read by one ``preadv`` (the headers
#: between them land in the staging buffer too).
_MAX_GAP = 1 << 16

_MSG_CHANGED = (
    "Cannot load {path!r}: the file changed after it was indexed ({what}); no Parameter was "
    "changed. Another program is writing it (a `cp` over it, or a writer that is not atomic): "
    "load it again once that is done, or save with mx.nd.save / save_parameters, which replace "
    "files atomically."
)
_MSG_READ_FAILED = "Cannot load {path!r}: reading {entry} failed ({why}); no Parameter was changed."


class _Index:
    """The open file behind the entries of one index (the very file that was indexed, even if
    the path is replaced meanwhile) and its identity then; closed when the last entry goes or
    by :func:`close`."""

    def __init__(self, fd: int, path: str, info: os.stat_result) -> None:
        self.fd = fd
        self.path = path
        self.identity = _identity(info)
        self.staging: np.ndarray | None = None  # the staged bytes (see _stage)
        self.runs: list[tuple[int, int, int]] = []  # staged (file start, file end, position)
        self._starts: list[int] = []
        self._finalizer = weakref.finalize(self, os.close, fd)

    def close(self) -> None:
        self.staging = None
        self.runs = []
        self._starts = []
        self._finalizer()

    def stage(self, buf: np.ndarray, runs: list[tuple[int, int, int]]) -> None:
        """Keep ``buf``, which holds the file's bytes ``[start, end)`` of each run at its
        position."""
        self.staging, self.runs = buf, runs
        self._starts = [start for start, _, _ in runs]

    def staged_at(self, offset: int, nbytes: int) -> int:
        """Where the file's bytes ``[offset, offset + nbytes)`` are in :attr:`staging`, or -1."""
        k = bisect.bisect_right(self._starts, offset) - 1
        if k < 0:
            return -1
        start, end, pos = self.runs[k]
        return pos + offset - start if offset + nbytes <= end else -1

    def check_unchanged(self) -> None:
        """Raise unless the file still has the size, mtime and inode it had when indexed."""
        try:
            now = _identity(os.fstat(self.fd))
        except OSError as err:
            raise ParamFileError(
                _MSG_READ_FAILED.format(path=self.path, entry="its status", why=err.strerror)
            ) from err
        if now != self.identity:
            size, mtime, ino, dev = self.identity
            what = []
            if now[0] != size:
                what.append(f"size {size} -> {now[0]} bytes")
            if now[1] != mtime:
                what.append("modification time")
            if now[2:] != (ino, dev):
                what.append("inode")
            raise ParamFileError(_MSG_CHANGED.format(path=self.path, what=", ".join(what)))


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)


class FileArray:
    """One array of an indexed ``.params`` file, not read yet (what the load checks see).

    Attributes:
        index: the open file it belongs to.
        offset: where its bytes start in the file.
        shape: its shape.
        np_dtype: its NumPy dtype (native byte order).
        file_dtype: the dtype as stored (little-endian).
        name: its name in the file (``array i`` in files without names), for messages.
        cast: the dtype a load converts it to (:meth:`astype`), or None.
    """

    __slots__ = ("index", "offset", "shape", "np_dtype", "file_dtype", "name")
    stype = "default"
    cast: Any = None

    def __init__(
        self,
        index: _Index,
        offset: int,
        shape: tuple[int, ...],
        dtype: np.dtype,
        file_dtype: np.dtype,
        name: str,
    ) -> None:
        self.index = index
        self.offset = offset
        self.shape = shape
        self.np_dtype = dtype
        self.file_dtype = file_dtype
        self.name = name

    @property
    def context(self) -> Any:
        """cpu(0), where the loaded array would be."""
        return cpu()

    @property
    def dtype(self) -> Any:
        """As the loaded array would report it: a scalar type in legacy mode (``numpy.float32``,
        as NDArray), a ``numpy.dtype`` under ``npx.set_np()``."""
        from mxlite.base import dtype_np
        from mxlite.util import is_np_array

        dtype = self.np_dtype if self.cast is None else dtype_np(self.cast)
        return dtype if is_np_array() else dtype.type

    @property
    def nbytes(self) -> int:
        """Bytes of data in the file."""
        count = 1
        for dim in self.shape:
            count *= dim
        return count * self.file_dtype.itemsize

    def astype(self, dtype: Any, copy: bool = True) -> FileArray:
        """This entry, converted to ``dtype`` when it is loaded (nothing is read now)."""
        return _CastFileArray(self, dtype)

    @property
    def staged(self) -> bool:
        """Whether :func:`_stage` has read the bytes."""
        return not self.nbytes or self.index.staged_at(self.offset, self.nbytes) >= 0

    def host(self) -> np.ndarray:
        """The host array (native dtype, C order) over the bytes :func:`_stage` read."""
        if not self.nbytes:
            return np.empty(self.shape, dtype=self.np_dtype)
        at = self.index.staged_at(self.offset, self.nbytes)
        if at < 0 or self.index.staging is None:
            raise RuntimeError(f"array {self.name!r} of {self.index.path!r} was not staged")
        raw = np.ndarray(self.shape, dtype=self.file_dtype, buffer=self.index.staging, offset=at)
        return raw if raw.dtype == self.np_dtype else raw.astype(self.np_dtype)


class _CastFileArray(FileArray):
    """A :class:`FileArray` that a load converts to ``cast`` (``astype`` of a load check)."""

    __slots__ = ("cast",)

    def __init__(self, entry: FileArray, dtype: Any) -> None:
        super().__init__(
            entry.index, entry.offset, entry.shape, entry.np_dtype, entry.file_dtype, entry.name
        )
        self.cast = dtype


class _IndexingReader(BoundedReader):
    """A BoundedReader that makes a :class:`FileArray` of each array and skips its data."""

    def __init__(self, stream: Any, size: int, index: _Index) -> None:
        super().__init__(stream, size, index.path)
        self.index = index
        self.entries: list[FileArray] = []
        self._natives: dict[np.dtype, np.dtype] = {}
        self._empties: dict[np.dtype, np.ndarray] = {}

    def raw_array(self, shape: tuple[int, ...], file_dtype: np.dtype, what: str) -> np.ndarray:
        nbytes = self.array_nbytes(shape, file_dtype, what)
        native = self._natives.get(file_dtype)
        if native is None:
            native = self._natives[file_dtype] = file_dtype.newbyteorder("=")
        entry = FileArray(
            self.index, self.position, shape, native, file_dtype, f"array {len(self.entries)}"
        )
        self.entries.append(entry)
        self.skip(nbytes)
        empty = self._empties.get(file_dtype)
        if empty is None:  # what read_params' checks run on: no data, never kept
            empty = self._empties[file_dtype] = np.empty(0, dtype=file_dtype)
        return empty


def index_params(path: str) -> dict[str, FileArray] | list[FileArray] | None:
    """Index a ``.params`` file with :func:`~mxlite._formats.params.parse_list`, the one
    parser of the format, in index mode (see the module docstring); None when it is of another
    format or cannot be opened (the caller then reads it the ordinary way, which reports why).

    Raises:
        ParamFileError: the file is a damaged ``.params`` file (the ordinary reader's message).
    """
    if path.lower().endswith((".npz", ".safetensors")):
        return None
    if not hasattr(os, "preadv"):
        return None
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return None  # the ordinary reader raises MXNet's error for it
    atomic_file.remove_dead_leftovers(path)  # what killed saves of this file left behind
    with f:
        info = os.fstat(f.fileno())
        head = f.read(16)
        if len(head) < 16 or params_format.sniff_format(head) != "params":
            return None
        f.seek(0)
        index = _Index(os.dup(f.fileno()), path, info)
        reader = _IndexingReader(f, info.st_size, index)
        try:
            arrays, names = params_format.parse_list(reader)
        except BaseException:
            index.close()
            raise
        entries = reader.entries
        if len(entries) != len(arrays):  # sparse records: the ordinary reader loads them
            index.close()
            return None
        if names is None:
            return entries
        result: dict[str, FileArray] = {}
        for name, entry in zip(names, entries, strict=True):
            entry.name = name
            result[name] = entry  # a later duplicate name wins, as in MXNet
        return result


def _read_range(
    index: _Index, buf: np.ndarray, start: int, group: list[FileArray], first: int
) -> None:
    """Read file bytes ``[start, start + len(buf))`` into ``buf`` (``group[first:]`` starts
    there)."""
    view = memoryview(buf)  # type: ignore[arg-type]
    got = 0
    while got < len(view):
        try:
            n = os.preadv(index.fd, [view[got:]], start + got)
        except OSError as err:
            entry = _entry_at(group, first, start + got)
            raise ParamFileError(
                _MSG_READ_FAILED.format(path=index.path, entry=entry, why=err.strerror)
            ) from err
        if n <= 0:
            index.check_unchanged()  # names the change when there is one
            entry = _entry_at(group, first, start + got)
            raise ParamFileError(
                _MSG_CHANGED.format(
                    path=index.path, what=f"it ends at byte {start + got}, inside {entry}"
                )
            )
        got += n


def _entry_at(group: list[FileArray], first: int, offset: int) -> str:
    for i in range(first, len(group)):
        if offset < group[i].offset + group[i].nbytes:
            return f"the data of {group[i].name!r}"
    return f"the data of {group[-1].name!r}"


def _offset(entry: FileArray) -> int:
    return entry.offset


def _stage_file(index: _Index, group: list[FileArray]) -> None:
    """Read the bytes of ``group`` (entries of ``index`` with data) into ``index.staging``:
    arrays at most ``_MAX_GAP`` apart are read together, by one ``preadv``."""
    index.check_unchanged()
    group.sort(key=_offset)
    runs: list[tuple[int, int, int]] = []  # (file start, file end, first entry)
    for i, entry in enumerate(group):
        end = entry.offset + entry.nbytes
        if runs and entry.offset - runs[-1][1] <= _MAX_GAP:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end), runs[-1][2])
        else:
            runs.append((entry.offset, end, i))
    buf = np.empty(sum(end - start for start, end, _ in runs), dtype=np.uint8)
    placed: list[tuple[int, int, int]] = []  # (file start, file end, position in buf)
    pos = 0
    for start, end, first in runs:
        _read_range(index, buf[pos : pos + end - start], start, group, first)
        placed.append((start, end, pos))
        pos += end - start
    index.check_unchanged()  # a writer may have changed bytes already read
    index.stage(buf, placed)
    for entry in group:
        if entry.np_dtype == np.bool_:  # bytes other than 0/1 would make odd booleans
            at = index.staged_at(entry.offset, entry.nbytes)
            flags = buf[at : at + entry.nbytes]
            np.not_equal(flags, 0, out=flags)


def _stage(entries: Sequence[FileArray]) -> None:
    """Read the bytes of ``entries`` into one host buffer per file (see the module docstring).

    Raises:
        ParamFileError: a read fails or comes up short, or the file changed since it was
            indexed; nothing has been changed then.
    """
    todo = [entry for entry in entries if not entry.staged]
    if not todo:
        return
    index = todo[0].index
    if all(entry.index is index for entry in todo):
        _stage_file(index, todo)
    else:
        groups: dict[int, list[FileArray]] = {}
        for entry in todo:
            groups.setdefault(id(entry.index), []).append(entry)
        for group in groups.values():
            _stage_file(group[0].index, group)


def _fast(param: Any, plan: Any) -> bool:
    """Whether ``plan`` can be applied by copying staged bytes straight into ``param``'s
    replicas."""
    data, new_shape, new_dtype, _ = plan
    if not isinstance(data, FileArray) or data.cast is not None:
        return False
    if new_dtype is not None or param._data is None:
        return False
    if new_shape is not None and tuple(new_shape) != tuple(param._shape or ()):
        return False
    trainer = param._trainer
    if trainer is not None and getattr(trainer, "_kv_initialized", False):
        return False  # set_data may have to reset the kvstore: take the ordinary path
    for arr in param._data:
        raw = arr._data
        if raw.dtype != data.np_dtype or tuple(raw.shape) != tuple(data.shape):
            return False
        if not raw.flags.c_contiguous or (
            not backend.is_gpu_array(raw) and not raw.flags.writeable
        ):
            return False
    return True


def apply_loads(plans: Sequence[tuple[Any, Any]]) -> None:
    """Apply checked load plans ``(param, LoadPlan)``: first read every file array the plans
    name (nothing changes if that fails), then copy them into the replicas, everything else
    through ``Parameter._apply_load``.

    Raises:
        ParamFileError: the file could not be read, or changed since it was indexed; no
            Parameter has changed.
    """
    from mxlite.backend import staging
    from mxlite.gluon._replicas import front_class

    _stage([plan[0] for _, plan in plans if isinstance(plan[0], FileArray)])
    gpu_hosts: list[np.ndarray] = []
    gpu_dests: list[Any] = []
    for param, plan in plans:
        data = plan[0]
        if not isinstance(data, FileArray):
            param._apply_load(plan)
        elif not _fast(param, plan):
            value = front_class()(data.host(), cpu())
            if data.cast is not None:
                value = value.astype(data.cast, copy=False)
            param._apply_load(plan._replace(data=value))
        else:
            host = data.host()
            for arr in param._data:
                raw = arr._data
                if backend.is_gpu_array(raw):
                    gpu_hosts.append(host)
                    gpu_dests.append(raw)
                else:
                    np.copyto(raw, host)
            param._end_deferred()
    if gpu_dests:
        staging.to_device_into(gpu_hosts, gpu_dests)


def close(loaded: Any) -> None:
    """Close the file behind an index returned by :func:`index_params` and drop its staged
    bytes (no-op for arrays)."""
    values = loaded.values() if isinstance(loaded, dict) else loaded
    for value in values:
        if isinstance(value, FileArray):
            value.index.close()
            return
