"""``mx.optimizer.contrib``: GroupAdaGrad (registered as ``'groupadagrad'``), MXNet 1.9.1's
AdaGrad with one learning rate per row, for sparse embeddings.

Update (``history`` has shape ``(rows, 1)``)::

    grad = clip(grad * rescale_grad, clip_gradient)
    history += mean(square(grad), axis=1, keepdims=True)
    weight -= lr * grad / sqrt(history + eps)

Row_sparse gradients update only their rows and those rows' history
(:mod:`mxlite.optimizer._sparse_update`). Weight decay is not supported.
"""

from __future__ import annotations

from typing import Any

from mxlite import backend
from mxlite.base import CheckError
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer import _sparse_update
from mxlite.optimizer._common import check_arrays, py_clip, scalar
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["GroupAdaGrad"]


@register
class GroupAdaGrad(Optimizer):
    """AdaGrad with row-wise learning rates (see the module docstring).

    Args:
        eps: added to the history inside the square root.
        **kwargs: see :class:`~mxlite.optimizer.Optimizer` (``wd`` must stay 0).
    """

    def __init__(self, eps: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index: Any, weight: NDArray) -> NDArray:
        """The ``(rows, 1)`` history.

        Raises:
            CheckError: the weight is not 2-D.
        """
        if len(weight.shape) != 2:
            raise CheckError(
                f"GroupAdaGrad needs 2-D weights (one rate per row), got shape {weight.shape}"
            )
        xp = weight._xp
        with backend.array_device_guard(weight._data):
            return NDArray(xp.zeros((weight.shape[0], 1), dtype=weight._data.dtype), weight.context)

    @staticmethod
    def _check_no_wd(wd: float) -> None:
        if wd != 0:
            raise CheckError("Weight decay is not supported for GroupAdaGrad")

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight and its history in place (lazily for a row_sparse gradient).

        Raises:
            CheckError: a nonzero weight decay.
        """
        if _sparse_update.is_sparse(grad):
            _sparse_update.update(self, index, weight, grad, state)
            return
        check_arrays("GroupAdaGrad.update", weight, grad)
        lr, wd = self._step_scalars(index)
        self._check_no_wd(wd)
        xp = backend.xp_of(weight._data)
        w, history = weight._data, state._data
        g = xp.multiply(grad._data, scalar(w, self.rescale_grad))
        if self.clip_gradient is not None:
            g = py_clip(xp, g, -self.clip_gradient, self.clip_gradient)
        history += xp.square(g).mean(axis=1, keepdims=True)
        div = scalar(w, lr) * g / xp.sqrt(history + scalar(history, self.float_stable_eps))
        w -= div
