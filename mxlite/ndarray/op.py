"""Array operations of ``mx.nd``: arithmetic, math, reductions, shape ops and layers' primitives.

Each op computes on the raw arrays with the array module of its inputs (numpy or cupy) and hands
the finished op to autograd (``autograd_record``) under a stable op name, with the attributes the
gradient rule needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError, dtype_np
from mxlite.ndarray.ndarray import (
    NDArray,
    as_raw,
    autograd_record,
    is_scalar,
    result_class,
    same_ctx,
)

_BINARY: dict[str, Callable[[Any, Any, Any], Any]] = {
    "add": lambda xp, a, b: xp.add(a, b),
    "sub": lambda xp, a, b: xp.subtract(a, b),
    "mul": lambda xp, a, b: xp.multiply(a, b),
    "div": lambda xp, a, b: xp.true_divide(a, b),
    "mod": lambda xp, a, b: xp.mod(a, b),
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
_COMPARISONS = {"equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal"}


def _np_mode(cls: type[NDArray]) -> bool:
    return cls._numpy_semantics()


def _broadcast_error(op: str, a: Any, b: Any, err: Exception) -> MXNetError:
    return MXNetError(
        f"{op}: operands could not be broadcast together with shapes "
        f"{tuple(np.shape(a))} and {tuple(np.shape(b))} ({err})"
    )


def _legacy_result(op: str, res: Any, dtype: Any) -> Any:
    """Legacy NDArray results keep the input dtype (comparisons give 0/1 of that dtype)."""
    if res.dtype != dtype:
        res = res.astype(dtype)
    return res


def binary(op: str, lhs: Any, rhs: Any) -> NDArray:
    """Elementwise ``lhs <op> rhs`` with broadcasting; either side may be a scalar."""
    cls = result_class(lhs, rhs)
    numpy_mode = _np_mode(cls)
    fn = _BINARY[op]
    if isinstance(lhs, NDArray) and isinstance(rhs, NDArray):
        ctx = same_ctx(op, lhs, rhs)
        a, b = lhs._data, as_raw(rhs, lhs)
        if not numpy_mode and a.dtype != b.dtype:
            raise MXNetError(
                f"{op}: incompatible input dtypes {a.dtype.name} and {b.dtype.name}; legacy "
                "NDArray ops need equal dtypes. Cast one side with .astype() first."
            )
        xp = backend.xp_of(a)
        try:
            res = fn(xp, a, b)
        except ValueError as err:
            raise _broadcast_error(op, a, b, err) from err
        if not numpy_mode:
            res = _legacy_result(op, res, a.dtype)
        out = cls(res, ctx)
        autograd_record(op, [lhs, rhs], out)
        return out
    arr_nd, scalar, reverse = (lhs, rhs, False) if isinstance(lhs, NDArray) else (rhs, lhs, True)
    if isinstance(scalar, np.ndarray) and not is_scalar(scalar):
        scalar = arr_nd._new(backend.to_ctx(scalar, arr_nd.context))
        return binary(op, scalar, arr_nd) if reverse else binary(op, arr_nd, scalar)
    if not is_scalar(scalar):
        return NotImplemented  # type: ignore[return-value]
    a = arr_nd._data
    xp = backend.xp_of(a)
    if numpy_mode:
        s: Any = scalar
    else:
        s = np.asarray(scalar).astype(a.dtype)[()]
    res = fn(xp, s, a) if reverse else fn(xp, a, s)
    if not numpy_mode:
        res = _legacy_result(op, res, a.dtype)
    elif op in _COMPARISONS:
        pass
    elif a.dtype.kind == "f" and res.dtype != a.dtype:
        res = res.astype(a.dtype)
    out = cls(res, arr_nd.context)
    autograd_record(op + "_scalar", [arr_nd], out, scalar=scalar, reverse=reverse)
    return out


def inplace(op: str, target: NDArray, other: Any) -> None:
    """``target <op>= other`` written into target's memory (views write through)."""
    value = as_raw(other, target)
    if isinstance(other, NDArray):
        same_ctx(op, target, other)
    xp = target._xp
    a = target._data
    fn = _BINARY[op]
    try:
        res = fn(xp, a, value)
    except ValueError as err:
        raise _broadcast_error(op, a, value, err) from err
    if res.shape != a.shape:
        raise MXNetError(
            f"in-place {op}: result shape {tuple(res.shape)} does not fit the target {target.shape}"
        )
    a[...] = res.astype(a.dtype, copy=False)


