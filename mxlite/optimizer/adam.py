"""Adam family: Adam, Adamax, Nadam (MXNet 1.9.1 update rules).

* Adam (``adam_update`` kernel; weight decay enters *before* clipping)::

      g = clip(rescale_grad * grad + wd * w)
      mean = beta1 * mean + (1 - beta1) * g
      var = beta2 * var + (1 - beta2) * g * g
      w = w - lr_t * mean / (sqrt(var) + epsilon)

  with the bias correction folded into the rate in Python (float64):
  ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``, ``t`` the index's update count.
  Multi-precision (float16 weights) runs on a float32 master copy; state ``(weight32, (mean, var))``.
* Adamax: ``g = clip(rescale_grad * grad + wd * w)``, ``m = beta1 * m + (1 - beta1) * g``,
  ``u = max(beta2 * u, |g|)``, ``w -= lr / (1 - beta1**t) * m / u``.
* Nadam: MXNet's momentum-schedule variant; note that its ``m_schedule`` advances once per
  *parameter* update (not per step), exactly as in MXNet.

Adam has a single-tensor function and a multi-tensor function over lists with per-tensor rates,
the signature a fused kernel takes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.ndarray.ndarray import NDArray
from mxlite.ops import multi_optimizer
from mxlite.optimizer import _sparse_update
from mxlite.optimizer._common import (
    Raw,
    Scalars,
    begin_python_update,
    check_arrays,
    kernel_clip,
    kernel_decayed_grad,
    scalar,
    zeros_state,
)
from mxlite.optimizer._fused_step import FusedOptimizer, FusedRule, fused_plan, multi_tensor_step
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["Adam", "Adamax", "Nadam"]


def _single_tensor_adam(
    weight: Raw,
    grad: Raw,
    mean: Raw,
    var: Raw,
    weight32: Raw | None,
    lr: float,
    wd: float,
    *,
    beta1: float,
    beta2: float,
    epsilon: float,
    rescale_grad: float,
    clip_gradient: float,
) -> None:
    """One Adam step in place (``lr`` already bias-corrected); ``clip_gradient < 0`` disables it."""
    xp = backend.xp_of(weight)
    master = weight32 if weight32 is not None else weight
    g = grad if grad.dtype == master.dtype else grad.astype(master.dtype)
    one = master.dtype.type(1.0)
    b1, b2 = scalar(master, beta1), scalar(master, beta2)
    g = kernel_decayed_grad(xp, g, master, rescale_grad, wd, clip_gradient)
    mean *= b1
    mean += xp.multiply(g, one - b1)
    sq = xp.multiply(g, one - b2)
    sq *= g
    var *= b2
    var += sq
    denom = xp.sqrt(var)
    denom += scalar(master, epsilon)
    step = xp.multiply(mean, scalar(master, lr))
    step /= denom
    master -= step
    if weight32 is not None:
        weight[...] = weight32.astype(weight.dtype)


def _multi_tensor_adam(
    weights: Sequence[Raw],
    grads: Sequence[Raw],
    means: Sequence[Raw],
    variances: Sequence[Raw],
    weights32: Sequence[Raw | None],
    lrs: Scalars,
    wds: Scalars,
    *,
    beta1: float,
    beta2: float,
    epsilon: float,
    rescale_grad: float,
    clip_gradient: float,
    plan: multi_optimizer.Prepared | bool | None = None,
) -> None:
    """Adam over a list of same-dtype tensors on one device; numerics equal the single path.

    One fused launch (:func:`mxlite.ops.multi_optimizer.multi_adam_update`) or the single path
    per tensor, as :func:`mxlite.optimizer._fused_step.multi_tensor_step` decides from ``plan``.
    """
    kwargs = {
        "beta1": beta1,
        "beta2": beta2,
        "epsilon": epsilon,
        "rescale_grad": rescale_grad,
        "clip_gradient": clip_gradient,
    }
    multi_tensor_step(
        multi_optimizer.multi_adam_update, _single_tensor_adam, weights, grads,
        [means, variances], weights32, lrs, wds, kwargs, plan,
    )  # fmt: skip


class _TwoMoments(Optimizer):
    """What Adam, Adamax and Nadam share: two zero moment buffers per weight, and the gradient
    term of the Python-rule updates."""

    def create_state(self, index: Any, weight: NDArray) -> tuple[NDArray, NDArray]:
        return (zeros_state(weight, weight.dtype), zeros_state(weight, weight.dtype))

    def _begin_update(
        self, where: str, index: Any, weight: NDArray, grad: NDArray
    ) -> tuple[Any, Raw, Raw, float, int]:
        """Check, count and read the scalars of one update: ``(xp, w, g, lr, t)`` with
        ``g = clip(grad * rescale_grad + wd * w)`` as MXNet's Python optimizers compute it and
        ``t`` the index's update count."""
        xp, w, g, lr, _ = begin_python_update(self, where, index, weight, grad, decay_first=True)
        return xp, w, g, lr, self._index_update_count[index]


