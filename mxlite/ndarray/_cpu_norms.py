"""Numba kernels for MXNet 1.9.1's sequential CPU reductions that LAMB and LARS read.

* ``multi_sum_sq`` (``CalcSumSq`` in ``src/operator/contrib/multi_sum_sq.cc``) adds the squares
  of one array into a float32 accumulator in index order: :func:`seq_sum_f32` (squares already
  rounded to float32) and :func:`seq_sum_f32_wide` (float64 squares; C++ evaluates
  ``float += double`` in double, then rounds).
* ``NDArray.norm()`` reduces with ``mshadow_op::nrm2``'s scaled sum of squares (the LAPACK
  ``nrm2`` recurrence), one element after the other in the array's dtype: :func:`scaled_nrm2`.

Each step is one IEEE operation rounded to its type, as the C++ loops do (no ``fastmath``: LLVM
neither reassociates nor contracts to FMA). Imported on first use only (``import mxlite`` never
imports Numba).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

__all__ = ["seq_sum_f32", "seq_sum_f32_wide", "scaled_nrm2"]


@njit(cache=True, error_model="numpy")
def seq_sum_f32(sq: Any) -> Any:
    """``s = s + sq[i]`` in float32, for i in order (``sq`` a 1-d float32 array)."""
    s = np.float32(0.0)
    for i in range(sq.size):
        s = s + sq[i]
    return s


@njit(cache=True, error_model="numpy")
def seq_sum_f32_wide(sq: Any) -> Any:
    """``s = float32(float64(s) + sq[i])`` for i in order (``sq`` a 1-d float64 array)."""
    s = np.float32(0.0)
    for i in range(sq.size):
        s = np.float32(np.float64(s) + sq[i])
    return s


@njit(cache=True, error_model="numpy")
def scaled_nrm2(x: Any, zero: Any, one: Any) -> Any:
    """The L2 norm of the 1-d array ``x`` by ``mshadow_op::nrm2``'s scaled recurrence::

        a = |v|  (v != 0):  if scale < a: ssq = 1 + ssq * (scale / a) * (scale / a); scale = a
                            else:         ssq = ssq + (a / scale) * (a / scale)
        norm = scale * sqrt(ssq)

    computed in the type of ``zero`` and ``one`` (0 and 1 of ``x``'s dtype).
    """
    ssq = zero
    scale = zero
    for i in range(x.size):
        v = x[i]
        if v != zero:
            a = abs(v)
            if scale < a:
                r = scale / a
                ssq = one + ssq * r * r
                scale = a
            else:
                r = a / scale
                ssq = ssq + r * r
    return scale * np.sqrt(ssq)