# ---------------------------------------------------------------------- unary math
def _unary(name: str, fn: Callable[[Any, Any], Any]) -> Callable[..., NDArray]:
    def op(
        data: NDArray, out: NDArray | None = None, name_: str | None = None, **kwargs: Any
    ) -> NDArray:
        res = fn(data._xp, data._data)
        if res.dtype != data._data.dtype and data._data.dtype.kind == "f":
            res = res.astype(data._data.dtype)
        result = data._new(res)
        autograd_record(name, [data], result)
        return _write_out(result, out)

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` of ``data``."
    return op


def _write_out(result: NDArray, out: NDArray | None) -> NDArray:
    if out is None:
        return result
    out._data[...] = backend.to_ctx(result._data, out.context).astype(out._data.dtype, copy=False)
    return out


def _sigmoid(xp: Any, a: Any) -> Any:
    return 1 / (1 + xp.exp(-a))


def _softrelu(xp: Any, a: Any) -> Any:
    return xp.logaddexp(0, a)


abs = _unary("abs", lambda xp, a: xp.abs(a))  # noqa: A001 - MXNet's name
negative = _unary("negative", lambda xp, a: xp.negative(a))
sqrt = _unary("sqrt", lambda xp, a: xp.sqrt(a))
rsqrt = _unary("rsqrt", lambda xp, a: 1 / xp.sqrt(a))
square = _unary("square", lambda xp, a: xp.square(a))
exp = _unary("exp", lambda xp, a: xp.exp(a))
log = _unary("log", lambda xp, a: xp.log(a))
sign = _unary("sign", lambda xp, a: xp.sign(a))
reciprocal = _unary("reciprocal", lambda xp, a: 1 / a)
relu = _unary("relu", lambda xp, a: xp.maximum(a, 0))
sigmoid = _unary("sigmoid", _sigmoid)
tanh = _unary("tanh", lambda xp, a: xp.tanh(a))
softrelu = _unary("softrelu", _softrelu)
softsign = _unary("softsign", lambda xp, a: a / (1 + xp.abs(a)))
floor = _unary("floor", lambda xp, a: xp.floor(a))
ceil = _unary("ceil", lambda xp, a: xp.ceil(a))
round = _unary("round", lambda xp, a: xp.round(a))  # noqa: A001
sin = _unary("sin", lambda xp, a: xp.sin(a))
cos = _unary("cos", lambda xp, a: xp.cos(a))
log1p = _unary("log1p", lambda xp, a: xp.log1p(a))
expm1 = _unary("expm1", lambda xp, a: xp.expm1(a))


def clip(
    data: NDArray, a_min: float, a_max: float, out: NDArray | None = None, **kwargs: Any
) -> NDArray:
    """Clip values to ``[a_min, a_max]``."""
    dt = data._data.dtype
    res = data._xp.clip(data._data, np.asarray(a_min, dtype=dt), np.asarray(a_max, dtype=dt))
    result = data._new(res)
    autograd_record("clip", [data], result, a_min=a_min, a_max=a_max)
    return _write_out(result, out)


def maximum(lhs: Any, rhs: Any, **kwargs: Any) -> NDArray:
    """Elementwise maximum (arrays broadcast; either side may be a scalar)."""
    return binary("maximum", lhs, rhs)


def minimum(lhs: Any, rhs: Any, **kwargs: Any) -> NDArray:
    """Elementwise minimum."""
    return binary("minimum", lhs, rhs)


def add(lhs: Any, rhs: Any) -> NDArray:
    """``lhs + rhs`` with broadcasting."""
    return binary("add", lhs, rhs)


def subtract(lhs: Any, rhs: Any) -> NDArray:
    """``lhs - rhs`` with broadcasting."""
    return binary("sub", lhs, rhs)


def multiply(lhs: Any, rhs: Any) -> NDArray:
    """``lhs * rhs`` with broadcasting."""
    return binary("mul", lhs, rhs)


def divide(lhs: Any, rhs: Any) -> NDArray:
    """``lhs / rhs`` with broadcasting."""
    return binary("div", lhs, rhs)


def power(base: Any, exp: Any) -> NDArray:
    """``base ** exp`` with broadcasting."""
    return binary("pow", base, exp)


broadcast_add = broadcast_plus = elemwise_add = add
broadcast_sub = broadcast_minus = elemwise_sub = subtract
broadcast_mul = elemwise_mul = multiply
broadcast_div = elemwise_div = divide
broadcast_power = power
broadcast_maximum = maximum
broadcast_minimum = minimum


def _cmp(name: str) -> Callable[[Any, Any], NDArray]:
    def op(lhs: Any, rhs: Any) -> NDArray:
        return binary(name, lhs, rhs)

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` comparison (1/0 in the input dtype; bool in numpy mode)."
    return op


