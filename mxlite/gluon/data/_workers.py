"""Worker pools that build DataLoader batches ahead of the training loop.

Both pools share one interface: ``submit(samples, batch_index) -> ticket``, ``get(ticket,
timeout)``, ``forget(tickets)``, ``shutdown()``; tickets of several iterators over one pool
never mix.

:class:`ProcessPool` forks ``num_workers`` processes when the DataLoader is made (as MXNet's
``multiprocessing.Pool``; the dataset and batchify function are inherited, not pickled). Each
worker reads tasks from its own queue and writes finished batches to its own pipe
(:mod:`mxlite.gluon.data._wire`), so the main process always knows which worker holds which
batch. While waiting it watches every busy worker's pipe *and* its process sentinel: a worker
that dies (``os._exit``, a signal, a crash in native code, the OOM killer) is reported at once
with its exit status and the batch it was loading, never as a hang. An exception raised by the
dataset or batchify function in a worker is re-raised in the main process with its type and
message, the worker's traceback chained as the cause (as ``multiprocessing.Pool`` does).

:class:`ThreadPool` (``thread_pool=True``) runs the same work on threads; batches need no
transport.

Workers ignore SIGINT (Ctrl-C stops the main process, which then shuts them down) and exit on
their own when the main process disappears.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection as mp_connection
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from mxlite.base import MXNetError
from mxlite.gluon.data import _wire
from mxlite.util import is_np_array, is_np_shape, set_np

__all__ = ["DataLoaderWorkerError", "ProcessPool", "ThreadPool", "RemoteTraceback"]

_MSG_DIED = (
    "DataLoader worker {worker} (pid {pid}) {how} while loading batch {batch} (sample indices "
    "{samples}). Something in the dataset's __getitem__ or the batchify_fn ended the process "
    "(os._exit, a crash in native code, or the out-of-memory killer){hint}. Run the DataLoader "
    "with num_workers=0 to see the failure in the main process."
)
_MSG_TIMEOUT = (
    "Worker timed out after {timeout} seconds: DataLoader worker {worker} did not deliver batch "
    "{batch} (sample indices {samples}). This might be caused by a slow transform: increase "
    "`timeout` (DataLoader(..., timeout=...)) to allow slower data loading in each worker."
)
_MSG_BROKEN = (
    "The DataLoader's worker pool was shut down after an earlier failure ({why}). Iterate the "
    "DataLoader again to start new workers."
)
_POLL_PARENT_S = 1.0
_STOP_GRACE_S = 1.0


class DataLoaderWorkerError(MXNetError):
    """A DataLoader worker process died, or the pool was shut down after such a failure."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, chained as the ``__cause__``."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


def _brief(samples: Sequence[Any], limit: int = 8) -> str:
    items = [int(s) if hasattr(s, "__index__") else s for s in samples]
    if len(items) <= limit:
        return str(items)
    return f"[{', '.join(map(str, items[:limit]))}, ... ({len(items)} in all)]"


def _mp_context() -> Any:
    """Fork where the platform has it (the dataset need not be picklable, as in MXNet)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _picklable_exception(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _worker_loop(
    index: int,
    dataset: Any,
    batchify_fn: Callable[[list[Any]], Any],
    tasks: Any,
    conn: mp_connection.Connection,
    parent_pid: int,
    np_flags: tuple[bool, bool],
) -> None:
    """Body of a worker process: build each batch it is sent and send it back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if np_flags[0] or np_flags[1]:
        set_np(shape=np_flags[0], array=np_flags[1])
    while True:
        try:
            task = tasks.get(timeout=_POLL_PARENT_S)
        except Exception:  # queue.Empty, or the queue was closed by a dying parent
            if os.getppid() != parent_pid:
                return
            continue
        if task is None:
            return
        ticket, samples = task
        try:
            batch = _wire.to_wire(batchify_fn([dataset[i] for i in samples]))
            _wire.send_message(conn, (ticket, "ok", None), batch)
        except (BrokenPipeError, EOFError, ConnectionResetError):
            return
        except Exception as exc:  # the dataset's or batchify_fn's error, or an unsendable batch
            tb = traceback.format_exc()
            try:
                _wire.send_message(conn, (ticket, "error", tb), _picklable_exception(exc))
            except (BrokenPipeError, EOFError, ConnectionResetError):
                return


