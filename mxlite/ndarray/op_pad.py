"""``mx.nd.Pad`` (alias ``pad``): constant, edge and reflect padding of 4-d and 5-d arrays.

MXNet 1.9.1's rules (checked with the oracle): ``pad_width`` is flat, two entries per axis
``(before_0, after_0, ..., before_N, after_N)``; only 4-d and 5-d inputs, no padding on the
first two axes, and reflect padding narrower than the padded axis. Recorded for autograd as
``Pad`` (attrs ``widths``, ``mode``): the gradient folds the padded borders back onto the
positions they copy (sums for 'edge' and 'reflect').
"""

from __future__ import annotations

from typing import Any

from mxlite import autograd
from mxlite.base import MXNetError
from mxlite.ndarray import _spatial_args as args
from mxlite.ndarray.ndarray import NDArray, on_device_of_first, out_ctx
from mxlite.ndarray.op_math import write_out

__all__ = ["Pad", "pad"]

_MODES = ("constant", "edge", "reflect")


def _widths(pad_width: Any, data: NDArray, mode: str) -> list[tuple[int, int]]:
    flat = args.shape_arg(pad_width, "pad_width", "Pad")
    if data.ndim not in (4, 5):
        raise MXNetError(
            "Pad: Current implementation only supports 4-D or 5-D input; got data of shape "
            f"{data.shape}."
        )
    if any(flat[:4]):
        raise MXNetError(
            "Pad: Current implementation expects padding on the first two axes to be zero; "
            f"got pad_width={tuple(flat)} for data of shape {data.shape}."
        )
    if len(flat) != 2 * data.ndim:
        raise MXNetError(
            f"Pad: pad_width must have 2 entries per axis ({2 * data.ndim} for data of shape "
            f"{data.shape}), got {len(flat)}: {tuple(flat)}."
        )
    if any(v < 0 for v in flat):
        raise MXNetError(f"Pad: pad_width entries must be >= 0, got {tuple(flat)}.")
    widths = [(flat[2 * i], flat[2 * i + 1]) for i in range(data.ndim)]
    if mode == "reflect":
        for (before, after), size in zip(widths, data.shape):
            if before >= size or after >= size:
                raise MXNetError(
                    "Pad: Current implementation of reflection padding only supports padding "
                    f"sizes smaller than the input size; got pad_width={tuple(flat)} for data "
                    f"of shape {data.shape}."
                )
    return widths


@on_device_of_first
def Pad(  # noqa: N802 - MXNet's name
    data: NDArray,
    mode: str | None = None,
    pad_width: Any = None,
    constant_value: float = 0.0,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Pad ``data`` by ``pad_width`` with ``constant_value`` ('constant'), copies of the border
    ('edge') or its mirror image without the border ('reflect').

    Raises:
        MXNetError: an unknown mode, data that is not 4-d or 5-d, padding of the first two axes,
            a ``pad_width`` of the wrong length, or reflect padding as wide as the axis.
    """
    if mode not in _MODES:
        shown = ", ".join(f"'{m}'" for m in _MODES)
        raise MXNetError(
            f"Invalid Input: '{mode}', valid values are: {{{shown}}}, in operator "
            f"{args.op_signature('Pad', mode=mode, pad_width=pad_width)}"
        )
    widths = _widths(pad_width, data, mode)
    xp = data._xp
    raw = data._data
    if mode == "constant":
        res = xp.pad(raw, widths, mode="constant", constant_values=raw.dtype.type(constant_value))
    else:
        res = xp.pad(raw, widths, mode=mode)
    result = type(data)(res, out_ctx(data._ctx))
    if autograd.is_recording():
        autograd.record_op("Pad", [data], result, {"widths": widths, "mode": mode})
    return write_out(result, out)


pad = Pad
