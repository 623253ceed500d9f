"""Signum and signSGD (Bernstein et al., ICML 2018), as MXNet 1.9.1's kernels.

* Signum (``signum_update``, momentum > 0)::

      mom = momentum * mom - (1 - momentum) * wd * w - (1 - momentum) * clip(rescale_grad * grad)
      w = (1 - lr * wd_lh) * w + lr * sign(mom)

* signSGD (``signsgd_update``, momentum 0): ``w = (1 - lr * wd) * w - lr * sign(grad)``; MXNet's
  kernel ignores ``rescale_grad`` and ``clip_gradient`` here (they cannot change a sign).
"""

from __future__ import annotations

from typing import Any

from mxlite.ndarray._update_rules import single_tensor_signum
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer._common import check_arrays, kernel_clip, zeros_state
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["Signum"]


@register
class Signum(Optimizer):
    """The Signum optimizer: steps by the sign of the momentum (signSGD when momentum is 0).

    Args:
        learning_rate: the initial rate (default 0.01).
        momentum: the momentum value (default 0.9).
        wd_lh: decoupled weight decay (Loshchilov & Hutter), applied outside the momentum.
    """

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.9, wd_lh: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.wd_lh = wd_lh

    def create_state(self, index: Any, weight: NDArray) -> NDArray | None:
        if self.momentum != 0.0:
            return zeros_state(weight, weight.dtype)
        return None

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight (and its momentum) in place."""
        check_arrays("Signum.update", weight, grad)
        lr, wd = self._step_scalars(index)
        single_tensor_signum(
            weight._data,
            grad._data,
            None if state is None else state._data,
            lr,
            wd,
            momentum=self.momentum if self.momentum > 0 else 0.0,
            wd_lh=self.wd_lh if self.wd_lh else 0.0,
            rescale_grad=self.rescale_grad,
            clip_gradient=kernel_clip(self.clip_gradient),
        )
