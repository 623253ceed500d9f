"""NDArray operators and ops on every context: MXNet's dtype rules and integer kernels, reductions,
shape ops, layers' primitives, ``out=``, and the errors bad inputs raise (inputs unchanged)."""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError


def test_scalar_is_cast_to_the_array_dtype(ctx: mx.Context) -> None:
    i = mx.nd.array([1, 2, 3], ctx=ctx, dtype="int32")
    assert (i * 2.5).asnumpy().tolist() == [2, 4, 6] and (i * 2.5).dtype is np.int32
    assert (i / 2).asnumpy().tolist() == [0, 1, 1]
    assert (2.5**i).asnumpy().tolist() == [2, 4, 8]
    u = mx.nd.array([1, 2, 3], ctx=ctx, dtype="uint8")
    assert (u - 5).asnumpy().tolist() == [252, 253, 254]
    assert (u * 300).asnumpy().tolist() == [44, 88, 132]
    h = mx.nd.array([1, 2, 3], ctx=ctx, dtype="float16")
    assert np.isinf((h + 1e5).asnumpy()).all()


def test_comparisons_give_zero_one_in_the_input_dtype(ctx: mx.Context) -> None:
    a = mx.nd.array([1, 2, 3], ctx=ctx)
    gt = a > 1
    assert gt.dtype is np.float32 and gt.asnumpy().tolist() == [0, 1, 1]
    i = a.astype("int32")
    assert (i >= 2).dtype is np.int32
    assert (a == a).asnumpy().tolist() == [1, 1, 1]


def test_bool_arrays(ctx: mx.Context) -> None:
    b = mx.nd.array([1, 0, 1], ctx=ctx, dtype="bool")
    doubled = b * 2.5
    assert doubled.dtype is np.int64 and doubled.asnumpy().tolist() == [2, 0, 2]
    assert (-b).dtype is np.int64 and (-b).asnumpy().tolist() == [-1, 0, -1]
    with pytest.raises(MXNetError, match="bool"):
        b + b  # noqa: B018
    with pytest.raises(MXNetError, match="bool"):
        mx.nd.abs(b)
    assert b.sum().dtype is np.bool_ and b.sum().asnumpy().tolist() == [True]


def test_mixed_dtypes_are_an_error(ctx: mx.Context) -> None:
    a = mx.nd.array([1, 2, 3], ctx=ctx)
    i = mx.nd.array([1, 2, 3], ctx=ctx, dtype="int32")
    for op in (lambda: a + i, lambda: i * a, lambda: a > i, lambda: mx.nd.dot(a, i)):
        with pytest.raises(MXNetError, match="int32"):
            op()
    with pytest.raises(MXNetError, match="expected float32, got int32"):
        a += i
    assert a.asnumpy().tolist() == [1, 2, 3]


