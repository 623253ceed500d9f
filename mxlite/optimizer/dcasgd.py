"""DCASGD and SGLD: SGD variants without a fused path (MXNet 1.9.1's Python update rules).

Both run index by index (``Optimizer.update_multi``'s generic loop), with MXNet's Python
expressions: ``clip`` is ``mx.nd.clip`` (so ``clip_gradient=0`` clips to zero).
"""

from __future__ import annotations

import math
from typing import Any

from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer._common import begin_python_update, scalar, zeros_state
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["DCASGD", "SGLD"]


@register
class DCASGD(Optimizer):
    """Delay-compensated asynchronous SGD (arXiv:1609.08326).

    With ``g = clip(rescale_grad * grad)`` and the previous weight ``w_prev``::

        step = -lr * (g + wd * w + lamda * g * g * (w - w_prev))
        mom = momentum * mom + step            # momentum > 0; mom = step otherwise
        w_prev = w;  w = w + mom

    MXNet 1.9.1 raises for any ``momentum != 0`` (it tests the momentum NDArray's truth value);
    mxlite runs the documented rule instead. ``momentum=0`` matches MXNet exactly.

    Args:
        momentum: the momentum value.
        lamda: scale of the delay-compensation term.
    """

    def __init__(self, momentum: float = 0.0, lamda: float = 0.04, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.momentum = momentum
        self.weight_previous: dict[Any, Any] = {}
        self.lamda = lamda

    def create_state(self, index: Any, weight: NDArray) -> tuple[NDArray | None, NDArray]:
        mom = None if self.momentum == 0.0 else zeros_state(weight, weight.dtype)
        return (mom, weight.copy())

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its previous-weight state in place."""
        xp, w, g, lr, wd = begin_python_update(
            self, "DCASGD.update", index, weight, grad, decay_first=False
        )
        mom, previous = state
        comp = xp.multiply(g, scalar(w, self.lamda))
        comp *= g
        comp *= w - previous._data
        step = g + xp.multiply(w, scalar(w, wd))
        step += comp
        step *= scalar(w, -lr)
        if mom is not None:
            mom._data *= scalar(w, self.momentum)
            mom._data += step
            step = mom._data
        previous._data[...] = w
        w += step


@register
class SGLD(Optimizer):
    """Stochastic Gradient Langevin Dynamics.

    ``w = w - lr / 2 * (clip(rescale_grad * grad) + wd * w) + N(0, sqrt(lr))``, the noise drawn
    from ``mx.nd.random.normal`` (mxlite's counter-based stream, so it differs from MXNet's).
    """

    def create_state(self, index: Any, weight: NDArray) -> None:
        return None

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight in place (draws noise from the global random stream)."""
        from mxlite.ndarray import random as nd_random  # noqa: PLC0415 - random sits above us

        xp, w, g, lr, wd = begin_python_update(
            self, "SGLD.update", index, weight, grad, decay_first=False
        )
        g += xp.multiply(w, scalar(w, wd))
        g *= scalar(w, -lr / 2)
        w += g
        noise = nd_random.normal(
            0, math.sqrt(lr), shape=weight.shape, dtype=weight.dtype, ctx=weight.context
        )
        w += noise._data
