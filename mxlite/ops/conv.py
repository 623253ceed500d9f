"""Convolution and transposed convolution as a few large matrix products, on raw arrays.

A convolution of ``x`` ``(N, C, *S)`` with ``w`` ``(F, C/G, *K)`` (``G`` groups) is computed as
``W (G, F/G, C/G*K) @ cols (G, C/G*K, N*P)`` with ``cols = im2col(x)`` (``P`` output positions
per sample, see :mod:`mxlite.ops._numba.conv` for the layout), giving ``(F, N, P)``, which one copy
turns into ``(N, F, P)`` while adding the bias. The backward pass is two more products:
``dW = g_cf @ cols.T`` and ``dcols = W.T @ g_cf`` (``g_cf`` the gradient as ``(F, N*P)``), then
``dx = col2im(dcols)``. A transposed convolution (MXNet's ``Deconvolution``, weight
``(C, F/G, *K)``) is the adjoint: its forward is the convolution's data gradient and its backward
the convolution's forward and weight gradient, with the same kernels.

Host arrays use the Numba layout kernels and NumPy's BLAS (limited to the thread policy by
:func:`mxlite._threads.host_threads`); 3x3 stride-1 convolutions run by Winograd there
(:mod:`mxlite.ops.winograd`), and the others with many output positions per sample build one
sample's column matrix at a time (it stays in cache; the forward product writes that sample's
output in place, the weight gradient sums the per-sample products). Device arrays use the same code with CuPy, always by the column
matrix: ``im2col``/``col2im`` as one strided copy or add per kernel offset and the products as
cuBLAS GEMMs (a plain GEMM for one group, a strided-batched one per group otherwise). 1-d and 2-d
problems run as 3-d ones with unit leading dimensions. float16 is computed in float32 and rounded
once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from mxlite import _threads, backend
from mxlite.ops import scratch, winograd

__all__ = [
    "Window",
    "as5d",
    "im2col",
    "col2im",
    "im2col_reference",
    "width_phases",
    "col2im_reference",
    "conv_forward",
    "conv_backward",
    "deconv_forward",
    "deconv_backward",
    "forward",
    "backward",
    "to_channels_first",
    "to_channels_last",
]

# A 1x1, stride-1 convolution multiplies each sample in place (no layout copies) from this many
# output positions per sample; below it, one product over the whole batch is faster.
_PER_SAMPLE_FROM = 512
# Other (non-Winograd, one group) host convolutions build one sample's column matrix at a time
# (it stays in cache, and each product writes its sample's output in place) from this many
# output positions per sample; below it, one column matrix and product for the whole batch.
_COLS_PER_SAMPLE_FROM = 128


@dataclass(frozen=True)
class Window:
    """Kernel, stride, padding and dilation of a convolution or pooling window, 3-d.

    1-d and 2-d windows are stored with leading unit entries (kernel 1, stride 1, pad 0,
    dilate 1); :attr:`ndim` remembers the original number of spatial dimensions.
    """

    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    pad: tuple[int, int, int]
    dilate: tuple[int, int, int]
    ndim: int

    @classmethod
    def of(
        cls,
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        pad: tuple[int, ...],
        dilate: tuple[int, ...],
    ) -> Window:
        """A window from per-dimension tuples of one length (1, 2 or 3)."""
        lead = 3 - len(kernel)
        return cls(
            (1,) * lead + tuple(kernel),  # type: ignore[arg-type]
            (1,) * lead + tuple(stride),  # type: ignore[arg-type]
            (0,) * lead + tuple(pad),  # type: ignore[arg-type]
            (1,) * lead + tuple(dilate),  # type: ignore[arg-type]
            len(kernel),
        )

    @property
    def size(self) -> int:
        """Number of kernel positions."""
        return self.kernel[0] * self.kernel[1] * self.kernel[2]

    def spatial3(self, spatial: tuple[int, ...]) -> tuple[int, int, int]:
        """``spatial`` (``ndim`` entries) with leading unit entries up to 3."""
        return (1,) * (3 - len(spatial)) + tuple(spatial)  # type: ignore[return-value]

    def conv_out(self, spatial3: tuple[int, int, int]) -> tuple[int, int, int]:
        """Output size of a convolution over ``spatial3``:
        ``floor((S + 2p - d*(K-1) - 1) / s) + 1`` per dimension."""
        return tuple(  # type: ignore[return-value]
            (s + 2 * p - d * (k - 1) - 1) // st + 1
            for s, k, st, p, d in zip(spatial3, self.kernel, self.stride, self.pad, self.dilate)
        )

    def packed(self, out3: tuple[int, int, int]) -> tuple[int, ...]:
        """The 15 integers the Numba kernels take."""
        return (*self.kernel, *out3, *self.stride, *self.pad, *self.dilate)


def as5d(x: Any) -> Any:
    """``x`` ``(N, C, *S)`` as ``(N, C, D, H, W)`` (a view with unit dimensions)."""
    return x.reshape(x.shape[:2] + (1,) * (5 - x.ndim) + x.shape[2:])


def _window_slices(win: Window, k: tuple[int, int, int], out3: tuple[int, ...]) -> tuple:
    """Slices of the padded input read by kernel offset ``k`` for every output position."""
    return tuple(
        slice(ki * d, ki * d + (o - 1) * s + 1, s)
        for ki, d, s, o in zip(k, win.dilate, win.stride, out3)
    )


def _offsets(win: Window) -> list[tuple[int, int, int]]:
    return [
        (a, b, c)
        for a in range(win.kernel[0])
        for b in range(win.kernel[1])
        for c in range(win.kernel[2])
    ]


# -------------------------------------------------------------------------- im2col / col2im
def im2col_reference(x5: Any, win: Window, out3: tuple[int, int, int]) -> Any:
    """The column matrix ``(C*K, N*P)`` of ``x5`` ``(N, C, D, H, W)``: one strided copy per
    kernel offset from the zero-padded input (NumPy or CuPy)."""
    xp = backend.xp_of(x5)
    n, c = x5.shape[:2]
    pads = ((0, 0), (0, 0)) + tuple((p, p) for p in win.pad)
    xpad = xp.pad(x5, pads) if any(win.pad) else x5
    cols = xp.empty((c, win.size, n) + tuple(out3), dtype=x5.dtype)
    for i, k in enumerate(_offsets(win)):
        part = xpad[(slice(None), slice(None)) + _window_slices(win, k, out3)]
        cols[:, i] = part.transpose(1, 0, 2, 3, 4)
    return cols.reshape(c * win.size, -1)


def col2im_reference(
    cols: Any, shape5: tuple[int, ...], win: Window, out3: tuple[int, int, int]
) -> Any:
    """The adjoint of :func:`im2col_reference`: an array of ``shape5`` where each element is the
    sum, over kernel offsets in row-major order, of the column entries read from it."""
    xp = backend.xp_of(cols)
    n, c = shape5[:2]
    padded = (n, c) + tuple(s + 2 * p for s, p in zip(shape5[2:], win.pad))
    dxp = xp.zeros(padded, dtype=cols.dtype)
    cols6 = cols.reshape((c, win.size, n) + tuple(out3))
    for i, k in enumerate(_offsets(win)):
        dxp[(slice(None), slice(None)) + _window_slices(win, k, out3)] += cols6[:, i].transpose(
            1, 0, 2, 3, 4
        )
    inner = tuple(slice(p, p + s) for p, s in zip(win.pad, shape5[2:]))
    return xp.ascontiguousarray(dxp[(slice(None), slice(None)) + inner])


def _kernels() -> ModuleType:
    """The Numba twins (Numba loads on the first convolution)."""
    from mxlite.ops._numba import conv as _cpu_conv  # noqa: PLC0415

    return _cpu_conv


def width_phases(x5: np.ndarray, stride: int) -> np.ndarray:
    """``x5`` ``(N, C, D, H, W)`` as the contiguous ``(N, C, D, H, stride, ceil(W / stride))``
    array ``xph[..., r, q] = x5[..., q * stride + r]`` (zeros past the end): with it, a strided
    row of the input is a contiguous run. For stride 1, a view when ``x5`` is contiguous."""
    n, c, d, h, w = x5.shape
    q = -(-w // stride)
    if stride == 1:
        return np.ascontiguousarray(x5).reshape(n, c, d, h, 1, w)
    xph = scratch.empty("conv.phases", (n, c, d, h, stride, q), x5.dtype)
    xph[..., -1] = 0
    for r in range(stride):
        part = x5[..., r::stride]
        xph[..., r, : part.shape[-1]] = part
    return xph


def im2col(x5: Any, win: Window, out3: tuple[int, int, int], tag: str | None = None) -> Any:
    """:func:`im2col_reference`, by the Numba kernel on host arrays (into the scratch buffer
    ``tag`` when given: see :mod:`mxlite.ops.scratch`)."""
    if backend.is_gpu_array(x5):
        return im2col_reference(x5, win, out3)
    n, c = x5.shape[:2]
    shape = (c * win.size, n * math.prod(out3))
    cols = scratch.empty(tag, shape, x5.dtype) if tag else np.empty(shape, dtype=x5.dtype)
    xph = width_phases(x5, win.stride[2])
    k = _kernels()
    _threads.launch(
        k.im2col,
        xph,
        x5.shape[4],
        cols,
        win.packed(out3),
        serial=k.im2col_serial,
        big_enough=cols.size >= _threads.PARALLEL_MIN_ELEMENTS,
    )
    return cols


def col2im(cols: Any, shape5: tuple[int, ...], win: Window, out3: tuple[int, int, int]) -> Any:
    """:func:`col2im_reference`, by the Numba kernel on host arrays."""
    if backend.is_gpu_array(cols):
        return col2im_reference(cols, shape5, win, out3)
    dx = np.empty(shape5, dtype=cols.dtype)
    k = _kernels()
    _threads.launch(
        k.col2im,
        cols,
        dx,
        win.packed(out3),
        serial=k.col2im_serial,
        big_enough=cols.size >= _threads.PARALLEL_MIN_ELEMENTS,
    )
    return dx


# ----------------------------------------------------------------------------- helpers
def _work_dtype(dtype: Any) -> Any:
    """The dtype products run in: float32 for float16, else the dtype itself."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _channels_first(x: Any, xp: ModuleType, tag: str) -> Any:
    """``(N, C, ...)`` as a contiguous ``(C, N * P)`` matrix (a scratch temporary on the host)."""
    n, c = x.shape[:2]
    src = x.reshape(n, c, -1).transpose(1, 0, 2)
    if xp is not np:
        return xp.ascontiguousarray(src).reshape(c, -1)
    out = scratch.empty(tag, src.shape, x.dtype)
    out[...] = src
    return out.reshape(c, -1)


