"""``.safetensors`` read and write in pure Python + NumPy, following the published format spec.

Layout: an unsigned little-endian 64-bit header length ``N``; ``N`` bytes of UTF-8 JSON (an object,
optionally padded at the end with spaces) mapping each tensor name to
``{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}`` plus an optional
``"__metadata__"`` object of str -> str; then the byte buffer. Offsets are relative to the start of
the buffer; the tensors must cover it exactly, with no holes or overlaps; data is little-endian and
C-ordered.

The writer orders tensors as the reference implementation does (larger dtypes first, then by name)
and pads the header to a multiple of 8 bytes, so its output matches ``safetensors.numpy.save``.

A list is stored under the names ``arr_0``, ``arr_1``, ... with the metadata entry
``"mxlite.container": "list"``, and read back as a list.
"""

from __future__ import annotations

import json
import operator
import struct
from collections.abc import Mapping, Sequence
from typing import IO, Any

import numpy as np

from mxlite.base import DTYPE_NAME_TO_NP
from mxlite.ndarray._binio import BoundedReader, Source, as_little_endian, open_source

__all__ = ["write_safetensors", "read_safetensors", "ST_DTYPES", "MAX_HEADER_BYTES"]

#: safetensors dtype code -> mxlite dtype name, in the reference implementation's dtype order.
ST_DTYPES: dict[str, str] = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "F16": "float16",
    "BF16": "bfloat16",
    "I32": "int32",
    "F32": "float32",
    "F64": "float64",
    "I64": "int64",
}
_NAME_TO_ST = {name: code for code, name in ST_DTYPES.items()}
# Rank in the reference Dtype enum (BOOL < U8 < I8 < ... < I16 < U16 < F16 < BF16 < I32 < U32 <
# F32 < F64 < I64 < U64); the writer sorts by it, descending.
_ST_RANK = {
    "BOOL": 0,
    "U8": 1,
    "I8": 2,
    "F16": 7,
    "BF16": 8,
    "I32": 9,
    "F32": 11,
    "F64": 12,
    "I64": 13,
}
_OTHER_ST = {
    "I16",
    "U16",
    "U32",
    "U64",
    "F8_E4M3",
    "F8_E5M2",
    "F8_E8M0",
    "F4",
    "F6_E2M3",
    "F6_E3M2",
}
#: Largest header accepted (the reference implementation's limit).
MAX_HEADER_BYTES = 100_000_000
_MAX_NDIM = 32
LIST_KEY = "mxlite.container"
_LIST_PREFIX = "arr_"


def _st_code(dtype: np.dtype, name: str) -> str:
    code = _NAME_TO_ST.get(dtype.name)
    if code is None or DTYPE_NAME_TO_NP.get(dtype.name) != dtype.newbyteorder("="):
        raise TypeError(
            f"tensor {name!r} has dtype {dtype}, which mxlite does not store in safetensors; "
            f"cast it to one of {sorted(_NAME_TO_ST)} first."
        )
    return code


