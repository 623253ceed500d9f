"""NumPy reference for the counter-based fills: the implementation the tests trust.

Written for clarity, not speed: plain NumPy ``uint32``/``uint64`` arithmetic, whole arrays at a
time. The Numba twins (:mod:`mxlite.ops._numba.fill`) and the CUDA kernels (``kernels/init_fill.cu``) must
agree with it bit for bit (uniform, constant) or to within 2 float32 ulps (normal).

The stream layout (shared by every backend):

* Element ``j = offset + i`` of a stream (``i`` the C-order index into the array) belongs to
  Philox block ``b = j // 4`` and lane ``j % 4``. The block's counter is
  ``(b mod 2**32, b // 2**32, plane, 0)`` under the stream's key; ``plane`` is 0 for the main
  32-bit word of every element and 1 for the extra low word that float64 draws need.
* Uniform float32 (and float16/bfloat16, rounded from the float32 value):
  ``u = float32(w >> 8) * 2**-24`` in [0, 1), ``x = float32(low) + float32(high - low) * u`` with
  every operation rounded to float32 (no fused multiply-add).
* Uniform float64: ``u = ((w0 >> 5) * 2**26 + (w1 >> 6)) * 2**-53`` from the plane-0 and plane-1
  words; ``x = low + (high - low) * u`` in float64.
* Normal: Box-Muller over lane pairs (0, 1) and (2, 3) of a block:
  ``u1 = (w_even + 1) * 2**-32`` in (0, 1], ``u2 = w_odd * 2**-32`` in [0, 1),
  ``r = sqrt(-2 log u1)``, ``t = 2 pi u2``; the even lane takes ``r cos t``, the odd lane
  ``r sin t``; ``x = loc + scale * z``. All of it in float64, rounded to float32 once at the end
  (float16/bfloat16 from that float32). Float64 normals take 53-bit ``u1``/``u2`` as above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "philox4x32",
    "stream_words",
    "fill_uniform",
    "fill_normal",
    "fill_constant",
    "multi_fill_uniform",
    "multi_fill_normal",
]

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_TWO_PI = 6.283185307179586
_TWO_M24 = np.float32(2.0**-24)
_TWO_M32 = 2.0**-32
_TWO_M53 = 2.0**-53


def philox4x32(counter: Any, key: Any) -> np.ndarray:
    """Philox4x32-10 (Salmon et al., Random123) over broadcastable arrays.

    Args:
        counter: ``uint32[..., 4]`` counters.
        key: ``uint32[..., 2]`` keys, broadcast against ``counter``'s leading dims.

    Returns:
        ``uint32[..., 4]``: the 10-round Philox output for each counter.
    """
    ctr = np.asarray(counter, dtype=np.uint32).astype(np.uint64)
    k = np.asarray(key, dtype=np.uint32).astype(np.uint64)
    c0, c1, c2, c3 = ctr[..., 0], ctr[..., 1], ctr[..., 2], ctr[..., 3]
    k0, k1 = k[..., 0], k[..., 1]
    for rnd in range(10):
        if rnd:
            k0 = (k0 + _W0) & _MASK32
            k1 = (k1 + _W1) & _MASK32
        p0 = _M0 * c0  # both factors < 2**32, so the product fits 64 bits exactly
        p1 = _M1 * c2
        c0, c1, c2, c3 = (
            (p1 >> np.uint64(32)) ^ c1 ^ k0,
            p1 & _MASK32,
            (p0 >> np.uint64(32)) ^ c3 ^ k1,
            p0 & _MASK32,
        )
    out = np.stack(np.broadcast_arrays(c0, c1, c2, c3), axis=-1)
    return out.astype(np.uint32)


def stream_words(key: tuple[int, int], offset: int, n: int, plane: int = 0) -> np.ndarray:
    """The 32-bit words of stream elements ``offset .. offset + n - 1`` on ``plane``: ``uint32[n]``."""
    j = np.arange(offset, offset + n, dtype=np.uint64)
    blocks = j >> np.uint64(2)
    counters = np.zeros((n, 4), dtype=np.uint32)
    counters[:, 0] = (blocks & _MASK32).astype(np.uint32)
    counters[:, 1] = (blocks >> np.uint64(32)).astype(np.uint32)
    counters[:, 2] = plane
    words = philox4x32(counters, np.array(key, dtype=np.uint32))
    return words[np.arange(n), (j & np.uint64(3)).astype(np.intp)]


def _pair_words(
    key: tuple[int, int], offset: int, n: int, plane: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each element: the even-lane word, the odd-lane word of its Box-Muller pair, and its lane."""
    j = np.arange(offset, offset + n, dtype=np.uint64)
    base = offset - (offset % 2)  # the even element paired with the first one
    even = stream_words(key, base, n + (offset % 2) + 1, plane)
    idx = (j - np.uint64(base)).astype(np.intp)
    even_idx = idx - (idx % 2)
    return even[even_idx], even[even_idx + 1], (j & np.uint64(3)).astype(np.intp)


