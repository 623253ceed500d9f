"""Run ``kernels/init_fill.cu`` on the CPU: the CUDA source compiled by g++ against a small shim.

No GPU (or CuPy) is needed: the shim defines the CUDA vector types, ``threadIdx``/``blockIdx`` and
the round-to-nearest intrinsics (``__fmul_rn`` is a plain float multiply under
``-ffp-contract=off``), and each launcher runs a kernel's grid and blocks one thread after
another. The kernels use no shared memory or barriers, so the sequential run computes exactly
what the GPU computes, up to the device's math library (log/sin/cos in the normal draws).

That lets the tests check, on any machine with g++, the parts of the CUDA path that are pure
logic: Philox, the float formulas, the 16-bit conversions, the lane/offset bookkeeping, the
vectorized-store branches (with misaligned views), and the device-side tables built by
:mod:`mxlite.ops._cuda` (same numpy dtypes, same chunk arithmetic, real pointers).
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mxlite.ops import _cuda

KERNELS = Path(__file__).resolve().parent.parent / "kernels"

_SHIM = r"""
#include <cmath>
#include <cstring>
#define __device__
#define __global__
#define __forceinline__ inline
struct uint4 { unsigned int x, y, z, w; };
struct uint2 { unsigned int x, y; };
struct float4 { float x, y, z, w; };
struct double2 { double x, y; };
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned int x, unsigned int y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
struct Dim3 { unsigned int x, y, z; };
static Dim3 threadIdx, blockIdx, blockDim, gridDim;
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return static_cast<unsigned int>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline float __double2float_rn(double d) { return static_cast<float>(d); }
inline float __uint2float_rn(unsigned int u) { return static_cast<float>(u); }
inline double __uint2double_rn(unsigned int u) { return static_cast<double>(u); }
inline unsigned int __float_as_uint(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
inline void emu_sincos(double t, double* s, double* c) { *s = std::sin(t); *c = std::cos(t); }
#define sincos emu_sincos
template <typename T> inline void __stwb(T* p, T v) {
  // a misaligned vector store would fault on the GPU: make it fail here too
  if (reinterpret_cast<unsigned long long>(p) % sizeof(T) != 0) __builtin_trap();
  *p = v;
}
"""

_LAUNCH = r"""
#define EMU_RUN(GRID, BLOCK, CALL)                                   \
  gridDim.x = GRID; blockDim.x = BLOCK;                              \
  for (unsigned int bx = 0; bx < GRID; ++bx) {                       \
    blockIdx.x = bx;                                                 \
    for (unsigned int tx = 0; tx < BLOCK; ++tx) { threadIdx.x = tx; CALL; } \
  }
"""

_TYPES = {
    "f32": "float",
    "f64": "double",
    "f16": "mxlite::half_bits",
    "bf16": "mxlite::bfloat16_bits",
}
_TAGS = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16"}


def _launchers() -> str:
    out = [_LAUNCH]
    for tag, ctype in _TYPES.items():
        for dist in ("uniform", "normal"):
            out.append(
                f'extern "C" void emu_fill_{dist}_{tag}(void* p, unsigned long long n, unsigned long long off, '
                f"unsigned int k0, unsigned int k1, double p0, double p1, unsigned int grid, unsigned int block) {{"
                f" EMU_RUN(grid, block, (fill_{dist}<{ctype}>(static_cast<mxlite::Traits<{ctype}>::store_t*>(p), "
                f"n, off, k0, k1, p0, p1))) }}"
            )
            out.append(
                f'extern "C" void emu_multi_fill_{dist}_{tag}(const void* t, int count, unsigned long long total, '
                f"unsigned int grid, unsigned int block) {{ EMU_RUN(grid, block, (multi_fill_{dist}<{ctype}>("
                f"static_cast<const mxlite::FillEntry*>(t), count, total))) }}"
            )
    out.append(
        'extern "C" void emu_fill_pattern(void* p, unsigned long long nbytes, unsigned int w0, unsigned int w1, '
        "unsigned int w2, unsigned int w3, unsigned int elem, unsigned int grid, unsigned int block) {"
        " EMU_RUN(grid, block, fill_pattern(static_cast<unsigned char*>(p), nbytes, w0, w1, w2, w3, elem)) }"
    )
    out.append(
        'extern "C" void emu_multi_fill_pattern(const void* t, int count, unsigned long long total, '
        "unsigned int grid, unsigned int block) {"
        " EMU_RUN(grid, block, multi_fill_pattern(static_cast<const mxlite::ConstEntry*>(t), count, total)) }"
    )
    out.append(
        'extern "C" void emu_philox(const unsigned int* c, const unsigned int* k, unsigned int* o, '
        "unsigned long long n) { EMU_RUN(1u, 7u, philox4x32_10_rows(c, k, o, n)) }"
    )
    return "\n".join(out)


def available() -> bool:
    """True when g++ is on PATH."""
    return shutil.which("g++") is not None


_LIB: Any = None


def library() -> Any:
    """The emulation library (compiled once per kernel-source version into the temp dir)."""
    global _LIB
    if _LIB is not None:
        return _LIB
    source = _SHIM + '\n#include "init_fill.cu"\n' + _launchers()
    digest = hashlib.sha256(
        (
            source + (KERNELS / "init_fill.cu").read_text() + (KERNELS / "philox.cuh").read_text()
        ).encode()
    )
    build = Path(tempfile.gettempdir()) / f"mxlite_cuda_emu_{digest.hexdigest()[:16]}"
    lib_path = build / "emu.so"
    if not lib_path.exists():
        build.mkdir(parents=True, exist_ok=True)
        src = build / "emu.cpp"
        src.write_text(source)
        tmp = build / f"emu.{id(source)}.so"
        cmd = [
            "g++", "-std=c++17", "-O1", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC",
            "-Wno-unknown-pragmas", f"-I{KERNELS}", "-o", str(tmp), str(src),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        tmp.replace(lib_path)
    _LIB = ctypes.CDLL(str(lib_path))
    return _LIB


def _ptr(arr: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(arr.ctypes.data)


def _u64(v: int) -> ctypes.c_ulonglong:
    return ctypes.c_ulonglong(int(v))


def _u32(v: int) -> ctypes.c_uint:
    return ctypes.c_uint(int(v))


def fill(
    arr: np.ndarray,
    dist: str,
    p0: float,
    p1: float,
    key: tuple[int, int],
    offset: int,
    grid: int,
    block: int = 64,
) -> None:
    """Run ``fill_<dist><T>`` on C-contiguous ``arr`` (p0, p1 as the kernel takes them)."""
    fn = getattr(library(), f"emu_fill_{dist}_{_TAGS[arr.dtype.name]}")
    fn(
        _ptr(arr), _u64(arr.size), _u64(offset), _u32(key[0]), _u32(key[1]),
        ctypes.c_double(p0), ctypes.c_double(p1), _u32(grid), _u32(block),
    )  # fmt: skip


def multi_fill(
    arrs: Sequence[np.ndarray],
    dist: str,
    p0s: Sequence[float],
    p1s: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int],
    grid: int,
    block: int = 64,
) -> None:
    """Run ``multi_fill_<dist><T>`` over a table built by :func:`mxlite.ops._cuda.fill_table`."""
    table, total = _cuda.fill_table(
        [a.ctypes.data for a in arrs], [a.size for a in arrs], offsets, keys, p0s, p1s
    )
    fn = getattr(library(), f"emu_multi_fill_{dist}_{_TAGS[arrs[0].dtype.name]}")
    fn(_ptr(table), ctypes.c_int(len(arrs)), _u64(total), _u32(grid), _u32(block))


def fill_pattern(arr: np.ndarray, value: Any, grid: int, block: int = 64) -> None:
    """Run ``fill_pattern`` with the pattern :func:`mxlite.ops._cuda.value_pattern` builds."""
    words, elem = _cuda.value_pattern(value, arr.dtype)
    library().emu_fill_pattern(
        _ptr(arr), _u64(arr.nbytes), *(_u32(w) for w in words), _u32(elem), _u32(grid), _u32(block)
    )


def multi_fill_pattern(
    arrs: Sequence[np.ndarray], values: Sequence[Any], grid: int, block: int = 64
) -> None:
    """Run ``multi_fill_pattern`` over a table built by :func:`mxlite.ops._cuda.const_table`."""
    pats = [_cuda.value_pattern(v, a.dtype) for a, v in zip(arrs, values)]
    table, total = _cuda.const_table(
        [a.ctypes.data for a in arrs],
        [a.nbytes for a in arrs],
        [p[0] for p in pats],
        [p[1] for p in pats],
    )
    library().emu_multi_fill_pattern(
        _ptr(table), ctypes.c_int(len(arrs)), _u64(total), _u32(grid), _u32(block)
    )


def philox(counter: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Run ``philox4x32_10_rows`` on ``uint32[n, 4]`` counters and ``uint32[n, 2]`` keys."""
    ctr = np.ascontiguousarray(counter, dtype=np.uint32)
    k = np.ascontiguousarray(key, dtype=np.uint32)
    out = np.empty_like(ctr)
    library().emu_philox(_ptr(ctr), _ptr(k), _ptr(out), _u64(ctr.shape[0]))
    return out