def _batch_first(y_cf: Any, n: int, bias: Any, dtype: Any, xp: ModuleType) -> Any:
    """``(F, N * P)`` as a new ``(N, F, P)`` array of ``dtype``, plus ``bias`` per channel."""
    f = y_cf.shape[0]
    src = y_cf.reshape(f, n, -1).transpose(1, 0, 2)
    out = xp.empty((n, f, src.shape[2]), dtype=dtype)
    if bias is None:
        out[...] = src
    else:
        xp.add(src, bias.reshape(1, f, 1).astype(y_cf.dtype, copy=False), out=out)
    return out


def _matmul(a: Any, b: Any, xp: ModuleType, tag: str | None = None) -> Any:
    """``a @ b`` (into the scratch buffer ``tag`` on the host when given); on a device one
    cuBLAS GEMM when both are single-group stacks ``(1, m, k) @ (1, k, n)``."""
    if xp is not np:
        if a.ndim == 3 and a.shape[0] == 1 and b.shape[0] == 1:
            return xp.matmul(a[0], b[0])[None]
        return xp.matmul(a, b)
    _threads.host_threads()  # the BLAS pool follows the thread policy
    if tag is None:
        return np.matmul(a, b)
    dt = np.result_type(a.dtype, b.dtype)
    out = scratch.empty(tag, a.shape[:-1] + b.shape[-1:], dt)
    return np.matmul(a, b, out=out)