equal = broadcast_equal = _cmp("equal")
not_equal = broadcast_not_equal = _cmp("not_equal")
greater = broadcast_greater = _cmp("greater")
greater_equal = broadcast_greater_equal = _cmp("greater_equal")
lesser = broadcast_lesser = _cmp("lesser")
lesser_equal = broadcast_lesser_equal = _cmp("lesser_equal")


# ---------------------------------------------------------------------- reductions
def _axes(axis: Any, ndim: int, exclude: bool) -> tuple[int, ...] | None:
    if axis is None or axis == ():
        return None if not exclude else ()
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % ndim for a in axes)
    if exclude:
        return tuple(i for i in range(ndim) if i not in axes)
    return axes


def _reduce(name: str, fn: Callable[..., Any]) -> Callable[..., NDArray]:
    def op(
        data: NDArray,
        axis: Any = None,
        keepdims: bool = False,
        exclude: bool = False,
        out: NDArray | None = None,
        **kwargs: Any,
    ) -> NDArray:
        axes = _axes(axis, data.ndim, exclude)
        res = fn(data._xp, data._data, axes, keepdims)
        if res.dtype != data._data.dtype and data._data.dtype.kind in "fiu":
            res = res.astype(data._data.dtype)
        if res.ndim == 0 and not data._numpy_semantics():
            res = res.reshape(1)
        result = data._new(res)
        autograd_record(name, [data], result, axis=axes, keepdims=keepdims)
        return _write_out(result, out)

    op.__name__ = name
    op.__doc__ = f"``{name}`` over ``axis`` (all axes by default; legacy results are at least 1-d)."
    return op


sum = _reduce("sum", lambda xp, a, ax, k: xp.sum(a, axis=ax, keepdims=k))  # noqa: A001
mean = _reduce("mean", lambda xp, a, ax, k: xp.mean(a, axis=ax, keepdims=k))
max = _reduce("max", lambda xp, a, ax, k: xp.max(a, axis=ax, keepdims=k))  # noqa: A001
min = _reduce("min", lambda xp, a, ax, k: xp.min(a, axis=ax, keepdims=k))  # noqa: A001
prod = _reduce("prod", lambda xp, a, ax, k: xp.prod(a, axis=ax, keepdims=k))
nansum = _reduce("nansum", lambda xp, a, ax, k: xp.nansum(a, axis=ax, keepdims=k))
sum_axis = sum


def norm(
    data: NDArray, ord: int = 2, axis: Any = None, keepdims: bool = False, **kwargs: Any
) -> NDArray:
    """L2 (``ord=2``) or L1 (``ord=1``) norm over ``axis`` (all axes by default)."""
    if ord not in (1, 2):
        raise ValueError(f"norm: ord must be 1 or 2, got {ord}")
    xp = data._xp
    axes = _axes(axis, data.ndim, False)
    a = data._data
    res = (
        xp.sum(xp.abs(a), axis=axes, keepdims=keepdims)
        if ord == 1
        else xp.sqrt(
            xp.sum(
                xp.square(a.astype(np.float64) if a.dtype == np.float16 else a),
                axis=axes,
                keepdims=keepdims,
            )
        )
    )
    res = res.astype(a.dtype)
    if res.ndim == 0 and not data._numpy_semantics():
        res = res.reshape(1)
    result = data._new(res)
    autograd_record("norm", [data], result, ord=ord, axis=axes, keepdims=keepdims)
    return result


def argmax(
    data: NDArray, axis: int | None = None, keepdims: bool = False, **kwargs: Any
) -> NDArray:
    """Index of the maximum along ``axis`` (float32 indices, like MXNet's legacy op)."""
    res = data._xp.argmax(data._data, axis=axis)
    if keepdims and axis is not None:
        res = data._xp.expand_dims(res, axis)
    dtype = np.int64 if data._numpy_semantics() else data._data.dtype
    res = res.astype(dtype)
    if res.ndim == 0 and not data._numpy_semantics():
        res = res.reshape(1)
    return data._new(res)


