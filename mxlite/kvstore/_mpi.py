"""MPI for the distributed stores: the workers, the few collectives they need, and the fault policy.

Processes come from an MPI launcher (``mpiexec -n 4 python train.py``) and talk through mpi4py,
imported here on first use only (``import mxlite`` never imports it). Each store works on its own
duplicate of ``MPI.COMM_WORLD`` (:class:`World`), so its collectives never mix with a script's own
MPI traffic. The stores move data with MPI only (``Alltoallv``, ``Allgather``, ``Bcast`` of raw
bytes); every sum is computed by mxlite itself, in a fixed order (see
:mod:`mxlite.kvstore._fused`).

Faults end the whole job instead of hanging it:

* every collective runs under a watchdog: when one lasts longer than ``MXLITE_DIST_TIMEOUT``
  seconds (default 30; 0 waits forever), the worker prints what it waited for and calls
  ``MPI_Abort``, which makes the launcher end every worker with a non-zero status;
* a worker that stops on an uncaught exception prints it and calls ``MPI_Abort`` (a hook installed
  when the first store of a multi-worker job is created), so the others do not wait for it;
* a worker that is killed is seen by the launcher (MPICH's ``mpiexec`` ends the others at once
  and names the dead process); with a launcher that does not, the watchdog ends them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from mxlite.base import MXNetError

__all__ = ["World", "import_mpi", "timeout_s", "ENV_TIMEOUT", "DEFAULT_TIMEOUT_S"]

ENV_TIMEOUT = "MXLITE_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0
# Exit statuses passed to MPI_Abort (mpiexec exits with them).
EXIT_RAISED = 1
EXIT_TIMEOUT = 124
EXIT_MPI_ERROR = 70

_MSG_NO_MPI4PY = (
    "kvstore {name!r} runs its workers on MPI through mpi4py, which cannot be imported here "
    "({error}). Install it with: pip install 'mxlite[dist]' (or: pip install mpi4py mpich), "
    "then start the script with: mpiexec -n <workers> python script.py"
)
_MSG_FOREIGN_LAUNCHER = (
    "kvstore {name!r}: the launcher started {launched} processes, but the MPI library mpi4py "
    "uses sees only this one: the mpiexec that started the job belongs to another MPI. Start "
    "the script with the mpiexec of mpi4py's MPI (with the mpich wheel: {hint})."
)
_MSG_BAD_TIMEOUT = (
    "{env}={value!r} is not a number of seconds; set it to a positive number (how long a worker "
    "waits in a collective for the others) or 0 to wait forever."
)
_MSG_TIMEOUT = (
    "mxlite dist: rank {rank} of {size} waited {waited:.1f} s in {what} for the other workers "
    "(limit {limit:g} s, {env}): a worker has died, raised, hangs, or left the training loop "
    "early. Aborting every worker (MPI_Abort) instead of waiting forever. If a worker "
    "legitimately works alone for longer (evaluation, saving), raise {env}."
)
_MSG_RAISED = (
    "mxlite dist: rank {rank} of {size} stopped on an uncaught {exc}; aborting every worker "
    "(MPI_Abort) so that none waits for it forever."
)
_MSG_MPI_ERROR = (
    "mxlite dist: rank {rank} of {size}: MPI failed in {what}: {error}. Aborting every worker."
)


def import_mpi(name: str) -> Any:
    """mpi4py's ``MPI`` module (initializes MPI on first import).

    Raises:
        MXNetError: mpi4py or its MPI library cannot be imported; says what to install.
    """
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as err:
        raise MXNetError(_MSG_NO_MPI4PY.format(name=name, error=err)) from err
    return MPI


def timeout_s() -> float | None:
    """The collective time limit from ``MXLITE_DIST_TIMEOUT`` (None: no limit).

    Raises:
        MXNetError: the variable is not a number or is negative.
    """
    raw = os.environ.get(ENV_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise MXNetError(_MSG_BAD_TIMEOUT.format(env=ENV_TIMEOUT, value=raw))
    return None if value == 0 or value == float("inf") else value


def _launched_size() -> int:
    """How many processes the launcher says it started (1 when not under a known launcher)."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 1


