"""``flatten``/``squeeze``/``expand_dims`` copies and views, and ``broadcast_like`` with axes,
against MXNet 1.9.1 (values, shapes, dtypes, exception classes and wording).

MXNet's operators return new arrays; only the methods' ``inplace=True`` (and the legacy
``reshape``) give views. A write into the result shows whether it shares memory.
"""

from __future__ import annotations

import pytest

import mxlite as mx
from tests._support.conformance_harness import Case, assert_matches_mxnet

PRELUDE = """
def written(x, view):
    y = view(x)
    y[:] = -1
    return x

def grad_of(make, f):
    x = make()
    x.attach_grad()
    with mx.autograd.record():
        y = f(x)
    (y * mx.nd.arange(y.size).reshape(y.shape).astype(y.dtype)).backward()
    return x.grad

a23 = lambda: mx.nd.arange(6).reshape((2, 3))
a213 = lambda: mx.nd.arange(6).reshape((2, 1, 3))
n213 = lambda: mx.np.arange(6).reshape((2, 1, 3))
l4 = mx.nd.ones((1, 2, 1, 3))
r4 = mx.nd.ones((5, 6, 7, 8))
"""

CASES: list[Case] = [
    # copies by default, views with inplace=True
    ("flat_copy", "written(a23(), lambda x: x.flatten())", None),
    ("flat_view", "written(a23(), lambda x: x.flatten(inplace=True))", None),
    ("flat_fn", "written(a23(), lambda x: mx.nd.flatten(x))", None),
    ("Flat_fn", "written(a23(), lambda x: mx.nd.Flatten(x))", None),
    ("flat_1d", "mx.nd.arange(3).flatten()", None),
    ("flat_1d_view", "written(mx.nd.arange(3), lambda x: x.flatten(inplace=True))", None),
    ("ed_copy", "written(a23(), lambda x: x.expand_dims(1))", None),
    ("ed_view", "written(a23(), lambda x: x.expand_dims(1, inplace=True))", None),
    ("ed_view_neg", "a23().expand_dims(-1, inplace=True)", None),
    ("ed_fn", "written(a23(), lambda x: mx.nd.expand_dims(x, axis=0))", None),
    ("sq_copy", "written(a213(), lambda x: x.squeeze())", None),
    ("sq_view", "written(a213(), lambda x: x.squeeze(inplace=True))", None),
    ("sq_view_axis", "written(a213(), lambda x: x.squeeze(axis=1, inplace=True))", None),
    ("sq_view_neg", "a213().squeeze(axis=-2, inplace=True)", None),
    ("sq_fn", "written(a213(), lambda x: mx.nd.squeeze(x, axis=1))", None),
    ("sq_all_ones", "mx.nd.ones((1, 1)).squeeze()", None),
    ("sq_all_ones_view", "mx.nd.ones((1, 1)).squeeze(inplace=True)", None),
    ("reshape_view", "written(a23(), lambda x: x.reshape((3, 2)))", None),
    ("np_flatten", "written(n213(), lambda x: x.flatten()).as_nd_ndarray()", None),
    ("np_squeeze", "written(n213(), lambda x: x.squeeze()).as_nd_ndarray()", None),
    ("np_squeeze_fn", "written(n213(), lambda x: mx.np.squeeze(x)).as_nd_ndarray()", None),
    ("np_ed_fn", "written(n213(), lambda x: mx.np.expand_dims(x, 0)).as_nd_ndarray()", None),
    # gradients flow through the copies
    ("grad_flat", "grad_of(a213, lambda x: x.flatten())", None),
    ("grad_sq", "grad_of(a213, lambda x: x.squeeze())", None),
    ("grad_ed", "grad_of(a23, lambda x: mx.nd.expand_dims(x, 2))", None),
    ("grad_np_flat", "grad_of(n213, lambda x: x.flatten().as_nd_ndarray())", None),
    # errors: the operators' MXNetError, the inplace methods' AssertionError
    ("ed_range", "a213().expand_dims(7)", "axis must be in the range [-3, 3] (7 provided)"),
    ("ed_range_neg", "mx.nd.expand_dims(a213(), -5)", "axis must be in the range [-3, 3]"),
    ("ed_range_view", "a213().expand_dims(7, inplace=True)", "axis 7 is out of range for 3d"),
    (
        "sq_size",
        "a213().squeeze(axis=0)",
        "cannot select an axis to squeeze out which has size=2 not equal to one",
    ),
    ("sq_range", "mx.nd.squeeze(a213(), axis=5)", "axis 5 is out of bounds for array of dim"),
    ("sq_dup", "mx.nd.squeeze(a213(), axis=(1, 1))", "duplicate value in axis"),
    ("sq_size_view", "a213().squeeze(axis=0, inplace=True)", "Squeeze target axis 0 must be"),
    ("sq_range_view", "a213().squeeze(axis=5, inplace=True)", "axis 5 is out of range for 3d"),
    ("sq_dup_view", "a213().squeeze(axis=(1, 1), inplace=True)", "contains duplicate which is"),
    ("np_sq_size", "mx.np.squeeze(n213(), axis=0)", "cannot select an axis to squeeze out"),
    # broadcast_like with and without axes
    ("bl_axes", "mx.nd.broadcast_like(l4, r4, lhs_axes=(0, 2), rhs_axes=(1, 3))", None),
    ("bl_neg_axes", "mx.nd.broadcast_like(l4, r4, lhs_axes=(-4,), rhs_axes=(-1,))", None),
    ("bl_int_axes", "mx.nd.broadcast_like(l4, r4, lhs_axes=0, rhs_axes=2)", None),
    (
        "bl_swap",
        "mx.nd.broadcast_like(mx.nd.ones((1, 1)), mx.nd.ones((4, 3)), lhs_axes=(0, 1), "
        "rhs_axes=(1, 0))",
        None,
    ),
    (
        "bl_list_axes",
        "mx.nd.broadcast_like(mx.nd.ones((1, 1)), mx.nd.ones((4, 3)), lhs_axes=[0], rhs_axes=[1])",
        None,
    ),
    (
        "bl_values",
        "mx.nd.broadcast_like(mx.nd.array([[1], [2]]), mx.nd.ones((2, 4, 3)).T, lhs_axes=(1,), "
        "rhs_axes=(1,))",
        None,
    ),
    ("bl_plain", "mx.nd.broadcast_like(mx.nd.array([[1, 2, 3]]), mx.nd.ones((2, 3)))", None),
    (
        "bl_rank",
        "mx.nd.broadcast_like(mx.nd.ones((3,)), mx.nd.ones((4, 3)))",
        "Operand of shape [3] cannot be broadcasted to [4,3]",
    ),
    (
        "bl_size",
        "mx.nd.broadcast_like(mx.nd.ones((2, 3)), mx.nd.ones((4, 3)))",
        "Array cannot be broadcasted from [2,3] to [4,3]",
    ),
    (
        "bl_only_lhs",
        "mx.nd.broadcast_like(l4, r4, lhs_axes=(0,))",
        "Array cannot be broadcasted from [1,2,1,3] to [5,6,7,8]",
    ),
    (
        "bl_len",
        "mx.nd.broadcast_like(l4, r4, lhs_axes=(0, 2), rhs_axes=(1,))",
        "Input_axis and other_axis size does not match",
    ),
    ("bl_empty", "mx.nd.broadcast_like(l4, r4, lhs_axes=(), rhs_axes=())", "Empty axes tuple"),
    (
        "bl_not1",
        "mx.nd.broadcast_like(l4, r4, lhs_axes=(1,), rhs_axes=(0,))",
        "Input axis 1 at dimension 0 cannot be broadcasted to 5",
    ),
    (
        "bl_lhs_range",
        "mx.nd.broadcast_like(l4, r4, lhs_axes=(9,), rhs_axes=(0,))",
        "Invalid dimension specified in lhs_axes: 9",
    ),
    (
        "bl_rhs_range",
        "mx.nd.broadcast_like(l4, r4, lhs_axes=(0,), rhs_axes=(-5,))",
        "Invalid dimension specified in rhs_axes: -5",
    ),
    ("bl_method", "l4.broadcast_like(r4, lhs_axes=(0,), rhs_axes=(0,))", "lhs_axes"),
    ("bl_method_plain", "mx.nd.ones((1, 3)).broadcast_like(mx.nd.ones((2, 3)))", None),
]


