"""Raw update rules of MXNet 1.9.1's optimizer kernels that have no fused multi-tensor twin.

Each rule updates NumPy or CuPy arrays in place, term for term in the association order of
MXNet's kernel (``src/operator/optimizer_op-inl.h``), with every scalar cast to the array's dtype
first (``static_cast<DType>(param.x)``; NumPy's NEP 50 keeps the array dtype too). They serve both
the ``mx.nd.*_update`` operators (:mod:`mxlite.ndarray.op_optimizer`, which pass the scalars as
MXNet's parameter parser reads them) and the optimizers of :mod:`mxlite.optimizer`.

* ``rmsprop_update`` / ``rmspropalex_update`` (:func:`single_tensor_rmsprop`), with
  ``g = clip(rescale_grad * grad + wd * w)``::

      n = (1 - gamma1) * g * g + gamma1 * n
      w = w - lr * g / sqrt(n + epsilon)                                   (plain)
      s = (1 - gamma1) * g + gamma1 * s
      delta = gamma2 * delta - lr * g / sqrt(n - s * s + epsilon);  w += delta   (centered)

  then ``w = clip(w, -clip_weights, clip_weights)`` when ``clip_weights >= 0``.
* ``ftrl_update`` (:func:`single_tensor_ftrl`), ``g = clip(rescale_grad * grad)``::

      z += g - (sqrt(n + g * g) - sqrt(n)) * w / lr;   n += g * g
      w = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)

* ``ftml_update`` (:func:`single_tensor_ftml`), ``g = clip(rescale_grad * grad + wd * w)``::

      v = beta2 * v + (1 - beta2) * g * g
      d_t = (1 - beta1**t) / lr * (sqrt(v / (1 - beta2**t)) + epsilon)
      z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d) * w;   d = d_t;   w = -z / d_t

* ``signum_update`` / ``signsgd_update`` (:func:`single_tensor_signum`)::

      mom = momentum * mom - (1 - momentum) * wd * w - (1 - momentum) * clip(rescale_grad * grad)
      w = (1 - lr * wd_lh) * w + lr * sign(mom)                           (Signum)
      w = (1 - lr * wd) * w - lr * sign(grad)                             (signSGD)

A negative ``clip_gradient``/``clip_weights`` disables clipping (MXNet's ``>= 0`` test).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import backend

__all__ = [
    "Raw",
    "scalar",
    "clip_inplace",
    "kernel_decayed_grad",
    "single_tensor_rmsprop",
    "single_tensor_ftrl",
    "single_tensor_ftml",
    "single_tensor_signum",
]

Raw = Any  # a numpy.ndarray or cupy.ndarray


def scalar(arr: Raw, value: float) -> Any:
    """``value`` as a scalar of ``arr``'s dtype (MXNet casts kernel parameters to DType)."""
    return arr.dtype.type(value)


def clip_inplace(xp: Any, arr: Raw, bound: float) -> None:
    """Clip ``arr`` into ``[-bound, bound]`` in place when ``bound >= 0`` (NaN stays NaN)."""
    if bound >= 0:
        b = scalar(arr, bound)
        xp.clip(arr, -b, b, out=arr)


def kernel_decayed_grad(
    xp: Any, grad: Raw, weight: Raw, rescale_grad: float, wd: float, clip_gradient: float
) -> Raw:
    """``clip(rescale_grad * grad + wd * weight)`` as a new array, in that order (weight decay
    before clipping), as MXNet's ``adam_update``, ``rmsprop[alex]_update`` and ``ftml_update``
    kernels compute it; scalars in ``weight``'s dtype, ``clip_gradient < 0`` disables clipping."""
    g = xp.multiply(grad, scalar(weight, rescale_grad))
    g += xp.multiply(weight, scalar(weight, wd))
    clip_inplace(xp, g, clip_gradient)
    return g


def single_tensor_rmsprop(
    weight: Raw,
    grad: Raw,
    n: Raw,
    s: Raw | None,
    delta: Raw | None,
    lr: float,
    wd: float,
    *,
    gamma1: float,
    gamma2: float,
    epsilon: float,
    rescale_grad: float,
    clip_gradient: float,
    clip_weights: float,
) -> None:
    """One RMSProp step in place; ``s``/``delta`` given means centered. Negative clips disable."""
    xp = backend.xp_of(weight)
    one = weight.dtype.type(1.0)
    g1 = scalar(weight, gamma1)
    g = kernel_decayed_grad(xp, grad, weight, rescale_grad, wd, clip_gradient)
    if s is None or delta is None:
        sq = xp.multiply(g, g)
        sq *= one - g1
        n *= g1
        n += sq
        denom = n + scalar(weight, epsilon)
        step = xp.divide(g, xp.sqrt(denom, out=denom))
        step *= scalar(weight, lr)
        weight -= step
    else:
        sq = xp.multiply(g, one - g1)
        sq *= g
        n *= g1
        n += sq
        s *= g1
        s += xp.multiply(g, one - g1)
        var = n - xp.multiply(s, s)
        var += scalar(weight, epsilon)
        step = xp.multiply(g, scalar(weight, lr))
        step /= xp.sqrt(var, out=var)
        delta *= scalar(weight, gamma2)
        delta -= step
        weight += delta
    clip_inplace(xp, weight, clip_weights)


