"""Pooling over 1-, 2- and 3-d windows (max, average, sum, Lp), forward and backward, on raw arrays.

Semantics are MXNet 1.9.1's (``src/operator/nn/pool.h``, checked with the oracle): output ``o``
reads the window starting at ``o*stride - pad``, clipped to the input; padding never wins a
maximum (an all-padding window gives the dtype's lowest value); an average divides by the window
clipped to the padded input (``count_include_pad``) or to the input (0 for an empty window); Lp
pooling is ``sum x`` (p=1), ``sqrt(sum x^2)`` (p=2) or ``cbrt(sum x^3)`` (p=3). In the backward
pass the first maximum of each window in row-major order takes the gradient.

Host arrays go to the Numba kernels of :mod:`mxlite.ops._numba.pool` (one ``(n, c)`` plane per work
item); device arrays (and the tests' reference) to :func:`forward_reference` /
:func:`backward_reference`, one strided NumPy/CuPy operation per kernel offset. float16 is
computed in float32 and rounded once.

Max pooling under ``autograd.record()`` records each output's first maximum (a flat index into
its input plane, int32) in the forward pass, so that its backward pass is one scatter of the
output gradient instead of a second search of every window: the Numba ``*_argmax`` kernels on the
host, :func:`forward_argmax_reference` / :func:`backward_argmax_reference` (the same indices, a
``scatter_add``) on a device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mxlite import _threads, backend

__all__ = [
    "KINDS",
    "PoolSpec",
    "out_size",
    "global_spec",
    "forward",
    "backward",
    "forward_reference",
    "backward_reference",
    "forward_argmax_reference",
    "backward_argmax_reference",
]

KINDS = {"max": 0, "avg": 1, "sum": 2, "lp": 3}
_MAX, _AVG, _SUM, _LP = 0, 1, 2, 3


@dataclass(frozen=True)
class PoolSpec:
    """One pooling: 3-d kernel, stride, pad and output size (leading unit entries for 1-d and
    2-d), the kind (see :data:`KINDS`), ``p`` for Lp, and ``count_include_pad``."""

    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    pad: tuple[int, int, int]
    out: tuple[int, int, int]
    kind: int
    p: int = 1
    count_include_pad: bool = True

    def packed(self) -> tuple[int, ...]:
        """The 12 integers the Numba kernels take."""
        return (*self.kernel, *self.out, *self.stride, *self.pad)


def out_size(size: int, kernel: int, stride: int, pad: int, convention: str) -> int:
    """Output length along one dimension: ``floor`` ('valid') or ``ceil`` ('full') of
    ``(size + 2*pad - kernel) / stride``, plus one; 'same' gives ``ceil(size / stride)``."""
    if convention == "same":
        return -(-size // stride)
    span = size + 2 * pad - kernel
    if convention == "full":
        return -(-span // stride) + 1
    return span // stride + 1


def _lowest(dtype: Any) -> Any:
    return np.finfo(dtype).min


def _work(x: Any) -> Any:
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _kernels() -> Any:
    from mxlite.ops._numba import pool as _cpu_pool  # noqa: PLC0415 - Numba loads on the first pooling

    return _cpu_pool


def forward(x5: Any, spec: PoolSpec, with_index: bool = False) -> tuple[Any, Any]:
    """Pool ``x5`` ``(N, C, D, H, W)``; returns ``(N, C, *spec.out)`` in ``x5``'s dtype, and,
    for max pooling of host arrays ``with_index``, each output's first maximum as a flat index
    into its input plane (int32, -1 for an all-padding window; else None)."""
    if backend.is_gpu_array(x5):
        if with_index and spec.kind == _MAX:
            return forward_argmax_reference(x5, spec)
        return forward_reference(x5, spec), None
    x = _work(x5)
    out = np.empty(x.shape[:2] + spec.out, dtype=x.dtype)
    kernels = _kernels()
    lowest = x.dtype.type(_lowest(x.dtype))
    index = None
    if with_index and spec.kind == _MAX:
        index = np.empty(out.shape, dtype=np.int32)
        _threads.launch(
            kernels.forward_argmax,
            x,
            out,
            index,
            spec.packed(),
            lowest,
            serial=kernels.forward_argmax_serial,
            big_enough=x.size >= _threads.PARALLEL_MIN_ELEMENTS,
        )
    else:
        args = (spec.packed(), spec.kind, spec.p, spec.count_include_pad, lowest)
        _threads.launch(
            kernels.forward,
            x,
            out,
            *args,
            serial=kernels.forward_serial,
            big_enough=x.size >= _threads.PARALLEL_MIN_ELEMENTS,
        )
    return out.astype(x5.dtype, copy=False), index


def backward(g5: Any, x5: Any, y5: Any, spec: PoolSpec, index: Any = None) -> Any:
    """The input gradient of :func:`forward` for the output gradient ``g5`` (``y5`` its
    output, ``index`` the maxima it recorded, if any)."""
    if backend.is_gpu_array(x5):
        if index is not None:
            return backward_argmax_reference(g5, index, x5.shape).astype(x5.dtype, copy=False)
        return backward_reference(g5, x5, y5, spec)
    x = _work(x5)
    g = _work(g5).astype(x.dtype, copy=False)
    dx = np.empty(x.shape, dtype=x.dtype)
    kernels = _kernels()
    if index is not None:
        _threads.launch(
            kernels.backward_argmax,
            g,
            index,
            dx,
            serial=kernels.backward_argmax_serial,
            big_enough=x.size >= _threads.PARALLEL_MIN_ELEMENTS,
        )
        return dx.astype(x5.dtype, copy=False)
    args = (spec.packed(), spec.kind, spec.p, spec.count_include_pad)
    _threads.launch(
        kernels.backward,
        g,
        x,
        _work(y5),
        dx,
        *args,
        serial=kernels.backward_serial,
        big_enough=x.size >= _threads.PARALLEL_MIN_ELEMENTS,
    )
    return dx.astype(x5.dtype, copy=False)


# ------------------------------------------------------------------------------ reference
def _offsets(kernel: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    return [(a, b, c) for a in range(kernel[0]) for b in range(kernel[1]) for c in range(kernel[2])]


def _padded(x: Any, spec: PoolSpec, fill: Any) -> Any:
    """``x`` padded by ``pad`` before and as far as the last window reaches after."""
    xp = backend.xp_of(x)
    widths = [(0, 0), (0, 0)]
    for size, k, s, p, o in zip(x.shape[2:], spec.kernel, spec.stride, spec.pad, spec.out):
        widths.append((p, max(0, (o - 1) * s + k - p - size)))
    return xp.pad(x, widths, constant_values=fill)


def _slices(spec: PoolSpec, k: tuple[int, int, int]) -> tuple[slice, ...]:
    return (slice(None), slice(None)) + tuple(
        slice(ki, ki + (o - 1) * s + 1, s) for ki, s, o in zip(k, spec.stride, spec.out)
    )


def _divisor(shape3: tuple[int, ...], spec: PoolSpec, xp: Any, dtype: Any) -> Any:
    """Per output position, the count an average divides by (1 where the window is empty)."""
    counts = []
    for size, k, s, p, o in zip(shape3, spec.kernel, spec.stride, spec.pad, spec.out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        if spec.count_include_pad:
            n = np.maximum(end - start, 0)
        else:
            n = np.maximum(np.minimum(end, size) - np.maximum(start, 0), 0)
        counts.append(n)
    div = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
    return xp.asarray(np.where(div > 0, div, 1).astype(dtype))


def _power(v: Any, p: int) -> Any:
    return v * v if p == 2 else v * v * v if p == 3 else v


def forward_reference(x5: Any, spec: PoolSpec) -> Any:
    """:func:`forward` as one NumPy/CuPy operation per kernel offset."""
    with np.errstate(all="ignore"):
        return _forward_reference(x5, spec)


def backward_reference(g5: Any, x5: Any, y5: Any, spec: PoolSpec) -> Any:
    """:func:`backward` as one NumPy/CuPy operation per kernel offset (windows of padding only
    divide 0 by 0 there; those positions are cropped)."""
    with np.errstate(all="ignore"):
        return _backward_reference(g5, x5, y5, spec)


def _forward_reference(x5: Any, spec: PoolSpec) -> Any:
    xp = backend.xp_of(x5)
    x = _work(x5)
    fill = _lowest(x.dtype) if spec.kind == _MAX else 0
    xpad = _padded(x, spec, fill)
    acc = None
    for k in _offsets(spec.kernel):
        part = xpad[_slices(spec, k)]
        if spec.kind == _MAX:
            acc = part.copy() if acc is None else xp.maximum(acc, part)
        else:
            term = _power(part, spec.p) if spec.kind == _LP else part
            acc = term.copy() if acc is None else acc + term
    assert acc is not None  # a kernel has at least one position
    if spec.kind == _AVG:
        acc = acc / _divisor(x.shape[2:], spec, xp, x.dtype)
    elif spec.kind == _LP and spec.p == 2:
        acc = xp.sqrt(acc)
    elif spec.kind == _LP and spec.p == 3:
        acc = xp.cbrt(acc)
    return acc.astype(x5.dtype, copy=False)


def _backward_reference(g5: Any, x5: Any, y5: Any, spec: PoolSpec) -> Any:
    xp = backend.xp_of(x5)
    x, y = _work(x5), _work(y5)
    g = g5.astype(x.dtype, copy=False)
    xpad = _padded(x, spec, _lowest(x.dtype) if spec.kind == _MAX else 0)
    gpad = xp.zeros(xpad.shape, dtype=x.dtype)
    taken = xp.zeros(g.shape, dtype=bool)
    scale = g / _divisor(x.shape[2:], spec, xp, x.dtype) if spec.kind == _AVG else g
    zero = xp.zeros((), dtype=x.dtype)
    for k in _offsets(spec.kernel):
        sl = _slices(spec, k)
        part = xpad[sl]
        if spec.kind == _MAX:
            hit = (part == y) & ~taken
            gpad[sl] += xp.where(hit, g, zero)
            taken |= hit
        elif spec.kind == _LP and spec.p == 2:
            gpad[sl] += g * part / y
        elif spec.kind == _LP and spec.p == 3:
            gpad[sl] += g * (part * part) / (y * y)
        else:
            gpad[sl] += scale
    inner = (slice(None), slice(None)) + tuple(
        slice(p, p + n) for p, n in zip(spec.pad, x.shape[2:])
    )
    return xp.ascontiguousarray(gpad[inner]).astype(x5.dtype, copy=False)


def _window_positions(
    spec: PoolSpec, k: tuple[int, int, int], shape3: tuple[int, ...], xp: Any
) -> tuple[Any, Any]:
    """For kernel offset ``k``: per output position, whether it reads inside the input (not
    padding) and the flat index (int32, within the input plane) of what it reads there; made
    by ``xp`` (on the device for CuPy: no host-to-device copies)."""
    coords = [
        xp.arange(o, dtype=np.int32) * s - p + ki
        for o, s, p, ki in zip(spec.out, spec.stride, spec.pad, k)
    ]
    inside = [(c >= 0) & (c < n) for c, n in zip(coords, shape3)]
    valid = inside[0][:, None, None] & inside[1][None, :, None] & inside[2][None, None, :]
    d, h, w = coords
    flat = (d[:, None, None] * shape3[1] + h[None, :, None]) * shape3[2] + w[None, None, :]
    return valid, flat


def forward_argmax_reference(x5: Any, spec: PoolSpec) -> tuple[Any, Any]:
    """Max pooling of ``x5`` ``(N, C, D, H, W)`` with each output's first maximum (row-major
    over its window, padding skipped) as a flat index into its input plane: ``(out, index)``,
    ``index`` int32 and -1 for an all-padding window (whose output is the dtype's lowest value),
    as the Numba ``forward_argmax`` kernel computes them. One NumPy/CuPy pass per kernel offset."""
    xp = backend.xp_of(x5)
    x = _work(x5)
    lowest = x.dtype.type(_lowest(x.dtype))
    xpad = _padded(x, spec, lowest)
    acc = xp.full(x.shape[:2] + spec.out, lowest, dtype=x.dtype)
    index = xp.full(acc.shape, -1, dtype=np.int32)
    for k in _offsets(spec.kernel):
        valid, flat = _window_positions(spec, k, x.shape[2:], xp)
        part = xpad[_slices(spec, k)]
        take = valid & ((part > acc) | ((index < 0) & (part >= acc)))
        acc = xp.where(take, part, acc)
        index = xp.where(take, flat, index)
    return acc.astype(x5.dtype, copy=False), index


def backward_argmax_reference(g5: Any, index: Any, shape5: tuple[int, ...]) -> Any:
    """Max pooling's input gradient ``(N, C, D, H, W)`` from the maxima ``index`` that
    :func:`forward_argmax_reference` recorded: each output's gradient added at its maximum (one
    ``scatter_add``; nothing for all-padding windows). Computed in ``g5``'s work dtype."""
    xp = backend.xp_of(g5)
    g = _work(g5)
    planes = shape5[0] * shape5[1]
    plane = shape5[2] * shape5[3] * shape5[4]
    dx = xp.zeros(planes * plane, dtype=g.dtype)
    idx = index.reshape(planes, -1)
    hit = idx >= 0
    base = xp.arange(planes, dtype=np.int64).reshape(-1, 1) * plane
    targets = (base + idx)[hit]
    values = g.reshape(planes, -1)[hit]
    if backend.is_gpu_array(dx):
        import cupyx  # noqa: PLC0415 - GPU only

        cupyx.scatter_add(dx, targets, values)
    else:
        np.add.at(dx, targets, values)
    return dx.reshape(shape5)


def global_spec(shape3: tuple[int, ...], kind: int, p: int = 1) -> PoolSpec:
    """The spec of global pooling over a ``shape3`` input (one window covering it)."""
    return PoolSpec(tuple(shape3), (1, 1, 1), (0, 0, 0), (1, 1, 1), kind, p, True)  # type: ignore[arg-type]
