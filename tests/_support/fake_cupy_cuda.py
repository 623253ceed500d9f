"""``cupy.cuda`` of tests/_support/fake_cupy.py: devices, raw memory, the runtime, pools and RawModule.

Everything that touches device memory goes through the stream queues of
tests/_support/fake_cupy_streams.py (memsets and copies run when their stream is waited on). ``MISSING``
names CUDA pieces to pretend absent, as on a host with only the driver: ``"nvrtc"`` (every
``RawModule`` fails to compile), ``"headers"`` (a source that includes ``<cuda_fp16.h>`` fails to
compile), ``"cublas"`` (``dot``/``matmul`` fail to load cuBLAS). The messages are CuPy's.
"""

from __future__ import annotations

import ctypes
import types
from typing import Any

import numpy as np

from tests._support import fake_cupy_streams as streams

FAKE_DEVICES = 1
MISSING: set[str] = set()
# What the fake reports for every device (an H100 SXM: 2619 MHz HBM3 on a 5120-bit bus).
PROPERTIES = {
    "name": b"Fake H100 80GB HBM3",
    "totalGlobalMem": 80 << 30,
    "multiProcessorCount": 4,
    "memoryClockRate": 2619000,
    "memoryBusWidth": 5120,
    "major": 9,
    "minor": 0,
}
_ATTRIBUTES = {
    "MultiProcessorCount": 4,
    "MemoryClockRate": 2619000,
    "GlobalMemoryBusWidth": 5120,
    "SingleToDoublePrecisionPerfRatio": 2,
    "ComputeCapabilityMajor": 9,
    "ComputeCapabilityMinor": 0,
}
# cudaDeviceAttr values of the attributes above.
_ATTRIBUTE_IDS = {16: "MultiProcessorCount", 36: "MemoryClockRate", 37: "GlobalMemoryBusWidth",
                  87: "SingleToDoublePrecisionPerfRatio", 75: "ComputeCapabilityMajor",
                  76: "ComputeCapabilityMinor"}  # fmt: skip
_NO_NVRTC = (
    "CuPy failed to load libnvrtc.so.13: OSError: libnvrtc.so.13: cannot open shared object "
    "file: No such file or directory"
)
_NO_HEADER = 'catastrophic error: cannot open source file "cuda_fp16.h"'
NO_CUBLAS = (
    "CuPy failed to load libcublas.so.13: OSError: libcublas.so.13: cannot open shared object "
    "file: No such file or directory"
)


class CUDARuntimeError(RuntimeError):
    pass


class CompileException(Exception):
    """``cupy.cuda.compiler.CompileException``."""


def _check_id(device: int) -> int:
    if not 0 <= device < FAKE_DEVICES:
        raise CUDARuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {device}")
    return device


class Device:
    """``cupy.cuda.Device``: a context manager that makes a device current (thread-local)."""

    def __init__(self, device: Any = None) -> None:
        self.id = streams.current_device() if device is None else int(device)
        if not 0 <= self.id < FAKE_DEVICES:
            raise RuntimeError(f"CUDARuntimeError: cudaErrorInvalidDevice: device {self.id}")
        self.attributes = dict(_ATTRIBUTES)
        self.compute_capability = "90"
        self._saved: list[int] = []

    def __enter__(self) -> Device:
        self._saved.append(streams.current_device())
        streams.set_current_device(self.id)
        return self

    def __exit__(self, *exc: Any) -> None:
        streams.set_current_device(self._saved.pop())

    def use(self) -> None:
        streams.set_current_device(self.id)

    def synchronize(self) -> None:
        streams.synchronize_device(self.id)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("cuda", self.id))

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


def _memmove(dst: int, src: int, size: int, *keep: Any) -> None:
    ctypes.memmove(dst, src, size)


def _memset(ptr: int, value: int, size: int, *keep: Any) -> None:
    ctypes.memset(ptr, value, size)