def single_tensor_ftrl(
    weight: Raw,
    grad: Raw,
    z: Raw,
    n: Raw,
    lr: float,
    wd: float,
    *,
    lamda1: float,
    beta: float,
    rescale_grad: float,
    clip_gradient: float,
) -> None:
    """One FTRL step in place; ``clip_gradient < 0`` disables clipping."""
    xp = backend.xp_of(weight)
    s_lr = scalar(weight, lr)
    s_l1 = scalar(weight, lamda1)
    g = xp.multiply(grad, scalar(weight, rescale_grad))
    clip_inplace(xp, g, clip_gradient)
    g2 = xp.multiply(g, g)
    root_n = xp.sqrt(n)
    shift = xp.sqrt(n + g2)
    shift -= root_n
    shift *= weight
    shift /= s_lr
    z += xp.subtract(g, shift)
    n += g2
    denom = xp.sqrt(n)
    denom += scalar(weight, beta)
    denom /= s_lr
    denom += scalar(weight, wd)
    out = xp.sign(z)
    out *= s_l1
    out -= z
    out /= denom
    out *= (xp.abs(z) > s_l1).astype(weight.dtype)
    weight[...] = out


def single_tensor_ftml(
    weight: Raw,
    grad: Raw,
    d: Raw,
    v: Raw,
    z: Raw,
    lr: float,
    wd: float,
    t: int,
    *,
    beta1: float,
    beta2: float,
    epsilon: float,
    rescale_grad: float,
    clip_gradient: float,
) -> None:
    """One FTML step in place; ``clip_gradient < 0`` disables clipping.

    The bias corrections ``1 - beta**t`` are host scalars (NumPy's correctly rounded ``power`` in
    the weight's dtype) on every device: on a GPU, a power of two scalars would run as a kernel,
    and CUDA's ``powf`` is not correctly rounded.
    """
    xp = backend.xp_of(weight)
    one = weight.dtype.type(1.0)
    b1, b2 = scalar(weight, beta1), scalar(weight, beta2)
    s_t = scalar(weight, t)
    correction2 = one - np.power(b2, s_t)
    correction1 = (one - np.power(b1, s_t)) / scalar(weight, lr)
    g = kernel_decayed_grad(xp, grad, weight, rescale_grad, wd, clip_gradient)
    sq = xp.multiply(g, g)
    sq *= one - b2
    v *= b2
    v += sq
    d_t = xp.divide(v, correction2)
    xp.sqrt(d_t, out=d_t)
    d_t += scalar(weight, epsilon)
    d_t *= correction1
    z *= b1
    z += xp.multiply(g, one - b1)
    shift = d_t - xp.multiply(d, b1)
    shift *= weight
    z -= shift
    d[...] = d_t
    xp.negative(z, out=weight)
    weight /= d_t


def single_tensor_signum(
    weight: Raw,
    grad: Raw,
    mom: Raw | None,
    lr: float,
    wd: float,
    *,
    momentum: float,
    wd_lh: float,
    rescale_grad: float,
    clip_gradient: float,
) -> None:
    """One Signum (with ``mom``) or signSGD (``mom`` None) step in place."""
    xp = backend.xp_of(weight)
    one = weight.dtype.type(1.0)
    s_lr = scalar(weight, lr)
    if mom is None:
        step = xp.sign(grad).astype(weight.dtype, copy=False)
        step *= s_lr
        weight *= one - s_lr * scalar(weight, wd)
        weight -= step
        return
    rest = one - scalar(weight, momentum)
    g = xp.multiply(grad, scalar(weight, rescale_grad))
    clip_inplace(xp, g, clip_gradient)
    g *= rest
    decay = xp.multiply(weight, rest * scalar(weight, wd))
    mom *= scalar(weight, momentum)
    mom -= decay
    mom -= g
    step = xp.sign(mom).astype(weight.dtype, copy=False)
    step *= s_lr
    weight *= one - s_lr * scalar(weight, wd_lh)
    weight += step
