"""The ``Test`` optimizer of MXNet (``mx.optimizer.Test``): ``w += rescale_grad * grad`` and a state
that copies ``w``. (Not in a file named test.py: test runners would collect it.)"""

from __future__ import annotations

from typing import Any

from mxlite import backend
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer._common import scalar, zeros_state
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["Test"]


@register
class Test(Optimizer):
    """The Test optimizer: adds the rescaled gradient; does not count updates."""

    def create_state(self, index: Any, weight: NDArray) -> NDArray:
        """A float32 zero array that each update overwrites with the weight."""
        return zeros_state(weight)

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Perform ``w += rescale_grad * grad`` and copy ``w`` into ``state``."""
        xp = backend.xp_of(weight._data)
        w = weight._data
        w += xp.multiply(grad._data, scalar(w, self.rescale_grad))
        state._data[...] = w