def write_safetensors(
    f: IO[bytes],
    arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write arrays as a ``.safetensors`` file.

    Args:
        f: binary stream.
        arrays: a dict name -> array, or a list (stored as ``arr_i`` with a list marker).
        metadata: extra str -> str entries for ``__metadata__``.

    Raises:
        TypeError: a name or metadata entry is not a str, or a dtype is unsupported.
        ValueError: a name is ``"__metadata__"``.
    """
    meta: dict[str, str] = {}
    if isinstance(arrays, Mapping):
        items = list(arrays.items())
    else:
        items = [(f"{_LIST_PREFIX}{i}", arr) for i, arr in enumerate(arrays)]
        meta[LIST_KEY] = "list"
    for key, text in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise TypeError("safetensors metadata must map str to str")
        meta[key] = text
    prepared = []
    for name, value in items:
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {type(name).__name__} {name!r}")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved and cannot name a tensor")
        arr = np.asarray(value)
        prepared.append((name, _st_code(arr.dtype, name), arr))
    prepared.sort(key=lambda t: (-_ST_RANK[t[1]], t[0]))
    header: dict[str, Any] = {"__metadata__": meta} if meta else {}
    offset = 0
    for name, code, arr in prepared:
        nbytes = arr.size * arr.dtype.itemsize
        header[name] = {
            "dtype": code,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    f.write(struct.pack("<Q", len(raw)))
    f.write(raw)
    for _, _, arr in prepared:
        if arr.size:
            data = np.ascontiguousarray(arr, dtype=as_little_endian(arr.dtype))
            f.write(data.reshape(-1).view(np.uint8).data)


_ENTRY_KEYS = frozenset(("dtype", "shape", "data_offsets"))


class _Entry(tuple):
    """A tensor entry of the header, kept compact while parsing: ``(dtype, shape, offsets)``
    with JSON lists as tuples (JSON never makes tuples, so a tuple was a list)."""

    __slots__ = ()


def _compact(pairs: list[tuple[str, Any]]) -> Any:
    """``object_pairs_hook`` of the header: refuses duplicate keys, and turns each tensor entry
    into an :class:`_Entry` as soon as it is parsed, so the header never exists as thousands of
    dicts and lists (a header of many small tensors would cost ten times its size)."""
    if len(pairs) == 3 and {key for key, _ in pairs} == _ENTRY_KEYS:
        entry = dict(pairs)
        return _Entry(
            tuple(v) if isinstance(v, list) else v
            for v in (entry["dtype"], entry["shape"], entry["data_offsets"])
        )
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _parse_entry(
    reader: BoundedReader, name: str, entry: Any, buffer_len: int
) -> tuple[str, np.dtype, tuple[int, ...], int, int]:
    if not isinstance(entry, _Entry):
        raise reader.error(
            f"tensor {name!r}: entry must have exactly dtype, shape and data_offsets, got {entry!r:.200}"
        )
    code, shape, offsets = entry
    if not isinstance(code, str):
        raise reader.error(f"tensor {name!r} has unknown dtype {code!r:.40} (not a string)")
    if code in _OTHER_ST:
        raise reader.error(
            f"tensor {name!r} has dtype {code}, which mxlite does not support; "
            f"supported: {sorted(ST_DTYPES)}"
        )
    if code not in ST_DTYPES:
        raise reader.error(f"tensor {name!r} has unknown dtype {code!r:.40}")
    dtype = DTYPE_NAME_TO_NP.get(ST_DTYPES[code])
    if dtype is None:
        raise reader.error(f"tensor {name!r} is {code}, which needs the ml_dtypes package")

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if (
        not isinstance(shape, tuple)
        or len(shape) > _MAX_NDIM
        or not all(is_int(d) and d >= 0 for d in shape)
    ):
        raise reader.error(f"tensor {name!r} has an invalid shape {list(shape)!r:.200}")
    if not (isinstance(offsets, tuple) and len(offsets) == 2 and all(is_int(o) for o in offsets)):
        raise reader.error(f"tensor {name!r} has invalid data_offsets {offsets!r:.200}")
    begin, end = offsets
    if not 0 <= begin <= end <= buffer_len:
        raise reader.error(
            f"tensor {name!r} has data_offsets [{begin}, {end}] outside the {buffer_len}-byte buffer"
        )
    count = 1
    for dim in shape:
        count *= dim
    if count * dtype.itemsize != end - begin:
        raise reader.error(
            f"tensor {name!r}: shape {shape} of {code} needs {count * dtype.itemsize} bytes, "
            f"but data_offsets span {end - begin}"
        )
    return name, np.dtype(dtype), shape, begin, end


def read_safetensors(
    data: Source, fname: str = "<buffer>"
) -> tuple[list[np.ndarray] | dict[str, np.ndarray], dict[str, str]]:
    """Parse a ``.safetensors`` file.

    Returns:
        ``(arrays, metadata)``: a dict name -> array in header order (a list when the file
        carries mxlite's list marker), and the ``__metadata__`` dict (empty if absent).

    Raises:
        ParamFileError: the file is not valid safetensors; the message names ``fname``.
    """
    stream, size = open_source(data)
    reader = BoundedReader(stream, size, fname)
    if size < 8:
        raise reader.error(f"not a safetensors file: {size} bytes is too short for its header")
    hlen = struct.unpack("<Q", reader.take(8, "the header length"))[0]
    if hlen > MAX_HEADER_BYTES:
        raise reader.error(
            f"the safetensors header claims {hlen} bytes (at most {MAX_HEADER_BYTES})"
        )
    raw = reader.take(hlen, "the safetensors JSON header")
    if not raw.startswith(b"{"):
        raise reader.error("not a safetensors file: the header does not start with '{'")
    try:
        text = raw.decode("utf-8")
        raw = b""  # the text is all that is needed now
        header = json.loads(text, object_pairs_hook=_compact)  # trailing spaces are fine
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise reader.error(f"the safetensors header is not valid JSON: {err}") from None
    del text
    if not isinstance(header, dict):
        raise reader.error("the safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if isinstance(meta, _Entry):  # metadata that happens to have an entry's three keys
        meta = dict(zip(("dtype", "shape", "data_offsets"), meta))
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise reader.error("__metadata__ must be an object of str -> str")
    buffer_len = reader.remaining
    entries = [_parse_entry(reader, name, entry, buffer_len) for name, entry in header.items()]
    del header
    by_offset = sorted(entries, key=operator.itemgetter(4))  # (begin, end) order, no key tuples
    by_offset.sort(key=operator.itemgetter(3))
    pos = 0
    for _, _, _, begin, end in by_offset:
        if begin != pos:
            what = "overlap" if begin < pos else "leave a hole"
            raise reader.error(f"tensor data offsets {what} at buffer byte {min(begin, pos)}")
        pos = end
    if pos != buffer_len:
        raise reader.error(
            f"the tensors cover {pos} bytes of a {buffer_len}-byte buffer (truncated or padded file)"
        )
    in_order = all(a is b for a, b in zip(entries, by_offset))
    loaded: dict[str, np.ndarray] = {}
    for name, dtype, shape, _, _ in by_offset:
        arr = reader.array(shape, dtype, f"the data of tensor {name!r}")
        if dtype == np.bool_:
            np.not_equal(arr.view(np.uint8), 0, out=arr)
        loaded[name] = arr
    del by_offset
    result = loaded if in_order else {name: loaded[name] for name, _, _, _, _ in entries}
    if meta.get(LIST_KEY) == "list":
        names = [f"{_LIST_PREFIX}{i}" for i in range(len(result))]
        if set(names) == set(result):
            return [result[n] for n in names], meta
    return result, meta
