"""Run ``kernels/multi_optimizer.cu`` on the CPU: the CUDA source compiled by g++ against a shim.

No GPU (or CuPy) is needed. The shim defines the CUDA vector types, ``threadIdx``/``blockIdx``,
the round-to-nearest intrinsics (plain IEEE operations under ``-ffp-contract=off``) and a
``cuda_fp16.h`` whose ``__half`` converts through g++'s ``_Float16`` (round to nearest even).
A launcher runs the grid's blocks and threads one after another; the kernel uses no shared
memory or barriers, so this computes what the GPU computes, and the tests hold it bitwise to
the NumPy single-tensor path. The tables are those :mod:`mxlite.ops.multi_optimizer` builds.

CuPy compiles every ``RawModule`` with ``-ftz=true`` (appended after mxlite's options; NVRTC keeps
the last), so the float32 intrinsics here flush subnormal inputs and results to zero as the GPU
does; float64 and the float16 conversions (inline PTX) are not affected.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from mxlite.ops import multi_optimizer as mo
from mxlite.ops.multi_tensor import chunk_table
from tests import cuda_host_emu

KERNELS = Path(__file__).resolve().parent.parent / "kernels"

_FP16 = r"""
#pragma once
#include <cstring>
struct __half { unsigned short bits; };
struct __half2 { __half x, y; };
inline float __half2float(__half h) { _Float16 f; std::memcpy(&f, &h.bits, 2); return static_cast<float>(f); }
inline __half __float2half_rn(float v) { _Float16 f = static_cast<_Float16>(v); __half h; std::memcpy(&h.bits, &f, 2); return h; }
inline float __low2float(__half2 h) { return __half2float(h.x); }
inline float __high2float(__half2 h) { return __half2float(h.y); }
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half_rn(a), __float2half_rn(b)}; }
"""

_SHIM = r"""
#include <cmath>
#include <cstring>
#define __device__
#define __global__
#define __forceinline__ inline
#define __restrict__ __restrict
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
struct alignas(8) uint2 { unsigned int x, y; };
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
struct Dim3 { unsigned int x, y, z; };
static Dim3 threadIdx, blockIdx, blockDim, gridDim;
template <typename T> inline T min(T a, T b) { return a < b ? a : b; }
inline float emu_ftz(float v) { return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v; }
inline float __fadd_rn(float a, float b) { return emu_ftz(emu_ftz(a) + emu_ftz(b)); }
inline float __fsub_rn(float a, float b) { return emu_ftz(emu_ftz(a) - emu_ftz(b)); }
inline float __fmul_rn(float a, float b) { return emu_ftz(emu_ftz(a) * emu_ftz(b)); }
inline float __fdiv_rn(float a, float b) { return emu_ftz(emu_ftz(a) / emu_ftz(b)); }
inline float __fsqrt_rn(float a) { return emu_ftz(std::sqrt(emu_ftz(a))); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
"""

_LAUNCHER = r"""
#define EMU_DEFINE(NAME, W, S, MP, C)                                                         \
  extern "C" void NAME(const u64* ptrs, const i64* numel, const int* chunk_buf,              \
                       const i64* chunk_begin, i64 chunk, const C* coef, const C* glob,      \
                       int family, int nstate, int clipping, int vec, unsigned grid,         \
                       unsigned block) {                                                     \
    gridDim.x = grid; blockDim.x = block;                                                    \
    for (unsigned bx = 0; bx < grid; ++bx) {                                                 \
      blockIdx.x = bx;                                                                       \
      for (unsigned tx = 0; tx < block; ++tx) {                                              \
        threadIdx.x = tx;                                                                    \
        multi_optimizer_step<W, S, MP>(ptrs, numel, chunk_buf, chunk_begin, chunk, coef,     \
            glob[0], glob[1], glob[2], glob[3], glob[4], glob[5], glob[6], family, nstate,   \
            clipping, vec);                                                                  \
      }                                                                                      \
    }                                                                                        \
  }
EMU_DEFINE(emu_float32, float, float, false, float)
EMU_DEFINE(emu_float64, double, double, false, double)
EMU_DEFINE(emu_float16, __half, __half, false, float)
EMU_DEFINE(emu_float16mp, __half, float, true, float)
"""


available = cuda_host_emu.available

_LIB: Any = None


def library() -> Any:
    """The emulation library, compiled once per kernel-source version into the temp dir."""
    global _LIB
    if _LIB is None:
        _LIB = cuda_host_emu.build_library(
            "optimizer_emu",
            _SHIM + (KERNELS / "multi_optimizer.cu").read_text() + _LAUNCHER,
            headers={"cuda_fp16.h": _FP16},
        )
    return _LIB


def _p(arr: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(arr.ctypes.data)


def run(
    family: int,
    arrays: tuple[Any, ...],
    lrs: Any,
    wds: Any,
    rescale: float,
    clip: float,
    params: tuple[float, ...],
    chunk: int = 64,
    block: int = 8,
    vec: bool | None = None,
) -> None:
    """One fused step through the CUDA source on NumPy arrays, as ``multi_*_update`` would run it.

    Args:
        family: ``mo.SGD``, ``mo.NAG`` or ``mo.ADAM``.
        arrays: ``(weights, grads, states0, states1, weights32)`` as the plan takes them.
        lrs, wds, rescale, clip, params: as :func:`mxlite.ops.multi_optimizer.launch_scalars`.
        chunk: elements per chunk (a multiple of 4); block: threads per block.
        vec: force the vector path on or off (None: the plan's alignment decision).
    """
    plan = mo._Plan(arrays)
    lib = library()
    for nstate, launch in plan.launches:
        pos = launch.positions
        lr = np.asarray(lrs, dtype=np.float64)[pos]
        wd = np.asarray(wds, dtype=np.float64)[pos]
        coef, glob = mo.launch_scalars(family, nstate, launch.kind, lr, wd, rescale, clip, params)
        rows, sizes = launch.tables[0].astype(np.uint64), launch.tables[1]
        chunk_buf, chunk_begin = chunk_table(sizes, chunk)
        use_vec = launch.vec if vec is None else int(vec)
        getattr(lib, f"emu_{launch.kind}")(
            _p(rows), _p(sizes), _p(chunk_buf), _p(chunk_begin), ctypes.c_longlong(chunk),
            _p(coef), _p(glob), ctypes.c_int(family), ctypes.c_int(nstate),
            ctypes.c_int(int(clip >= 0)), ctypes.c_int(use_vec), ctypes.c_uint(chunk_buf.size),
            ctypes.c_uint(block),
        )  # fmt: skip


def fake_kernel(name: str) -> Any:
    """A stand-in for the CuPy kernel ``name`` (a ``CUDA_KERNELS`` entry) that checks the argument
    types a real launch would pass and runs the emulated kernel on host pointers."""
    kind = next(k for k, spec in mo._KINDS.items() if spec[2] == name)
    ctype = mo._KINDS[kind][1]

    def launch(grid: tuple[int], block: tuple[int], args: tuple[Any, ...]) -> None:
        assert len(args) == 17, f"the kernel takes 17 arguments, got {len(args)}"
        ptrs, numel, chunk_buf, chunk_begin, chunk, coef = args[:6]
        glob, ints = args[6:13], args[13:]
        assert ptrs.dtype == np.uint64 and numel.dtype == np.int64
        assert chunk_buf.dtype == np.int32 and chunk_begin.dtype == np.int64
        assert isinstance(chunk, np.int64) and coef.dtype == ctype and coef.flags.c_contiguous
        assert all(type(v) is ctype for v in glob), [type(v) for v in glob]
        assert all(type(v) is np.int32 for v in ints)
        assert grid[0] == chunk_buf.size
        host_glob = np.array(glob, dtype=ctype)
        getattr(library(), f"emu_{kind}")(
            _p(ptrs), _p(numel), _p(chunk_buf), _p(chunk_begin), ctypes.c_longlong(int(chunk)),
            _p(coef), _p(host_glob), *(ctypes.c_int(int(v)) for v in ints),
            ctypes.c_uint(grid[0]), ctypes.c_uint(block[0]),
        )  # fmt: skip

    return launch


class FakeCupy:
    """Just enough of CuPy for :class:`mxlite.ops.multi_optimizer._Launch` on host memory."""

    @staticmethod
    def asarray(x: Any) -> np.ndarray:
        return np.array(x)  # a copy, as an upload would be

    class cuda:  # noqa: N801 - CuPy's name
        class Device:
            def __init__(self, device_id: int) -> None:
                self.id = device_id

            def __enter__(self) -> Any:
                return self

            def __exit__(self, *exc: Any) -> None:
                return None
