"""MXNet's binary ``.params`` format (``mx.nd.save`` / ``mx.nd.load``) at the raw-NumPy level.

Layout of a file as MXNet 1.9.1 writes it (all integers little-endian)::

    uint64 0x112                 list magic
    uint64 0                     reserved
    uint64 N                     number of arrays, then N arrays:
        uint32 magic             0xF993FAC9 (V2), or 0xF993FACA (V3) when numpy shape
                                 semantics are on (npx.set_np())
        int32  stype             0 = dense (1 row_sparse, 2 csr: see _sparse_file.py)
        int32  ndim              V3: 0 is a scalar, -1 an unknown shape; V2: 0 means "none"
        int64  dims[ndim]
        int32  dev_type, dev_id  the saving device (cpu 1, gpu 2, cpu_pinned 3); ignored on load
        int32  type_flag         0 f32, 1 f64, 2 f16, 3 u8, 4 i32, 5 i8, 6 i64, 7 bool, 12 bf16
        bytes  data              prod(dims) * itemsize, C order
    uint64 K                     number of names: 0 (a list) or N (a dict)
        uint64 len, bytes utf8   each name

Readers also accept the two older per-array layouts MXNet still loads: V1 (magic 0xF993FAC8, no
stype) and the magic-less legacy one (the first uint32 is ndim, dims are uint32).

Every size in a file is checked against the bytes remaining before anything is allocated; damaged
or hostile files raise :class:`mxlite.base.ParamFileError` naming the file and the problem.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

import numpy as np

from mxlite._formats import sparse as _sparse_file
from mxlite._formats._binio import BoundedReader, Source, as_little_endian, open_source
from mxlite.base import DTYPE_NAME_TO_NP

__all__ = [
    "LIST_MAGIC",
    "V1_MAGIC",
    "V2_MAGIC",
    "V3_MAGIC",
    "TYPE_FLAG_TO_NAME",
    "NAME_TO_TYPE_FLAG",
    "MAX_NDIM",
    "write_params",
    "dumps_params",
    "dumps_array",
    "loads_array",
    "read_params",
    "sniff_format",
]

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA

#: mshadow type flags MXNet 1.9.1 can save and load from Python.
TYPE_FLAG_TO_NAME: dict[int, str] = {
    0: "float32",
    1: "float64",
    2: "float16",
    3: "uint8",
    4: "int32",
    5: "int8",
    6: "int64",
    7: "bool",
    12: "bfloat16",
}
NAME_TO_TYPE_FLAG: dict[str, int] = {name: flag for flag, name in TYPE_FLAG_TO_NAME.items()}
_KNOWN_BUT_UNSUPPORTED = {8: "int16", 9: "uint16", 10: "uint32", 11: "uint64"}

#: Most dimensions an array in a file may have (NumPy 1.x's limit; MXNet models use far fewer).
MAX_NDIM = 32

_DEFAULT_DEVICE = (1, 0)  # cpu(0)
_DEVICE_TYPES = (1, 2, 3, 5)  # cpu, gpu, cpu_pinned, cpu_shared

_MSG_V3_IN_ND = (
    "array {i} was saved in np shape semantics (is_np_shape() was True), so it must be loaded in "
    "the same semantics. Turn them on with `mx.npx.set_np()` (or `with mx.util.np_shape(True):`) "
    "around the load, or use mx.npx.load."
)
_MSG_V2_IN_NP = (
    "array {i} was not saved in np shape semantics, but is being loaded with is_np_shape() on. "
    "Turn them off around the load with `with mx.util.np_shape(False):` (or call "
    "`mx.npx.reset_np()`), then convert with `.as_np_ndarray()`."
)


def _np_dtype_of_flag(flag: int, reader: BoundedReader, index: int) -> np.dtype:
    name = TYPE_FLAG_TO_NAME.get(flag)
    if name is None:
        if flag in _KNOWN_BUT_UNSUPPORTED:
            raise reader.error(
                f"array {index} has dtype {_KNOWN_BUT_UNSUPPORTED[flag]} (type flag {flag}), which "
                "MXNet 1.9.1 cannot load either; supported: "
                f"{sorted(NAME_TO_TYPE_FLAG)}"
            )
        raise reader.error(f"array {index} has unknown dtype code {flag}")
    dtype = DTYPE_NAME_TO_NP.get(name)
    if dtype is None:  # bfloat16 without ml_dtypes
        raise reader.error(
            f"array {index} is {name}, which needs the ml_dtypes package (pip install ml_dtypes)"
        )
    return np.dtype(dtype)


def _type_flag_of(dtype: np.dtype, where: str) -> int:
    name = dtype.name
    flag = NAME_TO_TYPE_FLAG.get(name)
    if flag is None or DTYPE_NAME_TO_NP.get(name) != dtype.newbyteorder("="):
        raise TypeError(
            f"{where} has dtype {dtype}, which an MXNet .params file cannot hold; "
            f"cast it to one of {sorted(NAME_TO_TYPE_FLAG)} first (x.astype('float32'))."
        )
    return flag


def _read_shape(reader: BoundedReader, magic: int, index: int) -> tuple[int, ...] | None:
    """Read the shape of array ``index``; None marks an array without a shape (uninitialized).

    Outside V3, ``ndim == 0`` is ambiguous: MXNet writes it both for an uninitialized NDArray (the
    record ends there) and for a 0-d NDArray (``mx.nd.array(5)``; device, dtype and data follow,
    and MXNet 1.9.1 then fails to load its own file). It is returned as ``()`` here and
    :func:`_read_array` tells the two apart by the device field that follows.
    """
    what = f"the shape of array {index}"
    if magic in (V1_MAGIC, V2_MAGIC, V3_MAGIC):
        ndim = reader.i32(what)
        if magic == V3_MAGIC and ndim == -1:
            return None
        if ndim < 0:
            raise reader.error(f"array {index} has a negative number of dimensions ({ndim})")
        if ndim > MAX_NDIM:
            raise reader.error(f"array {index} claims {ndim} dimensions (at most {MAX_NDIM})")
        dims = reader.i64s(ndim, what)
        if magic == V3_MAGIC and any(d == -1 for d in dims):
            return None
    else:  # legacy: the "magic" is ndim and the dims are uint32
        ndim = magic
        if ndim > MAX_NDIM:
            raise reader.error(
                f"array {index} starts with 0x{magic:08X}, which is no NDArray magic "
                f"(expected 0x{V2_MAGIC:08X} or 0x{V3_MAGIC:08X}); this is not an MXNet "
                "parameter file or it is damaged"
            )
        dims = reader.u32s(ndim, what)
    if any(d < 0 for d in dims):
        raise reader.error(f"array {index} has a negative dimension in shape {tuple(dims)}")
    return tuple(dims)


def _read_sparse_shape(reader: BoundedReader, what: str) -> tuple[int, ...]:
    ndim = reader.i32(what)
    if ndim < 0 or ndim > MAX_NDIM:
        raise reader.error(f"{what} has {ndim} dimensions (0 to {MAX_NDIM} allowed)")
    dims = tuple(reader.i64s(ndim, what))
    if any(d < 0 for d in dims):
        raise reader.error(f"{what} has a negative dimension: {dims}")
    return dims


def _read_array(reader: BoundedReader, index: int, np_shape: bool | None) -> Any:
    """One record: a NumPy array, or a :class:`~mxlite._formats.sparse.SparseRecord`."""
    return _read_record(reader, index, np_shape)[0]


def _read_record(
    reader: BoundedReader, index: int, np_shape: bool | None
) -> tuple[Any, tuple[int, int]]:
    """One array record: the array (or sparse record) and the ``(dev_type, dev_id)`` it was
    saved from (cpu(0) for sparse records)."""
    magic = reader.u32(f"the magic of array {index}")
    if np_shape is not None:
        if magic == V3_MAGIC and not np_shape:
            raise reader.error(_MSG_V3_IN_ND.format(i=index))
        if magic != V3_MAGIC and np_shape:
            raise reader.error(_MSG_V2_IN_NP.format(i=index))
    if magic in (V2_MAGIC, V3_MAGIC):
        stype = reader.i32(f"the storage type of array {index}")
        if stype in (1, 2):  # row_sparse, csr: see mxlite._formats.sparse
            record = _sparse_file.read_record(
                reader,
                index,
                stype,
                lambda what: _read_sparse_shape(reader, what),
                lambda flag: _np_dtype_of_flag(flag, reader, index),
            )
            return record, _DEFAULT_DEVICE
        if stype != 0:
            raise reader.error(f"array {index} has unknown storage type {stype}")
    shape = _read_shape(reader, magic, index)
    if shape is None:
        raise reader.error(
            f"array {index} has no shape (an uninitialized NDArray was saved); it holds no data"
        )
    dev_type = reader.i32(f"the device of array {index}")
    if shape == () and magic != V3_MAGIC and dev_type not in _DEVICE_TYPES:
        raise reader.error(
            f"array {index} has no shape (an uninitialized NDArray was saved); it holds no data"
        )
    dev_id = reader.i32(f"the device id of array {index}")
    dtype = _np_dtype_of_flag(reader.i32(f"the dtype of array {index}"), reader, index)
    count = 1
    for dim in shape:
        count *= dim
    reader.need(count * dtype.itemsize, f"the data of array {index} {shape} {dtype.name}")
    arr = reader.array(shape, dtype, f"the data of array {index}")
    if dtype == np.bool_:  # bytes other than 0/1 would make odd booleans
        np.not_equal(arr.view(np.uint8), 0, out=arr)
    return arr, (dev_type, dev_id)


def read_params(
    data: Source, fname: str = "<buffer>", np_shape: bool | None = None
) -> list[np.ndarray] | dict[str, np.ndarray]:
    """Parse an MXNet ``.params`` file into NumPy arrays.

    Args:
        data: the file's bytes, or a binary file object positioned at its start.
        fname: name used in error messages.
        np_shape: None accepts every per-array version. True or False applies MXNet's rule for
            the current numpy-shape mode: V3 arrays load only when it is on, V1/V2/legacy arrays
            only when it is off.

    Returns:
        A list of arrays when the file holds no names, else a dict name -> array in file order
        (a later duplicate name wins, as in MXNet). Arrays are native-endian, C-contiguous and
        writable; sparse arrays come as :class:`~mxlite._formats.sparse.SparseRecord`.

    Raises:
        ParamFileError: the bytes are not a valid MXNet parameter file; the message names
            ``fname``, the offset and what is wrong.
    """
    stream, size = open_source(data)
    reader = BoundedReader(stream, size, fname)
    if size < 16:
        raise reader.error(
            f"Invalid NDArray file format: {size} bytes is too short for the 16-byte header"
        )
    arrays, names = parse_list(reader, np_shape)
    if names is None:
        return arrays
    return dict(zip(names, arrays))  # a later duplicate name wins, as in MXNet


def parse_list(
    reader: BoundedReader, np_shape: bool | None = None
) -> tuple[list[np.ndarray], list[str] | None]:
    """The one parser of the ``.params`` layout: the arrays in file order and their names (None
    when the file holds none), every size checked against the file before it is trusted.

    Index mode (``gluon/_lazy_load.py``) passes a reader whose ``raw_array`` records where each
    array's data lies and skips it, returning an empty placeholder: the same checks run, and no
    data is read.

    Raises:
        ParamFileError: the layout is damaged (the message names the file, offset and field).
    """
    header = reader.u64("the list header")
    reader.u64("the reserved header field")
    if header != LIST_MAGIC:
        hint = _format_hint(header)
        raise reader.error(
            f"Invalid NDArray file format: list magic is 0x{header:X}, expected 0x{LIST_MAGIC:X}"
            + hint
        )
    count = reader.u64("the number of arrays")
    # The smallest array record is 4 bytes (a legacy shapeless one); the name count needs 8.
    if count > max(0, reader.remaining - 8) // 4:
        raise reader.error(
            f"the file claims {count} arrays, more than its {reader.remaining} remaining bytes hold"
        )
    arrays = [_read_array(reader, i, np_shape) for i in range(count)]
    nnames = reader.u64("the number of names")
    if nnames not in (0, count):
        raise reader.error(
            f"Invalid NDArray file format: {nnames} names for {count} arrays "
            "(expected 0 or one per array)"
        )
    if nnames == 0:
        return arrays, None
    names: list[str] = []
    for i in range(count):
        length = reader.u64(f"the length of name {i}")
        raw = reader.take(length, f"name {i}")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise reader.error(f"name {i} is not valid UTF-8 ({err.reason})") from None
        if "\x00" in name:
            raise reader.error(f"name {i} {name!r} contains a NUL byte")
        names.append(name)
    return arrays, names


def _format_hint(header: int) -> str:
    first = struct.pack("<Q", header)
    if first.startswith(b"PK"):
        return " (this looks like a .npz archive: pass format='npz')"
    if first.startswith(b"\x93NUMPY"):
        return " (this looks like a .npy file, which mxlite does not load)"
    if header < 100_000_000:
        return " (this may be a .safetensors file: pass format='safetensors')"
    return ""


def sniff_format(head: bytes) -> str:
    """Guess a buffer's format from its first bytes: 'params', 'npz' or 'safetensors'."""
    if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
        return "npz"
    if len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] != LIST_MAGIC:
        return "safetensors"
    return "params"


