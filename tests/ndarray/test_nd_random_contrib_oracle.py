"""``mx.nd`` top-level random operators, ``mx.nd.contrib.isnan/isinf/isfinite/allclose``,
``nd.from_numpy``'s read-only source and ``mx.init.Constant(...).dumps()``, against MXNet 1.9.1.

Random values come from mxlite's own stream, so random cases compare shape, dtype and context
(and the values' range); the deterministic ones compare values.
"""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from tests._support.conformance_harness import Case, assert_matches_mxnet

PRELUDE = """
def desc(r):
    a = r.asnumpy()
    return (r.shape, str(r.dtype), str(r.context))

def in_range(r, lo, hi):
    a = r.asnumpy()
    return bool(((a >= lo) & (a < hi)).all())

def from_numpy_case(zero_copy, readonly=False):
    src = np.arange(4, dtype="float32")
    if readonly:
        src.flags.writeable = False
    x = mx.nd.from_numpy(src, zero_copy=zero_copy)
    writable = bool(src.flags.writeable)
    x[1] = 5
    x.wait_to_read()
    return (writable, src.tolist(), x.asnumpy().tolist(), type(x).__name__)

def np_write_refused():
    src = np.arange(3, dtype="float32")
    mx.nd.from_numpy(src)
    src[0] = 1

lo = mx.nd.array([[0, 10]])
hi = mx.nd.array([[1, 20]])
special = mx.nd.array([1, np.nan, np.inf, -np.inf, 0])
"""

CASES: list[Case] = [
    ("uniform", "desc(mx.nd.uniform(shape=(2, 3)))", None),
    ("uniform_pos", "desc(mx.nd.uniform(0, 1, (2, 3), mx.cpu(1)))", None),
    ("uniform_f64", "desc(mx.nd.uniform(low=2, high=3, shape=4, dtype='float64'))", None),
    ("uniform_range", "in_range(mx.nd.uniform(2, 3, shape=(50,)), 2, 3)", None),
    ("random_uniform", "desc(mx.nd.random_uniform(low=-1, high=1, shape=(2,)))", None),
    ("normal", "desc(mx.nd.normal(loc=0, scale=1, shape=(4,)))", None),
    ("normal_f16", "desc(mx.nd.normal(0, 1, shape=(4,), dtype='float16'))", None),
    ("random_normal", "desc(mx.nd.random_normal(shape=(3, 1), ctx=mx.cpu(1)))", None),
    ("randint", "desc(mx.nd.random_randint(0, 5, shape=(2,)))", None),
    ("randint_range", "in_range(mx.nd.random_randint(3, 5, shape=(40,)), 3, 5)", None),
    ("sample_uniform", "desc(mx.nd.sample_uniform(lo, hi, shape=3))", None),
    (
        "sample_uniform_f64",
        "desc(mx.nd.sample_uniform(lo, hi, shape=(2, 2), dtype='float64'))",
        None,
    ),
    ("sample_uniform_rows", "in_range(mx.nd.sample_uniform(lo, hi, shape=20)[0, 1], 10, 20)", None),
    ("sample_normal", "desc(mx.nd.sample_normal(lo, hi))", None),
    ("random_nd_params", "desc(mx.nd.random.uniform(lo, hi, shape=(3,)))", None),
    ("random_nd_normal", "desc(mx.nd.random.normal(lo, hi, shape=(3, 4)))", None),
    (
        "sample_multinomial",
        "desc(mx.nd.sample_multinomial(mx.nd.array([[0.5, 0.5]]), shape=3))",
        None,
    ),
    ("shuffle", "mx.nd.shuffle(mx.nd.arange(5)).sort()", None),
    ("uniform_int", "mx.nd.uniform(0, 1, shape=(2,), dtype='int32')", "Invalid Input: 'int32'"),
    (
        "uniform_low_high",
        "mx.nd.random.uniform(2, 1, shape=(2,)).asnumpy()",
        "low must be less or equal to high in uniform distribution",
    ),
    (
        "mixed_params",
        "mx.nd.random.uniform(lo, 2)",
        "Distribution parameters must all have the same type",
    ),
    ("isnan", "mx.nd.contrib.isnan(special)", None),
    ("isinf", "mx.nd.contrib.isinf(special)", None),
    ("isfinite", "mx.nd.contrib.isfinite(special)", None),
    ("isnan_int", "mx.nd.contrib.isnan(mx.nd.array([1, 2], dtype='int32'))", None),
    ("isinf_f16", "mx.nd.contrib.isinf(special.astype('float16'))", None),
    ("allclose", "mx.nd.contrib.allclose(mx.nd.array([1, 2]), mx.nd.array([1, 2.0000001]))", None),
    ("allclose_no", "mx.nd.contrib.allclose(mx.nd.array([1, 2]), mx.nd.array([1, 2.1]))", None),
    (
        "allclose_tol",
        "mx.nd.contrib.allclose(mx.nd.array([1, 2]), mx.nd.array([1, 2.1]), rtol=0.1, atol=0)",
        None,
    ),
    ("allclose_nan", "mx.nd.contrib.allclose(special, special)", None),
    (
        "allclose_nan_ne",
        "mx.nd.contrib.allclose(special, special, equal_nan=False)",
        None,
    ),
    (
        "allclose_f64",
        "mx.nd.contrib.allclose(mx.nd.ones(3, dtype='float64'), mx.nd.ones(3, dtype='float64'))",
        None,
    ),
    (
        "allclose_shapes",
        "mx.nd.contrib.allclose(mx.nd.array([1, 2]), mx.nd.ones((2, 2)))",
        "Operator _contrib_allclose inferring shapes failed",
    ),
    ("from_numpy_shared", "from_numpy_case(True)", None),
    ("from_numpy_copy", "from_numpy_case(False)", None),
    ("from_numpy_refuses", "np_write_refused()", "read-only"),
    (
        "from_numpy_strided",
        "mx.nd.from_numpy(np.ones((3, 4))[:, ::2])",
        "Only c-contiguous arrays are supported for zero-copy",
    ),
    ("const_dumps_nd", "mx.init.Constant(mx.nd.array([[1, 2], [3, 4]])).dumps()", None),
    ("const_dumps_np", "mx.init.Constant(np.array([1.5, 2])).dumps()", None),
    ("const_dumps_scalar", "mx.init.Constant(3).dumps()", None),
    ("const_dumps_float", "mx.init.Constant(0.5).dumps()", None),
]


