"""Selection, ordering and layout functions of ``mx.np``: take, sort, argsort, moveaxis, split,
hsplit, vsplit, pad, diag.

They share the ``mx.nd`` kernels (:mod:`mxlite.ndarray.op_index`, ``op_sort``, ``op_slice``,
``op_layout``) with NumPy's signatures and MXNet 1.9.1's ``mx.np`` behaviour: ``take`` raises
for indices outside ``[0, n)`` by default, ``argsort`` gives int64, ``hsplit`` with an int
splits unevenly as ``numpy.array_split`` (``split`` and ``vsplit`` need an even division),
``pad`` needs a tuple ``pad_width``. One deliberate difference: ``pad(mode='constant')`` writes
``constant_values`` (MXNet 1.9.1 ignores it and pads with 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as onp

from mxlite.base import MXNetError
from mxlite.ndarray import op_index, op_layout, op_slice, op_sort
from mxlite.ndarray._op_args import normalize_axis
from mxlite.ndarray.ndarray import NDArray, is_scalar
from mxlite.numpy._creation import array

__all__ = ["take", "sort", "argsort", "moveaxis", "split", "hsplit", "vsplit", "pad", "diag"]

_MSG_EVEN = "array split does not result in an equal division"
_MSG_END = "split: end {end} is no less than the size of the axis {size}"
_MSG_ORDER = "split: start {start} is not less than end {end} for subarray {i}"
_MSG_PAD_INT = "`pad_width` must be of integral type."
_MSG_PAD_TUPLE = "`pad_width` must be tuple."
_UNSUPPORTED_PAD = ("linear_ramp", "wrap", "median", "mean", "empty")
_PAD_KWARGS = {
    "constant": ("constant_values",),
    "edge": (),
    "reflect": ("reflect_type",),
    "symmetric": ("reflect_type",),
    "maximum": ("stat_length",),
    "minimum": ("stat_length",),
}


def _arr(x: Any) -> Any:
    if isinstance(x, NDArray):
        return x
    return array(x)


def take(
    a: Any, indices: Any, axis: int | None = None, mode: str = "raise", out: NDArray | None = None
) -> NDArray:
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened ``a`` when None).

    ``mode``: ``'raise'`` (indices must lie in ``[0, n)``), ``'wrap'`` or ``'clip'``.

    Raises:
        MXNetError: an index out of bounds with ``mode='raise'``, or a bad ``axis``/``mode``.
    """
    x = _arr(a)
    idx = array(indices, dtype="int64") if is_scalar(indices) else _arr(indices)
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    return op_index.take(x, idx, axis=axis, mode=mode, out=out)


def sort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None) -> NDArray:
    """A sorted copy of ``a`` along ``axis`` (flattened when None); stable."""
    return op_sort.sort(_arr(a), axis=axis, is_ascend=True)


def argsort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None) -> NDArray:
    """Indices (int64) that sort ``a`` along ``axis`` (flattened when None); stable."""
    return op_sort.argsort(_arr(a), axis=axis, is_ascend=True, dtype="int64")


def moveaxis(a: Any, source: Any, destination: Any) -> NDArray:
    """Move axes ``source`` to positions ``destination``; the others keep their order.

    Raises:
        ValueError: an axis out of range or repeated, or lists of different lengths.
    """
    return op_layout.moveaxis(_arr(a), source, destination)


def _split(x: NDArray, bounds: list[int], axis: int) -> list[NDArray]:
    parts = op_slice._split_at(x, axis, bounds, False)
    return parts if isinstance(parts, list) else [parts]


