"""Functions of ``mx.np``: elementwise math, comparisons, reductions, shape and joining ops.

They share the ``mx.nd`` kernels; numpy-mode inputs make them follow NumPy-style semantics (bool
comparisons, dtype promotion, 0-d reductions). Array-like arguments that are not arrays (lists,
NumPy arrays) are converted with :func:`mxlite.numpy.array` first; Python scalars stay scalars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as onp

from mxlite.ndarray import op_layout, op_math, op_nn, op_reduce, op_shape
from mxlite.ndarray.ndarray import NDArray, is_scalar
from mxlite.numpy._creation import array

__all__ = [
    "abs",
    "absolute",
    "negative",
    "sqrt",
    "square",
    "exp",
    "log",
    "log2",
    "log10",
    "log1p",
    "expm1",
    "sign",
    "reciprocal",
    "tanh",
    "sin",
    "cos",
    "tan",
    "floor",
    "ceil",
    "rint",
    "trunc",
    "fix",
    "cbrt",
    "clip",
    "maximum",
    "minimum",
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "mod",
    "remainder",
    "power",
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "sum",
    "mean",
    "max",
    "min",
    "amax",
    "amin",
    "prod",
    "argmax",
    "argmin",
    "dot",
    "matmul",
    "concatenate",
    "stack",
    "reshape",
    "transpose",
    "expand_dims",
    "squeeze",
    "where",
    "broadcast_to",
    "tile",
    "repeat",
    "flip",
    "swapaxes",
    "copy",
    "shape",
    "ndim",
    "size",
]


def _arr(x: Any) -> Any:
    """``x`` as an mx.np array unless it already is an NDArray or a Python/NumPy scalar."""
    if isinstance(x, NDArray) or is_scalar(x):
        return x
    return array(x)


def _unary(fn: Any) -> Any:
    def op(x: Any, out: NDArray | None = None, **kwargs: Any) -> NDArray:
        return fn(_arr(x), out=out)

    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = fn.__doc__
    return op


abs = absolute = _unary(op_math.abs)  # noqa: A001 - NumPy's name
negative = _unary(op_math.negative)
sqrt = _unary(op_math.sqrt)
square = _unary(op_math.square)
exp = _unary(op_math.exp)
log = _unary(op_math.log)
log2 = _unary(op_math.log2)
log10 = _unary(op_math.log10)
log1p = _unary(op_math.log1p)
expm1 = _unary(op_math.expm1)
sign = _unary(op_math.sign)
reciprocal = _unary(op_math.reciprocal)
tanh = _unary(op_math.tanh)
sin = _unary(op_math.sin)
cos = _unary(op_math.cos)
tan = _unary(op_math.tan)
floor = _unary(op_math.floor)
ceil = _unary(op_math.ceil)
rint = _unary(op_math.rint)
trunc = _unary(op_math.trunc)
fix = _unary(op_math.fix)
cbrt = _unary(op_math.cbrt)


def clip(a: Any, a_min: Any, a_max: Any, out: NDArray | None = None) -> NDArray:
    """Clip values to ``[a_min, a_max]`` (None leaves that side open)."""
    x = _arr(a)
    lo = -float("inf") if a_min is None else a_min
    hi = float("inf") if a_max is None else a_max
    if x._data.dtype.kind in "iu":
        info = onp.iinfo(x._data.dtype)
        lo = info.min if a_min is None else lo
        hi = info.max if a_max is None else hi
    return op_math.clip(x, lo, hi, out=out)


def _binary(name: str, op: str | None = None) -> Any:
    """The NumPy-named function ``name(x1, x2, out=None)``: :func:`op_math.binary` for ``op``."""
    kernel = name if op is None else op

    def fn(x1: Any, x2: Any, out: NDArray | None = None, **kwargs: Any) -> NDArray:
        res = op_math.binary(kernel, _arr(x1), _arr(x2))
        return op_math.write_out(res, out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` with broadcasting and MXNet's numpy dtype rules."
    return fn


add = _binary("add")
subtract = _binary("subtract", "sub")
multiply = _binary("multiply", "mul")
divide = true_divide = _binary("divide", "div")
mod = remainder = _binary("mod")
power = _binary("power", "pow")
maximum = _binary("maximum")
minimum = _binary("minimum")
equal = _binary("equal")
not_equal = _binary("not_equal")
greater = _binary("greater")
greater_equal = _binary("greater_equal")
less = _binary("less", "lesser")
less_equal = _binary("less_equal", "lesser_equal")


def _reduce(fn: Any, name: str) -> Any:
    def op(
        a: Any,
        axis: Any = None,
        dtype: Any = None,
        out: NDArray | None = None,
        keepdims: bool = False,
        **kwargs: Any,
    ) -> NDArray:
        x = _arr(a)
        extra = {"dtype": dtype} if dtype is not None else {}
        return fn(x, axis=axis, keepdims=keepdims, out=out, **extra)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = fn.__doc__
    return op


sum = _reduce(op_reduce.sum, "sum")  # noqa: A001
mean = _reduce(op_reduce.mean, "mean")
prod = _reduce(op_reduce.prod, "prod")


def _extremum(fn: Any, name: str) -> Any:
    def op(
        a: Any, axis: Any = None, out: NDArray | None = None, keepdims: bool = False, **kwargs: Any
    ) -> NDArray:
        return fn(_arr(a), axis=axis, keepdims=keepdims, out=out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = fn.__doc__
    return op


max = amax = _extremum(op_reduce.max, "max")  # noqa: A001
min = amin = _extremum(op_reduce.min, "min")  # noqa: A001


def argmax(a: Any, axis: int | None = None, out: NDArray | None = None) -> NDArray:
    """Index (int64) of the maximum along ``axis`` (of the flattened array when None)."""
    return op_reduce.argmax(_arr(a), axis=axis, out=out)


def argmin(a: Any, axis: int | None = None, out: NDArray | None = None) -> NDArray:
    """Index (int64) of the minimum along ``axis`` (of the flattened array when None)."""
    return op_reduce.argmin(_arr(a), axis=axis, out=out)


def dot(a: Any, b: Any, out: NDArray | None = None) -> NDArray:
    """``numpy.dot``: inner product of vectors, matrix product, or sum-product over the last axis
    of ``a`` and the second-to-last of ``b``."""
    return op_nn.dot(_arr(a), _arr(b), out=out)


def matmul(a: Any, b: Any, out: NDArray | None = None) -> NDArray:
    """Matrix product (2-d inputs; batched for 3-d)."""
    x, y = _arr(a), _arr(b)
    if x.ndim == 3 and y.ndim == 3:
        return op_nn.batch_dot(x, y)
    return op_nn.dot(x, y, out=out)


def concatenate(seq: Sequence[Any], axis: int = 0, out: NDArray | None = None) -> NDArray:
    """Join arrays along an existing axis (default 0, as NumPy)."""
    return op_math.write_out(op_shape.concat(*[_arr(a) for a in seq], dim=axis), out)


def stack(arrays: Sequence[Any], axis: int = 0, out: NDArray | None = None) -> NDArray:
    """Join arrays of one shape along a new axis."""
    return op_math.write_out(op_shape.stack(*[_arr(a) for a in arrays], axis=axis), out)


def reshape(a: Any, newshape: Any, order: str = "C") -> NDArray:
    """``a.reshape(newshape)`` with NumPy's rules."""
    return _arr(a).reshape(newshape, order=order)


