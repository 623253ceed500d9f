"""Helpers of ``mx.io``: putting iterator inputs in canonical form, shuffling, slicing."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from mxlite.base import CheckError, MXNetError
from mxlite.ndarray.ndarray import NDArray

__all__ = ["_init_data", "_has_instance", "_getdata_by_idx", "_slice_along_batch_axis"]

_MSG_INPUT = (
    "Input must be NDArray, numpy.ndarray, h5py.Dataset a list of them or dict with them as values"
)


def _init_data(data: Any, allow_empty: bool, default_name: str) -> list[tuple[str, NDArray]]:
    """``data`` as a name-sorted list of ``(name, NDArray)``.

    One array is named ``default_name``; a list of several ``_0_<default_name>``,
    ``_1_<default_name>``, ...; a dict keeps its keys. NumPy arrays and array-likes become
    NDArrays (float32 unless they are NDArrays already, as ``mx.nd.array`` makes them).

    Raises:
        CheckError: ``data`` is None or empty where it may not be.
        TypeError: ``data`` or one of its values is not array-like.
    """
    from mxlite.ndarray import creation

    if data is None and not allow_empty:
        raise CheckError(f"{default_name} must be given: an array, a list of arrays or a dict")
    if data is None:
        data = []
    if isinstance(data, (np.ndarray, NDArray)):
        data = [data]
    if isinstance(data, list):
        if not allow_empty and len(data) == 0:
            raise CheckError(f"{default_name} must hold at least one array")
        if len(data) == 1:
            data = OrderedDict([(default_name, data[0])])
        else:
            data = OrderedDict([(f"_{i}_{default_name}", d) for i, d in enumerate(data)])
    if not isinstance(data, dict):
        raise TypeError(_MSG_INPUT)
    out = {}
    for k, v in data.items():
        if not isinstance(v, NDArray):
            try:
                v = creation.array(v)
            except (TypeError, ValueError) as err:
                raise TypeError(
                    f"Invalid type '{type(v)}' for {k}, should be NDArray, numpy.ndarray or "
                    "h5py.Dataset"
                ) from err
        out[k] = v
    return sorted(out.items())


def _has_instance(data: list[tuple[str, Any]], dtype: type) -> bool:
    """Whether any array of ``(name, array)`` pairs is a ``dtype``."""
    return any(isinstance(arr, dtype) for _, arr in data)


def _getdata_by_idx(data: list[tuple[str, NDArray]], idx: np.ndarray) -> list[tuple[str, NDArray]]:
    """The arrays with their samples reordered by ``idx``, on their contexts.

    As in MXNet the reordered arrays are made by ``mx.nd.array`` from NumPy, so they are
    float32 whatever their dtype was.
    """
    from mxlite.ndarray import creation

    return [(k, creation.array(v.asnumpy()[idx], v.context)) for k, v in data]


def _slice_along_batch_axis(data: NDArray, s: slice, batch_axis: int) -> NDArray:
    """``data[s]`` along ``batch_axis`` (a copy).

    Raises:
        MXNetError: the slice is empty or ends past the axis (MXNet's ``slice_axis`` checks, which
            a ``'roll_over'`` iterator with a batch larger than the data runs into).
    """
    size = data.shape[batch_axis]
    begin, end = s.start, s.stop
    if end > size:
        raise MXNetError(f"Invalid end for end={end} as axis_size is {size}")
    if not begin < end:
        raise MXNetError(f"Invalid begin, end, get begin={begin}, end={end}")
    return data.slice_axis(axis=batch_axis, begin=begin, end=end)
