"""Data iterators of ``mx.io``: ``DataDesc``, ``DataBatch``, ``DataIter``, ``ResizeIter`` and
``PrefetchingIter`` (MXNet 1.9.1's ``mxnet.io.io``); ``NDArrayIter`` lives in
:mod:`mxlite.io.ndarray_iter` and is re-exported here.

The C++ iterators (``MNISTIter``, ``ImageRecordIter``, ``CSVIter``, ...) are not part of mxlite;
``gluon.data`` covers their use.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from mxlite.base import CheckError, mx_real_t

__all__ = ["DataDesc", "DataBatch", "DataIter", "ResizeIter", "PrefetchingIter", "NDArrayIter"]  # noqa: F822 - NDArrayIter via __getattr__


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """Name, shape, dtype and layout of one data or label input.

    ``layout`` says what each axis means (``'NCHW'``: batch, channel, height, width; ``'NTC'``
    for sequences); the batch axis is where its ``'N'`` is.

    Args:
        name: the input's name.
        shape: its shape, batch axis included.
        dtype: its element type (float32 by default).
        layout: its layout string.
    """

    dtype: Any
    layout: str

    def __new__(
        cls, name: str, shape: Sequence[int], dtype: Any = mx_real_t, layout: str = "NCHW"
    ) -> DataDesc:
        ret = super().__new__(cls, name, shape)
        ret.dtype = dtype
        ret.layout = layout
        return ret

    def __repr__(self) -> str:
        return f"DataDesc[{self.name},{self.shape},{self.dtype},{self.layout}]"

    @staticmethod
    def get_batch_axis(layout: str | None) -> int:
        """The batch axis of ``layout`` (its ``'N'``; 0 when None, -1 when it has no ``'N'``)."""
        if layout is None:
            return 0
        return layout.find("N")

    @staticmethod
    def get_list(shapes: Sequence[Any], types: Sequence[Any] | None) -> list[DataDesc]:
        """DataDescs from ``(name, shape)`` pairs and optional ``(name, dtype)`` pairs."""
        if types is not None:
            type_dict = dict(types)
            return [DataDesc(x[0], x[1], type_dict[x[0]]) for x in shapes]
        return [DataDesc(x[0], x[1]) for x in shapes]


class DataBatch:
    """One batch from a data iterator.

    Args:
        data: the input arrays (a list or tuple), each holding ``batch_size`` samples.
        label: the label arrays (a list or tuple), or None.
        pad: how many samples at the end are padding (to be ignored in prediction).
        index: the samples' indices, or None.
        bucket_key: the bucket of a bucketing iterator.
        provide_data: DataDescs of ``data``.
        provide_label: DataDescs of ``label``.

    Raises:
        CheckError: ``data`` or ``label`` is not a list or tuple.
    """

    def __init__(
        self,
        data: Any,
        label: Any = None,
        pad: int | None = None,
        index: Any = None,
        bucket_key: Any = None,
        provide_data: Any = None,
        provide_label: Any = None,
    ) -> None:
        if data is not None and not isinstance(data, (list, tuple)):
            raise CheckError("Data must be list of NDArrays")
        if label is not None and not isinstance(label, (list, tuple)):
            raise CheckError("Label must be list of NDArrays")
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self) -> str:
        data_shapes = [d.shape for d in self.data or []]
        label_shapes = [lbl.shape for lbl in self.label] if self.label else None
        return f"{self.__class__.__name__}: data shapes: {data_shapes} label shapes: {label_shapes}"


class DataIter:
    """Base class of data iterators: ``next()`` returns a :class:`DataBatch` and raises
    StopIteration at the end of the data; ``reset()`` starts over.

    Subclasses implement ``iter_next``, ``getdata``, ``getlabel``, ``getpad`` (and
    ``getindex``), or override ``next``.

    Args:
        batch_size: samples per batch.
    """

    def __init__(self, batch_size: int = 0) -> None:
        self.batch_size = batch_size

    def __iter__(self) -> DataIter:
        return self

    def reset(self) -> None:
        """Go back to the beginning of the data."""

    def next(self) -> DataBatch:
        """The next batch.

        Raises:
            StopIteration: the end of the data is reached.
        """
        if self.iter_next():
            return DataBatch(
                data=self.getdata(),
                label=self.getlabel(),
                pad=self.getpad(),
                index=self.getindex(),
            )
        raise StopIteration

    def __next__(self) -> DataBatch:
        return self.next()

    def iter_next(self) -> Any:
        """Move to the next batch; whether there is one."""
        return None

    def getdata(self) -> Any:
        """The data arrays of the current batch."""
        return None

    def getlabel(self) -> Any:
        """The label arrays of the current batch."""
        return None

    def getindex(self) -> Any:
        """The sample indices of the current batch (None when unknown)."""
        return None

    def getpad(self) -> Any:
        """The number of padding samples at the end of the current batch."""
        return None


class _CurrentBatch(DataIter):
    """An iterator whose ``get*`` methods read ``self.current_batch``."""

    current_batch: Any = None

    def getdata(self) -> Any:
        return self.current_batch.data

    def getlabel(self) -> Any:
        return self.current_batch.label

    def getindex(self) -> Any:
        return self.current_batch.index

    def getpad(self) -> Any:
        return self.current_batch.pad


class ResizeIter(_CurrentBatch):
    """Present ``data_iter`` as ``size`` batches per epoch, starting it over (reset) when it
    runs out early and stopping it early when it has more.

    Args:
        data_iter: the iterator to resize.
        size: batches per epoch.
        reset_internal: reset ``data_iter`` too when this iterator is reset.
    """

    def __init__(self, data_iter: Any, size: int, reset_internal: bool = True) -> None:
        super().__init__()
        self.data_iter = data_iter
        self.size = size
        self.reset_internal = reset_internal
        self.cur = 0
        self.current_batch = None
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        self.batch_size = data_iter.batch_size
        if hasattr(data_iter, "default_bucket_key"):
            self.default_bucket_key = data_iter.default_bucket_key

    def reset(self) -> None:
        self.cur = 0
        if self.reset_internal:
            self.data_iter.reset()

    def iter_next(self) -> bool:
        if self.cur == self.size:
            return False
        try:
            self.current_batch = self.data_iter.next()
        except StopIteration:
            self.data_iter.reset()
            self.current_batch = self.data_iter.next()
        self.cur += 1
        return True


class PrefetchingIter(_CurrentBatch):
    """Read the next batch of each of ``iters`` on a background thread while the current one
    is used; the batches of all iterators are joined into one DataBatch.

    Args:
        iters: a DataIter or a list of them (they must yield the same number of batches).
        rename_data: per iterator, a ``{'old name': 'new name'}`` map for ``provide_data``.
        rename_label: the same for ``provide_label``.

    Raises:
        CheckError: no iterator; or, while iterating, the iterators disagree on their number
            of batches or on the padding of a batch.
    """

    def __init__(
        self,
        iters: Any,
        rename_data: list[dict[str, str]] | None = None,
        rename_label: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(iters, list):
            iters = [iters]
        self.n_iter = len(iters)
        if self.n_iter == 0:
            raise CheckError("PrefetchingIter needs at least one iterator")
        self.iters = iters
        self.rename_data = rename_data
        self.rename_label = rename_label
        self.batch_size = self.provide_data[0][1][0]
        self.data_ready = [threading.Event() for _ in range(self.n_iter)]
        self.data_taken = [threading.Event() for _ in range(self.n_iter)]
        for event in self.data_taken:
            event.set()
        self.started = True
        self.current_batch = None
        self.next_batch: list[Any] = [None] * self.n_iter
        self.prefetch_threads = [
            threading.Thread(target=self._prefetch, args=(i,), daemon=True, name=f"prefetch-{i}")
            for i in range(self.n_iter)
        ]
        for thread in self.prefetch_threads:
            thread.start()

    def _prefetch(self, i: int) -> None:
        while True:
            self.data_taken[i].wait()
            if not self.started:
                break
            try:
                self.next_batch[i] = self.iters[i].next()
            except StopIteration:
                self.next_batch[i] = None
            self.data_taken[i].clear()
            self.data_ready[i].set()

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop the background threads (also done when the iterator is garbage collected)."""
        if not getattr(self, "started", False):
            return
        self.started = False
        for event in self.data_taken:
            event.set()
        for thread in self.prefetch_threads:
            if thread is not threading.current_thread():
                thread.join()

    @property
    def provide_data(self) -> list[Any]:
        """DataDescs of all iterators' data, renamed as asked."""
        return _concat_descs(self.iters, "provide_data", self.rename_data)

    @property
    def provide_label(self) -> list[Any]:
        """DataDescs of all iterators' labels, renamed as asked."""
        return _concat_descs(self.iters, "provide_label", self.rename_label)

    def reset(self) -> None:
        for event in self.data_ready:
            event.wait()
        for it in self.iters:
            it.reset()
        for event in self.data_ready:
            event.clear()
        for event in self.data_taken:
            event.set()

    def iter_next(self) -> bool:
        for event in self.data_ready:
            event.wait()
        if self.next_batch[0] is None:
            if any(batch is not None for batch in self.next_batch):
                raise CheckError("Number of entry mismatches between iterators")
            return False
        for batch in self.next_batch:
            if batch is None or batch.pad != self.next_batch[0].pad:
                raise CheckError("Number of entry mismatches between iterators")
        self.current_batch = DataBatch(
            sum([batch.data for batch in self.next_batch], []),
            sum([batch.label for batch in self.next_batch], []),
            self.next_batch[0].pad,
            self.next_batch[0].index,
            provide_data=self.provide_data,
            provide_label=self.provide_label,
        )
        for event in self.data_ready:
            event.clear()
        for event in self.data_taken:
            event.set()
        return True

    def next(self) -> DataBatch:
        if self.iter_next():
            return self.current_batch  # type: ignore[no-any-return]
        raise StopIteration


def _concat_descs(iters: list[Any], attr: str, renames: list[dict[str, str]] | None) -> list[Any]:
    if renames is None:
        return sum([list(getattr(i, attr)) for i in iters], [])
    return sum(
        [
            [
                DataDesc(r[x.name], x.shape, x.dtype) if isinstance(x, DataDesc) else DataDesc(*x)
                for x in getattr(i, attr)
            ]
            for r, i in zip(renames, iters)
        ],
        [],
    )


def __getattr__(name: str) -> Any:
    """``mx.io.io.NDArrayIter`` (MXNet's path), resolved on first use: its module builds on
    :class:`DataIter` here, so importing it at module level would make an import cycle."""
    if name == "NDArrayIter":
        from mxlite.io.ndarray_iter import NDArrayIter  # noqa: PLC0415

        return NDArrayIter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
