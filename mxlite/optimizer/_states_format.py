"""The bytes of ``Updater.get_states``: a JSON header and raw array data, never pickle.

MXNet pickles ``(states, optimizer)``; unpickling runs arbitrary code, so mxlite writes its own
format and refuses pickled input with a clear error. Layout::

    b"MXLITE-OPTSTATE\\n"          16-byte magic
    uint64 little-endian         length of the header in bytes
    header                       UTF-8 JSON (see below)
    payload                      the arrays' bytes, C order, little-endian, back to back

The header is ``{"format": ..., "version": 1, "arrays": [...], "states": E, "optimizer": E}``
where each array entry is ``{"dtype", "shape", "offset", "nbytes"}`` (offset into the payload)
and ``E`` is a tagged encoding: JSON scalars stand for themselves; every JSON object is one tag:
``{"list": [E...]}``, ``{"tuple": [E...]}``, ``{"dict": [[E, E]...]}``, ``{"nd": i}`` (array
``i``), ``{"lr_scheduler": "module.QualName", "attrs": E}``, ``{"optimizer": name, "attrs": E}``.

Only classes that are already known are rebuilt: optimizers from ``Optimizer.opt_registry`` and
subclasses of ``LRScheduler`` that have been imported; nothing is imported or called on load
except ``__new__`` and ``__setstate__`` of those classes (and the default constructor of a
built-in optimizer class, once, to learn its attributes).

Loading checks everything before it returns: array entries must follow each other in the
payload without overlaps or gaps (so they never cost more memory than the file), with shapes
NumPy can hold; the optimizer's attributes and the states are checked by
:mod:`mxlite.optimizer._states_check`. Errors are :class:`~mxlite.base.ParamFileError` naming
the entry.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import DTYPE_NAME_TO_NP, ParamFileError
from mxlite.context import cpu
from mxlite.lr_scheduler import LRScheduler
from mxlite.ndarray._binio import numpy_can_hold
from mxlite.ndarray.ndarray import NDArray
from mxlite.ndarray.params_format import MAX_NDIM
from mxlite.optimizer import _states_check
from mxlite.optimizer.optimizer import Optimizer

__all__ = ["dumps", "loads", "MAGIC"]

MAGIC = b"MXLITE-OPTSTATE\n"
_FORMAT = "mxlite-optimizer-states"
_VERSION = 1
_MAX_HEADER = 1 << 30
_COUNT_ALIAS = "_index_update_count"

_PICKLED_MSG = (
    "These optimizer states are a Python pickle (as real MXNet's Trainer.save_states and "
    "Updater.get_states write them). mxlite never unpickles data, because unpickling can run "
    "arbitrary code. Save the states again with mxlite (trainer.save_states / "
    "updater.get_states) and load that file, or restart optimization from fresh states."
)


class _Encoder:
    """Collects arrays while turning a states object into the tagged JSON encoding."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []

    def enc(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return float(value)
        if isinstance(value, NDArray):
            self.arrays.append(np.ascontiguousarray(backend.to_numpy(value._data)))
            return {"nd": len(self.arrays) - 1}
        if isinstance(value, tuple):
            return {"tuple": [self.enc(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return {"list": [self.enc(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, dict):
            return {
                "dict": [
                    [self.enc(k, where), self.enc(v, f"{where}[{k!r}]")] for k, v in value.items()
                ]
            }
        if isinstance(value, LRScheduler):
            cls = type(value)
            return {
                "lr_scheduler": f"{cls.__module__}.{cls.__qualname__}",
                "attrs": self.enc(dict(vars(value)), f"{where}.__dict__"),
            }
        if isinstance(value, Optimizer):
            return self.enc_optimizer(value, where)
        raise TypeError(
            f"Cannot save optimizer states: {where} is a {type(value).__name__}, which mxlite's "
            "pickle-free states format cannot store (it stores None, bool, int, float, str, "
            "NDArray, tuple, list, dict, LRScheduler and Optimizer). Keep custom optimizer "
            "attributes to those types."
        )

    def enc_optimizer(self, opt: Optimizer, where: str) -> Any:
        name = type(opt).__name__.lower()
        if Optimizer.opt_registry.get(name) is not type(opt):
            raise TypeError(
                f"Cannot save {type(opt).__name__}: it is not registered. Decorate the class with "
                "@mx.optimizer.register so it can be found again when loading."
            )
        attrs = opt.__getstate__()
        alias = attrs.get(_COUNT_ALIAS)
        for dev, table in attrs.get("_all_index_update_counts", {}).items():
            if table is alias:
                attrs = dict(attrs, **{_COUNT_ALIAS: {"__count_table__": dev}})
                break
        return {"optimizer": name, "attrs": self.enc(attrs, f"{where}.{type(opt).__name__}")}


def dumps(states: dict[Any, Any], optimizer: Optimizer | None) -> bytes:
    """Serialize updater ``states`` (and the optimizer when given) to bytes."""
    encoder = _Encoder()
    header = {
        "format": _FORMAT,
        "version": _VERSION,
        "states": encoder.enc(states, "states"),
        "optimizer": None if optimizer is None else encoder.enc_optimizer(optimizer, "optimizer"),
    }
    entries = []
    offset = 0
    for arr in encoder.arrays:
        little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        entries.append(
            {
                "dtype": arr.dtype.name,
                "shape": list(arr.shape),
                "offset": offset,
                "nbytes": little.nbytes,
            }
        )
        offset += little.nbytes
    header["arrays"] = entries
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    payload = b"".join(
        a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes() for a in encoder.arrays
    )
    return MAGIC + struct.pack("<Q", len(head)) + head + payload


class _Decoder:
    """Turns the tagged JSON encoding back into values; ``where`` names each element (as
    ``states[0][1]`` or ``optimizer 'adam' attribute 'lr'``) in the errors."""

    def __init__(self, arrays: list[NDArray]) -> None:
        self.arrays = arrays

    def dec(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if not isinstance(value, dict) or len(value) not in (1, 2):
            raise ParamFileError(
                f"Damaged optimizer states: {where} is an unexpected element {str(value)[:80]!r}."
            )
        if "nd" in value:
            idx = value["nd"]
            if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(self.arrays):
                raise ParamFileError(
                    f"Damaged optimizer states: {where} refers to array {idx!r}, out of range."
                )
            return self.arrays[idx]
        if "tuple" in value:
            items = _as_list(value["tuple"], where)
            return tuple(self.dec(v, f"{where}[{i}]") for i, v in enumerate(items))
        if "list" in value:
            items = _as_list(value["list"], where)
            return [self.dec(v, f"{where}[{i}]") for i, v in enumerate(items)]
        if "dict" in value:
            out = {}
            for pair in _as_list(value["dict"], where):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ParamFileError(
                        f"Damaged optimizer states: {where} has a dict entry that is not a "
                        "key/value pair."
                    )
                key = self.dec(pair[0], f"a key of {where}")
                try:
                    hash(key)
                except TypeError:
                    raise ParamFileError(
                        f"Damaged optimizer states: {where} has an unhashable key {key!r:.60}."
                    ) from None
                if isinstance(key, NDArray):
                    raise ParamFileError(f"Damaged optimizer states: {where} has an array key.")
                out[key] = self.dec(pair[1], f"{where}[{key!r}]")
            return out
        if "lr_scheduler" in value:
            cls = _find_scheduler(value["lr_scheduler"])
            sched = cls.__new__(cls)
            sched.__dict__.update(self._attrs(value, f"{where} ({cls.__name__})"))
            return sched
        if "optimizer" in value:
            return self.dec_optimizer(value, where)
        raise ParamFileError(
            f"Damaged optimizer states: {where} has the unknown tag {sorted(value)!r}."
        )

    def _attrs(self, value: dict[str, Any], where: str) -> dict[str, Any]:
        attrs = self.dec(value.get("attrs"), f"{where}.attrs")
        if not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs):
            raise ParamFileError(
                f"Damaged optimizer states: the attributes of {where} are not a str-keyed dict."
            )
        return attrs

    def dec_optimizer(self, value: dict[str, Any], where: str) -> Optimizer:
        """An optimizer of a registered class, its attributes checked; ``where`` is empty for
        the file's optimizer entry."""
        name = value["optimizer"]
        cls = Optimizer.opt_registry.get(name) if isinstance(name, str) else None
        if cls is None:
            raise ParamFileError(
                f"The optimizer states name optimizer {name!r:.60}, which is not registered "
                "here. Import and @mx.optimizer.register its class before loading."
            )
        entry = f"optimizer {name!r}" if not where else f"{where} (optimizer {name!r})"
        attrs = self._attrs(value, entry)
        alias = attrs.get(_COUNT_ALIAS)
        tables = attrs.get("_all_index_update_counts")
        if isinstance(alias, dict) and "__count_table__" in alias:
            key = alias["__count_table__"]
            if not isinstance(tables, dict) or not _states_check.is_table_key(key):
                raise ParamFileError(
                    f"Damaged optimizer states: {entry} attribute {_COUNT_ALIAS!r} names the "
                    f"update-count table {key!r:.60}, which is not a device key of "
                    "'_all_index_update_counts'."
                )
            attrs[_COUNT_ALIAS] = tables.setdefault(key, {})
        _states_check.check_optimizer(cls, attrs, entry)
        opt = cls.__new__(cls)
        opt.__setstate__(attrs)
        return opt


def _as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ParamFileError(
            f"Damaged optimizer states: {where} should hold a list, got {str(value)[:60]!r}."
        )
    return value


def _find_scheduler(path: Any) -> type[LRScheduler]:
    todo: list[type[LRScheduler]] = [LRScheduler]
    while todo:
        cls = todo.pop()
        if f"{cls.__module__}.{cls.__qualname__}" == path:
            return cls
        todo.extend(cls.__subclasses__())
    raise ParamFileError(
        f"The optimizer states hold an lr_scheduler of class {path!r:.80}, which is not loaded. "
        "Import the module that defines it before loading the states."
    )


def _array_entry(entry: Any, i: int, expected_offset: int) -> tuple[np.dtype, tuple[int, ...], int]:
    """``(dtype, shape, nbytes)`` of array entry ``i`` once checked: a known dtype, a shape NumPy
    can hold (at most MAX_NDIM non-negative int dimensions), ``nbytes`` matching it, and an
    ``offset`` right after the previous entry (as :func:`dumps` writes them), so the arrays
    never take more memory than the payload holds.

    Raises:
        ParamFileError: the entry is malformed (named as ``array entry i``).
    """
    where = f"Damaged optimizer states: array entry {i} ({str(entry)[:80]})"
    if not isinstance(entry, dict):
        raise ParamFileError(f"{where} is not an object.")
    name, shape, offset, nbytes = (entry.get(k) for k in ("dtype", "shape", "offset", "nbytes"))
    dtype = DTYPE_NAME_TO_NP.get(name) if isinstance(name, str) else None
    if dtype is None:
        raise ParamFileError(
            f"{where} has an unknown dtype; expected one of {sorted(DTYPE_NAME_TO_NP)}."
        )
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        or not numpy_can_hold(tuple(shape), dtype.itemsize)
    ):
        raise ParamFileError(
            f"{where} has an invalid shape: at most {MAX_NDIM} non-negative int dimensions "
            "that NumPy can hold."
        )
    count = math.prod(shape)
    if nbytes != count * dtype.itemsize or isinstance(nbytes, bool):
        raise ParamFileError(f"{where}: nbytes must be {count * dtype.itemsize} for its shape.")
    if offset != expected_offset or isinstance(offset, bool):
        raise ParamFileError(
            f"{where}: its data must start at payload byte {expected_offset}, right after the "
            "previous array's (arrays may not overlap or leave gaps)."
        )
    return dtype, tuple(shape), nbytes


def _read_arrays(entries: Any, payload: memoryview) -> list[NDArray]:
    arrays = []
    offset = 0
    for i, entry in enumerate(_as_list(entries, "the array table")):
        dtype, shape, nbytes = _array_entry(entry, i, offset)
        if offset + nbytes > len(payload):
            raise ParamFileError(
                f"Damaged optimizer states: the data is truncated (array entry {i} needs payload "
                f"bytes {offset}..{offset + nbytes}, the payload holds {len(payload)})."
            )
        raw = np.frombuffer(
            payload[offset : offset + nbytes], dtype=dtype.newbyteorder("<"), count=math.prod(shape)
        )
        arrays.append(NDArray(raw.astype(dtype).reshape(shape), cpu(0)))
        offset += nbytes
    return arrays


def loads(
    data: bytes | bytearray | memoryview, current: Optimizer | None = None
) -> tuple[dict[Any, Any], Optimizer | None]:
    """Parse :func:`dumps` output into ``(states, optimizer or None)``; arrays land on cpu(0).

    Everything is checked before it is returned (see :mod:`._states_check`): the arrays take
    at most the payload's bytes, the optimizer's attributes have their types and ranges, and
    with a built-in optimizer (the file's, else ``current``) each state is None, an NDArray or
    tuples of them.

    Raises:
        ParamFileError: pickled (real MXNet) states, or damaged / foreign bytes; the message
            names the entry.
    """
    buf = memoryview(bytes(data))
    if buf[:1] == b"\x80" or bytes(buf[:1]) in (b"(", b"]", b"}"):
        raise ParamFileError(_PICKLED_MSG)
    if bytes(buf[: len(MAGIC)]) != MAGIC:
        raise ParamFileError(
            "Not mxlite optimizer states (wrong magic bytes). Pass what Updater.get_states or "
            "Trainer.save_states wrote."
        )
    if len(buf) < len(MAGIC) + 8:
        raise ParamFileError("Damaged optimizer states: the header length is truncated.")
    (head_len,) = struct.unpack("<Q", buf[len(MAGIC) : len(MAGIC) + 8])
    start = len(MAGIC) + 8
    if head_len > _MAX_HEADER or start + head_len > len(buf):
        raise ParamFileError("Damaged optimizer states: the header is truncated or too large.")
    try:
        header = json.loads(bytes(buf[start : start + head_len]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ParamFileError(
            f"Damaged optimizer states: the header is not valid JSON ({err})."
        ) from err
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise ParamFileError(
            "Damaged optimizer states: the header does not describe optimizer states."
        )
    if header.get("version") != _VERSION:
        raise ParamFileError(
            f"Optimizer states of format version {header.get('version')!r} are not supported by this "
            f"mxlite (it reads version {_VERSION}); upgrade mxlite."
        )
    decoder = _Decoder(_read_arrays(header.get("arrays"), buf[start + head_len :]))
    try:
        states = decoder.dec(header.get("states"), "states")
        optimizer = (
            None if header.get("optimizer") is None else decoder.dec(header["optimizer"], "")
        )
    except RecursionError as err:
        raise ParamFileError("Damaged optimizer states: nesting is too deep.") from err
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise ParamFileError("Damaged optimizer states: the optimizer entry is not an optimizer.")
    user = optimizer if optimizer is not None else current
    _states_check.check_states(
        states, user is not None and type(user).__module__.startswith("mxlite.")
    )
    return states, optimizer