@pytest.mark.oracle
def test_random_aliases_contrib_from_numpy_match_mxnet() -> None:
    assert_matches_mxnet(PRELUDE, CASES)


def test_aliases_reproducible_and_on_context(ctx: mx.Context) -> None:
    mx.random.seed(7)
    a = mx.nd.uniform(-1, 1, shape=(3, 4), ctx=ctx)
    b = mx.nd.sample_normal(mx.nd.zeros((2,), ctx=ctx), mx.nd.ones((2,), ctx=ctx), shape=(5,))
    mx.random.seed(7)
    assert np.array_equal(mx.nd.random.uniform(-1, 1, shape=(3, 4), ctx=ctx).asnumpy(), a.asnumpy())
    again = mx.nd.random.normal(mx.nd.zeros((2,), ctx=ctx), mx.nd.ones((2,), ctx=ctx), shape=(5,))
    assert np.array_equal(again.asnumpy(), b.asnumpy())
    assert a.context == ctx and b.context == ctx and b.shape == (2, 5)


def test_sample_shape_mismatch_raises() -> None:
    with pytest.raises(mx.base.MXNetError, match="parameter arrays need one shape"):
        mx.nd.sample_uniform(mx.nd.zeros((2,)), mx.nd.ones((3,)))


def test_contrib_on_every_context(ctx: mx.Context) -> None:
    x = mx.nd.array([1, np.nan, np.inf], ctx=ctx)
    assert mx.nd.contrib.isnan(x).asnumpy().tolist() == [0, 1, 0]
    res = mx.nd.contrib.allclose(x, x)
    assert res.context == ctx and res.shape == () and res.asnumpy().item() == 1
