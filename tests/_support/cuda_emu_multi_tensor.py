"""Run ``kernels/multi_tensor.cu`` on the CPU: the CUDA source compiled by g++ against a shim.

No GPU (or CuPy) is needed. The shim defines ``threadIdx``/``blockIdx``, CUDA's ``min``, the
round-to-nearest intrinsics and a ``cuda_fp16.h`` whose ``__half`` converts through g++'s
``_Float16`` (round to nearest even). A launcher runs the grid's blocks and threads one after
another; the kernels use no shared memory or barriers, so this computes what the GPU computes.

Two things a GPU does that plain C++ would not are modelled, so the tests see them:

* ``uint4`` stores are checked for 16-byte alignment (a misaligned vector store faults on the
  GPU); every misaligned store is counted (:func:`misaligned_stores`) instead of crashing.
* CuPy compiles every ``RawModule`` with ``-ftz=true`` (``cupy/cuda/compiler.py`` appends it after
  the caller's options, and NVRTC keeps the last one), so float32 adds and divides flush
  subnormal inputs and results to zero. ``__fadd_rn``/``__fdiv_rn`` here do the same; float64
  and the half conversions are not affected by ``-ftz``.

:func:`install` registers the launchers with :mod:`tests.cuda_host_emu`'s fake CuPy, so
``mxlite.ops._cuda.multi_zero_bytes`` / ``multi_average`` run these kernels end to end.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from tests._support import cuda_host_emu

KERNELS = Path(__file__).resolve().parents[2] / "kernels"

_FP16 = r"""
#pragma once
#include <cstring>
struct __half { unsigned short bits; };
inline float __half2float(__half h) { _Float16 f; std::memcpy(&f, &h.bits, 2); return static_cast<float>(f); }
inline __half __float2half_rn(float v) { _Float16 f = static_cast<_Float16>(v); __half h; std::memcpy(&h.bits, &f, 2); return h; }
"""

_SHIM = r"""
#include <cmath>
#include <cstring>
#define __device__
#define __global__
#define __forceinline__ inline
#define __restrict__ __restrict
static long long emu_misaligned = 0;
struct alignas(16) uint4 {
  unsigned int x, y, z, w;
  uint4() = default;
  uint4(const uint4&) = default;
  uint4& operator=(const uint4& o) {
    if (reinterpret_cast<unsigned long long>(this) % 16 != 0) ++emu_misaligned;
    x = o.x; y = o.y; z = o.z; w = o.w;
    return *this;
  }
};
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) {
  uint4 v; v.x = x; v.y = y; v.z = z; v.w = w; return v;
}
struct Dim3 { unsigned int x, y, z; };
static Dim3 threadIdx, blockIdx, blockDim, gridDim;
template <typename T> inline T min(T a, T b) { return a < b ? a : b; }
inline float emu_ftz(float v) { return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v; }
inline float __fadd_rn(float a, float b) { return emu_ftz(emu_ftz(a) + emu_ftz(b)); }
inline float __fdiv_rn(float a, float b) { return emu_ftz(emu_ftz(a) / emu_ftz(b)); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
"""

_LAUNCHERS = r"""
#define EMU_GRID(GRID, BLOCK, CALL)                                         \
  gridDim.x = GRID; blockDim.x = BLOCK;                                     \
  for (unsigned bx = 0; bx < GRID; ++bx) {                                  \
    blockIdx.x = bx;                                                        \
    for (unsigned tx = 0; tx < BLOCK; ++tx) { threadIdx.x = tx; CALL; }     \
  }
extern "C" void emu_multi_zero_bytes(const u64* ptrs, const i64* nbytes, const int* chunk_buf,
                                     const i64* chunk_begin, i64 chunk, unsigned grid,
                                     unsigned block) {
  EMU_GRID(grid, block, multi_zero_bytes(ptrs, nbytes, chunk_buf, chunk_begin, chunk))
}
#define EMU_AVERAGE(TAG, T)                                                                  \
  extern "C" void emu_multi_average_##TAG(const u64* in_ptrs, const u64* out_ptrs,          \
                                          const i64* numel, const int* chunk_buf,           \
                                          const i64* chunk_begin, i64 chunk, int k,         \
                                          unsigned grid, unsigned block) {                  \
    EMU_GRID(grid, block,                                                                   \
             multi_average<T>(in_ptrs, out_ptrs, numel, chunk_buf, chunk_begin, chunk, k))  \
  }
