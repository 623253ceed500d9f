"""Normalization operators of ``mx.nd``: ``BatchNorm``, ``LayerNorm``, ``InstanceNorm``,
``GroupNorm`` and ``L2Normalization``.

MXNet 1.9.1's semantics (checked with the oracle):

- ``BatchNorm`` in training (``autograd.is_training()`` and not ``use_global_stats``) normalizes
  with the batch mean and biased variance over every axis but ``axis``, and updates the moving
  statistics in place: ``moving = moving * momentum + batch * (1 - momentum)``. Otherwise it uses
  the moving statistics. ``fix_gamma`` sets gamma to 1 (in place, as MXNet does) and gives it a
  zero gradient. float16 data takes float32 parameters. A forward in predict mode followed by a
  backward in training mode uses the batch-statistics formula with the moving statistics, as
  MXNet does.
- ``LayerNorm`` normalizes along ``axis`` (gamma/beta of that axis' size), ``InstanceNorm`` each
  ``(sample, channel)`` over the spatial axes (gamma/beta per channel), ``GroupNorm`` each
  ``(sample, group)`` over its channels and spatial axes (gamma/beta per group, MXNet 1.9.1's
  shape ``(num_groups,)``).

- ``L2Normalization``: ``out = x / sqrt(sum(x**2) + eps)``, the sum over every axis but the first
  (``instance``), over axis 1 (``channel``) or over the axes after the first two (``spatial``).
  float16 inputs are computed in float32 and rounded once.

Each op is one autograd node (``BatchNorm``, ``RowNorm``, ``L2Normalization`` with attrs ``axes``
and ``norm``, the denominator with the reduced axes kept); the rules are in
:mod:`mxlite.autograd.rules`, the math of the first four in :mod:`mxlite.ops.norm`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mxlite import _rendezvous, autograd, backend
from mxlite.base import MXNetError
from mxlite.ndarray._op_args import accepts_out, check_choice, check_float
from mxlite.ndarray.ndarray import (
    NDArray,
    as_raw,
    autograd_record,
    on_device,
    on_device_of_first,
    out_ctx,
    same_ctx,
)
from mxlite.ndarray.op_math import write_out
from mxlite.ops import norm as ops_norm

__all__ = ["BatchNorm", "LayerNorm", "InstanceNorm", "GroupNorm", "L2Normalization"]

_MSG_SHAPE = (
    "{op}: Shape inconsistent, Provided = [{got}], inferred shape=[{want}] for {name}: data of "
    "shape {shape} needs {name} of shape ({want},)."
)
_MSG_TYPE = (
    "{op}: This layer requires uniform type. Expected '{want}' v.s. given '{got}' at '{name}'. "
    "Cast the parameters with .astype('{want}')."
)


def _check_param(op: str, name: str, arr: Any, n: int, shape: tuple[int, ...], dtype: Any) -> None:
    if tuple(arr.shape) != (n,):
        got = ",".join(str(d) for d in arr.shape)
        raise MXNetError(_MSG_SHAPE.format(op=op, got=got, want=n, name=name, shape=shape))
    if arr.dtype != dtype:
        raise MXNetError(_MSG_TYPE.format(op=op, want=dtype.name, got=arr.dtype.name, name=name))


def _view3(raw: Any, axis: int) -> Any:
    """``raw`` as ``(prod(shape[:axis]), shape[axis], prod(shape[axis+1:]))``."""
    shape = raw.shape
    return raw.reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


@on_device_of_first
def BatchNorm(  # noqa: N802 - MXNet's name
    data: NDArray,
    gamma: NDArray | None = None,
    beta: NDArray | None = None,
    moving_mean: NDArray | None = None,
    moving_var: NDArray | None = None,
    eps: float = 1e-3,
    momentum: float = 0.9,
    fix_gamma: bool = True,
    use_global_stats: bool = False,
    output_mean_var: bool = False,
    axis: int = 1,
    cudnn_off: bool = False,
    min_calib_range: float | None = None,
    max_calib_range: float | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> Any:
    """Batch normalization of ``data`` along channel ``axis``:
    ``gamma * (x - mean) / sqrt(var + eps) + beta``.

    Returns the output, or ``[output, mean, invstd]`` with ``output_mean_var``.

    Raises:
        MXNetError: a missing input, parameters whose shape is not ``(C,)`` or whose dtype does
            not fit the data's, an axis out of range.
    """
    return batch_norm(
        data, gamma, beta, moving_mean, moving_var, eps, momentum, fix_gamma, use_global_stats,
        output_mean_var, axis, out, relu=False,
    )  # fmt: skip


def batch_norm(
    data: NDArray,
    gamma: NDArray | None,
    beta: NDArray | None,
    moving_mean: NDArray | None,
    moving_var: NDArray | None,
    eps: float,
    momentum: float,
    fix_gamma: bool,
    use_global_stats: bool,
    output_mean_var: bool,
    axis: int,
    out: NDArray | None,
    relu: bool,
    sync: tuple[str, int] | None = None,
) -> Any:
    """:func:`BatchNorm`, optionally followed by a ReLU in the same node (``relu``); with
    ``sync = (key, ndev)`` the batch statistics and the backward pass's sums are reduced across
    ``ndev`` contexts running concurrently (``SyncBatchNorm``, see :mod:`mxlite._rendezvous`)."""
    op = "BatchNorm"
    params = (gamma, beta, moving_mean, moving_var)
    names = ("gamma", "beta", "moving_mean", "moving_var")
    for name, p in zip(names, params):
        if p is None:
            raise MXNetError(f"{op}: the input {name} is required (data, gamma, beta, "
                             "moving_mean, moving_var).")  # fmt: skip
    same_ctx(op, data, *params)  # type: ignore[arg-type]
    if not -data.ndim <= axis < data.ndim:
        raise MXNetError(f"{op}: axis {axis} is out of range for data of shape {data.shape}.")
    ax = axis % data.ndim
    x = data._data
    c = x.shape[ax]
    pdt = ops_norm.stat_dtype(x.dtype)
    raws = [as_raw(p, data) for p in params]  # type: ignore[arg-type]
    for name, raw in zip(names, raws):
        _check_param(op, name, raw, c, x.shape, pdt)
    g_raw, b_raw, mm_raw, mv_raw = raws
    if fix_gamma:
        g_raw[...] = 1
    x3 = _view3(x, ax)
    training = autograd.is_training() and not use_global_stats
    reduce = None
    if training:
        mean, var = ops_norm.bn_moments(x3)
        if sync is not None and sync[1] > 1:
            mean, var, reduce = _synced(sync, data._ctx, x3, mean, var)
        m = pdt.type(np.float32(momentum))
        mm_raw[...] = mm_raw * m + mean * (pdt.type(1) - m)
        mv_raw[...] = mv_raw * m + var * (pdt.type(1) - m)
        mode = "batch"
    else:
        mean, var = mm_raw.copy(), mv_raw.copy()
        mode = "global" if use_global_stats else "infer"
    invstd = 1 / data._xp.sqrt(var + pdt.type(eps))
    scale = g_raw * invstd
    shift = b_raw - mean * scale
    y = ops_norm.bn_apply(x3, scale, shift, relu).reshape(x.shape)
    result = type(data)(y, out_ctx(data._ctx))
    if autograd.is_recording():
        attrs = {"mean": mean, "invstd": invstd, "mode": mode, "fix_gamma": fix_gamma,
                 "axis": ax, "relu": relu, "allreduce": reduce}  # fmt: skip
        autograd.record_op("BatchNorm", [data, gamma, beta], result, attrs)  # type: ignore[list-item]
    result = write_out(result, out)
    if output_mean_var:
        ctx = out_ctx(data._ctx)
        return [result, type(data)(mean, ctx), type(data)(invstd, ctx)]
    return result


def _synced(sync: tuple[str, int], ctx: Any, x3: Any, mean: Any, var: Any) -> tuple[Any, Any, Any]:
    """The statistics of every context's batch from this context's, and the backward pass's
    reduction (``(sum_g, sum_gx, count) -> global sums``) for the autograd rule."""
    key, ndev = sync
    xp = backend.xp_of(x3)
    count = x3.shape[0] * x3.shape[2]
    m64, v64 = backend.to_numpy(mean).astype(np.float64), backend.to_numpy(var).astype(np.float64)
    n, s1, s2 = _rendezvous.allreduce(
        key, ndev, ctx, [np.float64(count), m64 * count, (v64 + m64 * m64) * count]
    )
    g_mean = s1 / n
    g_var = np.maximum(s2 / n - g_mean * g_mean, 0.0)

    def reduce(sum_g: Any, sum_gx: Any, local: int) -> tuple[Any, Any, int]:
        tg, tgx, tn = _rendezvous.allreduce(key + "/backward", ndev, ctx, [sum_g, sum_gx, local])
        return xp.asarray(tg), xp.asarray(tgx), int(tn)

    sdt = mean.dtype
    return xp.asarray(g_mean.astype(sdt)), xp.asarray(g_var.astype(sdt)), reduce


# ---------------------------------------------------------------------- row normalizations
def _row_norm(
    op: str,
    data: NDArray,
    gamma: NDArray | None,
    beta: NDArray | None,
    rows: Any,
    param_view: tuple[int, ...],
    eps: float,
    layout: dict[str, Any],
) -> tuple[NDArray, Any, Any]:
    """Normalize the rows of ``rows`` (a 2-d arrangement of ``data``), apply ``gamma``/``beta``
    broadcast as ``param_view``, record ``RowNorm``; returns (result, mean, invstd)."""
    if gamma is None or beta is None:
        raise MXNetError(f"{op}: gamma and beta are required inputs.")
    same_ctx(op, data, gamma, beta)
    x = data._data
    n = math.prod(param_view)
    for name, p in (("gamma", gamma), ("beta", beta)):
        _check_param(op, name, as_raw(p, data), n, x.shape, x.dtype)
    g_raw, b_raw = as_raw(gamma, data), as_raw(beta, data)
    xhat, mean, invstd = ops_norm.rows_forward(rows, eps)
    shaped = xhat.reshape(layout["grouped"])
    y = shaped * g_raw.reshape(param_view).astype(xhat.dtype) + b_raw.reshape(param_view).astype(
        xhat.dtype
    )
    y = _unarrange(y, layout).astype(x.dtype, copy=False)
    result = type(data)(y, out_ctx(data._ctx))
    if autograd.is_recording():
        attrs = {"xhat": xhat, "invstd": invstd, "param_view": param_view, "layout": layout}
        autograd.record_op("RowNorm", [data, gamma, beta], result, attrs)
    return result, mean, invstd


def _unarrange(y: Any, layout: dict[str, Any]) -> Any:
    """Back from the grouped arrangement to the data's shape (and axis order)."""
    xp = backend.xp_of(y)
    y = y.reshape(layout["moved_shape"])
    if layout["axis"] is not None:
        y = xp.moveaxis(y, -1, layout["axis"])
    return xp.ascontiguousarray(y)