@pytest.mark.oracle
def test_shape_copies_and_broadcast_like_match_mxnet() -> None:
    assert_matches_mxnet(PRELUDE, CASES)


def test_copies_on_every_context(ctx: mx.Context) -> None:
    x = mx.nd.arange(6, ctx=ctx).reshape((2, 1, 3))
    for y in (x.flatten(), x.squeeze(), x.expand_dims(0), mx.nd.flatten(x)):
        y[:] = -1
        assert y.context == ctx
    assert x.asnumpy().ravel().tolist() == [0, 1, 2, 3, 4, 5]
    for y in (x.flatten(inplace=True), x.squeeze(inplace=True), x.expand_dims(0, inplace=True)):
        y[:] = 7
        assert x.asnumpy().ravel().tolist() == [7] * 6
        x[:] = 0
    out = mx.nd.broadcast_like(mx.nd.ones((1, 2), ctx=ctx), x, lhs_axes=0, rhs_axes=-1)
    assert out.shape == (3, 2) and out.context == ctx


def test_bad_inplace_squeeze_leaves_array_alone() -> None:
    x = mx.nd.arange(6).reshape((2, 1, 3))
    with pytest.raises(AssertionError, match="must be size 1"):
        x.squeeze(axis=0, inplace=True)
    with pytest.raises(mx.base.MXNetError, match="must be size 1"):
        x.squeeze(axis=0, inplace=True)
    assert x.shape == (2, 1, 3) and x.asnumpy().ravel().tolist() == list(range(6))