EMU_AVERAGE(float32, float)
EMU_AVERAGE(float64, double)
EMU_AVERAGE(float16, __half)
extern "C" void emu_probe_store(void* p) {  // tests the alignment check itself
  *reinterpret_cast<uint4*>(p) = make_uint4(0u, 0u, 0u, 0u);
}
extern "C" long long emu_misaligned_stores(int reset) {
  long long n = emu_misaligned;
  if (reset) emu_misaligned = 0;
  return n;
}
"""

_P, _I64, _I32, _U32 = ctypes.c_void_p, ctypes.c_longlong, ctypes.c_int, ctypes.c_uint
_ARGTYPES: dict[str, list[Any]] = {
    "emu_multi_zero_bytes": [_P, _P, _P, _P, _I64, _U32, _U32],
    "emu_multi_average_float32": [_P, _P, _P, _P, _P, _I64, _I32, _U32, _U32],
    "emu_multi_average_float64": [_P, _P, _P, _P, _P, _I64, _I32, _U32, _U32],
    "emu_multi_average_float16": [_P, _P, _P, _P, _P, _I64, _I32, _U32, _U32],
}
# The CUDA template argument of each dtype family (as mxlite.ops._cuda names it).
_FAMILY_OF_CTYPE = {"float": "float32", "double": "float64", "__half": "float16"}


available = cuda_host_emu.available

_LIB: Any = None


def library() -> Any:
    """The emulation library, compiled once per kernel-source version into the temp dir."""
    global _LIB
    if _LIB is None:
        lib = cuda_host_emu.build_library(
            "multi_tensor_emu",
            _SHIM + (KERNELS / "multi_tensor.cu").read_text() + _LAUNCHERS,
            headers={"cuda_fp16.h": _FP16},
            argtypes=_ARGTYPES,
            extra_flags=("-Wall",),
        )
        lib.emu_probe_store.argtypes = [_P]
        lib.emu_probe_store.restype = None
        lib.emu_misaligned_stores.argtypes = [_I32]
        lib.emu_misaligned_stores.restype = ctypes.c_longlong
        _LIB = lib
    return _LIB


def misaligned_stores(reset: bool = True) -> int:
    """Misaligned 16-byte stores since the last reset (each would fault on a GPU)."""
    return int(library().emu_misaligned_stores(int(reset)))


def _addr(arr: np.ndarray) -> int:
    return int(arr.__array_interface__["data"][0])


def probe_store(address: int) -> None:
    """One 16-byte ``uint4`` store of zeros at ``address`` through the shim (counts misalignment)."""
    library().emu_probe_store(address)


def _table(arr: np.ndarray, dtype: Any) -> np.ndarray:
    if arr.dtype != np.dtype(dtype) or not arr.flags.c_contiguous:
        raise TypeError(f"kernel table: expected contiguous {np.dtype(dtype)}, got {arr.dtype}")
    return arr


def zero_bytes(
    ptrs: np.ndarray,
    nbytes: np.ndarray,
    chunk_buf: np.ndarray,
    chunk_begin: np.ndarray,
    chunk: int,
    block: int = 256,
) -> None:
    """Launch ``multi_zero_bytes`` with one block per chunk, as ``_cuda.multi_zero_bytes`` does."""
    tables = (
        _table(ptrs, np.uint64),
        _table(nbytes, np.int64),
        _table(chunk_buf, np.int32),
        _table(chunk_begin, np.int64),
    )
    library().emu_multi_zero_bytes(
        *(_addr(t) for t in tables), int(chunk), int(chunk_buf.size), int(block)
    )


def average(
    family: str,
    in_ptrs: np.ndarray,
    out_ptrs: np.ndarray,
    numel: np.ndarray,
    chunk_buf: np.ndarray,
    chunk_begin: np.ndarray,
    chunk: int,
    k: int,
    block: int = 256,
) -> None:
    """Launch ``multi_average<T>`` (T from ``family``) with one block per chunk."""
    tables = (
        _table(in_ptrs, np.uint64),
        _table(out_ptrs, np.uint64),
        _table(numel, np.int64),
        _table(chunk_buf, np.int32),
        _table(chunk_begin, np.int64),
    )
    getattr(library(), f"emu_multi_average_{family}")(
        *(_addr(t) for t in tables), int(chunk), int(k), int(chunk_buf.size), int(block)
    )


def _host(arg: Any) -> np.ndarray:
    """A fake-CuPy array argument as the host array it stands for."""
    return np.asarray(arg).view(np.ndarray)


def launcher(name: str) -> Any:
    """A stand-in for the CuPy kernel ``name`` of multi_tensor.cu that checks the argument types a
    real launch passes (device arrays of the table dtypes, NumPy scalars) and runs the emulation."""

    def launch(grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...]) -> None:
        if name == "multi_zero_bytes":
            if len(args) != 5 or type(args[4]) is not np.int64:
                raise TypeError(f"multi_zero_bytes takes 4 tables and an np.int64, got {args!r}")
            tables = [_host(a) for a in args[:4]]
            if grid[0] != tables[2].size:
                raise ValueError(f"grid {grid} != {tables[2].size} chunks")
            zero_bytes(*tables, int(args[4]), block=int(block[0]))
            return
        family = _FAMILY_OF_CTYPE[name[len("multi_average<") : -1]]
        if len(args) != 7 or type(args[5]) is not np.int64 or type(args[6]) is not np.int32:
            raise TypeError(f"{name} takes 5 tables, an np.int64 and an np.int32, got {args!r}")
        tables = [_host(a) for a in args[:5]]
        if grid[0] != tables[3].size:
            raise ValueError(f"grid {grid} != {tables[3].size} chunks")
        average(family, *tables, int(args[5]), int(args[6]), block=int(block[0]))

    return launch


def install() -> None:
    """Register the launchers with :mod:`tests.cuda_host_emu`'s fake CuPy kernels."""

    names = ["multi_zero_bytes"] + [f"multi_average<{c}>" for c in _FAMILY_OF_CTYPE]
    for name in names:
        cuda_host_emu.EXTRA_LAUNCHERS[name] = launcher(name)
