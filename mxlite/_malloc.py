"""Host memory policy: freed array buffers stay with the process for the next step to reuse.

A training step allocates and frees the same buffers every step (activations, gradients,
temporaries of a few hundred KB to a few MB). With glibc's defaults, ``free`` gives such blocks
back to the kernel (``munmap``, or trimming the top of the heap past 128 KB) and the next step's
``malloc`` gets fresh pages that fault in one by one: an MLP step of 784-512-512-10 at batch 256
took 1,300 page faults (about 2.5 ms of a 15 ms step on this VM). Two ``mallopt`` settings keep
blocks below :data:`MMAP_THRESHOLD` on the heap and the heap's free top below
:data:`TRIM_THRESHOLD` mapped: the same step then takes under 100 faults.

The cost is that up to :data:`TRIM_THRESHOLD` of freed memory stays in the process instead of
going back to the operating system (what caching allocators do by design). It applies to the
whole process, on glibc only, once at ``import mxlite``. ``MXLITE_MALLOC_TUNING=0`` turns it off,
and a process started with glibc's own ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` or a
``glibc.malloc`` tunable keeps its settings.
"""

from __future__ import annotations

import os
import sys

__all__ = ["apply", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "applied"]

MMAP_THRESHOLD = 32 << 20  # glibc's own ceiling for its adaptive threshold
TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_state = {"applied": False}


def applied() -> bool:
    """Whether this process runs with the tuned thresholds."""
    return _state["applied"]


def apply() -> bool:
    """Set the thresholds (once; glibc on Linux only). Returns whether they are in effect."""
    if _state["applied"]:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("MXLITE_MALLOC_TUNING") == "0":
        return False
    if any(os.environ.get(v) for v in _USER_SETTINGS):
        return False
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    import ctypes  # noqa: PLC0415 - NumPy has imported it already

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; the mmap threshold first (it also stops glibc's adaptation).
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _state["applied"] = ok
    return ok