def _abort(code: int) -> None:
    """End the whole job (every worker) with exit status ``code``."""
    try:
        from mpi4py import MPI

        MPI.COMM_WORLD.Abort(code)
    finally:  # Abort does not return; if the library could not abort, leave anyway
        os._exit(code)


def _say(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - stderr may be closed; the abort must still happen
        pass


class _Watchdog:
    """One thread per process that aborts the job when a guarded call lasts too long.

    The guarded thread publishes ``(what, start, limit, on_timeout)`` before the call and None
    after it (single attribute writes, atomic under the GIL); the watchdog thread looks every
    ``period`` seconds. Blocking mpi4py and CuPy calls release the GIL, so it runs meanwhile.
    """

    def __init__(self) -> None:
        self.armed: tuple[str, float, float, Callable[[], None] | None, int, int] | None = None
        self._thread: threading.Thread | None = None
        self._period = 0.25

    def start(self, limit: float) -> None:
        self._period = min(self._period, max(limit / 8.0, 0.01))
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="mxlite-dist-watchdog")
            self._thread.daemon = True
            self._thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(self._period)
            armed = self.armed
            if armed is None:
                continue
            what, start, limit, on_timeout, rank, size = armed
            waited = time.monotonic() - start
            if waited <= limit or self.armed is not armed:
                continue
            _say(
                _MSG_TIMEOUT.format(
                    rank=rank, size=size, waited=waited, what=what, limit=limit, env=ENV_TIMEOUT
                )
            )
            if on_timeout is not None:
                try:
                    on_timeout()
                except Exception:  # noqa: BLE001 - the job ends below in any case
                    pass
            _abort(EXIT_TIMEOUT)


_WATCHDOG = _Watchdog()
_HOOK_INSTALLED = False


def _install_excepthook(rank: int, size: int) -> None:
    """Make an uncaught exception in this worker abort the job (after printing it as usual)."""
    global _HOOK_INSTALLED
    if _HOOK_INSTALLED:
        return
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        previous(exc_type, exc, tb)
        _say(_MSG_RAISED.format(rank=rank, size=size, exc=exc_type.__name__))
        _abort(EXIT_RAISED)

    sys.excepthook = hook
    _HOOK_INSTALLED = True


def _offsets(counts: Sequence[int]) -> list[int]:
    out, total = [], 0
    for count in counts:
        out.append(total)
        total += count
    return out


def _bytes(arr: Any) -> np.ndarray:
    """A flat uint8 view of contiguous host array ``arr`` (MPI moves raw bytes of any dtype)."""
    return arr.reshape(-1).view(np.uint8)


