"""Launchers of ``kernels/batch_norm.cu``: the fused BatchNorm passes on CuPy arrays.

Each function takes ``(N, C, P)`` CuPy arrays (any strides; they are made contiguous) of one
floating dtype and computes what the matching ``*_reference`` function of :mod:`mxlite.ops.norm`
computes, in one launch per pass: the elementwise passes bitwise, the channel sums in float64 in a
fixed order (per channel, ``S`` slot sums that one CuPy reduction adds). The kernels come from
:func:`mxlite.ops._cuda.get_kernel` (compiled once per device). ``import cupy`` happens there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite.ops import _cuda

__all__ = [
    "channel_sums",
    "moments",
    "grad_sums",
    "forward_apply",
    "backward_apply",
    "launch_shape",
]

# The C++ type of each dtype (the template instances listed in _cuda._NAME_EXPRESSIONS).
_CTYPES = {
    np.dtype(np.float32): "float",
    np.dtype(np.float64): "double",
    np.dtype(np.float16): "__half",
}
_MAX_THREADS = 256
_WAVES = 4  # blocks of the sums kernel per streaming multiprocessor, at most
_MODE_SUM, _MODE_SQUARES, _MODE_GRAD = 0, 1, 2


def _acc_dtype(dtype: Any) -> Any:
    """The kernels' arithmetic dtype (and that of their per-channel parameters)."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _threads(plane: int) -> int:
    """Threads per block for planes of ``plane`` positions: whole warps, at most 256."""
    return min(_MAX_THREADS, max(32, -(-plane // 32) * 32))


def launch_shape(channels: int, plane: int, sms: int) -> tuple[int, int]:
    """``(blocks_per_channel, threads)`` of the sums kernel: enough slots to cover a plane, no
    more blocks than ``_WAVES`` per multiprocessor over all channels (at least one each)."""
    threads = _threads(plane)
    per_channel = max(1, min(-(-plane // threads), (_WAVES * sms) // max(channels, 1)))
    return per_channel, threads


def _kernel(name: str, dtype: Any) -> Any:
    return _cuda.get_kernel("batch_norm.cu", f"{name}<{_CTYPES[np.dtype(dtype)]}>")


def _contiguous(arr: Any, dtype: Any) -> Any:
    import cupy  # noqa: PLC0415 - only called for CuPy arrays

    return cupy.ascontiguousarray(arr.astype(dtype, copy=False))


def channel_sums(
    x3: Any, mode: int, center: Any = None, g3: Any = None, y3: Any = None
) -> tuple[Any, Any]:
    """Per channel of ``x3`` the two float64 sums of ``bn_channel_sums`` ``mode`` (see
    kernels/batch_norm.cu): ``(sum x, 0)``, ``(0, sum (x - center)^2)`` or
    ``(sum g', sum g' * (x - center))`` with ``g'`` masked by ``y3 > 0`` when ``y3`` is given."""
    import cupy  # noqa: PLC0415

    n, c, p = x3.shape
    dtype = x3.dtype
    acc = _acc_dtype(dtype)
    x = _contiguous(x3, dtype)
    g = x if g3 is None else _contiguous(g3, dtype)
    y = x if y3 is None else _contiguous(y3, dtype)
    with x.device:
        mid = cupy.zeros(max(c, 1), dtype=acc) if center is None else _contiguous(center, acc)
        per_channel, threads = launch_shape(c, p, _cuda.sm_count())
        partials = cupy.zeros((c, per_channel * threads, 2), dtype=np.float64)
        if x.size:
            args = (x, g, y, mid, partials, np.int64(n), np.int32(c), np.int64(p),
                    np.int32(per_channel), np.int32(mode), np.int32(y3 is not None))  # fmt: skip
            _kernel("bn_channel_sums", dtype)((c * per_channel,), (threads,), args)
        sums = partials.sum(axis=1)
    return sums[:, 0], sums[:, 1]


def moments(x3: Any) -> tuple[Any, Any]:
    """Per-channel mean and biased variance (float64) of ``x3`` ``(N, C, P)``: two passes, the
    second centred on the first's mean (as ``moments_reference``)."""
    count = max(x3.shape[0] * x3.shape[2], 1)
    mean = channel_sums(x3, _MODE_SUM)[0] / count
    var = channel_sums(x3, _MODE_SQUARES, center=mean)[1] / count
    return mean, var


def grad_sums(g3: Any, x3: Any, mean: Any, y3: Any = None) -> tuple[Any, Any]:
    """Per channel ``sum(g')`` and ``sum(g' * (x - mean))`` in float64 (``g'`` masked by a fused
    ReLU's output ``y3``)."""
    return channel_sums(x3, _MODE_GRAD, center=mean, g3=g3, y3=y3)


def forward_apply(x3: Any, scale: Any, shift: Any, relu: bool = False) -> Any:
    """``x3 * scale[c] + shift[c]`` (then ReLU), a new array of ``x3``'s dtype."""
    import cupy  # noqa: PLC0415

    n, c, p = x3.shape
    acc = _acc_dtype(x3.dtype)
    x = _contiguous(x3, x3.dtype)
    with x.device:
        out = cupy.empty(x.shape, dtype=x.dtype)
        if x.size:
            args = (x, _contiguous(scale, acc), _contiguous(shift, acc), out, np.int32(c),
                    np.int64(p), np.int32(relu))  # fmt: skip
            _kernel("bn_forward_apply", x.dtype)((n * c,), (_threads(p),), args)
    return out


def backward_apply(g3: Any, x3: Any, k1: Any, k2: Any, k3: Any, y3: Any = None) -> Any:
    """``g' * k1[c] + x * k2[c] + k3[c]`` (``g'`` masked by a fused ReLU's output ``y3``), a new
    array of ``x3``'s dtype."""
    import cupy  # noqa: PLC0415

    n, c, p = x3.shape
    dtype = x3.dtype
    acc = _acc_dtype(dtype)
    x = _contiguous(x3, dtype)
    g = _contiguous(g3, dtype)
    y = x if y3 is None else _contiguous(y3, dtype)
    with x.device:
        out = cupy.empty(x.shape, dtype=dtype)
        if x.size:
            ks = (_contiguous(k, acc) for k in (k1, k2, k3))
            args = (g, x, y, *ks, out, np.int32(c), np.int64(p), np.int32(y3 is not None))
            _kernel("bn_backward_apply", dtype)((n * c,), (_threads(p),), args)
    return out
