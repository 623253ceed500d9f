"""``mx.nd.L2Normalization``: scale each instance, channel or spatial position to unit L2 norm.

``out = x / sqrt(sum(x**2) + eps)``, the sum over every axis but the first (``instance``), over
axis 1 (``channel``) or over the axes after the first two (``spatial``). float16 inputs are
computed in float32 and rounded once. Recorded for autograd as ``L2Normalization`` (attrs
``axes`` and ``norm``, the denominator with the reduced axes kept).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite.base import MXNetError
from mxlite.ndarray._op_args import accepts_out, check_choice, check_float
from mxlite.ndarray.ndarray import NDArray, autograd_record, on_device, out_ctx

__all__ = ["L2Normalization"]

_MSG_RANK = "L2Normalization: At lease 3 dimensions required in {mode} mode, got shape {shape}"


def _axes(mode: str, ndim: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    if mode == "instance":
        return tuple(range(1, ndim))
    if ndim < 3:
        raise MXNetError(_MSG_RANK.format(mode=mode, shape=shape))
    return (1,) if mode == "channel" else tuple(range(2, ndim))


@accepts_out
@on_device
def L2Normalization(  # noqa: N802 - MXNet's name
    data: NDArray, eps: float = 1e-10, mode: str = "instance", **kwargs: Any
) -> NDArray:
    """``data / sqrt(sum(data**2, axes) + eps)`` with the axes chosen by ``mode``:
    ``'instance'`` (all but axis 0), ``'channel'`` (axis 1) or ``'spatial'`` (axes 2 and up).

    Raises:
        MXNetError: unknown ``mode``, a non-float input, or fewer than 3 dimensions for the
            channel and spatial modes.
    """
    check_choice("L2Normalization", "mode", mode, ("channel", "instance", "spatial"))
    check_float("L2Normalization", data._data)
    xp, a = data._xp, data._data
    axes = _axes(mode, a.ndim, data.shape)
    work = a.astype(np.float32) if a.dtype == np.float16 else a
    with np.errstate(all="ignore"):
        norm = xp.sqrt(xp.sum(work * work, axis=axes, keepdims=True) + work.dtype.type(eps))
        res = (work / norm).astype(a.dtype, copy=False)
    result = type(data)(res, out_ctx(data.context))
    autograd_record("L2Normalization", [data], result, axes=axes, norm=norm)
    return result
