"""Run ``kernels/batch_norm.cu`` on the CPU: the CUDA source compiled by g++ against a shim.

No GPU (or CuPy) is needed. The shim (:mod:`tests.cuda_emu_multi_tensor`'s: ``threadIdx`` and
friends, a ``cuda_fp16.h`` whose ``__half`` converts through g++'s ``_Float16``) lets a launcher
run the grid's blocks and threads one after another; the kernels use no shared memory, atomics or
barriers, so this computes what the GPU computes, bit for bit, except that CuPy's ``-ftz=true``
flushes float32 subnormals there (the tests use none).

:func:`launcher` stands in for a CuPy kernel of that file in the fake CuPy
(``tests/_support/fake_cupy_cuda.py``), checking the argument types a real launch passes, so
``mxlite.ops._cuda_norm`` (and BatchNorm on a fake GPU) runs these kernels end to end.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from tests._support import cuda_emu_multi_tensor, cuda_host_emu

KERNELS = Path(__file__).resolve().parents[2] / "kernels"

_LAUNCHERS = r"""
#define BN_EMU_GRID(GRID, BLOCK, CALL)                                      \
  gridDim.x = GRID; blockDim.x = BLOCK;                                     \
  for (unsigned bx = 0; bx < GRID; ++bx) {                                  \
    blockIdx.x = bx;                                                        \
    for (unsigned tx = 0; tx < BLOCK; ++tx) { threadIdx.x = tx; CALL; }     \
  }
#define BN_EMU(TAG, T)                                                                        \
  extern "C" void emu_bn_channel_sums_##TAG(const void* x, const void* g, const void* y,      \
      const void* center, double* partials, i64 n, int c, i64 p, int bpc, int mode, int relu,  \
      unsigned grid, unsigned block) {                                                        \
    typedef Acc<T>::type A;                                                                   \
    BN_EMU_GRID(grid, block, bn_channel_sums<T>(static_cast<const T*>(x),                     \
        static_cast<const T*>(g), static_cast<const T*>(y), static_cast<const A*>(center),    \
        partials, n, c, p, bpc, mode, relu))                                                  \
  }                                                                                           \
  extern "C" void emu_bn_forward_apply_##TAG(const void* x, const void* scale,                \
      const void* shift, void* out, int c, i64 p, int relu, unsigned grid, unsigned block) {  \
    typedef Acc<T>::type A;                                                                   \
    BN_EMU_GRID(grid, block, bn_forward_apply<T>(static_cast<const T*>(x),                    \
        static_cast<const A*>(scale), static_cast<const A*>(shift), static_cast<T*>(out), c,  \
        p, relu))                                                                             \
  }                                                                                           \
  extern "C" void emu_bn_backward_apply_##TAG(const void* g, const void* x, const void* y,    \
      const void* k1, const void* k2, const void* k3, void* out, int c, i64 p, int relu,      \
      unsigned grid, unsigned block) {                                                        \
    typedef Acc<T>::type A;                                                                   \
    BN_EMU_GRID(grid, block, bn_backward_apply<T>(static_cast<const T*>(g),                   \
        static_cast<const T*>(x), static_cast<const T*>(y), static_cast<const A*>(k1),        \
        static_cast<const A*>(k2), static_cast<const A*>(k3), static_cast<T*>(out), c, p,     \
        relu))                                                                                \
  }
BN_EMU(float32, float)
BN_EMU(float64, double)
BN_EMU(float16, __half)
"""

_P, _I64, _I32, _U32 = ctypes.c_void_p, ctypes.c_longlong, ctypes.c_int, ctypes.c_uint
# Per kernel: its C argument types (before grid and block) and, for the fake launch, what each
# argument must be: a dtype name for arrays ("T": the data's, "A": its arithmetic dtype), or the
# NumPy scalar type.
_SIGNATURES: dict[str, list[tuple[Any, Any]]] = {
    "bn_channel_sums": [(_P, "T"), (_P, "T"), (_P, "T"), (_P, "A"), (_P, "float64"),
                        (_I64, np.int64), (_I32, np.int32), (_I64, np.int64), (_I32, np.int32),
                        (_I32, np.int32), (_I32, np.int32)],
    "bn_forward_apply": [(_P, "T"), (_P, "A"), (_P, "A"), (_P, "T"), (_I32, np.int32),
                         (_I64, np.int64), (_I32, np.int32)],
    "bn_backward_apply": [(_P, "T"), (_P, "T"), (_P, "T"), (_P, "A"), (_P, "A"), (_P, "A"),
                          (_P, "T"), (_I32, np.int32), (_I64, np.int64), (_I32, np.int32)],
}  # fmt: skip
_FAMILY_OF_CTYPE = cuda_emu_multi_tensor._FAMILY_OF_CTYPE

available = cuda_host_emu.available

_LIB: Any = None


def library() -> Any:
    """The emulation library, compiled once per kernel-source version into the temp dir."""
    global _LIB
    if _LIB is None:
        argtypes = {
            f"emu_{kernel}_{family}": [t for t, _ in sig] + [_U32, _U32]
            for kernel, sig in _SIGNATURES.items()
            for family in _FAMILY_OF_CTYPE.values()
        }
        _LIB = cuda_host_emu.build_library(
            "batch_norm_emu",
            cuda_emu_multi_tensor._SHIM + (KERNELS / "batch_norm.cu").read_text() + _LAUNCHERS,
            headers={"cuda_fp16.h": cuda_emu_multi_tensor._FP16},
            argtypes=argtypes,
            extra_flags=("-Wall",),
        )
    return _LIB


def _addr(arr: np.ndarray) -> int:
    return int(arr.__array_interface__["data"][0])


def run(kernel: str, family: str, grid: int, block: int, args: tuple[Any, ...]) -> None:
    """Launch ``kernel<T>`` (``T`` of dtype ``family``) on host arrays and NumPy scalars, checking
    each argument against the kernel's signature (dtype, contiguity, scalar type)."""
    sig = _SIGNATURES[kernel]
    if len(args) != len(sig):
        raise TypeError(f"{kernel} takes {len(sig)} arguments, got {len(args)}")
    acc = "float64" if family == "float64" else "float32"
    converted: list[Any] = []
    for i, (arg, (_, want)) in enumerate(zip(args, sig)):
        if isinstance(want, str):
            dtype = {"T": family, "A": acc}.get(want, want)
            if not isinstance(arg, np.ndarray) or arg.dtype != np.dtype(dtype):
                raise TypeError(f"{kernel} argument {i}: expected a {dtype} array, got {arg!r}")
            if not arg.flags.c_contiguous:
                raise TypeError(f"{kernel} argument {i}: not contiguous")
            converted.append(_addr(arg))
        else:
            if type(arg) is not want:
                raise TypeError(f"{kernel} argument {i}: expected {want.__name__}, got {arg!r}")
            converted.append(int(arg))
    getattr(library(), f"emu_{kernel}_{family}")(*converted, int(grid), int(block))


def launcher(name: str) -> Any:
    """A stand-in for the CuPy kernel ``name`` (``bn_...<ctype>``) of batch_norm.cu."""
    kernel, ctype = name[:-1].split("<")
    family = _FAMILY_OF_CTYPE[ctype]

    def launch(grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...]) -> None:
        host = tuple(np.asarray(a).view(np.ndarray) if hasattr(a, "shape") and
                     not isinstance(a, np.generic) else a for a in args)  # fmt: skip
        run(kernel, family, int(grid[0]), int(block[0]), host)

    return launch
