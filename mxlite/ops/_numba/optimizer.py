"""Numba twins of ``kernels/multi_optimizer.cu``: fused SGD / NAG / Adam steps over a chunk table.

The table is the one the CUDA kernel walks (see :mod:`mxlite.ops.multi_optimizer`): chunk ``c``
updates elements ``[chunk_begin[c], chunk_begin[c] + chunk)`` of buffer ``chunk_buf[c]``; buffer
``b`` has the addresses ``ptrs[5 * b + slot]`` (weight, grad, state 0, state 1, float32 master)
and the coefficients ``coef[3 * b + j]``; ``glob`` holds the launch scalars
``(rescale, clip, p0, p1, p2, p3, p4)``. ``prange`` runs the chunks on all cores.

Every operation is one IEEE operation rounded to the compute type, in the order of the NumPy
single-tensor path (no ``fastmath``, so LLVM neither reassociates nor contracts to FMA). float16
storage is read and written as raw bits; without a master copy every result is rounded to
float16, as NumPy's float16 loops do. ``error_model="numpy"``: a division by zero gives inf or
NaN as in NumPy (Numba's default raises ZeroDivisionError, and keeps LLVM from vectorizing).

Element loops are written out: slice assignment on a ``carray`` inside ``prange`` is dropped by
Numba's parfor pass, so no kernel here uses it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import carray, njit, prange, types
from numba.extending import intrinsic, overload

from mxlite import _threads
from mxlite.ops._numba._primitives import f32_to_f16_bits, pointer_intrinsic

__all__ = [
    "SGD", "NAG", "ADAM", "SLOTS",
    "step_f32", "step_f64", "step_f16", "step_f16mp",
    "step_f32_serial", "step_f64_serial", "step_f16_serial", "step_f16mp_serial",
]  # fmt: skip

SGD = 0
NAG = 1
ADAM = 2
SLOTS = 5  # weight, grad, state 0, state 1, master

_f32_ptr = pointer_intrinsic(types.float32)
_f64_ptr = pointer_intrinsic(types.float64)
_u16_ptr = pointer_intrinsic(types.uint16)


@intrinsic
def _bits_to_f32(typingctx: Any, bits: Any) -> Any:
    """The float32 whose IEEE bits are the uint32 ``bits`` (a register bitcast)."""
    if not (isinstance(bits, types.Integer) and bits.bitwidth == 32):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(bits), codegen


@njit(cache=True, error_model="numpy")
def _f16_to_f32(h: Any) -> Any:
    """float16 bits (uint16) to float32, exactly."""
    x = np.int64(h)
    sign = (x & 0x8000) << 16
    e = (x >> 10) & 0x1F
    m = x & 0x3FF
    if e == 0x1F:
        bits = sign | 0x7F800000 | (m << 13)
    elif e != 0:
        bits = sign | ((e + 112) << 23) | (m << 13)
    elif m == 0:
        bits = sign
    else:  # subnormal: m * 2**-24, exact in float32
        v = np.float32(m) * np.float32(5.960464477539063e-08)
        return -v if sign else v
    return _bits_to_f32(np.uint32(bits))


# ------------------------------------------------------------------ storage-generic helpers
# Each helper is resolved by the array's type when a driver is compiled, so the element loops
# below are straight-line code for float32/float64 storage (and LLVM can vectorize them).
def _ld(a, i):  # type: ignore[no-untyped-def]  # overloads must repeat the bare signature
    """Element ``i`` of ``a`` in the compute type (float16 bits widen to float32)."""
    raise NotImplementedError  # Numba-only; see the overload


def _st(a, i, v):  # type: ignore[no-untyped-def]
    """Store ``v`` at ``a[i]`` (rounded to float16 bits for uint16 storage; nothing for None)."""
    raise NotImplementedError


def _r(master, x):  # type: ignore[no-untyped-def]
    """``x`` rounded to the precision of ``master``'s storage (float16 for uint16 storage)."""
    raise NotImplementedError


@overload(_ld)
def _ld_impl(a, i):  # type: ignore[no-untyped-def]
    if a.dtype == types.uint16:
        return lambda a, i: _f16_to_f32(a[i])
    return lambda a, i: a[i]


