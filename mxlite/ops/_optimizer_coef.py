"""Kernel coefficients of the fused optimizer steps (:mod:`mxlite.ops.multi_optimizer`).

``launch_scalars`` turns per-tensor rates and decays into the coefficient table and launch scalars
the kernels read, computing each value with NumPy in the master dtype exactly as the NumPy
single-tensor path computes it, so the kernels' results equal that path bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SGD", "NAG", "ADAM", "KINDS", "CUDA_KERNELS", "launch_scalars"]

SGD, NAG, ADAM = 0, 1, 2  # the kernels' family codes

# Storage kinds: (master dtype, coefficient dtype, CUDA instantiation, Numba driver name).
KINDS: dict[str, tuple[Any, Any, str, str]] = {
    "float32": (np.float32, np.float32, "multi_optimizer_step<float, float, false>", "step_f32"),
    "float64": (np.float64, np.float64, "multi_optimizer_step<double, double, false>", "step_f64"),
    "float16": (np.float16, np.float32, "multi_optimizer_step<__half, __half, false>", "step_f16"),
    "float16mp": (
        np.float32,
        np.float32,
        "multi_optimizer_step<__half, float, true>",
        "step_f16mp",
    ),
}
CUDA_KERNELS = tuple(kind[2] for kind in KINDS.values())


def launch_scalars(
    family: int,
    nstate: int,
    kind: str,
    lrs: np.ndarray,
    wds: np.ndarray,
    rescale: float,
    clip: float,
    params: tuple[float, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """``(coef, glob)`` of one launch: the scalars of the single-tensor path, computed with NumPy
    in the master dtype ``t`` exactly as it computes them (``t(lr) * t(rescale)``, ...), stored
    in the kernel's compute type.

    Args:
        family: SGD, NAG or ADAM; nstate: states per tensor; kind: a key of ``KINDS``.
        lrs, wds: float64 per tensor; rescale, clip: launch values (clip < 0: no clipping).
        params: (momentum,) or (beta1, beta2, epsilon).
    """
    t, ctype = KINDS[kind][0], KINDS[kind][1]
    one = t(1.0)
    lr = lrs.astype(t)
    wd = wds.astype(t)
    r = t(rescale)
    if family == SGD or (family == NAG and nstate == 0):
        cols = (lr, lr * r, one - lr * wd if family == NAG else lr * wd)
    else:
        cols = (lr, wd, np.zeros_like(lr))
    coef = np.ascontiguousarray(np.stack(cols, axis=1).astype(ctype).ravel())
    glob = np.zeros(7, dtype=ctype)
    glob[0] = r
    glob[1] = t(clip) if clip >= 0 else t(0)
    if family == ADAM:
        b1, b2 = t(params[0]), t(params[1])
        glob[2:] = (b1, one - b1, b2, one - b2, t(params[2]))
    else:
        glob[2] = t(params[0])
        glob[3] = t(params[0]) + one
    return coef, glob
