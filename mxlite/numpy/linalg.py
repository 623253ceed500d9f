"""``mx.np.linalg``: ``norm`` (vector and matrix norms with NumPy's ``ord``, ``axis``,
``keepdims``).

Frobenius / vector 2-norms (the default) and vector 1-norms are differentiable (recorded as
``norm``, the rule of ``mx.nd.norm``); the other norms (matrix 1, 2, inf, nuclear; vector inf
and p) compute on the array's device but refuse to be differentiated.
"""

from __future__ import annotations

from typing import Any

import numpy as onp

from mxlite.base import MXNetError
from mxlite.ndarray import op_reduce
from mxlite.ndarray.ndarray import NDArray, autograd_record, on_device, out_ctx
from mxlite.numpy._creation import array

__all__ = ["norm"]


@on_device
def _other_norm(x: NDArray, ord: Any, axis: Any, keepdims: bool) -> NDArray:  # noqa: A002
    xp, a = x._xp, x._data
    work = a if a.dtype.kind == "f" else a.astype(onp.float32)
    with onp.errstate(all="ignore"):
        res = xp.linalg.norm(work, ord=ord, axis=axis, keepdims=keepdims)
    out = type(x)(xp.asarray(res).astype(work.dtype, copy=False), out_ctx(x.context))
    autograd_record("norm_not_differentiable", [x], out)
    return out


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> NDArray:  # noqa: A002
    """The ``ord`` norm of ``x`` over ``axis`` (all elements when None, Frobenius for a
    matrix), as ``numpy.linalg.norm``; the result has ``x``'s float dtype.

    Raises:
        MXNetError: an ``axis`` that is neither None, an int nor a pair.
    """
    a = x if isinstance(x, NDArray) else array(x)
    if axis is not None and not isinstance(axis, (int, onp.integer)):
        axis = tuple(int(v) for v in axis)
        if len(axis) not in (1, 2):
            raise MXNetError(f"norm: axis must be None, an int or a pair, got {axis}")
        if len(axis) == 1:
            axis = axis[0]
    pair = isinstance(axis, tuple) or (axis is None and a.ndim == 2 and ord is not None)
    if ord in (None, "fro") or (ord == 2 and not pair) or (ord == 1 and not pair):
        p = 1 if ord == 1 else 2
        if a._data.dtype.kind != "f":
            a = a.astype("float32")
        return op_reduce.norm(a, ord=p, axis=axis, keepdims=keepdims)
    return _other_norm(a, ord, axis, keepdims)
