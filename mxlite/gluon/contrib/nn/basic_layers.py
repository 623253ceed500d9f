"""Container layers of ``gluon.contrib.nn``: run every child on the same input and join the
outputs (``Concurrent``, ``HybridConcurrent``), and ``Identity`` (for residual branches).

MXNet 1.9.1 names them ``Concurrent``/``HybridConcurrent``; MXNet 2 renamed them
``Concatenate``/``HybridConcatenate`` (and moved them to ``gluon.nn``), so both names are here.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from mxlite.gluon.block import Block, HybridBlock
from mxlite.gluon.nn.basic_layers import HybridSequential, Sequential
from mxlite.gluon.parameter_dict import ParameterDict
from mxlite.ndarray import op_shape

__all__ = ["Concurrent", "HybridConcurrent", "Identity", "Concatenate", "HybridConcatenate"]


class _Joined:
    """What Concurrent and HybridConcurrent share: the ``axis`` and the join of the children's
    outputs."""

    _children: OrderedDict[str, Block]

    def __init__(
        self, axis: int = -1, prefix: str | None = None, params: ParameterDict | None = None
    ) -> None:
        super().__init__(prefix=prefix, params=params)  # type: ignore[call-arg]
        self.axis = axis

    def _join(self, x: Any) -> Any:
        outs = [block(x) for block in self._children.values()]
        return op_shape.concat(*outs, dim=self.axis)


class Concurrent(_Joined, Sequential):
    """Feeds its input to every child and concatenates their outputs along ``axis``::

        net = Concurrent()
        with net.name_scope():
            net.add(nn.Dense(10, activation='relu'))
            net.add(nn.Dense(20))
            net.add(Identity())

    Args:
        axis: the axis of the concatenation.
    """

    def forward(self, x: Any) -> Any:
        return self._join(x)


class HybridConcurrent(_Joined, HybridSequential):
    """:class:`Concurrent` for HybridBlock children.

    Args:
        axis: the axis of the concatenation.
    """

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self._join(x)


class Identity(HybridBlock):
    """Passes its input through unchanged (the same array), e.g. as the shortcut branch of a
    :class:`HybridConcurrent`."""

    def __init__(self, prefix: str | None = None, params: ParameterDict | None = None) -> None:
        super().__init__(prefix=prefix, params=params)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803
        return x


Concatenate = Concurrent
HybridConcatenate = HybridConcurrent
