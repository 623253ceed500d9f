"""RMSProp, plain (Tieleman & Hinton 2012) and centered (Graves 2013), as MXNet 1.9.1's kernels.

With ``g = clip(rescale_grad * grad + wd * w)`` (weight decay before clipping):

* plain (``rmsprop_update``)::

      n = (1 - gamma1) * g * g + gamma1 * n
      w = w - lr * g / sqrt(n + epsilon)

* centered (``rmspropalex_update``)::

      n = (1 - gamma1) * g * g + gamma1 * n
      s = (1 - gamma1) * g + gamma1 * s
      delta = gamma2 * delta - lr * g / sqrt(n - s * s + epsilon)
      w = w + delta

and finally ``w = clip(w, -clip_weights, clip_weights)`` when ``clip_weights`` is set. States are
float32 (MXNet creates them without a dtype).
"""

from __future__ import annotations

from typing import Any

from mxlite.ndarray._update_rules import single_tensor_rmsprop
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer._common import check_arrays, kernel_clip, zeros_state
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["RMSProp"]


@register
class RMSProp(Optimizer):
    """The RMSProp optimizer (see module docstring for both variants).

    Args:
        learning_rate: the initial rate (default 0.001).
        gamma1: decay factor of the moving average of squared gradients.
        gamma2: momentum factor of the centered variant.
        epsilon: small value inside the square root.
        centered: True for Graves's centered RMSProp, False for Tieleman & Hinton's.
        clip_weights: clip weights into ``[-clip_weights, clip_weights]`` after each update.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        gamma1: float = 0.9,
        gamma2: float = 0.9,
        epsilon: float = 1e-8,
        centered: bool = False,
        clip_weights: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.centered = centered
        self.epsilon = epsilon
        self.clip_weights = clip_weights

    def create_state(self, index: Any, weight: NDArray) -> tuple[NDArray, ...]:
        if self.centered:
            return (zeros_state(weight), zeros_state(weight), zeros_state(weight))
        return (zeros_state(weight),)

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its ``(n,)`` or ``(n, g, delta)`` state in place."""
        check_arrays("RMSProp.update", weight, grad)
        lr, wd = self._step_scalars(index)
        if self.centered:
            n, s, delta = (x._data for x in state)
        else:
            (n,) = (x._data for x in state)
            s = delta = None
        single_tensor_rmsprop(
            weight._data,
            grad._data,
            n,
            s,
            delta,
            lr,
            wd,
            gamma1=self.gamma1,
            gamma2=self.gamma2,
            epsilon=self.epsilon,
            rescale_grad=self.rescale_grad,
            clip_gradient=kernel_clip(self.clip_gradient),
            clip_weights=kernel_clip(self.clip_weights),
        )
