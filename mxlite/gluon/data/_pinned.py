"""``pin_memory=True``: DataLoader batches on ``cpu_pinned(pin_device_id)``, as in MXNet.

Where a GPU is usable, a pinned batch is copied into page-locked host memory taken from CuPy's
pinned memory pool (``cupy.cuda.alloc_pinned_memory``; freed blocks go back to the pool and are
reused by later batches of the same size), so the following ``as_in_context(mx.gpu(i))`` is one
DMA transfer without a staging copy by the driver. Without a GPU there is nothing to pin for:
the batch is copied into ordinary host memory and only its context says ``cpu_pinned``, which
is what MXNet's ``cpu_pinned`` context means on a machine without CUDA too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import backend
from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray

__all__ = ["pinned_empty", "pin_batch"]


def pinned_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A C-contiguous host array in page-locked memory when a GPU is usable, else ordinary."""
    dt = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    cp = backend.cupy_or_none() if nbytes else None
    if cp is None:
        return np.empty(shape, dtype=dt)
    mem = cp.cuda.alloc_pinned_memory(nbytes)
    return np.frombuffer(mem, dtype=dt, count=nbytes // dt.itemsize).reshape(shape)


def _pin_array(x: NDArray, ctx: Context) -> NDArray:
    src = backend.to_numpy(x._data)
    host = pinned_empty(src.shape, src.dtype)
    host[...] = src
    return type(x)(host, ctx)


def pin_batch(batch: Any, device_id: int) -> Any:
    """``batch`` with every NDArray copied to ``cpu_pinned(device_id)`` (tuples become lists,
    as MXNet's ``_as_in_context`` makes them; other values are left as they are)."""
    ctx = Context("cpu_pinned", device_id)
    if isinstance(batch, NDArray):
        return _pin_array(batch, ctx)
    if isinstance(batch, (list, tuple)):
        return [pin_batch(item, device_id) for item in batch]
    return batch
