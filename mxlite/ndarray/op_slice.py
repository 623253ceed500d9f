"""Slicing ops of ``mx.nd``: slice (``crop``), slice_axis, slice_like, split (``SliceChannel``),
split_v2.

Every result is a copy, as in MXNet. ``slice`` follows Python's slicing per axis (``None`` and
negative values included; MXNet 1.9.1 fails on a negative ``begin`` below ``-n``, mxlite
clamps it as Python does). ``slice_axis`` keeps MXNet's checks: an ``end`` past the axis or an
empty range is an error.

Recorded for autograd as ``getitem`` (attr ``key``: the tuple of slices taken; the gradient is
written back into a zero array at those positions) and, for ``split``/``split_v2``, as one
``split`` node with an output slot per part (attrs ``axis``, ``bounds``).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from mxlite import autograd
from mxlite.autograd_tape import record_multi_op
from mxlite.base import MXNetError
from mxlite.ndarray._op_args import accepts_out, normalize_axis, shape_text
from mxlite.ndarray.ndarray import NDArray, autograd_record, on_device, out_ctx
from mxlite.ndarray.op_math import write_out

__all__ = ["slice", "crop", "slice_axis", "slice_like", "split", "SliceChannel", "split_v2"]

_MSG_SLICE_DIMS = (
    "slice: Slicing axis exceeds data dimensions: begin has {n} entries for an input of "
    "{ndim} dimensions."
)
_MSG_SLICE_LENGTHS = (
    "slice: begin and end must have the same length, got begin={begin} and end={end}."
)
_MSG_SLICE_STEP = "slice op step[{i}] cannot be 0"
_MSG_AXIS_RANGE = (
    "slice_axis: Transformed axis must be smaller than the source ndim and larger than zero! "
    "Recieved axis={axis}, src_ndim={ndim}, transformed axis={t}"
)
_MSG_BEGIN_END = "slice_axis: Invalid begin, end, get begin={begin}, end={end}"
_MSG_END = "slice_axis: Invalid end for end={end} as axis_size is {size}"
_MSG_BEGIN = "slice_axis: Invalid begin for begin={begin}"
_MSG_LIKE_NDIM = (
    "slice_like: By default slice_axis performs slice on all axes, but ndim mismatch for "
    "inputs: {a} vs. {b}. Pass axes=(...) to slice some axes only."
)
_MSG_LIKE_SIZE = (
    "slice_like: Slice axis {axis} with size {want} exceeds limit of input with size {have}"
)
_MSG_LIKE_FIRST = "slice_like: Slice axis: {axis} exceeds first input: {ndim}"
_MSG_LIKE_SECOND = "slice_like: Slice axis: {axis} exceeds second input: {ndim}"
_MSG_SPLIT_COUNT = (
    "split: value {n} for Parameter num_outputs should be greater equal to 1 (the number of "
    "equal parts)."
)
_MSG_SPLIT_AXIS = "split: axis {axis} is out of range for an input of shape {shape}."
_MSG_SPLIT_EVEN = (
    "split: You are trying to split the {axis}-th axis of input tensor with shape {shape} into "
    "num_outputs={n} evenly sized chunks, but this is not possible because {n} does not evenly "
    "divide {size}"
)
_MSG_SPLIT_SQUEEZE = (
    "split: If squeeze axis is True, the size of the sliced axis must be the same as "
    "num_outputs. Input shape={shape}, axis={axis}, num_outputs={n}."
)
_MSG_V2_EVEN = "array split does not result in an equal division"
_MSG_V2_KIND = "indices_or_sections must either int or tuple of ints"
_MSG_V2_SQUEEZE = "split_v2: expected axis size of 1 but got {size} (squeeze_axis=True)"


def _sliced(data: NDArray, key: tuple[Any, ...], out: NDArray | None = None) -> NDArray:
    """A copy of ``data[key]`` (basic slices only), recorded as ``getitem``."""
    result = type(data)(data._data[key].copy(), out_ctx(data.context))
    autograd_record("getitem", [data], result, key=key)
    return write_out(result, out)


def _opt(value: Any) -> int | None:
    return None if value is None else int(value)


@on_device
def slice(  # noqa: A001 - MXNet's name
    data: NDArray,
    begin: Sequence[int | None],
    end: Sequence[int | None],
    step: Sequence[int | None] = (),
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """``data[begin[0]:end[0]:step[0], begin[1]:end[1]:step[1], ...]`` (a copy).

    ``begin``/``end``/``step`` may be shorter than ``data.ndim`` (the other axes are kept whole)
    and hold None for a default.

    Raises:
        MXNetError: ``begin`` longer than ``data.ndim``, ``begin``/``end`` of different lengths,
            or a zero step.
    """
    begin, end, step = tuple(begin), tuple(end), tuple(step)
    if len(begin) > data.ndim:
        raise MXNetError(_MSG_SLICE_DIMS.format(n=len(begin), ndim=data.ndim))
    if len(begin) != len(end) or (step and len(step) != len(begin)):
        raise MXNetError(_MSG_SLICE_LENGTHS.format(begin=begin, end=end))
    key = []
    for i, (b, e) in enumerate(zip(begin, end)):
        s = _opt(step[i]) if step else None
        if s == 0:
            raise MXNetError(_MSG_SLICE_STEP.format(i=i))
        key.append(_py_slice(b, e, s))
    return _sliced(data, tuple(key), out)


def _py_slice(begin: Any, end: Any, step: int | None) -> Any:
    """A Python slice object (the module's own ``slice`` shadows the builtin)."""
    return builtins.slice(_opt(begin), _opt(end), step)


crop = slice


@on_device
def slice_axis(
    data: NDArray, axis: int, begin: int, end: int | None, out: NDArray | None = None, **kwargs: Any
) -> NDArray:
    """``data[..., begin:end, ...]`` along ``axis`` (a copy); negative values count from the
    end, ``end=None`` is the axis size.

    Raises:
        MXNetError: ``axis`` out of range, an empty range, ``end`` past the axis or ``begin``
            before its start (MXNet's checks, in its order).
    """
    ndim = data.ndim
    t = int(axis) + ndim if int(axis) < 0 else int(axis)
    if not 0 <= t < ndim:
        raise MXNetError(_MSG_AXIS_RANGE.format(axis=axis, ndim=ndim, t=t))
    size = data.shape[t]
    b = int(begin) + size if int(begin) < 0 else int(begin)
    e = size if end is None else (int(end) + size if int(end) < 0 else int(end))
    if not b < e:
        raise MXNetError(_MSG_BEGIN_END.format(begin=begin, end=end))
    if e > size:
        raise MXNetError(_MSG_END.format(end=e, size=size))
    if b < 0:
        raise MXNetError(_MSG_BEGIN.format(begin=begin))
    key = (_py_slice(None, None, None),) * t + (_py_slice(b, e, None),)
    return _sliced(data, key, out)


@accepts_out
@on_device
def slice_like(
    data: NDArray, shape_like: NDArray, axes: Sequence[int] = (), **kwargs: Any
) -> NDArray:
    """``data`` cut to ``shape_like``'s sizes on ``axes`` (every axis when empty), from the
    start of each axis.

    Raises:
        MXNetError: mismatched ranks (all axes), an axis beyond either input, or ``shape_like``
            larger than ``data`` on a sliced axis.
    """
    shape, like = data.shape, shape_like.shape
    if not axes:
        if len(shape) != len(like):
            raise MXNetError(_MSG_LIKE_NDIM.format(a=len(shape), b=len(like)))
        chosen = list(range(len(shape)))
    else:
        chosen = []
        for ax in axes:
            a = int(ax) + len(shape) if int(ax) < 0 else int(ax)
            if not 0 <= a < len(shape):
                raise MXNetError(_MSG_LIKE_FIRST.format(axis=a, ndim=len(shape)))
            if a >= len(like):
                raise MXNetError(_MSG_LIKE_SECOND.format(axis=a, ndim=len(like)))
            chosen.append(a)
    key = [_py_slice(None, None, None)] * len(shape)
    for a in chosen:
        if like[a] > shape[a]:
            raise MXNetError(_MSG_LIKE_SIZE.format(axis=a, want=like[a], have=shape[a]))
        key[a] = _py_slice(0, like[a], None)
    return _sliced(data, tuple(key))


def _split_at(data: NDArray, ax: int, bounds: list[int], squeeze: bool) -> Any:
    """The parts ``data[bounds[i]:bounds[i+1]]`` along ``ax`` (copies; ``squeeze`` drops the
    axis), recorded as one ``split`` node; one part is returned bare, as MXNet does."""
    a = data._data
    parts = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        key = (_py_slice(None, None, None),) * ax + (_py_slice(lo, hi, None),)
        part = a[key]
        if squeeze:
            part = part.reshape(part.shape[:ax] + part.shape[ax + 1 :])
        parts.append(type(data)(part.copy(), out_ctx(data.context)))
    if autograd.is_recording():
        record_multi_op("split", [data], parts, {"axis": ax, "bounds": bounds})
    return parts[0] if len(parts) == 1 else parts


@on_device
def split(
    data: NDArray, num_outputs: int, axis: int = 1, squeeze_axis: bool = False, **kwargs: Any
) -> Any:
    """Split into ``num_outputs`` equal parts along ``axis`` (one part is returned bare).

    With ``squeeze_axis`` the axis (then of size ``num_outputs``) is dropped from each part.

    Raises:
        MXNetError: ``num_outputs < 1``, ``axis`` out of range, an axis size not divisible by
            ``num_outputs``, or ``squeeze_axis`` with parts longer than 1.
    """
    n = int(num_outputs)
    if n < 1:
        raise MXNetError(_MSG_SPLIT_COUNT.format(n=n))
    ax = normalize_axis(
        "split", axis, data.ndim, _MSG_SPLIT_AXIS.replace("{shape}", str(data.shape))
    )
    size = data.shape[ax]
    if size % n:
        raise MXNetError(
            _MSG_SPLIT_EVEN.format(axis=ax, shape=shape_text(data.shape), n=n, size=size)
        )
    if squeeze_axis and size != n:
        raise MXNetError(_MSG_SPLIT_SQUEEZE.format(shape=shape_text(data.shape), axis=ax, n=n))
    step = size // n
    return _split_at(data, ax, [i * step for i in range(n + 1)], bool(squeeze_axis))


SliceChannel = split


@on_device
def split_v2(
    ary: NDArray,
    indices_or_sections: int | tuple[int, ...],
    axis: int = 0,
    squeeze_axis: bool = False,
    **kwargs: Any,
) -> Any:
    """Split into equal sections (an int) or at the given indices (a tuple), as
    ``numpy.split``; indices past the axis give empty parts.

    Raises:
        ValueError: sections that do not divide the axis, or a list instead of a tuple.
        MXNetError: ``squeeze_axis`` with a part longer than 1, or decreasing indices.
    """
    ax = normalize_axis("split_v2", axis, ary.ndim)
    size = ary.shape[ax]
    if isinstance(indices_or_sections, int) and not isinstance(indices_or_sections, bool):
        if indices_or_sections <= 0 or size % indices_or_sections:
            raise ValueError(_MSG_V2_EVEN)
        step = size // indices_or_sections
        bounds = [i * step for i in range(indices_or_sections + 1)]
    elif isinstance(indices_or_sections, tuple):
        cuts = [
            min(max(int(i) + size if int(i) < 0 else int(i), 0), size) for i in indices_or_sections
        ]
        bounds = [0, *cuts, size]
        if any(b > c for b, c in zip(bounds[:-1], bounds[1:])):
            raise MXNetError(f"split_v2: indices {indices_or_sections} must be in increasing order")
    else:
        raise ValueError(_MSG_V2_KIND)
    if squeeze_axis:
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if hi - lo != 1:
                raise MXNetError(_MSG_V2_SQUEEZE.format(size=hi - lo))
    return _split_at(ary, ax, bounds, bool(squeeze_axis))
