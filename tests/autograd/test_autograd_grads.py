"""Every recorded op's gradient against central finite differences (float64)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, nd
from tests._support.gradcheck import check_grad

RNG = np.random.default_rng(42)


def _u(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return RNG.uniform(lo, hi, size=shape)


def _c(values: Any, like: Any, dtype: str = "float64") -> Any:
    """A constant array on ``like``'s context."""
    return nd.array(np.asarray(values), ctx=like.context, dtype=dtype)


def _away_from(values: np.ndarray, points: tuple[float, ...], gap: float = 0.1) -> np.ndarray:
    """Push values at least ``gap`` away from kinks, so finite differences stay one-sided-free."""
    out = values.copy()
    for p in points:
        close = np.abs(out - p) < gap
        out[close] = p + np.where(out[close] >= p, gap, -gap)
    return out


POS = _u(2, 3, lo=0.5, hi=2.0)
A23 = _away_from(_u(2, 3), (0.0,))
B23 = _away_from(_u(2, 3), (0.0,))
B13 = _away_from(_u(1, 3), (0.0,))
B3 = _away_from(_u(3), (0.0,))

# (id, function of NDArrays, inputs)
CASES: list[tuple[str, Callable[..., Any], list[np.ndarray]]] = [
    # broadcasting binary ops, array-array
    ("add", lambda a, b: a + b, [A23, B13]),
    ("add_bcast_lead", lambda a, b: nd.broadcast_add(a, b), [A23, B3]),
    ("sub", lambda a, b: a - b, [A23, B13]),
    ("mul", lambda a, b: a * b, [A23, B13]),
    ("mul_same", lambda a, b: a * b, [A23, B23]),
    ("div", lambda a, b: a / b, [A23, B13]),
    ("mod", lambda a, b: a % b, [_u(2, 3, lo=2.1, hi=2.9), _u(2, 3, lo=0.7, hi=0.9)]),
    ("pow", lambda a, b: a**b, [POS, _u(1, 3)]),
    ("maximum", lambda a, b: nd.maximum(a, b), [A23, _away_from(A23 + 0.5, (0,)) - 0.5 * B23]),
    ("minimum", lambda a, b: nd.minimum(a, b), [A23, B23]),
    # scalar forms, both orders
    ("add_scalar", lambda a: a + 2.5, [A23]),
    ("radd_scalar", lambda a: 2.5 + a, [A23]),
    ("sub_scalar", lambda a: a - 1.5, [A23]),
    ("rsub_scalar", lambda a: 1.5 - a, [A23]),
    ("mul_scalar", lambda a: a * -3.0, [A23]),
    ("div_scalar", lambda a: a / 4.0, [A23]),
    ("rdiv_scalar", lambda a: 3.0 / a, [A23]),
    ("mod_scalar", lambda a: a % 0.7, [_u(2, 3, lo=1.45, hi=1.95)]),
    ("rmod_scalar", lambda a: 2.5 % a, [_u(2, 3, lo=0.9, hi=1.1)]),
    ("pow_scalar", lambda a: a**3.0, [A23]),
    ("rpow_scalar", lambda a: 2.0**a, [A23]),
    ("maximum_scalar", lambda a: nd.maximum(a, 0.3), [_away_from(A23, (0.3,))]),
    ("minimum_scalar", lambda a: nd.minimum(a, 0.3), [_away_from(A23, (0.3,))]),
    # unary math
    ("abs", lambda a: nd.abs(a), [A23]),
    ("negative", lambda a: -a, [A23]),
    ("sqrt", lambda a: nd.sqrt(a), [POS]),
    ("rsqrt", lambda a: nd.rsqrt(a), [POS]),
    ("square", lambda a: nd.square(a), [A23]),
    ("exp", lambda a: nd.exp(a), [A23]),
    ("log", lambda a: nd.log(a), [POS]),
    ("reciprocal", lambda a: nd.reciprocal(a), [A23]),
    ("relu", lambda a: nd.relu(a), [A23]),
    ("sigmoid", lambda a: nd.sigmoid(a), [A23]),
    ("tanh", lambda a: nd.tanh(a), [A23]),
    ("softrelu", lambda a: nd.Activation(a, act_type="softrelu"), [A23]),
    ("softsign", lambda a: nd.Activation(a, act_type="softsign"), [A23]),
    ("sin", lambda a: nd.sin(a), [A23]),
    ("cos", lambda a: nd.cos(a), [A23]),
    ("log1p", lambda a: nd.log1p(a), [POS]),
    ("expm1", lambda a: nd.expm1(a), [A23]),
    ("clip", lambda a: nd.clip(a, -1.0, 1.0), [_away_from(A23, (-1.0, 1.0))]),
    ("leaky_relu", lambda a: nd.LeakyReLU(a, slope=0.1), [A23]),
    # reductions
    ("sum_all", lambda a: nd.sum(a), [A23]),
    ("sum_axis", lambda a: nd.sum(a, axis=1), [A23]),
    ("sum_keepdims", lambda a: a.sum(axis=0, keepdims=True), [A23]),
    ("sum_exclude", lambda a: nd.sum(a, axis=0, exclude=True), [_u(2, 3, 2)]),
    ("mean_all", lambda a: nd.mean(a), [A23]),
    ("mean_axes", lambda a: nd.mean(a, axis=(0, 2)), [_u(2, 3, 2)]),
    ("max_axis", lambda a: nd.max(a, axis=1), [A23]),
    ("min_all", lambda a: nd.min(a), [A23]),
    ("prod_axis", lambda a: nd.prod(a, axis=1), [A23]),
    ("prod_all", lambda a: nd.prod(a), [A23]),
    ("nansum", lambda a: nd.nansum(a, axis=0), [A23]),
    ("norm2", lambda a: nd.norm(a), [A23]),
    ("norm2_axis", lambda a: nd.norm(a, axis=1), [A23]),
    ("norm1", lambda a: nd.norm(a, ord=1, axis=0), [A23]),
    # linear algebra and layers
    ("dot", lambda a, b: nd.dot(a, b), [_u(2, 3), _u(3, 4)]),
    ("dot_ta", lambda a, b: nd.dot(a, b, transpose_a=True), [_u(3, 2), _u(3, 4)]),
    ("dot_tb", lambda a, b: nd.dot(a, b, transpose_b=True), [_u(2, 3), _u(4, 3)]),
    ("dot_tab", lambda a, b: nd.dot(a, b, True, True), [_u(3, 2), _u(4, 3)]),
    ("dot_vec", lambda a, b: nd.dot(a, b), [_u(3), _u(3)]),
    ("dot_nd", lambda a, b: nd.dot(a, b), [_u(2, 2, 3), _u(3, 2)]),
    ("batch_dot", lambda a, b: nd.batch_dot(a, b), [_u(2, 2, 3), _u(2, 3, 2)]),
    ("batch_dot_tb", lambda a, b: nd.batch_dot(a, b, transpose_b=True), [_u(2, 2, 3), _u(2, 4, 3)]),
    (
        "fully_connected",
        lambda x, w, b: nd.FullyConnected(x, w, b, num_hidden=4),
        [_u(2, 3), _u(4, 3), _u(4)],
    ),
    (
        "fc_flatten",
        lambda x, w: nd.FullyConnected(x, w, num_hidden=2, no_bias=True),
        [_u(2, 2, 3), _u(2, 6)],
    ),
    ("softmax", lambda a: nd.softmax(a), [A23]),
    ("softmax_axis0_temp", lambda a: nd.softmax(a, axis=0, temperature=2.0), [A23]),
    ("log_softmax", lambda a: nd.log_softmax(a), [A23]),
    ("log_softmax_temp", lambda a: nd.log_softmax(a, axis=0, temperature=0.5), [A23]),
    ("pick", lambda a: nd.pick(a, _c([2, 0], a), axis=1), [A23]),
    (
        "pick_keepdims_axis0",
        lambda a: nd.pick(a, _c([1, 0, 1], a), axis=0, keepdims=True),
        [A23],
    ),
    # shape ops and indexing
    ("transpose", lambda a: nd.transpose(a), [_u(2, 3, 4)]),
    ("transpose_axes", lambda a: nd.transpose(a, axes=(1, 2, 0)), [_u(2, 3, 4)]),
    ("T", lambda a: a.T, [A23]),
    ("reshape", lambda a: a.reshape((3, 2)) * _c(np.arange(6.0).reshape(3, 2), a), [A23]),
    ("reshape_codes", lambda a: a.reshape((0, -1)), [_u(2, 3, 2)]),
    ("flatten", lambda a: nd.flatten(a), [_u(2, 3, 2)]),
    ("expand_dims", lambda a: nd.expand_dims(a, axis=1), [A23]),
    ("broadcast_to", lambda a: nd.broadcast_to(a, shape=(2, 4, 3)), [_u(2, 1, 3)]),
    ("concat", lambda a, b: nd.concat(a, b, dim=0), [A23, B13]),
    ("concat_neg", lambda a, b: nd.concat(a, b, dim=-1), [A23, _u(2, 2)]),
    ("stack", lambda a, b: nd.stack(a, b, axis=1), [A23, B23]),
    ("add_n", lambda a, b, c: nd.add_n(a, b, c), [A23, B23, A23 * 0.5]),
    ("where", lambda a, b: nd.where(_c([[1, 0, 1], [0, 0, 1]], a), a, b), [A23, B23]),
    ("slice_axis", lambda a: nd.slice_axis(a, axis=1, begin=1, end=3), [A23]),
    ("split", lambda a: nd.split(a, num_outputs=3, axis=1)[1] * 2.0, [A23]),
    ("getitem_int", lambda a: a[1], [A23]),
    ("getitem_slice", lambda a: a[0:1], [A23]),
    ("getitem_step", lambda a: a[:, ::2], [A23]),
    ("getitem_tuple", lambda a: a[1, 1:], [A23]),
    ("getitem_fancy_dup", lambda a: a[_c([0, 0, 1], a, "int64")], [A23]),
    # a chain mixing several ops, with one input used twice
    (
        "chain_reuse",
        lambda x, w: nd.sum(nd.tanh(nd.dot(x, w)) * x[:, :2] + nd.square(w).sum()),
        [_u(3, 4), _u(4, 2)],
    ),
]


