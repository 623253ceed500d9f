"""3x3 stride-1 convolutions by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, 2015).

The output is cut into 4x4 tiles; each reads a 6x6 input tile ``d`` and is
``A^T [ (G w G^T) . (B^T d B) ] A``, the elementwise product summed over the input channels.
That makes 36 matrix products ``U[k] (F, C) @ V[k] (C, T)`` over ``T`` tiles instead of one
``(F, 9C) @ (9C, 16T)`` product: 4 times fewer multiplications. The weight gradient uses the
adjoint, ``dW = G^T [ sum over tiles (A gy A^T) . (B^T d B) ] G`` (products
``Z[k] (F, T) @ V[k].T``), and the data gradient is the same forward pass on the output gradient
with the flipped, transposed kernel (see :func:`mxlite.ops.conv._data_grad`). In float32 the
results stay within a few 1e-6 of the output's scale of a direct convolution's.

:func:`applicable` says when it is used (2-d, 3x3, stride and dilation 1, one group, padding up
to 2, outputs of at least 4x4, enough channels for the products to pay). Host arrays use the
Numba transforms of :mod:`mxlite.ops._numba.winograd`; device arrays the ``*_reference`` functions
(NumPy/CuPy operations on strided arrays with the same formulas,
:mod:`mxlite.ops._winograd_math`, which the tests hold the twins to bitwise). The large
temporaries (``V``, ``M``, ``Z``) are scratch buffers (:mod:`mxlite.ops.scratch`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import _threads, backend
from mxlite.ops import _winograd_math as _wm
from mxlite.ops import scratch

__all__ = [
    "G",
    "applicable",
    "tiles",
    "constants",
    "weight_transform",
    "weight_grad_transform",
    "input_transform",
    "output_transform",
    "grad_transform",
    "input_transform_reference",
    "output_transform_reference",
    "grad_transform_reference",
    "forward",
    "weight_grad",
]

# G of F(4x4, 3x3) (B^T and A^T are written out in mxlite.ops._winograd_math).
G = np.array(
    [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
     [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
    dtype=np.float64,
)  # fmt: skip
_MIN_CHANNELS = 16  # below this the small products lose to one im2col product
# The forward pass keeps an input transform for the weight gradient only below this size:
# larger arrays are mapped afresh (and zeroed by the kernel), which costs what recomputing does.
_KEEP_BELOW = 24 << 20


def applicable(kernel: tuple[int, ...], stride: tuple[int, ...], pad: tuple[int, ...],
               dilate: tuple[int, ...], depth: int, out_hw: tuple[int, int], groups: int,
               c: int, f: int) -> bool:  # fmt: skip
    """Whether a convolution (3-d tuples, ``depth`` the input's D, ``out_hw`` its output's
    height and width) runs by Winograd."""
    return (
        kernel == (1, 3, 3)
        and stride == (1, 1, 1)
        and dilate == (1, 1, 1)
        and pad[0] == 0
        and pad[1] <= 2
        and pad[2] <= 2
        and min(out_hw) >= 4
        and depth == 1
        and groups == 1
        and min(c, f) >= _MIN_CHANNELS
    )


def tiles(out_h: int, out_w: int) -> tuple[int, int]:
    """Tile rows and columns covering an ``out_h x out_w`` output."""
    return -(-out_h // 4), -(-out_w // 4)


def constants(dtype: Any) -> np.ndarray:
    """The transforms' constants ``(2, 4, 5, 8)`` in ``dtype``."""
    return np.array([2, 4, 5, 8], dtype=dtype)


_KRON = np.kron(G, G)  # (36, 9): row 6i+j, column 3a+b holds G[i, a] * G[j, b]


def weight_transform(w: Any) -> Any:
    """``U = G w G^T`` for ``w`` ``(F, C, 3, 3)``: ``(36, F, C)`` in ``w``'s dtype, as one
    product ``kron(G, G) @ w`` over the flattened kernels."""
    xp = backend.xp_of(w)
    f, c = w.shape[:2]
    kron = xp.asarray(_KRON.astype(w.dtype))
    return _matmul(kron, w.reshape(f * c, 9).T).reshape(36, f, c)


