"""Launching a Numba twin of the layer kernels under the thread policy.

``run(module, name, work, *args)`` calls ``module.<name>`` (its ``prange`` variant) when the
problem has at least :data:`SERIAL_BELOW` elements and :func:`mxlite._threads.numba_threads`
gives two threads or more, else ``module.<name>_serial``. Parallel launches are serialized across
the process's threads: Numba's workqueue threading layer aborts the process when two threads
launch at once, and SyncBatchNorm runs one thread per context. (The same contract as
``mxlite._threads.launch`` of later mxlite versions, which this module can defer to.)
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

from mxlite import _threads

__all__ = ["run", "SERIAL_BELOW"]

SERIAL_BELOW = 1 << 15  # elements: smaller problems skip the thread pool
_LAUNCH_LOCK = threading.Lock()


def run(module: ModuleType, name: str, work: int, *args: Any) -> Any:
    """``module.<name>(*args)`` on the policy's threads, or its ``_serial`` twin."""
    if work < SERIAL_BELOW or _threads.numba_threads() < 2:
        return getattr(module, name + "_serial")(*args)
    with _LAUNCH_LOCK:
        return getattr(module, name)(*args)
