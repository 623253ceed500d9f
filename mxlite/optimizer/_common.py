"""Helpers shared by the optimizer families: raw-array access, scalar casts, clipping, states.

Update rules run on the raw NumPy/CuPy arrays behind NDArrays (``x._data``), in place, on the
weight's device. Scalars are cast to the array's dtype before they meet an array, as MXNet's
kernels do (``static_cast<DType>(param.lr)``), so float32 math stays float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.lr_scheduler import ArgumentTypeError
from mxlite.ndarray._update_rules import clip_inplace, kernel_decayed_grad, scalar
from mxlite.ndarray.ndarray import NDArray

__all__ = [
    "Raw",
    "Scalars",
    "kernel_clip",
    "scalar",
    "clip_inplace",
    "kernel_decayed_grad",
    "py_clip",
    "check_arrays",
    "begin_python_update",
    "zeros_state",
    "group_by_dtype",
    "NP1_FLOAT64",
    "scalar_product",
]

Raw = Any  # a numpy.ndarray or cupy.ndarray
Scalars = Sequence[float] | np.ndarray  # per-tensor lrs / wds: a list, or float64 values


def kernel_clip(clip_gradient: float | None) -> float:
    """The ``clip_gradient`` an MXNet kernel receives: MXNet's Python passes it only when truthy,
    and the kernel clips only when it is ``>= 0`` (so ``None`` and ``0`` both mean no clipping)."""
    return float(clip_gradient) if clip_gradient else -1.0


def py_clip(xp: Any, arr: Raw, a_min: float, a_max: float) -> Raw:
    """``mx.nd.clip(arr, a_min, a_max)`` as MXNet's Python optimizers call it (a new array).

    MXNet's clip tests ``x > a_max`` first, then ``x < a_min``; NumPy's clip agrees whenever
    ``a_min <= a_max``, and the explicit form covers a negative ``clip_gradient``.
    """
    lo, hi = scalar(arr, a_min), scalar(arr, a_max)
    if lo <= hi:
        return xp.clip(arr, lo, hi)
    return xp.where(arr > hi, hi, xp.where(arr < lo, lo, arr)).astype(arr.dtype)


def check_arrays(where: str, weight: Any, grad: Any) -> None:
    """Raise when ``weight`` or ``grad`` is not an NDArray (MXNet asserts this)."""
    for name, value in (("weight", weight), ("grad", grad)):
        if not isinstance(value, NDArray):
            raise ArgumentTypeError(
                f"{where}: {name} must be an NDArray, got {type(value).__name__}. "
                "Wrap raw arrays with mx.nd.array(...) first."
            )


def begin_python_update(
    opt: Any, where: str, index: Any, weight: NDArray, grad: NDArray, *, decay_first: bool
) -> tuple[Any, Raw, Raw, float, float]:
    """Check, count and read the scalars of one update of an optimizer whose rule MXNet writes in
    Python (DCASGD, SGLD, Adamax, Nadam): ``(xp, w, g, lr, wd)`` with ``w`` the raw weight and

        g = clip(grad * rescale_grad + wd * w)     (``decay_first``: Adamax, Nadam)
        g = clip(grad * rescale_grad)              (otherwise: DCASGD, SGLD add it themselves)

    where ``clip`` is ``mx.nd.clip`` (applied whenever ``clip_gradient`` is not None, so ``0``
    clips to zero, unlike the kernels' :func:`kernel_clip`).
    """
    check_arrays(where, weight, grad)
    lr, wd = opt._step_scalars(index)
    w = weight._data
    xp = backend.xp_of(w)
    g = xp.multiply(grad._data, scalar(w, opt.rescale_grad))
    if decay_first:
        g += xp.multiply(w, scalar(w, wd))
    if opt.clip_gradient is not None:
        g = py_clip(xp, g, -opt.clip_gradient, opt.clip_gradient)
    return xp, w, g, lr, wd


def zeros_state(weight: NDArray, dtype: Any = None) -> NDArray:
    """A zero NDArray shaped like ``weight`` on its context (``dtype`` None -> float32, as
    MXNet's ``zeros(shape, ctx)`` without a dtype)."""
    xp = backend.xp_of(weight._data)
    target = np.dtype(np.float32) if dtype is None else np.dtype(dtype)
    with backend.device_guard(weight.context):
        arr = xp.zeros(weight._data.shape, dtype=target)
    return NDArray(arr, weight.context)


def group_by_dtype(weights: Sequence[NDArray]) -> list[tuple[Any, list[int]]]:
    """Positions of ``weights`` grouped by dtype, groups in order of first appearance."""
    groups: dict[Any, list[int]] = {}
    for pos, weight in enumerate(weights):
        groups.setdefault(weight._data.dtype, []).append(pos)
    return list(groups.items())


# NumPy scalar types that NumPy 1.x promotes to float64 next to a Python float (and, the floats,
# next to a Python int).
NP1_FLOAT64 = (np.float16, np.float32, np.float64)


def scalar_product(value: Any, mult: Any) -> Any:
    """``value * mult`` (a rate or decay times its multiplier) as MXNet 1.9.1 computes it under
    NumPy 1.x.

    There a NumPy scalar times a Python number is a float64 product (value-based casting never
    applies between two scalars), where NumPy 2 (NEP 50) keeps the NumPy scalar's type: a
    ``numpy.float32`` multiplier would round the product to float32. Such pairs are multiplied
    as Python floats (float64, and weak like NumPy 1.x's float64 scalars next to float32 arrays);
    everything else (two Python numbers, two NumPy scalars, ...) as it is, where both NumPy
    versions agree.
    """
    if type(value) is float and type(mult) is float:
        return value * mult
    for np_side, py_side in ((value, mult), (mult, value)):
        if isinstance(np_side, NP1_FLOAT64) and type(py_side) in (float, int):
            return float(value) * float(mult)
        if isinstance(np_side, np.integer) and type(py_side) is float:
            return float(value) * float(mult)
    return value * mult
