"""Activation layers: ``Activation``, ``LeakyReLU``, ``PReLU``, ``ELU``, ``SELU``, ``GELU``,
``Swish`` (MXNet 1.9.1 has no ``SiLU``: it is ``Swish(beta=1.0)``).

The parametric ones run as one ``mx.nd.LeakyReLU`` op each (one autograd node); reprs as
MXNet's (the blocks without a ``__repr__`` of their own print as ``ELU(\n\n)``)."""

from __future__ import annotations

from typing import Any

from mxlite.base import CheckError
from mxlite.gluon.block import HybridBlock
from mxlite.initializer import Constant
from mxlite.ndarray import op, op_act, op_math

__all__ = ["Activation", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "Swish"]


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


class LeakyReLU(HybridBlock):
    """Leaky version of a Rectified Linear Unit: ``alpha * x`` for ``x < 0``, ``x`` otherwise.

    Args:
        alpha: slope of the negative half, ``>= 0``.

    Raises:
        CheckError: a negative ``alpha`` (an AssertionError, as MXNet's).
    """

    def __init__(self, alpha: float, **kwargs: Any) -> None:
        if not alpha >= 0:
            raise CheckError("Slope coefficient for LeakyReLU must be no less than 0.")
        super().__init__(**kwargs)
        self._alpha = alpha

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return op_act.LeakyReLU(x, act_type="leaky", slope=self._alpha)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._alpha})"


_ALPHA_INIT = Constant(0.25)  # MXNet's default object, shared by every PReLU


class PReLU(HybridBlock):
    """Parametric leaky ReLU: ``alpha * x`` for ``x < 0`` with a learned ``alpha`` (He et al.,
    2015), one per channel (axis 1) or one shared.

    Args:
        alpha_initializer: initializer of ``alpha`` (``Constant(0.25)``).
        in_channels: number of slopes: 1, or the size of the input's axis 1.
    """

    def __init__(
        self, alpha_initializer: Any = _ALPHA_INIT, in_channels: int = 1, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.alpha = self.params.get("alpha", shape=(in_channels,), init=alpha_initializer)

    def hybrid_forward(self, F: Any, x: Any, alpha: Any) -> Any:  # noqa: N803
        return op_act.LeakyReLU(x, gamma=alpha, act_type="prelu")


class ELU(HybridBlock):
    """Exponential Linear Unit (Clevert et al., 2016): ``alpha * (exp(x) - 1)`` for ``x <= 0``,
    ``x`` otherwise.

    Args:
        alpha: the scale of the negative half.
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._alpha = alpha

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803
        return op_act.LeakyReLU(x, act_type="elu", slope=self._alpha)


class SELU(HybridBlock):
    """Scaled Exponential Linear Unit (Klambauer et al., 2017):
    ``lambda * (x if x > 0 else alpha * (exp(x) - 1))`` with the self-normalizing constants."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803
        return op_act.LeakyReLU(x, act_type="selu")


class GELU(HybridBlock):
    """Gaussian Error Linear Unit (Hendrycks and Gimpel, 2016): ``x * Phi(x)`` with the exact
    normal CDF (erf), as MXNet."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803
        return op_act.LeakyReLU(x, act_type="gelu")


class Swish(HybridBlock):
    """Swish activation (Ramachandran et al., 2017): ``x * sigmoid(beta * x)``.

    Args:
        beta: the sigmoid's input scale.
    """

    def __init__(self, beta: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._beta = beta

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803
        return x * op_math.sigmoid(x * self._beta)
