"""Streams, events and deferred device work for tests/fake_cupy.py (the asynchronous half).

A GPU runs the work queued on a stream later, in order, and nothing orders two streams unless an
event says so. The fake CuPy models the latest moment the work may take effect, so that code which
forgets an event, or reads a result before its stream is done, sees wrong values in a CPU test:

* every operation that writes device memory (a kernel, a ufunc, a copy, ``fill``, a memset) is a
  closure appended to the :class:`Queue` of the stream that CuPy would use (the current stream
  of the current device, or the ``stream=`` given); nothing runs at call time;
* a queue runs only when someone waits for it: ``Stream.synchronize()``, ``Event.synchronize()``,
  ``Device.synchronize()``, a host read of an array (``get()``, ``item()``, ``repr``...; CuPy
  synchronizes the current stream of the array's device there), or another queue reaching a
  ``wait_event`` on an event recorded here;
* new arrays start with every byte 0xFF (NaN for floats), so a read of memory nobody has written
  yet is conspicuous.

The legacy default ("null") stream of a device waits for the device's other blocking streams and
they wait for it, as CUDA's legacy stream does. Each device has its own null stream; ``Stream.null``
means "the null stream of the device that is current when it is used", as ``ptr == 0`` does in
CUDA.

A device counts as having a CUDA context (:data:`CONTEXTS`) once anything ran, was allocated or was
made current there (CUDA 12 and newer create the primary context in ``cudaSetDevice``).
"""

from __future__ import annotations

import collections
import functools
import itertools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

LOCK = threading.RLock()
CONTEXTS: set[int] = set()
_THREAD = threading.local()
_NULL: dict[int, Queue] = {}
_CREATED: dict[int, list[Queue]] = collections.defaultdict(list)
_BY_PTR: dict[int, Stream] = {}
_KEEP: dict[int, list[Any]] = collections.defaultdict(list)
_PTRS = itertools.count(0x7000)
POISON = 0xFF


def reset() -> None:
    """Forget every queue, stream, kept buffer and context (a fresh process)."""
    with LOCK:
        _NULL.clear()
        _CREATED.clear()
        _BY_PTR.clear()
        _KEEP.clear()
        CONTEXTS.clear()
        _THREAD.__dict__.clear()


def current_device() -> int:
    return getattr(_THREAD, "device", 0)


def set_current_device(device: int) -> None:
    if device != current_device():
        CONTEXTS.add(device)
    _THREAD.device = device


def touch(device: int) -> None:
    """Note that ``device`` has a context (work, an allocation or a sync happened there)."""
    CONTEXTS.add(device)


def keep(device: int, obj: Any) -> None:
    """Keep ``obj`` alive until the queues of ``device`` are empty (a raw pointer into it was
    handed out and queued work may still dereference it)."""
    with LOCK:
        _KEEP[device].append(obj)


# ------------------------------------------------------------------------------------- queues
class DeadlockError(RuntimeError):
    """Two streams wait on each other: the GPU would hang."""


class Queue:
    """The pending work of one stream, run in submission order, only when someone waits."""

    def __init__(self, device: int, null: bool, blocking: bool = True) -> None:
        self.device = device
        self.null = null
        self.blocking = blocking
        self.items: collections.deque[Callable[[], None]] = collections.deque()
        self.submitted = 0
        self.executed = 0
        self.running = False

    @property
    def pending(self) -> int:
        return self.submitted - self.executed

    def push(self, fn: Callable[[], None]) -> None:
        """Queue ``fn`` (after the implicit waits of CUDA's legacy default stream)."""
        with LOCK:
            touch(self.device)
            for other in self._legacy_peers():
                if other.pending:
                    self._append(functools.partial(other.run_until, other.submitted))
            self._append(fn)

    def _append(self, fn: Callable[[], None]) -> None:
        self.items.append(fn)
        self.submitted += 1

    def _legacy_peers(self) -> list[Queue]:
        if not self.blocking:
            return []
        created = _CREATED.get(self.device, [])
        if self.null:
            return [q for q in created if q.blocking]
        null = _NULL.get(self.device)
        return [null] if null is not None else []

    def run_until(self, position: int) -> None:
        """Run the queued work up to submission ``position`` (exclusive)."""
        with LOCK:
            touch(self.device)
            while self.executed < position:
                if self.running:
                    raise DeadlockError(
                        f"fake CuPy: a stream of device {self.device} waits for work queued after "
                        "work that waits for it (a GPU would hang)"
                    )
                fn = self.items.popleft()
                self.running = True
                try:
                    with np.errstate(all="ignore"):
                        fn()
                finally:
                    self.running = False
                    self.executed += 1
            if not _KEEP.get(self.device):
                return
            if all(q.pending == 0 for q in _queues_of(self.device)):
                _KEEP[self.device].clear()

    def run_all(self) -> None:
        self.run_until(self.submitted)


def null_queue(device: int) -> Queue:
    q = _NULL.get(device)
    if q is None:
        q = _NULL[device] = Queue(device, null=True)
    return q


def _queues_of(device: int) -> list[Queue]:
    return [null_queue(device), *_CREATED.get(device, [])]


def synchronize_device(device: int) -> None:
    """Run everything queued on ``device`` (``cudaDeviceSynchronize``)."""
    with LOCK:
        touch(device)
        for q in _queues_of(device):
            q.run_all()