@on_device_of_first
def LayerNorm(  # noqa: N802 - MXNet's name
    data: NDArray,
    gamma: NDArray | None = None,
    beta: NDArray | None = None,
    axis: int = -1,
    eps: float = 1e-5,
    output_mean_var: bool = False,
    out: NDArray | None = None,
    **kwargs: Any,
) -> Any:
    """Normalize ``data`` along ``axis`` (mean and biased variance of each slice), then scale by
    ``gamma`` and shift by ``beta`` (both of the axis' size).

    Returns the output, or ``[output, mean, std]`` (kept dimensions) with ``output_mean_var``.

    Raises:
        MXNetError: an axis out of range, gamma/beta of another size.
    """
    if not -data.ndim <= axis < data.ndim:
        raise MXNetError(f"LayerNorm: axis {axis} is out of range for data of shape {data.shape}.")
    ax = axis % data.ndim
    x = data._data
    moved = data._xp.moveaxis(x, ax, -1)
    d = x.shape[ax]
    layout = {
        "grouped": (-1, d),
        "moved_shape": moved.shape,
        "axis": ax if ax != x.ndim - 1 else None,
    }
    result, mean, invstd = _row_norm(
        "LayerNorm", data, gamma, beta, moved.reshape(-1, d), (1, d), eps, layout
    )
    result = write_out(result, out)
    if not output_mean_var:
        return result
    kept = x.shape[:ax] + (1,) + x.shape[ax + 1 :]
    xp = data._xp
    mean_k = xp.moveaxis(mean.reshape(moved.shape[:-1] + (1,)), -1, ax).reshape(kept)
    std_k = xp.moveaxis((1 / invstd).reshape(moved.shape[:-1] + (1,)), -1, ax).reshape(kept)
    ctx = out_ctx(data._ctx)
    return [result, type(data)(mean_k.astype(x.dtype), ctx), type(data)(std_k.astype(x.dtype), ctx)]


