"""Special functions over raw NumPy / CuPy arrays: ``erf`` (for GELU).

NumPy has no ``erf``; on the host it is a Numba ufunc over ``math.erf`` (the C library's
correctly rounded-to-a-few-ulps erf, compiled once and cached), on the GPU
``cupyx.scipy.special.erf``. Numba and CuPy are imported on first use only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mxlite import backend

__all__ = ["erf"]

_HOST_ERF: list[Any] = []


def _erf_scalar(x: float) -> float:
    """The scalar kernel of the host ufunc (compiled by Numba on first use)."""
    return math.erf(x)


def _host_erf() -> Any:
    """The Numba ufunc (float32 and float64 loops), built on first use and cached on disk."""
    if not _HOST_ERF:
        from numba import vectorize  # noqa: PLC0415 - keeps Numba out of `import mxlite`

        _HOST_ERF.append(
            vectorize(["float32(float32)", "float64(float64)"], cache=True)(_erf_scalar)
        )
    return _HOST_ERF[0]


def erf(arr: Any) -> Any:
    """``erf(arr)`` elementwise, on the array's device, in its float dtype (float16 is computed
    in float32 and rounded back).

    Raises:
        TypeError: ``arr`` is not a float array.
    """
    if arr.dtype.kind != "f":
        raise TypeError(f"erf: expected a float array, got dtype {arr.dtype}")
    if backend.is_gpu_array(arr):
        from cupyx.scipy import special  # noqa: PLC0415 - GPU only

        return special.erf(arr)
    work = arr.astype(np.float32) if arr.dtype == np.float16 else arr
    res = _host_erf()(work)
    return res.astype(arr.dtype, copy=False)
