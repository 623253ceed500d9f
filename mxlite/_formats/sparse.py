"""Sparse arrays in files, at the raw-NumPy level (no NDArray).

**MXNet ``.params`` records** (``NDArray::Save`` of MXNet 1.9.1; all little-endian). After the
per-array magic come::

    int32  stype                 1 row_sparse, 2 csr
    int32  ndim, int64 dims      the storage shape: row_sparse (k, d1, ...), csr (nnz,)
    int32  ndim, int64 dims      the shape
    int32  dev_type, dev_id
    int32  type_flag             of the values
    per aux array: int32 type_flag, int32 ndim, int64 dims
                                 row_sparse: indices (k,); csr: indptr (M+1,), indices (nnz,)
    bytes  values                prod(storage shape) * itemsize
    bytes  aux arrays            in the same order

Every size is checked against the bytes left before anything is allocated, and the components
are validated (sorted in-range indices, a monotone indptr ending at nnz, matching sizes), so a
hostile file costs at most its own size in memory and raises :class:`ParamFileError`.

**safetensors / npz**: a sparse array named ``w`` is stored as its component buffers
``w.__row_sparse__.data``, ``w.__row_sparse__.indices``, ``w.__row_sparse__.shape`` (int64, the
dense shape), or ``w.__csr__.data``, ``w.__csr__.indices``, ``w.__csr__.indptr``,
``w.__csr__.shape``. Only dict saves can hold sparse arrays there (a name is needed).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from mxlite.base import MXNetError, ParamFileError

__all__ = [
    "SparseRecord",
    "AUX_NAMES",
    "read_record",
    "write_record",
    "to_components",
    "from_components",
]

#: Aux arrays of each storage type, in file order.
AUX_NAMES = {"row_sparse": ("indices",), "csr": ("indptr", "indices")}
_STYPE_IDS = {"row_sparse": 1, "csr": 2}
_INDEX_FLAGS: dict[int, np.dtype] = {6: np.dtype(np.int64), 4: np.dtype(np.int32)}
_COMPONENT = re.compile(
    r"^(?P<name>.*)\.__(?P<stype>row_sparse|csr)__\.(?P<part>data|indices|indptr|shape)$"
)


@dataclass
class SparseRecord:
    """A sparse array as host buffers.

    Attributes:
        stype: ``'row_sparse'`` or ``'csr'``.
        shape: the dense shape.
        data: the values (row_sparse ``(k, d1, ...)``, csr ``(nnz,)``).
        aux: int64 ``{'indices': ..., 'indptr': ...}`` (``indptr`` for csr only).
        device: ``(dev_type, dev_id)`` recorded in a ``.params`` file.
    """

    stype: str
    shape: tuple[int, ...]
    data: np.ndarray
    aux: dict[str, np.ndarray]
    device: tuple[int, int] = (1, 0)

    @property
    def storage_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.data.shape)

    def check(self) -> None:
        """Raise MXNetError unless the components form a valid array (see ``check_format``)."""
        from mxlite.ndarray._sparse_build import check_parts

        check_parts(self.stype, {"data": self.data, **self.aux}, self.shape, True)


def read_record(
    reader: Any, index: int, stype_id: int, read_shape: Any, dtype_of: Any
) -> SparseRecord:
    """Read the rest of a sparse ``.params`` record whose magic and stype were read.

    Args:
        reader: the :class:`~mxlite._formats._binio.BoundedReader`.
        index: the array's position (for messages).
        stype_id: 1 or 2.
        read_shape: ``read_shape(what) -> tuple`` reading an int32 ndim + int64 dims.
        dtype_of: ``dtype_of(flag) -> np.dtype`` for the values' type flag.

    Raises:
        ParamFileError: a damaged or hostile record.
    """
    stype = "row_sparse" if stype_id == 1 else "csr"
    where = f"{stype} array {index}"
    storage = read_shape(f"the storage shape of {where}")
    shape = read_shape(f"the shape of {where}")
    device = (reader.i32(f"the device of {where}"), reader.i32(f"the device id of {where}"))
    dtype = dtype_of(reader.i32(f"the dtype of {where}"))
    aux_meta: list[tuple[str, np.dtype, tuple[int, ...]]] = []
    for name in AUX_NAMES[stype]:
        flag = reader.i32(f"the {name} dtype of {where}")
        if flag not in _INDEX_FLAGS:
            raise reader.error(f"{where} has {name} of type flag {flag}; expected int64 (6)")
        aux_meta.append((name, _INDEX_FLAGS[flag], read_shape(f"the {name} shape of {where}")))
    _check_sizes(reader, where, stype, storage, shape, aux_meta)
    data = reader.array(storage, dtype, f"the values of {where}")
    aux = {
        name: reader.array(ashape, adt, f"the {name} of {where}").astype(np.int64, copy=False)
        for name, adt, ashape in aux_meta
    }
    record = SparseRecord(stype, shape, data, aux, device)
    try:
        record.check()
    except MXNetError as err:
        raise reader.error(f"{where}: {err}") from None
    return record


def _check_sizes(
    reader: Any,
    where: str,
    stype: str,
    storage: tuple[int, ...],
    shape: tuple[int, ...],
    aux_meta: list[tuple[str, np.dtype, tuple[int, ...]]],
) -> None:
    """The storage and aux shapes agree with the shape (before any buffer is read)."""
    shapes = {name: s for name, _, s in aux_meta}
    if stype == "row_sparse":
        ok = (
            len(shape) >= 1
            and len(storage) == len(shape)
            and storage[1:] == shape[1:]
            and shapes["indices"] == storage[:1]
            and storage[0] <= shape[0]
        )
        expect = "storage (k,) + shape[1:] with k <= shape[0] indices"
    else:
        ok = (
            len(shape) == 2
            and len(storage) == 1
            and shapes["indptr"] == (shape[0] + 1,)
            and shapes["indices"] == storage
        )
        expect = "a 2-D shape, indptr of shape[0] + 1 entries and one index per value"
    if not ok:
        raise reader.error(
            f"{where}: storage shape {storage}, shape {shape} and aux shapes "
            f"{[s for _, _, s in aux_meta]} do not match ({expect})"
        )


def write_record(f: IO[bytes], rec: SparseRecord, magic: int, flag_of: Any, where: str) -> None:
    """Write one sparse record as MXNet 1.9.1 does (byte-identical)."""
    flag = flag_of(rec.data.dtype, where)

    def shape_bytes(s: tuple[int, ...]) -> bytes:
        return struct.pack(f"<i{len(s)}q", len(s), *s)

    f.write(struct.pack("<Ii", magic, _STYPE_IDS[rec.stype]))
    f.write(shape_bytes(rec.storage_shape))
    f.write(shape_bytes(rec.shape))
    f.write(struct.pack("<iii", rec.device[0], rec.device[1], flag))
    names = AUX_NAMES[rec.stype]
    for name in names:
        f.write(struct.pack("<i", 6) + shape_bytes(tuple(rec.aux[name].shape)))
    for arr in (rec.data, *(rec.aux[n].astype("<i8", copy=False) for n in names)):
        if arr.size:
            little = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
            f.write(np.ascontiguousarray(arr, dtype=little).reshape(-1).view(np.uint8).data)


def to_components(name: str, rec: SparseRecord) -> dict[str, np.ndarray]:
    """The safetensors/npz buffers of sparse array ``name`` (see the module docstring)."""
    prefix = f"{name}.__{rec.stype}__."
    out = {prefix + "data": rec.data}
    for aux_name in AUX_NAMES[rec.stype]:
        out[prefix + aux_name] = rec.aux[aux_name]
    out[prefix + "shape"] = np.asarray(rec.shape, dtype=np.int64)
    return out


def from_components(arrays: dict[str, np.ndarray], fname: str) -> dict[str, Any]:
    """Regroup the component buffers of a safetensors/npz dict into :class:`SparseRecord` s
    (other entries pass through, order kept).

    Raises:
        ParamFileError: a component is missing or the components are invalid.
    """
    out: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, arr in arrays.items():
        m = _COMPONENT.match(key)
        if m is None:
            out[key] = arr
            continue
        group = groups.get(m["name"])
        if group is None:
            group = groups[m["name"]] = {"stype": m["stype"]}
            out[m["name"]] = group
        elif group["stype"] != m["stype"]:
            raise ParamFileError(f"{fname!r}: {m['name']!r} has both row_sparse and csr parts")
        group[m["part"]] = arr
    for name, group in groups.items():
        stype = group["stype"]
        need = ("data", "shape", *AUX_NAMES[stype])
        missing = [p for p in need if p not in group]
        if missing:
            raise ParamFileError(f"{fname!r}: sparse array {name!r} lacks its {missing} part(s)")
        shape_arr = group["shape"]
        if shape_arr.ndim != 1 or shape_arr.dtype.kind not in "iu" or (shape_arr < 0).any():
            raise ParamFileError(f"{fname!r}: sparse array {name!r} has a bad shape part")
        aux = {}
        for p in AUX_NAMES[stype]:
            if group[p].dtype.kind not in "iu":
                raise ParamFileError(f"{fname!r}: the {p} of {name!r} are not integers")
            aux[p] = group[p].astype(np.int64, copy=False)
        rec = SparseRecord(stype, tuple(int(d) for d in shape_arr), group["data"], aux)
        try:
            rec.check()
        except MXNetError as err:
            raise ParamFileError(f"{fname!r}: sparse array {name!r}: {err}") from None
        out[name] = rec
    return out