@overload(_st)
def _st_impl(a, i, v):  # type: ignore[no-untyped-def]
    if isinstance(a, types.NoneType):
        return lambda a, i, v: None
    if a.dtype == types.uint16:

        def store16(a, i, v):  # type: ignore[no-untyped-def]
            a[i] = f32_to_f16_bits(v)

        return store16

    def store(a, i, v):  # type: ignore[no-untyped-def]
        a[i] = v

    return store


@overload(_r)
def _r_impl(master, x):  # type: ignore[no-untyped-def]
    if master.dtype == types.uint16:
        return lambda master, x: _f16_to_f32(f32_to_f16_bits(x))
    return lambda master, x: x


@njit(cache=True, error_model="numpy")
def _clip(x: Any, c: Any) -> Any:
    """NumPy's ``clip(x, -c, c)`` for ``c >= 0`` (NaN stays NaN)."""
    return c if x > c else (-c if x < -c else x)


# ---------------------------------------------------------------------------- update rules
# w: the master values (the weight itself without a master copy); copy: the float16 weight that
# receives the master's rounded value, or None. Formulas: the header of multi_optimizer.cu.
@njit(cache=True, error_model="numpy")
def _sgd_chunk(w: Any, g: Any, mom: Any, copy: Any, c: Any, glob: Any, clipping: bool) -> None:
    """SGD (``mom`` None: no momentum); c = (lr, lr * rescale, lr * wd); glob[2] = momentum."""
    rescale, bound, momentum = glob[0], glob[1], glob[2]
    for i in range(w.shape[0]):
        wi = _ld(w, i)
        gi = _ld(g, i)
        st = _r(w, _clip(_r(w, gi * rescale), bound) * c[0]) if clipping else _r(w, gi * c[1])
        decay = _r(w, wi * c[2])
        if mom is None:
            wi = _r(w, wi + _r(w, -decay - st))
        else:
            mi = _r(w, _r(w, _r(w, _ld(mom, i) * momentum) - decay) - st)
            _st(mom, i, mi)
            wi = _r(w, wi + mi)
        _st(w, i, wi)
        _st(copy, i, wi)


@njit(cache=True, error_model="numpy")
def _nag_chunk(w: Any, g: Any, mom: Any, copy: Any, c: Any, glob: Any, clipping: bool) -> None:
    """NAG; ``mom`` None: plain SGD, c = (lr, lr * rescale, 1 - lr * wd); otherwise
    c = (lr, wd, -), glob[2] = momentum, glob[3] = momentum + 1."""
    rescale, bound = glob[0], glob[1]
    for i in range(w.shape[0]):
        wi = _ld(w, i)
        gi = _ld(g, i)
        if mom is None:
            st = _r(w, _clip(_r(w, gi * rescale), bound) * c[0]) if clipping else _r(w, gi * c[1])
            wi = _r(w, _r(w, wi * c[2]) - st)
        else:
            term = _r(w, gi * rescale)
            if clipping:
                term = _clip(term, bound)
            mi = _r(w, _ld(mom, i) * glob[2])
            inner = _r(w, _r(w, term + _r(w, wi * c[1])) * c[0])
            inner = _r(w, _r(w, mi - inner) * glob[3])
            wi = _r(w, _r(w, wi - mi) + inner)
            decay = _r(w, _r(w, term + _r(w, wi * c[1])) * c[0])
            _st(mom, i, _r(w, mi - decay))
        _st(w, i, wi)
        _st(copy, i, wi)


@njit(cache=True, error_model="numpy")
def _adam_chunk(
    w: Any, g: Any, mean: Any, var: Any, copy: Any, c: Any, glob: Any, clipping: bool
) -> None:
    """Adam; c = (lr_t, wd, -); glob[2:7] = (beta1, 1 - beta1, beta2, 1 - beta2, epsilon)."""
    rescale, bound = glob[0], glob[1]
    for i in range(w.shape[0]):
        wi = _ld(w, i)
        gg = _r(w, _r(w, _ld(g, i) * rescale) + _r(w, wi * c[1]))
        if clipping:
            gg = _clip(gg, bound)
        mi = _r(w, _r(w, _ld(mean, i) * glob[2]) + _r(w, gg * glob[3]))
        vi = _r(w, _r(w, _ld(var, i) * glob[4]) + _r(w, _r(w, gg * glob[5]) * gg))
        denom = _r(w, _r(w, np.sqrt(vi)) + glob[6])
        wi = _r(w, wi - _r(w, _r(w, mi * c[0]) / denom))
        _st(mean, i, mi)
        _st(var, i, vi)
        _st(w, i, wi)
        _st(copy, i, wi)