def argmin(
    data: NDArray, axis: int | None = None, keepdims: bool = False, **kwargs: Any
) -> NDArray:
    """Index of the minimum along ``axis``."""
    return argmax(negative(data), axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------- linear algebra, layers
def dot(
    lhs: NDArray, rhs: NDArray, transpose_a: bool = False, transpose_b: bool = False, **kwargs: Any
) -> NDArray:
    """Matrix product; for N-d inputs, contracts the last axis of lhs with the first of rhs."""
    ctx = same_ctx("dot", lhs, rhs)
    a, b = lhs._data, rhs._data
    if a.dtype != b.dtype and not lhs._numpy_semantics():
        raise MXNetError(f"dot: incompatible dtypes {a.dtype.name} and {b.dtype.name}")
    xp = lhs._xp
    if transpose_a:
        a = a.T
    if transpose_b:
        b = b.T
    if a.ndim == 0 or b.ndim == 0:
        res = a * b
    else:
        if a.shape[-1] != b.shape[0]:
            raise MXNetError(
                f"dot: shape mismatch, lhs {tuple(a.shape)} and rhs {tuple(b.shape)} "
                f"(transpose_a={transpose_a}, transpose_b={transpose_b})"
            )
        res = xp.tensordot(a, b, axes=([a.ndim - 1], [0]))
    out = result_class(lhs)(res, ctx)
    autograd_record("dot", [lhs, rhs], out, transpose_a=transpose_a, transpose_b=transpose_b)
    return out


def batch_dot(
    lhs: NDArray, rhs: NDArray, transpose_a: bool = False, transpose_b: bool = False, **kwargs: Any
) -> NDArray:
    """Batched matrix product over the leading axis."""
    ctx = same_ctx("batch_dot", lhs, rhs)
    a, b = lhs._data, rhs._data
    if transpose_a:
        a = a.swapaxes(-1, -2)
    if transpose_b:
        b = b.swapaxes(-1, -2)
    out = result_class(lhs)(lhs._xp.matmul(a, b), ctx)
    autograd_record("batch_dot", [lhs, rhs], out, transpose_a=transpose_a, transpose_b=transpose_b)
    return out


def FullyConnected(  # noqa: N802 - MXNet's name
    data: NDArray,
    weight: NDArray,
    bias: NDArray | None = None,
    num_hidden: int | None = None,
    no_bias: bool = False,
    flatten: bool = True,
    **kwargs: Any,
) -> NDArray:
    """``data @ weight.T + bias``; with ``flatten`` the input is collapsed to 2-d first."""
    x = data.reshape((data.shape[0], -1)) if flatten and data.ndim != 2 else data
    out = dot(x, weight, transpose_b=True)
    if not no_bias and bias is not None:
        out = binary("add", out, bias)
    return out


def Activation(data: NDArray, act_type: str = "relu", **kwargs: Any) -> NDArray:  # noqa: N802
    """Elementwise activation: relu, sigmoid, tanh, softrelu or softsign."""
    fns = {
        "relu": relu,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "softrelu": softrelu,
        "softsign": softsign,
    }
    if act_type not in fns:
        raise MXNetError(
            f"Activation: unknown act_type {act_type!r}; expected one of {sorted(fns)}"
        )
    return fns[act_type](data)


def LeakyReLU(
    data: NDArray, act_type: str = "leaky", slope: float = 0.25, **kwargs: Any
) -> NDArray:  # noqa: N802
    """Leaky ReLU: ``x`` where positive, ``slope * x`` elsewhere."""
    if act_type != "leaky":
        raise NotImplementedError(f"LeakyReLU act_type={act_type!r} is not supported; use 'leaky'.")
    pos = binary("mul", data, 1.0)
    return binary("maximum", pos, binary("mul", data, slope))


def softmax(
    data: NDArray, axis: int = -1, temperature: float | None = None, **kwargs: Any
) -> NDArray:
    """Softmax along ``axis`` (numerically stable)."""
    xp = data._xp
    a = data._data if temperature is None else data._data / temperature
    shifted = a - xp.max(a, axis=axis, keepdims=True)
    e = xp.exp(shifted)
    res = (e / xp.sum(e, axis=axis, keepdims=True)).astype(data._data.dtype)
    out = data._new(res)
    autograd_record("softmax", [data], out, axis=axis, temperature=temperature)
    return out


def log_softmax(
    data: NDArray, axis: int = -1, temperature: float | None = None, **kwargs: Any
) -> NDArray:
    """Log of softmax along ``axis`` (numerically stable)."""
    xp = data._xp
    a = data._data if temperature is None else data._data / temperature
    shifted = a - xp.max(a, axis=axis, keepdims=True)
    res = (shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))).astype(
        data._data.dtype
    )
    out = data._new(res)
    autograd_record("log_softmax", [data], out, axis=axis, temperature=temperature)
    return out


