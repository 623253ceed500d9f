"""Linear algebra and layer primitives of ``mx.nd``: dot, batch_dot, FullyConnected, Activation,
LeakyReLU, softmax, log_softmax, pick, one_hot.

Recorded for autograd as ``dot``/``batch_dot`` (attrs ``transpose_a``, ``transpose_b``),
``softmax``/``log_softmax`` (``axis``, ``temperature``), ``pick`` (``index``, ``axis``,
``keepdims``); FullyConnected and the activations are compositions of recorded ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite.base import MXNetError, dtype_np
from mxlite.ndarray import _dtype_rules
from mxlite.ndarray.ndarray import (
    NDArray,
    as_raw,
    autograd_record,
    on_device,
    out_ctx,
    same_ctx,
)
from mxlite.ndarray.op_math import binary, relu, sigmoid, softrelu, softsign, tanh, write_out

__all__ = [
    "dot",
    "batch_dot",
    "FullyConnected",
    "Activation",
    "LeakyReLU",
    "softmax",
    "log_softmax",
    "pick",
    "one_hot",
]


def _operands(op: str, lhs: NDArray, rhs: NDArray) -> tuple[Any, Any]:
    a, b = lhs._data, as_raw(rhs, lhs)
    if lhs._numpy_semantics() or rhs._numpy_semantics():
        dt = _dtype_rules.np_pair_dtype("mul", a.dtype, b.dtype)
        return a.astype(dt, copy=False), b.astype(dt, copy=False)
    if a.dtype != b.dtype:
        raise MXNetError(
            f"{op}: incompatible input dtypes {a.dtype.name} and {b.dtype.name}; cast one side "
            "with .astype() first."
        )
    return a, b


@on_device
def dot(
    lhs: NDArray,
    rhs: NDArray,
    transpose_a: bool = False,
    transpose_b: bool = False,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Matrix product. Legacy N-d inputs contract the last axis of ``lhs`` with the first axis of
    ``rhs`` (``transpose_a``/``transpose_b`` reverse all axes first); numpy mode follows
    ``numpy.dot``. Two 1-d inputs give shape ``(1,)`` (``()`` in numpy mode).

    Raises:
        MXNetError: the contracted dimensions differ, or (legacy) the dtypes differ.
    """
    ctx = same_ctx("dot", lhs, rhs)
    a, b = _operands("dot", lhs, rhs)
    xp = lhs._xp
    npm = lhs._numpy_semantics()
    if transpose_a:
        a = a.T
    if transpose_b:
        b = b.T
    if a.ndim == 0 or b.ndim == 0:
        res = a * b
    else:
        k_b = b.shape[-2] if npm and b.ndim >= 2 else b.shape[0]
        if a.shape[-1] != k_b:
            raise MXNetError(
                f"dot shape error: {list(a.shape)} X {list(b.shape)} (transpose_a={transpose_a}, "
                f"transpose_b={transpose_b}); the contracted dimensions {a.shape[-1]} and {k_b} "
                "differ."
            )
        res = xp.dot(a, b) if npm else xp.tensordot(a, b, axes=([a.ndim - 1], [0]))
    res = xp.asarray(res)
    if res.ndim == 0 and not npm:
        res = res.reshape(1)
    if not res.flags.c_contiguous:
        res = res.copy()
    result = type(lhs)(res, out_ctx(ctx))
    autograd_record("dot", [lhs, rhs], result, transpose_a=transpose_a, transpose_b=transpose_b)
    return write_out(result, out)