class _AdamGroup:
    """The raw arrays of one Adam dtype group and their prepared fused launch."""

    def __init__(
        self, opt: Adam, dtype: Any, weights: list[NDArray], grads: list[NDArray], states: list[Any]
    ) -> None:
        if opt.multi_precision and dtype == np.float16:
            self.masters: list[Raw | None] = [s[0]._data for s in states]
            inner = [s[1] for s in states]
        else:
            self.masters = [None] * len(states)
            inner = states
        self.weights = [w._data for w in weights]
        self.grads = [g._data for g in grads]
        self.means = [s[0]._data for s in inner]
        self.variances = [s[1]._data for s in inner]
        self.plan: multi_optimizer.Prepared | bool | None = None

    def __call__(self, opt: Adam, lrs: np.ndarray, wds: np.ndarray) -> None:
        if self.plan is None:
            self.plan = fused_plan(
                self.weights, self.grads, [self.means, self.variances], self.masters
            )
        opt.fused_rule.kernel(
            self.weights, self.grads, self.means, self.variances, self.masters, lrs, wds,
            plan=self.plan, **opt._kernel_kwargs(),
        )  # fmt: skip


@register
class Adam(FusedOptimizer, _TwoMoments):
    """The Adam optimizer (arXiv:1412.6980) with MXNet's update rule (see module docstring).

    Args:
        learning_rate: the initial rate (default 0.001).
        beta1, beta2: decay rates of the first and second moment estimates.
        epsilon: added to ``sqrt(var)`` to avoid division by zero.
        lazy_update: with a row_sparse gradient, update only its rows (and their moments);
            False updates every row (see ``_sparse_update``).
    """

    fused_rule = FusedRule(kernel=_multi_tensor_adam, group=_AdamGroup, bias=True)

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        lazy_update: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    def _step_scalars(self, index: Any) -> tuple[float, float]:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        return self._bias_corrected(lr, index), wd

    def _bias_factor(self, t: int) -> float:
        """``sqrt(1 - beta2**t) / (1 - beta1**t)``, the factor of the rate after ``t`` updates."""
        return math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)

    def _bias_corrected(self, lr: float, index: Any) -> float:
        return lr * self._bias_factor(self._index_update_count[index])  # MXNet's rounding

    def _chunk_scalars(self, indices: list[Any]) -> tuple[list[float], list[float]]:
        lrs = [self._bias_corrected(lr, idx) for lr, idx in zip(self._get_lrs(indices), indices)]
        return lrs, self._get_wds(indices)

    def _kernel_kwargs(self) -> dict[str, float]:
        return {
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
            "rescale_grad": self.rescale_grad,
            "clip_gradient": kernel_clip(self.clip_gradient),
        }

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its ``(mean, var)`` state in place."""
        if _sparse_update.is_sparse(grad):
            _sparse_update.update(self, index, weight, grad, state)
            return
        check_arrays("Adam.update", weight, grad)
        lr, wd = self._step_scalars(index)
        mean, var = state
        _single_tensor_adam(
            weight._data, grad._data, mean._data, var._data, None, lr, wd, **self._kernel_kwargs()
        )


@register
class Adamax(_TwoMoments):
    """AdaMax, Adam with the infinity norm (arXiv:1412.6980 section 7); see module docstring.

    Args:
        learning_rate: the initial rate (default 0.002).
        beta1, beta2: decay rates of the moment estimates.
    """

    def __init__(
        self, learning_rate: float = 0.002, beta1: float = 0.9, beta2: float = 0.999, **kwargs: Any
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its ``(m, u)`` state in place."""
        xp, w, g, lr, t = self._begin_update("Adamax.update", index, weight, grad)
        lr /= 1.0 - self.beta1**t
        m, u = state[0]._data, state[1]._data
        m *= scalar(m, self.beta1)
        m += xp.multiply(g, scalar(m, 1.0 - self.beta1))
        u[...] = xp.maximum(xp.multiply(u, scalar(u, self.beta2)), xp.abs(g))
        step = xp.multiply(m, scalar(w, lr))
        step /= u
        w -= step


@register
class Nadam(_TwoMoments):
    """Nesterov Adam (Dozat, CS229 2015) with MXNet's momentum schedule.

    Args:
        learning_rate: the initial rate (default 0.001).
        beta1, beta2: decay rates of the moment estimates.
        epsilon: added to the root of the second moment.
        schedule_decay: decay rate of the momentum schedule.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        schedule_decay: float = 0.004,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule_decay = schedule_decay
        self.m_schedule = 1.0

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its ``(m, v)`` state in place; advances ``m_schedule``."""
        xp, w, g, lr, t = self._begin_update("Nadam.update", index, weight, grad)
        momentum_t = self.beta1 * (1.0 - 0.5 * (pow(0.96, t * self.schedule_decay)))
        momentum_t_1 = self.beta1 * (1.0 - 0.5 * (pow(0.96, (t + 1) * self.schedule_decay)))
        self.m_schedule = self.m_schedule * momentum_t
        m_schedule_next = self.m_schedule * momentum_t_1
        m, v = state[0]._data, state[1]._data
        m *= scalar(m, self.beta1)
        m += xp.multiply(g, scalar(m, 1.0 - self.beta1))
        sq = xp.multiply(g, scalar(v, 1.0 - self.beta2))
        sq *= g
        v *= scalar(v, self.beta2)
        v += sq
        g_prime = xp.divide(g, scalar(w, 1.0 - self.m_schedule))
        m_prime = xp.divide(m, scalar(m, 1.0 - m_schedule_next))
        v_prime = xp.divide(v, scalar(v, 1.0 - pow(self.beta2, t)))
        m_bar = xp.multiply(g_prime, scalar(w, 1.0 - momentum_t))
        m_bar += xp.multiply(m_prime, scalar(m, momentum_t_1))
        m_bar *= scalar(w, lr)
        denom = xp.sqrt(v_prime)
        denom += scalar(v, self.epsilon)
        m_bar /= denom
        w -= m_bar