def pick(
    data: NDArray, index: NDArray, axis: int = -1, keepdims: bool = False, **kwargs: Any
) -> NDArray:
    """``data[..., index[...], ...]`` along ``axis``, one element per position of ``index``."""
    xp = data._xp
    idx = as_raw(index, data).astype(np.int64)
    ax = axis % data.ndim
    idx = xp.clip(idx, 0, data.shape[ax] - 1)
    res = xp.take_along_axis(data._data, xp.expand_dims(idx, ax), axis=ax)
    if not keepdims:
        res = xp.squeeze(res, axis=ax)
    out = data._new(res)
    autograd_record("pick", [data], out, index=idx, axis=ax, keepdims=keepdims)
    return out


def one_hot(
    indices: NDArray,
    depth: int,
    on_value: float = 1.0,
    off_value: float = 0.0,
    dtype: Any = "float32",
    **kwargs: Any,
) -> NDArray:
    """One-hot encoding along a new last axis."""
    xp = indices._xp
    idx = indices._data.astype(np.int64)
    res = xp.full(idx.shape + (depth,), off_value, dtype=dtype_np(dtype))
    valid = (idx >= 0) & (idx < depth)
    xp.put_along_axis(
        res,
        xp.expand_dims(xp.where(valid, idx, 0), -1),
        xp.expand_dims(xp.where(valid, on_value, off_value).astype(res.dtype), -1),
        axis=-1,
    )
    return indices._new(res)


# ---------------------------------------------------------------------- shape ops
def transpose(data: NDArray, axes: Sequence[int] | None = None, **kwargs: Any) -> NDArray:
    """Permute axes (reversed by default)."""
    ax = tuple(axes) if axes else None
    out = data._new(data._xp.ascontiguousarray(data._xp.transpose(data._data, ax)))
    autograd_record("transpose", [data], out, axes=ax)
    return out


def reshape(data: NDArray, shape: Sequence[int], reverse: bool = False, **kwargs: Any) -> NDArray:
    """Reshape with MXNet's special values (see :meth:`NDArray.reshape`)."""
    return data.reshape(tuple(shape), reverse=reverse)


def flatten(data: NDArray, **kwargs: Any) -> NDArray:
    """Collapse all axes but the first."""
    return data.flatten()


Flatten = flatten


def expand_dims(data: NDArray, axis: int, **kwargs: Any) -> NDArray:
    """Insert a size-1 axis at ``axis``."""
    shape = list(data.shape)
    ax = axis if axis >= 0 else axis + data.ndim + 1
    shape.insert(ax, 1)
    return data.reshape(tuple(shape))


def broadcast_to(data: NDArray, shape: Sequence[int], **kwargs: Any) -> NDArray:
    """Broadcast to ``shape`` (0 in ``shape`` keeps the input size)."""
    target = tuple(s if s != 0 else d for s, d in zip(shape, data.shape, strict=False))
    target = target + tuple(shape[len(target) :])
    try:
        res = data._xp.broadcast_to(data._data, target).copy()
    except ValueError as err:
        raise _broadcast_error("broadcast_to", data._data, np.empty(target), err) from err
    out = data._new(res)
    autograd_record("broadcast_to", [data], out, shape=target)
    return out


def concat(*data: NDArray, dim: int = 1, **kwargs: Any) -> NDArray:
    """Join arrays along ``dim``."""
    if not data:
        raise MXNetError("concat needs at least one input array")
    ctx = same_ctx("concat", *data)
    xp = data[0]._xp
    try:
        res = xp.concatenate([as_raw(d, data[0]) for d in data], axis=dim)
    except ValueError as err:
        raise MXNetError(
            f"concat: shapes {[d.shape for d in data]} do not match off dim {dim}"
        ) from err
    out = result_class(*data)(res, ctx)
    autograd_record("concat", list(data), out, dim=dim)
    return out


def stack(*data: NDArray, axis: int = 0, **kwargs: Any) -> NDArray:
    """Join arrays along a new axis."""
    if not data:
        raise MXNetError("stack needs at least one input array")
    ctx = same_ctx("stack", *data)
    xp = data[0]._xp
    try:
        res = xp.stack([as_raw(d, data[0]) for d in data], axis=axis)
    except ValueError as err:
        raise MXNetError(
            f"stack: every input needs the same shape, got {[d.shape for d in data]}"
        ) from err
    out = result_class(*data)(res, ctx)
    autograd_record("stack", list(data), out, axis=axis)
    return out


