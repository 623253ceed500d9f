"""``.npz`` read and write through NumPy, never unpickling.

Writing uses ``np.savez`` (a list becomes ``arr_0``, ``arr_1``, ...; a dict keeps its names).
Reading walks the zip members itself so that every size is checked before allocation: each
member's ``.npy`` header is parsed with ``allow_pickle``-free NumPy helpers, its shape and dtype must
account for exactly the member's bytes, and a compressed member may not claim more bytes than
DEFLATE can produce from its compressed size. Only what NumPy writes is read: stored and deflate
members (an LZMA or bzip2 member is refused before any decompressor starts). Object arrays are
refused, never unpickled.

bfloat16 has no ``.npy`` type code; NumPy stores it as the 2-byte void type ``|V2``, which this
reader maps back to bfloat16. An archive whose names are exactly ``arr_0 .. arr_{n-1}`` loads as a
list, any other as a dict.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from typing import IO

import numpy as np

from mxlite.base import DTYPE_NAME_TO_NP, ParamFileError
from mxlite.ndarray._binio import BoundedReader, Source, open_source, to_native

__all__ = ["write_npz", "read_npz"]

_SUPPORTED = {np.dtype(d) for d in DTYPE_NAME_TO_NP.values()}
_MAX_NDIM = 32
_MAX_HEADER = 10_000
# DEFLATE cannot expand data by more than about 1032:1; allow a little slack for headers.
_MAX_DEFLATE_RATIO = 1100
# What NumPy writes (np.savez, np.savez_compressed); anything else is refused before decompression
# (an LZMA member names its own dictionary size: 196 bytes can reserve 4 GiB).
_ACCEPTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_COMPRESSION_NAMES = {zipfile.ZIP_BZIP2: "BZIP2", zipfile.ZIP_LZMA: "LZMA"}


def write_npz(f: IO[bytes], arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> None:
    """Write arrays with ``np.savez`` (uncompressed) into the binary stream ``f``.

    Raises:
        TypeError: a name is not a str, or a dtype is not one mxlite supports.
    """
    if isinstance(arrays, Mapping):
        named: dict[str, np.ndarray] = {}
        for name, value in arrays.items():
            if not isinstance(name, str):
                raise TypeError(f"array names must be str, got {type(name).__name__} {name!r}")
            named[name] = _checked(np.asarray(value), name)
        np.savez(f, **named)  # type: ignore[arg-type]
    else:
        np.savez(f, *[_checked(np.asarray(v), f"arr_{i}") for i, v in enumerate(arrays)])


def _checked(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype.newbyteorder("=") not in _SUPPORTED:
        raise TypeError(
            f"array {name!r} has dtype {arr.dtype}, which mxlite does not store; "
            f"supported: {sorted(DTYPE_NAME_TO_NP)}"
        )
    return arr


def _file_dtype(descr: np.dtype, reader: BoundedReader, name: str) -> np.dtype:
    if descr.hasobject:
        raise reader.error(f"member {name!r} holds Python objects; mxlite never unpickles")
    if descr.kind == "V" and descr.itemsize == 2 and descr.fields is None:
        bf16 = DTYPE_NAME_TO_NP.get("bfloat16")
        if bf16 is None:
            raise reader.error(f"member {name!r} is bfloat16 (|V2), which needs ml_dtypes")
        return np.dtype(bf16)
    if descr.newbyteorder("=") not in _SUPPORTED:
        raise reader.error(
            f"member {name!r} has dtype {descr}, which mxlite does not support; "
            f"supported: {sorted(DTYPE_NAME_TO_NP)}"
        )
    return descr


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int, fname: str
) -> np.ndarray:
    name = info.filename
    if info.compress_type not in _ACCEPTED_COMPRESSION:
        method = _COMPRESSION_NAMES.get(info.compress_type, f"method {info.compress_type}")
        raise ParamFileError(
            f"Invalid npz file {fname!r}: member {name!r} is compressed with {method}; NumPy "
            "writes only stored or deflate members (np.savez, np.savez_compressed), so mxlite "
            "reads only those. Re-save the arrays with np.savez."
        )
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size != info.compress_size or info.compress_size > archive_size:
            raise ParamFileError(
                f"Invalid npz file {fname!r}: member {name!r} claims {info.file_size} bytes, "
                f"more than the {archive_size}-byte archive holds"
            )
    elif info.file_size > max(info.compress_size, 1) * _MAX_DEFLATE_RATIO or (
        info.compress_size > archive_size
    ):
        raise ParamFileError(
            f"Invalid npz file {fname!r}: member {name!r} claims {info.file_size} bytes from "
            f"{info.compress_size} compressed bytes, more than compression can produce"
        )
    with zf.open(info) as member:
        where = f"{fname}:{name}"
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, descr = np.lib.format.read_array_header_1_0(member, _MAX_HEADER)
            elif version == (2, 0):
                shape, fortran, descr = np.lib.format.read_array_header_2_0(member, _MAX_HEADER)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except (ValueError, SyntaxError, TypeError) as err:
            raise ParamFileError(f"Invalid npz file {fname!r}: member {name!r}: {err}") from None
        reader = BoundedReader(member, max(0, info.file_size - member.tell()), where)
        if len(shape) > _MAX_NDIM or any(d < 0 for d in shape):
            raise reader.error(f"invalid shape {shape}")
        file_dtype = np.dtype(descr)
        dtype = _file_dtype(file_dtype, reader, name)
        if file_dtype.kind == "V":
            file_dtype = dtype  # bfloat16 bytes stored as |V2
        count = 1
        for dim in shape:
            count *= dim
        if count * dtype.itemsize != reader.remaining:
            raise reader.error(
                f"shape {shape} of {dtype} needs {count * dtype.itemsize} bytes but the member "
                f"holds {reader.remaining}"
            )
        file_shape = tuple(reversed(shape)) if fortran else tuple(shape)
        arr = to_native(reader.raw_array(file_shape, file_dtype, name), dtype.newbyteorder("="))
        if fortran:
            arr = np.ascontiguousarray(arr.T)
        if arr.dtype == np.bool_:
            np.not_equal(arr.view(np.uint8), 0, out=arr)
        return arr


def read_npz(data: Source, fname: str = "<buffer>") -> list[np.ndarray] | dict[str, np.ndarray]:
    """Parse an ``.npz`` archive without unpickling anything.

    Returns:
        A list when the names are exactly ``arr_0 .. arr_{n-1}`` (what ``np.savez(f, *arrays)``
        writes), else a dict name -> array in archive order.

    Raises:
        ParamFileError: the archive is damaged, holds object arrays, unsupported dtypes, or
            members whose sizes do not add up; the message names ``fname``.
    """
    stream, size = open_source(data)
    result: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(stream) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                if not info.filename.endswith(".npy"):
                    raise ParamFileError(
                        f"Invalid npz file {fname!r}: member {info.filename!r} is not a .npy array"
                    )
                key = info.filename[: -len(".npy")]
                if key in result:
                    raise ParamFileError(f"Invalid npz file {fname!r}: duplicate member {key!r}")
                result[key] = _read_member(zf, info, size, fname)
    except ParamFileError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        ValueError,
        OSError,
        KeyError,
    ) as err:
        raise ParamFileError(f"Invalid npz file {fname!r}: {type(err).__name__}: {err}") from None
    except Exception as err:  # zlib.error, struct.error, NotImplementedError (unknown compression)
        raise ParamFileError(f"Invalid npz file {fname!r}: {type(err).__name__}: {err}") from None
    names = [f"arr_{i}" for i in range(len(result))]
    if list(result) and sorted(result) == sorted(names):
        return [result[n] for n in names]
    if not result:
        return []
    return result
