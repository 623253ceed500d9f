"""Smaller ``mx.nd`` operators that MXNet scripts and MXNet 1.9.1's own unit tests use:
hyperbolic and inverse trigonometric functions, ``degrees``/``radians``, ``rcbrt``, ``softmin``,
``shape_array``/``size_array``, ``broadcast_axis``/``broadcast_axes``, and the legacy
``argmax_channel``, ``choose_element_0index``, ``fill_element_0index`` and ``onehot_encode``.

The elementwise ones are kernels of :mod:`mxlite.ndarray._elementwise` (integer inputs compute in
float64 and truncate back, as MXNet) recorded under their own names; their gradient rules are in
:mod:`mxlite.autograd.rules`. ``softmin`` is ``softmax`` of ``-data``; ``broadcast_axis`` is
``broadcast_to``; both differentiate through those ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite.base import MXNetError
from mxlite.ndarray.ndarray import NDArray, as_raw, on_device_of_first, out_ctx
from mxlite.ndarray.op_math import _unary, negative
from mxlite.ndarray.op_nn import one_hot, pick, softmax
from mxlite.ndarray.op_reduce import argmax
from mxlite.ndarray.op_shape import broadcast_to

__all__ = [
    "sinh",
    "cosh",
    "arcsin",
    "arccos",
    "arctan",
    "arcsinh",
    "arccosh",
    "arctanh",
    "degrees",
    "radians",
    "rcbrt",
    "softmin",
    "shape_array",
    "size_array",
    "broadcast_axis",
    "broadcast_axes",
    "argmax_channel",
    "choose_element_0index",
    "fill_element_0index",
    "onehot_encode",
]

_MSG_AXIS_SIZE = (
    "broadcast_axis: axis {axis} and size {size} need one size per axis; pass size=(n,) for "
    "axis=(a,)."
)
_MSG_NOT_ONE = (
    "broadcast_axis: Broadcasting axis must have size 1: axis {axis} of shape {shape} has size {n}."
)

sinh = _unary("sinh")
cosh = _unary("cosh")
arcsin = _unary("arcsin")
arccos = _unary("arccos")
arctan = _unary("arctan")
arcsinh = _unary("arcsinh")
arccosh = _unary("arccosh")
arctanh = _unary("arctanh")
degrees = _unary("degrees")
radians = _unary("radians")
rcbrt = _unary("rcbrt")


def softmin(
    data: NDArray,
    axis: int = -1,
    temperature: float | None = None,
    dtype: Any = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """``softmax(-data)`` along ``axis`` (of ``-data / temperature`` when given)."""
    return softmax(negative(data), axis=axis, temperature=temperature, dtype=dtype, out=out)


@on_device_of_first
def shape_array(data: NDArray, **kwargs: Any) -> NDArray:
    """``data``'s shape as a 1-d int64 array on its context."""
    raw = data._xp.asarray(np.array(data.shape, dtype=np.int64))
    return type(data)(raw, out_ctx(data.context))


@on_device_of_first
def size_array(data: NDArray, **kwargs: Any) -> NDArray:
    """``data``'s number of elements as a 1-element int64 array on its context."""
    raw = data._xp.asarray(np.array([data.size], dtype=np.int64))
    return type(data)(raw, out_ctx(data.context))


def broadcast_axis(
    data: NDArray, axis: int | Sequence[int] = (), size: int | Sequence[int] = (), **kwargs: Any
) -> NDArray:
    """Broadcast the size-1 axes ``axis`` of ``data`` to the sizes ``size`` (a copy).

    Raises:
        MXNetError: ``axis`` and ``size`` differ in length, or an axis is not of size 1.
    """
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    sizes = (size,) if isinstance(size, int) else tuple(size)
    if len(axes) != len(sizes):
        raise MXNetError(_MSG_AXIS_SIZE.format(axis=axis, size=size))
    target = list(data.shape)
    for a, n in zip(axes, sizes):
        if data.shape[a] != 1:
            raise MXNetError(_MSG_NOT_ONE.format(axis=a, shape=data.shape, n=data.shape[a]))
        target[a] = int(n)
    return broadcast_to(data, tuple(target))


broadcast_axes = broadcast_axis


choose_element_0index = pick


def argmax_channel(data: NDArray, **kwargs: Any) -> NDArray:
    """Index of the maximum along axis 1 (the channel axis), as float32: ``argmax(data, axis=1)``."""
    return argmax(data, axis=1)


@on_device_of_first
def fill_element_0index(lhs: NDArray, mhs: NDArray, rhs: NDArray, **kwargs: Any) -> NDArray:
    """A copy of the 2-d ``lhs`` with ``lhs[i, rhs[i]] = mhs[i]`` for every row ``i`` whose index
    is in range (rows with an index outside ``[0, lhs.shape[1])`` stay as they were)."""
    xp = lhs._xp
    res = lhs._data.copy()
    idx = as_raw(rhs, lhs).astype(np.int64).reshape(-1)
    vals = as_raw(mhs, lhs).reshape(-1).astype(res.dtype)
    rows = xp.nonzero((idx >= 0) & (idx < res.shape[1]))[0]
    res[rows, idx[rows]] = vals[rows]
    return type(lhs)(res, out_ctx(lhs.context))


def onehot_encode(indices: NDArray, out: NDArray) -> NDArray:
    """Write the one-hot rows of ``indices`` into the 2-d ``out`` (its width is the depth; an
    index out of range gives a zero row) and return ``out``."""
    out[:] = one_hot(indices, depth=out.shape[1], dtype=out.dtype)
    return out