@njit(cache=True, error_model="numpy")
def _chunk(
    family: int,
    nstate: int,
    clipping: bool,
    w: Any,
    g: Any,
    s0: Any,
    s1: Any,
    copy: Any,
    c: Any,
    glob: Any,
) -> None:
    """Run one chunk of ``family``'s rule (``nstate`` states present)."""
    if family == ADAM:
        _adam_chunk(w, g, s0, s1, copy, c, glob, clipping)
    elif family == NAG:
        if nstate > 0:
            _nag_chunk(w, g, s0, copy, c, glob, clipping)
        else:
            _nag_chunk(w, g, None, copy, c, glob, clipping)
    elif nstate > 0:
        _sgd_chunk(w, g, s0, copy, c, glob, clipping)
    else:
        _sgd_chunk(w, g, None, copy, c, glob, clipping)


@njit(cache=True, error_model="numpy")
def _extent(chunk_buf: Any, chunk_begin: Any, numel: Any, chunk: int, c: int) -> Any:
    b = chunk_buf[c]
    begin = chunk_begin[c]
    return b, begin, min(begin + chunk, numel[b]) - begin


# -------------------------------------------------------------------------------- drivers
# Arguments: ptrs int64[5 * buffers], numel int64[buffers], chunk_buf int32[chunks],
# chunk_begin int64[chunks], chunk, coef C[3 * buffers], glob C[7], family, nstate, clipping.
# step_<kind> runs the chunks in parallel, step_<kind>_serial one after another (small launches:
# no thread wake-up).


@njit(cache=True, error_model="numpy")
def _run_f32(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool, c: int,
) -> None:  # fmt: skip
    """Chunk ``c``: float32 weights, gradients and states."""
    b, begin, n = _extent(chunk_buf, chunk_begin, numel, chunk, c)
    base = SLOTS * b
    _chunk(
        family, nstate, clipping,
        carray(_f32_ptr(ptrs[base] + 4 * begin), (n,)),
        carray(_f32_ptr(ptrs[base + 1] + 4 * begin), (n,)),
        carray(_f32_ptr(ptrs[base + 2] + 4 * begin), (n,)),
        carray(_f32_ptr(ptrs[base + 3] + 4 * begin), (n,)),
        None, coef[3 * b : 3 * b + 3], glob,
    )  # fmt: skip


@njit(cache=True, parallel=True, error_model="numpy")
def step_f32(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool,
) -> None:  # fmt: skip
    for c in prange(chunk_buf.shape[0]):
        _run_f32(
            ptrs, numel, chunk_buf, chunk_begin, chunk, coef, glob, family, nstate, clipping, c
        )


@njit(cache=True, error_model="numpy")
def step_f32_serial(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool,
) -> None:  # fmt: skip
    for c in range(chunk_buf.shape[0]):
        _run_f32(
            ptrs, numel, chunk_buf, chunk_begin, chunk, coef, glob, family, nstate, clipping, c
        )


@njit(cache=True, error_model="numpy")
def _run_f64(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool, c: int,
) -> None:  # fmt: skip
    """Chunk ``c``: float64 weights, gradients and states."""
    b, begin, n = _extent(chunk_buf, chunk_begin, numel, chunk, c)
    base = SLOTS * b
    _chunk(
        family, nstate, clipping,
        carray(_f64_ptr(ptrs[base] + 8 * begin), (n,)),
        carray(_f64_ptr(ptrs[base + 1] + 8 * begin), (n,)),
        carray(_f64_ptr(ptrs[base + 2] + 8 * begin), (n,)),
        carray(_f64_ptr(ptrs[base + 3] + 8 * begin), (n,)),
        None, coef[3 * b : 3 * b + 3], glob,
    )  # fmt: skip


@njit(cache=True, parallel=True, error_model="numpy")
def step_f64(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool,
) -> None:  # fmt: skip
    for c in prange(chunk_buf.shape[0]):
        _run_f64(
            ptrs, numel, chunk_buf, chunk_begin, chunk, coef, glob, family, nstate, clipping, c
        )


@njit(cache=True, error_model="numpy")
def step_f64_serial(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool,
) -> None:  # fmt: skip
    for c in range(chunk_buf.shape[0]):
        _run_f64(
            ptrs, numel, chunk_buf, chunk_begin, chunk, coef, glob, family, nstate, clipping, c
        )


