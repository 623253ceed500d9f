"""Raw rules of MXNet 1.9.1's LAMB and LARS operators, and the reductions they read.

Formulas and evaluation order are MXNet's kernels (``src/operator/optimizer_op-inl.h``,
``contrib/multi_lamb.cc``, ``contrib/multi_lars-inl.h``, ``contrib/multi_sum_sq.cc``), including
where C++ leaves the array's dtype:

* ``lamb_update_phase1`` (dtype ``T``; ``b1t = T(pow(beta1, t))`` in double)::

      gr = clip(T(rescale_grad) * grad);  mean = b1 * mean + (1 - b1) * gr
      var = b2 * var + (1 - b2) * gr * gr
      g = mean / (sqrt(var) + eps) + wd * w                          (no bias correction)
      g = (mean / (1. - b1t)) / (sqrt(var / (1 - b2t)) + eps) + wd * w

  where ``mean / (1. - b1t)`` divides in double for float32 (``1.`` is a double literal) and
  in float16 arithmetic for float16. ``mp_lamb_update_phase1`` is the same in float32 on the
  master copy, with ``gr = float(half(grad * rescale_grad))`` (mshadow's ``half * float`` is
  a half).
* ``lamb_update_phase2``: ``r1 = min(max(r1, lower), upper)`` (bounds ``>= 0`` only);
  ``lr' = lr`` if ``r1 == 0 or r2 == 0`` else ``lr * r1 / r2``; ``out = w - lr' * g``
  (``mp_``: from the master copy, which the kernel does *not* update).
* ``multi_lamb_update``: per tensor, phase 1 with ``pow`` in the compute type, ``r1`` and ``r2``
  the square roots of :func:`sum_sq` of the weights (not the masters) and of ``g``, then
  ``w -= (lr * (r1 / r2)) * g`` (masters updated for ``multi_mp_``).
* ``multi_lars``: ``lr * eta * |w| / (|g| * rescale_grad + wd * |w| + eps)`` where both norms
  are positive, else ``lr`` (float32, from sums of squares).

Host reductions follow MXNet's CPU loops bit for bit (Numba, :mod:`mxlite.ndarray._cpu_norms`);
on a GPU they are CuPy reductions (MXNet's GPU kernels reduce in another order anyway).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import backend
from mxlite.ndarray._update_rules import Raw, clip_inplace

__all__ = [
    "sum_sq",
    "l2_norm",
    "lamb_phase1",
    "lamb_phase2",
    "multi_lamb",
    "lars_rates",
]

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


# ------------------------------------------------------------------------------ reductions
def _is_host(arr: Raw) -> bool:
    return type(arr) is np.ndarray


def sum_sq(arr: Raw) -> Any:
    """MXNet's ``multi_sum_sq`` of one array: ``sum(arr * arr)`` accumulated in float32 in index
    order, the products in ``arr``'s dtype (a float16 square is rounded to float16 first).

    Returns a NumPy float32 scalar for host arrays, a 0-d float32 CuPy array on a GPU.
    """
    flat = arr.reshape(-1)
    if arr.dtype == F16:
        wide = flat.astype(F32)
        sq = (wide * wide).astype(F16).astype(F32)
    else:
        sq = flat * flat
    if not _is_host(arr):
        xp = backend.xp_of(arr)
        return xp.sum(sq, dtype=F32)
    from mxlite.ndarray import _cpu_norms  # noqa: PLC0415 - Numba loads on first use

    sq = np.ascontiguousarray(sq)
    if sq.dtype == F64:
        return F32.type(_cpu_norms.seq_sum_f32_wide(sq))
    return F32.type(_cpu_norms.seq_sum_f32(sq))


def l2_norm(arr: Raw) -> Any:
    """``NDArray.norm()`` of MXNet's CPU backend: the scaled ``nrm2`` recurrence over ``arr`` in
    index order, in its dtype (float16: computed in float32, then rounded), as a scalar of
    ``arr``'s dtype (a 0-d array on a GPU, where it is a plain sum of squares)."""
    if not _is_host(arr):
        xp = backend.xp_of(arr)
        wide = arr.astype(F32) if arr.dtype == F16 else arr
        return xp.sqrt(xp.sum(wide * wide)).astype(arr.dtype)
    from mxlite.ndarray import _cpu_norms  # noqa: PLC0415

    flat = np.ascontiguousarray(arr.reshape(-1))
    if flat.dtype == F16:
        return np.float16(_cpu_norms.scaled_nrm2(flat.astype(F32), F32.type(0), F32.type(1)))
    t = flat.dtype.type
    return t(_cpu_norms.scaled_nrm2(flat, t(0), t(1)))