@on_device_of_first
def InstanceNorm(  # noqa: N802 - MXNet's name
    data: NDArray,
    gamma: NDArray | None = None,
    beta: NDArray | None = None,
    eps: float = 1e-3,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Normalize each ``(sample, channel)`` of ``data`` ``(N, C, *S)`` over its spatial
    positions, then ``gamma[c] * xhat + beta[c]``.

    Raises:
        MXNetError: data of fewer than 3 dimensions; gamma/beta not of shape ``(C,)``.
    """
    if data.ndim < 3:
        raise MXNetError(
            f"InstanceNorm: Check failed: ndim() >= 3 ({data.ndim} vs. 3) : InstanceNorm only "
            f"supports input tensors of rank >= 3; got data of shape {data.shape}."
        )
    x = data._data
    n, c = x.shape[:2]
    layout = {"grouped": (n, c, -1), "moved_shape": x.shape, "axis": None}
    rows = x.reshape(n * c, -1)
    result, _, _ = _row_norm("InstanceNorm", data, gamma, beta, rows, (1, c, 1), eps, layout)
    return write_out(result, out)


@on_device_of_first
def GroupNorm(  # noqa: N802 - MXNet's name
    data: NDArray,
    gamma: NDArray | None = None,
    beta: NDArray | None = None,
    num_groups: int = 1,
    eps: float = 1e-5,
    output_mean_var: bool = False,
    out: NDArray | None = None,
    **kwargs: Any,
) -> Any:
    """Normalize each ``(sample, group of C/num_groups channels)`` of ``data`` ``(N, C, *S)``
    over its channels and positions, then ``gamma[g] * xhat + beta[g]`` (MXNet 1.9.1's
    per-group parameters, shape ``(num_groups,)``).

    Returns the output, or ``[output, mean, std]`` (shape ``(N, num_groups)``) with
    ``output_mean_var``.

    Raises:
        MXNetError: channels not divisible by ``num_groups``; gamma/beta of another shape.
    """
    if data.ndim < 2 or num_groups < 1 or data.shape[1] % num_groups:
        got = data.shape[1] % num_groups if data.ndim >= 2 and num_groups >= 1 else data.shape
        raise MXNetError(
            f"GroupNorm: Check failed: dshape[1] % num_groups == 0 ({got} vs. 0) : # of channels "
            f"must be divisible by # of groups; data of shape {data.shape}, num_groups="
            f"{num_groups}."
        )
    x = data._data
    n = x.shape[0]
    layout = {"grouped": (n, num_groups, -1), "moved_shape": x.shape, "axis": None}
    rows = x.reshape(n * num_groups, -1)
    result, mean, invstd = _row_norm(
        "GroupNorm", data, gamma, beta, rows, (1, num_groups, 1), eps, layout
    )
    result = write_out(result, out)
    if not output_mean_var:
        return result
    ctx = out_ctx(data._ctx)
    return [
        result,
        type(data)(mean.reshape(n, num_groups).astype(x.dtype), ctx),
        type(data)((1 / invstd).reshape(n, num_groups).astype(x.dtype), ctx),
    ]


_MSG_RANK = "L2Normalization: At lease 3 dimensions required in {mode} mode, got shape {shape}"


def _axes(mode: str, ndim: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    if mode == "instance":
        return tuple(range(1, ndim))
    if ndim < 3:
        raise MXNetError(_MSG_RANK.format(mode=mode, shape=shape))
    return (1,) if mode == "channel" else tuple(range(2, ndim))


@accepts_out
@on_device
def L2Normalization(  # noqa: N802 - MXNet's name
    data: NDArray, eps: float = 1e-10, mode: str = "instance", **kwargs: Any
) -> NDArray:
    """``data / sqrt(sum(data**2, axes) + eps)`` with the axes chosen by ``mode``:
    ``'instance'`` (all but axis 0), ``'channel'`` (axis 1) or ``'spatial'`` (axes 2 and up).

    Raises:
        MXNetError: unknown ``mode``, a non-float input, or fewer than 3 dimensions for the
            channel and spatial modes.
    """
    check_choice("L2Normalization", "mode", mode, ("channel", "instance", "spatial"))
    check_float("L2Normalization", data._data)
    xp, a = data._xp, data._data
    axes = _axes(mode, a.ndim, data.shape)
    work = a.astype(np.float32) if a.dtype == np.float16 else a
    with np.errstate(all="ignore"):
        norm = xp.sqrt(xp.sum(work * work, axis=axes, keepdims=True) + work.dtype.type(eps))
        res = (work / norm).astype(a.dtype, copy=False)
    result = type(data)(res, out_ctx(data.context))
    autograd_record("L2Normalization", [data], result, axes=axes, norm=norm)
    return result