def pending_work() -> int:
    """How many operations are queued on all devices and not run yet."""
    with LOCK:
        return sum(q.pending for d in list(_NULL) + list(_CREATED) for q in _queues_of(d))


# ------------------------------------------------------------------------------------ streams
class Stream:
    """``cupy.cuda.Stream``: a queue of one device (``Stream.null``: of the current device)."""

    null: Stream

    def __init__(self, null: bool = False, non_blocking: bool = False, ptds: bool = False) -> None:
        self._null = bool(null)
        self.device_id = -1 if null else current_device()
        if null:
            self.ptr = 0
            self._q: Queue | None = None
            return
        touch(self.device_id)
        self.ptr = next(_PTRS)
        self._q = Queue(self.device_id, null=False, blocking=not non_blocking)
        _CREATED[self.device_id].append(self._q)
        _BY_PTR[self.ptr] = self

    def queue(self) -> Queue:
        return null_queue(current_device()) if self._q is None else self._q

    def synchronize(self) -> None:
        self.queue().run_all()

    @property
    def done(self) -> bool:
        return self.queue().pending == 0

    def query(self) -> bool:
        return self.done

    def record(self, event: Any = None) -> Event:
        event = Event() if event is None else event
        event.record(self)
        return event

    def wait_event(self, event: Event) -> None:
        if event.at is None:
            return  # an event never recorded is complete
        q, position = event.at
        self.queue().push(functools.partial(q.run_until, position))

    def use(self) -> Stream:
        dev = current_device() if self._q is None else self.device_id
        _current_streams()[dev] = self
        return self

    def __enter__(self) -> Stream:
        dev = current_device() if self._q is None else self.device_id
        streams = _current_streams()
        self._saved_entry = getattr(self, "_saved_entry", [])
        self._saved_entry.append((dev, streams.get(dev)))
        streams[dev] = self
        return self

    def __exit__(self, *exc: Any) -> None:
        dev, prev = self._saved_entry.pop()
        streams = _current_streams()
        if prev is None:
            streams.pop(dev, None)
        else:
            streams[dev] = prev

    def __repr__(self) -> str:
        return f"<fake Stream {self.ptr:#x} (device {self.device_id})>"


Stream.null = Stream(null=True)


def _current_streams() -> dict[int, Stream]:
    streams = getattr(_THREAD, "streams", None)
    if streams is None:
        streams = _THREAD.streams = {}
    return streams


def get_current_stream(device_id: int = -1) -> Stream:
    """``cupy.cuda.get_current_stream``: the stream in use on the device, else ``Stream.null``."""
    dev = current_device() if device_id < 0 else int(device_id)
    return _current_streams().get(dev, Stream.null)


def current_queue(device: int | None = None) -> Queue:
    """The queue of the current stream of ``device`` (the current device by default)."""
    dev = current_device() if device is None else device
    stream = _current_streams().get(dev)
    if stream is None or stream._q is None:
        return null_queue(dev)
    return stream._q


def queue_of_ptr(ptr: int) -> Queue:
    """The queue behind a raw stream handle (0: the current device's null stream)."""
    if ptr == 0:
        return null_queue(current_device())
    stream = _BY_PTR.get(int(ptr))
    if stream is None:
        raise RuntimeError(f"CUDARuntimeError: cudaErrorInvalidResourceHandle: stream {ptr:#x}")
    return stream.queue()


def queue_for(stream: Any, device: int | None = None) -> Queue:
    """The queue of ``stream`` (a fake Stream), or the current one of ``device`` when None."""
    if stream is None:
        return current_queue(device)
    if isinstance(stream, Stream):
        return stream.queue()
    raise TypeError(f"stream must be a cupy.cuda.Stream, got {type(stream).__name__}")


class Event:
    """``cupy.cuda.Event``: a position in a stream's queue."""

    _ids = itertools.count(1)

    def __init__(
        self, block: bool = False, disable_timing: bool = False, interprocess: bool = False
    ) -> None:
        self.ptr = next(self._ids)
        self.at: tuple[Queue, int] | None = None

    def record(self, stream: Any = None) -> None:
        q = (get_current_stream() if stream is None else stream).queue()
        touch(q.device)
        self.at = (q, q.submitted)

    def synchronize(self) -> None:
        if self.at is not None:
            q, position = self.at
            q.run_until(position)

    @property
    def done(self) -> bool:
        if self.at is None:
            return True
        q, position = self.at
        return q.executed >= position

    def query(self) -> bool:
        return self.done


# ------------------------------------------------------------------------------ device memory
def alloc(shape: Any, dtype: Any, order: str = "C") -> np.ndarray:
    """New device memory: every byte 0xFF (bool: True), as unwritten memory looks here."""
    arr = np.empty(shape, dtype=dtype, order="F" if order == "F" else "C")
    if arr.nbytes:
        flat = arr.reshape(-1, order="A")
        if arr.dtype == np.bool_:
            flat.fill(True)
        else:
            flat.view(np.uint8).fill(POISON)
    return arr


def alloc_like(arr: np.ndarray) -> np.ndarray:
    order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
    return alloc(arr.shape, arr.dtype, order)
