"""The launcher names every kernel family shares between its front, its Numba twin
(:mod:`mxlite.ops._numba`) and its CUDA launchers (:mod:`mxlite.ops._cuda`): one list, so the
three cannot drift apart (``tests/ops/test_kernel_twins.py``)."""

from __future__ import annotations

#: Counter-based fills (kernels/init_fill.cu, ops/_numba/fill.py, the ops front).
FILL = (
    "philox4x32",
    "fill_uniform",
    "fill_normal",
    "fill_constant",
    "multi_fill_uniform",
    "multi_fill_normal",
    "multi_fill_constant",
)
#: Multi-tensor zero and replica average (kernels/multi_tensor.cu, ops/_numba/multi_tensor.py).
MULTI_TENSOR = ("multi_zero_bytes", "multi_average")
#: Fused SGD/NAG/Adam steps (kernels/multi_optimizer.cu, ops/_numba/optimizer.py).
OPTIMIZER = ("multi_optimizer_step",)
#: Twin module of ``mxlite.ops._numba`` -> the launchers it shares with ``_cuda``.
BY_TWIN = {"fill": FILL, "multi_tensor": MULTI_TENSOR, "optimizer": OPTIMIZER}