class World:
    """The workers of one store: a duplicate of ``MPI.COMM_WORLD`` and guarded collectives.

    Creating one is collective: every worker must create its store at the same point.

    Args:
        name: the store type (for messages).

    Attributes:
        rank, size: this worker's rank and the number of workers.
        local_rank, local_size: the rank among the workers on this machine and their number
            (``MPI_COMM_TYPE_SHARED``); pick this worker's GPU with ``mx.gpu(local_rank)``.
        timeout: the collective time limit in seconds (None: none), from ``MXLITE_DIST_TIMEOUT``.

    Raises:
        MXNetError: mpi4py is missing, the launcher belongs to another MPI, or the time limit
            variable is malformed.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.timeout: float | None = timeout_s()
        self.mpi = import_mpi(name)
        world = self.mpi.COMM_WORLD
        launched = _launched_size()
        if world.Get_size() == 1 and launched > 1:
            hint = os.path.join(os.path.dirname(sys.executable), "mpiexec")
            raise MXNetError(_MSG_FOREIGN_LAUNCHER.format(name=name, launched=launched, hint=hint))
        self.rank = int(world.Get_rank())
        self.size = int(world.Get_size())
        if self.timeout is not None:
            _WATCHDOG.start(self.timeout)
        if self.size > 1:
            _install_excepthook(self.rank, self.size)
        with self.guard("creating the store (waiting for every worker to create it)"):
            self.comm = world.Dup()
            node = self.comm.Split_type(self.mpi.COMM_TYPE_SHARED)
        self.local_rank = int(node.Get_rank())
        self.local_size = int(node.Get_size())
        node.Free()

    # ------------------------------------------------------------------ faults
    def set_timeout(self, seconds: float | None) -> None:
        """Change the collective time limit (None or 0: none).

        Raises:
            MXNetError: ``seconds`` is negative or not a number.
        """
        if seconds is not None and not (isinstance(seconds, (int, float)) and seconds >= 0):
            raise MXNetError(
                f"kvstore {self.name}: timeout must be a number of seconds >= 0 or None (0 and "
                f"None wait forever), got {seconds!r}"
            )
        self.timeout = None if not seconds or seconds == float("inf") else float(seconds)
        if self.timeout is not None:
            _WATCHDOG.start(self.timeout)

    @contextmanager
    def guard(self, what: str, on_timeout: Callable[[], None] | None = None) -> Iterator[None]:
        """Run the body under the watchdog; an MPI error aborts the job with ``what`` named."""
        limit = self.timeout
        if limit is not None:
            _WATCHDOG.armed = (what, time.monotonic(), limit, on_timeout, self.rank, self.size)
        try:
            yield
        except self.mpi.Exception as err:
            self.abort(
                _MSG_MPI_ERROR.format(rank=self.rank, size=self.size, what=what, error=err),
                EXIT_MPI_ERROR,
            )
        finally:
            _WATCHDOG.armed = None

    def abort(self, message: str, code: int = EXIT_RAISED) -> None:
        """Print ``message`` and end every worker with exit status ``code``."""
        _say(message)
        _abort(code)

    # ------------------------------------------------------------------ collectives
    def barrier(self, what: str = "barrier") -> None:
        """Wait until every worker arrives."""
        with self.guard(what):
            self.comm.Barrier()

    def allgather_bytes(self, data: bytes, what: str) -> list[bytes]:
        """Every worker's ``data``, in rank order."""
        mpi = self.mpi
        lengths = np.zeros(self.size, dtype=np.int64)
        mine = np.array([len(data)], dtype=np.int64)
        out = None
        with self.guard(what):
            self.comm.Allgather([mine, mpi.INT64_T], [lengths, mpi.INT64_T])
            counts = [int(n) for n in lengths]
            out = np.empty(max(sum(counts), 1), dtype=np.uint8)
            send = np.frombuffer(data, dtype=np.uint8) if data else np.empty(0, np.uint8)
            self.comm.Allgatherv([send, mpi.BYTE], [out, (counts, _offsets(counts)), mpi.BYTE])
        offsets = _offsets(counts)
        return [out[o : o + n].tobytes() for o, n in zip(offsets, counts)]

    def bcast(self, buf: np.ndarray, what: str, root: int = 0) -> None:
        """Overwrite contiguous host array ``buf`` with the root's, on every worker."""
        with self.guard(what):
            self.comm.Bcast([_bytes(buf), self.mpi.BYTE], root=root)

    def alltoallv(
        self,
        send: np.ndarray,
        send_counts: Sequence[int],
        recv: np.ndarray,
        recv_counts: Sequence[int],
        what: str,
    ) -> None:
        """Worker ``r`` sends ``send_counts[j]`` elements of ``send`` (in order) to worker ``j``
        and receives ``recv_counts[j]`` elements from each ``j`` into ``recv`` (in rank order).

        Args:
            send, recv: contiguous 1-D host arrays of one dtype.
        """
        item = send.itemsize
        sc = [c * item for c in send_counts]
        rc = [c * item for c in recv_counts]
        mpi = self.mpi
        with self.guard(what):
            self.comm.Alltoallv(
                [_bytes(send), (sc, _offsets(sc)), mpi.BYTE],
                [_bytes(recv), (rc, _offsets(rc)), mpi.BYTE],
            )

    def allgather_inplace(self, buf: np.ndarray, count: int, what: str) -> None:
        """Worker ``r`` holds ``buf[r*count:(r+1)*count]``; afterwards every worker holds all.

        Args:
            buf: a contiguous 1-D host array of ``size * count`` elements.
        """
        nbytes = count * buf.itemsize
        with self.guard(what):
            self.comm.Allgather(self.mpi.IN_PLACE, [_bytes(buf), nbytes, self.mpi.BYTE])

    def finish(self, what: str) -> None:
        """Nothing to wait for: host collectives are complete when they return."""
