"""Elementwise kernels on raw arrays (numpy or cupy) with MXNet's integer semantics.

Inputs arrive already cast to the compute dtype chosen by :mod:`mxlite.ndarray._dtype_rules`.
Floating dtypes use the array module's own operators. Integer dtypes follow MXNet's C++ kernels:
``+ - *`` wrap around, ``/`` truncates toward zero, ``%`` takes the divisor's sign (as Python),
``pow`` and every math function (``sqrt``, ``exp``, ``sigmoid``, ...) compute in float64 and
convert back by truncation, so ``sqrt(int32 7) == 2`` and ``exp(int32 20) == 485165195``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["binary_raw", "unary_raw", "from_float", "UNARY_FUNCS"]


def from_float(xp: Any, x: Any, dtype: np.dtype) -> Any:
    """Convert float values to ``dtype`` as C does (truncation; nan and overflow are undefined,
    on x86 they give the minimum of 32/64-bit integers and 0 for 8-bit ones)."""
    with np.errstate(all="ignore"):
        return x.astype(dtype)


def _f64(x: Any) -> Any:
    return x.astype(np.float64) if hasattr(x, "astype") else np.float64(x)


def _int_div(xp: Any, a: Any, b: Any, dtype: np.dtype) -> Any:
    """C integer division: truncation toward zero; ``x / 0`` as the float64 quotient converts."""
    a = xp.asarray(a, dtype=dtype) if not hasattr(a, "dtype") else a
    b_arr = xp.asarray(b, dtype=dtype)
    zero = b_arr == 0
    safe = xp.where(zero, dtype.type(1), b_arr)
    with np.errstate(all="ignore"):
        q = xp.floor_divide(a, safe)
        rem = a - q * safe
        if dtype.kind == "i":
            q = q + ((rem != 0) & ((a < 0) != (safe < 0))).astype(dtype)
    if bool(zero.any()):
        with np.errstate(all="ignore"):
            alt = from_float(xp, xp.true_divide(_f64(xp.asarray(a)), _f64(b_arr)), dtype)
        q = xp.where(zero, alt, q)
    return q.astype(dtype, copy=False)


def _int_pow(xp: Any, a: Any, b: Any, dtype: np.dtype) -> Any:
    with np.errstate(all="ignore"):
        return from_float(xp, xp.power(_f64(xp.asarray(a)), _f64(xp.asarray(b))), dtype)


def _mod(xp: Any, a: Any, b: Any) -> Any:
    """Modulo with the divisor's sign; MXNet gives 0 (not NaN) for a float modulo by zero."""
    res = xp.mod(a, b)
    if res.dtype.kind == "f":
        res = xp.where(xp.asarray(b) == 0, res.dtype.type(0), res)
    return res


_FLOAT_BINARY: dict[str, Callable[[Any, Any, Any], Any]] = {
    "add": lambda xp, a, b: xp.add(a, b),
    "sub": lambda xp, a, b: xp.subtract(a, b),
    "mul": lambda xp, a, b: xp.multiply(a, b),
    "div": lambda xp, a, b: xp.true_divide(a, b),
    "mod": lambda xp, a, b: _mod(xp, a, b),
    "pow": lambda xp, a, b: xp.power(a, b),
    "maximum": lambda xp, a, b: xp.maximum(a, b),
    "minimum": lambda xp, a, b: xp.minimum(a, b),
    "equal": lambda xp, a, b: xp.equal(a, b),
    "not_equal": lambda xp, a, b: xp.not_equal(a, b),
    "greater": lambda xp, a, b: xp.greater(a, b),
    "greater_equal": lambda xp, a, b: xp.greater_equal(a, b),
    "lesser": lambda xp, a, b: xp.less(a, b),
    "lesser_equal": lambda xp, a, b: xp.less_equal(a, b),
}

BINARY_OPS = frozenset(_FLOAT_BINARY)


def binary_raw(op: str, xp: Any, a: Any, b: Any, compute: np.dtype, out: np.dtype) -> Any:
    """``a <op> b`` computed in ``compute`` and returned as ``out`` (both raw arrays or scalars
    already converted to ``compute``; broadcasting as NumPy)."""
    with np.errstate(all="ignore"):
        if compute.kind in "iub" and op == "div" and out.kind in "iu":
            res = _int_div(xp, a, b, compute)
        elif compute.kind in "iu" and op == "pow":
            res = _int_pow(xp, a, b, compute)
        else:
            res = _FLOAT_BINARY[op](xp, a, b)
    res = xp.asarray(res)
    return res if res.dtype == out else res.astype(out)