def transpose(a: Any, axes: Sequence[int] | None = None) -> NDArray:
    """Permute axes (reverse them by default)."""
    return op_shape.transpose(_arr(a), axes=axes)


def expand_dims(a: Any, axis: int) -> NDArray:
    """Insert a size-1 axis."""
    return op_shape.expand_dims(_arr(a), axis=axis)


def squeeze(a: Any, axis: Any = None) -> NDArray:
    """Drop size-1 axes."""
    return op_shape.squeeze(_arr(a), axis=axis)


def where(condition: Any, x: Any, y: Any) -> NDArray:
    """``x`` where ``condition`` holds, else ``y`` (scalars are broadcast)."""
    cond = _arr(condition)
    xa = x if isinstance(x, NDArray) else array(x, dtype=getattr(y, "dtype", None))
    ya = y if isinstance(y, NDArray) else array(y, dtype=xa._data.dtype)
    return op_shape.where(cond, xa, ya)


def broadcast_to(array_: Any, shape: Sequence[int]) -> NDArray:
    """Broadcast to ``shape`` (a copy)."""
    return op_shape.broadcast_to(_arr(array_), shape)


def tile(A: Any, reps: Any) -> NDArray:  # noqa: N803 - NumPy's name
    """Repeat the whole array ``reps`` times per axis."""
    return op_layout.tile(_arr(A), (reps,) if isinstance(reps, int) else reps)


def repeat(a: Any, repeats: int, axis: int | None = None) -> NDArray:
    """Repeat each element ``repeats`` times."""
    return op_layout.repeat(_arr(a), repeats, axis=axis)


def flip(m: Any, axis: Any = None) -> NDArray:
    """Reverse the order of elements along ``axis``."""
    return op_layout.flip(_arr(m), axis)


def swapaxes(a: Any, axis1: int, axis2: int) -> NDArray:
    """Exchange two axes."""
    return op_layout.swapaxes(_arr(a), axis1, axis2)


def copy(a: Any) -> NDArray:
    """A copy of ``a``."""
    return _arr(a).copy()


def shape(a: Any) -> tuple[int, ...]:
    """``a.shape``."""
    return _arr(a).shape


def ndim(a: Any) -> int:
    """``a.ndim``."""
    return _arr(a).ndim


def size(a: Any) -> int:
    """``a.size``."""
    return _arr(a).size
