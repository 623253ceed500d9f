"""``mx.nd.sparse``: row_sparse and CSR arrays (MXNet 1.9.1's ``mxnet.ndarray.sparse``).

::

    rsp = mx.nd.sparse.row_sparse_array((data, indices), shape=(1000, 64))
    csr = mx.nd.sparse.csr_matrix((data, indices, indptr), shape=(3, 4))
    out = mx.nd.sparse.dot(csr, weight)                  # dense (3, 64)
    grad_rows = mx.nd.sparse.dot(csr, g, transpose_a=True)   # row_sparse

The classes live in :mod:`mxlite.ndarray._sparse_base`, constructors and storage conversions in
:mod:`mxlite.ndarray._sparse_build`, operators in :mod:`mxlite.ndarray._sparse_ops` and
:mod:`mxlite.ndarray._sparse_dot`. Buffers are NumPy arrays on CPU contexts and CuPy arrays on
GPU contexts.
"""

from __future__ import annotations

import functools
from typing import Any

from mxlite.ndarray._sparse_base import (
    BaseSparseNDArray,
    CSRNDArray,
    NotSupportedForSparseNDArray,
    RowSparseNDArray,
)
from mxlite.ndarray._sparse_build import (
    array,
    cast_storage,
    csr_matrix,
    empty,
    row_sparse_array,
    zeros,
)
from mxlite.ndarray._sparse_dot import dot
from mxlite.ndarray._sparse_ops import (
    UNARY_ZERO_PRESERVING,
    add,
    clip,
    divide,
    elemwise_add,
    elemwise_div,
    elemwise_mul,
    elemwise_sub,
    mean,
    multiply,
    negative,
    retain,
    square_sum,
    subtract,
    sum,
    unary,
    where,
    zeros_like,
)

__all__ = [
    "BaseSparseNDArray",
    "CSRNDArray",
    "RowSparseNDArray",
    "NotSupportedForSparseNDArray",
    "array",
    "cast_storage",
    "csr_matrix",
    "empty",
    "row_sparse_array",
    "zeros",
    "dot",
    "add",
    "subtract",
    "multiply",
    "divide",
    "elemwise_add",
    "elemwise_sub",
    "elemwise_mul",
    "elemwise_div",
    "negative",
    "clip",
    "zeros_like",
    "retain",
    "square_sum",
    "sum",
    "mean",
    "where",
    *(n for n in UNARY_ZERO_PRESERVING if n != "negative"),  # noqa: PLE0604
]


def _unary_fn(name: str) -> Any:
    @functools.wraps(unary)
    def fn(data: Any, **kwargs: Any) -> Any:
        return unary(name, data, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{name}`` of the stored values, keeping sparse storage (f(0) = 0)."
    return fn


for _name in UNARY_ZERO_PRESERVING:
    if _name != "negative":
        globals()[_name] = _unary_fn(_name)
del _name
