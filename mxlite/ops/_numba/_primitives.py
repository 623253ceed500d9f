"""Scalar building blocks shared by the Numba twins ``fill``, ``multi_tensor`` and ``optimizer``.

Raw pointers and addresses (``numba.carray`` over an address from a table), the bits of a float32,
float16/bfloat16 rounding to nearest even, Philox4x32-10 on uint64 lanes and Box-Muller. Each one
is the host twin of a device function in ``kernels/*.cu`` and must compute the same bits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from mxlite import _threads

# Every Numba module of mxlite imports this one: the threading layer is chosen before any
# parallel launch (see mxlite._threads).
_threads.configure_numba()

HALF = 0  # kinds of 16-bit storage
BFLOAT16 = 1

# Philox4x32-10 multipliers and Weyl increments, and the shifts, as uint64 (Numba keeps the lanes
# in 64-bit registers and masks them back to 32 bits).
M0 = np.uint64(0xD2511F53)
M1 = np.uint64(0xCD9E8D57)
W0 = np.uint64(0x9E3779B9)
W1 = np.uint64(0xBB67AE85)
MASK32 = np.uint64(0xFFFFFFFF)
S5 = np.uint64(5)
S6 = np.uint64(6)
S32 = np.uint64(32)


# --------------------------------------------------------------------------------------- intrinsics
@intrinsic
def f32_bits(typingctx: Any, x: Any) -> Any:
    """The IEEE bits of a float32 as uint32 (a register bitcast)."""
    if not (isinstance(x, types.Float) and x.bitwidth == 32):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(32))

    return types.uint32(x), codegen


def pointer_intrinsic(nbtype: Any) -> Any:
    """An intrinsic turning an integer address into a ``CPointer(nbtype)`` for ``numba.carray``."""

    @intrinsic
    def as_pointer(typingctx: Any, address: Any) -> Any:
        if not isinstance(address, types.Integer):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

        return types.CPointer(nbtype)(address), codegen

    return as_pointer


@intrinsic
def _address_of(typingctx: Any, arr: Any) -> Any:
    """The address of an array's first element, as an integer."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.ptrtoint(ary.data, context.get_value_type(types.intp))

    return types.intp(arr), codegen


@njit(cache=True)
def data_address(arr: np.ndarray) -> int:
    """``arr.ctypes.data``, ten times faster (matters when tables list thousands of arrays)."""
    return _address_of(arr)


# ------------------------------------------------------------------------------------------- philox
@njit(cache=True)
def philox(c0: Any, c1: Any, c2: Any, c3: Any, k0: Any, k1: Any) -> Any:
    """Philox4x32-10 on uint64 lanes that hold 32-bit values."""
    for _ in range(10):
        p0 = M0 * c0
        p1 = M1 * c2
        c0, c1, c2, c3 = (p1 >> S32) ^ c1 ^ k0, p1 & MASK32, (p0 >> S32) ^ c3 ^ k1, p0 & MASK32
        k0 = (k0 + W0) & MASK32
        k1 = (k1 + W1) & MASK32
    return c0, c1, c2, c3


# ------------------------------------------------------------------------------------ conversions
@njit(cache=True)
def m53(hi: Any, lo: Any) -> float:
    """A 53-bit integer (as float64) from 27 bits of ``hi`` and 26 bits of ``lo``."""
    return np.float64(hi >> S5) * 67108864.0 + np.float64(lo >> S6)


@njit(cache=True)
def box_muller(u1: float, u2: float) -> tuple[float, float]:
    r = math.sqrt(-2.0 * math.log(u1))
    t = 6.283185307179586 * u2
    return r * math.cos(t), r * math.sin(t)


@njit(cache=True)
def f32_to_f16_bits(x: Any) -> Any:
    """IEEE binary16 bits of float32 ``x``, rounded to nearest even (as NumPy's astype)."""
    f = np.int64(f32_bits(x))
    sign = (f >> 16) & 0x8000
    a = f & 0x7FFFFFFF
    if a >= 0x7F800000:  # inf or nan
        return np.uint16(sign | (0x7E00 if a > 0x7F800000 else 0x7C00))
    if a >= 0x477FF000:  # rounds past 65504
        return np.uint16(sign | 0x7C00)
    if a >= 0x38800000:  # normal half
        v = a - 0x38000000
        h = v >> 13
        rem = v & 0x1FFF
        if rem > 0x1000 or (rem == 0x1000 and (h & 1) == 1):
            h += 1
        return np.uint16(sign | h)
    if a <= 0x33000000:  # at most half the smallest subnormal: rounds to zero
        return np.uint16(sign)
    shift = 126 - (a >> 23)
    mant = (a & 0x7FFFFF) | 0x800000
    h = mant >> shift
    rem = mant & ((1 << shift) - 1)
    halfway = 1 << (shift - 1)
    if rem > halfway or (rem == halfway and (h & 1) == 1):
        h += 1
    return np.uint16(sign | h)


@njit(cache=True)
def f32_to_bf16_bits(x: Any) -> Any:
    """bfloat16 bits of float32 ``x``, rounded to nearest even (as ml_dtypes' astype)."""
    f = np.int64(f32_bits(x))
    if (f & 0x7FFFFFFF) > 0x7F800000:
        return np.uint16((f >> 16) | 0x40)
    return np.uint16((f + 0x7FFF + ((f >> 16) & 1)) >> 16)


@njit(cache=True)
def half_bits(values: np.ndarray, kind: int, out: np.ndarray) -> None:
    """``out[i]`` = float16 (``kind`` 0) or bfloat16 (``kind`` 1) bits of float32 ``values[i]``."""
    for i in range(values.size):
        out[i] = f32_to_f16_bits(values[i]) if kind == HALF else f32_to_bf16_bits(values[i])