class MemoryPointer:
    """``arr.data``: the raw address (host memory here) and the device it belongs to.

    The owning buffer is kept alive until the device's queues drain (queued work may still
    dereference the address)."""

    def __init__(self, owner: np.ndarray, device_id: int) -> None:
        self.ptr = int(owner.__array_interface__["data"][0])
        self.device_id = device_id
        self._owner = owner
        streams.keep(device_id, owner)

    def memset_async(self, value: int, size: int, stream: Any = None) -> None:
        streams.queue_for(stream).push(
            lambda: _memset(self.ptr, int(value), int(size), self._owner)
        )

    def copy_from_device_async(self, src: MemoryPointer, size: int, stream: Any = None) -> None:
        """A copy on ``stream`` (default: the current stream of the current device); like
        CUDA's, it does not wait for work queued on the source device's streams."""
        dst_ptr, src_ptr, owners = self.ptr, src.ptr, (self._owner, src._owner)
        streams.queue_for(stream).push(lambda: _memmove(dst_ptr, src_ptr, int(size), *owners))

    copy_from_async = copy_from_device_async

    def copy_from_device(self, src: MemoryPointer, size: int) -> None:
        """Synchronous copy (the legacy default stream of the current device, then the host)."""
        streams.synchronize_device(streams.current_device())
        ctypes.memmove(self.ptr, src.ptr, int(size))


def _queued_memcpy(dst: int, src: int, size: int, kind: int, stream: int = 0) -> None:
    streams.queue_of_ptr(int(stream)).push(lambda: ctypes.memmove(dst, src, size))


def _queued_memset(ptr: int, value: int, size: int, stream: int = 0) -> None:
    streams.queue_of_ptr(int(stream)).push(lambda: ctypes.memset(ptr, value, size))


def _sync_memcpy(dst: int, src: int, size: int, kind: int) -> None:
    streams.synchronize_device(streams.current_device())
    ctypes.memmove(dst, src, size)


def _properties(device: int) -> dict[str, Any]:
    _check_id(int(device))
    return dict(PROPERTIES)


def _attribute(attr: int, device: int) -> int:
    _check_id(int(device))
    name = _ATTRIBUTE_IDS.get(int(attr))
    if name is None:
        raise CUDARuntimeError(f"cudaErrorInvalidValue: attribute {attr} (not in the fake)")
    return int(_ATTRIBUTES[name])


runtime = types.SimpleNamespace(
    getDeviceCount=lambda: FAKE_DEVICES,
    getDevice=streams.current_device,
    setDevice=lambda d: Device(d).use(),
    deviceSynchronize=lambda: streams.synchronize_device(streams.current_device()),
    streamSynchronize=lambda ptr: streams.queue_of_ptr(int(ptr)).run_all(),
    memsetAsync=_queued_memset,
    memcpyAsync=_queued_memcpy,
    memcpy=_sync_memcpy,
    memGetInfo=lambda: (60 << 30, 80 << 30),
    getDeviceProperties=_properties,
    deviceGetAttribute=_attribute,
    runtimeGetVersion=lambda: 13000,
    driverGetVersion=lambda: 13000,
    CUDARuntimeError=CUDARuntimeError,
    memcpyHostToHost=0,
    memcpyHostToDevice=1,
    memcpyDeviceToHost=2,
    memcpyDeviceToDevice=3,
    memcpyDefault=4,
    is_hip=False,
)


def _nvrtc_version() -> tuple[int, int]:
    if "nvrtc" in MISSING:
        raise RuntimeError(_NO_NVRTC)
    return (13, 0)


nvrtc = types.SimpleNamespace(getVersion=_nvrtc_version)
compiler = types.SimpleNamespace(CompileException=CompileException)


class Pinned(bytearray):
    """``cupy.cuda.alloc_pinned_memory``: exports the buffer protocol and has ``ptr``."""

    @property
    def ptr(self) -> int:
        return ctypes.addressof(ctypes.c_char.from_buffer(self))


class Pool:
    def free_all_blocks(self, stream: Any = None) -> None:
        return None

    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0


POOL = Pool()


