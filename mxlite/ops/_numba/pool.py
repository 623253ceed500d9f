"""Numba twins of the pooling kernels (forward and backward), one ``(n, c)`` plane per work item.

Arrays are 5-d ``(N, C, D, H, W)`` (1-d and 2-d pooling pass unit ``D``/``H``). ``geo`` is
``(KD, KH, KW, OD, OH, OW, sd, sh, sw, pd, ph, pw)``. Output ``o`` reads the window that starts
at ``o*s - p`` along each dimension, clipped to the input; its divisor for averages is the
window clipped to the padded input (``count_include_pad``) or to the input (MXNet's ``pool.h``).
Pool types: :data:`MAX` (the first maximum of the window in row-major order takes the gradient;
an empty window gives the dtype's lowest value), :data:`AVG`, :data:`SUM`, :data:`LP` (``p`` 1:
``sum x``, 2: ``sqrt(sum x^2)``, 3: ``cbrt(sum x^3)``). Sums run over the window in row-major
order in the array's dtype, as the NumPy reference (:mod:`mxlite.ops.pool`) does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from mxlite.ops._numba import _primitives  # noqa: F401 - picks Numba's threading layer first

__all__ = [
    "MAX",
    "AVG",
    "SUM",
    "LP",
    "forward",
    "forward_serial",
    "backward",
    "backward_serial",
    "forward_argmax",
    "forward_argmax_serial",
    "backward_argmax",
    "backward_argmax_serial",
]

MAX = 0
AVG = 1
SUM = 2
LP = 3


@njit(cache=True)
def _span(o: int, k: int, s: int, p: int, size: int) -> tuple[int, int, int]:
    """Clipped window ``[lo, hi)`` of output ``o`` and its extent within the padded input."""
    start = o * s - p
    end = min(start + k, size + p)
    return max(start, 0), min(end, size), end - start


@njit(cache=True)
def _power(v: Any, p: int) -> Any:
    if p == 2:
        return v * v
    if p == 3:
        return v * v * v
    return v


@njit(cache=True)
def _root(v: Any, p: int) -> Any:
    if p == 2:
        return np.sqrt(v)
    if p == 3:
        return np.cbrt(v)
    return v


@njit(cache=True)
def _forward_plane(
    src: Any, dst: Any, geo: Any, kind: int, p: int, incl: bool, lowest: Any
) -> None:
    """Pool one ``(D, H, W)`` plane ``src`` into ``dst``."""
    size_d, size_h, size_w = src.shape
    kd, kh, kw, od_n, oh_n, ow_n, sd, sh, sw, pd, ph, pw = geo
    zero = lowest - lowest
    for od in range(od_n):
        d0, d1, de = _span(od, kd, sd, pd, size_d)
        for oh in range(oh_n):
            h0, h1, he = _span(oh, kh, sh, ph, size_h)
            for ow in range(ow_n):
                w0, w1, we = _span(ow, kw, sw, pw, size_w)
                if kind == MAX:
                    acc = lowest
                    for i in range(d0, d1):
                        for j in range(h0, h1):
                            for k in range(w0, w1):
                                if src[i, j, k] > acc:
                                    acc = src[i, j, k]
                    dst[od, oh, ow] = acc
                    continue
                acc = zero
                for i in range(d0, d1):
                    for j in range(h0, h1):
                        for k in range(w0, w1):
                            acc += _power(src[i, j, k], p) if kind == LP else src[i, j, k]
                if kind == AVG:
                    count = de * he * we if incl else (d1 - d0) * (h1 - h0) * (w1 - w0)
                    acc = acc / count if count > 0 else acc
                elif kind == LP:
                    acc = _root(acc, p)
                dst[od, oh, ow] = acc


@njit(cache=True, parallel=True)
def forward(x: Any, out: Any, geo: Any, kind: int, p: int, incl: bool, lowest: Any) -> None:
    """Pool every plane of ``x`` into ``out``; planes in parallel. ``lowest`` (the dtype's most
    negative finite value, typed as the arrays) starts each maximum."""
    for plane in prange(x.shape[0] * x.shape[1]):
        n = plane // x.shape[1]
        c = plane - n * x.shape[1]
        _forward_plane(x[n, c], out[n, c], geo, kind, p, incl, lowest)


@njit(cache=True)
def forward_serial(x: Any, out: Any, geo: Any, kind: int, p: int, incl: bool, lowest: Any) -> None:
    """:func:`forward` on one thread."""
    for plane in range(x.shape[0] * x.shape[1]):
        n = plane // x.shape[1]
        c = plane - n * x.shape[1]
        _forward_plane(x[n, c], out[n, c], geo, kind, p, incl, lowest)


@njit(cache=True)
def _backward_plane(
    grad: Any, src: Any, res: Any, acc: Any, geo: Any, kind: int, p: int, incl: bool
) -> None:
    """Overwrite one plane ``acc`` of the input gradient from the output gradient ``grad``, the
    input ``src`` and the output ``res`` of that plane."""
    size_d, size_h, size_w = src.shape
    kd, kh, kw, od_n, oh_n, ow_n, sd, sh, sw, pd, ph, pw = geo
    for i in range(size_d):
        for j in range(size_h):
            for k in range(size_w):
                acc[i, j, k] = 0
    for od in range(od_n):
        d0, d1, de = _span(od, kd, sd, pd, size_d)
        for oh in range(oh_n):
            h0, h1, he = _span(oh, kh, sh, ph, size_h)
            for ow in range(ow_n):
                w0, w1, we = _span(ow, kw, sw, pw, size_w)
                go = grad[od, oh, ow]
                if kind == MAX:
                    _to_first_max(src, acc, res[od, oh, ow], go, d0, d1, h0, h1, w0, w1)
                    continue
                scale = go
                if kind == AVG:
                    count = de * he * we if incl else (d1 - d0) * (h1 - h0) * (w1 - w0)
                    scale = go / count if count > 0 else go
                out_val = res[od, oh, ow]
                for i in range(d0, d1):
                    for j in range(h0, h1):
                        for k in range(w0, w1):
                            if kind == LP and p == 2:
                                acc[i, j, k] += go * src[i, j, k] / out_val
                            elif kind == LP and p == 3:
                                v = src[i, j, k]
                                acc[i, j, k] += go * (v * v) / (out_val * out_val)
                            else:
                                acc[i, j, k] += scale


@njit(cache=True)
def _to_first_max(
    src: Any, acc: Any, best: Any, go: Any, d0: int, d1: int, h0: int, h1: int, w0: int, w1: int
) -> None:
    for i in range(d0, d1):
        for j in range(h0, h1):
            for k in range(w0, w1):
                if src[i, j, k] == best:
                    acc[i, j, k] += go
                    return


@njit(cache=True, parallel=True)
def backward(g: Any, x: Any, y: Any, dx: Any, geo: Any, kind: int, p: int, incl: bool) -> None:
    """``dx`` (overwritten) from the output gradient ``g``, input ``x`` and output ``y``."""
    for plane in prange(x.shape[0] * x.shape[1]):
        n = plane // x.shape[1]
        c = plane - n * x.shape[1]
        _backward_plane(g[n, c], x[n, c], y[n, c], dx[n, c], geo, kind, p, incl)


@njit(cache=True)
def backward_serial(
    g: Any, x: Any, y: Any, dx: Any, geo: Any, kind: int, p: int, incl: bool
) -> None:
    """:func:`backward` on one thread."""
    for plane in range(x.shape[0] * x.shape[1]):
        n = plane // x.shape[1]
        c = plane - n * x.shape[1]
        _backward_plane(g[n, c], x[n, c], y[n, c], dx[n, c], geo, kind, p, incl)


@njit(cache=True)
def _argmax_plane(src: Any, dst: Any, idx: Any, geo: Any, lowest: Any) -> None:
    """Max pooling of one plane that also records, per output, the flat index (within the
    plane) of the window's first maximum (-1 for an all-padding window)."""
    size_d, size_h, size_w = src.shape
    kd, kh, kw, od_n, oh_n, ow_n, sd, sh, sw, pd, ph, pw = geo
    for od in range(od_n):
        d0, d1, _ = _span(od, kd, sd, pd, size_d)
        for oh in range(oh_n):
            h0, h1, _ = _span(oh, kh, sh, ph, size_h)
            for ow in range(ow_n):
                w0, w1, _ = _span(ow, kw, sw, pw, size_w)
                acc = lowest
                at = -1
                for i in range(d0, d1):
                    for j in range(h0, h1):
                        for k in range(w0, w1):
                            v = src[i, j, k]
                            if v > acc or (at < 0 and v >= acc):
                                acc = v
                                at = (i * size_h + j) * size_w + k
                dst[od, oh, ow] = acc
                idx[od, oh, ow] = at


