"""The one place that branches on device type: array modules, device guards, copies, GPU detection.

``import cupy`` happens lazily here (and in :mod:`mxlite.ops._cuda`), so ``import mxlite`` works on a
machine with no GPU and no CuPy. Any CUDA runtime error during detection (no driver, a driver too
old, no device) counts as "no GPU".
"""

from __future__ import annotations

import contextlib
import functools
from types import ModuleType
from typing import Any

import numpy as np

from mxlite.base import MXLiteGPUError
from mxlite.context import Context

__all__ = [
    "get_xp",
    "xp_of",
    "is_gpu_array",
    "cupy_or_none",
    "gpu_count",
    "gpu_remedy",
    "check_ctx_usable",
    "device_guard",
    "array_device_guard",
    "to_ctx",
    "copy_between_devices",
    "copy_into",
    "to_numpy",
    "synchronize",
    "gpu_memory_info",
    "empty_cache",
]

_GPU_REMEDY = (
    "Install the CUDA extra that matches your driver (pip install 'mxlite[cuda12]' or "
    "'mxlite[cuda13]': CuPy with its [ctk] extra, which brings NVRTC, the CUDA headers and cuBLAS "
    "as wheels) on a machine with an NVIDIA GPU, or use mx.cpu() instead."
)


@functools.lru_cache(maxsize=1)
def _probe_cupy() -> tuple[ModuleType | None, int, str]:
    """Import CuPy, count devices, and compile and launch a test kernel once (see
    :mod:`mxlite._gpu_probe`); returns (cupy or None, device count, why not usable)."""
    try:
        import cupy  # noqa: PLC0415 - lazy by design
    except Exception as err:  # ImportError, or a broken CUDA install raising at import
        return None, 0, f"CuPy could not be imported ({type(err).__name__}: {err})"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as err:  # CUDARuntimeError: no driver, insufficient driver, no device
        return None, 0, f"the CUDA runtime reported no usable GPU ({type(err).__name__}: {err})"
    if count == 0:
        return None, 0, "the CUDA runtime found no GPU"
    from mxlite import _gpu_probe  # noqa: PLC0415 - only where CuPy found a GPU

    why = _gpu_probe.problem(cupy)
    if why:
        return None, 0, f"CuPy found {count} GPU(s), but {why}"
    return cupy, count, ""


def cupy_or_none() -> ModuleType | None:
    """CuPy when at least one GPU is usable, else None."""
    return _probe_cupy()[0]


def gpu_count() -> int:
    """Number of usable GPUs (0 without CuPy or on any CUDA runtime error)."""
    return _probe_cupy()[1]


def gpu_remedy() -> str:
    """Why no GPU is usable (if so) and what to do about it."""
    why = _probe_cupy()[2]
    return f"{why}. {_GPU_REMEDY}" if why else _GPU_REMEDY


def check_ctx_usable(ctx: Context) -> None:
    """Raise MXLiteGPUError when ``ctx`` is a GPU context that cannot hold data here."""
    if ctx.device_typeid != 2:
        return
    count = gpu_count()
    if ctx.device_id < count:
        return
    if count == 0:
        raise MXLiteGPUError(f"Cannot place data on {ctx}: no usable GPU. {gpu_remedy()}")
    raise MXLiteGPUError(
        f"Cannot place data on {ctx}: only {count} GPU(s) are usable "
        f"(gpu(0) .. gpu({count - 1})). Use one of those, or mx.cpu()."
    )


# GPUs that mxlite placed data on or ran work on (synchronize(None) waits for these only).
_USED_GPUS: set[int] = set()


def get_xp(ctx: Context) -> ModuleType:
    """The array module for ``ctx``: numpy for CPU contexts, cupy for a usable GPU context."""
    if ctx.device_typeid != 2:
        return np
    check_ctx_usable(ctx)
    _USED_GPUS.add(ctx.device_id)
    cp = cupy_or_none()
    if cp is None:  # pragma: no cover - check_ctx_usable already raised
        raise MXLiteGPUError(gpu_remedy())
    return cp


