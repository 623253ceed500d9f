"""Numba twins of the convolution layout kernels: ``im2col`` and ``col2im`` over 3-d windows.

Both work on 5-d arrays ``(N, C, D, H, W)`` (1-d and 2-d convolutions pass unit ``D``/``H``) and a
column matrix ``cols`` of shape ``(C * KD * KH * KW, N * OD * OH * OW)``: row ``(c, kd, kh, kw)``,
column ``(n, od, oh, ow)`` holds ``x[n, c, od*sd - pd + kd*dd, oh*sh - ph + kh*dh,
ow*sw - pw + kw*dw]``, or 0 where that position falls in the zero padding. ``col2im`` is its
adjoint: it sums every column entry back into the input position it was read from.

``im2col`` reads the input split into ``sw`` phases along ``W`` (``xph[..., r, q] =
x[..., q*sw + r]``, see :func:`mxlite.ops.conv.width_phases`), so that every run of one output
row is a contiguous ``memcpy`` whatever the stride. The NumPy reference
(:func:`mxlite.ops.conv.im2col_reference`) defines the results; the tests hold these twins to it
bitwise (``col2im`` adds the same terms in the same order: kernel offsets in row-major order).
``im2col`` runs rows in parallel, ``col2im`` the ``(n, c)`` planes of its output (no two threads
write one element). Each kernel has a serial variant for one thread.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from mxlite.ops._numba import _primitives  # noqa: F401 - picks Numba's threading layer first

__all__ = ["im2col", "im2col_serial", "col2im", "col2im_serial"]


@intrinsic
def _memcpy(typingctx: Any, dst: Any, src: Any, nbytes: Any) -> Any:
    """``memcpy(dst, src, nbytes)`` on integer addresses, as an LLVM intrinsic call."""
    if not all(isinstance(a, types.Integer) for a in (dst, src, nbytes)):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        i8p = ir.IntType(8).as_pointer()
        d = builder.inttoptr(args[0], i8p)
        s = builder.inttoptr(args[1], i8p)
        cgutils.raw_memcpy(builder, d, s, args[2], 1)
        return context.get_dummy_value()

    return types.void(dst, src, nbytes), codegen


@njit(cache=True)
def _valid_range(start: int, step: int, size: int, count: int) -> tuple[int, int]:
    """The outputs ``o`` in ``[0, count)`` whose input ``start + o * step`` lies in
    ``[0, size)``, as ``[lo, hi)`` (empty when ``lo == hi``)."""
    lo = 0
    if start < 0:
        lo = (-start + step - 1) // step
    last = size - 1 - start
    hi = last // step + 1 if last >= 0 else 0
    hi = min(hi, count)
    lo = min(lo, hi)
    return lo, hi


@njit(cache=True)
def _im2col_row(xph: Any, width: int, dst: Any, row: int, geo: Any) -> None:
    """Fill one row of ``cols`` (``dst``, contiguous, length ``N * OD * OH * OW``) from the
    contiguous phase array ``xph`` ``(N, C, D, H, sw, ceil(W / sw))``."""
    n_batch, n_chan, size_d, size_h, n_phase, size_q = xph.shape
    kd_n, kh_n, kw_n, od_n, oh_n, ow_n, sd, sh, sw, pd, ph, pw, dd, dh, dw = geo
    kw = row % kw_n
    t = row // kw_n
    kh = t % kh_n
    t //= kh_n
    kd = t % kd_n
    c = t // kd_n
    iw0 = kw * dw - pw
    lo, hi = _valid_range(iw0, sw, width, ow_n)
    phase = iw0 % sw
    q0 = (iw0 - phase) // sw  # position ow reads xph[..., phase, q0 + ow]
    item = dst.itemsize
    dst_base = dst.ctypes.data
    src_base = xph.ctypes.data
    run = (hi - lo) * item
    pos = 0
    for n in range(n_batch):
        for od in range(od_n):
            idd = od * sd - pd + kd * dd
            for oh in range(oh_n):
                ih = oh * sh - ph + kh * dh
                if idd < 0 or idd >= size_d or ih < 0 or ih >= size_h:
                    for ow in range(ow_n):
                        dst[pos + ow] = 0
                else:
                    for ow in range(lo):
                        dst[pos + ow] = 0
                    if run > 0:
                        src = (((n * n_chan + c) * size_d + idd) * size_h + ih) * n_phase + phase
                        src = src * size_q + q0 + lo
                        _memcpy(dst_base + (pos + lo) * item, src_base + src * item, run)
                    for ow in range(hi, ow_n):
                        dst[pos + ow] = 0
                pos += ow_n


@njit(cache=True, parallel=True)
def im2col(xph: Any, width: int, cols: Any, geo: Any) -> None:
    """``cols[row, :]`` for every row, rows in parallel; ``width`` is the input's ``W``.

    ``geo`` is ``(KD, KH, KW, OD, OH, OW, sd, sh, sw, pd, ph, pw, dd, dh, dw)``.
    """
    for row in prange(cols.shape[0]):
        _im2col_row(xph, width, cols[row], row, geo)


@njit(cache=True)
def im2col_serial(xph: Any, width: int, cols: Any, geo: Any) -> None:
    """:func:`im2col` on one thread."""
    for row in range(cols.shape[0]):
        _im2col_row(xph, width, cols[row], row, geo)


@njit(cache=True)
def _col2im_plane(cols: Any, dx: Any, plane: int, geo: Any) -> None:
    """Zero ``dx[n, c]`` (``plane = n * C + c``) and add every column entry read from it."""
    _, n_chan, size_d, size_h, size_w = dx.shape
    kd_n, kh_n, kw_n, od_n, oh_n, ow_n, sd, sh, sw, pd, ph, pw, dd, dh, dw = geo
    n = plane // n_chan
    c = plane % n_chan
    out = dx[n, c]
    for i in range(size_d):
        for j in range(size_h):
            for k in range(size_w):
                out[i, j, k] = 0
    per_sample = od_n * oh_n * ow_n
    row = c * kd_n * kh_n * kw_n
    for kd in range(kd_n):
        for kh in range(kh_n):
            for kw in range(kw_n):
                src = cols[row]
                row += 1
                iw0 = kw * dw - pw
                lo, hi = _valid_range(iw0, sw, size_w, ow_n)
                pos = n * per_sample
                for od in range(od_n):
                    idd = od * sd - pd + kd * dd
                    for oh in range(oh_n):
                        ih = oh * sh - ph + kh * dh
                        if 0 <= idd < size_d and 0 <= ih < size_h:
                            line = out[idd, ih]
                            for ow in range(lo, hi):
                                line[iw0 + ow * sw] += src[pos + ow]
                        pos += ow_n


@njit(cache=True, parallel=True)
def col2im(cols: Any, dx: Any, geo: Any) -> None:
    """``dx`` (overwritten) as the sum of ``cols`` entries per input position; planes in
    parallel. ``geo`` as for :func:`im2col`."""
    for plane in prange(dx.shape[0] * dx.shape[1]):
        _col2im_plane(cols, dx, plane, geo)


@njit(cache=True)
def col2im_serial(cols: Any, dx: Any, geo: Any) -> None:
    """:func:`col2im` on one thread."""
    for plane in range(dx.shape[0] * dx.shape[1]):
        _col2im_plane(cols, dx, plane, geo)
