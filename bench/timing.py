"""Timing helpers: median wall time of a callable, with device synchronization, and the canary."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def sync_all() -> None:
    """Wait for all queued GPU work (no-op without a GPU)."""
    from mxlite import backend

    backend.synchronize(None)


def median_time(
    fn: Callable[[], Any],
    *,
    repeat: int = 5,
    warmup: int = 1,
    sync: Callable[[], None] = sync_all,
    budget_s: float = 10.0,
    settle: Callable[[], None] | None = None,
) -> float:
    """Median seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs.

    ``settle``, when given, runs untimed before each timed run (for work that ``fn`` leaves to a
    background thread and that a real caller would not repeat at once). Stops early (with at
    least one timed run) once ``budget_s`` of timed runs is spent.
    """
    for _ in range(warmup):
        fn()
    sync()
    times: list[float] = []
    spent = 0.0
    for _ in range(repeat):
        if settle is not None:
            settle()
        start = time.perf_counter()
        fn()
        sync()
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        spent += elapsed
        if spent > budget_s:
            break
    return statistics.median(times)


def gpu_canary(nbytes: int = 1 << 30, min_tbps: float = 2.7) -> tuple[bool, float]:
    """Device-to-device copy bandwidth (read + write bytes per second, in TB/s) of ``nbytes``.

    Returns (healthy, TB/s); a card under ``min_tbps`` is treated as degraded.
    """
    from mxlite import backend

    cp = backend.cupy_or_none()
    if cp is None:
        return False, 0.0
    src = cp.empty(nbytes, dtype=cp.uint8)
    dst = cp.empty_like(src)
    src.fill(1)

    def copy() -> None:
        dst[...] = src

    seconds = median_time(copy, repeat=20, warmup=3)
    tbps = 2 * nbytes / seconds / 1e12
    return tbps >= min_tbps, tbps


def host_fill_bandwidth(nbytes: int) -> float:
    """GB/s of one large NumPy fill of ``nbytes`` (the CPU's physical limit for init/zero)."""
    import numpy as np

    buf = np.empty(nbytes // 4, dtype=np.float32)

    def fill() -> None:
        buf.fill(0.0)

    seconds = median_time(fill, repeat=5, warmup=1)
    return nbytes / seconds / 1e9
