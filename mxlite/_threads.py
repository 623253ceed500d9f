"""One thread policy for the process: how many threads mxlite's host work may use.

mxlite's heavy host work runs in two thread pools: the BLAS behind NumPy (matrix products) and
Numba (the fused fill, zero, average and optimizer kernels). Both split their work statically
and wait for their slowest thread, and OpenBLAS's threads spin while they wait. On a machine
whose cores are all busy that is a disaster: a product that takes 1.6 ms on two free cores took
16-40 ms when another process kept one of the two cores busy. The policy:

- **One number for every pool**: :func:`host_threads` is the number of threads a product or a
  kernel may use now. BLAS is limited to it (through ``threadpoolctl``) and Numba kernels run
  with it (serial variants when it is 1). mxlite starts no other compute threads.
- **Cores others use are not ours**: by default (Linux, no explicit setting) the number follows
  the cores the *other* processes left free, sampled from ``/proc/stat`` at most every
  :data:`SAMPLE_SECONDS` (our own CPU time is subtracted, so our threads never count against
  us). With another process busy on one of two cores, host work runs on one thread.
- **No spinning between the pools**: Numba's threading layer is ``workqueue`` (threads sleep
  when idle) unless ``NUMBA_THREADING_LAYER`` says otherwise; the OpenMP layer's spin-waiting
  threads took the cores that the BLAS needed right after each kernel. That layer cannot run
  parallel kernels from two threads at once (it aborts the process), so every parallel launch of
  mxlite goes through :func:`launch`, which serializes them; a program that runs its own parallel
  Numba code from several threads should pick ``NUMBA_THREADING_LAYER=omp`` (or ``tbb``).
- **The user wins**: ``mx.util.set_num_threads(n)`` fixes the number (no sampling);
  ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` (or ``BLIS``/``GOTO``/
  ``VECLIB_MAXIMUM_THREADS``) leave the BLAS pool alone, ``NUMBA_NUM_THREADS`` caps Numba's, and
  ``MXLITE_ADAPTIVE_THREADS=0`` turns the sampling off (all usable cores).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

__all__ = [
    "host_threads",
    "numba_threads",
    "launch",
    "PARALLEL_MIN_ELEMENTS",
    "set_num_threads",
    "get_num_threads",
    "policy",
    "SAMPLE_SECONDS",
    "BLAS_ENV_VARS",
]

SAMPLE_SECONDS = 0.5
_FIRST_SAMPLE_SECONDS = 0.05
BLAS_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
# A core counts as ours when others leave at least this much of it free: a core shared with a
# busy process makes every statically split product wait for its slowest thread.
_FREE_CORE_THRESHOLD = 0.8

_MSG_BAD_COUNT = (
    "set_num_threads: expected a positive int or None (None restores the automatic policy), "
    "got {value!r}."
)


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _read_proc_stat() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs since boot, or None where /proc/stat is missing."""
    try:
        with open("/proc/stat", "rb") as f:
            line = f.readline()
    except OSError:
        return None
    fields = line.split()
    if not fields or fields[0] != b"cpu" or len(fields) < 5:
        return None
    ticks = [int(x) for x in fields[1:9]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def _own_ticks(hz: float) -> float:
    t = os.times()
    return (t.user + t.system) * hz


class _Policy:
    """The process's policy state (one instance, :data:`_POLICY`)."""

    def __init__(self) -> None:
        self.cores = _usable_cores()
        self.lock = threading.Lock()
        self.fixed: int | None = None  # set_num_threads()
        self.blas_env = any(os.environ.get(v) for v in BLAS_ENV_VARS)
        self.numba_env = bool(os.environ.get("NUMBA_NUM_THREADS"))
        self.adaptive = os.environ.get("MXLITE_ADAPTIVE_THREADS", "1") != "0"
        self.current = self.cores
        self.blas_set: int | None = None  # what the BLAS pool was last limited to
        self.blas_libs: list[Any] | None = None
        self.modules_seen = 0  # len(sys.modules) when the BLAS libraries were last listed
        self.tls = threading.local()  # .numba: this thread's Numba count (Numba's is per thread)
        self.next_sample = 0.0
        self.hz = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self.last: tuple[float, int, int, float] | None = None  # (time, busy, total, own)
        self.others = 0.0  # cores the other processes kept busy in the last interval

    # ---------------------------------------------------------------- sampling
    def sample(self, now: float) -> None:
        """Re-estimate the cores the other processes leave free (at most every interval)."""
        self.next_sample = now + SAMPLE_SECONDS
        stat = _read_proc_stat()
        if stat is None:
            self.adaptive = False
            self.current = self.cores
            return
        busy, total = stat
        own = _own_ticks(self.hz)
        last, self.last = self.last, (now, busy, total, own)
        if last is None or total <= last[2]:
            return
        n_cpus = max(1, os.cpu_count() or 1)
        wall_ticks = (total - last[2]) / n_cpus
        others = max(0.0, (busy - last[1]) - (own - last[3])) / wall_ticks
        self.others = others
        free = self.cores - others
        self.current = max(1, min(self.cores, int(free + (1.0 - _FREE_CORE_THRESHOLD))))

    def threads(self) -> int:
        if self.fixed is not None:
            return self.fixed
        if self.adaptive:
            now = time.monotonic()
            if now >= self.next_sample:
                with self.lock:
                    if now >= self.next_sample:
                        self.sample(now)
        return self.current

    # ---------------------------------------------------------------- the pools
    def limit_blas(self, n: int) -> None:
        if self.blas_env:
            self.blas_set, self.modules_seen = n, len(sys.modules)
            return
        if self.blas_libs is None or self.modules_seen != len(sys.modules):
            # New imports may have loaded another BLAS (Numba's first compile loads SciPy's).
            try:
                from threadpoolctl import ThreadpoolController  # noqa: PLC0415
            except ImportError:
                self.blas_libs = []
            else:
                self.blas_libs = ThreadpoolController().select(user_api="blas").lib_controllers
            self.modules_seen = len(sys.modules)
        for lib in self.blas_libs:
            lib.set_num_threads(n)
        self.blas_set = n

    def limit_numba(self, n: int) -> int:
        """Set Numba's thread count for this thread's launches; returns what it runs with."""
        import numba  # noqa: PLC0415 - only callers about to launch a Numba kernel get here

        configure_numba()  # set_num_threads starts the pool: pick its layer first
        n = min(n, int(numba.config.NUMBA_NUM_THREADS))
        if int(numba.get_num_threads()) != n:
            numba.set_num_threads(n)
        self.tls.numba = n
        return n


_POLICY = _Policy()
if _POLICY.adaptive:
    # The baseline sample: the first decision comes soon after import, not one interval later.
    _POLICY.sample(time.monotonic())
    _POLICY.next_sample = time.monotonic() + _FIRST_SAMPLE_SECONDS


def host_threads() -> int:
    """The number of threads host work may use now (BLAS limited to it as a side effect).

    Call it right before a large matrix product or a parallel Numba kernel: it costs a clock
    read, and a ``/proc/stat`` read at most every :data:`SAMPLE_SECONDS`.
    """
    n = _POLICY.threads()
    if _POLICY.blas_set != n or _POLICY.modules_seen != len(sys.modules):
        _POLICY.limit_blas(n)
    return n


def numba_threads() -> int:
    """:func:`host_threads`, applied to Numba's pool for a parallel launch from this thread;
    returns the count the kernel will run with (1: use the serial variant)."""
    n = host_threads()
    if getattr(_POLICY.tls, "numba", None) == n:
        return n
    return _POLICY.limit_numba(n)


# Numba's workqueue layer aborts the process when two threads run parallel kernels at once
# ("nested parallel kernel launch"): every parallel launch of mxlite holds this lock.
_LAUNCH_LOCK = threading.Lock()
# Elements below which an elementwise-sized kernel (the layer kernels of mxlite.ops) runs its
# serial variant: waking the pool costs more than the threads save.
PARALLEL_MIN_ELEMENTS = 1 << 15


def launch(
    parallel: Any,
    *args: Any,
    serial: Any = None,
    big_enough: bool = True,
    min_threads: int = 2,
) -> Any:
    """Run a Numba kernel under the policy: ``parallel(*args)`` on :func:`numba_threads` threads,
    or ``serial(*args)`` (when given) if the work is not ``big_enough`` or the policy gives fewer
    than ``min_threads``. Parallel launches are serialized across the process's threads (see
    ``_LAUNCH_LOCK``); a kernel without a serial variant runs in parallel with one thread then.
    """
    if serial is not None and (not big_enough or numba_threads() < min_threads):
        return serial(*args)
    if serial is None:
        numba_threads()  # apply the count (1 included) before the launch
    with _LAUNCH_LOCK:
        return parallel(*args)


def set_num_threads(n: int | None) -> None:
    """Fix the number of threads mxlite's host work uses (BLAS products and Numba kernels);
    ``None`` restores the automatic policy (the cores other processes leave free).

    An explicit ``*_NUM_THREADS`` environment variable still wins for its pool: the BLAS keeps
    the count the environment gave it, and Numba never exceeds ``NUMBA_NUM_THREADS``.

    Raises:
        ValueError: ``n`` is not a positive int or None.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(_MSG_BAD_COUNT.format(value=n))
    with _POLICY.lock:
        _POLICY.fixed = n
        _POLICY.next_sample = 0.0
        if n is None:
            _POLICY.current = _POLICY.cores


def get_num_threads() -> int:
    """The number of threads mxlite's host work uses now (see :func:`set_num_threads`)."""
    return _POLICY.threads()


def policy() -> dict[str, Any]:
    """What the policy decided and why (for logs and bug reports)."""
    n = _POLICY.threads()
    numba_cap = os.environ.get("NUMBA_NUM_THREADS")
    return {
        "threads": n,
        "usable_cores": _POLICY.cores,
        "mode": "fixed"
        if _POLICY.fixed is not None
        else ("adaptive" if _POLICY.adaptive else "all cores"),
        "other_processes_cores": round(_POLICY.others, 2),
        "blas": "left to the environment" if _POLICY.blas_env else f"limited to {n}",
        "numba_cap": int(numba_cap) if numba_cap else None,
        "numba_threading_layer": os.environ.get("NUMBA_THREADING_LAYER", "workqueue"),
    }


def configure_numba() -> None:
    """Pick Numba's threading layer before its first parallel launch (``workqueue``: idle threads
    sleep instead of spinning) unless the user chose one. Called when mxlite imports Numba."""
    if os.environ.get("NUMBA_THREADING_LAYER"):
        return
    import numba  # noqa: PLC0415

    if numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "workqueue"
