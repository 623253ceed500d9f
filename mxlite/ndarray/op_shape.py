"""Shape and joining ops of ``mx.nd``: transpose, reshape, expand_dims, squeeze, broadcast_to,
concat, stack, add_n, where, zeros_like/ones_like, cast, stop_gradient (slicing and splitting are
in :mod:`mxlite.ndarray.op_slice`, tile/repeat/flip/pad in :mod:`mxlite.ndarray.op_layout`).

Recorded for autograd under the function's name (``transpose``: ``axes``; ``broadcast_to``:
``shape``; ``concat``: ``dim``; ``stack``: ``axis``; ``where``: ``condition``; ``add_n``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mxlite.base import CheckError, MXNetError
from mxlite.context import Context
from mxlite.ndarray._op_args import shape_text
from mxlite.ndarray.ndarray import (
    NDArray,
    as_raw,
    autograd_record,
    on_device,
    out_ctx,
    result_class,
    same_ctx,
)
from mxlite.ndarray.op_math import write_out

__all__ = [
    "transpose",
    "reshape",
    "reshape_like",
    "flatten",
    "Flatten",
    "expand_dims",
    "squeeze",
    "broadcast_to",
    "broadcast_like",
    "concat",
    "Concat",
    "stack",
    "add_n",
    "ElementWiseSum",
    "where",
    "zeros_like",
    "ones_like",
    "cast",
    "Cast",
    "stop_gradient",
    "BlockGrad",
    "identity",
]


@on_device
def transpose(data: NDArray, axes: Sequence[int] | None = None, **kwargs: Any) -> NDArray:
    """Permute axes (reversed by default); a copy."""
    ax = tuple(int(a) for a in axes) if axes else None
    if ax is not None and sorted(a % data.ndim for a in ax) != list(range(data.ndim)):
        raise MXNetError(f"transpose: axes {ax} are not a permutation of the {data.ndim} axes")
    xp = data._xp
    out = type(data)(xp.ascontiguousarray(xp.transpose(data._data, ax)), out_ctx(data.context))
    autograd_record("transpose", [data], out, axes=ax)
    return out


def reshape(data: NDArray, shape: Sequence[int], reverse: bool = False, **kwargs: Any) -> NDArray:
    """Reshape with MXNet's special values (see :meth:`NDArray.reshape`)."""
    return data.reshape(tuple(shape), reverse=reverse)


def reshape_like(lhs: NDArray, rhs: NDArray, **kwargs: Any) -> NDArray:
    """Reshape ``lhs`` to ``rhs``'s shape."""
    return lhs.reshape_like(rhs)


