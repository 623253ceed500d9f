"""``DataLoader``: mini-batches of a dataset, built in the main process or by workers.

Semantics follow MXNet 1.9.1's ``gluon.data.DataLoader``: the batch order is the batch
sampler's; ``num_workers > 0`` starts the workers when the DataLoader is made and keeps them
for its lifetime; ``prefetch`` batches (default ``2 * num_workers``) are requested ahead when
an epoch starts and one more each time a batch is taken; batches from worker processes live on
``cpu_shared(0)`` and, with ``pin_memory=True``, on ``cpu_pinned(pin_device_id)``.

Where mxlite differs, it fails more clearly: a bad ``last_batch`` is refused when the
DataLoader is made (MXNet waits for the first partial batch), a worker process that dies is
reported at once with its exit status and batch (MXNet waits for ``timeout`` and then raises a
bare TimeoutError), and the timeout's explanation is the exception's message (MXNet prints it).
How batches cross from worker processes: :mod:`mxlite.gluon.data._workers`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

from mxlite.base import CheckError
from mxlite.gluon.data import _pinned
from mxlite.gluon.data import sampler as _sampler
from mxlite.gluon.data._workers import DataLoaderWorkerError, ProcessPool, ThreadPool
from mxlite.gluon.data.batchify import default_batchify_fn, default_mp_batchify_fn

__all__ = ["DataLoader", "default_batchify_fn", "default_mp_batchify_fn", "DataLoaderWorkerError"]

_MSG_NO_BATCH_SIZE = "batch_size must be specified unless batch_sampler is specified"
_MSG_SHUFFLE_AND_SAMPLER = "shuffle must not be specified if sampler is specified"
_MSG_BATCH_SAMPLER = (
    "batch_size, shuffle, sampler and last_batch must not be specified if batch_sampler is "
    "specified."
)


class _MultiWorkerIter:
    """One pass over the batch sampler, with batches built by a worker pool.

    ``prefetch`` batches are requested when the pass starts; each ``next`` requests one more,
    then waits for the oldest outstanding batch (so order is the sampler's).
    """

    def __init__(
        self,
        pool: ProcessPool | ThreadPool,
        batch_sampler: Any,
        pin_memory: bool,
        pin_device_id: int,
        prefetch: int,
        timeout: float,
    ) -> None:
        self._pool = pool
        self._batch_sampler = batch_sampler
        self._iter = iter(batch_sampler)
        self._pin_memory = pin_memory
        self._pin_device_id = pin_device_id
        self._timeout = timeout
        self._tickets: list[int] = []  # outstanding, oldest first
        self._sent = 0
        self._exhausted = False
        self._finalizer = weakref.finalize(self, _forget, pool, self._tickets)
        for _ in range(prefetch):
            self._push_next()

    def __len__(self) -> int:
        return len(self._batch_sampler)

    def _push_next(self) -> None:
        if self._exhausted:
            return
        samples = next(self._iter, None)
        if samples is None:
            self._exhausted = True
            return
        self._tickets.append(self._pool.submit(samples, self._sent))
        self._sent += 1

    def __next__(self) -> Any:
        self._push_next()
        if not self._tickets:
            raise StopIteration
        batch = self._pool.get(self._tickets[0], self._timeout)
        self._tickets.pop(0)
        if self._pin_memory:
            batch = _pinned.pin_batch(batch, self._pin_device_id)
        return batch

    def __iter__(self) -> _MultiWorkerIter:
        return self


def _forget(pool: ProcessPool | ThreadPool, tickets: list[int]) -> None:
    if tickets:
        pool.forget(list(tickets))


class DataLoader:
    """Loads mini-batches from a dataset.

    Args:
        dataset: the source (a ``Dataset``, or any object with ``len`` and ``[]``: NDArrays
            and NumPy arrays work directly).
        batch_size: samples per batch.
        shuffle: draw a new random order each epoch (``RandomSampler``, NumPy's global
            generator, as in MXNet).
        sampler: the index sampler; not together with ``shuffle``.
        last_batch: ``'keep'`` (default), ``'discard'`` or ``'rollover'``, for the final batch
            when ``batch_size`` does not divide the number of samples.
        batch_sampler: yields lists of indices; not together with ``batch_size``, ``shuffle``,
            ``sampler`` or ``last_batch``.
        batchify_fn: merges a list of samples into a batch (default: ``default_batchify_fn``,
            or ``default_mp_batchify_fn`` when ``num_workers > 0``).
        num_workers: worker processes (threads with ``thread_pool=True``) that build batches
            ahead; 0 builds them in the calling thread. Negative values mean 0.
        pin_memory: return batches on ``cpu_pinned(pin_device_id)`` (page-locked memory when a
            GPU is usable), for faster copies to the GPU.
        pin_device_id: the device id of the pinned context.
        prefetch: batches requested ahead when an epoch starts (default ``2 * num_workers``;
            only with ``num_workers > 0``).
        thread_pool: use threads instead of processes.
        timeout: seconds to wait for any one batch from the workers.
        auto_reload: start the next epoch's prefetching as soon as an epoch ends (and when the
            DataLoader is made).

    Raises:
        ValueError: ``batch_size`` missing, ``shuffle`` with ``sampler``, ``batch_sampler``
            with any of the per-batch options, or a bad ``last_batch``.
        CheckError: ``timeout`` is not positive.

    Worker processes are forked (the dataset and ``batchify_fn`` need not be picklable); their
    batches may hold NDArrays, NumPy arrays, numbers and strings in lists, tuples and dicts.
    Each worker inherits the random state of the process that made the DataLoader.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = None,
        shuffle: bool = False,
        sampler: Any = None,
        last_batch: str | None = None,
        batch_sampler: Any = None,
        batchify_fn: Callable[[list[Any]], Any] | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        pin_device_id: int = 0,
        prefetch: int | None = None,
        thread_pool: bool = False,
        timeout: float = 120,
        auto_reload: bool = False,
    ) -> None:
        self._dataset = dataset
        self._pin_memory = pin_memory
        self._pin_device_id = pin_device_id
        self._thread_pool = thread_pool
        self._timeout = timeout
        self._worker_pool: ProcessPool | ThreadPool | None = None
        self._iter: Iterator[Any] | None = None
        if not timeout > 0:
            raise CheckError(f"timeout must be positive, given {timeout}")
        if batch_sampler is None:
            if batch_size is None:
                raise ValueError(_MSG_NO_BATCH_SIZE)
            if sampler is None:
                if shuffle:
                    sampler = _sampler.RandomSampler(len(dataset))
                else:
                    sampler = _sampler.SequentialSampler(len(dataset))
            elif shuffle:
                raise ValueError(_MSG_SHUFFLE_AND_SAMPLER)
            batch_sampler = _sampler.BatchSampler(
                sampler, batch_size, last_batch if last_batch else "keep"
            )
        elif batch_size is not None or shuffle or sampler is not None or last_batch is not None:
            raise ValueError(_MSG_BATCH_SAMPLER)
        self._batch_sampler = batch_sampler
        self._num_workers = num_workers if num_workers >= 0 else 0
        self._prefetch = max(0, int(prefetch) if prefetch is not None else 2 * self._num_workers)
        if batchify_fn is None:
            batchify_fn = default_mp_batchify_fn if num_workers > 0 else default_batchify_fn
        self._batchify_fn = batchify_fn
        if self._num_workers > 0:
            self._start_pool()
        self.auto_reload = auto_reload
        if self.auto_reload:
            self.refresh()
        else:
            self.clean()

    def _start_pool(self) -> None:
        kind = ThreadPool if self._thread_pool else ProcessPool
        self._worker_pool = kind(self._num_workers, self._dataset, self._batchify_fn)
        self._pool_finalizer = weakref.finalize(self, self._worker_pool.shutdown)

    def __iter__(self) -> Iterator[Any]:
        it: Iterator[Any] = self._iter if self._iter is not None else self._prefetch_iter()
        self._iter = None  # one prefetched pass is never handed out twice
        yield from it
        if self._iter is None and self.auto_reload:
            self.refresh()

    def _prefetch_iter(self) -> Iterator[Any]:
        if self._num_workers == 0:
            return self._same_process_iter()
        pool = self._worker_pool
        if pool is None or pool.broken:
            self._pool_finalizer()
            self._start_pool()
            pool = self._worker_pool
        return _MultiWorkerIter(
            pool,  # type: ignore[arg-type]
            self._batch_sampler,
            self._pin_memory,
            self._pin_device_id,
            self._prefetch,
            self._timeout,
        )

    def _same_process_iter(self) -> Iterator[Any]:
        for batch in self._batch_sampler:
            ret = self._batchify_fn([self._dataset[idx] for idx in batch])
            if self._pin_memory:
                ret = _pinned.pin_batch(ret, self._pin_device_id)
            yield ret

    def __len__(self) -> int:
        return len(self._batch_sampler)

    def refresh(self) -> None:
        """Start a new pass now (its prefetching begins at once with workers)."""
        self._iter = self._prefetch_iter()

    def clean(self) -> None:
        """Drop the prefetched pass; the next ``iter()`` starts a fresh one."""
        self._iter = None

    def __del__(self) -> None:
        finalizer = getattr(self, "_pool_finalizer", None)
        if finalizer is not None:
            finalizer()