def _uniform53(key: tuple[int, int], offset: int, n: int) -> np.ndarray:
    lo = stream_words(key, offset, n, 1)
    hi = (stream_words(key, offset, n, 0) >> np.uint32(5)).astype(np.float64)
    return (hi * 67108864.0 + (lo >> np.uint32(6)).astype(np.float64)) * _TWO_M53


def _box_muller(u1: np.ndarray, u2: np.ndarray, lanes: np.ndarray) -> np.ndarray:
    r = np.sqrt(-2.0 * np.log(u1))
    theta = _TWO_PI * u2
    return np.where(lanes % 2 == 0, r * np.cos(theta), r * np.sin(theta))


def _round_to(values32: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return values32 if dtype == np.float32 else values32.astype(dtype)


def _uniform_values(
    dtype: np.dtype, n: int, low: float, high: float, key: tuple[int, int], offset: int
) -> np.ndarray:
    if dtype == np.float64:
        u = _uniform53(key, offset, n)
        return float(low) + (float(high) - float(low)) * u
    w = stream_words(key, offset, n, 0)
    u = (w >> np.uint32(8)).astype(np.float32) * _TWO_M24
    values = np.float32(low) + np.float32(float(high) - float(low)) * u
    return _round_to(values, dtype)


def _normal_values(
    dtype: np.dtype, n: int, loc: float, scale: float, key: tuple[int, int], offset: int
) -> np.ndarray:
    if dtype == np.float64:
        m_even_hi, m_odd_hi, lanes = _pair_words(key, offset, n, 0)
        m_even_lo, m_odd_lo, _ = _pair_words(key, offset, n, 1)

        def m53(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
            return (hi >> np.uint32(5)).astype(np.float64) * 67108864.0 + (
                lo >> np.uint32(6)
            ).astype(np.float64)

        u1 = (m53(m_even_hi, m_even_lo) + 1.0) * _TWO_M53
        u2 = m53(m_odd_hi, m_odd_lo) * _TWO_M53
        return float(loc) + float(scale) * _box_muller(u1, u2, lanes)
    w_even, w_odd, lanes = _pair_words(key, offset, n, 0)
    u1 = (w_even.astype(np.float64) + 1.0) * _TWO_M32
    u2 = w_odd.astype(np.float64) * _TWO_M32
    values = (float(loc) + float(scale) * _box_muller(u1, u2, lanes)).astype(np.float32)
    return _round_to(values, dtype)


def fill_uniform(
    arr: np.ndarray, low: float, high: float, key: tuple[int, int], offset: int = 0
) -> np.ndarray:
    """Write uniform draws in ``[low, high)`` into ``arr`` (any shape, C order); returns ``arr``."""
    arr[...] = _uniform_values(arr.dtype, arr.size, low, high, key, offset).reshape(arr.shape)
    return arr


def fill_normal(
    arr: np.ndarray, loc: float, scale: float, key: tuple[int, int], offset: int = 0
) -> np.ndarray:
    """Write normal draws with mean ``loc`` and standard deviation ``scale`` into ``arr``; returns ``arr``."""
    arr[...] = _normal_values(arr.dtype, arr.size, loc, scale, key, offset).reshape(arr.shape)
    return arr


def fill_constant(arr: np.ndarray, value: Any) -> np.ndarray:
    """Set every element of ``arr`` to ``value`` converted to ``arr.dtype``; returns ``arr``."""
    arr[...] = np.asarray(value).astype(arr.dtype)
    return arr


def multi_fill_uniform(
    arrs: Sequence[np.ndarray],
    lows: Sequence[float],
    highs: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int] | None = None,
) -> None:
    """:func:`fill_uniform` on each array with its own bounds, key and offset."""
    offs = offsets if offsets is not None else [0] * len(arrs)
    for arr, low, high, key, off in zip(arrs, lows, highs, keys, offs):
        fill_uniform(arr, low, high, key, off)


def multi_fill_normal(
    arrs: Sequence[np.ndarray],
    locs: Sequence[float],
    scales: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int] | None = None,
) -> None:
    """:func:`fill_normal` on each array with its own mean, deviation, key and offset."""
    offs = offsets if offsets is not None else [0] * len(arrs)
    for arr, loc, scale, key, off in zip(arrs, locs, scales, keys, offs):
        fill_normal(arr, loc, scale, key, off)
