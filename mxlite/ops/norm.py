"""Normalization math on raw arrays: batch normalization over ``(N, C, P)`` and the row
normalization behind LayerNorm, InstanceNorm and GroupNorm.

Batch normalization (``xhat = (x - mean) / sqrt(var + eps)``, ``y = gamma * xhat + beta``, with
the biased batch variance in training):

- forward: per channel ``scale = gamma * invstd`` and ``shift = beta - mean * scale``, then one
  pass ``y = x * scale + shift`` (optionally with the ReLU that follows it fused in);
- backward: ``dbeta = sum(g)``, ``dgamma = invstd * sum(g * (x - mean))`` and, with batch
  statistics, ``dx = k1*g + k2*x + k3`` with ``k1 = gamma*invstd``,
  ``k2 = -gamma*invstd^3*sum(g*(x-mean))/M``, ``k3 = -k1*sum(g)/M - k2*mean`` (``M`` elements per
  channel); with fixed statistics ``dx = gamma*invstd*g``.

Host arrays use the Numba kernels of :mod:`mxlite.ops._numba.norm` (channel sums in float64);
device arrays the CUDA kernels of ``kernels/batch_norm.cu`` (:mod:`mxlite.ops._cuda_norm`: one
launch per pass, channel sums in float64). The ``*_reference`` functions (NumPy/CuPy array
expressions) define both; the tests hold the kernels to them. Statistics are returned in float32 for float16/float32 data, float64 for
float64; float16 data is computed in float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import _threads, backend

__all__ = [
    "stat_dtype",
    "bn_moments",
    "bn_apply",
    "bn_grad_sums",
    "bn_input_grad",
    "bn_backward",
    "moments_reference",
    "apply_reference",
    "grad_sums_reference",
    "input_grad_reference",
    "rows_forward",
    "rows_backward",
]


def stat_dtype(dtype: Any) -> Any:
    """The dtype of statistics and parameters for data of ``dtype``."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _kernels() -> Any:
    from mxlite.ops._numba import norm as _cpu_norm  # noqa: PLC0415 - Numba loads on the first normalization

    return _cpu_norm


def _cuda_norm() -> Any:
    from mxlite.ops import _cuda_norm  # noqa: PLC0415 - device arrays only

    return _cuda_norm


def _work(x: Any) -> Any:
    return x.astype(np.float32) if x.dtype == np.float16 else x


# ------------------------------------------------------------------------------ reference
def moments_reference(x3: Any) -> tuple[Any, Any]:
    """Per-channel mean and biased variance of ``x3`` ``(N, C, P)``."""
    xp = backend.xp_of(x3)
    x = _work(x3)
    mean = x.mean(axis=(0, 2))
    var = xp.square(x - mean.reshape(1, -1, 1)).mean(axis=(0, 2))
    return mean, var


def apply_reference(x3: Any, scale: Any, shift: Any, relu: bool = False) -> Any:
    """``x3 * scale[c] + shift[c]`` (then ReLU) in ``x3``'s work dtype."""
    xp = backend.xp_of(x3)
    x = _work(x3)
    y = x * scale.reshape(1, -1, 1).astype(x.dtype) + shift.reshape(1, -1, 1).astype(x.dtype)
    return xp.maximum(y, 0, out=y) if relu else y


def _masked(g3: Any, y3: Any | None) -> Any:
    """``g3`` where the fused ReLU's output ``y3`` is positive, else 0 (``g3`` when no ReLU)."""
    if y3 is None:
        return g3
    return g3 * (y3 > 0)


def grad_sums_reference(g3: Any, x3: Any, mean: Any, y3: Any | None = None) -> tuple[Any, Any]:
    """Per channel ``sum(g)`` and ``sum(g * (x - mean))`` (``g`` masked by a fused ReLU's
    output ``y3``)."""
    g, x = _work(_masked(g3, y3)), _work(x3)
    return g.sum(axis=(0, 2)), (g * (x - mean.reshape(1, -1, 1).astype(x.dtype))).sum(axis=(0, 2))


