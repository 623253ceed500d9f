"""``mx.nd.<op>`` given a sparse array: the ops MXNet 1.9.1 runs on sparse storage go to
:mod:`mxlite.ndarray.sparse` (``mx.nd.sqrt(rsp)`` stays row_sparse, ``mx.nd.dot(csr, w,
transpose_a=True)`` is row_sparse, ...); every other op falls back to dense storage by itself.

The wrapper costs one attribute test per call on dense arrays; ``mxlite.ndarray.sparse`` is
imported on the first sparse call only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["NAMES", "wrap"]

_UNARY = (
    "abs", "sign", "round", "rint", "ceil", "floor", "trunc", "fix", "square", "sqrt", "sin",
    "tan", "arcsin", "arctan", "degrees", "radians", "sinh", "tanh", "arcsinh", "arctanh",
    "expm1", "log1p", "relu", "negative", "clip", "zeros_like", "sum", "mean",
)  # fmt: skip
_BINARY = ("dot", "elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "where")
#: The ``mx.nd`` names that dispatch on sparse inputs.
NAMES = _UNARY + _BINARY


def _sparse(value: Any) -> bool:
    return getattr(value, "stype", "default") != "default"


def wrap(name: str, dense_fn: Callable[..., Any]) -> Callable[..., Any]:
    """``dense_fn`` that hands calls with a sparse array operand to ``sparse.<name>``."""
    span = 3 if name == "where" else 2 if name in _BINARY else 1

    @functools.wraps(dense_fn)
    def dispatch(*args: Any, **kwargs: Any) -> Any:
        if any(_sparse(a) for a in args[:span]):
            from mxlite.ndarray import sparse

            return getattr(sparse, name)(*args, **kwargs)
        return dense_fn(*args, **kwargs)

    return dispatch
