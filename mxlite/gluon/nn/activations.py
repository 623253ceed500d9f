"""``nn.Activation``: an element-wise activation layer."""

from __future__ import annotations

from typing import Any

from mxlite.gluon.block import HybridBlock
from mxlite.ndarray import op

__all__ = ["Activation"]


class Activation(HybridBlock):
    """Applies an activation function to the input.

    Args:
        activation: ``'relu'``, ``'sigmoid'``, ``'tanh'``, ``'softrelu'`` or ``'softsign'`` (see
            ``mx.nd.Activation``). The block's default prefix is the activation's name
            (``relu0_``).

    Inputs:
        data: a tensor of any shape.

    Outputs:
        a tensor of the same shape.
    """

    def __init__(self, activation: str, **kwargs: Any) -> None:
        self._act_type = activation
        super().__init__(**kwargs)

    def _alias(self) -> str:
        return self._act_type

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return op.Activation(x, act_type=self._act_type)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._act_type})"