def input_grad_reference(g3: Any, x3: Any, k1: Any, k2: Any, k3: Any, y3: Any | None = None) -> Any:
    """``k1[c]*g + k2[c]*x + k3[c]`` (``g`` masked by a fused ReLU's output ``y3``)."""
    g, x = _work(_masked(g3, y3)), _work(x3)
    dt = x.dtype
    return (
        g * k1.reshape(1, -1, 1).astype(dt)
        + x * k2.reshape(1, -1, 1).astype(dt)
        + k3.reshape(1, -1, 1).astype(dt)
    )


# ---------------------------------------------------------------------------- dispatching
def bn_moments(x3: Any) -> tuple[Any, Any]:
    """Per-channel batch mean and biased variance of ``x3`` ``(N, C, P)``, in
    :func:`stat_dtype`."""
    sdt = stat_dtype(x3.dtype)
    if backend.is_gpu_array(x3):
        mean, var = _cuda_norm().moments(x3)
        return mean.astype(sdt), var.astype(sdt)
    c = x3.shape[1]
    mean = np.empty(c, dtype=np.float64)
    var = np.empty(c, dtype=np.float64)
    if x3.size == 0:
        return mean.astype(sdt), var.astype(sdt)
    k = _kernels()
    _threads.launch(
        k.moments,
        _work(x3),
        mean,
        var,
        serial=k.moments_serial,
        big_enough=x3.size >= _threads.PARALLEL_MIN_ELEMENTS,
    )
    return mean.astype(sdt), var.astype(sdt)


def bn_apply(x3: Any, scale: Any, shift: Any, relu: bool = False) -> Any:
    """``x3 * scale[c] + shift[c]`` (then ReLU), a new array of ``x3``'s dtype."""
    if backend.is_gpu_array(x3):
        return _cuda_norm().forward_apply(x3, scale, shift, relu)
    x = _work(x3)
    out = np.empty(x.shape, dtype=x.dtype)
    args = (scale.astype(x.dtype), shift.astype(x.dtype), out, relu)
    k = _kernels()
    _threads.launch(
        k.scale_shift,
        x,
        *args,
        serial=k.scale_shift_serial,
        big_enough=x.size >= _threads.PARALLEL_MIN_ELEMENTS,
    )
    return out.astype(x3.dtype, copy=False)


def bn_grad_sums(g3: Any, x3: Any, mean: Any, y3: Any | None = None) -> tuple[Any, Any]:
    """Per channel ``sum(g)`` and ``sum(g * (x - mean))`` (float64 on the host; ``g`` masked
    by a fused ReLU's output ``y3`` when given)."""
    if backend.is_gpu_array(g3):
        return _cuda_norm().grad_sums(g3, x3, mean, y3)
    c = x3.shape[1]
    sum_g = np.zeros(c, dtype=np.float64)
    sum_gx = np.zeros(c, dtype=np.float64)
    if x3.size:
        x = _work(x3)
        y = x if y3 is None else _work(y3)
        args = (mean.astype(np.float64), sum_g, sum_gx, y, y3 is not None)
        k = _kernels()
        _threads.launch(
            k.grad_sums,
            _work(g3),
            x,
            *args,
            serial=k.grad_sums_serial,
            big_enough=x3.size >= _threads.PARALLEL_MIN_ELEMENTS,
        )
    return sum_g, sum_gx


def bn_input_grad(g3: Any, x3: Any, k1: Any, k2: Any, k3: Any, y3: Any | None = None) -> Any:
    """``k1[c]*g + k2[c]*x + k3[c]`` in ``x3``'s dtype (one pass on the host; ``g`` masked by
    a fused ReLU's output ``y3`` when given)."""
    if backend.is_gpu_array(g3):
        return _cuda_norm().backward_apply(g3, x3, k1, k2, k3, y3)
    x, g = _work(x3), _work(g3)
    out = np.empty(x.shape, dtype=x.dtype)
    dt = x.dtype
    y = x if y3 is None else _work(y3)
    args = (k1.astype(dt), k2.astype(dt), k3.astype(dt), out, y, y3 is not None)
    k = _kernels()
    _threads.launch(
        k.affine2,
        g,
        x,
        *args,
        serial=k.affine2_serial,
        big_enough=x.size >= _threads.PARALLEL_MIN_ELEMENTS,
    )
    return out.astype(x3.dtype, copy=False)