def weight_grad_transform(p: Any) -> Any:
    """``dW = G^T P G`` for the summed products ``p`` ``(36, F, C)``: ``(F, C, 3, 3)``, as one
    product ``kron(G, G).T @ P`` over the flattened products."""
    xp = backend.xp_of(p)
    f, c = p.shape[1:]
    kron = xp.asarray(_KRON.astype(p.dtype))
    return xp.ascontiguousarray(_matmul(kron.T, p.reshape(36, f * c)).T).reshape(f, c, 3, 3)


# ------------------------------------------------------------------------------ references
def input_transform_reference(x: Any, pad_h: int, pad_w: int, th: int, tw: int) -> Any:
    """``(36, C, N*th*tw)``: ``B^T d B`` of every 6x6 input tile of ``x`` ``(N, C, H, W)``."""
    xp = backend.xp_of(x)
    k = constants(x.dtype)
    n, c, h, w = x.shape
    after = (max(0, 4 * th + 2 - h - pad_h), max(0, 4 * tw + 2 - w - pad_w))
    xpad = xp.pad(x, ((0, 0), (0, 0), (pad_h, after[0]), (pad_w, after[1])))
    d = [[xpad[:, :, i : i + 4 * th : 4, j : j + 4 * tw : 4] for j in range(6)] for i in range(6)]
    # rows[j][i]: row i of B^T d, tile column j
    rows = [_wm.bt4(k, *(d[r][j] for r in range(6))) for j in range(6)]
    v = xp.empty((36, c, n * th * tw), dtype=x.dtype)
    for i in range(6):
        for j, val in enumerate(_wm.bt4(k, *(rows[col][i] for col in range(6)))):
            v[6 * i + j] = val.transpose(1, 0, 2, 3).reshape(c, -1)
    return v


def output_transform_reference(
    mm: Any, bias: Any, n: int, out_h: int, out_w: int, th: int, tw: int
) -> Any:
    """``(N, F, out_h, out_w)``: ``A^T M A + bias`` of every tile's 36 products."""
    xp = backend.xp_of(mm)
    k = constants(mm.dtype)
    f = mm.shape[1]
    m6 = mm.reshape(6, 6, f, n, th, tw)
    s = [_wm.at4(k, *(m6[r][j] for r in range(6))) for j in range(6)]  # s[j][i]
    full = xp.empty((f, n, 4 * th, 4 * tw), dtype=mm.dtype)
    b = bias.reshape(f, 1, 1, 1).astype(mm.dtype)
    for i in range(4):
        for jj, val in enumerate(_wm.at4(k, *(s[col][i] for col in range(6)))):
            full[:, :, i::4, jj::4] = val + b
    return xp.ascontiguousarray(full[:, :, :out_h, :out_w].transpose(1, 0, 2, 3))


def grad_transform_reference(g: Any, th: int, tw: int) -> Any:
    """``(36, F, N*th*tw)``: ``A gy A^T`` of every 4x4 tile of the output gradient ``g``."""
    xp = backend.xp_of(g)
    k = constants(g.dtype)
    n, f, oh, ow = g.shape
    gpad = xp.pad(g, ((0, 0), (0, 0), (0, 4 * th - oh), (0, 4 * tw - ow)))
    gy = [[gpad[:, :, i::4, j::4] for j in range(4)] for i in range(4)]
    rows = [_wm.a4(k, *(gy[r][j] for r in range(4))) for j in range(4)]  # rows[j][i]
    z = xp.empty((36, f, n * th * tw), dtype=g.dtype)
    for i in range(6):
        for j, val in enumerate(_wm.a4(k, *(rows[col][i] for col in range(4)))):
            z[6 * i + j] = val.transpose(1, 0, 2, 3).reshape(f, -1)
    return z


# ------------------------------------------------------------------------------ dispatching
def _kernels() -> Any:
    from mxlite.ops._numba import winograd as _cpu_winograd  # noqa: PLC0415 - Numba loads on first use

    return _cpu_winograd