def is_gpu_array(arr: Any) -> bool:
    """True for a CuPy ndarray (checked without importing CuPy)."""
    kind = type(arr)
    return kind is not np.ndarray and kind.__module__.startswith("cupy")


def xp_of(arr: Any) -> ModuleType:
    """The array module an existing raw array belongs to."""
    if type(arr) is np.ndarray:
        return np
    if is_gpu_array(arr):
        cp = cupy_or_none()
        if cp is not None:
            return cp
    return np


@contextlib.contextmanager
def device_guard(ctx: Context) -> Any:
    """Make ``ctx`` the current CUDA device inside the block (no-op for CPU contexts)."""
    if ctx.device_typeid != 2:
        yield
        return
    cp = get_xp(ctx)
    with cp.cuda.Device(ctx.device_id):
        yield


_NO_GUARD = contextlib.nullcontext()


def array_device_guard(arr: Any) -> contextlib.AbstractContextManager[Any]:
    """A context manager that makes the GPU holding raw array ``arr`` current while it is open.

    CuPy allocates results, and launches kernels, on the *current* device, so an op on arrays of
    gpu(1) must run inside this guard (else CuPy reads them through peer access and puts the result
    on gpu(0), or raises). For a host array, or any other object, a shared no-op guard is returned
    after one type check; for a GPU array its ``cupy.cuda.Device``, whose ``__enter__`` only
    switches devices when another one is current (nesting is cheap).
    """
    if type(arr) is np.ndarray or not is_gpu_array(arr):
        return _NO_GUARD
    return arr.device  # type: ignore[no-any-return]


def to_ctx(arr: Any, ctx: Context, copy: bool = False) -> Any:
    """Place raw array ``arr`` on ``ctx``; returns it unchanged when already there and not ``copy``.

    GPU to GPU copies go through :func:`copy_between_devices` (ordered with both devices'
    streams); GPU to CPU copies go through ``.get()`` (which waits for the array's device).
    """
    if ctx.device_typeid == 2:
        cp = get_xp(ctx)
        if is_gpu_array(arr):
            if arr.device.id != ctx.device_id:
                return copy_between_devices(arr, ctx.device_id)
            if not copy:
                return arr
        with cp.cuda.Device(ctx.device_id):
            return cp.array(arr, copy=True)
    if is_gpu_array(arr):
        return arr.get()
    return np.array(arr, copy=True) if copy else np.asarray(arr)


