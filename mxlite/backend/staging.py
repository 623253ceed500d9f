"""Move many arrays between GPUs and the host through a few reused pinned staging buffers.

Copying a CuPy array to the host with ``.get()`` allocates a pageable buffer, runs a synchronous
transfer through the driver's own small staging area and blocks; over thousands of parameters
that is thousands of round trips. Here every transfer of a batch is an asynchronous
``cudaMemcpyAsync`` between the device and one of :data:`SLOTS` pinned chunks of
:data:`CHUNK_BYTES` (allocated once per process, on first use, with
``cupy.cuda.alloc_pinned_memory``). While the DMA engine fills one chunk, the host copies the
previous chunk to its destination arrays, so the transfer and the host copy overlap; the batch
costs one synchronization per chunk, not per array. Large arrays are split across chunks; small
ones share a chunk.

Each chunk remembers the event of the last transfer that used it, and the host touches a chunk
only after that event completed, so batches on different devices or streams never overwrite
data still in flight. The pool is guarded by a lock (one batch at a time per process).

The host side is plain NumPy: results of :func:`to_host` are ordinary pageable arrays.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend

__all__ = ["CHUNK_BYTES", "SLOTS", "to_host", "to_device_into", "release"]

#: Bytes per pinned chunk, and the number of chunks (double buffering).
CHUNK_BYTES = 32 << 20
SLOTS = 2
_ALIGN = 256
_D2H = 2  # cudaMemcpyDeviceToHost
_H2D = 1  # cudaMemcpyHostToDevice


class _Slot:
    """One pinned chunk: its memory, a NumPy byte view of it, and its last transfer's event."""

    def __init__(self, cp: Any) -> None:
        self.mem = cp.cuda.alloc_pinned_memory(CHUNK_BYTES)
        self.host = np.frombuffer(self.mem, dtype=np.uint8, count=CHUNK_BYTES)
        self.ptr = int(self.mem.ptr)
        self.event: Any = None
        # D2H: (destination byte view, source offset in this chunk, nbytes) waiting to be copied.
        self.pending: list[tuple[np.ndarray, int, int]] = []

    def wait(self) -> None:
        """Block until the last transfer through this chunk is done; deliver pending copies."""
        if self.event is not None:
            self.event.synchronize()
            self.event = None
        for dst, off, n in self.pending:
            dst[...] = self.host[off : off + n]
        self.pending = []


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.slots: list[_Slot] = []

    def get(self, cp: Any) -> list[_Slot]:
        if not self.slots:
            self.slots = [_Slot(cp) for _ in range(SLOTS)]
        return self.slots


_POOL = _Pool()


def release() -> None:
    """Free the pinned chunks (they are allocated again by the next transfer)."""
    with _POOL.lock:
        for slot in _POOL.slots:
            slot.wait()
        _POOL.slots = []


def _bytes_of(arr: np.ndarray) -> np.ndarray:
    return arr.reshape(-1).view(np.uint8)


