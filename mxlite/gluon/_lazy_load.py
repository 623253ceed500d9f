"""Loading a ``.params`` file straight into the Parameters' own buffers.

``ParameterDict.load`` used to read every array of the file into a new host array, then copy it
into each replica. A new array costs a page fault per 4 KiB page the first time it is written,
which on a large model costs more than the copy itself. Here the file is first *indexed*: the
headers are parsed with the same checks as :func:`mxlite.ndarray.params_format.read_params`
(every size against the file's length, so a truncated or hostile file fails before any
Parameter changes) while the data is skipped. The load checks then run on the index entries
(:class:`FileArray`, which carry shape and dtype), and only then are the bytes read:

* an initialized Parameter whose replicas are host arrays of the file's dtype and shape gets the
  bytes read (``os.preadv``) into its first replica, and copies of them in the others;
* host bytes for GPU replicas go through pinned staging buffers in one batch
  (:mod:`mxlite.ops.staging`);
* anything else (a cast, a new shape, an uninitialized Parameter, a Trainer whose kvstore holds
  the weights) reads the array into a new host array and takes the ordinary path.

Files of other formats (``.npz``, ``.safetensors``) or of unusual layout are read as before.
"""

from __future__ import annotations

import io
import os
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.context import cpu
from mxlite.ndarray import params_format
from mxlite.ndarray._binio import BoundedReader

__all__ = ["FileArray", "index_params", "apply_loads", "close"]


class _Handle:
    """The open file the entries of one index read from (the very file that was indexed, even
    if the path is replaced meanwhile); closed when the last entry goes or by :func:`close`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._finalizer = weakref.finalize(self, os.close, fd)

    def close(self) -> None:
        self._finalizer()


class FileArray:
    """One array of a ``.params`` file, not read yet.

    Attributes:
        handle: the open file.
        path: the file's name (for messages).
        offset: where its bytes start.
        shape: its shape.
        np_dtype: its NumPy dtype (native byte order).
        file_dtype: the dtype as stored (little-endian).
    """

    stype = "default"

    def __init__(
        self,
        handle: _Handle,
        path: str,
        offset: int,
        shape: tuple[int, ...],
        dtype: np.dtype,
        file_dtype: np.dtype,
    ) -> None:
        self.handle = handle
        self.path = path
        self.offset = offset
        self.shape = shape
        self.np_dtype = dtype
        self.file_dtype = file_dtype
        self.context = cpu()

    @property
    def dtype(self) -> Any:
        """As the loaded array would report it: a scalar type in legacy mode (``numpy.float32``,
        as NDArray), a ``numpy.dtype`` under ``npx.set_np()``."""
        from mxlite.util import is_np_array

        return self.np_dtype if is_np_array() else self.np_dtype.type

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.np_dtype.itemsize

    def read_into(self, raw: np.ndarray) -> None:
        """Read the bytes into the C-contiguous host array ``raw`` (same shape, native dtype)."""
        nbytes = self.nbytes
        if nbytes:
            view = memoryview(raw.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
            got = 0
            while got < nbytes:
                n = os.preadv(self.handle.fd, [view[got:]], self.offset + got)
                if n <= 0:
                    raise OSError(f"{self.path!r} ended early while reading it (did it change?)")
                got += n
        if self.np_dtype == np.bool_:  # bytes other than 0/1 would make odd booleans
            np.not_equal(raw.view(np.uint8), 0, out=raw)

    def read(self) -> Any:
        """The array as a new host array of the current front-end class on cpu(0)."""
        from mxlite.gluon._replicas import front_class

        raw = np.empty(self.shape, dtype=self.file_dtype)
        self.read_into(raw)
        if raw.dtype != self.np_dtype:
            raw = raw.astype(self.np_dtype)
        return front_class()(raw, cpu())

    def astype(self, dtype: Any, copy: bool = True) -> Any:
        return self.read().astype(dtype, copy=copy)


class _IndexingReader(BoundedReader):
    """A BoundedReader that records where each array's data is and skips it."""

    def __init__(self, stream: Any, size: int, fname: str) -> None:
        super().__init__(stream, size, fname)
        self.spans: list[tuple[int, tuple[int, ...], np.dtype]] = []

    def raw_array(self, shape: tuple[int, ...], file_dtype: np.dtype, what: str) -> np.ndarray:
        count = 1
        for dim in shape:
            count *= dim
        nbytes = count * file_dtype.itemsize
        self.need(nbytes, what)
        self.spans.append((self._stream.tell(), tuple(shape), file_dtype))
        self._stream.seek(nbytes, io.SEEK_CUR)
        self._left -= nbytes
        self._pos += nbytes
        return np.empty(0, dtype=file_dtype)


