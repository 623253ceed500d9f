"""Linear algebra and layer primitives of ``mx.nd``: dot, batch_dot, FullyConnected, Activation,
softmax, log_softmax, pick, one_hot (LeakyReLU is in :mod:`mxlite.ndarray.op_act`).

Recorded for autograd as ``dot``/``batch_dot`` (attrs ``transpose_a``, ``transpose_b``),
``softmax``/``log_softmax`` (``axis``, ``temperature``), ``pick`` (``index``, ``axis``,
``keepdims``); FullyConnected and the activations are compositions of recorded ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import _threads, autograd, backend
from mxlite.base import MXNetError, dtype_np
from mxlite.ndarray import _dtype_rules, _op_args
from mxlite.ndarray._op_args import check_float, shape_text
from mxlite.ndarray.ndarray import (
    NDArray,
    as_raw,
    autograd_record,
    on_device,
    on_device_of_first,
    out_ctx,
    same_ctx,
)
from mxlite.ndarray.op_math import (
    activation_relu,
    sigmoid,
    softrelu,
    softsign,
    tanh,
    write_out,
)
from mxlite.ndarray.op_sequence import length_mask

__all__ = [
    "dot",
    "batch_dot",
    "FullyConnected",
    "Activation",
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
        if xp is np:
            _threads.host_threads()  # the BLAS pool follows the thread policy
        if npm:
            res = xp.dot(a, b)
        elif a.ndim <= 2 and b.ndim <= 2:
            res = xp.matmul(a, b) if a.ndim == 2 or b.ndim == 2 else xp.dot(a, b)
        else:
            res = xp.tensordot(a, b, axes=([a.ndim - 1], [0]))
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
    """Batched matrix product over the leading axes: ``(B..., n, k) x (B..., k, m) ->
    (B..., n, m)`` (N-d inputs, N >= 3, with equal leading batch dimensions);
    ``transpose_a``/``transpose_b`` swap the last two axes of an operand first.

    Raises:
        MXNetError: inputs of fewer than 3 or different numbers of dimensions, different batch
            dimensions, contracted dimensions that differ, or (legacy) different dtypes.
    """
    ctx = same_ctx("batch_dot", lhs, rhs)
    a, b = _operands("batch_dot", lhs, rhs)
    flags = f"trans_a={int(transpose_a)} trans_b={int(transpose_b)}"
    if a.ndim < 3 or a.ndim != b.ndim:
        raise MXNetError(
            f"batch_dot currently only support N-D*N-D array (N >= 3){shape_text(a.shape)} v.s. "
            f"{shape_text(b.shape)}"
        )
    if a.shape[:-2] != b.shape[:-2]:
        raise MXNetError(
            f"batch_dot shape error (the leading batch dimensions must be equal): "
            f"{shape_text(a.shape)} X {shape_text(b.shape)} {flags}"
        )
    if transpose_a:
        a = a.swapaxes(-1, -2)
    if transpose_b:
        b = b.swapaxes(-1, -2)
    if a.shape[-1] != b.shape[-2]:
        raise MXNetError(
            f"batch_dot shape error (shape mismatch): {shape_text(lhs.shape)} X "
            f"{shape_text(rhs.shape)} {flags}"
        )
    if type(a) is np.ndarray:
        _threads.host_threads()  # the BLAS pool follows the thread policy
    out = type(lhs)(lhs._xp.matmul(a, b), out_ctx(ctx))
    autograd_record("batch_dot", [lhs, rhs], out, transpose_a=transpose_a, transpose_b=transpose_b)
    return out


_MSG_FC_SHAPE = (
    "FullyConnected: Shape inconsistent, Provided = {provided}, inferred shape={inferred}: the "
    "weight must be (num_hidden, {k}) for an input of shape {data}{how}."
)
_MSG_FC_BIAS = "FullyConnected: Unexpected shape for bias {bias}; expected ({m},)."
_MSG_FC_DTYPE = (
    "FullyConnected: Incompatible attr at {i}-th input: expected {expected}, got {got}; cast "
    "the inputs to one dtype with .astype() first."
)
_MSG_FC_INPUTS = (
    "Operator FullyConnected expects 3 inputs, but got 2 instead: pass a bias, or no_bias=True."
)


def _fc_matrix(x: Any, flatten: bool) -> Any:
    """The input as the matrix the product reads (a view where the layout allows)."""
    if flatten:
        return x if x.ndim == 2 else x.reshape(x.shape[0], -1)
    return x if x.ndim == 2 else x.reshape(-1, x.shape[-1])


def FullyConnected(  # noqa: N802 - MXNet's name
    data: NDArray,
    weight: NDArray,
    bias: NDArray | None = None,
    num_hidden: int | None = None,
    no_bias: bool = False,
    flatten: bool = True,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """``data @ weight.T + bias`` as one matrix product with the bias added in place.

    With ``flatten`` the input is collapsed to ``(batch, -1)``; without, the product applies to
    the last axis. Recorded for autograd as one node whose rule computes each wanted gradient
    with one product (``g @ W``, ``g.T @ x``, ``g.sum(0)``).

    Raises:
        MXNetError: ``num_hidden`` disagrees with the weight, shapes or dtypes do not fit, or a
            bias is missing without ``no_bias``.
    """
    if bias is None and not no_bias:
        raise MXNetError(_MSG_FC_INPUTS)
    return _fully_connected(data, weight, None if no_bias else bias, num_hidden, flatten, out, None)


@on_device_of_first
def _fully_connected(
    data: NDArray,
    weight: NDArray,
    bias: NDArray | None,
    num_hidden: int | None,
    flatten: bool,
    out: NDArray | None,
    act: str | None,
) -> NDArray:
    """:func:`FullyConnected`, optionally followed by ``act`` ('relu') in the same node."""
    w = as_raw(weight, data)
    m = w.shape[0]
    if num_hidden is not None and m != num_hidden:
        raise MXNetError(
            f"FullyConnected: weight has shape {tuple(w.shape)} but num_hidden={num_hidden}"
        )
    x = data._data
    x2 = _fc_matrix(x, flatten)
    if w.ndim != 2 or x2.shape[1] != w.shape[1]:
        raise MXNetError(
            _MSG_FC_SHAPE.format(
                provided=list(w.shape),
                inferred=(m, x2.shape[1]),
                k=x2.shape[1],
                data=tuple(x.shape),
                how=" (flattened)" if flatten else "",
            )
        )
    inputs = [data, weight]
    b = None
    if bias is not None:
        b = as_raw(bias, data)
        if b.shape != (m,):
            raise MXNetError(_MSG_FC_BIAS.format(bias=list(b.shape), m=m))
        inputs.append(bias)
    if not data._numpy_semantics():
        for i, arr in ((1, w), (2, b)):
            if arr is not None and arr.dtype != x.dtype:
                raise MXNetError(_MSG_FC_DTYPE.format(i=i, expected=x.dtype, got=arr.dtype))
    xp = backend.xp_of(x)
    if xp is np:
        _threads.host_threads()  # the BLAS pool follows the thread policy
    res = xp.matmul(x2, w.T)
    if b is not None:
        res += b
    if act == "relu":
        xp.maximum(res, 0, out=res)
    if not flatten and x.ndim != 2:
        res = res.reshape(x.shape[:-1] + (m,))
    result = type(data)(res, out_ctx(data._ctx))
    if autograd.is_recording():
        autograd.record_op("FullyConnected", inputs, result, {"x2": x2, "act": act})
    return write_out(result, out)


def Activation(data: NDArray, act_type: str = "relu", **kwargs: Any) -> NDArray:  # noqa: N802
    """Elementwise activation: ``relu``, ``sigmoid``, ``tanh``, ``softrelu`` or ``softsign``.

    Raises:
        MXNetError: an unknown ``act_type``.
    """
    fns = {
        "relu": activation_relu,
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


def _softmax_raw(
    xp: Any, a: Any, axis: int, temperature: float | None, log: bool, keep: Any = None
) -> Any:
    """Softmax (or log-softmax) of ``a`` along ``axis`` in float32 or wider; with ``keep`` (a
    boolean mask) only the kept positions take part and the others give 0 (an empty row gives
    zeros)."""
    work = a.astype(np.float32) if a.dtype.kind != "f" or a.dtype.itemsize < 4 else a
    if temperature is not None and temperature != 1.0:
        work = work / temperature
    if keep is not None:
        work = xp.where(keep, work, work.dtype.type(-np.inf))
        top = xp.max(work, axis=axis, keepdims=True)
        e = xp.where(keep, xp.exp(work - xp.where(xp.isfinite(top), top, 0)), 0)
        total = xp.sum(e, axis=axis, keepdims=True)
        return e / xp.where(total > 0, total, 1)
    shifted = work - xp.max(work, axis=axis, keepdims=True)
    if log:
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=axis, keepdims=True)


_SOFTMAX_DTYPES = ("float16", "float32", "float64")
_MSG_LENGTH_INPUTS = (
    "{name}: Operator {name} expects {want} inputs, but got {got} instead: pass length together "
    "with use_length=True (or neither)."
)
_MSG_LOG_LENGTH = (
    "log_softmax: Cannot find argument 'length' (MXNet 1.9.1's log_softmax takes no lengths); "
    "use mx.nd.log(mx.nd.softmax(data, length=..., use_length=True)) instead."
)


def _softmax_op(name: str, log: bool) -> Any:
    def op(
        data: NDArray,
        axis: int = -1,
        temperature: float | None = None,
        dtype: Any = None,
        out: NDArray | None = None,
        length: NDArray | None = None,
        use_length: bool = False,
        **kwargs: Any,
    ) -> NDArray:
        if data.ndim and not -data.ndim <= axis < data.ndim:
            raise MXNetError(
                f"{name}: axis {axis} exceeds the input dimension of {data.ndim} (valid axes are "
                f"{-data.ndim} .. {data.ndim - 1})"
            )
        check_float(name, data._data)
        out_dt = (
            data._data.dtype if dtype is None else _op_args.out_dtype(name, dtype, _SOFTMAX_DTYPES)
        )
        if log and (length is not None or use_length):
            raise MXNetError(_MSG_LOG_LENGTH)
        keep = None
        if use_length or length is not None:
            if length is None or not use_length:
                want, got = (2, 1) if length is None else (1, 2)
                raise MXNetError(_MSG_LENGTH_INPUTS.format(name=name, want=want, got=got))
            same_ctx(name, data, length)
            raw_len = as_raw(length, data)
            _op_args.check_int_dtype(name, "length", raw_len)
            ax = axis % data.ndim
            keep = length_mask(data._xp, raw_len, data.shape, ax, name, "row along the axis")
        with np.errstate(all="ignore"):
            res = _softmax_raw(data._xp, data._data, axis, temperature, log, keep)
        result = type(data)(res.astype(out_dt), out_ctx(data.context))
        autograd_record(name, [data], result, axis=axis, temperature=temperature)
        return write_out(result, out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (
        f"{'Log of the s' if log else 'S'}oftmax along ``axis`` (numerically stable), of "
        "``data / temperature`` when given; float inputs only, the result in ``dtype`` (default "
        "the input's)."
        + (
            ""
            if log
            else " With ``use_length=True``, ``length`` (int32/int64, the data's shape without "
            "``axis``) limits each row to its first ``length`` elements; the rest give 0."
        )
    )
    return on_device(op)


softmax = _softmax_op("softmax", log=False)
log_softmax = _softmax_op("log_softmax", log=True)


@on_device_of_first
def sparse_softmax_cross_entropy_rows(pred: NDArray, label: NDArray) -> NDArray:
    """``-pick(log_softmax(pred, axis=1), label, axis=1)`` for a ``(batch, classes)`` ``pred``:
    the per-sample loss of ``gluon.loss.SoftmaxCrossEntropyLoss`` in one op and one autograd
    node (the same values, bit for bit, as the composition; the gradient is
    ``g * (exp(log_softmax) - one_hot(label))``). Labels are truncated to integers and clipped
    to ``[0, classes)``, as ``pick`` does. Returns shape ``(batch,)``.
    """
    xp = pred._xp
    a = pred._data
    n, classes = a.shape
    check_pick_index(pred.shape, label.shape, 1)
    idx = as_raw(label, pred).reshape(-1).astype(np.int64)
    idx = xp.clip(idx, 0, classes - 1)
    with np.errstate(all="ignore"):
        logp = _softmax_raw(xp, a, 1, None, True).astype(a.dtype, copy=False)
        loss = xp.negative(logp[xp.arange(n), idx])
    result = type(pred)(loss, out_ctx(pred._ctx))
    if autograd.is_recording():
        autograd.record_op("_sparse_softmax_ce", [pred], result, {"logp": logp, "index": idx})
    return result


_MSG_PICK_SHAPE = (
    "pick: Shape inconsistent, Provided = {given}, inferred shape={want} (index for data of "
    "shape {data} along axis {axis}); pass one index per position of the other axes."
)


def check_pick_index(shape: tuple[int, ...], index_shape: tuple[int, ...], axis: int) -> None:
    """Check that an index of ``index_shape`` picks along ``axis`` of an array of ``shape``: it
    has ``shape`` without ``axis``, or with ``axis`` of size 1.

    Raises:
        MXNetError: another shape, with MXNet's "Shape inconsistent" wording.
    """
    want = list(shape)
    if len(index_shape) == len(shape):
        want[axis % len(shape)] = 1
    else:
        del want[axis % len(shape)]
    if list(index_shape) != want:
        raise MXNetError(
            _MSG_PICK_SHAPE.format(
                given=shape_text(index_shape), want=shape_text(want), data=shape, axis=axis
            )
        )


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

    Raises:
        MXNetError: ``index``'s shape is not ``data``'s without ``axis`` (or with ``axis`` of
            size 1), with MXNet's "Shape inconsistent" wording.
    """
    xp = data._xp
    ax = axis % data.ndim
    check_pick_index(data.shape, index.shape, axis)
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