def add_n(*args: NDArray, **kwargs: Any) -> NDArray:
    """Elementwise sum of all inputs."""
    if not args:
        raise MXNetError("add_n needs at least one input array")
    ctx = same_ctx("add_n", *args)
    res = args[0]._data.copy()
    for a in args[1:]:
        res += as_raw(a, args[0])
    out = result_class(*args)(res, ctx)
    autograd_record("add_n", list(args), out)
    return out


ElementWiseSum = add_n


def where(condition: NDArray, x: NDArray, y: NDArray, **kwargs: Any) -> NDArray:
    """``x`` where ``condition`` is nonzero, else ``y``."""
    ctx = same_ctx("where", condition, x, y)
    xp = x._xp
    cond = condition._data != 0
    out = result_class(x)(xp.where(cond, x._data, as_raw(y, x)), ctx)
    autograd_record("where", [x, y], out, condition=cond)
    return out


def slice_axis(data: NDArray, axis: int, begin: int, end: int | None, **kwargs: Any) -> NDArray:
    """Slice ``[begin, end)`` along ``axis`` (a copy)."""
    key = [slice(None)] * data.ndim
    key[axis] = slice(begin, end)
    res = data._data[tuple(key)].copy()
    out = data._new(res)
    autograd_record("slice_axis", [data], out, axis=axis % data.ndim, begin=begin, end=end)
    return out


def split(
    data: NDArray, num_outputs: int, axis: int = 1, squeeze_axis: bool = False, **kwargs: Any
) -> list[NDArray] | NDArray:
    """Split into ``num_outputs`` equal parts along ``axis``."""
    size = data.shape[axis]
    if size % num_outputs:
        raise MXNetError(f"split: axis {axis} of size {size} is not divisible by {num_outputs}")
    step = size // num_outputs
    parts = [slice_axis(data, axis, i * step, (i + 1) * step) for i in range(num_outputs)]
    if squeeze_axis and step == 1:
        parts = [
            p.reshape(tuple(d for i, d in enumerate(p.shape) if i != axis % data.ndim))
            for p in parts
        ]
    return parts[0] if num_outputs == 1 else parts


def zeros_like(data: NDArray, out: NDArray | None = None, **kwargs: Any) -> NDArray:
    """Zeros of ``data``'s shape, dtype and context (written into ``out`` when given)."""
    if out is not None:
        out._data[...] = 0
        return out
    return data._new(data._xp.zeros_like(data._data))


def ones_like(data: NDArray, out: NDArray | None = None, **kwargs: Any) -> NDArray:
    """Ones of ``data``'s shape, dtype and context (written into ``out`` when given)."""
    if out is not None:
        out._data[...] = 1
        return out
    return data._new(data._xp.ones_like(data._data))


def cast(data: NDArray, dtype: Any, **kwargs: Any) -> NDArray:
    """``data.astype(dtype)``."""
    return data.astype(dtype)


Cast = cast


def stop_gradient(data: NDArray, **kwargs: Any) -> NDArray:
    """The same values, cut from the autograd graph."""
    return data.detach()


BlockGrad = stop_gradient

# Methods available on NDArray as ``x.name(...)``.
FLUENT: dict[str, Callable[..., Any]] = dict(
    {
        "abs": abs,
        "sqrt": sqrt,
        "rsqrt": rsqrt,
        "square": square,
        "exp": exp,
        "log": log,
        "sign": sign,
        "reciprocal": reciprocal,
        "relu": relu,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "softrelu": softrelu,
        "floor": floor,
        "ceil": ceil,
        "round": round,
        "sin": sin,
        "cos": cos,
        "log1p": log1p,
        "expm1": expm1,
        "clip": clip,
        "sum": sum,
        "mean": mean,
        "max": max,
        "min": min,
        "prod": prod,
        "nansum": nansum,
        "norm": norm,
        "argmax": argmax,
        "argmin": argmin,
        "dot": dot,
        "softmax": softmax,
        "log_softmax": log_softmax,
        "pick": pick,
        "one_hot": one_hot,
        "split": split,
        "slice_axis": slice_axis,
        "zeros_like": zeros_like,
        "ones_like": ones_like,
        "negative": negative,
        "maximum": maximum,
        "minimum": minimum,
        "stop_gradient": stop_gradient,
    }
)