def _entries(
    arrays: Sequence[Any] | Mapping[str, Any],
) -> tuple[list[Any], list[str]]:
    if isinstance(arrays, Mapping):
        names = list(arrays.keys())
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"array names must be str, got {type(name).__name__} {name!r}")
            if "\x00" in name:
                raise ValueError(f"array name {name!r} contains a NUL character")
        return list(arrays.values()), names
    return list(arrays), []


def write_params(
    f: IO[bytes],
    arrays: Sequence[Any] | Mapping[str, Any],
    np_magic: bool,
    devices: Sequence[tuple[int, int]] | None = None,
    to_numpy: Callable[[Any], np.ndarray] = np.asarray,
) -> None:
    """Write arrays in MXNet's ``.params`` format, byte-identical to MXNet 1.9.1.

    Args:
        f: binary stream to write to.
        arrays: a list of arrays, or a dict name -> array (order kept).
        np_magic: write the V3 per-array magic (what MXNet does while ``is_np_shape()`` is on)
            instead of V2. A 0-d array in V2 is written as MXNet writes it (ndim 0, then its
            data); mxlite reads that back, MXNet 1.9.1 cannot (mx.nd.save warns about it).
        devices: per array ``(dev_type, dev_id)`` recorded in the file (MXNet records where each
            array lived: cpu 1, gpu 2, cpu_pinned 3); default cpu(0) for all.
        to_numpy: turns one entry into a host NumPy array; called once per array while writing,
            so device arrays are copied to the host one at a time.

    Raises:
        TypeError: an array's dtype has no MXNet type flag, or a name is not a str.
        ValueError: ``devices`` does not match ``arrays`` in length, or a name contains NUL.
    """
    values, names = _entries(arrays)
    if devices is not None and len(devices) != len(values):
        raise ValueError(f"got {len(devices)} devices for {len(values)} arrays")
    f.write(struct.pack("<QQQ", LIST_MAGIC, 0, len(values)))
    for i, value in enumerate(values):
        where = f"array {names[i]!r}" if names else f"array {i}"
        if isinstance(value, _sparse_file.SparseRecord):
            magic = V3_MAGIC if np_magic else V2_MAGIC
            _sparse_file.write_record(f, value, magic, _type_flag_of, where)
            continue
        device = devices[i] if devices is not None else _DEFAULT_DEVICE
        _write_record(f, np.asarray(to_numpy(value)), np_magic, device, where)
    f.write(struct.pack("<Q", len(names)))
    for name in names:
        raw = name.encode("utf-8")
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)


