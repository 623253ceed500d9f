"""Numba twins of the Winograd F(4x4, 3x3) transforms (see :mod:`mxlite.ops.winograd`).

Tiles of 4x4 outputs read 6x6 inputs. Each kernel works strip by strip (one row of tiles): the
transform over the rows of the strip for every column, then over each tile's columns, tile after
tile, so the stores run along the tiles. The arithmetic is :mod:`mxlite.ops._winograd_math`'s,
as in the NumPy reference, so the twins agree with it bitwise.

- :func:`input_transform`: ``V[:, c, t] = B^T d B`` for every channel ``c`` and 6x6 input tile
  ``d`` (tile ``t = (n, ty, tx)`` reads rows ``4*ty - pad_h ..``, columns ``4*tx - pad_w ..``,
  zeros outside the input); channels in parallel.
- :func:`output_transform`: ``y[n, f, 4*ty:, 4*tx:] = A^T M A (+ bias[f])``, positions past the
  output dropped; filters in parallel.
- :func:`grad_transform`: ``Z[:, f, t] = A gy A^T`` for every 4x4 tile ``gy`` of the output
  gradient (zeros past the output); filters in parallel.

``k`` is the constants array ``(2, 4, 5, 8)`` in the data's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from mxlite.ops import _winograd_math
from mxlite.ops._numba import _primitives  # noqa: F401 - picks Numba's threading layer first

__all__ = [
    "input_transform",
    "input_transform_serial",
    "output_transform",
    "output_transform_serial",
    "grad_transform",
    "grad_transform_serial",
]

_bt = njit(cache=True, inline="always")(_winograd_math.bt4)
_at = njit(cache=True, inline="always")(_winograd_math.at4)
_a = njit(cache=True, inline="always")(_winograd_math.a4)


@njit(cache=True, inline="always")
def _store6(dst: Any, u: int, r: Any) -> None:
    """``dst[q, u] = r[q]`` for the 6 rows of ``dst``."""
    dst[0, u] = r[0]
    dst[1, u] = r[1]
    dst[2, u] = r[2]
    dst[3, u] = r[3]
    dst[4, u] = r[4]
    dst[5, u] = r[5]


@njit(cache=True)
def _input_channel(
    x: Any, v: Any, k: Any, c: int, pad_h: int, pad_w: int, th: int, tw: int
) -> None:
    n_batch, _, size_h, size_w = x.shape
    width = 4 * tw + 2
    d = np.zeros((6, width), dtype=x.dtype)
    rows = np.empty((6, width), dtype=x.dtype)
    lo = pad_w  # strip columns [lo, hi) hold input columns [0, size_w)
    hi = min(width, pad_w + size_w)
    t = 0
    for n in range(n_batch):
        for ty in range(th):
            h0 = 4 * ty - pad_h
            for i in range(6):
                h = h0 + i
                line = d[i]
                if 0 <= h < size_h:
                    src = x[n, c, h]
                    for col in range(lo, hi):
                        line[col] = src[col - pad_w]
                else:
                    for col in range(lo, hi):
                        line[col] = 0
            for col in range(width):  # rows: B^T d
                r = _bt(k, d[0, col], d[1, col], d[2, col], d[3, col], d[4, col], d[5, col])
                for i in range(6):
                    rows[i, col] = r[i]
            for i in range(6):  # columns: (B^T d) B, tile after tile
                row = rows[i]
                dst = v[6 * i : 6 * i + 6, c]
                for tx in range(tw):
                    b = 4 * tx
                    r = _bt(k, row[b], row[b + 1], row[b + 2], row[b + 3], row[b + 4], row[b + 5])
                    _store6(dst, t + tx, r)
            t += tw


@njit(cache=True, parallel=True)
def input_transform(x: Any, v: Any, k: Any, pad_h: int, pad_w: int, th: int, tw: int) -> None:
    """``v`` ``(36, C, N*th*tw)`` from ``x`` ``(N, C, H, W)``; channels in parallel."""
    for c in prange(x.shape[1]):
        _input_channel(x, v, k, c, pad_h, pad_w, th, tw)


@njit(cache=True)
def input_transform_serial(
    x: Any, v: Any, k: Any, pad_h: int, pad_w: int, th: int, tw: int
) -> None:
    """:func:`input_transform` on one thread."""
    for c in range(x.shape[1]):
        _input_channel(x, v, k, c, pad_h, pad_w, th, tw)


@njit(cache=True)
def _output_filter(mm: Any, y: Any, bias: Any, k: Any, f: int, th: int, tw: int) -> None:
    n_batch, _, out_h, out_w = y.shape
    b = bias[f]
    s = np.empty((4, 6, tw), dtype=mm.dtype)
    t = 0
    for n in range(n_batch):
        for ty in range(th):
            for j in range(6):  # rows: A^T M
                m0, m1, m2 = mm[j, f], mm[6 + j, f], mm[12 + j, f]
                m3, m4, m5 = mm[18 + j, f], mm[24 + j, f], mm[30 + j, f]
                for tx in range(tw):
                    u = t + tx
                    r = _at(k, m0[u], m1[u], m2[u], m3[u], m4[u], m5[u])
                    s[0, j, tx] = r[0]
                    s[1, j, tx] = r[1]
                    s[2, j, tx] = r[2]
                    s[3, j, tx] = r[3]
            for i in range(4):  # columns: (A^T M) A
                h = 4 * ty + i
                if h >= out_h:
                    continue
                row = y[n, f, h]
                si = s[i]
                for tx in range(tw):
                    r = _at(k, si[0, tx], si[1, tx], si[2, tx], si[3, tx], si[4, tx], si[5, tx])
                    w = 4 * tx
                    for jj in range(4):
                        if w + jj < out_w:
                            row[w + jj] = r[jj] + b
            t += tw


@njit(cache=True, parallel=True)
def output_transform(mm: Any, y: Any, bias: Any, k: Any, th: int, tw: int) -> None:
    """``y`` ``(N, F, OH, OW)`` from the products ``mm`` ``(36, F, N*th*tw)``; filters in
    parallel. ``bias`` has one entry per filter (zeros for none)."""
    for f in prange(y.shape[1]):
        _output_filter(mm, y, bias, k, f, th, tw)


@njit(cache=True)
def output_transform_serial(mm: Any, y: Any, bias: Any, k: Any, th: int, tw: int) -> None:
    """:func:`output_transform` on one thread."""
    for f in range(y.shape[1]):
        _output_filter(mm, y, bias, k, f, th, tw)


@njit(cache=True)
def _grad_filter(g: Any, z: Any, k: Any, f: int, th: int, tw: int) -> None:
    n_batch, _, out_h, out_w = g.shape
    width = 4 * tw
    gy = np.zeros((4, width), dtype=g.dtype)
    rows = np.empty((6, width), dtype=g.dtype)
    t = 0
    for n in range(n_batch):
        for ty in range(th):
            for i in range(4):
                h = 4 * ty + i
                line = gy[i]
                if h < out_h:
                    src = g[n, f, h]
                    for col in range(out_w):
                        line[col] = src[col]
                else:
                    for col in range(out_w):
                        line[col] = 0
            for col in range(width):  # rows: A gy
                r = _a(k, gy[0, col], gy[1, col], gy[2, col], gy[3, col])
                for i in range(6):
                    rows[i, col] = r[i]
            for i in range(6):  # columns: (A gy) A^T, tile after tile
                row = rows[i]
                dst = z[6 * i : 6 * i + 6, f]
                for tx in range(tw):
                    b = 4 * tx
                    _store6(dst, t + tx, _a(k, row[b], row[b + 1], row[b + 2], row[b + 3]))
            t += tw


@njit(cache=True, parallel=True)
def grad_transform(g: Any, z: Any, k: Any, th: int, tw: int) -> None:
    """``z`` ``(36, F, N*th*tw)`` from the output gradient ``g`` ``(N, F, OH, OW)``; filters in
    parallel."""
    for f in prange(g.shape[1]):
        _grad_filter(g, z, k, f, th, tw)


@njit(cache=True)
def grad_transform_serial(g: Any, z: Any, k: Any, th: int, tw: int) -> None:
    """:func:`grad_transform` on one thread."""
    for f in range(g.shape[1]):
        _grad_filter(g, z, k, f, th, tw)