# ------------------------------------------------------------------------------ LAMB phases
def _bias_power(beta: float, t: int, dtype: np.dtype) -> Any:
    """``DType b_t = std::pow(beta, t)``: a double power, converted to ``dtype`` (through float32
    for float16, as mshadow's half constructor does)."""
    value = float(beta) ** int(t)
    return dtype.type(np.float32(value)) if dtype == F16 else dtype.type(value)


def _moments(xp: Any, gr: Raw, mean: Raw, var: Raw, beta1: float, beta2: float, t: type) -> None:
    """``mean = b1 * mean + (1 - b1) * gr``; ``var = b2 * var + ((1 - b2) * gr) * gr`` in place,
    in the scalar type ``t``."""
    one = t(1.0)
    b1, b2 = t(beta1), t(beta2)
    mean *= b1
    mean += xp.multiply(gr, one - b1)
    sq = xp.multiply(gr, one - b2)
    sq *= gr
    var *= b2
    var += sq


def lamb_phase1(
    weight: Raw,
    grad: Raw,
    mean: Raw,
    var: Raw,
    weight32: Raw | None,
    *,
    beta1: float,
    beta2: float,
    epsilon: float,
    t: int,
    bias_correction: bool,
    wd: float,
    rescale_grad: float,
    clip_gradient: float,
) -> Raw:
    """``(mp_)lamb_update_phase1``: update ``mean``/``var`` in place and return the new ``g``
    (``weight``'s dtype, or float32 with a master copy ``weight32``). Scalars are the operator's
    parsed float32 fields; ``clip_gradient < 0`` disables clipping."""
    xp = backend.xp_of(weight)
    master = weight if weight32 is None else weight32
    dt = master.dtype
    tt = dt.type
    if weight32 is None:
        gr = xp.multiply(grad, tt(rescale_grad))
    else:  # half * float is a half in mshadow
        gr = xp.multiply(grad.astype(F32), F32.type(rescale_grad)).astype(F16).astype(F32)
    clip_inplace(xp, gr, clip_gradient)
    _moments(xp, gr, mean, var, beta1, beta2, tt)
    if bias_correction:
        b1t, b2t = _bias_power(beta1, t, dt), _bias_power(beta2, t, dt)
        if dt == F16:  # double - half and half / half: float16 arithmetic
            mean_hat = xp.divide(mean, F16.type(F16.type(1.0) - b1t))
        else:  # mean / (1. - b1t): a double division
            mean_hat = xp.divide(mean.astype(F64), 1.0 - np.float64(b1t)).astype(dt)
        num, den = mean_hat, xp.divide(var, tt(1.0) - b2t)
    else:
        num, den = mean, var.copy()
    xp.sqrt(den, out=den)
    den += tt(epsilon)
    g = xp.divide(num, den)
    g += xp.multiply(master, tt(wd))
    return g


def lamb_phase2(
    weight: Raw,
    g: Raw,
    r1: Raw,
    r2: Raw,
    weight32: Raw | None,
    out: Raw,
    *,
    lr: float,
    lower_bound: float,
    upper_bound: float,
) -> None:
    """``(mp_)lamb_update_phase2``: ``out = w - lr' * g`` (``w`` the master copy when given,
    which stays unchanged, as in MXNet); ``r1``/``r2`` are read at their first element."""
    xp = backend.xp_of(weight)
    master = weight if weight32 is None else weight32
    t = master.dtype.type
    new_r1 = t(r1.reshape(-1)[0].item())
    norm2 = t(r2.reshape(-1)[0].item())
    if t(lower_bound) >= 0:
        new_r1 = max(new_r1, t(lower_bound))
    if t(upper_bound) >= 0:
        new_r1 = min(new_r1, t(upper_bound))
    rate = t(lr)
    if not (new_r1 == 0 or norm2 == 0):
        rate = t(t(rate * new_r1) / norm2)
    step = xp.multiply(g, rate)
    out[...] = xp.subtract(master, step).astype(out.dtype, copy=False)


# ------------------------------------------------------------------------------ multi LAMB
def _math_pow(a: Any, b: Any, t: type) -> Any:
    """mshadow's ``power::Map(a, b)`` in type ``t``: ``pow`` for float64, else ``powf`` on the
    float32 values (NumPy's float32 scalar power is libm's ``powf``), rounded to ``t``."""
    if t is np.float64:
        return t(float(a) ** float(b))
    with np.errstate(all="ignore"):
        return t(F32.type(a) ** F32.type(b))