# ------------------------------------------------------------------------------------ kernels
class RawKernel:
    """A kernel of a fake RawModule: arguments checked at launch, the run queued on the stream."""

    def __init__(self, name: str, launch: Any, as_subclass: bool) -> None:
        self.name, self._launch, self._as_subclass = name, launch, as_subclass

    def __call__(self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...], *,
                 shared_mem: int = 0, stream: Any = None,
                 enable_cooperative_groups: bool = False) -> None:  # fmt: skip
        from tests._support import cuda_host_emu, fake_cupy

        fake_cupy._check_device(fake_cupy._device_of(args), f"kernel {self.name}")
        host: list[Any] = []
        for a in args:
            if isinstance(a, fake_cupy.ndarray):
                host.append(a._a.view(cuda_host_emu.FakeArray) if self._as_subclass else a._a)
            elif isinstance(a, (np.generic, bool, int, float)):
                host.append(a)
            else:
                raise TypeError(f"Unsupported type {type(a)} (kernel {self.name} argument)")
        launch, shape = self._launch, (tuple(grid), tuple(block), tuple(host))
        streams.queue_for(stream).push(lambda: launch(*shape))


_PROBE_NAME = "mxlite_probe"


def _probe_launch(grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...]) -> None:
    """The backend's probe kernel: out[i] = half(v * i) for each thread i of one block."""
    out, value = args
    i = np.arange(block[0], dtype=np.float32)
    out[: block[0]] = (np.float32(value) * i).astype(np.float16).astype(np.float32)


class RawModule:
    """``cupy.RawModule`` over the host-emulated kernels/*.cu (keyword-only, as in CuPy 14)."""

    def __init__(self, *, code: str | None = None, path: str | None = None, options: tuple = (),
                 backend: str = "nvrtc", translate_cucomplex: bool = False,
                 enable_cooperative_groups: bool = False, name_expressions: Any = None,
                 jitify: bool = False) -> None:  # fmt: skip
        if code is None:
            raise TypeError("fake RawModule needs code=")
        self.code = code
        self.options = tuple(options)
        self.name_expressions = tuple(name_expressions or ())
        self._emu: Any = None

    def _compile(self) -> None:
        """Compile on first use (as CuPy does), failing where a piece of CUDA is missing."""
        if "nvrtc" in MISSING:
            raise RuntimeError(_NO_NVRTC)
        if "headers" in MISSING and "<cuda_fp16.h>" in self.code:
            raise CompileException(f"/tmp/tmpxyz/kern.cu(1): {_NO_HEADER}\n\n1 catastrophic error")
        if self._emu is None and _PROBE_NAME not in self.code:
            from tests._support import cuda_host_emu

            self._emu = cuda_host_emu._RawModule(self.code, self.options, self.name_expressions)

    def get_function(self, name: str) -> RawKernel:
        from tests._support import cuda_emu_batch_norm, cuda_emu_multi_tensor, cuda_emu_optimizer

        self._compile()
        if name == _PROBE_NAME and _PROBE_NAME in self.code:
            return RawKernel(name, _probe_launch, False)
        if "<" in name and name not in self.name_expressions:
            raise KeyError(f"{name} is not among the RawModule's name_expressions")
        if name.startswith("multi_optimizer_step"):
            return RawKernel(name, cuda_emu_optimizer.fake_kernel(name), False)
        if name == "multi_zero_bytes" or name.startswith("multi_average<"):
            return RawKernel(name, cuda_emu_multi_tensor.launcher(name), False)
        if name.startswith("bn_"):
            return RawKernel(name, cuda_emu_batch_norm.launcher(name), False)
        return RawKernel(name, self._emu.get_function(name), True)


def make_module() -> types.ModuleType:
    """The ``cupy.cuda`` module object."""
    cuda = types.ModuleType("cupy.cuda")
    cuda.Device = Device  # type: ignore[attr-defined]
    cuda.Stream = streams.Stream  # type: ignore[attr-defined]
    cuda.Event = streams.Event  # type: ignore[attr-defined]
    cuda.MemoryPointer = MemoryPointer  # type: ignore[attr-defined]
    cuda.runtime = runtime  # type: ignore[attr-defined]
    cuda.nvrtc = nvrtc  # type: ignore[attr-defined]
    cuda.compiler = compiler  # type: ignore[attr-defined]
    cuda.get_current_stream = streams.get_current_stream  # type: ignore[attr-defined]
    cuda.alloc_pinned_memory = lambda size: Pinned(int(size))  # type: ignore[attr-defined]
    cuda.is_available = lambda: True  # type: ignore[attr-defined]
    return cuda