@pytest.mark.parametrize("name,fn,inputs", CASES, ids=[c[0] for c in CASES])
def test_grad_matches_finite_differences(
    name: str, fn: Callable[..., Any], inputs: list[np.ndarray], ctx: mx.Context
) -> None:
    check_grad(fn, inputs, ctx=ctx)


def test_cast_gradient_returns_to_input_dtype(ctx: mx.Context) -> None:
    x = nd.array([0.5, -2.0, 3.0], ctx=ctx, dtype="float32")
    x.attach_grad()
    with autograd.record():
        y = nd.square(x.astype("float64")) * 1.5
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.asnumpy(), [1.5, -6.0, 9.0])


def test_prod_gradient_exact_at_zero(ctx: mx.Context) -> None:
    """mxlite gives the product of the other elements where MXNet returns NaN (documented)."""
    x = nd.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0]], ctx=ctx)
    x.attach_grad()
    with autograd.record():
        y = nd.prod(x, axis=1)
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize(
    "fn,data,expected",
    [
        # MXNet 1.9.1's conventions at kinks and ties (from the oracle)
        (lambda a: nd.abs(a), [-1.0, 0.0, 3.0], [-1.0, 0.0, 1.0]),
        (lambda a: nd.relu(a), [-1.0, 0.0, 3.0], [0.0, 0.0, 1.0]),
        (lambda a: nd.clip(a, 1.0, 3.0), [0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 1.0, 1.0, 0.0]),
        (lambda a: nd.max(a), [1.0, 3.0, 3.0], [0.0, 1.0, 1.0]),
        (lambda a: nd.min(a), [1.0, 1.0, 3.0], [1.0, 1.0, 0.0]),
        (lambda a: nd.maximum(a, 2.0), [1.0, 2.0, 3.0], [0.0, 1.0, 1.0]),
        (lambda a: nd.minimum(a, 2.0), [1.0, 2.0, 3.0], [1.0, 1.0, 0.0]),
        (lambda a: nd.sign(a) + nd.floor(a) + nd.round(a), [-1.5, 0.2, 3.0], [0.0, 0.0, 0.0]),
        (lambda a: nd.nansum(a), [1.0, float("nan"), 2.0], [1.0, 0.0, 1.0]),
        (lambda a: a[_c([0, 0, 1], a, "float32")], [1.0, 2.0, 3.0], [2.0, 1.0, 0.0]),
        (lambda a: 7.0 % a, [5.0, 3.0, -2.0], [-1.0, -2.0, 4.0]),
    ],
)
def test_mxnet_conventions_at_kinks(fn: Any, data: list, expected: list, ctx: mx.Context) -> None:
    x = nd.array(data, ctx=ctx)
    x.attach_grad()
    with autograd.record():
        y = fn(x)
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), np.array(expected, dtype=np.float32))


