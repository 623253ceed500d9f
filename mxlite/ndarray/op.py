"""Array operations of ``mx.nd``, gathered from their modules (and the fluent-method table).

* :mod:`mxlite.ndarray.op_math`: operators, in-place updates, elementwise math, comparisons.
* :mod:`mxlite.ndarray.op_reduce`: sum, mean, max, min, prod, norm, argmax, ...
* :mod:`mxlite.ndarray.op_nn`: dot, batch_dot, FullyConnected, Activation, softmax, pick, ...
* :mod:`mxlite.ndarray.op_shape`: transpose, expand_dims, concat, stack, add_n, where, ...
* :mod:`mxlite.ndarray.op_slice`: slice, crop, slice_axis, slice_like, split, split_v2
* :mod:`mxlite.ndarray.op_layout`: moveaxis, swapaxes, tile, repeat, flip, pad, diag
* :mod:`mxlite.ndarray.op_index`: take, gather_nd, scatter_nd, Embedding
* :mod:`mxlite.ndarray.op_sort`: topk, sort, argsort
* :mod:`mxlite.ndarray.op_act`: LeakyReLU (leaky, prelu, elu, selu, gelu), Dropout
* :mod:`mxlite.ndarray.op_norm`: BatchNorm, LayerNorm, InstanceNorm, GroupNorm, L2Normalization;
  :mod:`~mxlite.ndarray.op_sequence`: SequenceMask
* :mod:`mxlite.ndarray.op_conv`, :mod:`~mxlite.ndarray.op_pool`: Convolution, Deconvolution,
  Pooling, UpSampling
* :mod:`mxlite.ndarray.op_compat`: sinh ... arctanh, degrees, radians, rcbrt, softmin,
  shape_array, size_array, broadcast_axis, argmax_channel, choose_element_0index, ...
* :mod:`mxlite.ndarray.op_creation`: eye, linspace; :mod:`mxlite.ndarray.linalg`: gemm, gemm2
* :mod:`mxlite.ndarray.op_optimizer`, :mod:`~mxlite.ndarray.op_update_rules`,
  :mod:`~mxlite.ndarray.op_lamb`, :mod:`~mxlite.ndarray.op_multi_optimizer`: the optimizer
  operators (sgd_update, adam_update, lamb_update_phase1, multi_sgd_update, all_finite, ...).

Each op computes on the raw arrays with the array module of its inputs (numpy or cupy) and hands
the finished op to autograd (``autograd_record``) under a stable op name, with the attributes the
gradient rule needs (see each module's docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mxlite.ndarray import (
    linalg,
    op_compat,
    op_index,
    op_layout,
    op_math,
    op_nn,
    op_reduce,
    op_shape,
    op_slice,
    op_sort,
)
from mxlite.ndarray.op_act import *  # noqa: F403
from mxlite.ndarray.op_compat import *  # noqa: F403
from mxlite.ndarray.op_conv import *  # noqa: F403
from mxlite.ndarray.op_creation import *  # noqa: F403
from mxlite.ndarray.op_index import *  # noqa: F403
from mxlite.ndarray.op_lamb import *  # noqa: F403
from mxlite.ndarray.op_layout import *  # noqa: F403
from mxlite.ndarray.op_math import *  # noqa: F403
from mxlite.ndarray.op_math import abs, binary, inplace, round, write_out  # noqa: A004, F401
from mxlite.ndarray.op_multi_optimizer import *  # noqa: F403
from mxlite.ndarray.op_nn import *  # noqa: F403
from mxlite.ndarray.op_norm import *  # noqa: F403
from mxlite.ndarray.op_optimizer import *  # noqa: F403
from mxlite.ndarray.op_pool import *  # noqa: F403
from mxlite.ndarray.op_reduce import *  # noqa: F403
from mxlite.ndarray.op_sequence import *  # noqa: F403
from mxlite.ndarray.op_shape import *  # noqa: F403
from mxlite.ndarray.op_slice import *  # noqa: F403
from mxlite.ndarray.op_slice import slice  # noqa: A004, F401
from mxlite.ndarray.op_sort import *  # noqa: F403
from mxlite.ndarray.op_update_rules import *  # noqa: F403

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
linalg_gemm = linalg.gemm
linalg_gemm2 = linalg.gemm2

_FLUENT_NAMES = (
    "abs sqrt rsqrt square exp log log2 log10 sign reciprocal relu sigmoid tanh softrelu "
    "softsign floor ceil round rint trunc fix sin cos tan log1p expm1 cbrt clip negative "
    "maximum minimum sum mean max min prod nansum norm argmax argmin dot softmax log_softmax "
    "pick one_hot split split_v2 slice slice_axis slice_like take topk sort argsort pad diag "
    "zeros_like ones_like stop_gradient tile repeat flip swapaxes broadcast_like"
    " sinh cosh arcsin arccos arctan arcsinh arccosh arctanh degrees radians rcbrt softmin"
    " shape_array size_array broadcast_axes argmax_channel"
).split()

# Methods available on NDArray as ``x.name(...)``.
FLUENT: dict[str, Callable[..., Any]] = {
    name: getattr(mod, name)
    for name in _FLUENT_NAMES
    for mod in (
        op_math,
        op_reduce,
        op_nn,
        op_shape,
        op_slice,
        op_layout,
        op_index,
        op_sort,
        op_compat,
    )
    if hasattr(mod, name)
}
