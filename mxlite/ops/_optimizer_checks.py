"""Argument checks of :mod:`mxlite.ops.multi_optimizer` (run before anything is written).

Each check returns ``(exception type, message)`` or None, so that
:func:`mxlite.ops.multi_optimizer.supported` can ask without raising.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend

__all__ = ["Arrays", "MSG_STATES", "device", "problem", "real", "reals", "clip_value"]

# (weights, grads, states 0, states 1, float32 master copies) of one call
Arrays = tuple[
    Sequence[Any], Sequence[Any], Sequence[Any] | None, Sequence[Any] | None, Sequence[Any] | None
]


_MSG_LENGTHS = "{where}: got {n} weights but {m} {name}; pass one per weight."
_MSG_ARRAY = "{where}: {name}[{i}] must be a numpy.ndarray or cupy.ndarray, got {got}."
_MSG_DTYPE = (
    "{where}: weights[{i}] has dtype {dtype}; the fused update supports float16, float32 and "
    "float64. Use the single-tensor optimizer path for other dtypes."
)
_MSG_MATCH = (
    "{where}: {name}[{i}] has {what} {got} but weights[{i}] needs {expected}; states and "
    "gradients must match their weight (master dtype: float32 for multi-precision float16)."
)
_MSG_DEVICE = "{where}: {name}[{i}] is on {got} but weights[{i}] is on {expected}; move it first."
_MSG_LAYOUT = (
    "{where}: {name}[{i}] is not C-contiguous; pass contiguous arrays "
    "(xp.ascontiguousarray) or use the single-tensor path."
)
_MSG_READONLY = "{where}: {name}[{i}] is read-only (writeable=False); pass a writeable array."
_MSG_MASTER = (
    "{where}: weights32[{i}] is given but weights[{i}] is {dtype}; float32 master copies are "
    "for float16 weights only (pass None for the others)."
)
_MSG_SCALAR = "{where}: {name} must be a real number (int, float or 0-d array), got {got!r}."
# (weights, grads, states 0, states 1, float32 master copies) of one call
MSG_STATES = "{where}: means[{i}] and vars[{i}] must both be arrays; Adam needs both states."


def device(arr: Any) -> tuple[str, int]:
    return ("gpu", int(arr.device.id)) if backend.is_gpu_array(arr) else ("cpu", 0)


def problem(
    where: str,
    weights: Sequence[Any],
    grads: Sequence[Any],
    states0: Sequence[Any] | None,
    states1: Sequence[Any] | None,
    weights32: Sequence[Any] | None,
    state_names: tuple[str, str] = ("states", "states"),
) -> tuple[type[Exception], str] | None:
    """The first error of a call's arrays as ``(exception type, message)``, or None."""
    n = len(weights)
    lists = (
        ("grads", grads),
        (state_names[0], states0),
        (state_names[1], states1),
        ("weights32", weights32),
    )
    for name, items in lists:
        if items is not None and len(items) != n:
            return ValueError, _MSG_LENGTHS.format(where=where, n=n, m=len(items), name=name)
    for i, w in enumerate(weights):
        problem = _tensor_problem(where, i, w, grads[i], states0, states1, weights32, state_names)
        if problem is not None:
            return problem
    return None


def _tensor_problem(
    where: str,
    i: int,
    w: Any,
    g: Any,
    states0: Sequence[Any] | None,
    states1: Sequence[Any] | None,
    weights32: Sequence[Any] | None,
    state_names: tuple[str, str],
) -> tuple[type[Exception], str] | None:
    if not (isinstance(w, np.ndarray) or backend.is_gpu_array(w)):
        return TypeError, _MSG_ARRAY.format(where=where, name="weights", i=i, got=type(w).__name__)
    if w.dtype.name not in ("float16", "float32", "float64"):
        return TypeError, _MSG_DTYPE.format(where=where, i=i, dtype=w.dtype.name)
    master = None if weights32 is None else weights32[i]
    if master is not None and w.dtype != np.float16:
        return TypeError, _MSG_MASTER.format(where=where, i=i, dtype=w.dtype.name)
    state_dtype = np.dtype(np.float32) if master is not None else w.dtype
    arrays = [("weights", w, w.dtype), ("grads", g, w.dtype), ("weights32", master, state_dtype)]
    for name, states in zip(state_names, (states0, states1)):
        if states is not None:
            arrays.append((name, states[i], state_dtype))
    dev = device(w)
    for name, arr, dtype in arrays:
        if arr is None:
            continue
        if not (isinstance(arr, np.ndarray) or backend.is_gpu_array(arr)):
            return TypeError, _MSG_ARRAY.format(where=where, name=name, i=i, got=type(arr).__name__)
        if arr.dtype != dtype:
            msg = _MSG_MATCH.format(
                where=where,
                name=name,
                i=i,
                what="dtype",
                got=arr.dtype.name,
                expected=np.dtype(dtype).name,
            )
            return TypeError, msg
        if arr.shape != w.shape:
            msg = _MSG_MATCH.format(
                where=where, name=name, i=i, what="shape", got=arr.shape, expected=w.shape
            )
            return ValueError, msg
        if device(arr) != dev:
            return ValueError, _MSG_DEVICE.format(
                where=where, name=name, i=i, got=device(arr), expected=dev
            )
        if not arr.flags.c_contiguous:
            return ValueError, _MSG_LAYOUT.format(where=where, name=name, i=i)
        if name != "grads" and isinstance(arr, np.ndarray) and not arr.flags.writeable:
            return ValueError, _MSG_READONLY.format(where=where, name=name, i=i)
    return None


def real(where: str, name: str, value: Any) -> float:
    """``value`` as a float (any real scalar: the single-tensor path accepts inf and NaN too)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(_MSG_SCALAR.format(where=where, name=name, got=value))
    return float(value)


# Scalar types converted without a per-element check (bool is excluded: type(True) is bool).
_PLAIN_REALS = frozenset({float, int, np.float64, np.float32, np.float16, np.int64, np.int32})


def reals(where: str, name: str, values: Sequence[Any] | np.ndarray, n: int) -> np.ndarray:
    """``values`` (one real per tensor) as float64; a list of plain floats costs one conversion,
    a 1-d float64 ndarray none (it is returned as is)."""
    if len(values) != n:
        raise ValueError(_MSG_LENGTHS.format(where=where, n=n, m=len(values), name=name))
    if type(values) is np.ndarray and values.dtype == np.float64 and values.ndim == 1:
        return values
    if set(map(type, values)) <= _PLAIN_REALS:
        return np.asarray(values, dtype=np.float64)
    return np.array([real(where, name, v) for v in values], dtype=np.float64)


def clip_value(where: str, clip_gradient: Any) -> float:
    """The clipping bound, or -1.0 for none: None, negative or NaN (the single-tensor path
    clips only when the bound is ``>= 0``), or infinite (clipping to +-inf changes nothing)."""
    if clip_gradient is None:
        return -1.0
    bound = real(where, "clip_gradient", clip_gradient)
    return bound if bound >= 0 and math.isfinite(bound) else -1.0