class _Worker:
    """One worker process, its task queue, the read end of its result pipe, its open tickets."""

    def __init__(self, index: int, process: Any, tasks: Any, reader: Any) -> None:
        self.index = index
        self.process = process
        self.tasks = tasks
        self.reader = reader
        self.outstanding: list[int] = []

    def describe_exit(self) -> tuple[str, str]:
        """How the process ended, and a hint about the likely cause."""
        self.process.join(timeout=5)
        code = self.process.exitcode
        if code is None:
            return "closed its result pipe", ""
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = " (SIGKILL is what the out-of-memory killer sends)" if -code == 9 else ""
            return f"was killed by signal {name} ({-code})", hint
        return f"exited unexpectedly with exit code {code}", ""

    def request_stop(self) -> None:
        """Ask the worker to exit after its current batch."""
        try:
            self.tasks.put(None)
        except (OSError, ValueError):
            pass

    def close(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the worker to exit, then terminate it; release its
        queue and pipe."""
        self.process.join(timeout=grace)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.tasks.cancel_join_thread()
        self.tasks.close()
        self.reader.close()


class ProcessPool:
    """``num_workers`` forked processes building batches of ``dataset`` with ``batchify_fn``.

    Args:
        num_workers: number of processes (at least 1).
        dataset: the dataset (inherited by fork; pickled only where fork is unavailable).
        batchify_fn: merges a list of samples into a batch, in the worker.
    """

    def __init__(self, num_workers: int, dataset: Any, batchify_fn: Callable[..., Any]) -> None:
        self._ctx = _mp_context()
        self._dataset = dataset
        self._batchify_fn = batchify_fn
        self._np_flags = (is_np_shape(), is_np_array())
        self._lock = threading.RLock()
        self._next_ticket = 0
        self._tasks: dict[int, tuple[_Worker, int, Sequence[Any]]] = {}
        self._done: dict[int, tuple[str, Any, Any]] = {}
        self._forgotten: set[int] = set()
        self._broken: str | None = None
        self._workers: list[_Worker] = []
        try:
            for i in range(num_workers):
                self._workers.append(self._start(i))
        except BaseException:
            self.shutdown()
            raise

    @property
    def broken(self) -> bool:
        """Whether a worker died and the pool was shut down."""
        return self._broken is not None

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [w.process.pid for w in self._workers]

    def _start(self, index: int) -> _Worker:
        tasks = self._ctx.Queue()
        reader, writer = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_worker_loop,
            args=(
                index,
                self._dataset,
                self._batchify_fn,
                tasks,
                writer,
                os.getpid(),
                self._np_flags,
            ),
            name=f"mxlite-dataloader-{index}",
            daemon=True,
        )
        in_main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
        try:
            process.start()
        finally:
            if in_main:
                signal.signal(signal.SIGINT, old)
            writer.close()  # the worker holds the only write end: its death gives EOF here
        return _Worker(index, process, tasks, reader)

    def submit(self, samples: Sequence[Any], batch_index: int) -> int:
        """Queue a batch on the least busy worker; returns its ticket.

        Raises:
            DataLoaderWorkerError: the pool was shut down after a worker died.
        """
        with self._lock:
            self._check_usable()
            worker = min(self._workers, key=lambda w: (len(w.outstanding), w.index))
            if not worker.outstanding and not worker.process.is_alive():
                worker.close(0.0)  # died while idle (nothing was lost): replace it
                worker = self._workers[worker.index] = self._start(worker.index)
            ticket = self._next_ticket
            self._next_ticket += 1
            self._tasks[ticket] = (worker, batch_index, samples)
            worker.outstanding.append(ticket)
            worker.tasks.put((ticket, list(samples)))
            return ticket

    def get(self, ticket: int, timeout: float) -> Any:
        """The batch of ``ticket``, waiting at most ``timeout`` seconds.

        Raises:
            DataLoaderWorkerError: a worker died (the pool is then shut down).
            multiprocessing.TimeoutError: the batch did not arrive in time (it stays pending).
            Exception: what the dataset or batchify function raised in the worker.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while ticket not in self._done:
                self._check_usable()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    worker, batch, samples = self._tasks[ticket]
                    raise multiprocessing.TimeoutError(
                        _MSG_TIMEOUT.format(
                            timeout=timeout,
                            worker=worker.index,
                            batch=batch,
                            samples=_brief(samples),
                        )
                    )
                self._wait(remaining)
            status, value, tb = self._done.pop(ticket)
            del self._tasks[ticket]
        if status == "error":
            raise value from RemoteTraceback(tb)
        return _wire.from_wire(value)

    def _wait(self, timeout: float) -> None:
        owners: dict[Any, _Worker] = {}
        for w in self._workers:
            if w.outstanding:
                owners[w.reader] = w
                owners[w.process.sentinel] = w
        ready = mp_connection.wait(list(owners), timeout)
        serviced: set[int] = set()
        for obj in ready:
            worker = owners[obj]
            if worker.index not in serviced:
                serviced.add(worker.index)
                self._service(worker)

    def _service(self, worker: _Worker) -> None:
        """Take every finished batch out of the worker's pipe; raise if it died with work left."""
        cut_off = False
        try:
            while worker.outstanding and worker.reader.poll(0):
                header, body = _wire.recv_message(worker.reader)
                ticket, status, tb = header
                worker.outstanding.remove(ticket)
                if ticket in self._forgotten:
                    self._forgotten.discard(ticket)
                    del self._tasks[ticket]
                else:
                    self._done[ticket] = (status, body, tb)
        except (EOFError, OSError):
            cut_off = True  # the worker died, possibly mid-message
        if not worker.outstanding or (not cut_off and worker.process.is_alive()):
            return
        how, hint = worker.describe_exit()
        _, batch, samples = self._tasks[worker.outstanding[0]]
        message = _MSG_DIED.format(
            worker=worker.index,
            pid=worker.process.pid,
            how=how,
            batch=batch,
            samples=_brief(samples),
            hint=hint,
        )
        self._broken = message
        self.shutdown()
        raise DataLoaderWorkerError(message)

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise DataLoaderWorkerError(_MSG_BROKEN.format(why=self._broken))
        if not self._workers:
            raise DataLoaderWorkerError("The DataLoader's worker pool has been shut down.")

    def forget(self, tickets: Iterable[int]) -> None:
        """Drop the results of ``tickets`` (an iterator was abandoned): those already here now,
        the others when they arrive."""
        with self._lock:
            for ticket in tickets:
                if self._done.pop(ticket, None) is not None:
                    self._tasks.pop(ticket, None)
                elif ticket in self._tasks:
                    self._forgotten.add(ticket)

    def shutdown(self) -> None:
        """Stop every worker (politely, then with SIGTERM) and release the pipes. Idempotent."""
        with self._lock:
            workers, self._workers = self._workers, []
            for w in workers:
                w.request_stop()
            deadline = time.monotonic() + _STOP_GRACE_S
            for w in workers:
                w.close(max(0.0, deadline - time.monotonic()))
            self._tasks.clear()
            self._done.clear()
            self._forgotten.clear()


class ThreadPool:
    """``num_workers`` threads building batches (``DataLoader(..., thread_pool=True)``)."""

    def __init__(self, num_workers: int, dataset: Any, batchify_fn: Callable[..., Any]) -> None:
        self._dataset = dataset
        self._batchify_fn = batchify_fn
        flags = (is_np_shape(), is_np_array())
        self._executor = ThreadPoolExecutor(
            num_workers,
            thread_name_prefix="mxlite-dataloader",
            initializer=_thread_init,
            initargs=flags,
        )
        self._lock = threading.Lock()
        self._next_ticket = 0
        self._futures: dict[int, tuple[Future[Any], int, Sequence[Any]]] = {}
        self.broken = False

    def _run(self, samples: Sequence[Any]) -> Any:
        return self._batchify_fn([self._dataset[i] for i in samples])

    def submit(self, samples: Sequence[Any], batch_index: int) -> int:
        """Queue a batch; returns its ticket."""
        with self._lock:
            ticket = self._next_ticket
            self._next_ticket += 1
            future = self._executor.submit(self._run, list(samples))
            self._futures[ticket] = (future, batch_index, samples)
            return ticket

    def get(self, ticket: int, timeout: float) -> Any:
        """The batch of ``ticket`` (see :meth:`ProcessPool.get`)."""
        future, batch, samples = self._futures[ticket]
        try:
            result = future.result(timeout)
        except FutureTimeout:
            raise multiprocessing.TimeoutError(
                _MSG_TIMEOUT.format(
                    timeout=timeout, worker="thread", batch=batch, samples=_brief(samples)
                )
            ) from None
        finally:
            if future.done():
                with self._lock:
                    self._futures.pop(ticket, None)
        return result

    def forget(self, tickets: Iterable[int]) -> None:
        """Cancel or drop the batches of ``tickets``."""
        with self._lock:
            for ticket in tickets:
                entry = self._futures.pop(ticket, None)
                if entry is not None:
                    entry[0].cancel()

    def shutdown(self) -> None:
        """Stop the threads once their current batch is done (does not wait)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _thread_init(np_shape: bool, np_array: bool) -> None:
    if np_shape or np_array:
        set_np(shape=np_shape, array=np_array)
