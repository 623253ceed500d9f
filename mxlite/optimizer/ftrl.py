"""Follow-the-leader optimizers, as MXNet 1.9.1's kernels.

* Ftrl, FTRL-Proximal (McMahan et al., "Ad Click Prediction"), ``ftrl_update``::

      g = clip(rescale_grad * grad)
      z += g - (sqrt(n + g * g) - sqrt(n)) * w / lr
      n += g * g
      w = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)

  States ``(z, n)`` are float32 (MXNet creates them without a dtype).
* FTML, Follow the Moving Leader (Zheng & Kwok, ICML 2017), ``ftml_update``::

      g = clip(rescale_grad * grad + wd * w)
      v = beta2 * v + (1 - beta2) * g * g
      d_t = (1 - beta1**t) / lr * (sqrt(v / (1 - beta2**t)) + epsilon)
      z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d) * w
      d = d_t;  w = -z / d_t

  with ``t`` the index's update count; states ``(d, v, z)`` in the weight's dtype.
"""

from __future__ import annotations

from typing import Any

from mxlite.ndarray._update_rules import single_tensor_ftml, single_tensor_ftrl
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer._common import check_arrays, kernel_clip, zeros_state
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["Ftrl", "FTML"]


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
        single_tensor_ftrl(
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


@register
class FTML(Optimizer):
    """The FTML optimizer (see module docstring).

    Args:
        beta1: 0 < beta1 < 1, generally close to 0.5.
        beta2: 0 < beta2 < 1, generally close to 1.
        epsilon: small value to avoid division by 0.
    """

    def __init__(
        self, beta1: float = 0.6, beta2: float = 0.999, epsilon: float = 1e-8, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def create_state(self, index: Any, weight: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        return tuple(zeros_state(weight, weight.dtype) for _ in range(3))  # type: ignore[return-value]

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its ``(d, v, z)`` state in place."""
        check_arrays("FTML.update", weight, grad)
        lr, wd = self._step_scalars(index)
        t = self._index_update_count[index]
        d, v, z = state
        single_tensor_ftml(
            weight._data,
            grad._data,
            d._data,
            v._data,
            z._data,
            lr,
            wd,
            t,
            beta1=self.beta1,
            beta2=self.beta2,
            epsilon=self.epsilon,
            rescale_grad=self.rescale_grad,
            clip_gradient=kernel_clip(self.clip_gradient),
        )
