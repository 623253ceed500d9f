"""AdaGrad and AdaDelta, as MXNet 1.9.1's Python optimizers compute them.

* AdaGrad (weight decay after the adaptive step, clipping without it)::

      g = clip(rescale_grad * grad)
      history += g * g
      w += (g / sqrt(history + eps) + wd * w) * -lr

* AdaDelta (no learning rate; weight decay added to the step)::

      grad *= rescale_grad                  # in place on the caller's gradient, as MXNet does
      g = clip(grad)
      acc_g = rho * acc_g + (1 - rho) * g * g
      delta = sqrt(acc_delta + epsilon) / sqrt(acc_g + epsilon) * g
      acc_delta = rho * acc_delta + (1 - rho) * delta * delta
      w -= delta + wd * w

States are float32 (MXNet creates them without a dtype).
"""

from __future__ import annotations

from typing import Any

from mxlite import backend
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer import _sparse_update
from mxlite.optimizer._common import check_arrays, py_clip, scalar, zeros_state
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["AdaGrad", "AdaDelta"]


@register
class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al., JMLR 2011); see module docstring.

    Args:
        eps: added to the history inside the square root.
    """

    def __init__(self, eps: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index: Any, weight: NDArray) -> NDArray:
        return zeros_state(weight)

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its history in place (lazily for a row_sparse gradient)."""
        if _sparse_update.is_sparse(grad):
            _sparse_update.update(self, index, weight, grad, state)
            return
        check_arrays("AdaGrad.update", weight, grad)
        lr, wd = self._step_scalars(index)
        xp = backend.xp_of(weight._data)
        w, history = weight._data, state._data
        g = xp.multiply(grad._data, scalar(w, self.rescale_grad))
        if self.clip_gradient is not None:
            g = py_clip(xp, g, -self.clip_gradient, self.clip_gradient)
        history += xp.square(g)
        denom = history + scalar(history, self.float_stable_eps)
        step = xp.divide(g, xp.sqrt(denom, out=denom))
        step += xp.multiply(w, scalar(w, wd))
        step *= scalar(w, -lr)
        w += step


@register
class AdaDelta(Optimizer):
    """AdaDelta (Zeiler, arXiv:1212.5701); see module docstring.

    Args:
        rho: decay rate of both accumulators.
        epsilon: added inside both square roots.
    """

    def __init__(self, rho: float = 0.90, epsilon: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index: Any, weight: NDArray) -> tuple[NDArray, NDArray]:
        return (zeros_state(weight), zeros_state(weight))

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its ``(acc_g, acc_delta)`` state in place.

        Like MXNet, this multiplies ``grad`` itself by ``rescale_grad``.
        """
        check_arrays("AdaDelta.update", weight, grad)
        wd = self._get_wd(index)
        self._update_count(index)
        xp = backend.xp_of(weight._data)
        w = weight._data
        grad._data *= scalar(grad._data, self.rescale_grad)
        g = grad._data
        if self.clip_gradient is not None:
            g = py_clip(xp, g, -self.clip_gradient, self.clip_gradient)
        acc_g, acc_delta = state[0]._data, state[1]._data
        keep = 1.0 - self.rho
        acc_g *= scalar(acc_g, self.rho)
        sq = xp.multiply(g, scalar(acc_g, keep))
        sq *= g
        acc_g += sq
        eps = scalar(acc_g, self.epsilon)
        num = xp.sqrt(acc_delta + eps)
        num /= xp.sqrt(acc_g + eps)
        num *= g
        acc_delta *= scalar(acc_delta, self.rho)
        sq = xp.multiply(num, scalar(acc_delta, keep))
        sq *= num
        acc_delta += sq
        num += xp.multiply(w, scalar(w, wd))
        w -= num
