"""``gluon.Constant``: a Parameter holding an immutable tensor (``grad_req`` is always 'null')."""

from __future__ import annotations

import warnings
from typing import Any

from mxlite import initializer
from mxlite.gluon import _replicas
from mxlite.gluon.parameter import Parameter
from mxlite.ndarray import creation
from mxlite.ndarray.ndarray import NDArray

__all__ = ["Constant"]


class Constant(Parameter):
    """A constant parameter for holding immutable tensors.

    Constants are ignored by autograd and Trainer (``grad_req`` is always ``'null'``); their
    values change only through :meth:`set_data`::

        const = mx.gluon.Constant('const', [[1, 2], [3, 4]])

    Its initializer is registered under the name ``Constant_<name>_<id>`` (as in MXNet), which
    :attr:`init` holds.

    Args:
        name: name of the parameter.
        value: initial value (an NDArray or anything ``mx.nd.array`` accepts).
    """

    def __init__(self, name: str, value: Any) -> None:
        if not isinstance(value, NDArray):
            value = _replicas.to_front(creation.array(value))
        self.value = value

        class Init(initializer.Initializer):
            def _init_weight(self, _: Any, arr: NDArray) -> None:
                value.copyto(arr)

        init_name = f"Constant_{name}_{id(self)}"
        initializer.alias(init_name)(Init)
        super().__init__(
            name, grad_req="null", shape=value.shape, dtype=value.dtype, init=init_name
        )

    def __repr__(self) -> str:
        return f"Constant {self.name} (shape={self.shape}, dtype={self.dtype})"

    @property  # type: ignore[override]
    def grad_req(self) -> str:
        """Always ``'null'``; assigning another value warns and is ignored."""
        return "null"

    @grad_req.setter
    def grad_req(self, req: str) -> None:
        if req != "null":
            warnings.warn(
                f'Constant parameter "{self.name}" does not support grad_req other than "null", '
                f'and new value "{req}" is ignored.',
                stacklevel=2,
            )
