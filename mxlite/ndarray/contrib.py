"""``mx.nd.contrib``: the contrib operators mxlite has (MXNet 1.9.1 keeps them out of ``mx.nd``).

* :func:`multi_lamb_update`, :func:`multi_mp_lamb_update`: LAMB on up to 45 tensors at once
  (what ``mx.optimizer.LAMB`` runs when it aggregates); see :mod:`mxlite.ndarray.op_lamb`.
* :func:`isnan`, :func:`isinf`, :func:`isfinite`: elementwise tests as 0/1 in the input's dtype.
* :func:`allclose`: whether two arrays of one shape agree within tolerances, as a 0-d uint8
  array (1 or 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite.base import MXNetError
from mxlite.ndarray._op_args import shape_text
from mxlite.ndarray.ndarray import NDArray, as_raw, on_device_of_first, out_ctx, same_ctx
from mxlite.ndarray.op_lamb import multi_lamb_update, multi_mp_lamb_update

__all__ = [
    "multi_lamb_update",
    "multi_mp_lamb_update",
    "isnan",
    "isinf",
    "isfinite",
    "allclose",
]

_MSG_ALLCLOSE_SHAPES = (
    "Operator _contrib_allclose inferring shapes failed: input shapes {a} and {b} differ; "
    "allclose compares arrays of one shape (broadcast one with mx.nd.broadcast_like first)."
)


@on_device_of_first
def _test(data: NDArray, fn: str) -> NDArray:
    xp = data._xp
    raw = data._data
    res = getattr(xp, fn)(raw).astype(raw.dtype)
    return type(data)(res, out_ctx(data.context))


def isnan(data: NDArray, **kwargs: Any) -> NDArray:
    """1 where ``data`` is NaN, else 0, in ``data``'s dtype (0 everywhere for integers)."""
    return _test(data, "isnan")


def isinf(data: NDArray, **kwargs: Any) -> NDArray:
    """1 where ``data`` is +inf or -inf, else 0, in ``data``'s dtype."""
    return _test(data, "isinf")


def isfinite(data: NDArray, **kwargs: Any) -> NDArray:
    """1 where ``data`` is neither NaN nor infinite, else 0, in ``data``'s dtype."""
    return _test(data, "isfinite")


@on_device_of_first
def allclose(
    a: NDArray,
    b: NDArray,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = True,
    **kwargs: Any,
) -> NDArray:
    """Whether ``|a - b| <= atol + rtol * |b|`` holds everywhere (NaNs equal each other when
    ``equal_nan``): a 0-d uint8 array holding 1 or 0, on ``a``'s context.

    Raises:
        MXNetError: ``a`` and ``b`` differ in shape, or live on a GPU and the host.
    """
    same_ctx("allclose", a, b)
    if a.shape != b.shape:
        raise MXNetError(_MSG_ALLCLOSE_SHAPES.format(a=shape_text(a.shape), b=shape_text(b.shape)))
    xp = a._xp
    with np.errstate(all="ignore"):
        close = xp.allclose(
            a._data.astype(np.float64),
            as_raw(b, a).astype(np.float64),
            rtol=float(rtol),
            atol=float(atol),
            equal_nan=bool(equal_nan),
        )
    return type(a)(xp.asarray(close, dtype=np.uint8), out_ctx(a.context))