@njit(cache=True, error_model="numpy")
def _run_f16(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool, c: int,
) -> None:  # fmt: skip
    """Chunk ``c``: float16 weights, gradients and states (raw bits), float32 math rounded to float16."""
    b, begin, n = _extent(chunk_buf, chunk_begin, numel, chunk, c)
    base = SLOTS * b
    _chunk(
        family, nstate, clipping,
        carray(_u16_ptr(ptrs[base] + 2 * begin), (n,)),
        carray(_u16_ptr(ptrs[base + 1] + 2 * begin), (n,)),
        carray(_u16_ptr(ptrs[base + 2] + 2 * begin), (n,)),
        carray(_u16_ptr(ptrs[base + 3] + 2 * begin), (n,)),
        None, coef[3 * b : 3 * b + 3], glob,
    )  # fmt: skip


@njit(cache=True, parallel=True, error_model="numpy")
def step_f16(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool,
) -> None:  # fmt: skip
    for c in prange(chunk_buf.shape[0]):
        _run_f16(
            ptrs, numel, chunk_buf, chunk_begin, chunk, coef, glob, family, nstate, clipping, c
        )


@njit(cache=True, error_model="numpy")
def step_f16_serial(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool,
) -> None:  # fmt: skip
    for c in range(chunk_buf.shape[0]):
        _run_f16(
            ptrs, numel, chunk_buf, chunk_begin, chunk, coef, glob, family, nstate, clipping, c
        )


@njit(cache=True, error_model="numpy")
def _run_f16mp(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool, c: int,
) -> None:  # fmt: skip
    """Chunk ``c``: float16 weights and gradients (raw bits), float32 master weights and states; the
    weight receives the master's value rounded to float16."""
    b, begin, n = _extent(chunk_buf, chunk_begin, numel, chunk, c)
    base = SLOTS * b
    _chunk(
        family, nstate, clipping,
        carray(_f32_ptr(ptrs[base + 4] + 4 * begin), (n,)),
        carray(_u16_ptr(ptrs[base + 1] + 2 * begin), (n,)),
        carray(_f32_ptr(ptrs[base + 2] + 4 * begin), (n,)),
        carray(_f32_ptr(ptrs[base + 3] + 4 * begin), (n,)),
        carray(_u16_ptr(ptrs[base] + 2 * begin), (n,)),
        coef[3 * b : 3 * b + 3], glob,
    )  # fmt: skip


@njit(cache=True, parallel=True, error_model="numpy")
def step_f16mp(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool,
) -> None:  # fmt: skip
    for c in prange(chunk_buf.shape[0]):
        _run_f16mp(
            ptrs, numel, chunk_buf, chunk_begin, chunk, coef, glob, family, nstate, clipping, c
        )


@njit(cache=True, error_model="numpy")
def step_f16mp_serial(
    ptrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any, chunk: int, coef: Any, glob: Any,
    family: int, nstate: int, clipping: bool,
) -> None:  # fmt: skip
    for c in range(chunk_buf.shape[0]):
        _run_f16mp(
            ptrs, numel, chunk_buf, chunk_begin, chunk, coef, glob, family, nstate, clipping, c
        )


# ------------------------------------------------------------- launcher (the name of _cuda's)
_STEPS = {
    "float32": (step_f32, step_f32_serial),
    "float64": (step_f64, step_f64_serial),
    "float16": (step_f16, step_f16_serial),
    "float16mp": (step_f16mp, step_f16mp_serial),
}


def multi_optimizer_step(
    kind: str, tables: Any, chunk: int, coef: Any, glob: Any, family: int, nstate: int,
    clipping: bool, *, big_enough: bool = True,
) -> None:  # fmt: skip
    """The host twin of ``_cuda.multi_optimizer_step``: one fused SGD/NAG/Adam step over the
    chunk table ``tables`` = (pointers, numel, chunk_buf, chunk_begin) for storage ``kind``
    (a key of :data:`mxlite.ops._optimizer_coef.KINDS`), in parallel when ``big_enough``."""
    kernels = _STEPS[kind]
    _threads.launch(
        kernels[0],
        *tables,
        chunk,
        coef,
        glob,
        family,
        nstate,
        clipping,
        serial=kernels[1],
        big_enough=big_enough,
    )