def _sigmoid(xp: Any, a: Any) -> Any:
    return 1 / (1 + xp.exp(-a))


def _rint(xp: Any, a: Any) -> Any:
    """The nearest integer, ties toward -inf (``rint(1.5) = 1``, ``rint(-0.5) = -1``), as MXNet's
    ``rint`` (NumPy's rounds ties to even)."""
    lo, hi = xp.floor(a), xp.ceil(a)
    return xp.where(a - lo <= hi - a, lo, hi)


def _softrelu(xp: Any, a: Any) -> Any:
    return xp.logaddexp(0, a)


# Functions computed in floating point (integers go through float64 and convert back).
UNARY_FUNCS: dict[str, Callable[[Any, Any], Any]] = {
    "sqrt": lambda xp, a: xp.sqrt(a),
    "rsqrt": lambda xp, a: 1 / xp.sqrt(a),
    "exp": lambda xp, a: xp.exp(a),
    "log": lambda xp, a: xp.log(a),
    "log2": lambda xp, a: xp.log2(a),
    "log10": lambda xp, a: xp.log10(a),
    "log1p": lambda xp, a: xp.log1p(a),
    "expm1": lambda xp, a: xp.expm1(a),
    "reciprocal": lambda xp, a: 1 / a,
    "sigmoid": _sigmoid,
    "tanh": lambda xp, a: xp.tanh(a),
    "softrelu": _softrelu,
    "softsign": lambda xp, a: a / (1 + xp.abs(a)),
    "sin": lambda xp, a: xp.sin(a),
    "cos": lambda xp, a: xp.cos(a),
    "tan": lambda xp, a: xp.tan(a),
    "floor": lambda xp, a: xp.floor(a),
    "ceil": lambda xp, a: xp.ceil(a),
    "round": lambda xp, a: xp.where(a >= 0, xp.floor(a + 0.5), xp.ceil(a - 0.5)),
    "rint": _rint,
    "trunc": lambda xp, a: xp.trunc(a),
    "fix": lambda xp, a: xp.trunc(a),
    "cbrt": lambda xp, a: xp.cbrt(a),
    "rcbrt": lambda xp, a: 1 / xp.cbrt(a),
    "sinh": lambda xp, a: xp.sinh(a),
    "cosh": lambda xp, a: xp.cosh(a),
    "arcsin": lambda xp, a: xp.arcsin(a),
    "arccos": lambda xp, a: xp.arccos(a),
    "arctan": lambda xp, a: xp.arctan(a),
    "arcsinh": lambda xp, a: xp.arcsinh(a),
    "arccosh": lambda xp, a: xp.arccosh(a),
    "arctanh": lambda xp, a: xp.arctanh(a),
    "degrees": lambda xp, a: xp.degrees(a),
    "radians": lambda xp, a: xp.radians(a),
}
# Functions that stay in the input dtype (wrap-around for integers).
_SAME_DTYPE: dict[str, Callable[[Any, Any], Any]] = {
    "abs": lambda xp, a: xp.abs(a),
    "negative": lambda xp, a: xp.negative(a),
    "square": lambda xp, a: xp.multiply(a, a),
    "sign": lambda xp, a: xp.sign(a),
    "relu": lambda xp, a: xp.maximum(a, a.dtype.type(0)),
}

UNARY_OPS = frozenset(UNARY_FUNCS) | frozenset(_SAME_DTYPE)


def unary_raw(name: str, xp: Any, a: Any) -> Any:
    """``name(a)`` in ``a``'s dtype (integers through float64 for the math functions)."""
    with np.errstate(all="ignore"):
        if name in _SAME_DTYPE:
            return _SAME_DTYPE[name](xp, a)
        fn = UNARY_FUNCS[name]
        if a.dtype.kind in "iu":
            return from_float(xp, fn(xp, a.astype(np.float64)), a.dtype)
        if a.dtype.itemsize < 4:  # float16/bfloat16: compute in float32, round once
            return fn(xp, a.astype(np.float32)).astype(a.dtype)
        res = fn(xp, a)
        return res if res.dtype == a.dtype else res.astype(a.dtype)
