"""Numba twins of the counter-based fills (same names and arguments as :mod:`mxlite.ops._reference`).

Every kernel is ``@njit(cache=True)``: the machine code lands in ``__pycache__`` on the first run, and
a later process loads it instead of compiling (about a tenth of a second for the first call).

Work is split into chunks of ``_CHUNK`` Philox blocks (4 elements each); ``prange`` runs the chunks
in parallel. The multi-tensor kernels walk a table of ``(address, size, offset, key, params)`` rows,
exactly like the CUDA kernel walks its device-side table: one parallel loop over the chunks of all
tensors, each chunk finding its tensor by binary search. Both paths call the same block writers, so
a tensor gets the same bits whichever path fills it.

Stream layout and formulas: see :mod:`mxlite.ops._reference`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import carray, njit, prange, types

from mxlite import _threads
from mxlite.ops._cpu_primitives import (
    BFLOAT16,
    HALF,
    M0,
    M1,
    MASK32,
    S32,
    W0,
    W1,
    box_muller,
    data_address,
    f32_to_bf16_bits,
    f32_to_f16_bits,
    m53,
    philox,
    pointer_intrinsic,
)

__all__ = [
    "philox4x32",
    "fill_uniform",
    "fill_normal",
    "fill_constant",
    "multi_fill_uniform",
    "multi_fill_normal",
    "multi_fill_constant",
]

UNIFORM = 0
NORMAL = 1
_CHUNK = 1024  # Philox blocks per chunk: 4096 elements
_GROUPS = 64  # at most this many parallel work items per call (even shares of the chunks)
_SERIAL_BELOW = 1 << 15  # elements: smaller fills skip the thread pool

_f32_ptr = pointer_intrinsic(types.float32)
_f64_ptr = pointer_intrinsic(types.float64)
_u16_ptr = pointer_intrinsic(types.uint16)


# ------------------------------------------------------------------------------------------- philox
@njit(cache=True)
def _philox_rows(ctr: np.ndarray, key: np.ndarray, out: np.ndarray) -> None:
    for i in range(ctr.shape[0]):
        r0, r1, r2, r3 = philox(
            np.uint64(ctr[i, 0]),
            np.uint64(ctr[i, 1]),
            np.uint64(ctr[i, 2]),
            np.uint64(ctr[i, 3]),
            np.uint64(key[i, 0]),
            np.uint64(key[i, 1]),
        )
        out[i, 0] = r0
        out[i, 1] = r1
        out[i, 2] = r2
        out[i, 3] = r3


def philox4x32(counter: Any, key: Any) -> np.ndarray:
    """Philox4x32-10 of ``uint32[..., 4]`` counters under broadcastable ``uint32[..., 2]`` keys."""
    ctr = np.asarray(counter, dtype=np.uint32)
    k = np.asarray(key, dtype=np.uint32)
    lead = np.broadcast_shapes(ctr.shape[:-1], k.shape[:-1])
    ctr2 = np.ascontiguousarray(np.broadcast_to(ctr, (*lead, 4))).reshape(-1, 4)
    k2 = np.ascontiguousarray(np.broadcast_to(k, (*lead, 2))).reshape(-1, 2)
    out = np.empty_like(ctr2)
    _philox_rows(ctr2, k2, out)
    return out.reshape((*lead, 4))


# ------------------------------------------------------------------------------ chunk generation
@njit(cache=True)
def _philox_chunk(b0: int, nb: int, plane: int, k0: Any, k1: Any, w: np.ndarray) -> None:
    """``w[l, j]`` = lane ``l`` of Philox block ``b0 + j`` on ``plane``, for ``j < nb``.

    Structure-of-arrays so that LLVM vectorizes the rounds across blocks (AVX2 ``vpmuludq``).
    """
    c0 = w[0]
    c1 = w[1]
    c2 = w[2]
    c3 = w[3]
    for j in range(nb):
        ub = np.uint64(b0 + j)
        c0[j] = np.uint32(ub & MASK32)
        c1[j] = np.uint32(ub >> S32)
        c2[j] = np.uint32(plane)
        c3[j] = np.uint32(0)
    ka = np.uint64(k0)
    kb = np.uint64(k1)
    ka32 = np.uint32(ka)
    kb32 = np.uint32(kb)
    for _ in range(10):
        for j in range(nb):
            p0 = np.uint64(c0[j]) * M0
            p1 = np.uint64(c2[j]) * M1
            n0 = np.uint32(p1 >> S32) ^ c1[j] ^ ka32
            n2 = np.uint32(p0 >> S32) ^ c3[j] ^ kb32
            c1[j] = np.uint32(p1 & MASK32)
            c3[j] = np.uint32(p0 & MASK32)
            c0[j] = n0
            c2[j] = n2
        ka = (ka + W0) & MASK32
        kb = (kb + W1) & MASK32
        ka32 = np.uint32(ka)
        kb32 = np.uint32(kb)


@njit(cache=True)
def _values_f32(
    dist: int,
    b0: int,
    nb: int,
    k0: Any,
    k1: Any,
    p0: float,
    p1: float,
    w: np.ndarray,
    v: np.ndarray,
) -> None:
    """``v[4 * j + l]``: float32 value of lane ``l`` of block ``b0 + j`` (element order).

    Uniform: ``p0`` = low, ``p1`` = high - low. Normal: ``p0`` = loc, ``p1`` = scale.
    ``w`` is ``uint32[2, 4, _CHUNK]`` scratch.
    """
    words = w[0]
    _philox_chunk(b0, nb, 0, k0, k1, words)
    w0 = words[0]
    w1 = words[1]
    w2 = words[2]
    w3 = words[3]
    if dist == UNIFORM:
        lo = np.float32(p0)
        sp = np.float32(p1)
        s24 = np.float32(5.9604644775390625e-08)
        e8 = np.uint32(8)
        for j in range(nb):
            v[4 * j] = lo + sp * (np.float32(w0[j] >> e8) * s24)
            v[4 * j + 1] = lo + sp * (np.float32(w1[j] >> e8) * s24)
            v[4 * j + 2] = lo + sp * (np.float32(w2[j] >> e8) * s24)
            v[4 * j + 3] = lo + sp * (np.float32(w3[j] >> e8) * s24)
        return
    s32 = 2.3283064365386963e-10
    for j in range(nb):
        z0, z1 = box_muller((np.float64(w0[j]) + 1.0) * s32, np.float64(w1[j]) * s32)
        z2, z3 = box_muller((np.float64(w2[j]) + 1.0) * s32, np.float64(w3[j]) * s32)
        v[4 * j] = np.float32(p0 + p1 * z0)
        v[4 * j + 1] = np.float32(p0 + p1 * z1)
        v[4 * j + 2] = np.float32(p0 + p1 * z2)
        v[4 * j + 3] = np.float32(p0 + p1 * z3)


@njit(cache=True)
def _values_f64(
    dist: int,
    b0: int,
    nb: int,
    k0: Any,
    k1: Any,
    p0: float,
    p1: float,
    w: np.ndarray,
    v: np.ndarray,
) -> None:
    """``v[4 * j + l]``: float64 value of lane ``l`` of block ``b0 + j`` (53 bits from planes 0, 1)."""
    wh = w[0]
    wl = w[1]
    _philox_chunk(b0, nb, 0, k0, k1, wh)
    _philox_chunk(b0, nb, 1, k0, k1, wl)
    s53 = 1.1102230246251565e-16
    if dist == UNIFORM:
        for lane in range(4):
            hi = wh[lane]
            lo = wl[lane]
            for j in range(nb):
                v[4 * j + lane] = p0 + p1 * (m53(hi[j], lo[j]) * s53)
        return
    for pair in range(2):
        he = wh[2 * pair]
        le = wl[2 * pair]
        ho = wh[2 * pair + 1]
        lo_ = wl[2 * pair + 1]
        for j in range(nb):
            z0, z1 = box_muller((m53(he[j], le[j]) + 1.0) * s53, m53(ho[j], lo_[j]) * s53)
            v[4 * j + 2 * pair] = p0 + p1 * z0
            v[4 * j + 2 * pair + 1] = p0 + p1 * z1


@njit(cache=True)
def _store(out: np.ndarray, offset: int, b0: int, nb: int, v: np.ndarray) -> None:
    """Copy chunk values ``v`` (element order, same dtype as ``out``) to their elements."""
    start = 4 * b0 - offset  # array index of v[0]; negative only in the stream's first block
    lo = max(start, 0)
    hi = min(start + 4 * nb, out.size)
    for i in range(lo, hi):
        out[i] = v[i - start]


@njit(cache=True)
def _store16(out: np.ndarray, kind: int, offset: int, b0: int, nb: int, v: np.ndarray) -> None:
    """Write float32 chunk values ``v`` as float16 (kind 0) or bfloat16 (kind 1) bits into ``out``."""
    start = 4 * b0 - offset
    lo = max(start, 0)
    hi = min(start + 4 * nb, out.size)
    if kind == HALF:
        for i in range(lo, hi):
            out[i] = f32_to_f16_bits(v[i - start])
    else:
        for i in range(lo, hi):
            out[i] = f32_to_bf16_bits(v[i - start])


# Range writers: Philox blocks [b0, b1) of a stream into ``out`` (n elements at stream ``offset``),
# a chunk at a time through the caller's scratch ``w`` (uint32[2, 4, _CHUNK]) and ``v`` (4 * _CHUNK).
@njit(cache=True)
def _write_f32(out, offset, b0, b1, dist, k0, k1, p0, p1, w, v):  # type: ignore[no-untyped-def]
    for c0 in range(b0, b1, _CHUNK):
        nb = min(_CHUNK, b1 - c0)
        _values_f32(dist, c0, nb, k0, k1, p0, p1, w, v)
        _store(out, offset, c0, nb, v)


@njit(cache=True)
def _write_f64(out, offset, b0, b1, dist, k0, k1, p0, p1, w, v):  # type: ignore[no-untyped-def]
    for c0 in range(b0, b1, _CHUNK):
        nb = min(_CHUNK, b1 - c0)
        _values_f64(dist, c0, nb, k0, k1, p0, p1, w, v)
        _store(out, offset, c0, nb, v)


@njit(cache=True)
def _write_u16(out, kind, offset, b0, b1, dist, k0, k1, p0, p1, w, v):  # type: ignore[no-untyped-def]
    for c0 in range(b0, b1, _CHUNK):
        nb = min(_CHUNK, b1 - c0)
        _values_f32(dist, c0, nb, k0, k1, p0, p1, w, v)
        _store16(out, kind, offset, c0, nb, v)


@njit(cache=True)
def _span(offset: int, n: int) -> tuple[int, int, int]:
    """First and last + 1 Philox block of ``n`` elements at ``offset``, and the number of chunks."""
    first = offset >> 2
    last = (offset + n + 3) >> 2
    return first, last, (last - first + _CHUNK - 1) // _CHUNK


@njit(cache=True)
def _group(g: int, ngroups: int, total: int) -> tuple[int, int]:
    """Chunks ``[lo, hi)`` of parallel work item ``g``: an even split of ``total`` chunks."""
    return g * total // ngroups, (g + 1) * total // ngroups


# ------------------------------------------------------------------------- single-tensor kernels
# Parallel versions split the chunks into at most _GROUPS work items, each with its own scratch.
@njit(cache=True, parallel=True)
def _fill_f32_par(out, dist, p0, p1, k0, k1, offset):  # type: ignore[no-untyped-def]
    first, last, nchunks = _span(offset, out.size)
    ngroups = min(nchunks, _GROUPS)
    for g in prange(ngroups):
        w = np.empty((2, 4, _CHUNK), dtype=np.uint32)
        v = np.empty(4 * _CHUNK, dtype=np.float32)
        lo, hi = _group(g, ngroups, nchunks)
        b1 = min(first + hi * _CHUNK, last)
        _write_f32(out, offset, first + lo * _CHUNK, b1, dist, k0, k1, p0, p1, w, v)


@njit(cache=True)
def _fill_f32_ser(out, dist, p0, p1, k0, k1, offset):  # type: ignore[no-untyped-def]
    first, last, _ = _span(offset, out.size)
    w = np.empty((2, 4, _CHUNK), dtype=np.uint32)
    v = np.empty(4 * _CHUNK, dtype=np.float32)
    _write_f32(out, offset, first, last, dist, k0, k1, p0, p1, w, v)


@njit(cache=True, parallel=True)
def _fill_f64_par(out, dist, p0, p1, k0, k1, offset):  # type: ignore[no-untyped-def]
    first, last, nchunks = _span(offset, out.size)
    ngroups = min(nchunks, _GROUPS)
    for g in prange(ngroups):
        w = np.empty((2, 4, _CHUNK), dtype=np.uint32)
        v = np.empty(4 * _CHUNK, dtype=np.float64)
        lo, hi = _group(g, ngroups, nchunks)
        b1 = min(first + hi * _CHUNK, last)
        _write_f64(out, offset, first + lo * _CHUNK, b1, dist, k0, k1, p0, p1, w, v)


@njit(cache=True)
def _fill_f64_ser(out, dist, p0, p1, k0, k1, offset):  # type: ignore[no-untyped-def]
    first, last, _ = _span(offset, out.size)
    w = np.empty((2, 4, _CHUNK), dtype=np.uint32)
    v = np.empty(4 * _CHUNK, dtype=np.float64)
    _write_f64(out, offset, first, last, dist, k0, k1, p0, p1, w, v)


@njit(cache=True, parallel=True)
def _fill_u16_par(out, kind, dist, p0, p1, k0, k1, offset):  # type: ignore[no-untyped-def]
    first, last, nchunks = _span(offset, out.size)
    ngroups = min(nchunks, _GROUPS)
    for g in prange(ngroups):
        w = np.empty((2, 4, _CHUNK), dtype=np.uint32)
        v = np.empty(4 * _CHUNK, dtype=np.float32)
        lo, hi = _group(g, ngroups, nchunks)
        b1 = min(first + hi * _CHUNK, last)
        _write_u16(out, kind, offset, first + lo * _CHUNK, b1, dist, k0, k1, p0, p1, w, v)


@njit(cache=True)
def _fill_u16_ser(out, kind, dist, p0, p1, k0, k1, offset):  # type: ignore[no-untyped-def]
    first, last, _ = _span(offset, out.size)
    w = np.empty((2, 4, _CHUNK), dtype=np.uint32)
    v = np.empty(4 * _CHUNK, dtype=np.float32)
    _write_u16(out, kind, offset, first, last, dist, k0, k1, p0, p1, w, v)


# -------------------------------------------------------------------------- multi-tensor kernels
# The table: per tensor its address, size, stream offset, key words, params; ``chunk_starts[t]``
# is the first chunk of tensor t (``chunk_starts[-1]`` = total). Work item g takes an even share
# of all chunks, finds its first tensor by binary search, then walks forward.
@njit(cache=True)
def _tensor_run(chunk_starts: np.ndarray, t: int, c: int, c_hi: int) -> tuple[int, int]:
    """The tensor holding chunk ``c`` (searching forward from ``t``) and the end of its run."""
    while chunk_starts[t + 1] <= c:
        t += 1
    return t, min(c_hi, chunk_starts[t + 1])


@njit(cache=True, parallel=True)
def _multi_f32(addrs, sizes, offsets, k0s, k1s, p0s, p1s, chunk_starts, dist):  # type: ignore[no-untyped-def]
    total = chunk_starts[-1]
    ngroups = min(total, _GROUPS)
    for g in prange(ngroups):
        w = np.empty((2, 4, _CHUNK), dtype=np.uint32)
        v = np.empty(4 * _CHUNK, dtype=np.float32)
        c, c_hi = _group(g, ngroups, total)
        t = np.searchsorted(chunk_starts, c, side="right") - 1
        while c < c_hi:
            t, c_end = _tensor_run(chunk_starts, t, c, c_hi)
            out = carray(_f32_ptr(addrs[t]), (sizes[t],))
            first, last, _ = _span(offsets[t], sizes[t])
            b0 = first + (c - chunk_starts[t]) * _CHUNK
            b1 = min(first + (c_end - chunk_starts[t]) * _CHUNK, last)
            _write_f32(out, offsets[t], b0, b1, dist, k0s[t], k1s[t], p0s[t], p1s[t], w, v)
            c = c_end


@njit(cache=True, parallel=True)
def _multi_f64(addrs, sizes, offsets, k0s, k1s, p0s, p1s, chunk_starts, dist):  # type: ignore[no-untyped-def]
    total = chunk_starts[-1]
    ngroups = min(total, _GROUPS)
    for g in prange(ngroups):
        w = np.empty((2, 4, _CHUNK), dtype=np.uint32)
        v = np.empty(4 * _CHUNK, dtype=np.float64)
        c, c_hi = _group(g, ngroups, total)
        t = np.searchsorted(chunk_starts, c, side="right") - 1
        while c < c_hi:
            t, c_end = _tensor_run(chunk_starts, t, c, c_hi)
            out = carray(_f64_ptr(addrs[t]), (sizes[t],))
            first, last, _ = _span(offsets[t], sizes[t])
            b0 = first + (c - chunk_starts[t]) * _CHUNK
            b1 = min(first + (c_end - chunk_starts[t]) * _CHUNK, last)
            _write_f64(out, offsets[t], b0, b1, dist, k0s[t], k1s[t], p0s[t], p1s[t], w, v)
            c = c_end


@njit(cache=True, parallel=True)
def _multi_u16(addrs, sizes, offsets, k0s, k1s, p0s, p1s, chunk_starts, dist, kind):  # type: ignore[no-untyped-def]
    total = chunk_starts[-1]
    ngroups = min(total, _GROUPS)
    for g in prange(ngroups):
        w = np.empty((2, 4, _CHUNK), dtype=np.uint32)
        v = np.empty(4 * _CHUNK, dtype=np.float32)
        c, c_hi = _group(g, ngroups, total)
        t = np.searchsorted(chunk_starts, c, side="right") - 1
        while c < c_hi:
            t, c_end = _tensor_run(chunk_starts, t, c, c_hi)
            out = carray(_u16_ptr(addrs[t]), (sizes[t],))
            first, last, _ = _span(offsets[t], sizes[t])
            b0 = first + (c - chunk_starts[t]) * _CHUNK
            b1 = min(first + (c_end - chunk_starts[t]) * _CHUNK, last)
            _write_u16(out, kind, offsets[t], b0, b1, dist, k0s[t], k1s[t], p0s[t], p1s[t], w, v)
            c = c_end


# ------------------------------------------------------------------------------- Python wrappers
_FAMILIES: dict[np.dtype, tuple[str, int]] = {
    np.dtype(np.float32): ("f32", 0),
    np.dtype(np.float64): ("f64", 0),
    np.dtype(np.float16): ("u16", HALF),
}
try:  # bfloat16 arrays exist only with ml_dtypes
    import ml_dtypes as _ml_dtypes

    _FAMILIES[np.dtype(_ml_dtypes.bfloat16)] = ("u16", BFLOAT16)
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    pass


def _storage(arr: np.ndarray) -> tuple[str, int]:
    """Which kernel family writes ``arr``: ('f32' | 'f64' | 'u16', 16-bit kind).

    Keyed by dtype object: ``dtype.name`` costs microseconds, which add up over thousands of arrays.
    """
    return _FAMILIES[arr.dtype]


def _fill(
    arr: np.ndarray, dist: int, p0: float, p1: float, key: tuple[int, int], offset: int
) -> np.ndarray:
    if arr.size == 0:
        return arr
    target = arr if arr.flags.c_contiguous else np.empty(arr.shape, arr.dtype)
    flat = target.reshape(-1)
    family, kind = _storage(arr)
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    big = flat.size >= _SERIAL_BELOW
    args = (dist, float(p0), float(p1), k0, k1, int(offset))
    if family == "f32":
        _threads.launch(_fill_f32_par, flat, *args, serial=_fill_f32_ser, big_enough=big)
    elif family == "f64":
        _threads.launch(_fill_f64_par, flat, *args, serial=_fill_f64_ser, big_enough=big)
    else:
        bits = flat.view(np.uint16)
        _threads.launch(_fill_u16_par, bits, kind, *args, serial=_fill_u16_ser, big_enough=big)
    if target is not arr:
        arr[...] = target
    return arr


def _multi(
    arrs: Sequence[np.ndarray],
    dist: int,
    p0s: Sequence[float],
    p1s: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int],
) -> None:
    groups: dict[tuple[str, int], list[int]] = {}
    for idx, arr in enumerate(arrs):
        if arr.size == 0:
            continue
        if not arr.flags.c_contiguous:  # rare: the single-tensor path copies through a buffer
            _fill(arr, dist, p0s[idx], p1s[idx], keys[idx], offsets[idx])
            continue
        groups.setdefault(_storage(arr), []).append(idx)
    for (family, kind), idxs in groups.items():
        views = [arrs[i] if family != "u16" else arrs[i].view(np.uint16) for i in idxs]
        addrs = np.array([data_address(a) for a in views], dtype=np.int64)  # Numba types no float16
        sizes = np.array([arrs[i].size for i in idxs], dtype=np.int64)
        offs = np.array([offsets[i] for i in idxs], dtype=np.int64)
        k0s = np.array([keys[i][0] for i in idxs], dtype=np.uint64)
        k1s = np.array([keys[i][1] for i in idxs], dtype=np.uint64)
        a0 = np.array([p0s[i] for i in idxs], dtype=np.float64)
        a1 = np.array([p1s[i] for i in idxs], dtype=np.float64)
        nblocks = ((offs + sizes + 3) >> 2) - (offs >> 2)
        chunk_starts = np.zeros(len(idxs) + 1, dtype=np.int64)
        np.cumsum((nblocks + _CHUNK - 1) // _CHUNK, out=chunk_starts[1:])
        args = (addrs, sizes, offs, k0s, k1s, a0, a1, chunk_starts, dist)
        if family == "f32":
            _threads.launch(_multi_f32, *args)
        elif family == "f64":
            _threads.launch(_multi_f64, *args)
        else:
            _threads.launch(_multi_u16, *args, kind)


def fill_uniform(
    arr: np.ndarray, low: float, high: float, key: tuple[int, int], offset: int = 0
) -> np.ndarray:
    """Uniform draws in ``[low, high)`` into ``arr`` from stream ``key`` at ``offset``; returns ``arr``."""
    return _fill(arr, UNIFORM, float(low), float(high) - float(low), key, offset)


def fill_normal(
    arr: np.ndarray, loc: float, scale: float, key: tuple[int, int], offset: int = 0
) -> np.ndarray:
    """Normal draws ``N(loc, scale**2)`` into ``arr`` from stream ``key`` at ``offset``; returns ``arr``."""
    return _fill(arr, NORMAL, float(loc), float(scale), key, offset)


def fill_constant(arr: np.ndarray, value: Any) -> np.ndarray:
    """Every element of ``arr`` set to ``value`` (``np.array(value, dtype=arr.dtype)``); returns ``arr``."""
    arr.fill(np.array(value, dtype=arr.dtype))
    return arr


def multi_fill_uniform(
    arrs: Sequence[np.ndarray],
    lows: Sequence[float],
    highs: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int],
) -> None:
    """:func:`fill_uniform` over many arrays: one parallel kernel per storage dtype."""
    spans = [float(h) - float(lo) for lo, h in zip(lows, highs)]
    _multi(arrs, UNIFORM, [float(lo) for lo in lows], spans, keys, offsets)


def multi_fill_normal(
    arrs: Sequence[np.ndarray],
    locs: Sequence[float],
    scales: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int],
) -> None:
    """:func:`fill_normal` over many arrays: one parallel kernel per storage dtype."""
    _multi(arrs, NORMAL, [float(v) for v in locs], [float(v) for v in scales], keys, offsets)


def multi_fill_constant(arrs: Sequence[np.ndarray], values: Sequence[Any]) -> None:
    """:func:`fill_constant` over many arrays."""
    for arr, value in zip(arrs, values):
        fill_constant(arr, value)