def _multi_lamb_g(
    xp: Any,
    weight: Raw,
    grad: Raw,
    mean: Raw,
    var: Raw,
    master: Raw,
    lr_wd_step: tuple[float, float, int],
    beta1: float,
    beta2: float,
    epsilon: float,
    rescale_grad: float,
    clip_gradient: float,
    bias_correction: bool,
) -> Raw:
    """Step 1 of ``multi_lamb_update`` for one tensor: the float32 ``temp_g``."""
    dt = master.dtype
    t = dt.type
    _, wd, step = lr_wd_step
    if dt == F16:  # half * float is a half
        gr = xp.multiply(grad.astype(F32), F32.type(rescale_grad)).astype(F16)
    else:
        gr = xp.multiply(grad.astype(dt, copy=False), F32.type(rescale_grad)).astype(dt)
    clip_inplace(xp, gr, clip_gradient)
    _moments(xp, gr, mean, var, beta1, beta2, t)
    num, den = mean, var
    if bias_correction:
        num = xp.divide(mean, t(1.0) - _math_pow(t(beta1), t(step), t))
        den = xp.divide(var, t(1.0) - _math_pow(t(beta2), t(step), t))
    decay = xp.multiply(master, t(wd))
    if dt == F16:  # sqrt(half) is a float; float + half and half / half are halves
        root = xp.sqrt(den.astype(F32))
        root += F32.type(t(epsilon))
        g = xp.divide(num, root.astype(F16))
        g += decay
    else:  # sqrt(float) is the double ::sqrt: the rest of the expression runs in double
        root = xp.sqrt(den.astype(F64))
        root += np.float64(t(epsilon))
        g = xp.divide(num.astype(F64), root)
        g += decay
    return g.astype(F32)


def multi_lamb(
    weights: list[Raw],
    grads: list[Raw],
    means: list[Raw],
    variances: list[Raw],
    weights32: list[Raw] | None,
    outs: list[Raw],
    *,
    lrs: Any,
    wds: Any,
    step_count: list[int],
    beta1: float,
    beta2: float,
    epsilon: float,
    rescale_grad: float,
    lower_bound: float,
    upper_bound: float,
    clip_gradient: float,
    bias_correction: bool,
) -> None:
    """``multi_(mp_)lamb_update`` over same-dtype tensors: states (and masters) in place, the new
    weights into ``outs``. ``lrs``/``wds`` are float32 values, one per tensor."""
    xp = backend.xp_of(weights[0])
    for i, weight in enumerate(weights):
        master = weight if weights32 is None else weights32[i]
        t = master.dtype.type
        r1_sq = sum_sq(weight)
        g = _multi_lamb_g(
            xp, weight, grads[i], means[i], variances[i], master,
            (lrs[i], wds[i], step_count[i]), beta1, beta2, epsilon, rescale_grad,
            clip_gradient, bias_correction,
        )  # fmt: skip
        r1 = np.sqrt(F32.type(r1_sq.item()))  # host scalars (a device sync on a GPU)
        r2 = np.sqrt(F32.type(sum_sq(g).item()))
        if lower_bound >= 0:
            r1 = max(r1, F32.type(lower_bound))
        if upper_bound >= 0:
            r1 = min(r1, F32.type(upper_bound))
        ratio = t(1.0) if (r1 == 0 or r2 == 0) else t(r1 / r2)
        rate = t(t(lrs[i]) * ratio)
        if master.dtype == F16:  # half * float is a half
            step = xp.multiply(g, F32.type(rate)).astype(F16)
        else:
            step = xp.multiply(g.astype(master.dtype, copy=False), rate)
        new = xp.subtract(master, step)
        if weights32 is not None:
            master[...] = new
        outs[i][...] = new.astype(outs[i].dtype, copy=False)


# ------------------------------------------------------------------------------ LARS
def lars_rates(
    lrs: Raw, w_sum_sq: Raw, g_sum_sq: Raw, wds: Raw, *, eta: float, eps: float, rescale_grad: float
) -> Raw:
    """``multi_lars`` on float32 vectors: each rate scaled by its layer's trust ratio."""
    xp = backend.xp_of(lrs)
    f = F32.type
    with np.errstate(all="ignore"):
        w_norm = xp.sqrt(w_sum_sq)
        den = xp.sqrt(g_sum_sq)
        den *= f(rescale_grad)
        den += xp.multiply(wds, w_norm)
        den += f(eps)
        num = xp.multiply(lrs, f(eta))
        num *= w_norm
        scaled = xp.divide(num, den)
    valid = (w_norm > 0) & (g_sum_sq > 0)
    return xp.where(valid, scaled, lrs).astype(F32)
