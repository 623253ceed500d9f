"""Whether CuPy can really run mxlite's GPU code: compile and launch a kernel, load cuBLAS.

A host with only the NVIDIA driver counts its GPUs fine (``cudaGetDeviceCount`` needs nothing
else), but every kernel compile then fails: NVRTC (CUDA's runtime compiler) or the CUDA headers
(``cuda_fp16.h``, which mxlite's kernels include) are missing; and ``dot`` needs cuBLAS. CuPy
brings all three as wheels with its ``[ctk]`` extra (``mxlite[cuda12]``/``mxlite[cuda13]``
install it). :func:`problem` compiles a trivial kernel that includes ``cuda_fp16.h``, launches it
on GPU 0 and checks what it wrote, then runs a 2x2 matrix product, and says what is missing.

Imported by :mod:`mxlite.backend` only when CuPy imported and found a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["KERNEL_NAME", "KERNEL_SOURCE", "problem"]

KERNEL_NAME = "mxlite_probe"
KERNEL_SOURCE = r"""
#include <cuda_fp16.h>
extern "C" __global__ void mxlite_probe(float* out, float v) {
    out[threadIdx.x] = __half2float(__float2half_rn(v * threadIdx.x));
}
"""
_THREADS = 32
_MSG_NVRTC = (
    "NVRTC, CUDA's runtime compiler that builds mxlite's kernels, could not be loaded ({err})"
)
_MSG_HEADERS = (
    "the CUDA headers (cuda_fp16.h) were not found, so mxlite's kernels cannot be compiled ({err})"
)
_MSG_KERNEL = "a test kernel failed to compile or run on gpu(0) ({err})"
_MSG_WRONG = "a test kernel ran on gpu(0) but wrote {got} instead of {want}"
_MSG_CUBLAS = (
    "cuBLAS, which matrix products (dot, FullyConnected) need, could not be loaded ({err})"
)


def _describe(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    return text if len(text) < 400 else text[:400] + "..."


def problem(cp: Any) -> str:
    """What keeps CuPy module ``cp`` from running mxlite's kernels on GPU 0 ('' when nothing).

    Compiles and launches :data:`KERNEL_SOURCE` (NVRTC and the CUDA headers) and checks its
    output, then multiplies two 2x2 float32 matrices (cuBLAS).
    """
    want = (np.float32(0.5) * np.arange(_THREADS, dtype=np.float32)).astype(np.float32)
    try:
        with cp.cuda.Device(0):
            module = cp.RawModule(code=KERNEL_SOURCE, options=("-std=c++17",))
            kernel = module.get_function(KERNEL_NAME)
            out = cp.zeros(_THREADS, dtype=cp.float32)
            kernel((1,), (_THREADS,), (out, np.float32(0.5)))
            got = out.get()
    except Exception as err:  # NVRTC missing, a compile error, a launch failure
        text = _describe(err)
        lower = text.lower()
        if "nvrtc" in lower:
            return _MSG_NVRTC.format(err=text)
        if "cuda_fp16.h" in lower or "cannot open source file" in lower:
            return _MSG_HEADERS.format(err=text)
        return _MSG_KERNEL.format(err=text)
    if not np.array_equal(got, want):
        return _MSG_WRONG.format(got=got[:4].tolist(), want=want[:4].tolist())
    try:
        with cp.cuda.Device(0):
            a = cp.ones((2, 2), dtype=cp.float32)
            prod = cp.matmul(a, a).get()
    except Exception as err:  # libcublas missing
        return _MSG_CUBLAS.format(err=_describe(err))
    if not np.array_equal(prod, np.full((2, 2), 2.0, np.float32)):
        return _MSG_CUBLAS.format(err=f"a 2x2 product gave {prod.tolist()}")
    return ""
