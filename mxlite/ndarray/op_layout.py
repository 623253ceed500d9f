"""Layout ops of ``mx.nd``: concatenate, moveaxis, swapaxes (``SwapAxis``), tile, repeat, flip
(``reverse``), pad (``Pad``), diag.

Every result is a copy. Recorded for autograd as ``transpose`` (moveaxis, swapaxes), ``tile``
(attr ``reps``: the input's shape and the repetitions, aligned), ``repeat`` (``repeats``,
``axis``), ``flip`` (``axis``), ``pad`` (``widths``, ``mode``) and ``diag`` (``k``, ``axis1``,
``axis2``, ``make``: whether a matrix was built from a vector).

Deliberate differences from MXNet 1.9.1, all more permissive: ``flip`` takes negative axes;
``pad`` takes any rank, padding on every axis and integer inputs (MXNet's kernel only pads the
last 2 or 3 axes of 4-d/5-d float arrays), and ``reflect`` wider than the axis (reflected
again, as NumPy does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite.base import MXNetError
from mxlite.ndarray._op_args import accepts_out, check_choice, normalize_axis
from mxlite.ndarray.ndarray import NDArray, autograd_record, on_device, out_ctx
from mxlite.ndarray.op_shape import concat, transpose

__all__ = [
    "concatenate",
    "moveaxis",
    "swapaxes",
    "SwapAxis",
    "tile",
    "repeat",
    "flip",
    "reverse",
    "pad",
    "Pad",
    "pad_raw",
    "diag",
]

_MSG_SWAP = "swapaxes: axis {axis} is out of bounds for array of ndim {ndim}"
_MSG_TILE = (
    "tile: reps {reps} must be positive integers (a 0 gives an unknown dimension in MXNet's "
    "legacy shapes); use mx.np.tile for empty results."
)
_MSG_REPEATS = "repeat: repeats cannot be a negative number, got {repeats}"
_MSG_REPEAT_AXIS = "repeat: axis = {axis} out of bounds for an input of {ndim} dimensions"
_MSG_FLIP_AXIS = "Required parameter axis of Shape(tuple) is not presented, in operator reverse"
_MSG_FLIP_RANGE = "flip: axis {axis} is out of range for an input of {ndim} dimensions"
_MSG_PAD_MODE = "Required parameter mode of int is not presented, in operator Pad"
_MSG_PAD_SPEC = (
    "Pad: Input shape vs padding spec mismatch: pad_width has {n} entries, an input of {ndim} "
    "dimensions needs {want} (before, after) pairs flattened: (0, 0, 0, 0, top, bottom, left, "
    "right) for NCHW."
)
_MSG_DIAG_SAME = "diag: axis1 and axis2 cannot refer to the same axis {axis}"
_MSG_DIAG_NONE = "diag: Diagonal does not exist: offset k={k} is outside a {rows}x{cols} matrix."
_MSG_DIAG_RANK = "diag: the input must have at least one dimension, got shape {shape}"


class ConcatenateError(AssertionError, ValueError):
    """A bad ``concatenate`` argument: an AssertionError, as MXNet's asserts (so code that
    catches those keeps working), and a ValueError (it survives ``python -O``)."""


_MSG_CONCATENATE = (
    "concatenate: {what}; pass a non-empty list of NDArrays of one dtype whose shapes differ "
    "only on the axis."
)


def concatenate(arrays: list[NDArray], axis: int = 0, always_copy: bool = True) -> NDArray:
    """Join a list of arrays along ``axis`` (default 0; the legacy Python helper MXNet has
    beside ``concat``). With ``always_copy=False`` a one-element list gives that array back.

    Raises:
        ConcatenateError: not a non-empty list of NDArrays, or shapes or dtypes that differ
            (an AssertionError, as MXNet's asserts).
        IndexError: ``axis`` out of range.
    """
    if not isinstance(arrays, list) or not arrays or not isinstance(arrays[0], NDArray):
        raise ConcatenateError(_MSG_CONCATENATE.format(what="arrays must be a non-empty list"))
    if not always_copy and len(arrays) == 1:
        return arrays[0]
    ndim = arrays[0].ndim
    if not -ndim <= axis < ndim:
        raise IndexError(f"concatenate: axis {axis} is out of range for {ndim}-d arrays")
    ax = axis % ndim
    first = arrays[0]
    for arr in arrays[1:]:
        if (
            arr.ndim != ndim
            or arr.shape[:ax] != first.shape[:ax]
            or arr.shape[ax + 1 :] != first.shape[ax + 1 :]
        ):
            raise ConcatenateError(
                _MSG_CONCATENATE.format(what=f"shapes {first.shape} and {arr.shape} differ")
            )
        if arr.dtype != first.dtype:
            raise ConcatenateError(
                _MSG_CONCATENATE.format(what=f"dtypes {first.dtype} and {arr.dtype} differ")
            )
    return concat(*arrays, dim=ax)


def _copy_result(data: NDArray, raw: Any) -> NDArray:
    xp = data._xp
    return type(data)(xp.ascontiguousarray(raw), out_ctx(data.context))


def _axes(name: str, axes: Any, ndim: int) -> list[int]:
    """``axes`` (an int or a sequence) as non-negative ints, as NumPy normalizes them.

    Raises:
        ValueError: an axis out of range (MXNet's legacy moveaxis raises ValueError), or
            repeated axes.
    """
    items = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    out = []
    for ax in items:
        if not -ndim <= int(ax) < ndim:
            raise ValueError(
                f"{name.capitalize()} should verify 0 <= {name} < tensor.ndim ({ndim}). Got {ax}"
            )
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in `{name}` argument: {tuple(items)}")
    return out


def moveaxis(tensor: NDArray, source: Any, destination: Any) -> NDArray:
    """Move the axes ``source`` to the positions ``destination`` (ints or sequences); the
    other axes keep their order. A copy.

    Raises:
        ValueError: an axis out of range, repeated axes, or lists of different lengths.
    """
    src = _axes("source", source, tensor.ndim)
    dst = _axes("destination", destination, tensor.ndim)
    if len(src) != len(dst):
        raise ValueError(
            "`source` and `destination` arguments must have the same number of elements"
        )
    order = [n for n in range(tensor.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(tensor, axes=order)


@accepts_out
def swapaxes(data: NDArray, dim1: int = 0, dim2: int = 0, **kwargs: Any) -> NDArray:
    """Exchange axes ``dim1`` and ``dim2`` (a copy).

    Raises:
        MXNetError: an axis out of range.
    """
    ndim = data.ndim
    for d in (dim1, dim2):
        if not -ndim <= int(d) < ndim:
            raise MXNetError(_MSG_SWAP.format(axis=d, ndim=ndim))
    axes = list(range(ndim))
    a, b = int(dim1) % ndim, int(dim2) % ndim
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(data, axes=axes)


SwapAxis = swapaxes


@accepts_out
@on_device
def tile(data: NDArray, reps: Sequence[int], **kwargs: Any) -> NDArray:
    """Repeat the whole array ``reps[i]`` times along axis ``i`` (``reps`` and the shape are
    aligned on the right, the shorter one padded with ones).

    Raises:
        MXNetError: a repetition below 1 (legacy arrays) or below 0 (numpy mode).
    """
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    floor = 0 if data._numpy_semantics() else 1
    if any(r < floor for r in reps):
        raise MXNetError(_MSG_TILE.format(reps=reps))
    n = max(len(reps), data.ndim)
    in_shape = (1,) * (n - data.ndim) + data.shape
    full = (1,) * (n - len(reps)) + reps
    res = data._xp.tile(data._data.reshape(in_shape), full)
    out = type(data)(res, out_ctx(data.context))
    autograd_record("tile", [data], out, reps=full, in_shape=in_shape)
    return out


@accepts_out
@on_device
def repeat(data: NDArray, repeats: int, axis: int | None = None, **kwargs: Any) -> NDArray:
    """Repeat each element ``repeats`` times along ``axis`` (of the flattened array when None).

    Raises:
        MXNetError: negative ``repeats`` or ``axis`` out of range.
    """
    repeats = int(repeats)
    if repeats < 0:
        raise MXNetError(_MSG_REPEATS.format(repeats=repeats))
    ax = None
    if axis is not None:
        ax = normalize_axis("repeat", axis, data.ndim, _MSG_REPEAT_AXIS)
    res = data._xp.repeat(data._data, repeats, axis=ax)
    out = type(data)(res, out_ctx(data.context))
    autograd_record("repeat", [data], out, repeats=repeats, axis=ax)
    return out


@accepts_out
@on_device
def flip(data: NDArray, axis: Any = None, **kwargs: Any) -> NDArray:
    """Reverse the order of elements along ``axis`` (an int or a tuple; a copy).

    Raises:
        MXNetError: no ``axis`` (legacy arrays; numpy mode flips every axis), or an axis out of
            range.
    """
    ndim = data.ndim
    if axis is None:
        if not data._numpy_semantics():
            raise MXNetError(_MSG_FLIP_AXIS)
        axes = tuple(range(ndim))
    else:
        items = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
        axes = tuple(normalize_axis("flip", a, ndim, _MSG_FLIP_RANGE) for a in items)
    res = data._xp.flip(data._data, axis=axes) if axes else data._data
    out = _copy_result(data, res)
    autograd_record("flip", [data], out, axis=axes)
    return out


reverse = flip


def pad_raw(xp: Any, a: Any, widths: Sequence[tuple[int, int]], mode: str, value: Any) -> Any:
    """``a`` padded by ``widths`` (one ``(before, after)`` pair per axis; negative values crop)
    with ``xp.pad``'s ``mode`` (``constant`` writes ``value``)."""
    grow = [(max(b, 0), max(e, 0)) for b, e in widths]
    if mode == "constant":
        fill = np.array(value).astype(a.dtype).item()  # a Python scalar: CuPy takes no host arrays
        res = xp.pad(a, grow, mode="constant", constant_values=fill)
    else:
        res = xp.pad(a, grow, mode=mode)
    if any(b < 0 or e < 0 for b, e in widths):
        key = tuple(slice(-min(b, 0), res.shape[i] + min(e, 0)) for i, (b, e) in enumerate(widths))
        res = res[key]
    return res


def padded(data: NDArray, widths: list[tuple[int, int]], mode: str, value: Any) -> NDArray:
    """:func:`pad_raw` on ``data``, recorded as ``pad``."""
    res = pad_raw(data._xp, data._data, widths, mode, value)
    out = _copy_result(data, res)
    autograd_record("pad", [data], out, widths=widths, mode=mode)
    return out


@accepts_out
@on_device
def pad(
    data: NDArray,
    mode: str | None = None,
    pad_width: Sequence[int] = (),
    constant_value: float = 0.0,
    **kwargs: Any,
) -> NDArray:
    """Pad ``data`` with MXNet's flat ``pad_width``: ``(before_0, after_0, before_1, after_1,
    ...)``, one pair per axis (for NCHW images ``(0, 0, 0, 0, top, bottom, left, right)``).

    Args:
        data: the input.
        mode: ``'constant'`` (``constant_value``), ``'edge'`` (the edge values repeated) or
            ``'reflect'`` (mirrored without the edge).
        pad_width: the flat widths; a negative width crops that side.
        constant_value: the fill of ``'constant'``.

    Raises:
        MXNetError: no or an unknown ``mode``, or ``pad_width`` not of ``2 * data.ndim`` entries.
    """
    if mode is None:
        raise MXNetError(_MSG_PAD_MODE)
    check_choice("Pad", "mode", mode, ("constant", "edge", "reflect"))
    flat = [int(w) for w in pad_width]
    if len(flat) != 2 * data.ndim:
        raise MXNetError(_MSG_PAD_SPEC.format(n=len(flat), ndim=data.ndim, want=2 * data.ndim))
    widths = [(flat[2 * i], flat[2 * i + 1]) for i in range(data.ndim)]
    return padded(data, widths, mode, constant_value)


Pad = pad


def _diag_positions(rows: int, cols: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of diagonal ``k`` of a ``rows x cols`` matrix."""
    n = max(0, min(rows, cols - k) if k >= 0 else min(rows + k, cols))
    i = np.arange(n)
    return (i, i + k) if k >= 0 else (i - k, i)


@accepts_out
@on_device
def diag(data: NDArray, k: int = 0, axis1: int = 0, axis2: int = 1, **kwargs: Any) -> NDArray:
    """A vector's diagonal matrix (diagonal ``k``), or diagonal ``k`` of the matrices spanned by
    ``axis1`` and ``axis2`` (appended as the last axis, as ``numpy.diagonal``).

    Raises:
        MXNetError: a 0-d input, equal axes, or a diagonal outside a 2-d input.
    """
    xp, a = data._xp, data._data
    k = int(k)
    if a.ndim == 0:
        raise MXNetError(_MSG_DIAG_RANK.format(shape=data.shape))
    if a.ndim == 1:
        n = a.shape[0] + abs(k)
        res = xp.zeros((n, n), dtype=a.dtype)
        rows, cols = _diag_positions(n, n, k)
        res[xp.asarray(rows), xp.asarray(cols)] = a
        out = type(data)(res, out_ctx(data.context))
        autograd_record("diag", [data], out, k=k, make=True)
        return out
    a1 = normalize_axis("diag", axis1, a.ndim)
    a2 = normalize_axis("diag", axis2, a.ndim)
    if a1 == a2:
        raise MXNetError(_MSG_DIAG_SAME.format(axis=a1))
    rows, cols = a.shape[a1], a.shape[a2]
    if a.ndim == 2 and not -rows < k < cols:
        raise MXNetError(_MSG_DIAG_NONE.format(k=k, rows=rows, cols=cols))
    res = xp.diagonal(a, offset=k, axis1=a1, axis2=a2)
    out = _copy_result(data, res)
    autograd_record("diag", [data], out, k=k, make=False, axis1=a1, axis2=a2)
    return out
