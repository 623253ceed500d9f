"""Elementwise ops of ``mx.nd``: operators (``+ - * / % **``, comparisons), in-place updates and math.

Result dtypes come from :mod:`mxlite.ndarray._dtype_rules`, kernels from
:mod:`mxlite.ndarray._elementwise`. Every differentiable op hands its result to autograd under a
stable name: ``add``/``sub``/``mul``/``div``/``mod``/``pow``/``maximum``/``minimum`` between two
arrays, ``<op>_scalar`` (attrs ``scalar``, ``reverse``) with a Python scalar, the function's name
for unary math, ``clip`` (``a_min``, ``a_max``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mxlite import autograd
from mxlite.base import MXNetError
from mxlite.ndarray import _dtype_rules, _elementwise, _indexing, _quiet
from mxlite.ndarray.ndarray import (
    NDArray,
    as_raw,
    autograd_record,
    is_scalar,
    on_device,
    out_ctx,
    result_class,
    same_ctx,
)

__all__ = [
    "binary",
    "inplace",
    "write_out",
    "abs",
    "negative",
    "sqrt",
    "rsqrt",
    "square",
    "exp",
    "log",
    "log2",
    "log10",
    "sign",
    "reciprocal",
    "relu",
    "sigmoid",
    "tanh",
    "softrelu",
    "softsign",
    "floor",
    "ceil",
    "round",
    "rint",
    "trunc",
    "fix",
    "sin",
    "cos",
    "tan",
    "log1p",
    "expm1",
    "cbrt",
    "clip",
    "maximum",
    "minimum",
    "add",
    "subtract",
    "multiply",
    "divide",
    "modulo",
    "power",
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "lesser",
    "lesser_equal",
]

_OP_SYMBOL = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "mod": "%",
    "pow": "**",
}


def _np_mode(*operands: Any) -> bool:
    return any(isinstance(x, NDArray) and x._numpy_semantics() for x in operands)


def _unsupported(value: Any) -> TypeError:
    return TypeError(f"type {type(value)} not supported")


def _broadcast_error(op: str, a: Any, b: Any) -> MXNetError:
    return MXNetError(
        f"{op}: operands could not be broadcast together with shapes "
        f"{tuple(np.shape(a))} and {tuple(np.shape(b))}"
    )


def _pair(op: str, lhs: NDArray, rhs: NDArray, numpy_mode: bool) -> tuple[Any, Any, Any, Any]:
    """Raw operands cast to the compute dtype, and (compute, result) dtypes, for array <op> array."""
    a, b = lhs._data, as_raw(rhs, lhs)
    if numpy_mode:
        res_dt = _dtype_rules.np_pair_dtype(op, a.dtype, b.dtype)
        compute = a.dtype if op in _dtype_rules.COMPARISONS else res_dt
    else:
        res_dt = compute = _dtype_rules.legacy_pair_dtype(op, a.dtype, b.dtype)
    if a.dtype != compute:
        a = a.astype(compute)
    if b.dtype != compute:
        b = b.astype(compute)
    return a, b, compute, res_dt


# Arithmetic whose legacy result, for two float operands of one dtype (or a float operand and a
# Python scalar), is NumPy's ufunc in that dtype: :func:`binary`'s fast path.
_FAST_UFUNCS = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
}
_EXACT_INT = 1 << 53  # Python ints below this convert to a float dtype as int64 would


def binary(op: str, lhs: Any, rhs: Any) -> NDArray:
    """Elementwise ``lhs <op> rhs`` with broadcasting; either side may be a Python/NumPy scalar.

    Raises:
        TypeError: the other operand is neither an NDArray nor a scalar (lists and NumPy arrays
            included, as in MXNet).
        MXNetError: dtypes MXNet does not combine, shapes that do not broadcast, or arrays on a
            GPU and a host context.
    """
    # Fast path: legacy NDArrays on the host, one float dtype, plain arithmetic. It computes
    # what the general path computes (the same ufunc in the same dtype) with fewer checks.
    ufunc = _FAST_UFUNCS.get(op)
    if ufunc is not None and type(lhs) is NDArray:
        a = lhs._data
        if type(a) is np.ndarray and a.dtype.kind == "f":
            kind = type(rhs)
            if kind is NDArray:
                b = rhs._data
                if type(b) is not np.ndarray or b.dtype != a.dtype:
                    return _binary(op, lhs, rhs)
            elif kind is float or (kind is int and -_EXACT_INT < rhs < _EXACT_INT):
                b = None
            else:
                return _binary(op, lhs, rhs)
            token = _quiet.enter()
            try:
                if b is None:
                    b = a.dtype.type(rhs)  # overflow to inf, as MXNet's cast, without a warning
                res = ufunc(a, b)
            except ValueError as err:
                raise _broadcast_error(op, a, b) from err
            finally:
                _quiet.leave(token)
            out = NDArray(res, out_ctx(lhs._ctx))
            if autograd.is_recording():
                if kind is NDArray:
                    autograd.record_op(op, [lhs, rhs], out, {})
                else:
                    autograd.record_op(
                        op + "_scalar", [lhs], out, {"scalar": rhs, "reverse": False}
                    )
            return out
    return _binary(op, lhs, rhs)


@on_device
def _binary(op: str, lhs: Any, rhs: Any) -> NDArray:
    """:func:`binary`'s general path: every dtype rule, numpy mode, devices."""
    cls = result_class(lhs, rhs)
    numpy_mode = _np_mode(lhs, rhs)
    if isinstance(lhs, NDArray) and isinstance(rhs, NDArray):
        ctx = same_ctx(op, lhs, rhs)
        a, b, compute, res_dt = _pair(op, lhs, rhs, numpy_mode)
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError as err:
            raise _broadcast_error(op, a, b) from err
        res = _elementwise.binary_raw(op, lhs._xp, a, b, compute, res_dt)
        out = cls(res, out_ctx(ctx))
        autograd_record(op, [lhs, rhs], out)
        return out
    arr_nd, scalar, reverse = (lhs, rhs, False) if isinstance(lhs, NDArray) else (rhs, lhs, True)
    if not is_scalar(scalar):
        raise _unsupported(scalar)
    a = arr_nd._data
    compute, res_dt = _dtype_rules.scalar_dtypes(op, a.dtype, numpy_mode)
    if a.dtype != compute:
        a = a.astype(compute)
    s = _dtype_rules.cast_scalar(scalar, compute)
    xp = arr_nd._xp
    res = (
        _elementwise.binary_raw(op, xp, s, a, compute, res_dt)
        if reverse
        else _elementwise.binary_raw(op, xp, a, s, compute, res_dt)
    )
    if res.shape != a.shape:  # a 0-d input stays 0-d
        res = res.reshape(a.shape)
    out = cls(res, out_ctx(arr_nd.context))
    autograd_record(op + "_scalar", [arr_nd], out, scalar=scalar, reverse=reverse)
    return out


