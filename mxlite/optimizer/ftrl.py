"""FTRL-Proximal (McMahan et al., "Ad Click Prediction"), MXNet 1.9.1's ``ftrl_update`` kernel::

    g = clip(rescale_grad * grad)
    z += g - (sqrt(n + g * g) - sqrt(n)) * w / lr
    n += g * g
    w = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)

States ``(z, n)`` are float32 (MXNet creates them without a dtype).
"""

from __future__ import annotations

from typing import Any

from mxlite import backend
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer._common import (
    Raw,
    check_arrays,
    clip_inplace,
    kernel_clip,
    scalar,
    zeros_state,
)
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["Ftrl"]


def _single_tensor_ftrl(
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


@register
class Ftrl(Optimizer):
    """The FTRL optimizer (see module docstring).

    Args:
        lamda1: L1 regularization coefficient.
        learning_rate: the initial rate (default 0.1).
        beta: per-coordinate learning-rate correlation parameter.
    """

    def __init__(
        self, lamda1: float = 0.01, learning_rate: float = 0.1, beta: float = 1, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.lamda1 = lamda1
        self.beta = beta
        self.lr = learning_rate

    def create_state(self, index: Any, weight: NDArray) -> tuple[NDArray, NDArray]:
        return (zeros_state(weight), zeros_state(weight))

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its ``(z, n)`` state in place."""
        check_arrays("Ftrl.update", weight, grad)
        self._update_count(index)
        wd = self._get_wd(index)
        lr = self._get_lr(index)
        z, n = state
        _single_tensor_ftrl(
            weight._data,
            grad._data,
            z._data,
            n._data,
            lr,
            wd,
            lamda1=self.lamda1,
            beta=self.beta,
            rescale_grad=self.rescale_grad,
            clip_gradient=kernel_clip(self.clip_gradient),
        )