def copy_between_devices(src: Any, device_id: int, out: Any = None) -> Any:
    """Copy CuPy array ``src`` to GPU ``device_id``, ordered with both devices' streams.

    CuPy queues a peer copy on one device's stream and, on NVIDIA GPUs, does not wait for the
    other device. Here:

    1. an event recorded on the source device's current stream makes the copy wait for the work
       already queued there (the kernels still writing ``src``);
    2. the copy runs on the destination's current stream, so work queued there afterwards sees
       the data;
    3. the source's stream waits for an event recorded after the copy, so nothing queued on the
       source device later (a write to ``src``, or a kernel writing memory that the pool hands
       out again once a temporary is freed) runs before the copy has read it.

    Every copy between two GPUs in mxlite goes through here (:func:`to_ctx`,
    :func:`copy_into`). Arrays on the same device are copied on its stream.

    Args:
        src: a CuPy array (any layout; made contiguous on its own device first).
        device_id: the destination GPU.
        out: an array on ``device_id`` to write into (same shape; C-contiguous and of ``src``'s
            dtype for a direct copy, else the copy lands in a temporary and is cast there);
            None for a new C-contiguous array.

    Returns:
        ``out``, or the new array.

    Raises:
        ValueError: ``out`` has another shape than ``src``, or lives on another device.
    """
    cp = xp_of(src)
    if out is not None and (tuple(out.shape) != tuple(src.shape) or out.device.id != device_id):
        raise ValueError(
            f"copy_between_devices: cannot copy an array of shape {tuple(src.shape)} into one of "
            f"shape {tuple(out.shape)} on gpu({out.device.id}) (destination gpu({device_id})); "
            "pass an output of the same shape on the destination device, or none."
        )
    _USED_GPUS.add(device_id)
    src_id = int(src.device.id)
    if src_id == device_id:
        with cp.cuda.Device(device_id):
            if out is None:
                return cp.array(src, copy=True)
            out[...] = src
            return out
    with cp.cuda.Device(src_id):
        src_stream = cp.cuda.get_current_stream()
        flat = src if src.flags.c_contiguous else cp.ascontiguousarray(src)
        ready = cp.cuda.Event(disable_timing=True)
        ready.record(src_stream)
    with cp.cuda.Device(device_id):
        stream = cp.cuda.get_current_stream()
        stream.wait_event(ready)
        direct = out is not None and out.flags.c_contiguous and out.dtype == src.dtype
        dst = out if direct else cp.empty(src.shape, dtype=src.dtype)
        dst.data.copy_from_device_async(flat.data, flat.nbytes, stream)
        done = cp.cuda.Event(disable_timing=True)
        done.record(stream)
        if out is not None and not direct:
            out[...] = dst
    with cp.cuda.Device(src_id):  # Stream.null means the null stream of the current device
        src_stream.wait_event(done)
    return out if out is not None else dst


def copy_into(dst: Any, src: Any) -> Any:
    """``dst[...] = src`` for raw arrays on any devices (host or GPU), cast to ``dst``'s dtype;
    returns ``dst``. Copies between two GPUs go through :func:`copy_between_devices`."""
    if is_gpu_array(dst):
        with array_device_guard(dst):
            if is_gpu_array(src) and src.device.id != dst.device.id:
                return copy_between_devices(src, int(dst.device.id), out=dst)
            if is_gpu_array(src) or np.ndim(src) == 0:
                dst[...] = src
            else:
                dst[...] = xp_of(dst).asarray(src, dtype=dst.dtype)
        return dst
    np.copyto(dst, to_numpy(src), casting="unsafe")
    return dst


def to_numpy(arr: Any) -> np.ndarray:
    """A NumPy array with the values of ``arr`` (a copy for GPU arrays, the array itself on CPU)."""
    if is_gpu_array(arr):
        return arr.get()
    return np.asarray(arr)


def synchronize(ctx: Context | None = None) -> None:
    """Wait for all queued work on ``ctx`` (when None: on every GPU mxlite has used, without
    creating a CUDA context on the others); CPU work is always finished."""
    if ctx is None and not _USED_GPUS:
        return
    cp = cupy_or_none()
    if cp is None:
        return
    if ctx is None:
        for dev in sorted(_USED_GPUS):
            with cp.cuda.Device(dev):
                cp.cuda.Stream.null.synchronize()
                cp.cuda.get_current_stream().synchronize()
    elif ctx.device_typeid == 2:
        with cp.cuda.Device(ctx.device_id):
            cp.cuda.get_current_stream().synchronize()


def gpu_memory_info(device_id: int) -> tuple[int, int]:
    """``(free, total)`` bytes of a usable GPU."""
    cp = get_xp(Context("gpu", device_id))
    with cp.cuda.Device(device_id):
        free, total = cp.cuda.runtime.memGetInfo()
    return int(free), int(total)


def empty_cache(ctx: Context) -> None:
    """Free CuPy's cached blocks on ``ctx``."""
    cp = cupy_or_none()
    if cp is not None and ctx.device_typeid == 2:
        with cp.cuda.Device(ctx.device_id):
            cp.get_default_memory_pool().free_all_blocks()
