"""Device contexts: ``Context(device_type, device_id)``, ``cpu(i)``, ``gpu(i)`` and the ``with ctx:`` stack.

A Context is a small hashable value; it does not touch any device. Whether a GPU context can hold
data is decided in :mod:`mxlite.backend` when data is first placed there.
"""

from __future__ import annotations

import threading
from typing import Any

from mxlite.base import MXNetError

__all__ = [
    "Context",
    "cpu",
    "gpu",
    "cpu_pinned",
    "current_context",
    "num_gpus",
    "gpu_memory_info",
]

_DEVTYPE2STR = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}
_DEVSTR2TYPE = {name: typeid for typeid, name in _DEVTYPE2STR.items()}
GPU_TYPEID = 2  # device_typeid of a GPU context (MXNet's numbering)


class _ContextState(threading.local):
    """Per thread: the default context (None: cpu(0)) and the defaults saved by ``with ctx:``."""

    def __init__(self) -> None:
        self.default: Context | None = None
        self.saved: list[Context | None] = []


_STATE = _ContextState()


class UnknownDeviceTypeError(KeyError, ValueError):
    """``Context('tpu')``: MXNet raises KeyError here; the ValueError base keeps older callers."""


class _ContextMeta(type):
    """Gives ``Context.default_ctx`` MXNet's behaviour: a per-thread value that ``with ctx:``
    sets and restores, readable and assignable on the class."""

    @property
    def default_ctx(cls) -> Context:
        return _STATE.default if _STATE.default is not None else Context("cpu", 0)

    @default_ctx.setter
    def default_ctx(cls, value: Context) -> None:
        _STATE.default = value


class Context(metaclass=_ContextMeta):
    """A device and its index, as in MXNet: ``Context('gpu', 0)`` or ``Context(mx.cpu(1))``.

    Args:
        device_type: ``'cpu'``, ``'gpu'``, ``'cpu_pinned'``, ``'cpu_shared'``, or a Context to copy.
        device_id: index of the device of that type.
    """

    devtype2str = _DEVTYPE2STR
    devstr2type = _DEVSTR2TYPE
    __slots__ = ("device_typeid", "device_id", "_old_ctx")

    def __init__(self, device_type: Any, device_id: int = 0) -> None:
        if isinstance(device_type, Context):
            self.device_typeid: int = device_type.device_typeid
            self.device_id: int = device_type.device_id
        else:
            if device_type not in _DEVSTR2TYPE:
                raise UnknownDeviceTypeError(
                    f"Unknown device type {device_type!r}; expected one of {sorted(_DEVSTR2TYPE)}."
                )
            self.device_typeid = _DEVSTR2TYPE[device_type]
            self.device_id = int(device_id)
        self._old_ctx: Context | None = None

    @property
    def is_gpu(self) -> bool:
        """Whether this is a GPU context (its arrays live in device memory, CuPy's)."""
        return self.device_typeid == GPU_TYPEID

    @property
    def device_type(self) -> str:
        """Name of the device type: ``'cpu'``, ``'gpu'``, ``'cpu_pinned'`` or ``'cpu_shared'``."""
        return _DEVTYPE2STR[self.device_typeid]

    def __hash__(self) -> int:
        return hash((self.device_typeid, self.device_id))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Context)
            and self.device_typeid == other.device_typeid
            and self.device_id == other.device_id
        )

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __str__(self) -> str:
        return f"{self.device_type}({self.device_id})"

    def __repr__(self) -> str:
        return self.__str__()

    def __enter__(self) -> Context:
        self._old_ctx = current_context()
        _STATE.saved.append(_STATE.default)
        _STATE.default = self
        return self

    def __exit__(self, *exc: object) -> None:
        _STATE.default = _STATE.saved.pop()

    def empty_cache(self) -> None:
        """Release the cached device memory of a GPU context (no-op on CPU)."""
        if self.is_gpu:
            from mxlite import backend

            backend.empty_cache(self)


def cpu(device_id: int = 0) -> Context:
    """CPU context. ``device_id`` only tells replicas apart; every CPU context uses host memory."""
    return Context("cpu", device_id)


def cpu_pinned(device_id: int = 0) -> Context:
    """Page-locked host memory context (used for fast GPU transfers)."""
    return Context("cpu_pinned", device_id)


def gpu(device_id: int = 0) -> Context:
    """GPU context. Creating it is always allowed; placing data there needs a usable GPU."""
    return Context("gpu", device_id)


def current_context() -> Context:
    """This thread's ``Context.default_ctx``: the innermost ``with ctx:`` context, else the value
    assigned to ``Context.default_ctx`` in this thread, else ``cpu(0)``."""
    return Context.default_ctx


def num_gpus() -> int:
    """Number of usable GPUs; 0 when CuPy is missing or any CUDA runtime error occurs."""
    from mxlite import backend

    return backend.gpu_count()


def gpu_memory_info(device_id: int = 0) -> tuple[int, int]:
    """``(free, total)`` bytes of GPU ``device_id``.

    Raises:
        MXNetError: when that GPU is not usable.
    """
    from mxlite import backend

    if device_id < 0 or device_id >= backend.gpu_count():
        raise MXNetError(
            f"gpu_memory_info: gpu({device_id}) is not available "
            f"({backend.gpu_count()} usable GPU(s) found). {backend.gpu_remedy()}"
        )
    return backend.gpu_memory_info(device_id)