def _write_record(
    f: IO[bytes], arr: np.ndarray, np_magic: bool, device: tuple[int, int], where: str
) -> None:
    """One array record (what MXNet's ``NDArray::Save`` writes): magic, storage type, shape,
    device, type flag, data."""
    flag = _type_flag_of(arr.dtype, where)
    shape = arr.shape
    f.write(struct.pack("<Iii", V3_MAGIC if np_magic else V2_MAGIC, 0, len(shape)))
    f.write(struct.pack(f"<{len(shape)}q", *shape))
    f.write(struct.pack("<iii", int(device[0]), int(device[1]), flag))
    if arr.size:
        data = np.ascontiguousarray(arr, dtype=as_little_endian(arr.dtype))
        f.write(data.reshape(-1).view(np.uint8).data)


def dumps_array(
    arr: np.ndarray, np_magic: bool, device: tuple[int, int] = _DEFAULT_DEVICE
) -> bytes:
    """One array as the record MXNet's ``MXNDArraySaveRawBytes`` gives (what MXNet pickles as
    an NDArray's state): no list header, no name.

    Raises:
        TypeError: the dtype has no MXNet type flag.
    """
    import io

    buf = io.BytesIO()
    _write_record(buf, arr, np_magic, device, "the array")
    return buf.getvalue()


def loads_array(
    data: Source, what: str = "<pickled NDArray>"
) -> tuple[np.ndarray, tuple[int, int]]:
    """Read a record written by :func:`dumps_array` or by MXNet's ``MXNDArraySaveRawBytes``:
    the array (native-endian, writable) and the ``(dev_type, dev_id)`` it was saved from.

    Raises:
        ParamFileError: the bytes are not one valid array record (trailing bytes included).
    """
    stream, size = open_source(data)
    reader = BoundedReader(stream, size, what)
    arr, device = _read_record(reader, 0, None)
    if reader.remaining:
        raise reader.error(f"{reader.remaining} bytes follow the array record")
    return arr, device


def dumps_params(
    arrays: Sequence[Any] | Mapping[str, Any],
    np_magic: bool,
    devices: Sequence[tuple[int, int]] | None = None,
) -> bytes:
    """:func:`write_params` into a bytes object."""
    import io

    buf = io.BytesIO()
    write_params(buf, arrays, np_magic, devices)
    return buf.getvalue()
