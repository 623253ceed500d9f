"""How a batch crosses from a DataLoader worker process to the main process.

mxlite NDArrays are deliberately not picklable, so a worker replaces every NDArray in its batch
(inside lists, tuples and dicts, at any depth) by a :class:`Shipped` record holding a NumPy
copy and where the array lived, and the main process turns the records back into NDArrays.

On the pipe, a message is one small header, then the pickled batch (protocol 5), then each
array's bytes as a separate message (pickle's out-of-band buffers): arrays are never copied into
the pickle stream, and the main process receives them straight into new NumPy buffers that the
rebuilt NDArrays own. Only the worker processes this DataLoader forked write to these pipes, so
unpickling their messages trusts nothing beyond the dataset code that already runs in this
process.
"""

from __future__ import annotations

import pickle
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray

__all__ = ["Shipped", "to_wire", "from_wire", "send_message", "recv_message"]


class Shipped:
    """An NDArray in transit: its values, its class ('nd' or 'np') and its context."""

    __slots__ = ("arr", "kind", "device_typeid", "device_id")

    def __init__(self, arr: np.ndarray, kind: str, device_typeid: int, device_id: int) -> None:
        self.arr = arr
        self.kind = kind
        self.device_typeid = device_typeid
        self.device_id = device_id

    def __reduce__(self) -> Any:
        return (Shipped, (self.arr, self.kind, self.device_typeid, self.device_id))


def _rebuild(items: list[Any], like: Any) -> Any:
    if type(like) is list:
        return items
    if type(like) is tuple:
        return tuple(items)
    return type(like)(*items)  # a namedtuple


def to_wire(obj: Any) -> Any:
    """``obj`` with every NDArray replaced by a :class:`Shipped` host copy (worker side)."""
    if isinstance(obj, NDArray):
        from mxlite.numpy.multiarray import ndarray as np_ndarray

        ctx = obj.context
        host = np.ascontiguousarray(backend.to_numpy(obj._data))
        kind = "np" if isinstance(obj, np_ndarray) else "nd"
        return Shipped(host, kind, ctx.device_typeid, ctx.device_id)
    if isinstance(obj, (list, tuple)):
        return _rebuild([to_wire(v) for v in obj], obj)
    if isinstance(obj, dict):
        return type(obj)((k, to_wire(v)) for k, v in obj.items())
    return obj


def from_wire(obj: Any) -> Any:
    """``obj`` with every :class:`Shipped` record turned back into an NDArray (main side).

    Host arrays are wrapped without a copy on their original context (``cpu_shared(0)`` for
    MXNet's default worker batchify); arrays that lived on a GPU are copied back there.
    """
    if isinstance(obj, Shipped):
        from mxlite.numpy.multiarray import ndarray as np_ndarray

        cls = np_ndarray if obj.kind == "np" else NDArray
        ctx = Context(Context.devtype2str[obj.device_typeid], obj.device_id)
        if ctx.is_gpu:
            return cls(backend.to_ctx(obj.arr, ctx), ctx)
        return cls(obj.arr, ctx)
    if isinstance(obj, (list, tuple)):
        return _rebuild([from_wire(v) for v in obj], obj)
    if isinstance(obj, dict):
        return type(obj)((k, from_wire(v)) for k, v in obj.items())
    return obj


def send_message(conn: Connection, header: tuple[Any, ...], body: Any) -> None:
    """Send ``header`` (small, picklable) and ``body`` with its arrays out of band.

    Raises:
        pickle.PicklingError, TypeError, AttributeError: ``body`` cannot be pickled (nothing
            is sent then).
    """
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(body, protocol=5, buffer_callback=buffers.append)
    raws = [buf.raw() for buf in buffers]
    conn.send_bytes(pickle.dumps((*header, [raw.nbytes for raw in raws]), protocol=5))
    conn.send_bytes(payload)
    for raw in raws:
        conn.send_bytes(raw)


def recv_message(conn: Connection) -> tuple[tuple[Any, ...], Any]:
    """Receive what :func:`send_message` sent: ``(header, body)``.

    Raises:
        EOFError, OSError: the sender closed its end or died mid-message.
    """
    *header, sizes = pickle.loads(conn.recv_bytes())
    payload = conn.recv_bytes()
    buffers = []
    for size in sizes:
        buf = np.empty(size, dtype=np.uint8)
        if size:
            conn.recv_bytes_into(buf)
        else:
            conn.recv_bytes()
        buffers.append(buf)
    return tuple(header), pickle.loads(payload, buffers=buffers)
