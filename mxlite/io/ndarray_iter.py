"""``NDArrayIter``: batches of in-memory arrays (MXNet 1.9.1's ``mx.io.NDArrayIter``).

The cursor arithmetic is MXNet's, so batches, pads and the roll-over between epochs are the
same: with ``last_batch_handle='pad'`` the last batch is filled up from the start of the data
(``getpad()`` says how many samples are padding); ``'discard'`` drops it; ``'roll_over'`` keeps
its samples and puts them at the head of the first batch after ``reset()`` (``hard_reset()``
forgets them). Shuffling reorders the data with ``np.random.shuffle`` (NumPy's global
generator) at construction and at every reset, as MXNet does; the reordered arrays are float32,
as MXNet makes them.

Beyond MXNet, inputs whose sample counts differ and an unknown ``last_batch_handle`` are refused
at construction (MXNet fails later with an unrelated message, or treats an unknown mode as
``'discard'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite.base import CheckError
from mxlite.io.io import DataBatch, DataDesc, DataIter
from mxlite.io.utils import _getdata_by_idx, _init_data, _slice_along_batch_axis
from mxlite.ndarray import op
from mxlite.ndarray.ndarray import NDArray

__all__ = ["NDArrayIter"]

LAST_BATCH_HANDLES = ("pad", "discard", "roll_over")


class NDArrayIter(DataIter):
    """Iterate over NDArrays or NumPy arrays in batches.

    Args:
        data: an array, a list of arrays (named ``_0_data``, ``_1_data``, ...) or a dict of
            name -> array.
        label: the same for labels (default name ``softmax_label``), or None.
        batch_size: samples per batch.
        shuffle: reorder the samples at construction and at every reset.
        last_batch_handle: ``'pad'``, ``'discard'`` or ``'roll_over'`` (see the module doc).
        data_name: the name of a single data array.
        label_name: the name of a single label array.
        layout: the layout string; its ``'N'`` is the batch axis.

    Raises:
        CheckError: no data.
        TypeError: an input is not array-like.
        ValueError: unknown ``last_batch_handle``, a non-positive ``batch_size``, or inputs
            with different numbers of samples.
    """

    def __init__(
        self,
        data: Any,
        label: Any = None,
        batch_size: int = 1,
        shuffle: bool = False,
        last_batch_handle: str = "pad",
        data_name: str = "data",
        label_name: str = "softmax_label",
        layout: str = "NCHW",
    ) -> None:
        super().__init__(batch_size)
        if last_batch_handle not in LAST_BATCH_HANDLES:
            raise ValueError(
                "last_batch_handle must be one of 'pad', 'discard' or 'roll_over', but got "
                f"{last_batch_handle!r}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise ValueError(f"batch_size must be a positive integer, but got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, but got {batch_size}")
        self.data = _init_data(data, allow_empty=False, default_name=data_name)
        self.label = _init_data(label, allow_empty=True, default_name=label_name)
        first_name, first = self.data[0]
        for name, arr in self.data + self.label:
            if arr.shape[0] != first.shape[0]:
                raise ValueError(
                    "NDArrayIter: every data and label array must hold the same number of "
                    f"samples, but {first_name!r} has {first.shape[0]} and {name!r} has "
                    f"{arr.shape[0]}."
                )
        self.idx = np.arange(first.shape[0])
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        self.batch_size = int(batch_size)
        self.cursor = -self.batch_size
        self.num_data = self.idx.shape[0]
        self.layout = layout
        self.reset()
        self.data_list = [x[1] for x in self.data] + [x[1] for x in self.label]
        self.num_source = len(self.data_list)
        self._cache_data: list[NDArray] | None = None
        self._cache_label: list[NDArray] | None = None

    def _descs(self, arrays: list[tuple[str, NDArray]]) -> list[DataDesc]:
        axis = self.layout.find("N")
        return [
            DataDesc(
                k,
                tuple([*v.shape[:axis], self.batch_size, *v.shape[axis + 1 :]]),
                v.dtype,
                layout=self.layout,
            )
            for k, v in arrays
        ]

    @property
    def provide_data(self) -> list[DataDesc]:
        """Name, batch shape, dtype and layout of each data input."""
        return self._descs(self.data)

    @property
    def provide_label(self) -> list[DataDesc]:
        """Name, batch shape, dtype and layout of each label input."""
        return self._descs(self.label)

    def hard_reset(self) -> None:
        """Go back to the start, forgetting rolled-over samples."""
        if self.shuffle:
            self._shuffle_data()
        self.cursor = -self.batch_size
        self._cache_data = None
        self._cache_label = None

    def reset(self) -> None:
        """Go back to the start (after the rolled-over samples, with ``'roll_over'``)."""
        if self.shuffle:
            self._shuffle_data()
        if (
            self.last_batch_handle == "roll_over"
            and self.num_data - self.batch_size < self.cursor < self.num_data
        ):
            self.cursor = self.cursor - self.num_data - self.batch_size
        else:
            self.cursor = -self.batch_size

    def iter_next(self) -> bool:
        """Advance the cursor by one batch; whether it is still inside the data."""
        self.cursor += self.batch_size
        return self.cursor < self.num_data

    def next(self) -> DataBatch:
        """The next batch (a short last batch is cached and ends the epoch, except with 'pad').

        Raises:
            StopIteration: the end of the data is reached.
        """
        if not self.iter_next():
            raise StopIteration
        data = self.getdata()
        label = self.getlabel()
        if data[0].shape[self.layout.find("N")] != self.batch_size:
            self._cache_data = data
            self._cache_label = label
            raise StopIteration
        return DataBatch(data=data, label=label, pad=self.getpad(), index=None)

    def _getdata(
        self,
        data_source: list[tuple[str, NDArray]],
        start: int | None = None,
        end: int | None = None,
    ) -> list[NDArray]:
        start = start if start is not None else 0
        if end is None:
            end = data_source[0][1].shape[0] if data_source else 0
        axis = self.layout.find("N")
        return [_slice_along_batch_axis(x[1], slice(start, end), axis) for x in data_source]

    def _concat(self, first: list[NDArray], second: list[NDArray]) -> list[NDArray]:
        if not first or not second:
            return first if first else second
        axis = self.layout.find("N")
        return [op.concat(a, b, dim=axis) for a, b in zip(first, second)]

    @staticmethod
    def _tile(data: list[NDArray], repeats: int) -> list[NDArray]:
        return [op.tile(datum, reps=(repeats,) + (1,) * (datum.ndim - 1)) for datum in data]

    def _batchify(self, data_source: list[tuple[str, NDArray]]) -> list[NDArray]:
        if not self.cursor < self.num_data:
            raise CheckError("DataIter needs reset.")
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            if self._cache_data is None and self._cache_label is None:
                raise CheckError("next epoch should have cached data")
            cache = self._cache_data if self._cache_data is not None else self._cache_label
            second = self._getdata(data_source, end=self.cursor + self.batch_size)
            if self._cache_data is not None:
                self._cache_data = None
            else:
                self._cache_label = None
            return self._concat(cache or [], second)
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            pad = self.batch_size - self.num_data + self.cursor
            first = self._getdata(data_source, start=self.cursor)
            if pad > self.num_data:
                second = self._tile(
                    self._getdata(data_source, end=self.num_data), pad // self.num_data
                )
                if pad % self.num_data != 0:
                    second = self._concat(
                        second, self._getdata(data_source, end=pad % self.num_data)
                    )
            else:
                second = self._getdata(data_source, end=pad)
            return self._concat(first, second)
        end_idx = min(self.cursor + self.batch_size, self.num_data)
        return self._getdata(data_source, self.cursor, end_idx)

    def getdata(self) -> list[NDArray]:
        """The data arrays of the current batch."""
        return self._batchify(self.data)

    def getlabel(self) -> list[NDArray]:
        """The label arrays of the current batch."""
        return self._batchify(self.label)

    def getpad(self) -> int:
        """How many samples at the end of the current batch are padding."""
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            return self.cursor + self.batch_size - self.num_data
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            return -self.cursor
        return 0

    def _shuffle_data(self) -> None:
        np.random.shuffle(self.idx)
        self.data = _getdata_by_idx(self.data, self.idx)
        self.label = _getdata_by_idx(self.label, self.idx)
