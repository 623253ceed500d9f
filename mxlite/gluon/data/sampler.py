"""Samplers of ``mx.gluon.data``: which sample indices a DataLoader reads, and in which batches.

As in MXNet 1.9.1, ``RandomSampler`` draws its permutation from NumPy's global generator
(``np.random.shuffle``), so ``np.random.seed(s)`` makes a shuffled epoch reproducible and gives
the same order as MXNet with the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sized
from typing import Any

import numpy as np

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "FilterSampler", "BatchSampler"]

LAST_BATCH_MODES = ("keep", "discard", "rollover")
_MSG_LAST_BATCH = "last_batch must be one of 'keep', 'discard', or 'rollover', but got %s"


def check_last_batch(last_batch: Any) -> str:
    """``last_batch`` if it is one of 'keep', 'discard', 'rollover'.

    Raises:
        ValueError: any other value (MXNet's message; MXNet raises it only when a partial batch
            is reached or ``len()`` is taken, mxlite when the sampler is made).
    """
    if last_batch not in LAST_BATCH_MODES:
        raise ValueError(_MSG_LAST_BATCH % (last_batch,))
    return str(last_batch)


class Sampler:
    """Base class of samplers: subclasses define ``__iter__`` (indices) and ``__len__``."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices ``start, start + 1, ..., start + length - 1`` in order.

    Args:
        length: number of indices.
        start: the first index.
    """

    def __init__(self, length: int, start: int = 0) -> None:
        self._length = length
        self._start = start

    def __iter__(self) -> Iterator[int]:
        return iter(range(self._start, self._start + self._length))

    def __len__(self) -> int:
        return self._length


class RandomSampler(Sampler):
    """A fresh random permutation of ``0 .. length - 1`` on every pass (without replacement).

    The permutation comes from ``np.random.shuffle`` (NumPy's global generator), as in MXNet.

    Args:
        length: number of indices.
    """

    def __init__(self, length: int) -> None:
        self._length = length

    def __iter__(self) -> Iterator[Any]:
        indices = np.arange(self._length)
        np.random.shuffle(indices)
        return iter(indices)

    def __len__(self) -> int:
        return self._length


class FilterSampler(Sampler):
    """Indices of the samples of ``dataset`` for which ``fn(sample)`` is true.

    The dataset is read once, when the sampler is made.

    Args:
        fn: predicate on a sample.
        dataset: the dataset to filter.
    """

    def __init__(self, fn: Callable[[Any], Any], dataset: Any) -> None:
        self._fn = fn
        self._dataset = dataset
        self._indices = [i for i, sample in enumerate(dataset) if fn(sample)]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices)

    def __len__(self) -> int:
        return len(self._indices)


class BatchSampler(Sampler):
    """Groups the indices of another sampler into lists of ``batch_size``.

    Args:
        sampler: the source of indices.
        batch_size: indices per batch.
        last_batch: what to do with a final batch shorter than ``batch_size``: ``'keep'``
            (yield it), ``'discard'`` (drop it) or ``'rollover'`` (put its indices at the head
            of the next pass).

    Raises:
        ValueError: ``last_batch`` is not one of those three, or ``batch_size`` is not a
            positive integer.

    Example::

        >>> list(BatchSampler(SequentialSampler(10), 3, 'keep'))
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """

    def __init__(self, sampler: Sized, batch_size: int, last_batch: str = "keep") -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise ValueError(f"batch_size must be a positive integer, but got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, but got {batch_size}")
        self._sampler = sampler
        self._batch_size = int(batch_size)
        self._last_batch = check_last_batch(last_batch)
        self._prev: list[Any] = []

    def __iter__(self) -> Iterator[list[Any]]:
        batch, self._prev = self._prev, []
        for i in self._sampler:  # type: ignore[attr-defined]
            batch.append(i)
            if len(batch) == self._batch_size:
                yield batch
                batch = []
        if batch:
            if self._last_batch == "keep":
                yield batch
            elif self._last_batch == "rollover":
                self._prev = batch

    def __len__(self) -> int:
        if self._last_batch == "keep":
            return (len(self._sampler) + self._batch_size - 1) // self._batch_size
        if self._last_batch == "discard":
            return len(self._sampler) // self._batch_size
        return (len(self._prev) + len(self._sampler)) // self._batch_size
