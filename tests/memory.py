"""Peak Python and NumPy memory of a call (``tracemalloc``), for tests that bound memory by a
file's size."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any


def peak_bytes(fn: Callable[[], Any], allowed: tuple[type[BaseException], ...] = ()) -> int:
    """Run ``fn`` and return the peak of memory allocated meanwhile (NumPy arrays included);
    exceptions of the ``allowed`` types are swallowed, any other propagates."""
    gc.collect()
    tracemalloc.start()
    try:
        try:
            result = fn()
        except allowed:
            result = None
        peak = tracemalloc.get_traced_memory()[1]
        del result
        return peak
    finally:
        tracemalloc.stop()
