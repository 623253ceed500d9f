"""Sequence creation of ``mx.nd``: eye and linspace (``arange`` is in
:mod:`mxlite.ndarray.creation`).

Defaults as MXNet 1.9.1: float32 on the current context; ``eye``'s ``M=0`` means ``M=N``;
``linspace`` computes ``start + i * step`` in float64 and casts once (integer dtypes truncate).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError, dtype_np
from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray, default_ctx

__all__ = ["eye", "linspace"]

_MSG_NEG_DIM = "{fn}: Shape dim size cannot be a negative value {value}"
_MSG_NUM = "linspace: Number of sequence should be non-negative, received {num}"


def _on(host: np.ndarray, ctx: Context | None) -> NDArray:
    ctx = default_ctx(ctx)
    backend.check_ctx_usable(ctx)
    return NDArray(backend.to_ctx(host, ctx), ctx)


def eye(
    N: int,  # noqa: N803 - MXNet's names
    M: int = 0,  # noqa: N803
    k: int = 0,
    ctx: Context | None = None,
    dtype: Any = "float32",
    **kwargs: Any,
) -> NDArray:
    """An ``N x M`` array (``M=0``: ``N x N``) with ones on diagonal ``k`` (positive: above).

    Raises:
        MXNetError: a negative ``N`` or ``M``.
    """
    for value in (N, M):
        if int(value) < 0:
            raise MXNetError(_MSG_NEG_DIM.format(fn="eye", value=value))
    cols = int(M) if int(M) else int(N)
    return _on(np.eye(int(N), cols, int(k), dtype=dtype_np(dtype)), ctx)


def linspace(
    start: float,
    stop: float,
    num: int,
    endpoint: bool = True,
    ctx: Context | None = None,
    dtype: Any = "float32",
    **kwargs: Any,
) -> NDArray:
    """``num`` evenly spaced values from ``start`` to ``stop`` (``stop`` included when
    ``endpoint``).

    Raises:
        MXNetError: a negative ``num``.
    """
    num = int(num)
    if num < 0:
        raise MXNetError(_MSG_NUM.format(num=num))
    div = (num - 1) if endpoint else num
    step = (float(stop) - float(start)) / div if div > 0 else 0.0
    host = float(start) + step * np.arange(num, dtype=np.float64)
    with np.errstate(all="ignore"):
        return _on(host.astype(dtype_np(dtype)), ctx)