def _bounds(indices: Sequence[int], size: int) -> list[int]:
    """``[0, *indices, size]`` after MXNet's checks (in range, not decreasing).

    Raises:
        MXNetError: an index past the axis or a decreasing pair.
    """
    bounds = [0, *[int(i) for i in indices], size]
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        if hi > size:
            raise MXNetError(_MSG_END.format(end=hi, size=size))
        if lo > hi:
            raise MXNetError(_MSG_ORDER.format(start=lo, end=hi, i=i))
    return bounds


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[NDArray]:
    """Split into equal sections (an int) or at the given indices (a sequence).

    Raises:
        ValueError: sections that do not divide the axis.
        MXNetError: an index past the axis, or decreasing indices.
    """
    x = _arr(ary)
    ax = normalize_axis("split", axis, x.ndim)
    size = x.shape[ax]
    if isinstance(indices_or_sections, (int, onp.integer)):
        n = int(indices_or_sections)
        if n <= 0 or size % n:
            raise ValueError(_MSG_EVEN)
        return _split(x, [i * (size // n) for i in range(n + 1)], ax)
    return _split(x, _bounds(indices_or_sections, size), ax)


def hsplit(ary: Any, indices_or_sections: Any) -> list[NDArray]:
    """Split along axis 1 (axis 0 of a 1-d array); an int gives sections as even as possible
    (the first ``size % n`` one longer), as MXNet 1.9.1's ``hsplit``.

    Raises:
        ValueError: a 0-d input, or a section count of 0 or less.
    """
    x = _arr(ary)
    if x.ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    ax = 1 if x.ndim > 1 else 0
    size = x.shape[ax]
    if isinstance(indices_or_sections, (int, onp.integer)):
        n = int(indices_or_sections)
        if n <= 0:
            raise ValueError("number sections must be larger than 0.")
        each, extra = divmod(size, n)
        sizes = [each + 1] * extra + [each] * (n - extra)
        return _split(x, [0, *onp.cumsum(sizes).tolist()], ax)
    return _split(x, _bounds(indices_or_sections, size), ax)


def vsplit(ary: Any, indices_or_sections: Any) -> list[NDArray]:
    """Split along axis 0 of an array of 2 or more dimensions (as :func:`split` with axis 0).

    Raises:
        ValueError: fewer than 2 dimensions, or sections that do not divide the axis.
    """
    x = _arr(ary)
    if x.ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(x, indices_or_sections, axis=0)


def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    """NumPy's ``pad_width`` forms (``((b0, a0), (b1, a1), ...)``, ``((b, a),)``, ``(b, a)``,
    ``(n,)``) as one pair per axis.

    Raises:
        TypeError: non-integer widths, or ``pad_width`` not a tuple (as MXNet).
        ValueError: widths that do not broadcast to ``(ndim, 2)``.
    """
    if onp.asarray(pad_width).dtype.kind not in "iu":
        raise TypeError(_MSG_PAD_INT)
    if not isinstance(pad_width, tuple):
        raise TypeError(_MSG_PAD_TUPLE)
    widths = onp.broadcast_to(onp.asarray(pad_width, dtype=onp.int64), (ndim, 2))
    if (widths < 0).any():
        raise ValueError("index can't contain negative values")
    return [(int(b), int(e)) for b, e in widths]


def pad(x: Any, pad_width: Any = None, mode: str = "constant", **kwargs: Any) -> NDArray:
    """Pad ``x`` by ``pad_width`` with ``mode``: ``'constant'`` (``constant_values``, default
    0), ``'edge'``, ``'reflect'``, ``'symmetric'``, ``'maximum'`` or ``'minimum'``.

    Raises:
        TypeError: ``pad_width`` not a tuple of integers.
        ValueError: an unsupported mode or keyword (as MXNet 1.9.1's ``mx.np.pad``).
    """
    a = _arr(x)
    widths = _pad_widths(pad_width, a.ndim)
    if mode in _UNSUPPORTED_PAD or callable(mode):
        raise ValueError(
            f"mode {{'{mode if isinstance(mode, str) else '<function>'}'}} is not supported."
        )
    if mode not in _PAD_KWARGS:
        raise ValueError(f"mode '{mode}' is not supported")
    for key in kwargs:
        if key not in _PAD_KWARGS[mode]:
            raise ValueError(f"{key} keyword not in allowed keywords {list(_PAD_KWARGS[mode])}")
    if kwargs.get("reflect_type", "even") not in ("even", None):
        raise ValueError(f"unsupported reflect_type '{kwargs['reflect_type']}'")
    if kwargs.get("stat_length") is not None:
        raise ValueError(f"unsupported stat_length '{kwargs['stat_length']}'")
    value = kwargs.get("constant_values", 0)
    if isinstance(value, tuple):
        raise TypeError("unsupported constant_values type: {'tuple'}.")
    return op_layout.padded(a, widths, mode, value)


def diag(v: Any, k: int = 0) -> NDArray:
    """The diagonal ``k`` of a 2-d array, or the square matrix with a 1-d ``v`` on diagonal
    ``k``.

    Raises:
        MXNetError: an input of another rank.
    """
    x = _arr(v)
    if x.ndim not in (1, 2):
        raise MXNetError(f"diag: Input must be 1- or 2-d, got shape {x.shape}")
    return op_layout.diag(x, k=k)