@on_device
def inplace(op: str, target: NDArray, other: Any) -> None:
    """``target <op>= other``, written into target's memory (views write through).

    Raises:
        TypeError: ``other`` is neither an NDArray nor a scalar.
        MXNetError: the result would change target's dtype or shape, or the arrays are on a GPU
            and a host context.
    """
    if not isinstance(other, NDArray) and not is_scalar(other):
        raise _unsupported(other)
    autograd.check_assignable(target)
    _indexing.check_inplace_value(other)
    res = binary(op, target, other)
    if res._data.dtype != target._data.dtype:
        raise MXNetError(
            f"in-place {_OP_SYMBOL.get(op, op)}=: Type inconsistent, Provided = "
            f"{target._data.dtype.name}, inferred type = {res._data.dtype.name}. The result "
            "cannot be stored in the target; use the out-of-place operator instead."
        )
    if res.shape != target.shape:
        raise MXNetError(
            f"in-place {_OP_SYMBOL.get(op, op)}=: Shape inconsistent, Provided = "
            f"{list(target.shape)}, inferred shape={list(res.shape)}."
        )
    target._data[...] = res._data


def write_out(result: NDArray, out: NDArray | None) -> NDArray:
    """``result``, or ``out`` after copying ``result`` into it (MXNet's ``out=`` argument)."""
    if out is None:
        return result
    if out.shape != result.shape:
        raise MXNetError(
            f"out= has shape {out.shape}, but the result has shape {result.shape}. Pass an "
            "array of the result's shape."
        )
    return result.copyto(out)


