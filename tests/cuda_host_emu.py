"""Run ``kernels/init_fill.cu`` on the CPU: the CUDA source compiled by g++ against a small shim.

No GPU (or CuPy) is needed: the shim defines the CUDA vector types, ``threadIdx``/``blockIdx`` and
the round-to-nearest intrinsics (``__fmul_rn`` is a plain float multiply under
``-ffp-contract=off``), and each launcher runs a kernel's grid and blocks one thread after
another. The kernels use no shared memory or barriers, so the sequential run computes exactly
what the GPU computes, up to the device's math library (log/sin/cos in the normal draws).
CuPy compiles every ``RawModule`` with ``-ftz=true``: the float32 intrinsics and the double to
float rounding here flush subnormal inputs and results to zero, as the GPU does.

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
inline float emu_ftz(float v) { return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v; }
inline float __fmul_rn(float a, float b) { return emu_ftz(emu_ftz(a) * emu_ftz(b)); }
inline float __fadd_rn(float a, float b) { return emu_ftz(emu_ftz(a) + emu_ftz(b)); }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline float __double2float_rn(double d) { return emu_ftz(static_cast<float>(d)); }
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
        "unsigned long long n, unsigned int grid, unsigned int block) {"
        " EMU_RUN(grid, block, philox4x32_10_rows(c, k, o, n)) }"
    )
    return "\n".join(out)


_P, _U64, _U32, _I32, _F64 = (
    ctypes.c_void_p,
    ctypes.c_ulonglong,
    ctypes.c_uint,
    ctypes.c_int,
    ctypes.c_double,
)
_ARGTYPES: dict[str, list[Any]] = {
    "emu_fill_pattern": [_P, _U64, _U32, _U32, _U32, _U32, _U32, _U32, _U32],
    "emu_multi_fill_pattern": [_P, _I32, _U64, _U32, _U32],
    "emu_philox": [_P, _P, _P, _U64, _U32, _U32],
}
for _tag in _TYPES:
    for _dist in ("uniform", "normal"):
        _ARGTYPES[f"emu_fill_{_dist}_{_tag}"] = [_P, _U64, _U64, _U32, _U32, _F64, _F64, _U32, _U32]
        _ARGTYPES[f"emu_multi_fill_{_dist}_{_tag}"] = [_P, _I32, _U64, _U32, _U32]


def available() -> bool:
    """True when g++ is on PATH."""
    return shutil.which("g++") is not None


_LIB: Any = None


def build_library(
    tag: str,
    source: str,
    *,
    headers: dict[str, str] | None = None,
    include_dirs: tuple[Path, ...] = (),
    digest_extra: str = "",
    argtypes: dict[str, list[Any]] | None = None,
    extra_flags: tuple[str, ...] = (),
) -> Any:
    """Compile ``source`` with g++ into a shared library, once per source version.

    The build lives in the temp dir under ``mxlite_<tag>_<digest>``; ``headers`` are written next
    to the source (and found through ``-I``), ``digest_extra`` is any other text the build depends
    on. Functions named in ``argtypes`` get their argument types set, so a wrong argument count
    raises instead of corrupting memory.
    """
    headers = headers or {}
    digest = hashlib.sha256((source + digest_extra + "".join(headers.values())).encode())
    build = Path(tempfile.gettempdir()) / f"mxlite_{tag}_{digest.hexdigest()[:16]}"
    lib_path = build / "emu.so"
    if not lib_path.exists():
        build.mkdir(parents=True, exist_ok=True)
        for name, text in headers.items():
            (build / name).write_text(text)
        src = build / "emu.cpp"
        src.write_text(source)
        tmp = build / f"emu.{id(source)}.so"
        includes = [f"-I{d}" for d in (build, *include_dirs)]
        cmd = [
            "g++", "-std=c++17", "-O1", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC",
            "-Wno-unknown-pragmas", *extra_flags, *includes, "-o", str(tmp), str(src),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        tmp.replace(lib_path)
    lib = ctypes.CDLL(str(lib_path))
    for name, types in (argtypes or {}).items():
        fn = getattr(lib, name)
        fn.argtypes = types
        fn.restype = None
    return lib


def library() -> Any:
    """The emulation library (compiled once per kernel-source version into the temp dir)."""
    global _LIB
    if _LIB is None:
        _LIB = build_library(
            "cuda_emu",
            _SHIM + '\n#include "init_fill.cu"\n' + _launchers(),
            include_dirs=(KERNELS,),
            digest_extra=(KERNELS / "init_fill.cu").read_text()
            + (KERNELS / "philox.cuh").read_text(),
            argtypes=_ARGTYPES,
        )
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
    library().emu_philox(_ptr(ctr), _ptr(k), _ptr(out), _u64(ctr.shape[0]), _u32(1), _u32(7))
    return out


# ------------------------------------------------------------------------------------ fake CuPy
# Just enough of CuPy for mxlite.ops._cuda: arrays are host memory, RawModule kernels run the
# emulated launchers above. It lets the tests run _cuda.py's host code (tables, grids, argument
# lists, dtype dispatch, strided/misaligned fallbacks) end to end without a GPU.
_KERNEL_TAGS = {
    "float": "f32",
    "double": "f64",
    "mxlite::half_bits": "f16",
    "mxlite::bfloat16_bits": "bf16",
}


class _Memory:
    def __init__(self, arr: np.ndarray) -> None:
        self.ptr = int(arr.__array_interface__["data"][0])

    def memset_async(self, value: int, size: int) -> None:
        ctypes.memset(self.ptr, value, size)


class _Device:
    def __init__(self, device: int | None = None) -> None:
        self.id = 0 if device is None else int(device)
        self.attributes = {"MultiProcessorCount": 2}

    def __enter__(self) -> _Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class FakeArray(np.ndarray):
    """A host array that passes for a CuPy array (``backend.is_gpu_array`` checks the module)."""

    @property
    def data(self) -> Any:  # type: ignore[override]
        return _Memory(self)

    @property
    def device(self) -> _Device:
        return _Device(0)


FakeArray.__module__ = "cupy"


def _fake(arr: Any) -> FakeArray:
    return np.asarray(arr).view(FakeArray)


# Launchers of kernels from other source files, registered by their emulation modules
# (tests/cuda_emu_multi_tensor.py): name -> launch(grid, block, args) taking the fake arrays.
EXTRA_LAUNCHERS: dict[str, Any] = {}


class _Kernel:
    def __init__(self, name: str, module: _RawModule) -> None:
        if "<" in name and name not in module.name_expressions:
            raise KeyError(f"{name} is not among the RawModule's name_expressions")
        self.name = name
        self.extra = EXTRA_LAUNCHERS.get(name)
        if self.extra is not None:
            return
        if name == "philox4x32_10_rows":
            self.launcher = "emu_philox"
        elif name in ("fill_pattern", "multi_fill_pattern"):
            self.launcher = f"emu_{name}"
        else:
            base, ctype = name[:-1].split("<")
            self.launcher = f"emu_{base}_{_KERNEL_TAGS[ctype]}"

    def __call__(self, grid: tuple[int], block: tuple[int], args: tuple[Any, ...]) -> None:
        if self.extra is not None:
            self.extra(grid, block, args)
            return
        converted: list[Any] = []
        for arg in args:
            if isinstance(arg, FakeArray):
                converted.append(ctypes.c_void_p(int(arg.__array_interface__["data"][0])))
            elif isinstance(arg, np.generic):
                converted.append(arg.item())
            else:
                raise TypeError(
                    f"{self.name}: pass NumPy scalars or arrays to kernels, got {type(arg).__name__}"
                )
        getattr(library(), self.launcher)(*converted, int(grid[0]), int(block[0]))


class _RawModule:
    def __init__(
        self, code: str, options: tuple[str, ...] = (), name_expressions: Sequence[str] = ()
    ) -> None:
        if '#include "' in code:
            raise ValueError(
                "RawModule got unexpanded local #include lines: NVRTC has no include path"
            )
        if "--fmad=false" not in options:
            raise ValueError("init_fill.cu must be compiled with --fmad=false")
        self.code = code
        self.name_expressions = tuple(name_expressions)

    def get_function(self, name: str) -> _Kernel:
        return _Kernel(name, self)


def fake_cupy() -> Any:
    """A module object named ``cupy`` with the pieces _cuda.py (and the GPU test bodies) use."""
    import types

    cp = types.ModuleType("cupy")
    cp.ndarray = FakeArray  # type: ignore[attr-defined]
    cp.RawModule = _RawModule  # type: ignore[attr-defined]
    cp.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        Device=_Device,
        runtime=types.SimpleNamespace(
            memsetAsync=lambda ptr, value, size, stream: ctypes.memset(ptr, value, size)
        ),
        get_current_stream=lambda: types.SimpleNamespace(ptr=0),
    )
    cp.nan = np.nan  # type: ignore[attr-defined]
    for name in (
        "uint8",
        "uint16",
        "uint32",
        "int8",
        "int32",
        "int64",
        "float16",
        "float32",
        "float64",
    ):
        setattr(cp, name, getattr(np, name))
    cp.asarray = lambda a, dtype=None: _fake(np.array(a, dtype=dtype, copy=True))  # type: ignore[attr-defined]
    cp.asnumpy = lambda a: np.array(a, copy=True).view(np.ndarray)  # type: ignore[attr-defined]
    cp.empty = lambda shape, dtype=np.float64: _fake(np.empty(shape, dtype))  # type: ignore[attr-defined]
    cp.zeros = lambda shape, dtype=np.float64: _fake(np.zeros(shape, dtype))  # type: ignore[attr-defined]
    cp.full = lambda shape, value, dtype=None: _fake(np.full(shape, value, dtype))  # type: ignore[attr-defined]
    cp.empty_like = lambda a: _fake(np.empty_like(np.asarray(a)))  # type: ignore[attr-defined]
    cp.ascontiguousarray = lambda a: _fake(np.ascontiguousarray(a))  # type: ignore[attr-defined]
    cp.broadcast_to = lambda a, shape: _fake(np.broadcast_to(np.asarray(a), shape))  # type: ignore[attr-defined]
    return cp


def install_fake_cupy(monkeypatch: Any) -> Any:
    """Put :func:`fake_cupy` in ``sys.modules`` and empty _cuda's caches, for one test."""
    import sys

    cp = fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", cp)
    monkeypatch.setattr(_cuda, "_MODULES", {})
    monkeypatch.setattr(_cuda, "_FUNCTIONS", {})
    monkeypatch.setattr(_cuda, "_SM_COUNT", {})
    return cp