class _Cursor:
    """Walks the chunks: the next free byte of the current chunk, switching chunks when full."""

    def __init__(self, slots: list[_Slot], cp: Any) -> None:
        self.slots = slots
        self.cp = cp
        self.index = 0
        self.fill = 0
        self.used = False
        slots[0].wait()

    def room(self) -> int:
        if self.fill >= CHUNK_BYTES:
            self.advance()
        return CHUNK_BYTES - self.fill

    def advance(self) -> None:
        self.close()
        self.index = (self.index + 1) % len(self.slots)
        self.fill = 0
        self.slots[self.index].wait()

    def take(self, n: int) -> tuple[_Slot, int]:
        slot = self.slots[self.index]
        off = self.fill
        self.fill = min(CHUNK_BYTES, -(-(off + n) // _ALIGN) * _ALIGN)
        self.used = True
        return slot, off

    def close(self) -> None:
        """Record the end of the current chunk's transfers on the current stream."""
        if self.used:
            event = self.cp.cuda.Event(block=False, disable_timing=True)
            event.record(self.cp.cuda.get_current_stream())
            self.slots[self.index].event = event
            self.used = False


def _by_device(arrays: Sequence[Any]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, arr in enumerate(arrays):
        groups.setdefault(int(arr.device.id), []).append(i)
    return groups


def to_host(arrays: Sequence[Any]) -> list[np.ndarray]:
    """Copies of CuPy ``arrays`` (any devices, any dtypes) as new C-contiguous NumPy arrays.

    Raises:
        TypeError: an entry is not a CuPy array.
    """
    for i, arr in enumerate(arrays):
        if not backend.is_gpu_array(arr):
            raise TypeError(f"to_host: entry {i} is a {type(arr).__name__}, not a cupy.ndarray")
    outs = [np.empty(arr.shape, dtype=arr.dtype) for arr in arrays]
    if not arrays:
        return outs
    cp = backend.xp_of(arrays[0])
    with _POOL.lock:
        slots = _POOL.get(cp)
        for dev, idxs in _by_device(arrays).items():
            with cp.cuda.Device(dev):
                stream = cp.cuda.get_current_stream().ptr
                cursor = _Cursor(slots, cp)
                for i in idxs:
                    src = (
                        arrays[i]
                        if arrays[i].flags.c_contiguous
                        else cp.ascontiguousarray(arrays[i])
                    )
                    dst = _bytes_of(outs[i])
                    done, total = 0, src.nbytes
                    while done < total:
                        n = min(total - done, cursor.room())
                        slot, off = cursor.take(n)
                        cp.cuda.runtime.memcpyAsync(
                            slot.ptr + off, src.data.ptr + done, n, _D2H, stream
                        )
                        slot.pending.append((dst[done : done + n], off, n))
                        done += n
                cursor.close()
                for slot in slots:
                    slot.wait()
    return outs


def to_device_into(hosts: Sequence[np.ndarray], devices: Sequence[Any]) -> None:
    """Copy each host array into the CuPy array of the same index (same shape and dtype).

    The copies are ordered on each device's current stream: kernels launched there afterwards
    see the data. The call returns once the host buffers have been read.

    Raises:
        ValueError: lengths, shapes or dtypes differ; TypeError: a destination is not a CuPy
            array. Nothing is copied then.
    """
    if len(hosts) != len(devices):
        raise ValueError(
            f"to_device_into: {len(hosts)} host arrays but {len(devices)} destinations"
        )
    for i, (host, dev) in enumerate(zip(hosts, devices)):
        if not backend.is_gpu_array(dev):
            raise TypeError(f"to_device_into: destination {i} is not a cupy.ndarray")
        if tuple(host.shape) != tuple(dev.shape) or np.dtype(host.dtype) != np.dtype(dev.dtype):
            raise ValueError(
                f"to_device_into: entry {i} is {host.dtype}{tuple(host.shape)} on the host but "
                f"{dev.dtype}{tuple(dev.shape)} on the device; cast or reshape first."
            )
    if not devices:
        return
    cp = backend.xp_of(devices[0])
    with _POOL.lock:
        slots = _POOL.get(cp)
        for dev_id, idxs in _by_device(devices).items():
            with cp.cuda.Device(dev_id):
                stream = cp.cuda.get_current_stream().ptr
                cursor = _Cursor(slots, cp)
                for i in idxs:
                    dst = devices[i]
                    target = dst if dst.flags.c_contiguous else cp.empty(dst.shape, dst.dtype)
                    src = _bytes_of(np.ascontiguousarray(hosts[i]))
                    done, total = 0, src.nbytes
                    while done < total:
                        n = min(total - done, cursor.room())
                        slot, off = cursor.take(n)
                        slot.host[off : off + n] = src[done : done + n]
                        cp.cuda.runtime.memcpyAsync(
                            target.data.ptr + done, slot.ptr + off, n, _H2D, stream
                        )
                        done += n
                    if target is not dst:
                        dst[...] = target
                cursor.close()
        # The chunks' events guard their reuse; nothing here reads device data back.