# ---------------------------------------------------------------------- unary math
def _unary(name: str, recorded_as: str | None = None) -> Callable[..., NDArray]:
    """The op ``name`` (a kernel of :mod:`._elementwise`), recorded for autograd under
    ``recorded_as`` (default ``name``): a second name gives the same forward another rule."""
    grad_name = recorded_as or name

    def op(
        data: NDArray, out: NDArray | None = None, name: str | None = None, **kwargs: Any
    ) -> NDArray:
        if not isinstance(data, NDArray):
            raise TypeError(f"{op.__name__}: expected an NDArray, got {type(data)}")
        if data._data.dtype == np.bool_:
            raise MXNetError(
                f"{op.__name__}: bool inputs are not supported; cast with .astype() first."
            )
        res = _elementwise.unary_raw(op.__name__, data._xp, data._data)
        result = type(data)(res, out_ctx(data.context))
        autograd_record(grad_name, [data], result)
        return write_out(result, out)

    op.__name__ = name
    op.__qualname__ = name
    op.__doc__ = (
        f"Elementwise ``{name}`` of ``data``, in its dtype (integers compute in float64 and "
        "truncate back). ``out=`` receives the result when given."
    )
    return on_device(op)


abs = _unary("abs")  # noqa: A001 - MXNet's name
negative = _unary("negative")
sqrt = _unary("sqrt")
rsqrt = _unary("rsqrt")
square = _unary("square")
exp = _unary("exp")
log = _unary("log")
log2 = _unary("log2")
log10 = _unary("log10")
sign = _unary("sign")
reciprocal = _unary("reciprocal")
relu = _unary("relu")
# nd.Activation(act_type='relu'): the same values, but MXNet's Activation kernel gives a zero
# gradient at NaN where nd.relu gives NaN.
activation_relu = _unary("relu", recorded_as="Activation_relu")
sigmoid = _unary("sigmoid")
tanh = _unary("tanh")
softrelu = _unary("softrelu")
softsign = _unary("softsign")
floor = _unary("floor")
ceil = _unary("ceil")
round = _unary("round")  # noqa: A001
rint = _unary("rint")
trunc = _unary("trunc")
fix = _unary("fix")
sin = _unary("sin")
cos = _unary("cos")
tan = _unary("tan")
log1p = _unary("log1p")
expm1 = _unary("expm1")
cbrt = _unary("cbrt")


@on_device
def clip(
    data: NDArray, a_min: float, a_max: float, out: NDArray | None = None, **kwargs: Any
) -> NDArray:
    """Clip values to ``[a_min, a_max]`` (the bounds are cast to ``data``'s dtype)."""
    dt = data._data.dtype
    lo = _dtype_rules.cast_scalar(a_min, dt)
    hi = _dtype_rules.cast_scalar(a_max, dt)
    res = data._xp.minimum(data._xp.maximum(data._data, lo), hi).astype(dt, copy=False)
    result = type(data)(res, out_ctx(data.context))
    autograd_record("clip", [data], result, a_min=a_min, a_max=a_max)
    return write_out(result, out)


def _binary_fn(name: str, op: str, doc: str) -> Callable[..., NDArray]:
    """The public function ``name(lhs, rhs)``: :func:`binary` for ``op``."""

    def fn(lhs: Any, rhs: Any, **kwargs: Any) -> NDArray:
        return binary(op, lhs, rhs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


maximum = _binary_fn(
    "maximum", "maximum", "Elementwise maximum (arrays broadcast; either side may be a scalar)."
)
minimum = _binary_fn("minimum", "minimum", "Elementwise minimum.")
add = _binary_fn("add", "add", "``lhs + rhs`` with broadcasting.")
subtract = _binary_fn("subtract", "sub", "``lhs - rhs`` with broadcasting.")
multiply = _binary_fn("multiply", "mul", "``lhs * rhs`` with broadcasting.")
divide = _binary_fn(
    "divide",
    "div",
    "``lhs / rhs`` with broadcasting (integers truncate toward zero in legacy mode).",
)
modulo = _binary_fn(
    "modulo", "mod", "``lhs % rhs`` with broadcasting (the result takes the divisor's sign)."
)


def power(base: Any, exp: Any, **kwargs: Any) -> NDArray:
    """``base ** exp`` with broadcasting."""
    return binary("pow", base, exp)


_CMP_DOC = "Elementwise ``{}`` comparison (1/0 in the input dtype; bool in numpy mode)."
equal = _binary_fn("equal", "equal", _CMP_DOC.format("equal"))
not_equal = _binary_fn("not_equal", "not_equal", _CMP_DOC.format("not_equal"))
greater = _binary_fn("greater", "greater", _CMP_DOC.format("greater"))
greater_equal = _binary_fn("greater_equal", "greater_equal", _CMP_DOC.format("greater_equal"))
lesser = _binary_fn("lesser", "lesser", _CMP_DOC.format("lesser"))
lesser_equal = _binary_fn("lesser_equal", "lesser_equal", _CMP_DOC.format("lesser_equal"))