def input_transform(x: Any, pad_h: int, pad_w: int, th: int, tw: int, keep: bool = False) -> Any:
    """:func:`input_transform_reference`, by the Numba kernel on host arrays (a scratch
    buffer, or a new array the caller may ``keep``)."""
    if backend.is_gpu_array(x):
        return input_transform_reference(x, pad_h, pad_w, th, tw)
    n, c = x.shape[:2]
    shape = (36, c, n * th * tw)
    v = np.empty(shape, dtype=x.dtype) if keep else scratch.empty("winograd.v", shape, x.dtype)
    args = (constants(x.dtype), pad_h, pad_w, th, tw)
    k = _kernels()
    _threads.launch(
        k.input_transform,
        x,
        v,
        *args,
        serial=k.input_transform_serial,
        big_enough=v.size >= _threads.PARALLEL_MIN_ELEMENTS,
    )
    return v


def output_transform(mm: Any, bias: Any, n: int, out_h: int, out_w: int, th: int, tw: int) -> Any:
    """:func:`output_transform_reference`, by the Numba kernel on host arrays."""
    if backend.is_gpu_array(mm):
        return output_transform_reference(mm, bias, n, out_h, out_w, th, tw)
    y = np.empty((n, mm.shape[1], out_h, out_w), dtype=mm.dtype)
    args = (np.ascontiguousarray(bias, dtype=mm.dtype), constants(mm.dtype), th, tw)
    k = _kernels()
    _threads.launch(
        k.output_transform,
        mm,
        y,
        *args,
        serial=k.output_transform_serial,
        big_enough=mm.size >= _threads.PARALLEL_MIN_ELEMENTS,
    )
    return y


def grad_transform(g: Any, th: int, tw: int) -> Any:
    """:func:`grad_transform_reference`, by the Numba kernel on host arrays (a scratch
    buffer)."""
    if backend.is_gpu_array(g):
        return grad_transform_reference(g, th, tw)
    n, f = g.shape[:2]
    z = scratch.empty("winograd.z", (36, f, n * th * tw), g.dtype)
    k = _kernels()
    _threads.launch(
        k.grad_transform,
        g,
        z,
        constants(g.dtype),
        th,
        tw,
        serial=k.grad_transform_serial,
        big_enough=z.size >= _threads.PARALLEL_MIN_ELEMENTS,
    )
    return z


def _matmul(a: Any, b: Any, tag: str | None = None) -> Any:
    xp = backend.xp_of(a)
    if xp is not np:
        return xp.matmul(a, b)
    _threads.host_threads()  # the BLAS pool follows the thread policy
    if tag is None:
        return np.matmul(a, b)
    return np.matmul(a, b, out=scratch.empty(tag, a.shape[:-1] + b.shape[-1:], a.dtype))


def forward(
    x: Any, w: Any, bias: Any | None, pad: tuple[int, int], saved: dict[str, Any] | None = None
) -> Any:
    """The stride-1 3x3 convolution of ``x`` ``(N, C, H, W)`` with ``w`` ``(F, C, 3, 3)``
    (zero padding ``pad``) plus ``bias``: ``(N, F, H + 2p - 2, W + 2p - 2)``. With ``saved``
    (a dict), the input's transform is kept there (``saved['v']``, when smaller than 24 MB) for
    :func:`weight_grad`."""
    xp = backend.xp_of(x)
    n, _, h, wd = x.shape
    out_h, out_w = h + 2 * pad[0] - 2, wd + 2 * pad[1] - 2
    th, tw = tiles(out_h, out_w)
    keep = saved is not None and 36 * x.shape[1] * n * th * tw * x.itemsize < _KEEP_BELOW
    v = input_transform(x, pad[0], pad[1], th, tw, keep=keep)
    if keep and saved is not None:
        saved["v"] = v
    mm = _matmul(weight_transform(w), v, "winograd.m")
    b = bias if bias is not None else xp.zeros(w.shape[0], dtype=x.dtype)
    return output_transform(mm, b, n, out_h, out_w, th, tw)


def weight_grad(x: Any, g: Any, pad: tuple[int, int], v: Any = None) -> Any:
    """The weight gradient ``(F, C, 3, 3)`` of :func:`forward` for the output gradient ``g``
    (``v``: the input's transform the forward pass kept, else it is computed again)."""
    th, tw = tiles(g.shape[2], g.shape[3])
    if v is None:
        v = input_transform(x, pad[0], pad[1], th, tw)
    z = grad_transform(g, th, tw)
    return weight_grad_transform(_matmul(z, v.transpose(0, 2, 1)))