def test_maximum_minimum_ties_go_left(ctx: mx.Context) -> None:
    a = nd.array([1.0, 2.0, 3.0], ctx=ctx)
    b = nd.array([1.0, 1.0, 4.0], ctx=ctx)
    for fn, ga, gb in [
        (nd.maximum, [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]),
        (nd.minimum, [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]),
    ]:
        a.attach_grad()
        b.attach_grad()
        with autograd.record():
            y = fn(a, b)
        y.backward()
        np.testing.assert_array_equal(a.grad.asnumpy(), ga)
        np.testing.assert_array_equal(b.grad.asnumpy(), gb)


def test_comparison_gives_zero_gradient(ctx: mx.Context) -> None:
    x = nd.array([1.0, 2.0, 3.0], ctx=ctx)
    x.attach_grad()
    x.grad[:] = 5.0
    with autograd.record():
        y = (x > 1.5) * x
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [0.0, 1.0, 1.0])


def test_float16_and_float32_gradients_keep_dtype(ctx: mx.Context) -> None:
    for dtype in ("float16", "float32"):
        x = nd.array([1.0, 2.0], ctx=ctx, dtype=dtype)
        x.attach_grad()
        with autograd.record():
            y = (x * x).sum()
        y.backward()
        assert x.grad.dtype == np.dtype(dtype).type
        np.testing.assert_array_equal(x.grad.asnumpy(), [2.0, 4.0])


@pytest.mark.parametrize(
    "op,forward,derivative",
    [
        ("log2", np.log2, lambda a: 1 / (a * np.log(2.0))),
        ("log10", np.log10, lambda a: 1 / (a * np.log(10.0))),
        ("tan", np.tan, lambda a: 1 / np.cos(a) ** 2),
        ("cbrt", np.cbrt, lambda a: 1 / (3 * np.cbrt(a) ** 2)),
    ],
)
def test_rules_of_extra_unary_ops(op: str, forward: Any, derivative: Any, ctx: mx.Context) -> None:
    """Rules for ops that record under these names (checked through record_op directly)."""
    a = np.array([0.3, 0.7, 1.2])
    x = nd.array(a, ctx=ctx, dtype="float64")
    x.attach_grad()
    out = nd.array(forward(a), ctx=ctx, dtype="float64")
    with autograd.record():
        autograd.record_op(op, [x], out, {})
    out.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), derivative(a), rtol=1e-12)
