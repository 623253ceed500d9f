"""Bounded binary reading shared by the parameter-file readers.

Every reader in :mod:`mxlite.ndarray` pulls bytes through :class:`BoundedReader`, which knows how many
bytes the source still holds and refuses any request beyond that *before* anything is allocated.
A hostile header that claims a terabyte of data therefore fails with :class:`ParamFileError` after
reading a few bytes, instead of exhausting memory.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from typing import IO, Any

import numpy as np

from mxlite.base import ParamFileError

__all__ = [
    "BoundedReader",
    "Source",
    "open_source",
    "as_little_endian",
    "to_native",
    "numpy_can_hold",
]

#: What a reader accepts: raw bytes, or a binary file object opened for reading.
Source = bytes | bytearray | memoryview | IO[bytes]

_MAX_SPAN = np.iinfo(np.intp).max
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


def open_source(src: Any) -> tuple[IO[bytes], int]:
    """Return ``(stream, total_bytes_left)`` for bytes or a readable binary file object.

    Raises:
        TypeError: when ``src`` is neither bytes-like nor a binary stream.
    """
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src) if not isinstance(src, bytes) else src
        return io.BytesIO(data), len(data)
    if not hasattr(src, "read"):
        raise TypeError(
            f"expected bytes or a binary file object opened for reading, got {type(src).__name__}"
        )
    start = 0
    try:
        start = src.tell()
        size = os.fstat(src.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        try:
            src.seek(0, io.SEEK_END)
            size = src.tell()
            src.seek(start, io.SEEK_SET)
        except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
            data = src.read()
            if not isinstance(data, bytes):
                raise TypeError("the file object must be opened in binary mode ('rb')") from None
            return io.BytesIO(data), len(data)
    return src, max(0, size - start)


def numpy_can_hold(shape: tuple[int, ...], itemsize: int) -> bool:
    """Whether NumPy can create an array of ``shape`` (non-negative dims) and ``itemsize``: it
    refuses shapes whose dims (zeros counted as ones) times ``itemsize`` overflow ``intp``, even
    when the array is empty (``(0, 2**40, 2**40)``)."""
    span = itemsize
    for dim in shape:
        span *= max(dim, 1)
    return span <= _MAX_SPAN


class BoundedReader:
    """Reads little-endian fields from a stream whose remaining length is known.

    Args:
        stream: a binary stream positioned at the first byte to read.
        size: number of bytes the stream holds from that position.
        fname: the file name put into every error message.
    """

    def __init__(self, stream: IO[bytes], size: int, fname: str) -> None:
        self._stream = stream
        self._left = size
        self._pos = 0
        self.fname = fname

    @property
    def remaining(self) -> int:
        """Bytes not yet consumed."""
        return self._left

    @property
    def position(self) -> int:
        """Offset of the next byte, counted from where reading started."""
        return self._pos

    def error(self, what: str) -> ParamFileError:
        """A ParamFileError naming the file, the offset and ``what`` went wrong."""
        return ParamFileError(
            f"Invalid parameter file {self.fname!r} (at byte {self._pos}): {what}"
        )

    def need(self, nbytes: int, what: str) -> None:
        """Raise unless ``nbytes`` more bytes are available for ``what``."""
        if nbytes < 0 or nbytes > self._left:
            raise self.error(
                f"{what} needs {nbytes} bytes but only {self._left} remain "
                "(the file is truncated or damaged)"
            )

    def take(self, nbytes: int, what: str) -> bytes:
        """Read exactly ``nbytes`` bytes for ``what``."""
        self.need(nbytes, what)
        data = self._stream.read(nbytes)
        if len(data) != nbytes:
            raise self.error(f"{what}: the file ended early (did it change while being read?)")
        self._left -= nbytes
        self._pos += nbytes
        return data

    def u32(self, what: str) -> int:
        return int(_U32.unpack(self.take(4, what))[0])

    def i32(self, what: str) -> int:
        return int(_I32.unpack(self.take(4, what))[0])

    def u64(self, what: str) -> int:
        return int(_U64.unpack(self.take(8, what))[0])

    def i64s(self, count: int, what: str) -> list[int]:
        """Read ``count`` int64 values (bounds checked first)."""
        self.need(8 * count, what)
        return list(struct.unpack(f"<{count}q", self.take(8 * count, what)))

    def u32s(self, count: int, what: str) -> list[int]:
        """Read ``count`` uint32 values (bounds checked first)."""
        self.need(4 * count, what)
        return list(struct.unpack(f"<{count}I", self.take(4 * count, what)))

    def array(self, shape: tuple[int, ...], dtype: np.dtype, what: str) -> np.ndarray:
        """Allocate and fill a C-ordered native ``dtype`` array stored little-endian in the input.

        The byte count is checked against the remaining input before the allocation.
        """
        return to_native(self.raw_array(shape, as_little_endian(dtype), what), dtype)

    def array_nbytes(self, shape: tuple[int, ...], file_dtype: np.dtype, what: str) -> int:
        """Bytes of a C-ordered ``file_dtype`` array of ``shape`` that starts here, once checked:
        the input holds them, and NumPy can create the array (the one check every reader runs
        before it allocates or skips array data).

        Raises:
            ParamFileError: the bytes run past the input, or NumPy refuses the shape (a
                zero-size array such as ``(0, 2**40, 2**40)`` too).
        """
        count = 1
        for dim in shape:
            count *= dim
        nbytes = count * file_dtype.itemsize
        self.need(nbytes, what)
        if not numpy_can_hold(shape, file_dtype.itemsize):
            raise self.error(f"{what}: shape {shape} is too large for NumPy")
        return nbytes

    def skip(self, nbytes: int) -> None:
        """Move past ``nbytes`` checked by :meth:`array_nbytes` without reading them."""
        self._stream.seek(nbytes, io.SEEK_CUR)
        self._left -= nbytes
        self._pos += nbytes

    def raw_array(self, shape: tuple[int, ...], file_dtype: np.dtype, what: str) -> np.ndarray:
        """Allocate and fill a C-ordered array of exactly ``file_dtype`` (byte order included)."""
        nbytes = self.array_nbytes(shape, file_dtype, what)
        arr = np.empty(shape, dtype=file_dtype)
        if nbytes:
            view = arr.reshape(-1).view(np.uint8).data
            got = 0
            while got < nbytes:
                n = self._stream.readinto(view[got:])  # type: ignore[attr-defined]
                if not n:
                    raise self.error(
                        f"{what}: the file ended early (did it change while being read?)"
                    )
                got += n
            self._left -= nbytes
            self._pos += nbytes
        return arr


def as_little_endian(dtype: np.dtype) -> np.dtype:
    """The little-endian twin of ``dtype`` (the dtype itself on little-endian hosts)."""
    if dtype.itemsize == 1 or dtype.byteorder in ("<", "|"):
        return dtype
    if dtype.byteorder == "=" and sys.byteorder == "little":
        return dtype
    return dtype.newbyteorder("<")


def to_native(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Convert an array read as little-endian to the native ``dtype`` (no-op on little-endian)."""
    if arr.dtype == dtype and arr.dtype.isnative:
        return arr
    return arr.astype(dtype)
