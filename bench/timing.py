"""Timing helpers: median wall time of a callable, with device synchronization, and the canary."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
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


# A healthy card copies device to device at 80-92% of its theoretical bandwidth (an H100 SXM about
# 3.0 of 3.35 TB/s, an H100 PCIe about 1.7 of 2.0); under this fraction it is degraded (clocks
# held down, a neighbour saturating memory, ECC retirement) and its timings are not believed.
CANARY_MIN_FRACTION = 0.7


def peak_bandwidth(device: int = 0) -> float:
    """Theoretical memory bandwidth of GPU ``device`` in bytes/s: memory clock x 2 (double data
    rate) x bus width / 8, from its device properties (as CUDA's deviceQuery computes it); 0
    without a GPU or when the properties do not say."""
    from mxlite import backend

    cp = backend.cupy_or_none()
    if cp is None:
        return 0.0
    props = cp.cuda.runtime.getDeviceProperties(device)
    clock_khz, bus_bits = props.get("memoryClockRate"), props.get("memoryBusWidth")
    if not clock_khz or not bus_bits:  # CUDA 13 dropped the fields from cudaDeviceProp
        attrs = cp.cuda.Device(device).attributes
        clock_khz = attrs.get("MemoryClockRate", 0)
        bus_bits = attrs.get("GlobalMemoryBusWidth", 0)
    return float(clock_khz) * 1e3 * 2 * float(bus_bits) / 8


@dataclass(frozen=True)
class Canary:
    """A device-to-device copy of ``nbytes`` against the card's own peak."""

    tbps: float  # read + write bytes per second, in TB/s
    peak_tbps: float  # theoretical (0: unknown)
    nbytes: int

    @property
    def fraction(self) -> float:
        return self.tbps / self.peak_tbps if self.peak_tbps else 0.0

    @property
    def healthy(self) -> bool:
        """At least :data:`CANARY_MIN_FRACTION` of the peak (any speed when the peak is unknown)."""
        return self.tbps > 0 and (not self.peak_tbps or self.fraction >= CANARY_MIN_FRACTION)

    def describe(self) -> str:
        size = f"{self.nbytes / 2**30:g} GiB" if self.nbytes >= 2**30 else f"{self.nbytes} B"
        if not self.peak_tbps:
            return f"{size} device copy {self.tbps:.2f} TB/s (peak unknown)"
        verdict = "ok" if self.healthy else "DEGRADED card"
        return (
            f"{size} device copy {self.tbps:.2f} TB/s = {100 * self.fraction:.0f}% of this card's "
            f"peak {self.peak_tbps:.2f} TB/s ({verdict}; under "
            f"{100 * CANARY_MIN_FRACTION:.0f}% counts as degraded)"
        )


def gpu_canary(nbytes: int = 1 << 30, device: int = 0, repeat: int = 20) -> Canary:
    """Copy ``nbytes`` from one buffer to another on GPU ``device`` (median of ``repeat``) and
    compare the bandwidth (bytes read + written per second) with the card's theoretical peak."""
    from mxlite import backend

    cp = backend.cupy_or_none()
    if cp is None:
        return Canary(0.0, 0.0, nbytes)
    with cp.cuda.Device(device):
        src = cp.empty(nbytes, dtype=cp.uint8)
        dst = cp.empty_like(src)
        src.fill(1)

        def copy() -> None:
            cp.copyto(dst, src)

        seconds = median_time(copy, repeat=repeat, warmup=3)
    return Canary(2 * nbytes / seconds / 1e12, peak_bandwidth(device) / 1e12, nbytes)


def host_fill_bandwidth(nbytes: int) -> float:
    """GB/s of one large NumPy fill of ``nbytes`` (the CPU's physical limit for init/zero)."""
    import numpy as np

    buf = np.empty(nbytes // 4, dtype=np.float32)

    def fill() -> None:
        buf.fill(0.0)

    seconds = median_time(fill, repeat=5, warmup=1)
    return nbytes / seconds / 1e9
