"""Scenarios from MXNet 1.9.1's own ``tests/python/unittest/test_ndarray.py`` (set-item on
trivial shapes, reshape codes, slicing, ``broadcast_like`` with axes, ``topk``/``sort`` dtypes,
comparisons with a scalar on the left, ``out=`` of creation ops, fluent methods, truth values,
NumPy-integer keys), rewritten as one batch and run under MXNet 1.9.1 and mxlite.

Scenarios of that file that need operators mxlite does not have (``nanprod``) are listed in
the README; ``choose_element_0index``, ``fill_element_0index``, ``onehot_encode``,
``argmax_channel``, the hyperbolic and inverse trigonometric functions, ``degrees``/``radians``, ``rcbrt``,
``softmin``, ``shape_array``/``size_array`` and ``broadcast_axis(es)`` it needed are checked here
(values and gradients).
"""

from __future__ import annotations

import pytest

from tests._support.conformance_harness import Case, assert_matches_mxnet

PRELUDE = """
def setitem_trivial(shape):
    x = mx.nd.zeros(shape)
    x[:] = np.ones(shape)
    return x
A = mx.nd.array(np.arange(2520).reshape((3, 4, 5, 6, 7)) % 97)
a22 = mx.nd.array([[0, 1], [2, 3]])
def choose():
    return mx.nd.choose_element_0index(
        mx.nd.array(np.arange(20).reshape(4, 5)), mx.nd.array([0, 2, 4, 1])
    )

def fill():
    return mx.nd.fill_element_0index(
        mx.nd.array(np.arange(20).reshape(4, 5)), mx.nd.array([9, 8, 7, 6]), mx.nd.array([0, 2, 4, 1])
    )

def onehot():
    out = mx.nd.zeros((4, 5))
    res = mx.nd.onehot_encode(mx.nd.array([0, 2, 4, 1]), out=out)
    return mx.nd.concat(out, res, dim=0)

def garbage():
    import os, tempfile
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "x.params")
        mx.nd.save(f, [mx.nd.ones((3,)), mx.nd.zeros((2, 2))])
        data = open(f, "rb").read()
    return mx.nd.load_frombuffer(data[:-10])
def outs():
    out = mx.nd.zeros((2, 2))
    mx.nd.ones((2, 2), out=out)
    r1 = out.copy()
    mx.nd.full((2, 2), 2, out=out)
    return mx.nd.concat(r1, out, dim=0)
def iterate():
    return mx.nd.concat(*[v for v in mx.nd.array([1, 2, 3])], dim=0)
def bl(l, r, la, ra):
    return mx.nd.broadcast_like(mx.nd.ones(l), mx.nd.ones(r), lhs_axes=la, rhs_axes=ra)
def grad_of(name, x):
    x = x.copy()
    x.attach_grad()
    with mx.autograd.record():
        y = getattr(x, name)()
    y.backward(mx.nd.ones_like(y) * 0.5)
    return mx.nd.concat(y, x.grad, dim=0)

U = mx.nd.array([-0.9, -0.3, 0.0, 0.4, 0.8])
W = mx.nd.array([1.2, 2.0, 3.5])
T = mx.nd.array(np.arange(5 * 17 * 6).reshape(5, 17, 6) / 100.0)
"""

_ELEMENTWISE = [
    ("sinh", "U"),
    ("cosh", "U"),
    ("arcsin", "U"),
    ("arccos", "U"),
    ("arctan", "U"),
    ("arcsinh", "U"),
    ("arccosh", "W"),
    ("arctanh", "U"),
    ("degrees", "U"),
    ("radians", "U"),
    ("rcbrt", "W"),
]

