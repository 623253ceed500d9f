"""Numba twins of the batch-normalization kernels over ``(N, C, P)`` arrays (channel axis 1).

- :func:`moments`: per channel, the mean and the biased variance, accumulated in float64 around a
  shift (the channel's first element) in one pass over the data; channels in parallel.
- :func:`scale_shift`: ``out = x * scale[c] + shift[c]`` (optionally followed by a ReLU), one
  pass; ``(n, c)`` planes in parallel.
- :func:`grad_sums`: per channel, ``sum(g)`` and ``sum(g * (x - mean[c]))`` in float64.
- :func:`affine2`: ``out = a[c] * g + b[c] * x + d[c]``, the input gradient's one pass.

With ``relu`` the two gradient kernels read ``g`` where the output ``y`` of the fused
BatchNorm+ReLU is positive and 0 elsewhere (the ReLU's gradient, without a masked copy).

The NumPy reference is :mod:`mxlite.ops.norm`'s ``*_reference`` functions; the tests hold these
twins to it within float rounding (the sums run in another order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from mxlite.ops._numba import _primitives  # noqa: F401 - picks Numba's threading layer first

__all__ = [
    "moments",
    "moments_serial",
    "scale_shift",
    "scale_shift_serial",
    "grad_sums",
    "grad_sums_serial",
    "affine2",
    "affine2_serial",
]


@njit(cache=True)
def _moments_channel(x: Any, c: int, mean: Any, var: Any) -> None:
    n_batch, _, size = x.shape
    shift = np.float64(x[0, c, 0]) if size else 0.0
    s1 = 0.0
    s2 = 0.0
    for n in range(n_batch):
        row = x[n, c]
        for i in range(size):
            d = np.float64(row[i]) - shift
            s1 += d
            s2 += d * d
    count = n_batch * size
    m = s1 / count
    mean[c] = shift + m
    var[c] = max(s2 / count - m * m, 0.0)


@njit(cache=True, parallel=True)
def moments(x: Any, mean: Any, var: Any) -> None:
    """``mean[c]``, ``var[c]`` (float64 outputs) of ``x[:, c, :]``; channels in parallel."""
    for c in prange(x.shape[1]):
        _moments_channel(x, c, mean, var)


@njit(cache=True)
def moments_serial(x: Any, mean: Any, var: Any) -> None:
    """:func:`moments` on one thread."""
    for c in range(x.shape[1]):
        _moments_channel(x, c, mean, var)


@njit(cache=True)
def _scale_shift_plane(x: Any, scale: Any, shift: Any, out: Any, plane: int, relu: bool) -> None:
    n_chan = x.shape[1]
    n = plane // n_chan
    c = plane % n_chan
    src = x[n, c]
    dst = out[n, c]
    a = scale[c]
    b = shift[c]
    if relu:
        for i in range(src.shape[0]):
            v = src[i] * a + b
            dst[i] = v if v > 0 else 0
    else:
        for i in range(src.shape[0]):
            dst[i] = src[i] * a + b


@njit(cache=True, parallel=True)
def scale_shift(x: Any, scale: Any, shift: Any, out: Any, relu: bool) -> None:
    """``out = x * scale[c] + shift[c]`` (then ``max(., 0)`` when ``relu``); planes in
    parallel. ``scale``/``shift`` have ``x``'s dtype."""
    for plane in prange(x.shape[0] * x.shape[1]):
        _scale_shift_plane(x, scale, shift, out, plane, relu)


@njit(cache=True)
def scale_shift_serial(x: Any, scale: Any, shift: Any, out: Any, relu: bool) -> None:
    """:func:`scale_shift` on one thread."""
    for plane in range(x.shape[0] * x.shape[1]):
        _scale_shift_plane(x, scale, shift, out, plane, relu)


@njit(cache=True)
def _grad_sums_channel(
    g: Any, x: Any, mean: Any, c: int, sum_g: Any, sum_gx: Any, y: Any, relu: bool
) -> None:
    n_batch, _, size = x.shape
    m = mean[c]
    s1 = 0.0
    s2 = 0.0
    for n in range(n_batch):
        grow = g[n, c]
        xrow = x[n, c]
        yrow = y[n, c]
        if relu:
            for i in range(size):
                gv = np.float64(grow[i]) * np.float64(yrow[i] > 0)  # branch-free mask
                s1 += gv
                s2 += gv * (np.float64(xrow[i]) - m)
        else:
            for i in range(size):
                gv = np.float64(grow[i])
                s1 += gv
                s2 += gv * (np.float64(xrow[i]) - m)
    sum_g[c] = s1
    sum_gx[c] = s2


@njit(cache=True, parallel=True)
def grad_sums(g: Any, x: Any, mean: Any, sum_g: Any, sum_gx: Any, y: Any, relu: bool) -> None:
    """``sum_g[c] = sum(g[:, c])``, ``sum_gx[c] = sum(g[:, c] * (x[:, c] - mean[c]))`` in
    float64; channels in parallel."""
    for c in prange(x.shape[1]):
        _grad_sums_channel(g, x, mean, c, sum_g, sum_gx, y, relu)


@njit(cache=True)
def grad_sums_serial(
    g: Any, x: Any, mean: Any, sum_g: Any, sum_gx: Any, y: Any, relu: bool
) -> None:
    """:func:`grad_sums` on one thread."""
    for c in range(x.shape[1]):
        _grad_sums_channel(g, x, mean, c, sum_g, sum_gx, y, relu)


@njit(cache=True)
def _affine2_plane(
    g: Any, x: Any, a: Any, b: Any, d: Any, out: Any, plane: int, y: Any, relu: bool
) -> None:
    n_chan = x.shape[1]
    n = plane // n_chan
    c = plane % n_chan
    grow = g[n, c]
    xrow = x[n, c]
    yrow = y[n, c]
    dst = out[n, c]
    ac = a[c]
    bc = b[c]
    dc = d[c]
    zero = dc - dc
    if relu:
        for i in range(xrow.shape[0]):
            gv = grow[i] if yrow[i] > 0 else zero
            dst[i] = ac * gv + bc * xrow[i] + dc  # (a select: vectorized)
    else:
        for i in range(xrow.shape[0]):
            dst[i] = ac * grow[i] + bc * xrow[i] + dc


@njit(cache=True, parallel=True)
def affine2(g: Any, x: Any, a: Any, b: Any, d: Any, out: Any, y: Any, relu: bool) -> None:
    """``out = a[c] * g + b[c] * x + d[c]``; planes in parallel (coefficients in ``x``'s
    dtype)."""
    for plane in prange(x.shape[0] * x.shape[1]):
        _affine2_plane(g, x, a, b, d, out, plane, y, relu)


@njit(cache=True)
def affine2_serial(g: Any, x: Any, a: Any, b: Any, d: Any, out: Any, y: Any, relu: bool) -> None:
    """:func:`affine2` on one thread."""
    for plane in range(x.shape[0] * x.shape[1]):
        _affine2_plane(g, x, a, b, d, out, plane, y, relu)