def index_params(path: str) -> dict[str, FileArray] | list[FileArray] | None:
    """Index a ``.params`` file (see the module docstring); None when it is of another format
    (the caller then reads it the ordinary way, which also reports any damage).

    Raises:
        ParamFileError: the file is a damaged ``.params`` file.
    """
    if path.lower().endswith((".npz", ".safetensors")):
        return None
    if not hasattr(os, "preadv"):
        return None
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return None  # the ordinary reader raises MXNet's error for it
    handle = _Handle(os.dup(f.fileno()))
    with f:
        head = f.read(16)
        if len(head) < 16 or params_format.sniff_format(head) != "params":
            return None
        f.seek(0)
        size = os.fstat(f.fileno()).st_size
        reader = _IndexingReader(f, size, path)
        header = reader.u64("the list header")
        reader.u64("the reserved header field")
        if header != params_format.LIST_MAGIC:
            return None
        count = reader.u64("the number of arrays")
        if count > max(0, reader.remaining - 8) // 4:
            return None
        metas = []
        for i in range(count):
            arr = params_format._read_array(reader, i, None)
            metas.append(arr.dtype)
        nnames = reader.u64("the number of names")
        if nnames not in (0, count) or len(reader.spans) != count:
            return None
        entries = [
            FileArray(handle, path, off, shape, np.dtype(dtype).newbyteorder("="), file_dtype)
            for (off, shape, file_dtype), dtype in zip(reader.spans, metas)
        ]
        if nnames == 0:
            return entries
        result: dict[str, FileArray] = {}
        for i, entry in enumerate(entries):
            length = reader.u64(f"the length of name {i}")
            raw = reader.take(length, f"name {i}")
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                return None
            if "\x00" in name:
                return None
            result[name] = entry
        return result


def _fast(param: Any, plan: Any) -> bool:
    """Whether ``plan`` can be applied by reading straight into ``param``'s replicas."""
    data, new_shape, new_dtype, _ = plan
    if not isinstance(data, FileArray) or new_dtype is not None or param._data is None:
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
    return bool(data.file_dtype == data.np_dtype)


def apply_loads(plans: Sequence[tuple[Any, Any]]) -> None:
    """Apply checked load plans ``(param, LoadPlan)``: file arrays straight into replicas where
    possible, everything else through ``Parameter._apply_load``."""
    from mxlite.ops import staging

    gpu_hosts: list[np.ndarray] = []
    gpu_dests: list[Any] = []
    for param, plan in plans:
        if not _fast(param, plan):
            if isinstance(plan[0], FileArray):
                plan = plan._replace(data=plan[0].read())
            param._apply_load(plan)
            continue
        data: FileArray = plan[0]
        replicas = [a._data for a in param._data]
        host = [r for r in replicas if not backend.is_gpu_array(r)]
        first = host[0] if host else np.empty(data.shape, dtype=data.np_dtype)
        data.read_into(first)
        for raw in host[1:]:
            np.copyto(raw, first)
        for raw in replicas:
            if backend.is_gpu_array(raw):
                gpu_hosts.append(first)
                gpu_dests.append(raw)
        param._deferred_init = ()
    if gpu_dests:
        staging.to_device_into(gpu_hosts, gpu_dests)


def close(loaded: Any) -> None:
    """Close the file behind an index returned by :func:`index_params` (no-op for arrays)."""
    values = loaded.values() if isinstance(loaded, dict) else loaded
    for value in values:
        if isinstance(value, FileArray):
            value.handle.close()
            return
