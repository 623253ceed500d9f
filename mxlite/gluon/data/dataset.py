"""Datasets of ``mx.gluon.data``: ``Dataset`` and its views, ``SimpleDataset``, ``ArrayDataset``.

A dataset is anything with ``__len__`` and ``__getitem__``; an NDArray or a NumPy array can be
used directly. ``Dataset``'s methods return lazy views (``transform``, ``filter``, ``shard``,
``take``, ``sample``) as in MXNet 1.9.1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from mxlite.base import CheckError
from mxlite.gluon.data.sampler import FilterSampler, Sampler, SequentialSampler
from mxlite.ndarray.ndarray import NDArray

__all__ = ["Dataset", "SimpleDataset", "ArrayDataset"]

_MSG_LENGTHS = (
    "All arrays must have the same length; array[0] has length %d while array[%d] has %d. "
    "Pass arrays that hold one entry per sample."
)


class Dataset:
    """Abstract dataset: subclasses implement ``__getitem__`` (the i-th sample) and ``__len__``."""

    def __getitem__(self, idx: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:
        # Python's fallback iteration (indexing until IndexError) never ends on datasets whose
        # __getitem__ wraps around; iterate by length instead.
        for i in range(len(self)):
            yield self[i]

    def filter(self, fn: Callable[[Any], Any]) -> Dataset:
        """A view of the samples for which ``fn(sample)`` is true (evaluated once, now)."""
        return _SampledDataset(self, FilterSampler(fn, self))

    def shard(self, num_shards: int, index: int) -> Dataset:
        """A view of the ``index``-th of ``num_shards`` contiguous shards (the first
        ``len % num_shards`` shards get one sample more).

        Raises:
            CheckError: ``index`` is not in ``[0, num_shards)`` or ``num_shards < 1``.
        """
        if not index < num_shards:
            raise CheckError(f"Shard index of out bound: {index} out of {num_shards}")
        if not num_shards > 0:
            raise CheckError("Number of shards must be greater than 0")
        if not index >= 0:
            raise CheckError("Index must be non-negative")
        length = len(self)
        shard_len, rest = divmod(length, num_shards)
        start = shard_len * index + min(index, rest)
        end = start + shard_len + (index < rest)
        return _SampledDataset(self, SequentialSampler(end - start, start))

    def take(self, count: int | None) -> Dataset:
        """A view of the first ``count`` samples (all of them if ``count`` is None or larger)."""
        if count is None or count > len(self):
            count = len(self)
        return _SampledDataset(self, SequentialSampler(count))

    def sample(self, sampler: Sampler) -> Dataset:
        """A view of the samples at the indices ``sampler`` yields.

        Raises:
            TypeError: ``sampler`` is not a ``gluon.data.Sampler``.
        """
        if not isinstance(sampler, Sampler):
            raise TypeError(
                f"Invalid sampler type: {type(sampler)}. Expected gluon.data.Sampler instead."
            )
        return _SampledDataset(self, sampler)

    def transform(self, fn: Callable[..., Any], lazy: bool = True) -> Dataset:
        """A dataset whose samples are ``fn(sample)`` (``fn(*sample)`` for tuple samples).

        Args:
            fn: the transform.
            lazy: apply ``fn`` on each access (True) or to every sample now (False; a random
                ``fn`` then gives the same result every epoch).
        """
        trans = _LazyTransformDataset(self, fn)
        if lazy:
            return trans
        return SimpleDataset([trans[i] for i in range(len(trans))])

    def transform_first(self, fn: Callable[[Any], Any], lazy: bool = True) -> Dataset:
        """Like :meth:`transform`, applied to the first element of each sample only (the data,
        leaving the label as it is)."""
        return self.transform(_TransformFirstClosure(fn), lazy)


class SimpleDataset(Dataset):
    """A dataset over any object with ``len()`` and ``[]`` (a list, an array, ...).

    Args:
        data: the samples.
    """

    def __init__(self, data: Any) -> None:
        self._data = data

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, idx: int) -> Any:
        return self._data[idx]


class _LazyTransformDataset(Dataset):
    """``fn`` applied to each sample on access (tuple samples are unpacked into ``fn``)."""

    def __init__(self, data: Any, fn: Callable[..., Any]) -> None:
        self._data = data
        self._fn = fn

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, idx: int) -> Any:
        item = self._data[idx]
        if isinstance(item, tuple):
            return self._fn(*item)
        return self._fn(item)


class _TransformFirstClosure:
    """``fn`` on the first element of a sample (a class rather than a closure: picklable)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self._fn = fn

    def __call__(self, x: Any, *args: Any) -> Any:
        if args:
            return (self._fn(x),) + args
        return self._fn(x)


class _SampledDataset(Dataset):
    """The samples of ``dataset`` at the indices of ``sampler`` (drawn once, when made)."""

    def __init__(self, dataset: Any, sampler: Sampler) -> None:
        self._dataset = dataset
        self._sampler = sampler
        self._indices = list(iter(sampler))

    def __len__(self) -> int:
        return len(self._sampler)

    def __getitem__(self, idx: int) -> Any:
        return self._dataset[self._indices[idx]]


class ArrayDataset(Dataset):
    """Zips dataset-like objects (arrays, lists, Datasets): sample ``i`` is ``(x1[i], x2[i], ...)``,
    or ``x1[i]`` when only one is given.

    A 1-D NDArray is converted to NumPy once, so its samples are NumPy scalars (as in MXNet).

    Args:
        *args: one or more objects of equal length.

    Raises:
        CheckError: no argument, or the lengths differ (an AssertionError, as in MXNet).
    """

    def __init__(self, *args: Any) -> None:
        if len(args) == 0:
            raise CheckError("Needs at least 1 arrays")
        self._length = len(args[0])
        self._data: list[Any] = []
        for i, data in enumerate(args):
            if len(data) != self._length:
                raise CheckError(_MSG_LENGTHS % (self._length, i, len(data)))
            if isinstance(data, NDArray) and len(data.shape) == 1:
                data = data.asnumpy()
            self._data.append(data)

    def __getitem__(self, idx: int) -> Any:
        if len(self._data) == 1:
            return self._data[0][idx]
        return tuple(data[idx] for data in self._data)

    def __len__(self) -> int:
        return self._length


class _DownloadedDataset(Dataset):
    """Base of MNIST, CIFAR10, ...: ``(data[i], label[i])`` through an optional ``transform``.

    Subclasses implement ``_get_data`` to fill ``_data`` and ``_label`` from files in ``root``.
    """

    def __init__(self, root: str, transform: Callable[[Any, Any], Any] | None) -> None:
        super().__init__()
        self._transform = transform
        self._data: Any = None
        self._label: Any = None
        root = os.path.expanduser(root)
        self._root = root
        if not os.path.isdir(root):
            os.makedirs(root)
        self._get_data()

    def __getitem__(self, idx: int) -> Any:
        if self._transform is not None:
            return self._transform(self._data[idx], self._label[idx])
        return self._data[idx], self._label[idx]

    def __len__(self) -> int:
        return len(self._label)

    def _get_data(self) -> None:
        raise NotImplementedError
