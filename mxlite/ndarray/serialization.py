"""``mx.nd.save`` / ``mx.nd.load`` (and ``mx.npx.save`` / ``mx.npx.load``) over three file formats.

The format comes from ``format=`` (``'params'`` or its alias ``'mxnet'``, ``'safetensors'``,
``'npz'``) or else from the file name: ``*.safetensors``, ``*.npz``, anything else is MXNet's binary
``.params`` format, byte-identical to what MXNet 1.9.1 writes. Saving is atomic
(:mod:`mxlite._formats.atomic_file`); nothing here ever unpickles.

MXNet semantics kept (checked against MXNet 1.9.1):

- ``save`` takes an NDArray, a list of NDArrays or a dict str -> NDArray; a single NDArray loads
  back as a list of one, and an empty dict loads back as ``[]``.
- While numpy shape semantics are on (``npx.set_np()``) the per-array magic is V3; a ``.params``
  file with V3 arrays loads only with them on, one with V2 arrays only with them off. The error
  message mentions ``is_np_shape``, as MXNet's does.
- ``mx.nd.load`` returns legacy NDArrays even in numpy mode; ``mx.npx.load`` returns
  ``mx.np.ndarray``. ``mx.nd.save`` refuses ``mx.np.ndarray`` (use ``mx.npx.save``).
- The device recorded in a file is ignored: arrays load onto ``ctx`` (default ``cpu(0)``).

Loading a file also removes what killed saves of it left behind once their writers are gone
(:func:`mxlite._formats.atomic_file.remove_dead_leftovers`). Memory: a load costs the arrays it
returns plus transient bookkeeping of about the file's size; each array is an NDArray over a
NumPy array, about 190 bytes of objects, so a file of very many tiny arrays (the smallest
``.params`` record is 17 bytes) costs up to about 11 times its size.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import numpy as np

from mxlite import backend, util
from mxlite._formats import npz as npz_format
from mxlite._formats import params as params_format
from mxlite._formats import safetensors as safetensors_format
from mxlite._formats import sparse as _sparse_file
from mxlite._formats.atomic_file import atomic_write, remove_dead_leftovers
from mxlite.base import ParamFileError
from mxlite.context import Context, cpu

__all__ = [
    "save",
    "load",
    "load_frombuffer",
    "npx_save",
    "npx_load",
    "load_arrays",
    "ParamFileNotFoundError",
    "FORMATS",
]

#: Accepted ``format=`` values and the format each names.
FORMATS = {"params": "params", "mxnet": "params", "safetensors": "safetensors", "npz": "npz"}

_MSG_SPARSE_LIST = (
    "{fname}: safetensors and npz files store a sparse array as named component buffers "
    "(name.__row_sparse__.data, ...), so save a dict name -> array instead of a list, or use "
    "the .params format."
)
_MSG_SAVE_TYPES = "save only accept dict str->NDArray or list of NDArray"
_MSG_SAVE_CONTAINER = (
    "data needs to either be a NDArray, dict of str, NDArray pairs or a list of NDarrays."
)
_MSG_SAVE_NP = (
    "cannot save mxnet.numpy.ndarray using mxnet.ndarray.save; use mxnet.numpy_extension.save "
    "(mx.npx.save) instead."
)
_MSG_NPX_TYPES = "Only accepts dict str->ndarray or list of ndarrays"
_MSG_NPX_CONTAINER = (
    "data needs to either be a ndarray, dict of (str, ndarray) pairs or a list of ndarrays."
)
_MSG_NPX_MODE = (
    "Cannot {verb} `mxnet.numpy.ndarray` in legacy mode. Please activate numpy semantics by "
    "calling `npx.set_np()` in the global scope before calling this function."
)
_MSG_SCALAR_V2 = (
    "{where} is 0-d and numpy shape semantics are off: the file is written exactly as MXNet "
    "1.9.1 writes it, which mxlite loads but MXNet 1.9.1 itself cannot. To share the file with "
    "MXNet, reshape it to (1,) or save under mx.npx.set_np()."
)


class ParamFileNotFoundError(ParamFileError, FileNotFoundError):
    """The parameter file (or the directory to save it in) does not exist.

    Both an :class:`MXNetError` (what MXNet raises) and a :class:`FileNotFoundError`.
    """

    def __init__(self, message: str, errno: int | None = None, filename: str | None = None) -> None:
        super().__init__(message)
        self.errno = errno
        self.strerror = message
        self.filename = filename

    def __str__(self) -> str:
        return str(self.strerror)


def _nd_classes() -> tuple[type, type]:
    from mxlite.ndarray.ndarray import NDArray  # noqa: PLC0415 - ndarray imports this module lazily
    from mxlite.numpy.multiarray import ndarray as np_ndarray  # noqa: PLC0415

    return NDArray, np_ndarray


def _fname_str(fname: Any, what: str = "fname") -> str:
    if isinstance(fname, str):
        return fname
    if isinstance(fname, os.PathLike):
        path = os.fspath(fname)
        if isinstance(path, str):
            return path
    raise TypeError(f"{what} required to be a string")


def _pick_format(fname: str, format: str | None) -> str:  # noqa: A002 - public argument name
    if format is not None:
        if not isinstance(format, str) or format.lower() not in FORMATS:
            raise ValueError(
                f"Unknown format {format!r}; use 'params' (alias 'mxnet'), 'safetensors' or 'npz'."
            )
        return FORMATS[format.lower()]
    lower = fname.lower()
    if lower.endswith(".safetensors"):
        return "safetensors"
    if lower.endswith(".npz"):
        return "npz"
    return "params"


def _user_stacklevel() -> int:
    """stacklevel for warnings.warn called by our caller, pointing at the first non-mxlite frame."""
    frame = sys._getframe(2)  # noqa: SLF001 - our caller's caller
    level = 2
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("mxlite."):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _write(fname: str, fmt: str, arrays: list[Any] | dict[str, Any], np_magic: bool) -> None:
    """Write NDArrays (validated already) atomically to ``fname`` in format ``fmt``."""
    values = list(arrays.values()) if isinstance(arrays, dict) else list(arrays)
    # the raw array behind each NDArray; a sparse array's host components
    raws = [x._data if x.stype == "default" else _sparse_record(x) for x in values]  # noqa: SLF001
    if fmt == "params" and not np_magic:
        for i, raw in enumerate(raws):
            if not isinstance(raw, _sparse_file.SparseRecord) and raw.ndim == 0:
                where = f"array {list(arrays)[i]!r}" if isinstance(arrays, dict) else f"array {i}"
                warnings.warn(
                    _MSG_SCALAR_V2.format(where=where), UserWarning, stacklevel=_user_stacklevel()
                )
    container: list[Any] | dict[str, Any]
    if isinstance(arrays, dict):
        container = dict(zip(arrays.keys(), raws))
    else:
        container = raws
    try:
        with atomic_write(fname) as f:
            if fmt == "params":
                devices = [(x.context.device_typeid, x.context.device_id) for x in values]
                params_format.write_params(f, container, np_magic, devices, backend.to_numpy)
            elif fmt == "safetensors":
                safetensors_format.write_safetensors(f, _host(container, fname))
            else:
                npz_format.write_npz(f, _host(container, fname))
    except FileNotFoundError as err:  # worded by atomic_write: the target and the reason
        raise ParamFileNotFoundError(str(err.strerror), err.errno, fname) from None


def _sparse_record(x: Any) -> _sparse_file.SparseRecord:
    """The host components of sparse NDArray ``x`` (checked: a damaged array is not saved)."""
    rec = _sparse_file.SparseRecord(
        x.stype,
        tuple(x.shape),
        backend.to_numpy(x._values),  # noqa: SLF001
        {n: backend.to_numpy(getattr(x, "_" + n)) for n in _sparse_file.AUX_NAMES[x.stype]},
        (x.context.device_typeid, x.context.device_id),
    )
    rec.check()
    return rec


def _host(
    container: list[Any] | dict[str, Any], fname: str
) -> list[np.ndarray] | dict[str, np.ndarray]:
    """Host arrays for safetensors/npz: sparse arrays become their component buffers.

    Raises:
        TypeError: a sparse array in a list save (its components need a name).
    """
    if isinstance(container, dict):
        out: dict[str, np.ndarray] = {}
        for k, v in container.items():
            if isinstance(v, _sparse_file.SparseRecord):
                out.update(_sparse_file.to_components(k, v))
            else:
                out[k] = backend.to_numpy(v)
        return out
    if any(isinstance(v, _sparse_file.SparseRecord) for v in container):
        raise TypeError(_MSG_SPARSE_LIST.format(fname=fname))
    return [backend.to_numpy(v) for v in container]


def _checked_values(data: Any, cls: type, types_msg: str, container_msg: str) -> list[Any]:
    """The arrays of a str-keyed dict or a list, each an instance of ``cls``.

    Raises:
        TypeError: a key is not a str or a value not a ``cls`` (``types_msg``).
        ValueError: ``data`` is neither a dict nor a list (``container_msg``).
    """
    if isinstance(data, dict):
        if any(not isinstance(k, str) for k in data):
            raise TypeError(types_msg)
        values = list(data.values())
    elif isinstance(data, list):
        values = data
    else:
        raise ValueError(container_msg)
    if any(not isinstance(v, cls) for v in values):
        raise TypeError(types_msg)
    return values


def save(fname: str, data: Any, format: str | None = None) -> None:  # noqa: A002
    """Save an NDArray, a list of NDArrays or a dict str -> NDArray to ``fname``.

    Args:
        fname: file path (str or os.PathLike).
        data: what to save. A single NDArray is saved as a list of one.
        format: ``'params'``/``'mxnet'``, ``'safetensors'`` or ``'npz'``; default by extension.

    Raises:
        TypeError: a value is not an NDArray, a key is not a str, a value is an
            ``mx.np.ndarray`` (use ``mx.npx.save``), or ``fname`` is not a path.
        ValueError: ``data`` is not an NDArray, list or dict; or ``format`` is unknown.
        ParamFileNotFoundError: the directory does not exist.
    """
    NDArray, np_ndarray = _nd_classes()
    path = _fname_str(fname)
    fmt = _pick_format(path, format)
    if isinstance(data, NDArray):
        data = [data]
    values = _checked_values(data, NDArray, _MSG_SAVE_TYPES, _MSG_SAVE_CONTAINER)
    if any(isinstance(v, np_ndarray) for v in values):
        raise TypeError(_MSG_SAVE_NP)
    _write(path, fmt, data, util.is_np_shape())


def npx_save(file: str, arr: Any, format: str | None = None) -> None:  # noqa: A002
    """``mx.npx.save``: save ``mx.np.ndarray`` s (numpy semantics must be on).

    Raises:
        ValueError: numpy semantics are off, or ``arr`` is not an ndarray, list or dict.
        TypeError: a value is not an ``mx.np.ndarray`` or a key not a str.
    """
    _, np_ndarray = _nd_classes()
    if not (util.is_np_shape() and util.is_np_array()):
        raise ValueError(_MSG_NPX_MODE.format(verb="save"))
    path = _fname_str(file, "file")
    fmt = _pick_format(path, format)
    if isinstance(arr, np_ndarray):
        arr = [arr]
    _checked_values(arr, np_ndarray, _MSG_NPX_TYPES, _MSG_NPX_CONTAINER)
    _write(path, fmt, arr, True)


def load_arrays(
    fname: Any,
    format: str | None = None,
    np_shape: bool | None = None,  # noqa: A002
) -> list[np.ndarray] | dict[str, np.ndarray]:
    """Read a parameter file into NumPy arrays (no NDArray wrapping).

    Args:
        fname: file path.
        format: as in :func:`save`.
        np_shape: for ``.params``: None accepts V2 and V3 arrays alike; a bool applies MXNet's
            rule for that numpy-shape mode.

    Raises:
        ParamFileNotFoundError: no such file.
        ParamFileError: the file is damaged or not of the format.
    """
    path = _fname_str(fname)
    fmt = _pick_format(path, format)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError as err:
        raise ParamFileNotFoundError(
            f'Cannot open "{path}": {err.strerror}', err.errno, path
        ) from None
    except IsADirectoryError as err:
        raise ParamFileError(f'Cannot open "{path}": it is a directory') from err
    remove_dead_leftovers(path)  # what killed saves of this file left behind
    with f:
        return _read(f, path, fmt, np_shape)


def _read(src: Any, name: str, fmt: str, np_shape: bool | None) -> Any:
    if fmt == "params":
        return params_format.read_params(src, name, np_shape=np_shape)
    if fmt == "safetensors":
        raw = safetensors_format.read_safetensors(src, name)[0]
    else:
        raw = npz_format.read_npz(src, name)
    return _sparse_file.from_components(raw, name) if isinstance(raw, dict) else raw


def _wrap(raw: Any, ctx: Context | None, cls: type) -> Any:
    target = cpu(0) if ctx is None else ctx
    if not isinstance(target, Context):
        raise TypeError(f"ctx must be a Context such as mx.cpu() or mx.gpu(0), got {ctx!r}")

    def one(arr: Any) -> Any:
        if isinstance(arr, _sparse_file.SparseRecord):
            return _sparse_array(arr, target)
        return cls(backend.to_ctx(arr, target), target)

    if isinstance(raw, dict):
        return {k: one(v) for k, v in raw.items()}
    return [one(v) for v in raw]


def _sparse_array(rec: _sparse_file.SparseRecord, ctx: Context) -> Any:
    """A RowSparseNDArray or CSRNDArray on ``ctx`` from a checked record."""
    from mxlite.ndarray._sparse_base import CSRNDArray, RowSparseNDArray

    data = backend.to_ctx(rec.data, ctx)
    idx = backend.to_ctx(rec.aux["indices"], ctx)
    if rec.stype == "row_sparse":
        return RowSparseNDArray._make(data, idx, rec.shape, ctx)
    ptr = backend.to_ctx(rec.aux["indptr"], ctx)
    return CSRNDArray._make(data, idx, rec.shape, ctx, indptr=ptr)


def load(fname: str, ctx: Context | None = None, format: str | None = None) -> Any:  # noqa: A002
    """Load a list or dict of NDArrays saved by :func:`save` or by MXNet.

    Args:
        fname: file path (str or os.PathLike).
        ctx: where the arrays go (default ``cpu(0)``); the device recorded in the file is ignored.
        format: as in :func:`save`; default by extension.

    Returns:
        A list of NDArray (files saved from a list, a single NDArray or an empty dict) or a dict
        str -> NDArray. Legacy NDArrays even in numpy mode, as in MXNet (see :func:`npx_load`).

    Raises:
        TypeError: ``fname`` is not a path.
        ParamFileNotFoundError: no such file.
        ParamFileError: damaged/hostile file, or V2/V3 arrays in the wrong numpy-shape mode.
    """
    NDArray, _ = _nd_classes()
    raw = load_arrays(fname, format, np_shape=util.is_np_shape())
    return _wrap(raw, ctx, NDArray)


def npx_load(file: str, ctx: Context | None = None, format: str | None = None) -> Any:  # noqa: A002
    """``mx.npx.load``: like :func:`load` but returns ``mx.np.ndarray`` (numpy semantics on).

    Raises:
        ValueError: numpy semantics are off.
    """
    _, np_ndarray = _nd_classes()
    if not (util.is_np_shape() and util.is_np_array()):
        raise ValueError(_MSG_NPX_MODE.format(verb="load"))
    raw = load_arrays(_fname_str(file, "file"), format, np_shape=True)
    return _wrap(raw, ctx, np_ndarray)


def load_frombuffer(buf: Any, ctx: Context | None = None) -> Any:
    """Load NDArrays from the bytes of a saved file (format sniffed: .params, .npz, safetensors).

    Raises:
        TypeError: ``buf`` is not bytes-like.
        ParamFileError: the bytes are not a valid file.
    """
    NDArray, _ = _nd_classes()
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise TypeError("buf required to be a string or bytes")
    data = bytes(buf)
    fmt = params_format.sniff_format(data[:16])
    raw = _read(data, "<buffer>", fmt, util.is_np_shape() if fmt == "params" else None)
    return _wrap(raw, ctx, NDArray)
