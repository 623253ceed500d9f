"""MXNet's CPU sum of a float array: one sequential pass with Kahan compensation, in the
array's own float type (``mshadow::red::sum`` with a residual). NumPy's pairwise sum and a
float64 sum rounded once can differ from it in the last bit; this reproduces it bitwise.

Compiled by Numba on first use (this module is imported lazily, never by ``import mxlite``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["kahan_sum"]


@njit(cache=True)
def _kahan(values: np.ndarray, zero: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    dst = zero[0]
    residual = zero[0]
    for x in values:
        y = x - residual
        t = dst + y
        residual = (t - dst) - y
        dst = t
    out = zero.copy()
    out[0] = dst
    return out


def kahan_sum(host: np.ndarray) -> np.generic:
    """The Kahan-compensated sequential sum of ``host`` (float16/32/64) in its own dtype."""
    flat = np.ascontiguousarray(host).reshape(-1)
    if flat.dtype == np.float16:  # mshadow accumulates half precision in float
        flat = flat.astype(np.float32)
    return _kahan(flat, np.zeros(1, dtype=flat.dtype))[0].astype(host.dtype)  # type: ignore[no-any-return]
