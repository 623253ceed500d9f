"""Array operations of ``mx.nd``, gathered from their modules (and the fluent-method table).

* :mod:`mxlite.ndarray.op_math`: operators, in-place updates, elementwise math, comparisons.
* :mod:`mxlite.ndarray.op_reduce`: sum, mean, max, min, prod, norm, argmax, ...
* :mod:`mxlite.ndarray.op_nn`: dot, batch_dot, FullyConnected, Activation, softmax, pick, ...
* :mod:`mxlite.ndarray.op_shape`: transpose, expand_dims, concat, stack, split, add_n, where, ...
* :mod:`mxlite.ndarray.op_conv`, ``op_pool``, ``op_norm``, ``op_pad``: Convolution,
  Deconvolution, Pooling, UpSampling, BatchNorm, LayerNorm, InstanceNorm, GroupNorm, Pad.

Each op computes on the raw arrays with the array module of its inputs (numpy or cupy) and hands
the finished op to autograd (``autograd_record``) under a stable op name, with the attributes the
gradient rule needs (see each module's docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mxlite.ndarray import op_math, op_nn, op_reduce, op_shape
from mxlite.ndarray.op_conv import *  # noqa: F403
from mxlite.ndarray.op_math import *  # noqa: F403
from mxlite.ndarray.op_math import abs, binary, inplace, round, write_out  # noqa: A004, F401
from mxlite.ndarray.op_nn import *  # noqa: F403
from mxlite.ndarray.op_norm import *  # noqa: F403
from mxlite.ndarray.op_pad import *  # noqa: F403
from mxlite.ndarray.op_pool import *  # noqa: F403
from mxlite.ndarray.op_reduce import *  # noqa: F403
from mxlite.ndarray.op_shape import *  # noqa: F403

broadcast_add = broadcast_plus = elemwise_add = op_math.add
broadcast_sub = broadcast_minus = elemwise_sub = op_math.subtract
broadcast_mul = elemwise_mul = op_math.multiply
broadcast_div = elemwise_div = op_math.divide
broadcast_mod = op_math.modulo
broadcast_power = op_math.power
broadcast_maximum = op_math.maximum
broadcast_minimum = op_math.minimum
broadcast_equal = op_math.equal
broadcast_not_equal = op_math.not_equal
broadcast_greater = op_math.greater
broadcast_greater_equal = op_math.greater_equal
broadcast_lesser = op_math.lesser
broadcast_lesser_equal = op_math.lesser_equal

_FLUENT_NAMES = (
    "abs sqrt rsqrt square exp log log2 log10 sign reciprocal relu sigmoid tanh softrelu "
    "softsign floor ceil round rint trunc fix sin cos tan log1p expm1 cbrt clip negative "
    "maximum minimum sum mean max min prod nansum norm argmax argmin dot softmax log_softmax "
    "pick one_hot split slice_axis zeros_like ones_like stop_gradient tile repeat flip "
    "swapaxes broadcast_like"
).split()

# Methods available on NDArray as ``x.name(...)``.
FLUENT: dict[str, Callable[..., Any]] = {
    name: getattr(mod, name)
    for name in _FLUENT_NAMES
    for mod in (op_math, op_reduce, op_nn, op_shape)
    if hasattr(mod, name)
}