def test_integer_kernels_follow_c(ctx: mx.Context) -> None:
    a = mx.nd.array([-7, 7, 0, 5, -5, 3], ctx=ctx, dtype="int32")
    b = mx.nd.array([2, -2, 1, 1, 3, -2], ctx=ctx, dtype="int32")
    assert (a / b).asnumpy().tolist() == [-3, -3, 0, 5, -1, -1]  # truncation toward zero
    assert (a % b).asnumpy().tolist() == [1, -1, 0, 0, 1, -1]  # the divisor's sign
    assert (a**b).asnumpy().tolist() == [49, 0, 0, 5, -125, 0]  # float64 power, truncated
    assert mx.nd.sqrt(mx.nd.array([7, 16], ctx=ctx, dtype="int32")).asnumpy().tolist() == [2, 4]
    assert mx.nd.exp(mx.nd.array([20], ctx=ctx, dtype="int64")).asnumpy().tolist() == [485165195]
    assert a.mean().asnumpy().tolist() == [0]
    big = mx.nd.array([2**40 + 3], ctx=ctx, dtype="int64")
    assert (big / 3).asnumpy().tolist() == [(2**40 + 3) // 3]


def test_float_modulo_by_zero_is_zero(ctx: mx.Context) -> None:
    a = mx.nd.array([1.0, -2.5], ctx=ctx)
    assert (3.0 % mx.nd.array([0.0, 2.0], ctx=ctx)).asnumpy().tolist() == [0.0, 1.0]
    assert (a % 0).asnumpy().tolist() == [0.0, 0.0]


def test_inplace_checks(ctx: mx.Context) -> None:
    r = mx.nd.array([[1, 2, 3]], ctx=ctx)
    r += mx.nd.array([1, 2, 3], ctx=ctx)
    assert r.asnumpy().tolist() == [[2, 4, 6]]
    v = mx.nd.array([1, 2, 3], ctx=ctx)
    with pytest.raises(MXNetError, match="Shape inconsistent"):
        v += mx.nd.array([[1, 2, 3]], ctx=ctx)
    assert v.asnumpy().tolist() == [1, 2, 3]
    i = mx.nd.array([1, 2, 3], ctx=ctx, dtype="int32")
    i /= 2
    assert i.dtype is np.int32 and i.asnumpy().tolist() == [0, 1, 1]


def test_reduction_shapes(ctx: mx.Context) -> None:
    x = mx.nd.arange(24, ctx=ctx).reshape((2, 3, 4))
    assert x.sum().shape == (1,) and x.sum().asscalar() == 276
    assert x.sum(axis=1).shape == (2, 4)
    assert x.sum(axis=(0, 2)).asnumpy().tolist() == [60, 92, 124]
    assert x.sum(axis=1, keepdims=True).shape == (2, 1, 4)
    assert x.sum(axis=1, exclude=True).asnumpy().tolist() == [60, 92, 124]
    assert x.sum(axis=()).shape == (1,)
    assert x.mean(axis=-1).asnumpy()[1].tolist() == [13.5, 17.5, 21.5]
    assert x.max(axis=0).shape == (3, 4) and x.min().asscalar() == 0
    assert x.argmax(axis=1).dtype is np.float32 and x.argmax().asnumpy().tolist() == [23]
    np.testing.assert_allclose(
        x.norm().asnumpy(), [np.sqrt((np.arange(24.0) ** 2).sum())], rtol=1e-6
    )
    with pytest.raises(MXNetError, match="Exceeds input dimensions"):
        x.sum(axis=3)
    half = mx.nd.array([60000, 60000], ctx=ctx, dtype="float16")
    assert np.isinf(half.sum().asnumpy()).all() and np.isinf(half.mean().asnumpy()).all()


def test_dot_and_layers(ctx: mx.Context) -> None:
    a = mx.nd.arange(6, ctx=ctx).reshape((2, 3))
    b = mx.nd.arange(12, ctx=ctx).reshape((3, 4))
    np.testing.assert_array_equal(mx.nd.dot(a, b).asnumpy(), a.asnumpy() @ b.asnumpy())
    np.testing.assert_array_equal(
        mx.nd.dot(a, a, transpose_b=True).asnumpy(), a.asnumpy() @ a.asnumpy().T
    )
    assert mx.nd.dot(mx.nd.arange(3, ctx=ctx), mx.nd.arange(3, ctx=ctx)).shape == (1,)
    with pytest.raises(MXNetError, match="dot shape error"):
        mx.nd.dot(a, a)
    x3 = mx.nd.arange(24, ctx=ctx).reshape((2, 3, 4))
    assert mx.nd.dot(x3, b.T).shape == (2, 3, 3)
    w = mx.nd.ones((5, 12), ctx=ctx)
    bias = mx.nd.arange(5, ctx=ctx)
    fc = mx.nd.FullyConnected(x3, w, bias, num_hidden=5)
    assert fc.shape == (2, 5) and fc.asnumpy()[0].tolist() == [66, 67, 68, 69, 70]
    assert mx.nd.Activation(a - 2, act_type="relu").asnumpy().tolist() == [[0, 0, 0], [1, 2, 3]]
    with pytest.raises(MXNetError, match="act_type"):
        mx.nd.Activation(a, act_type="swish")


def test_softmax_family(ctx: mx.Context) -> None:
    x = mx.nd.array([[0.0, 1.0, 2.0], [3.0, 3.0, 3.0]], ctx=ctx)
    sm = mx.nd.softmax(x).asnumpy()
    np.testing.assert_allclose(sm.sum(axis=1), [1, 1], rtol=1e-6)
    np.testing.assert_allclose(sm[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(np.exp(mx.nd.log_softmax(x).asnumpy()), sm, rtol=1e-5)
    np.testing.assert_allclose(mx.nd.softmax(x, axis=0).asnumpy().sum(axis=0), [1, 1, 1], rtol=1e-6)
    picked = mx.nd.pick(x, mx.nd.array([2, 0], ctx=ctx))
    assert picked.asnumpy().tolist() == [2.0, 3.0]
    hot = mx.nd.one_hot(mx.nd.array([0, 2, 5], ctx=ctx), 3)
    assert hot.asnumpy().tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_concat_stack_split(ctx: mx.Context) -> None:
    x = mx.nd.arange(6, ctx=ctx).reshape((2, 3))
    assert mx.nd.concat(x, x).shape == (2, 6)
    assert mx.nd.concat(x, x, dim=0).shape == (4, 3)
    assert mx.nd.stack(x, x).shape == (2, 2, 3)
    assert mx.nd.stack(x, x, axis=-1).shape == (2, 3, 2)
    with pytest.raises(MXNetError, match="Incompatible input shape"):
        mx.nd.concat(x, x.reshape((3, 2)))
    with pytest.raises(MXNetError, match="dtype"):
        mx.nd.concat(x, x.astype("int32"))
    parts = mx.nd.split(x, num_outputs=3, axis=1)
    assert [p.asnumpy().ravel().tolist() for p in parts] == [[0, 3], [1, 4], [2, 5]]


RESHAPES = [
    ((0, -1), (2, 12)),
    ((-2,), (2, 3, 4)),
    ((-3, 4), (6, 4)),
    ((2, -3), (2, 12)),
    ((-4, 1, 2, -2), (1, 2, 3, 4)),
    ((-4, -1, 1, 3, 4), (2, 1, 3, 4)),
    ((6, -1, 1), (6, 4, 1)),
]


@pytest.mark.parametrize("spec,expected", RESHAPES)
def test_reshape_codes(spec: tuple, expected: tuple) -> None:
    x = mx.nd.arange(24).reshape((2, 3, 4))
    assert x.reshape(spec).shape == expected


def test_reshape_errors_and_reverse() -> None:
    x = mx.nd.arange(24).reshape((2, 3, 4))
    assert x.reshape((4, 0, -1), reverse=True).shape == (4, 3, 2)
    assert x.reshape(6, 4).shape == (6, 4) and x.reshape(shape=(6, 4)).shape == (6, 4)
    with pytest.raises(MXNetError, match="more than"):
        x.reshape((5, 5))
    with pytest.raises(ValueError, match="Cannot reshape array of size 24 into shape"):
        x.reshape((2, 2))
    with pytest.raises(MXNetError, match="one and only one"):
        x.reshape((-1, -1))
    with pytest.raises(MXNetError, match="-5"):
        x.reshape(-5)
    with pytest.raises(TypeError, match="unknown keywords"):
        x.reshape((6, 4), order="F")
    assert x.shape == (2, 3, 4)


def test_creation_errors() -> None:
    with pytest.raises(MXNetError, match="unknown"):
        mx.nd.zeros((2, 0))
    with pytest.raises(MXNetError, match="non-negative"):
        mx.nd.zeros((2, -1))
    with pytest.raises(TypeError, match="array like"):
        mx.nd.array("abc")
    with pytest.raises(TypeError, match="array like"):
        mx.nd.array([[1, 2], [3]])
    with pytest.raises(MXNetError, match="Invalid range"):
        mx.nd.arange(3, 0)
    assert mx.nd.full((2, 0), 1).shape == (2, 0)
    assert mx.nd.array([-7, 250], dtype="uint8").asnumpy().tolist() == [249, 250]
    with mx.util.np_shape(True):
        assert mx.nd.zeros((2, 0)).shape == (2, 0)


def test_out_shape_must_match(ctx: mx.Context) -> None:
    out = mx.nd.zeros((3,), ctx=ctx)
    with pytest.raises(MXNetError, match="expected \\[2\\], got \\[3\\]"):
        mx.nd.ones_like(mx.nd.zeros((2,), ctx=ctx), out=out)
    assert out.asnumpy().tolist() == [0, 0, 0]
    res = mx.nd.sqrt(mx.nd.array([4.0, 9.0, 16.0], ctx=ctx), out=out)
    assert res is out and out.asnumpy().tolist() == [2, 3, 4]