def flat_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(d0, d1*...*dk)`` for ``shape`` (``(1, 1)`` for a 0-d one, ``(n, 1)`` for a 1-d one)."""
    if not shape:
        return (1, 1)
    rest = 1
    for d in shape[1:]:
        rest *= d
    return (shape[0], rest)


def flatten(data: NDArray, **kwargs: Any) -> NDArray:
    """Collapse all axes but the first: ``(d0, d1, ..., dk) -> (d0, d1*...*dk)``; a copy."""
    return data._reshaped(flat_shape(data.shape), copy=True)


Flatten = flatten

_MSG_ED_RANGE = "axis must be in the range [-{n}, {n}] ({axis} provided)"
_MSG_ED_RANGE_INPLACE = "axis {axis} is out of range for {n}d array"
_MSG_SQ_SIZE = (
    "cannot select an axis to squeeze out which has size={size} not equal to one (shape "
    "{shape}); name only axes of size 1, or none to drop them all"
)
_MSG_SQ_SIZE_INPLACE = "Squeeze target axis {axis} must be size 1, got {size}."
_MSG_SQ_RANGE = "axis {axis} is out of bounds for array of dimension {n}"
_MSG_SQ_RANGE_INPLACE = "axis {axis} is out of range for {n}d array"
_MSG_SQ_DUP = "duplicate value in axis {axes}; name each axis once"
_MSG_SQ_DUP_INPLACE = "axis {axes} contains duplicate which is not allowed."


def expand_dims(data: NDArray, axis: int, _inplace: bool = False, **kwargs: Any) -> NDArray:
    """Insert a size-1 axis at ``axis`` (in ``[-ndim-1, ndim]``); a copy (a view for
    ``x.expand_dims(axis, inplace=True)``).

    Raises:
        MXNetError: ``axis`` out of range (a CheckError, also an AssertionError, when inplace).
    """
    n = data.ndim
    axis = int(axis)
    if not -n - 1 <= axis <= n:
        if _inplace:
            raise CheckError(_MSG_ED_RANGE_INPLACE.format(axis=axis, n=n))
        raise MXNetError(_MSG_ED_RANGE.format(n=n, axis=axis))
    shape = list(data.shape)
    shape.insert(axis if axis >= 0 else axis + n + 1, 1)
    return data._reshaped(tuple(shape), copy=not _inplace)


def squeeze(data: NDArray, axis: Any = None, _inplace: bool = False, **kwargs: Any) -> NDArray:
    """Remove size-1 axes (all of them, or those in ``axis``); legacy results stay at least 1-d.
    A copy (a view for ``x.squeeze(axis, inplace=True)``).

    Raises:
        MXNetError: an axis out of range, repeated, or not of size 1 (a CheckError, also an
            AssertionError, when inplace).
    """
    n = data.ndim
    if axis is None:
        shape = tuple(d for d in data.shape if d != 1)
    else:
        given = (int(axis),) if isinstance(axis, int) else tuple(int(a) for a in axis)
        err = CheckError if _inplace else MXNetError
        if len(set(given)) != len(given):
            raise err((_MSG_SQ_DUP_INPLACE if _inplace else _MSG_SQ_DUP).format(axes=axis))
        for a in given:
            if not -n <= a < n:
                msg = _MSG_SQ_RANGE_INPLACE if _inplace else _MSG_SQ_RANGE
                raise err(msg.format(axis=a, n=n))
            size = data.shape[a]
            if size != 1:
                if _inplace:
                    raise err(_MSG_SQ_SIZE_INPLACE.format(axis=a, size=size))
                raise err(_MSG_SQ_SIZE.format(size=size, shape=data.shape))
        axes = {a % n for a in given}
        shape = tuple(d for i, d in enumerate(data.shape) if i not in axes)
    if not shape and not data._numpy_semantics():
        shape = (1,)
    return data._reshaped(shape, copy=not _inplace)


@on_device
def broadcast_to(data: NDArray, shape: Sequence[int], **kwargs: Any) -> NDArray:
    """Broadcast to ``shape`` (a 0 in ``shape`` keeps the input's size there); a copy.

    Raises:
        MXNetError: the shapes do not broadcast.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < data.ndim:
        raise MXNetError(f"broadcast_to: cannot broadcast shape {data.shape} to {shape}")
    lead = len(shape) - data.ndim
    target = tuple(data.shape[i - lead] if s == 0 and i >= lead else s for i, s in enumerate(shape))
    try:
        res = data._xp.broadcast_to(data._data, target).copy()
    except ValueError as err:
        raise MXNetError(
            f"broadcast_to: operands could not be broadcast together: {data.shape} -> {target}"
        ) from err
    out = type(data)(res, out_ctx(data.context))
    autograd_record("broadcast_to", [data], out, shape=target)
    return out


_MSG_BL_RANK = "Operand of shape {lhs} cannot be broadcasted to {rhs}"
_MSG_BL_SHAPE = "Array cannot be broadcasted from {lhs} to {rhs}"
_MSG_BL_AXES_LEN = "Input_axis and other_axis size does not match: lhs_axes {la}, rhs_axes {ra}"
_MSG_BL_EMPTY = "Empty axes tuple is not allowed; leave lhs_axes and rhs_axes out instead"
_MSG_BL_AXIS = "Invalid dimension specified in {side}: {axis} (the array has {n} axes)"
_MSG_BL_NOT1 = "Input axis {axis} at dimension {i} cannot be broadcasted to {size}"


def broadcast_like_shape(
    lhs: tuple[int, ...], rhs: tuple[int, ...], lhs_axes: Any, rhs_axes: Any
) -> tuple[int, ...]:
    """The shape ``broadcast_like`` gives, with MXNet 1.9.1's checks.

    Without both axis lists, ``lhs`` and ``rhs`` need the same rank and every ``lhs`` axis is
    ``rhs``'s size or 1. With them, axis ``lhs_axes[i]`` (size 1) of ``lhs`` takes the size of
    axis ``rhs_axes[i]`` of ``rhs``; the other axes keep ``lhs``'s sizes.

    Raises:
        MXNetError: ranks or sizes that do not broadcast, axis lists of different or zero
            length, an axis out of range, an ``lhs`` axis that is not of size 1.
    """
    if lhs_axes is None or rhs_axes is None:
        if len(lhs) != len(rhs):
            raise MXNetError(_MSG_BL_RANK.format(lhs=shape_text(lhs), rhs=shape_text(rhs)))
        if any(a not in (b, 1) for a, b in zip(lhs, rhs)):
            raise MXNetError(_MSG_BL_SHAPE.format(lhs=shape_text(lhs), rhs=shape_text(rhs)))
        return tuple(rhs)
    la = (int(lhs_axes),) if isinstance(lhs_axes, int) else tuple(int(a) for a in lhs_axes)
    ra = (int(rhs_axes),) if isinstance(rhs_axes, int) else tuple(int(a) for a in rhs_axes)
    if len(la) != len(ra):
        raise MXNetError(_MSG_BL_AXES_LEN.format(la=la, ra=ra))
    if not la:
        raise MXNetError(_MSG_BL_EMPTY)
    out = list(lhs)
    for i, (a, b) in enumerate(zip(la, ra)):
        src = a + len(lhs) if a < 0 else a
        if not 0 <= src < len(lhs):
            raise MXNetError(_MSG_BL_AXIS.format(side="lhs_axes", axis=a, n=len(lhs)))
        dst = b + len(rhs) if b < 0 else b
        if not 0 <= dst < len(rhs):
            raise MXNetError(_MSG_BL_AXIS.format(side="rhs_axes", axis=b, n=len(rhs)))
        if lhs[src] != 1:
            raise MXNetError(_MSG_BL_NOT1.format(axis=a, i=i, size=rhs[dst]))
        out[src] = rhs[dst]
    return tuple(out)


def broadcast_like(
    lhs: NDArray, rhs: NDArray, lhs_axes: Any = None, rhs_axes: Any = None, **kwargs: Any
) -> NDArray:
    """Broadcast ``lhs`` to ``rhs``'s shape, or only the axes ``lhs_axes`` of ``lhs`` to the
    sizes of the axes ``rhs_axes`` of ``rhs`` ((1, 2, 1, 3) like (5, 6, 7, 8) with
    ``lhs_axes=(0, 2), rhs_axes=(1, 3)`` gives (6, 2, 8, 3)); a copy.

    Raises:
        MXNetError: see :func:`broadcast_like_shape`.
    """
    return broadcast_to(lhs, broadcast_like_shape(lhs.shape, rhs.shape, lhs_axes, rhs_axes))


def _inputs_ctx(op: str, data: Sequence[NDArray], same_shape: bool = False) -> Context:
    """The context ``op`` runs on, after checking its inputs.

    Raises:
        MXNetError: no inputs, mixed dtypes (legacy arrays), or (``same_shape``) mixed shapes.
    """
    if not data:
        raise MXNetError(f"{op} needs at least one input array")
    ctx = same_ctx(op, *data)
    dts = {d._data.dtype for d in data}
    if len(dts) > 1 and not any(d._numpy_semantics() for d in data):
        raise MXNetError(
            f"{op}: all inputs need one dtype, got {sorted(str(d) for d in dts)}; cast them "
            "with .astype() first."
        )
    if same_shape and any(d.shape != data[0].shape for d in data):
        raise MXNetError(f"{op}: every input needs the same shape, got {[d.shape for d in data]}")
    return ctx


@on_device
def concat(*data: NDArray, dim: int = 1, **kwargs: Any) -> NDArray:
    """Join arrays along axis ``dim`` (default 1, as in MXNet).

    Raises:
        MXNetError: no inputs, mixed dtypes, or shapes that differ off ``dim``.
    """
    ctx = _inputs_ctx("concat", data)
    nd = data[0].ndim
    if any(d.ndim != nd for d in data) or not -nd <= dim < nd:
        raise MXNetError(
            f"concat: inputs of shapes {[d.shape for d in data]} cannot join on dim {dim}"
        )
    ax = dim % nd
    ref = [s for i, s in enumerate(data[0].shape) if i != ax]
    for d in data[1:]:
        if [s for i, s in enumerate(d.shape) if i != ax] != ref:
            raise MXNetError(
                f"concat: Incompatible input shape: expected {list(data[0].shape)} off dim {dim}, "
                f"got {list(d.shape)}"
            )
    res = data[0]._xp.concatenate([as_raw(d, data[0]) for d in data], axis=ax)
    out = result_class(*data)(res, out_ctx(ctx))
    autograd_record("concat", list(data), out, dim=ax)
    return out


Concat = concat


@on_device
def stack(*data: NDArray, axis: int = 0, **kwargs: Any) -> NDArray:
    """Join arrays of one shape along a new axis.

    Raises:
        MXNetError: no inputs, mixed dtypes, or different shapes.
    """
    ctx = _inputs_ctx("stack", data, same_shape=True)
    nd = data[0].ndim + 1
    if not -nd <= axis < nd:
        raise MXNetError(f"stack: axis {axis} out of range for {nd}-d output")
    res = data[0]._xp.stack([as_raw(d, data[0]) for d in data], axis=axis)
    out = result_class(*data)(res, out_ctx(ctx))
    autograd_record("stack", list(data), out, axis=axis % nd)
    return out


@on_device
def add_n(*args: NDArray, out: NDArray | None = None, **kwargs: Any) -> NDArray:
    """Elementwise sum of all inputs (same shape and dtype)."""
    ctx = _inputs_ctx("add_n", args, same_shape=True)
    res = args[0]._data.copy()
    for a in args[1:]:
        res += as_raw(a, args[0])
    result = result_class(*args)(res, out_ctx(ctx))
    autograd_record("add_n", list(args), result)
    return write_out(result, out)


ElementWiseSum = add_n


@on_device
def where(condition: NDArray, x: NDArray, y: NDArray, **kwargs: Any) -> NDArray:
    """``x`` where ``condition`` is nonzero, else ``y``.

    Legacy arrays follow MXNet: ``x`` and ``y`` have one shape and dtype, and ``condition``
    has that shape or is 1-d with one entry per row (selecting whole rows). numpy-mode arrays
    broadcast.

    Raises:
        MXNetError: (legacy) shapes or dtypes that do not fit these rules.
    """
    ctx = same_ctx("where", condition, x, y)
    xp = x._xp
    cond = as_raw(condition, x) != 0
    if not (x._numpy_semantics() or y._numpy_semantics() or condition._numpy_semantics()):
        if x.shape != y.shape or x._data.dtype != y._data.dtype:
            raise MXNetError(
                f"where: x and y need one shape and dtype, got {x.shape} {x._data.dtype.name} "
                f"and {y.shape} {y._data.dtype.name}"
            )
        if cond.shape != x.shape:
            if cond.ndim != 1 or not x.ndim or cond.shape[0] != x.shape[0]:
                raise MXNetError(
                    f"where: condition of shape {condition.shape} must have the shape of x "
                    f"{x.shape} or be 1-d of size {x.shape[0] if x.ndim else 1} (one per row)"
                )
            cond = cond.reshape((-1,) + (1,) * (x.ndim - 1))
    res = xp.where(cond, x._data, as_raw(y, x))
    out = result_class(x)(res, out_ctx(ctx))
    autograd_record("where", [x, y], out, condition=cond)
    return out


@on_device
def _fill_out(out: NDArray, shape: tuple[int, ...], value: int) -> NDArray:
    """``out`` (which must have ``shape``) set to ``value`` everywhere."""
    if out.shape != shape:
        raise MXNetError(
            f"Incompatible attr in node at 0-th output: expected {list(shape)}, got "
            f"{list(out.shape)}. Pass an out= array of the input's shape."
        )
    out._data[...] = value
    return out


@on_device
def zeros_like(data: NDArray, out: NDArray | None = None, **kwargs: Any) -> NDArray:
    """Zeros of ``data``'s shape, dtype and context (written into ``out`` when given)."""
    if out is not None:
        return _fill_out(out, data.shape, 0)
    return type(data)(data._xp.zeros_like(data._data), out_ctx(data.context))


@on_device
def ones_like(data: NDArray, out: NDArray | None = None, **kwargs: Any) -> NDArray:
    """Ones of ``data``'s shape, dtype and context (written into ``out`` when given)."""
    if out is not None:
        return _fill_out(out, data.shape, 1)
    return type(data)(data._xp.ones_like(data._data), out_ctx(data.context))


def cast(data: NDArray, dtype: Any, **kwargs: Any) -> NDArray:
    """``data.astype(dtype)``."""
    return data.astype(dtype)


Cast = cast


def stop_gradient(data: NDArray, **kwargs: Any) -> NDArray:
    """The same values, cut from the autograd graph."""
    return data.detach()


BlockGrad = stop_gradient


@on_device
def identity(data: NDArray, **kwargs: Any) -> NDArray:
    """A copy of ``data`` (recorded as ``identity``)."""
    out = type(data)(data._data.copy(), out_ctx(data.context))
    autograd_record("identity", [data], out)
    return out