# ------------------------------------------------------------------------- row normalization
def rows_forward(x2: Any, eps: float) -> tuple[Any, Any, Any]:
    """Normalize each row of ``x2`` ``(R, D)``: returns ``xhat``, the row means ``(R, 1)`` and
    ``invstd = 1 / sqrt(var + eps)`` ``(R, 1)`` (biased variance), in the work dtype."""
    xp = backend.xp_of(x2)
    x = _work(x2)
    mean = x.mean(axis=1, keepdims=True)
    centered = x - mean
    var = xp.square(centered).mean(axis=1, keepdims=True)
    invstd = 1.0 / xp.sqrt(var + x.dtype.type(eps))
    return centered * invstd, mean, invstd.astype(x.dtype, copy=False)


def rows_backward(gxhat: Any, xhat: Any, invstd: Any) -> Any:
    """The gradient through :func:`rows_forward` for ``gxhat = dL/dxhat``:
    ``invstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat))`` per row."""
    m1 = gxhat.mean(axis=1, keepdims=True)
    m2 = (gxhat * xhat).mean(axis=1, keepdims=True)
    return invstd * (gxhat - m1 - xhat * m2)


def bn_backward(
    g3: Any,
    x3: Any,
    gamma: Any,
    mean: Any,
    invstd: Any,
    batch_stats: bool,
    needs: tuple[bool, bool, bool],
    allreduce: Any = None,
    y3: Any | None = None,
) -> tuple[Any, Any, Any]:
    """Gradients ``(dx, dgamma, dbeta)`` of batch normalization over ``x3`` ``(N, C, P)`` with
    the effective ``gamma`` (ones under ``fix_gamma``), the ``mean`` and ``invstd`` the forward
    used, for the output gradient ``g3``; ``batch_stats`` says whether those were the batch's
    own statistics (their gradient then flows into ``dx``). None where not ``needs``.

    ``allreduce(sum_g, sum_gx, count)`` (SyncBatchNorm) turns this context's sums into the sums
    over every context's batch for ``dx``; ``dgamma``/``dbeta`` stay this context's share (the
    Trainer sums the replicas' gradients). ``y3`` is the output of a fused ReLU: ``g3`` counts
    only where it is positive."""
    xp = backend.xp_of(g3)
    sdt = stat_dtype(x3.dtype)
    acc = np.float64 if xp is np else sdt  # the host sums run in float64
    gam = gamma.astype(acc)
    inv = invstd.astype(acc)
    sum_g = sum_gx = xp.zeros(x3.shape[1], dtype=acc)
    synced = allreduce is not None and batch_stats
    if needs[1] or needs[2] or (needs[0] and batch_stats) or synced:
        sum_g, sum_gx = bn_grad_sums(g3, x3, mean, y3)
    count = x3.shape[0] * x3.shape[2]
    tot_g, tot_gx = sum_g, sum_gx
    if synced:  # every context takes part, whether or not it needs dx
        tot_g, tot_gx, count = allreduce(sum_g, sum_gx, count)
    dx = dgamma = dbeta = None
    if needs[0]:
        k1 = gam * inv
        if batch_stats:
            k2 = -gam * inv * inv * inv * tot_gx.astype(acc) / count
            k3 = -k1 * tot_g.astype(acc) / count - k2 * mean.astype(acc)
        else:
            k2 = xp.zeros_like(k1)
            k3 = k2
        dx = bn_input_grad(g3, x3, k1, k2, k3, y3)
    if needs[1]:
        dgamma = (sum_gx * inv).astype(sdt)
    if needs[2]:
        dbeta = sum_g.astype(sdt)
    return dx, dgamma, dbeta
