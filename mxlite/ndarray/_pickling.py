"""``pickle`` and ``copy.deepcopy`` of NDArrays through MXNet's binary array record.

MXNet 1.9.1 pickles an NDArray as ``(NDArray, (None,), {'handle': bytearray})``, the bytearray
being what ``MXNDArraySaveRawBytes`` writes (the per-array record of a ``.params`` file: magic,
storage type, shape, device, type flag, data). mxlite writes the same reduce tuple and the same
bytes, so the state of a pickle made by one library is the state the other reads; only the
class path in the pickle differs (``mxnet.ndarray.ndarray`` vs ``mxlite.ndarray.ndarray``), so
loading across libraries needs an ``Unpickler.find_class`` that maps one module to the other.

Loading uses the parameter-file reader (:func:`mxlite._formats.params.loads_array`), never
``pickle`` on anything but the caller's own stream. An array saved on a GPU comes back on that
GPU when it is usable here, else on ``cpu(0)`` (MXNet would fail); host arrays come back on
``cpu(0)`` whatever host context they were saved from, as in MXNet. Gradients and autograd history are not
part of the state (as in MXNet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mxlite import backend
from mxlite._formats.params import dumps_array, loads_array
from mxlite.base import MXLiteGPUError, MXNetError
from mxlite.context import Context, cpu

if TYPE_CHECKING:
    from mxlite.ndarray.ndarray import NDArray

__all__ = ["getstate", "setstate"]

_MSG_STATE = (
    "cannot restore an NDArray from {what}: expected MXNet's state, a dict "
    "{{'handle': bytes or bytearray or None}}"
)


def getstate(x: NDArray) -> dict[str, Any]:
    """MXNet's pickled state of ``x``: ``{'handle': bytearray(record)}`` (``None`` for an array
    without data). The record's magic is V3 while numpy shape semantics are on, as in MXNet."""
    from mxlite.util import is_np_shape

    if x._data is None:
        return {"handle": None}
    ctx = x._ctx
    record = dumps_array(x.asnumpy(), is_np_shape(), (ctx.device_typeid, ctx.device_id))
    # A bytearray, as MXNet's: its __setstate__ needs a writable buffer.
    return {"handle": bytearray(record)}


def _load_context(device: tuple[int, int]) -> Context:
    """Where a loaded array lives: its GPU when that GPU is usable here, else ``cpu(0)`` (MXNet
    loads every host array on cpu(0), whatever host context it was saved from)."""
    if device[0] != 2:
        return cpu(0)
    ctx = Context("gpu", max(device[1], 0))
    try:
        backend.check_ctx_usable(ctx)
    except MXLiteGPUError:
        return cpu(0)
    return ctx


def setstate(x: NDArray, state: Any) -> None:
    """Fill ``x`` (made by ``cls(None)``) from a state :func:`getstate` or MXNet wrote.

    Raises:
        MXNetError: ``state`` is not such a dict.
        ParamFileError: the record is damaged (its message says where).
    """
    handle = state.get("handle", ...) if isinstance(state, dict) else ...
    if handle is ...:
        raise MXNetError(_MSG_STATE.format(what=type(state).__name__))
    x._grad = None
    x._grad_req = "null"
    x._ag_node = None
    if handle is None:
        x._data, x._ctx = None, cpu(0)
        return
    if not isinstance(handle, (bytes, bytearray, memoryview)):
        raise MXNetError(_MSG_STATE.format(what=f"a handle of type {type(handle).__name__}"))
    arr, device = loads_array(bytes(handle))
    ctx = _load_context(device)
    x._data = backend.to_ctx(arr, ctx) if ctx.device_typeid == 2 else arr
    x._ctx = ctx