def _grouped(mat: Any, groups: int) -> Any:
    """A ``(G*m, k)`` matrix as ``(G, m, k)``."""
    return mat.reshape(groups, mat.shape[0] // groups, -1)


def _weight3(w: Any, groups: int, dtype: Any) -> Any:
    """The weight ``(F, C/G, *K)`` as ``(G, F/G, C/G*K)`` in the work dtype."""
    return w.reshape(groups, w.shape[0] // groups, -1).astype(dtype, copy=False)


def _winograd(win: Window, x5: Any, w: Any, groups: int) -> bool:
    """Whether this convolution runs by Winograd F(4x4, 3x3) (see mxlite.ops.winograd): on the
    host only (a device runs the column matrix and cuBLAS)."""
    if win.ndim != 2 or backend.is_gpu_array(x5):
        return False
    out3 = win.conv_out(x5.shape[2:])
    return winograd.applicable(
        win.kernel, win.stride, win.pad, win.dilate, x5.shape[2], out3[1:], groups,
        x5.shape[1], w.shape[0],
    )  # fmt: skip


def _cols(x5: Any, win: Window, out3: tuple[int, int, int], xp: ModuleType) -> Any:
    """The column matrix of ``x5`` (a scratch temporary): im2col, or for a 1x1 stride-1
    window the input as ``(C, N*P)``."""
    if _is_pointwise(win):
        return _channels_first(x5, xp, "conv.cols")
    return im2col(x5, win, out3, "conv.cols")


def _is_pointwise(win: Window) -> bool:
    return win.size == 1 and win.stride == (1, 1, 1) and win.pad == (0, 0, 0)


# ----------------------------------------------------------------------------- convolution
def conv_forward(
    x: Any, w: Any, b: Any | None, win: Window, groups: int, saved: dict[str, Any] | None = None
) -> Any:
    """``Convolution``: ``x`` ``(N, C, *S)``, ``w`` ``(F, C/G, *K)``, ``b`` ``(F,)`` or None;
    returns ``(N, F, *O)`` in ``x``'s dtype. ``saved`` (a dict) receives what the backward
    pass can reuse (the Winograd input transform)."""
    xp = backend.xp_of(x)
    dtype = x.dtype
    work = _work_dtype(dtype)
    n, f = x.shape[0], w.shape[0]
    x5 = as5d(x.astype(work, copy=False))
    out3 = win.conv_out(x5.shape[2:])
    out_shape = (n, f) + out3[3 - win.ndim :]
    if _winograd(win, x5, w, groups):
        x4, w4 = x5[:, :, 0], w.reshape(f, -1, 3, 3).astype(work, copy=False)
        bias = None if b is None else b.astype(work, copy=False)
        y4 = winograd.forward(x4, w4, bias, win.pad[1:], saved)
        return y4.astype(dtype, copy=False).reshape(out_shape)
    w3 = _weight3(w, groups, work)
    p = math.prod(out3)
    if groups == 1 and _is_pointwise(win) and p >= _PER_SAMPLE_FROM:
        y = _matmul(w3[0], x5.reshape(n, x5.shape[1], p), xp)
        if b is not None:
            y += b.reshape(1, f, 1).astype(work, copy=False)
        return y.astype(dtype, copy=False).reshape(out_shape)
    if _cols_per_sample(xp, win, groups, n, p):
        _threads.host_threads()  # the BLAS pool follows the thread policy
        y = np.empty((n, f, p), dtype=work)
        for i in range(n):
            np.matmul(w3[0], im2col(x5[i : i + 1], win, out3, "conv.cols"), out=y[i])
        if b is not None:
            y += b.reshape(1, f, 1).astype(work, copy=False)
        return y.astype(dtype, copy=False).reshape(out_shape)
    cols = _cols(x5, win, out3, xp)
    y_cf = _matmul(w3, _grouped(cols, groups), xp, "conv.product").reshape(f, -1)
    return _batch_first(y_cf, n, b, dtype, xp).reshape(out_shape)


def _cols_per_sample(xp: ModuleType, win: Window, groups: int, n: int, positions: int) -> bool:
    """Whether a host convolution works one sample's column matrix at a time (see
    ``_COLS_PER_SAMPLE_FROM``; 1x1 stride-1 windows need no column matrix)."""
    return (
        xp is np
        and groups == 1
        and n > 1
        and not _is_pointwise(win)
        and positions >= _COLS_PER_SAMPLE_FROM
    )


def conv_backward(
    g: Any,
    x: Any,
    w: Any,
    win: Window,
    groups: int,
    needs: tuple[bool, bool, bool],
    saved: dict[str, Any] | None = None,
) -> tuple[Any, Any, Any]:
    """Gradients ``(dx, dw, db)`` of :func:`conv_forward` for the output gradient ``g``; an
    entry is None where ``needs`` says it is not wanted. ``saved``: what the forward pass
    kept."""
    xp = backend.xp_of(g)
    work = _work_dtype(x.dtype)
    n = x.shape[0]
    x5 = as5d(x.astype(work, copy=False))
    out3 = win.conv_out(x5.shape[2:])
    g = g.astype(work, copy=False)
    w3 = _weight3(w, groups, work)
    g_cf = None
    dx = dw = db = None
    if needs[1] and _winograd(win, x5, w, groups):
        v = (saved or {}).get("v")
        g4 = g.reshape(n, w.shape[0], *out3[1:])
        dw = winograd.weight_grad(x5[:, :, 0], g4, win.pad[1:], v)
    elif needs[1] and _cols_per_sample(xp, win, groups, n, math.prod(out3)):
        _threads.host_threads()
        f = w.shape[0]
        dw = np.zeros((f, x5.shape[1] * win.size), dtype=work)
        part = np.empty_like(dw)
        for i in range(n):
            cols = im2col(x5[i : i + 1], win, out3, "conv.cols")
            dw += np.matmul(g[i].reshape(f, -1), cols.T, out=part)
    elif needs[1]:
        g_cf = _channels_first(g, xp, "conv.g_cf")
        cols = _cols(x5, win, out3, xp)
        dw = _matmul(_grouped(g_cf, groups), _grouped(cols, groups).transpose(0, 2, 1), xp)
        del cols
    if dw is not None:
        dw = dw.reshape(w.shape).astype(w.dtype, copy=False)
    if needs[0]:
        dx = _data_grad(g, g_cf, w, w3, x5, win, groups, out3)
        dx = dx.astype(x.dtype, copy=False).reshape(x.shape)
    if len(needs) > 2 and needs[2]:
        db = g.reshape(n, w.shape[0], -1).sum(axis=(0, 2)).astype(x.dtype, copy=False)
    return dx, dw, db


def _full_window(win: Window) -> Window | None:
    """The window of the stride-1 convolution that computes a stride-1 convolution's data
    gradient: the kernel flipped, padded by ``dilate*(kernel-1) - pad`` (None for strided
    windows, or padding beyond the dilated kernel)."""
    if win.stride != (1, 1, 1):
        return None
    pad = tuple(d * (k - 1) - p for k, p, d in zip(win.kernel, win.pad, win.dilate))
    if any(p < 0 for p in pad):
        return None
    return Window(win.kernel, (1, 1, 1), pad, win.dilate, win.ndim)  # type: ignore[arg-type]


def _flipped_transposed(w: Any, groups: int) -> Any:
    """A weight ``(O, I/G, *K)`` as ``(I, O/G, *K)`` with the kernel flipped along every axis:
    the weight of the adjoint (full) convolution."""
    xp = backend.xp_of(w)
    o, i = w.shape[:2]
    k = w.shape[2:]
    nk = len(k)
    wg = w.reshape((groups, o // groups, i) + k).transpose((0, 2, 1) + tuple(range(3, 3 + nk)))
    flipped = wg[(Ellipsis,) + (slice(None, None, -1),) * nk]
    return xp.ascontiguousarray(flipped).reshape((groups * i, o // groups) + k)


def _data_grad(
    g: Any, g_cf: Any | None, w: Any, w3: Any, x5: Any, win: Window, groups: int, out3: Any
) -> Any:
    """The convolution's data gradient in the work dtype, ``(N, C, D, H, W)``-compatible.

    Stride-1 windows run the full convolution of ``g`` with the flipped kernel (an ``im2col``
    copy and one product whose inner dimension is ``F*K``); strided ones multiply by ``W.T``
    (inner dimension ``F``) and sum the columns back with ``col2im``."""
    xp = backend.xp_of(g)
    n, c = x5.shape[:2]
    full = _full_window(win)
    if g_cf is None and (full is None or _is_pointwise(win)):
        g_cf = _channels_first(g, xp, "conv.g_cf")
    if _is_pointwise(win):
        dcols = _matmul(w3.transpose(0, 2, 1), _grouped(g_cf, groups), xp, "conv.product")
        return _batch_first(dcols.reshape(c, -1), n, None, g.dtype, xp)
    if full is not None:
        w_full = _flipped_transposed(w3.reshape(w.shape), groups)
        return conv_forward(g.astype(w_full.dtype, copy=False), w_full, None, full, groups)
    dcols = _matmul(w3.transpose(0, 2, 1), _grouped(g_cf, groups), xp, "conv.product")
    return col2im(dcols.reshape(c * win.size, -1), x5.shape, win, out3)


# ------------------------------------------------------------------- transposed convolution
def deconv_forward(
    x: Any, w: Any, b: Any | None, win: Window, groups: int, out_spatial: tuple[int, ...]
) -> Any:
    """``Deconvolution``: ``x`` ``(N, C, *S)``, ``w`` ``(C, F/G, *K)``; returns
    ``(N, F, *out_spatial)``, the adjoint of a convolution from ``out_spatial`` to ``S``."""
    xp = backend.xp_of(x)
    dtype = x.dtype
    work = _work_dtype(dtype)
    n, c = x.shape[:2]
    f = w.shape[1] * groups
    out5 = (n, f) + win.spatial3(tuple(out_spatial))
    out3 = as5d(x).shape[2:]
    x_cf = _channels_first(x.astype(work, copy=False), xp, "conv.x_cf")
    w3 = _weight3(w, groups, work)  # (G, C/G, F/G*K)
    dcols = _matmul(w3.transpose(0, 2, 1), _grouped(x_cf, groups), xp, "conv.product")
    y = col2im(dcols.reshape(f * win.size, -1), out5, win, out3)
    if b is not None:
        y += b.reshape((1, f, 1, 1, 1)).astype(work, copy=False)
    return y.astype(dtype, copy=False).reshape((n, f) + tuple(out_spatial))


def deconv_backward(
    g: Any, x: Any, w: Any, win: Window, groups: int, needs: tuple[bool, bool, bool]
) -> tuple[Any, Any, Any]:
    """Gradients ``(dx, dw, db)`` of :func:`deconv_forward`."""
    xp = backend.xp_of(g)
    work = _work_dtype(x.dtype)
    n, c = x.shape[:2]
    g5 = as5d(g.astype(work, copy=False))
    out3 = as5d(x).shape[2:]
    cols = im2col(g5, win, out3, "conv.cols")  # (F*K, N*P)
    w3 = _weight3(w, groups, work)
    dx = dw = db = None
    if needs[0]:
        dx_cf = _matmul(w3, _grouped(cols, groups), xp, "conv.product").reshape(c, -1)
        dx = _batch_first(dx_cf, n, None, x.dtype, xp).reshape(x.shape)
    if needs[1]:
        x_cf = _channels_first(x.astype(work, copy=False), xp, "conv.x_cf")
        dw = _matmul(_grouped(x_cf, groups), _grouped(cols, groups).transpose(0, 2, 1), xp)
        dw = dw.reshape(w.shape).astype(w.dtype, copy=False)
    if len(needs) > 2 and needs[2]:
        db = g5.sum(axis=(0, 2, 3, 4)).astype(g.dtype, copy=False)
    return dx, dw, db


# ------------------------------------------------------------------------------ layouts
def to_channels_first(arr: Any) -> Any:
    """A channels-last array (``(N, *S, C)``) as channels-first ``(N, C, *S)`` (a view)."""
    return arr.transpose((0, arr.ndim - 1) + tuple(range(1, arr.ndim - 1)))


def to_channels_last(arr: Any) -> Any:
    """A channels-first array as a new contiguous channels-last one."""
    moved = arr.transpose((0,) + tuple(range(2, arr.ndim)) + (1,))
    return backend.xp_of(arr).ascontiguousarray(moved)


def forward(
    transposed: bool,
    x: Any,
    w: Any,
    b: Any | None,
    win: Window,
    groups: int,
    channels_last: bool,
    out_spatial: tuple[int, ...] = (),
    saved: dict[str, Any] | None = None,
) -> Any:
    """:func:`conv_forward` (``transposed`` False) or :func:`deconv_forward` with the data and
    weight in channels-last layouts (NWC/NHWC/NDHWC, weight ``(O, *K, I)``) when
    ``channels_last``; ``saved`` receives what :func:`backward` can reuse."""
    if channels_last:
        x, w = to_channels_first(x), to_channels_first(w)
    if transposed:
        y = deconv_forward(x, w, b, win, groups, out_spatial)
    else:
        y = conv_forward(x, w, b, win, groups, saved)
    return to_channels_last(y) if channels_last else y


def backward(
    transposed: bool,
    g: Any,
    x: Any,
    w: Any,
    win: Window,
    groups: int,
    channels_last: bool,
    needs: tuple[bool, ...],
    saved: dict[str, Any] | None = None,
) -> tuple[Any, Any, Any]:
    """The gradients ``(dx, dw, db)`` of :func:`forward` (None where not ``needs``)."""
    wanted = (needs[0], needs[1], len(needs) > 2 and needs[2])
    if channels_last:
        g, x, w = to_channels_first(g), to_channels_first(x), to_channels_first(w)
    if transposed:
        dx, dw, db = deconv_backward(g, x, w, win, groups, wanted)
    else:
        dx, dw, db = conv_backward(g, x, w, win, groups, wanted, saved)
    if channels_last:
        dx = None if dx is None else to_channels_last(dx)
        dw = None if dw is None else to_channels_last(dw)
    return dx, dw, db
