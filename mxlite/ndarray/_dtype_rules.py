"""Result dtypes of MXNet 1.9.1's elementwise operators, legacy (``mx.nd``) and numpy (``mx.np``).

Every rule here was read off real MXNet 1.9.1 (see tests/ndarray/test_ndarray_oracle.py):

Legacy ``mx.nd.NDArray``
    * array <op> array: both dtypes must be equal and not bool, else MXNetError; the result keeps
      that dtype, comparisons included (they give 0/1).
    * array <op> scalar: the scalar is cast to the array's dtype first (``int32 * 2.5`` multiplies
      by 2); a bool array computes in int64 and gives int64.

Numpy ``mx.np.ndarray``
    * add, mul, pow ("mixed precision" kernels): a float beats an integer; two floats give the
      wider; two integers give the wider, except uint8 with int8 (MXNetError); bool gives way to
      anything.
    * sub, mod: as above for float/float and float/integer; integers of different dtypes, and bool
      with anything, are an MXNetError.
    * true division: float/float of different widths is an MXNetError, float/integer gives the
      float, integer/integer (same dtype, bool included) gives float32, other integer mixes fail.
    * comparisons: equal dtypes only, result bool.
    * array <op> scalar: the array's dtype (scalar cast to it), except true division of integer or
      bool arrays (float32), comparisons (bool, the scalar cast to the array's dtype, bool
      included), and other ops on bool arrays (int64).

Integer kernels follow C: division truncates toward zero, ``pow`` and the math functions compute
in float64 and convert back (nan and inf become the minimum value of 32/64-bit integers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite.base import MXNetError

__all__ = [
    "COMPARISONS",
    "legacy_pair_dtype",
    "np_pair_dtype",
    "scalar_dtypes",
    "is_float",
]

COMPARISONS = frozenset(
    {"equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal"}
)
_MIXED_OK = frozenset({"add", "mul", "pow", "maximum", "minimum"})
_FLOAT_INT_OK = frozenset({"sub", "mod"})
_BOOL = np.dtype(np.bool_)
_INT64 = np.dtype(np.int64)
_FLOAT32 = np.dtype(np.float32)


def is_float(dtype: np.dtype) -> bool:
    """True for floating dtypes (float16/32/64 and bfloat16)."""
    return dtype.kind == "f" or dtype.name == "bfloat16"


def _type_error(op: str, a: np.dtype, b: np.dtype) -> MXNetError:
    return MXNetError(
        f"{op}: Type inconsistent, the operands have dtypes {a.name} and {b.name}, which this "
        "operator does not mix. Cast one side with .astype() first."
    )


def legacy_pair_dtype(op: str, a: np.dtype, b: np.dtype) -> np.dtype:
    """Result dtype of a legacy NDArray op between two arrays (they must agree, and not be bool).

    Raises:
        MXNetError: the dtypes differ, or both are bool.
    """
    if a != b:
        raise MXNetError(
            f"{op}: Incompatible attr in node: expected {a.name}, got {b.name}. Legacy NDArray "
            "operators need both operands of one dtype; cast one with .astype() first."
        )
    if a == _BOOL:
        raise MXNetError(
            f"{op}: legacy NDArray operators do not support bool inputs; cast them with "
            ".astype('int32') (or 'float32') first."
        )
    return a


def _wider(a: np.dtype, b: np.dtype) -> np.dtype:
    return a if a.itemsize >= b.itemsize else b


def np_pair_dtype(op: str, a: np.dtype, b: np.dtype) -> np.dtype:
    """Result dtype of an ``mx.np`` op between two arrays (see the module docstring).

    Raises:
        MXNetError: MXNet rejects that dtype pair for this operator.
    """
    if op in COMPARISONS:
        if a != b:
            raise _type_error(op, a, b)
        return _BOOL
    fa, fb = is_float(a), is_float(b)
    if op == "div":
        if a == b:
            return a if fa else _FLOAT32
        if fa and fb:
            raise _type_error(op, a, b)
        if fa or fb:
            return a if fa else b
        raise _type_error(op, a, b)
    if a == b:
        if a == _BOOL and op not in _MIXED_OK:
            raise _type_error(op, a, b)
        return a
    if fa and fb:
        return _wider(a, b)
    if fa or fb:
        return a if fa else b
    if op not in _MIXED_OK:
        raise _type_error(op, a, b)
    if a == _BOOL or b == _BOOL:
        return b if a == _BOOL else a
    if a.itemsize == b.itemsize:  # uint8 with int8
        raise _type_error(op, a, b)
    return _wider(a, b)


def scalar_dtypes(op: str, arr: np.dtype, numpy_mode: bool) -> tuple[np.dtype, np.dtype]:
    """``(compute dtype, result dtype)`` of ``array <op> python-scalar``.

    The scalar is converted to the compute dtype; the array is cast to it too (only bool arrays
    change: they compute in int64).
    """
    if op in COMPARISONS and numpy_mode:
        return arr, _BOOL
    compute = _INT64 if arr == _BOOL else arr
    if op in COMPARISONS:
        return compute, compute
    if numpy_mode and op == "div" and not is_float(arr):
        return _FLOAT32, _FLOAT32
    return compute, compute


def cast_scalar(value: Any, dtype: np.dtype) -> Any:
    """``value`` converted to ``dtype`` the way C does it (wrap-around, truncation toward zero)."""
    with np.errstate(all="ignore"):
        return np.asarray(value).astype(dtype)[()]
