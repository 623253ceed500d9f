"""Reusable host buffers for large temporaries (column matrices, Winograd tiles, products).

A convolution's temporaries are tens to hundreds of MB. glibc maps allocations above 32 MB
afresh each time (``mmap``), and the kernel zeroes every new page: for ResNet-18 at 224x224
that was about a third of a convolution's time. :func:`empty` hands out one buffer per
(thread, tag), grown as needed and kept for the next call, as MXNet keeps its workspace.

Rules for callers: a tagged buffer is a temporary that is dead before the caller returns (never
an op's output, never kept in an autograd node), and two live temporaries never share a tag.
Device arrays and small requests get ordinary allocations.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

__all__ = ["empty", "release", "MIN_BYTES"]

MIN_BYTES = 1 << 20  # smaller temporaries come from malloc's own free lists


class _Buffers(threading.local):
    def __init__(self) -> None:
        self.by_tag: dict[str, np.ndarray] = {}


_BUFFERS = _Buffers()


def empty(tag: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialized host array of ``shape`` and ``dtype`` backed by the buffer of ``tag``
    (in this thread); its contents are undefined and it is valid until the next request of
    ``tag``."""
    dt = np.dtype(dtype)
    nbytes = math.prod(shape) * dt.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype=dt)
    buf = _BUFFERS.by_tag.get(tag)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(nbytes, dtype=np.uint8)
        _BUFFERS.by_tag[tag] = buf
    return buf[:nbytes].view(dt).reshape(shape)


def release() -> None:
    """Drop this thread's buffers (their memory goes back once nothing else uses it)."""
    _BUFFERS.by_tag.clear()