@njit(cache=True, parallel=True)
def forward_argmax(x: Any, out: Any, idx: Any, geo: Any, lowest: Any) -> None:
    """Max pooling of every plane with the first maximum's index (``idx``, int32, the output's
    shape); planes in parallel."""
    for plane in prange(x.shape[0] * x.shape[1]):
        n = plane // x.shape[1]
        c = plane - n * x.shape[1]
        _argmax_plane(x[n, c], out[n, c], idx[n, c], geo, lowest)


@njit(cache=True)
def forward_argmax_serial(x: Any, out: Any, idx: Any, geo: Any, lowest: Any) -> None:
    """:func:`forward_argmax` on one thread."""
    for plane in range(x.shape[0] * x.shape[1]):
        n = plane // x.shape[1]
        c = plane - n * x.shape[1]
        _argmax_plane(x[n, c], out[n, c], idx[n, c], geo, lowest)


@njit(cache=True)
def _scatter_plane(grad: Any, idx: Any, acc: Any) -> None:
    flat = acc.ravel()
    for i in range(flat.shape[0]):
        flat[i] = 0
    g = grad.ravel()
    at = idx.ravel()
    for o in range(g.shape[0]):
        if at[o] >= 0:
            flat[at[o]] += g[o]


@njit(cache=True, parallel=True)
def backward_argmax(g: Any, idx: Any, dx: Any) -> None:
    """Max pooling's input gradient from the recorded indices: ``dx`` (overwritten) gets each
    output's gradient at its maximum; planes in parallel."""
    for plane in prange(dx.shape[0] * dx.shape[1]):
        n = plane // dx.shape[1]
        c = plane - n * dx.shape[1]
        _scatter_plane(g[n, c], idx[n, c], dx[n, c])


@njit(cache=True)
def backward_argmax_serial(g: Any, idx: Any, dx: Any) -> None:
    """:func:`backward_argmax` on one thread."""
    for plane in range(dx.shape[0] * dx.shape[1]):
        n = plane // dx.shape[1]
        c = plane - n * dx.shape[1]
        _scatter_plane(g[n, c], idx[n, c], dx[n, c])
