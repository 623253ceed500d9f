"""Length masks of ``mx.nd``: SequenceMask, and the mask of ``softmax(..., use_length=True)``.

Lengths are truncated toward zero (``SequenceMask`` takes float lengths, as MXNet; ``softmax``
needs int32/int64 lengths, as MXNet). Recorded for autograd as ``SequenceMask`` (attr ``keep``:
the boolean mask, broadcastable to the data; the gradient passes where it holds).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite.base import MXNetError
from mxlite.ndarray._dtype_rules import cast_scalar
from mxlite.ndarray._op_args import accepts_out, shape_text
from mxlite.ndarray.ndarray import NDArray, as_raw, autograd_record, on_device, out_ctx, same_ctx

__all__ = ["SequenceMask", "length_mask"]

_MSG_INPUTS = (
    "SequenceMask: Operator SequenceMask expects {want} inputs, but got {got} instead: pass "
    "sequence_length together with use_sequence_length=True (or neither)."
)
_MSG_AXIS = "SequenceMask: Current implementation expects axis to be 0 or 1, got axis={axis}"
_MSG_RANK = "SequenceMask: The data array must be of rank 2 or greater, got shape {shape}"
_MSG_SHAPE = (
    "{op}: Shape inconsistent, Provided = {provided}, inferred shape={inferred}: the lengths "
    "need one entry per {what}."
)


def length_mask(
    xp: Any, lengths: Any, shape: tuple[int, ...], axis: int, op: str, what: str
) -> Any:
    """Boolean mask of ``shape``, true at positions ``< lengths`` along ``axis``.

    ``lengths`` (raw) has ``shape`` without ``axis`` (or, for ``SequenceMask``, any shape that
    broadcasts after the axis is reinserted).

    Raises:
        MXNetError: ``lengths`` of another shape.
    """
    expected = shape[:axis] + shape[axis + 1 :]
    if tuple(lengths.shape) != expected:
        raise MXNetError(
            _MSG_SHAPE.format(
                op=op,
                provided=shape_text(lengths.shape),
                inferred=shape_text(expected),
                what=what,
            )
        )
    steps = xp.arange(shape[axis]).reshape((-1,) + (1,) * (len(shape) - axis - 1))
    limit = xp.expand_dims(lengths.astype(np.int64), axis)
    return steps < limit


@accepts_out
@on_device
def SequenceMask(  # noqa: N802 - MXNet's name
    data: NDArray,
    sequence_length: NDArray | None = None,
    use_sequence_length: bool = False,
    value: float = 0.0,
    axis: int = 0,
    **kwargs: Any,
) -> NDArray:
    """Set the steps of each sequence past its length to ``value``.

    ``data`` is ``(T, B, ...)`` for ``axis=0`` or ``(B, T, ...)`` for ``axis=1``;
    ``sequence_length`` has shape ``(B,)``. Without ``use_sequence_length`` the result is a copy
    of ``data``.

    Raises:
        MXNetError: lengths given without ``use_sequence_length`` or the reverse, an axis other
            than 0 or 1, a rank below 2, or lengths of the wrong shape.
    """
    if use_sequence_length and sequence_length is None:
        raise MXNetError(_MSG_INPUTS.format(want=2, got=1))
    if not use_sequence_length and sequence_length is not None:
        raise MXNetError(_MSG_INPUTS.format(want=1, got=2))
    if axis not in (0, 1):
        raise MXNetError(_MSG_AXIS.format(axis=axis))
    if data.ndim < 2:
        raise MXNetError(_MSG_RANK.format(shape=data.shape))
    xp, a = data._xp, data._data
    if sequence_length is None:
        result = type(data)(a.copy(), out_ctx(data.context))
        autograd_record("identity", [data], result)
        return result
    ctx = same_ctx("SequenceMask", data, sequence_length)
    lengths = as_raw(sequence_length, data)
    batch_axis = 1 - axis
    if lengths.shape != (a.shape[batch_axis],):
        raise MXNetError(
            _MSG_SHAPE.format(
                op="SequenceMask",
                provided=shape_text(tuple(lengths.shape)),
                inferred=(a.shape[batch_axis],),
                what="sequence (the batch axis)",
            )
        )
    keep = length_mask(xp, lengths, a.shape[:2], axis, "SequenceMask", "sequence")
    keep = keep.reshape(keep.shape + (1,) * (a.ndim - 2))
    fill = xp.asarray(cast_scalar(value, a.dtype))
    result = type(data)(xp.where(keep, a, fill), out_ctx(ctx))
    autograd_record("SequenceMask", [data], result, keep=keep)
    return result