@on_device
def batch_dot(
    lhs: NDArray, rhs: NDArray, transpose_a: bool = False, transpose_b: bool = False, **kwargs: Any
) -> NDArray:
    """Batched matrix product over the leading axis: ``(B, n, k) x (B, k, m) -> (B, n, m)``."""
    ctx = same_ctx("batch_dot", lhs, rhs)
    a, b = _operands("batch_dot", lhs, rhs)
    if transpose_a:
        a = a.swapaxes(-1, -2)
    if transpose_b:
        b = b.swapaxes(-1, -2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise MXNetError(
            f"batch_dot shape error: {list(a.shape)} X {list(b.shape)}; expected "
            "(B, n, k) and (B, k, m)."
        )
    out = type(lhs)(lhs._xp.matmul(a, b), out_ctx(ctx))
    autograd_record("batch_dot", [lhs, rhs], out, transpose_a=transpose_a, transpose_b=transpose_b)
    return out


@on_device
def FullyConnected(  # noqa: N802 - MXNet's name
    data: NDArray,
    weight: NDArray,
    bias: NDArray | None = None,
    num_hidden: int | None = None,
    no_bias: bool = False,
    flatten: bool = True,
    **kwargs: Any,
) -> NDArray:
    """``data @ weight.T + bias``. With ``flatten`` the input is collapsed to ``(batch, -1)``;
    without, the product applies to the last axis.

    Raises:
        MXNetError: ``num_hidden`` disagrees with the weight, or shapes do not fit.
    """
    if num_hidden is not None and weight.shape[0] != num_hidden:
        raise MXNetError(
            f"FullyConnected: weight has shape {weight.shape} but num_hidden={num_hidden}"
        )
    x = data.reshape((data.shape[0], -1)) if flatten and data.ndim != 2 else data
    if not flatten and x.ndim > 2:
        lead = x.shape[:-1]
        out = dot(x.reshape((-1, x.shape[-1])), weight, transpose_b=True)
        out = out.reshape(lead + (weight.shape[0],))
    else:
        out = dot(x, weight, transpose_b=True)
    if not no_bias and bias is not None:
        out = binary("add", out, bias)
    return out


def Activation(data: NDArray, act_type: str = "relu", **kwargs: Any) -> NDArray:  # noqa: N802
    """Elementwise activation: ``relu``, ``sigmoid``, ``tanh``, ``softrelu`` or ``softsign``.

    Raises:
        MXNetError: an unknown ``act_type``.
    """
    fns = {
        "relu": relu,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "softrelu": softrelu,
        "softsign": softsign,
    }
    if act_type not in fns:
        raise MXNetError(
            f"Activation: invalid act_type {act_type!r}; valid values are {sorted(fns)}"
        )
    return fns[act_type](data)


def LeakyReLU(  # noqa: N802
    data: NDArray, act_type: str = "leaky", slope: float = 0.25, **kwargs: Any
) -> NDArray:
    """Leaky ReLU (``max(x, slope * x)``) or ELU (``x`` if positive else ``slope * (e^x - 1)``).

    Raises:
        NotImplementedError: other ``act_type`` values.
    """
    if act_type == "leaky":
        return binary("maximum", data, binary("mul", data, slope))
    if act_type == "elu":
        from mxlite.ndarray.op_math import expm1, maximum, minimum

        neg = binary("mul", expm1(minimum(data, 0.0)), slope)
        return binary("add", maximum(data, 0.0), neg)
    raise NotImplementedError(
        f"LeakyReLU act_type={act_type!r} is not supported; use 'leaky' or 'elu'."
    )


def _softmax_raw(xp: Any, a: Any, axis: int, temperature: float | None, log: bool) -> Any:
    work = a.astype(np.float32) if a.dtype.kind != "f" or a.dtype.itemsize < 4 else a
    if temperature is not None and temperature != 1.0:
        work = work / temperature
    shifted = work - xp.max(work, axis=axis, keepdims=True)
    if log:
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=axis, keepdims=True)


def _softmax_op(name: str, log: bool) -> Any:
    def op(
        data: NDArray,
        axis: int = -1,
        temperature: float | None = None,
        dtype: Any = None,
        out: NDArray | None = None,
        **kwargs: Any,
    ) -> NDArray:
        if data.ndim and not -data.ndim <= axis < data.ndim:
            raise MXNetError(f"{name}: axis {axis} out of range for shape {data.shape}")
        with np.errstate(all="ignore"):
            res = _softmax_raw(data._xp, data._data, axis, temperature, log)
        out_dt = dtype_np(dtype) if dtype is not None else data._data.dtype
        result = type(data)(res.astype(out_dt), out_ctx(data.context))
        autograd_record(name, [data], result, axis=axis, temperature=temperature)
        return write_out(result, out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{'Log of the s' if log else 'S'}oftmax along ``axis`` (numerically stable)."
    return on_device(op)


softmax = _softmax_op("softmax", log=False)
log_softmax = _softmax_op("log_softmax", log=True)


@on_device
def pick(
    data: NDArray,
    index: NDArray,
    axis: int = -1,
    keepdims: bool = False,
    mode: str = "clip",
    **kwargs: Any,
) -> NDArray:
    """``data[..., index[...], ...]`` along ``axis``: one element per position of ``index``.

    ``mode='clip'`` clamps indices to the valid range, ``'wrap'`` takes them modulo its size.
    """
    xp = data._xp
    ax = axis % data.ndim
    idx = as_raw(index, data).astype(np.int64)
    n = data.shape[ax]
    idx = xp.mod(idx, n) if mode == "wrap" else xp.clip(idx, 0, n - 1)
    if idx.ndim == data.ndim:
        idx = xp.squeeze(idx, axis=ax)
    res = xp.take_along_axis(data._data, xp.expand_dims(idx, ax), axis=ax)
    if not keepdims:
        res = xp.squeeze(res, axis=ax)
    out = type(data)(res, out_ctx(data.context))
    autograd_record("pick", [data], out, index=idx, axis=ax, keepdims=keepdims)
    return out


@on_device
def one_hot(
    indices: NDArray,
    depth: int,
    on_value: float = 1.0,
    off_value: float = 0.0,
    dtype: Any = "float32",
    **kwargs: Any,
) -> NDArray:
    """One-hot encoding along a new last axis (indices outside ``[0, depth)`` give all-off rows)."""
    xp = indices._xp
    idx = indices._data.astype(np.int64)
    dt = dtype_np(dtype)
    res = xp.full(idx.shape + (depth,), off_value, dtype=dt)
    valid = (idx >= 0) & (idx < depth)
    hot = xp.arange(depth) == xp.expand_dims(xp.where(valid, idx, -1), -1)
    res[hot] = _dtype_rules.cast_scalar(on_value, dt)
    return type(indices)(res, out_ctx(indices.context))