CASES: list[Case] = [
    *[(f"grad_{n}", f"grad_of({n!r}, {x})", None) for n, x in _ELEMENTWISE],
    *[
        (f"int_{n}", f"mx.nd.{n}(mx.nd.array([1, 2, 3], dtype='int32'))", None)
        for n, _ in _ELEMENTWISE
    ],
    ("nd_degrees_f16", "mx.nd.degrees(mx.nd.array([1, 2], dtype='float16'))", None),
    ("softmin", "mx.nd.softmin(mx.nd.array([[1, 2, 3], [0, 0, 1]]))", None),
    (
        "softmin_axis_t",
        "mx.nd.softmin(mx.nd.array([[1, 2, 3], [0, 0, 1]]), axis=0, temperature=2)",
        None,
    ),
    ("f_softmin", "T.softmin()", None),
    ("f_shape_array", "T.shape_array()", None),
    ("f_size_array", "T.size_array()", None),
    ("f_broadcast_axes", "T[:, :, :1].broadcast_axes(axis=(2,), size=(5,))", None),
    (
        "broadcast_axis",
        "mx.nd.broadcast_axis(mx.nd.ones((2, 1, 1)), axis=(1, 2), size=(3, 4))",
        None,
    ),
    (
        "broadcast_axis_not1",
        "mx.nd.broadcast_axis(mx.nd.ones((2, 3)), axis=1, size=4)",
        "Broadcasting axis must have size 1",
    ),
    ("f_rcbrt", "(T + 1).rcbrt()", None),
    ("argmax_channel", "mx.nd.argmax_channel(mx.nd.array([[0, 5, 2], [3, 4, 1]]))", None),
    ("f_argmax_channel", "T.argmax_channel()", None),
    ("choose", "choose()", None),
    ("choose_clip", "mx.nd.choose_element_0index(a22, mx.nd.array([1, 7]))", None),
    ("fill", "fill()", None),
    (
        "fill_out_of_range",
        "mx.nd.fill_element_0index(a22, mx.nd.array([9, 8]), mx.nd.array([0, -1]))",
        None,
    ),
    ("onehot", "onehot()", None),
    ("onehot_out_of_range", "mx.nd.onehot_encode(mx.nd.array([1, 5]), mx.nd.zeros((2, 4)))", None),
    ("f_degrees", "T.degrees()", None),
    ("setitem_0d", "setitem_trivial(())", None),
    ("setitem_1", "setitem_trivial((1,))", None),
    ("setitem_111", "setitem_trivial((1, 1, 1))", None),
    (
        "ews_int",
        "mx.nd.ElementWiseSum(mx.nd.ones((3,), dtype='int32'), mx.nd.ones((3,), dtype='int32') * 2)",
        None,
    ),
    (
        "reshape_m4",
        "(mx.nd.arange(30) + 1).reshape(2, 3, 5).reshape(-1, 15).reshape(0, -4, 3, -1)",
        None,
    ),
    ("reshape_rev", "(mx.nd.arange(30) + 1).reshape(2, 3, 5).reshape(-1, 0, reverse=True)", None),
    ("reshape_m3", "(mx.nd.arange(30)).reshape(2, 3, 5).reshape(-3, -1)", None),
    ("scalar_init", "mx.nd.array(np.ones([]))", None),
    ("load_garbage", "garbage()", None),
    ("slice_mixed", "A[1, 3:4, :, 1:5]", None),
    ("slice_neg_scalar", "A[-1, -2, -3, -4, -5]", None),
    ("adv_lists", "a22[[1, 1, 0], [0, 1, 0]]", None),
    ("adv_nd", "a22[mx.nd.array([1, 1, 0]), mx.nd.array([0, 1, 0])]", None),
    ("crop", "mx.nd.crop(mx.nd.ones((2, 3, 4)), begin=(0, 0, 0), end=(2, 1, 3))", None),
    ("concatenate", "mx.nd.concatenate([mx.nd.ones((2, 3)), mx.nd.zeros((2, 1))], axis=1)", None),
    ("random_uniform_top", "mx.random.uniform(-10, 10, (10,)).shape", None),
    ("clip", "mx.nd.clip(mx.nd.array([-5, 0, 5]), -2, 2)", None),
    (
        "dot_tt",
        "mx.nd.dot(mx.nd.ones((4, 3)), mx.nd.ones((5, 4)), transpose_a=True, transpose_b=True)",
        None,
    ),
    ("bl_a", "bl((1,), (5,), (0,), (-1,))", None),
    ("bl_b", "bl((1, 7, 9, 1, 1), (9,), (-2,), (0,))", None),
    ("bl_c", "bl((1, 7, 9, 1, 1), (9, 1), (-2, -1), (-2, -1))", None),
    ("bl_d", "bl((2, 1), (1, 7, 9, 1, 1), (1,), (-3,))", None),
    ("moveaxis", "mx.nd.moveaxis(mx.nd.array(np.arange(12).reshape(2, 2, 3)), 0, 2)", None),
    ("arange_repeat", "mx.nd.arange(start=0.5, stop=4.2, step=1.1, repeat=3)", None),
    (
        "arange_int_big",
        "mx.nd.arange(start=0, stop=10000**2, step=10001, dtype='int32')[-3:]",
        None,
    ),
    ("topk_idx_dtype", "mx.nd.topk(mx.nd.array([[3, 1, 2]]), k=2)", None),
    ("topk_f64", "mx.nd.topk(mx.nd.array([[3, 1, 2]]), k=2, dtype=np.float64)", None),
    ("topk_mask", "mx.nd.topk(mx.nd.array([[3, 1, 2]]), k=2, ret_typ='mask')", None),
    (
        "topk_none",
        "mx.nd.topk(mx.nd.array([[3, 1], [2, 4]]), axis=None, k=3, is_ascend=False, dtype=np.int32)",
        None,
    ),
    ("sort_none", "mx.nd.sort(mx.nd.array([[3, 1], [2, 4]]), axis=None, is_ascend=False)", None),
    ("cmp_rscalar", "0 == mx.nd.zeros((2, 3))", None),
    ("cmp_rgt", "0 > mx.nd.ones((2, 3))", None),
    ("cmp_rle", "1 <= mx.nd.ones((2, 3))", None),
    (
        "take_2d",
        "mx.nd.take(mx.nd.array(np.arange(12).reshape(4, 3)), mx.nd.array([[0, 3], [1, 1]]))",
        None,
    ),
    ("iterate", "iterate()", None),
    ("outs", "outs()", None),
    ("eye", "mx.nd.eye(3, 4, -1)", None),
    ("eye_k", "mx.nd.eye(4, k=2)", None),
    ("arange_int64", "mx.nd.arange(0, 5, dtype='int64')", None),
    ("f_norm", "T.norm()", None),
    ("f_rint", "(T * 10).rint()", None),
    ("f_fix", "(T * -10).fix()", None),
    ("f_trunc", "(T * -10).trunc()", None),
    ("f_nansum", "T.nansum(axis=(1, 2))", None),
    ("f_slice", "T.slice(begin=(2, 5, 1), end=(4, 7, 6))", None),
    ("f_slice_like", "T.slice_like(axes=(0, -2), shape_like=mx.nd.zeros((3, 3)))", None),
    ("f_pick", "T[:, :, 0].pick(axis=1, index=mx.nd.array([[2], [3], [5], [6], [11]]))", None),
    (
        "f_pad",
        "mx.nd.ones((1, 2, 2, 3)).pad(mode='constant', pad_width=(0, 0, 0, 0, 1, 0, 0, 2))",
        None,
    ),
    ("f_squeeze", "mx.nd.ones((2, 1, 3, 1, 4)).squeeze(axis=(1, 3))", None),
    ("f_one_hot", "mx.nd.array([0, 2]).one_hot(depth=4)", None),
    ("bool_empty", "bool(mx.nd.array([]))", None),
    ("bool_zero", "bool(mx.nd.zeros((1,)))", None),
    ("bool_ambiguous", "bool(mx.nd.ones((2, 3, 4)))", "ambiguous"),
    ("idx_np_int32", "A[np.int32(2)]", None),
    ("idx_np_slice", "A[slice(np.int32(1), np.int64(3))]", None),
    ("idx_neg_step", "A[slice(2, 0, -1)]", None),
    ("idx_int64_tuple", "A[np.int64(1), np.int32(2)]", None),
    ("rint_ties", "mx.nd.rint(mx.nd.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1.49, -1.51]))", None),
    ("rint_ties_f64", "mx.nd.array([-0.5, 0.5, 1.5], dtype='float64').rint()", None),
    ("np_rint_ties", "mx.np.rint(mx.np.array([-1.5, -0.5, 0.5, 2.5])).as_nd_ndarray()", None),
    (
        "f_reshape_like_rhs",
        "mx.nd.ones((5, 17, 2, 3)).reshape_like(rhs=mx.nd.ones((30, 17)))",
        None,
    ),
]


@pytest.mark.oracle
def test_mxnet_unittest_scenarios_match() -> None:
    assert_matches_mxnet(PRELUDE, CASES, rtol=1e-6)
