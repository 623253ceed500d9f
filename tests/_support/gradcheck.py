"""Finite-difference gradient checking for mxlite ops (float64, central differences)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import mxlite as mx
from mxlite import autograd


def _to_nd(arr: np.ndarray, ctx: mx.Context) -> Any:
    return mx.nd.array(arr, ctx=ctx, dtype=arr.dtype)


def _weighted(
    fn: Callable[..., Any], arrays: Sequence[np.ndarray], w: np.ndarray, ctx: Any
) -> float:
    out = fn(*[_to_nd(a, ctx) for a in arrays])
    return float(np.sum(out.asnumpy().reshape(w.shape) * w))


def check_grad(
    fn: Callable[..., Any],
    inputs: Sequence[np.ndarray],
    ctx: mx.Context | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    seed: int = 0,
) -> list[np.ndarray]:
    """Check autograd's gradient of ``fn(*inputs)`` against central finite differences.

    The output is contracted with a fixed random head gradient ``w`` (so every output element
    matters); autograd gets ``w`` as ``out_grad``, and the numeric gradient of
    ``sum(fn(x) * w)`` is taken element by element in float64.

    Returns:
        the analytic gradients (as NumPy arrays), after asserting they match.
    """
    ctx = ctx or mx.cpu()
    arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
    xs = [_to_nd(a, ctx) for a in arrays]
    for x in xs:
        x.attach_grad()
    with autograd.record():
        out = fn(*xs)
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, size=out.shape)
    out.backward(mx.nd.array(w, ctx=ctx, dtype=np.float64))
    analytic = [x.grad.asnumpy() for x in xs]
    for i, arr in enumerate(arrays):
        numeric = np.zeros_like(arr)
        for j in range(arr.size):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[i].reshape(-1)[j] += eps
            minus[i].reshape(-1)[j] -= eps
            numeric.reshape(-1)[j] = (
                _weighted(fn, plus, w, ctx) - _weighted(fn, minus, w, ctx)
            ) / (2 * eps)
        np.testing.assert_allclose(
            analytic[i], numeric, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )
    return analytic
