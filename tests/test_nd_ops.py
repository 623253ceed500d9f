"""Behaviour of the indexing, sorting, slicing, layout, activation, normalization and linalg ops
on every context: gradients against finite differences (float64), results and gradients equal
to cpu(0)'s, dtypes kept, multi-output autograd nodes, bad inputs that change nothing.

MXNet 1.9.1's values are compared in tests/test_nd_ops_oracle.py; the places where mxlite is
deliberately different (sort's gradient, selu's gradient, float16 sort, permissive pad/flip)
are pinned down here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, nd
from mxlite.base import MXNetError
from tests.gradcheck import check_grad

RNG = np.random.default_rng(7)


def _u(*shape: int) -> np.ndarray:
    """Distinct values (no ties: sort and topk gradients are then well defined), away from 0."""
    vals = RNG.permutation(np.arange(1, int(np.prod(shape)) + 1)).astype(np.float64)
    return (vals / vals.size * 4 - 2.05).reshape(shape)


def _c(values: Any, like: Any, dtype: str = "float64") -> Any:
    return nd.array(np.asarray(values), ctx=like.context, dtype=dtype)


A34 = _u(3, 4)
A234 = _u(2, 3, 4)

# name -> (function of the inputs, input arrays); each is differentiable in every input.
GRAD_CASES: dict[str, tuple[Callable[..., Any], list[np.ndarray]]] = {
    "take clip": (lambda x: nd.take(x, _c([0, 2, 5, -1, 0], x)), [A34]),
    "take wrap axis": (lambda x: nd.take(x, _c([[0, 5], [-1, 3]], x), axis=1, mode="wrap"), [A34]),
    "gather_nd": (lambda x: nd.gather_nd(x, _c([[0, 1, 1], [1, 2, 2]], x)), [A234]),
    "scatter_nd": (lambda x: nd.scatter_nd(x, _c([[0, 1, 1], [2, 2, 0]], x), (2, 3, 4)), [A34]),
    "Embedding": (
        lambda w: nd.Embedding(_c([[0, 2], [2, 9]], w), w, input_dim=3, output_dim=4),
        [A34],
    ),
    "topk value": (lambda x: nd.topk(x, k=2, ret_typ="value"), [A34]),
    "topk both": (lambda x: nd.topk(x, k=2, ret_typ="both", axis=0, is_ascend=True)[0], [A34]),
    "topk flat": (lambda x: nd.topk(x, k=5, axis=None, ret_typ="value"), [A234]),
    "sort": (lambda x: nd.sort(x, axis=1, is_ascend=False), [A234]),
    "sort flat": (lambda x: nd.sort(x, axis=None), [A34]),
    "slice": (lambda x: nd.slice(x, begin=(None, 3), end=(None, 0), step=(2, -2)), [A34]),
    "slice_axis": (lambda x: nd.slice_axis(x, axis=-1, begin=1, end=None), [A234]),
    "slice_like": (lambda x: nd.slice_like(x, nd.zeros((1, 2, 2)), axes=(1, 2)), [A234]),
    "split parts": (lambda x: nd.split(x, 2, axis=1)[1] * 3, [A34]),
    "split squeeze": (lambda x: nd.stack(*nd.split(x, 3, axis=0, squeeze_axis=True)[::-1]), [A34]),
    "split_v2": (lambda x: nd.split_v2(x, (1, 3), axis=1)[2], [A34]),
    "moveaxis": (lambda x: nd.moveaxis(x, (0, 1), (2, 0)), [A234]),
    "swapaxes": (lambda x: nd.SwapAxis(x, 0, 2), [A234]),
    "tile": (lambda x: nd.tile(x, (2, 1, 3)), [A34]),
    "repeat axis": (lambda x: nd.repeat(x, 3, axis=-1), [A234]),
    "repeat flat": (lambda x: nd.repeat(x, 2), [A34]),
    "flip": (lambda x: nd.flip(x, axis=(0, 2)), [A234]),
    "pad constant": (
        lambda x: nd.pad(x, mode="constant", pad_width=(0, 0, 1, 2, 2, 0), constant_value=3),
        [A234],
    ),
    "pad edge": (lambda x: nd.pad(x, mode="edge", pad_width=(1, 0, 2, 1, 0, 3)), [A234]),
    "pad reflect": (lambda x: nd.pad(x, mode="reflect", pad_width=(0, 1, 2, 2, 3, 1)), [A234]),
    "pad crop": (lambda x: nd.pad(x, mode="constant", pad_width=(0, 0, -1, 1, 2, -2)), [A234]),
    "np pad symmetric": (
        lambda x: mx.np.pad(x.as_np_ndarray(), ((1, 2), (3, 1)), mode="symmetric").as_nd_ndarray(),
        [A34],
    ),
    "diag extract": (lambda x: nd.diag(x, k=-1), [A34]),
    "diag make": (lambda x: nd.diag(x[0], k=2), [A34]),
    "diag 3-d": (lambda x: nd.diag(x, k=1, axis1=2, axis2=0), [A234]),
    "where rows": (lambda x: nd.where(_c([1, 0, 1], x), x * 2, x * x), [A34]),
    "norm": (lambda x: nd.norm(x, axis=(0, 2), keepdims=True), [A234]),
    "L2Normalization instance": (lambda x: nd.L2Normalization(x), [A234]),
    "L2Normalization channel": (lambda x: nd.L2Normalization(x, mode="channel"), [A234]),
    "L2Normalization spatial": (lambda x: nd.L2Normalization(x, mode="spatial"), [A234]),
    "softmax length": (
        lambda x: nd.softmax(x, length=_c([[1, 3, 0], [4, 2, 1]], x, "int32"), use_length=True),
        [A234],
    ),
    "softmax temperature": (lambda x: nd.softmax(x, axis=0, temperature=0.7), [A34]),
    "log_softmax temperature": (lambda x: nd.log_softmax(x, temperature=1.5), [A34]),
    "SequenceMask": (
        lambda x: nd.SequenceMask(x, _c([1, 3, 2], x), use_sequence_length=True, value=1.5),
        [A234],
    ),
    "SequenceMask axis1": (
        lambda x: nd.SequenceMask(x, _c([1, 3], x), use_sequence_length=True, axis=1),
        [A234],
    ),
    "leaky": (lambda x: nd.LeakyReLU(x, slope=0.1), [A34]),
    "elu": (lambda x: nd.LeakyReLU(x, act_type="elu", slope=0.7), [A34]),
    "selu": (lambda x: nd.LeakyReLU(x, act_type="selu"), [A34]),
    "gelu": (lambda x: nd.LeakyReLU(x, act_type="gelu"), [A34]),
    "prelu": (
        lambda x, g: nd.LeakyReLU(x, gamma=g, act_type="prelu"),
        [A234, np.array([0.1, 0.3, 0.5])],
    ),
    "gemm2": (lambda a, b: nd.linalg.gemm2(a, b, transpose_b=True, alpha=0.5), [A234, A234]),
    "gemm2 axis": (lambda a, b: nd.linalg.gemm2(a, b, axis=0, transpose_a=True), [A234, A234]),
    "gemm": (
        lambda a, b, c: nd.linalg.gemm(a, b, c, transpose_a=True, alpha=2.0, beta=-0.5),
        [A34, A34, _u(4, 4)],
    ),
    "batch_dot 4-d": (
        lambda a, b: nd.batch_dot(a, b, transpose_a=True),
        [_u(2, 1, 3, 4), _u(2, 1, 3, 2)],
    ),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradient_matches_finite_differences(name: str, ctx: mx.Context) -> None:
    fn, inputs = GRAD_CASES[name]
    check_grad(fn, inputs, ctx=ctx, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_results_and_gradients_match_cpu0(name: str, ctx: mx.Context) -> None:
    """Same values and gradients on every context, results living on the input's context."""
    fn, inputs = GRAD_CASES[name]

    def run(where: mx.Context) -> list[np.ndarray]:
        xs = [nd.array(a, ctx=where, dtype="float32") for a in inputs]
        for x in xs:
            x.attach_grad()
        with autograd.record():
            out = fn(*xs)
        out.backward()
        assert out.context == where and out.dtype == np.float32
        return [out.asnumpy()] + [x.grad.asnumpy() for x in xs]

    for ref, got in zip(run(mx.cpu(0)), run(ctx)):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "float64", "int32", "int64", "uint8"])
def test_dtypes_are_kept(dtype: str, ctx: mx.Context) -> None:
    x = nd.array(np.arange(24).reshape(2, 3, 4) % 7, ctx=ctx, dtype=dtype)
    outs = [
        nd.take(x, nd.array([1, 0], ctx=ctx), axis=2),
        nd.gather_nd(x, nd.array([[1], [2]], ctx=ctx)),
        nd.topk(x, k=2, ret_typ="value"),
        nd.topk(x, k=2, ret_typ="mask"),
        nd.sort(x, axis=1),
        nd.slice(x, begin=(1, None), end=(None, 2)),
        nd.slice_axis(x, axis=2, begin=1, end=3),
        *nd.split(x, 2, axis=2),
        nd.moveaxis(x, 0, -1),
        nd.tile(x, (1, 2)),
        nd.repeat(x, 2, axis=0),
        nd.flip(x, axis=1),
        nd.pad(x, mode="edge", pad_width=(0, 0, 0, 0, 1, 1)),
        nd.diag(x, k=1),
        nd.SequenceMask(x, nd.array([1, 2, 0], ctx=ctx), use_sequence_length=True),
    ]
    for out in outs:
        assert out.dtype == np.dtype(dtype), out
        assert out.context == ctx
    assert nd.topk(x, k=2).dtype == np.float32  # indices: float32 unless dtype= says otherwise
    assert nd.argsort(x, dtype="int64").dtype == np.int64


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_float_ops_keep_float16_and_float64(dtype: str, ctx: mx.Context) -> None:
    x = nd.array(A34, ctx=ctx, dtype=dtype)
    for act in ("leaky", "elu", "selu", "gelu"):
        out = nd.LeakyReLU(x, act_type=act)
        assert out.dtype == np.dtype(dtype)
        ref = nd.LeakyReLU(x.astype("float64"), act_type=act).asnumpy()
        tol = 2e-3 if dtype == "float16" else 1e-12
        np.testing.assert_allclose(out.asnumpy().astype(np.float64), ref, rtol=tol, atol=tol)
    assert nd.L2Normalization(x).dtype == np.dtype(dtype)
    assert nd.softmax(
        x, length=nd.array([1, 2, 3], ctx=ctx, dtype="int32"), use_length=True
    ).dtype == np.dtype(dtype)


# ---------------------------------------------------------------------- multi-output autograd
def test_split_is_one_node_and_unused_parts_get_zero_gradient(ctx: mx.Context) -> None:
    x = nd.array(A34, ctx=ctx)
    x.attach_grad()
    with autograd.record():
        parts = nd.split(x, 4, axis=1)
        loss = (parts[1] * 2 + parts[3]).sum()
    nodes = {id(p._ag_node.parents[0][0]) for p in parts}
    assert len(nodes) == 1  # one multi-output node, one slot per part
    assert [p._ag_node.parents[0][1] for p in parts] == [0, 1, 2, 3]
    loss.backward()
    expected = np.zeros((3, 4), dtype=np.float32)
    expected[:, 1] = 2
    expected[:, 3] = 1
    np.testing.assert_array_equal(x.grad.asnumpy(), expected)


def test_split_part_used_twice_accumulates(ctx: mx.Context) -> None:
    x = nd.array(A34, ctx=ctx)
    x.attach_grad()
    with autograd.record():
        a, b = nd.split(x, 2, axis=1)
        loss = (a * a).sum() + a.sum() + (b * 3).sum()
    loss.backward()
    expected = np.concatenate([2 * A34[:, :2] + 1, np.full((3, 2), 3.0)], axis=1)
    np.testing.assert_allclose(x.grad.asnumpy(), expected, rtol=1e-6)


def test_multi_output_graph_is_freed_and_retained_like_single_output(ctx: mx.Context) -> None:
    x = nd.array(A34, ctx=ctx)
    x.attach_grad()
    with autograd.record():
        values, idx = nd.topk(x, k=2, ret_typ="both")
        loss = values.sum()
    loss.backward(retain_graph=True)
    first = x.grad.asnumpy().copy()
    loss.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), first)
    with pytest.raises(MXNetError, match="not in a computational graph"):
        loss.backward()
    assert first.sum() == 6 and idx.dtype == np.float32


def test_topk_indices_alone_give_a_zero_gradient(ctx: mx.Context) -> None:
    x = nd.array(A34, ctx=ctx)
    x.attach_grad()
    with autograd.record():
        _, idx = nd.topk(x, k=2, ret_typ="both")
        loss = idx * 2
    loss.backward()
    assert not x.grad.asnumpy().any()


def test_autograd_grad_through_split(ctx: mx.Context) -> None:
    x = nd.array(A34, ctx=ctx)
    x.attach_grad()
    with autograd.record():
        parts = nd.split_v2(x, (1,), axis=0)
        y = parts[1].sum() * 2
    (g,) = autograd.grad(y, [x])
    expected = np.full((3, 4), 2.0)
    expected[0] = 0
    np.testing.assert_array_equal(g.asnumpy(), expected)


# ---------------------------------------------------------------------- deliberate differences
def test_sort_is_differentiable(ctx: mx.Context) -> None:
    """MXNet 1.9.1's sort fails at backward; mxlite sends each gradient to its value's place."""
    x = nd.array([[3.0, 1.0, 2.0]], ctx=ctx)
    x.attach_grad()
    with autograd.record():
        y = nd.sort(x)
    y.backward(nd.array([[10.0, 20.0, 30.0]], ctx=ctx))
    np.testing.assert_array_equal(x.grad.asnumpy(), [[30.0, 10.0, 20.0]])


def test_selu_gradient_is_the_derivative() -> None:
    """MXNet 1.9.1's selu gradient disagrees with its own finite differences (0.0028 instead of
    0.0875 at x = -3); mxlite's is lambda * alpha * exp(x) there."""
    x = nd.array([-3.0, -1.0, 0.0, 2.0], dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = nd.LeakyReLU(x, act_type="selu")
    y.backward()
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    np.testing.assert_allclose(
        x.grad.asnumpy(), [lam * alpha * np.exp(-3.0), lam * alpha * np.exp(-1.0), lam * alpha, lam]
    )


def test_permissive_where_mxnet_fails(ctx: mx.Context) -> None:
    x = nd.array(np.arange(12).reshape(3, 4), ctx=ctx)
    np.testing.assert_array_equal(
        nd.flip(x, axis=-1).asnumpy(), np.arange(12).reshape(3, 4)[:, ::-1]
    )
    np.testing.assert_array_equal(
        nd.sort(x.astype("float16"), is_ascend=False).asnumpy(),
        np.arange(12).reshape(3, 4)[:, ::-1],
    )
    padded = nd.pad(x, mode="reflect", pad_width=(1, 1, 5, 0))  # 2-d, wider than the axis
    np.testing.assert_array_equal(
        padded.asnumpy(), np.pad(np.arange(12).reshape(3, 4), ((1, 1), (5, 0)), mode="reflect")
    )
    assert nd.repeat(x, 0, axis=0).shape == (0, 4)  # MXNet 1.9.1 says (0,)
    np.testing.assert_array_equal(  # MXNet 1.9.1's np.pad ignores constant_values
        mx.np.pad(mx.np.zeros((1, 1)), ((1, 0), (0, 0)), constant_values=5).asnumpy(),
        [[5.0], [0.0]],
    )


def test_softmax_length_past_the_axis_is_clipped(ctx: mx.Context) -> None:
    """MXNet reads past the row (garbage) for a length above the axis; mxlite uses the row."""
    x = nd.array([[1.0, 2.0, 3.0]], ctx=ctx)
    out = nd.softmax(x, length=nd.array([7], ctx=ctx, dtype="int32"), use_length=True)
    np.testing.assert_allclose(out.asnumpy(), nd.softmax(x).asnumpy(), rtol=1e-6)
    empty = nd.softmax(x, length=nd.array([-2], ctx=ctx, dtype="int32"), use_length=True)
    assert not empty.asnumpy().any()


# ---------------------------------------------------------------------- bad input changes nothing
BAD_WITH_OUT: list[tuple[str, Callable[[Any, Any], Any], type[Exception], str]] = [
    (
        "take raise",
        lambda x, o: nd.take(x, nd.array([0, 9]), mode="raise", out=o),
        MXNetError,
        "out of bound",
    ),
    ("slice step 0", lambda x, o: nd.slice(x, (0,), (2,), (0,), out=o), MXNetError, "cannot be 0"),
    ("slice_axis end", lambda x, o: nd.slice_axis(x, 0, 0, 9, out=o), MXNetError, "Invalid end"),
]


@pytest.mark.parametrize(
    ("name", "call", "exc", "match"), BAD_WITH_OUT, ids=[c[0] for c in BAD_WITH_OUT]
)
def test_bad_input_writes_nothing(name: str, call: Any, exc: type[Exception], match: str) -> None:
    x = nd.array(np.arange(12).reshape(3, 4))
    out = nd.full((2, 4), 7.0)
    with pytest.raises(exc, match=match):
        call(x, out)
    np.testing.assert_array_equal(out.asnumpy(), np.full((2, 4), 7.0))
    np.testing.assert_array_equal(x.asnumpy(), np.arange(12).reshape(3, 4))


def test_errors_leave_the_tape_clean() -> None:
    x = nd.array(A34)
    x.attach_grad()
    with autograd.record():
        with pytest.raises(MXNetError):
            nd.split(x, 3)
        with pytest.raises(IndexError):
            nd.gather_nd(x, nd.array([[0, 7]]))
        y = nd.take(x, nd.array([1])).sum()
    y.backward()
    expected = np.zeros((3, 4), dtype=np.float32)
    expected[1] = 1
    np.testing.assert_array_equal(x.grad.asnumpy(), expected)


def test_scatter_nd_out_of_range_is_an_error_not_a_crash() -> None:
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 1 with size 2"):
        nd.scatter_nd(nd.array([1, 2]), nd.array([[0, 1], [1, 5]]), shape=(2, 2))


# ---------------------------------------------------------------------- fluent methods, fronts
def test_fluent_methods_forward_to_the_ops(ctx: mx.Context) -> None:
    x = nd.array(A34, ctx=ctx)
    pairs = [
        (x.take(nd.array([1, 0], ctx=ctx)), nd.take(x, nd.array([1, 0], ctx=ctx))),
        (x.topk(k=2, ret_typ="value"), nd.topk(x, k=2, ret_typ="value")),
        (x.sort(axis=0), nd.sort(x, axis=0)),
        (x.argsort(), nd.argsort(x)),
        (x.slice(begin=(1,), end=(3,)), nd.slice(x, begin=(1,), end=(3,))),
        (x.slice_like(nd.zeros((2, 2))), nd.slice_like(x, nd.zeros((2, 2)))),
        (
            x.pad(mode="edge", pad_width=(1, 1, 0, 0)),
            nd.pad(x, mode="edge", pad_width=(1, 1, 0, 0)),
        ),
        (x.diag(k=1), nd.diag(x, k=1)),
        (x.split_v2(2, axis=1)[1], nd.split_v2(x, 2, axis=1)[1]),
        (x.argmax(axis=1, keepdims=True), nd.argmax(x, axis=1, keepdims=True)),
    ]
    for got, want in pairs:
        np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())
    assert not hasattr(x, "crop")  # not a method in MXNet either


def test_np_front_keeps_numpy_arrays(ctx: mx.Context) -> None:
    x = mx.np.array(A34, ctx=ctx)
    outs = [
        mx.np.take(x, mx.np.array([0, 2], ctx=ctx), axis=1),
        mx.np.sort(x),
        mx.np.argsort(x),
        mx.np.moveaxis(x, 0, 1),
        mx.np.pad(x, ((1, 1), (0, 2)), mode="edge"),
        mx.np.diag(x),
        *mx.np.hsplit(x, 3),
        *mx.np.split(x, [1], axis=0),
        mx.npx.topk(x, k=2),
        mx.npx.dropout(x, p=0.5, mode="always"),
        mx.npx.sequence_mask(x, mx.np.array([1, 2, 3, 1], ctx=ctx), use_sequence_length=True),
    ]
    for out in outs:
        assert isinstance(out, mx.np.ndarray), type(out)
        assert out.context == ctx
    assert mx.np.argsort(x).dtype == np.int64


OUT_CASES: list[tuple[str, Callable[..., Any]]] = [
    ("gather_nd", lambda x, **k: nd.gather_nd(x, nd.array([[0, 2]], ctx=x.context), **k)),
    (
        "scatter_nd",
        lambda x, **k: nd.scatter_nd(x[0], nd.array([[1, 0, 1, 2]], ctx=x.context), (3,), **k),
    ),
    ("Embedding", lambda x, **k: nd.Embedding(nd.array([2, 0], ctx=x.context), x, 3, 4, **k)),
    ("sort", lambda x, **k: nd.sort(x, axis=0, **k)),
    ("argsort", lambda x, **k: nd.argsort(x, **k)),
    ("slice_like", lambda x, **k: nd.slice_like(x, nd.zeros((2, 2)), **k)),
    ("swapaxes", lambda x, **k: nd.swapaxes(x, 0, 1, **k)),
    ("tile", lambda x, **k: nd.tile(x, (1, 2), **k)),
    ("repeat", lambda x, **k: nd.repeat(x, 2, axis=0, **k)),
    ("flip", lambda x, **k: nd.flip(x, axis=1, **k)),
    ("pad", lambda x, **k: nd.pad(x, mode="edge", pad_width=(1, 0, 0, 2), **k)),
    ("diag", lambda x, **k: nd.diag(x, k=1, **k)),
    ("LeakyReLU", lambda x, **k: nd.LeakyReLU(x, act_type="gelu", **k)),
    ("Dropout", lambda x, **k: nd.Dropout(x, p=0.5, **k)),
    ("L2Normalization", lambda x, **k: nd.L2Normalization(x, **k)),
    (
        "SequenceMask",
        lambda x, **k: nd.SequenceMask(
            x, nd.array([1, 0, 2, 3], ctx=x.context), use_sequence_length=True, **k
        ),
    ),
    ("gemm2", lambda x, **k: nd.linalg.gemm2(x, x, transpose_b=True, **k)),
    (
        "gemm",
        lambda x, **k: nd.linalg.gemm(x, x, nd.ones((3, 3), ctx=x.context), transpose_b=True, **k),
    ),
]


@pytest.mark.parametrize(("name", "call"), OUT_CASES, ids=[c[0] for c in OUT_CASES])
def test_out_argument_receives_the_result(name: str, call: Any, ctx: mx.Context) -> None:
    x = nd.array(A34, ctx=ctx)
    want = call(x).asnumpy()
    out = nd.zeros(want.shape, ctx=ctx)
    got = call(x, out=out)
    assert got is out
    np.testing.assert_array_equal(out.asnumpy(), want)
    with pytest.raises(MXNetError, match="out= has shape"):
        call(x, out=nd.zeros((7,), ctx=ctx))


def test_topk_out_takes_one_array_or_a_pair(ctx: mx.Context) -> None:
    x = nd.array(A34, ctx=ctx)
    vals, idx = nd.zeros((3, 2), ctx=ctx), nd.zeros((3, 2), ctx=ctx)
    got = nd.topk(x, k=2, ret_typ="both", out=[vals, idx])
    assert got[0] is vals and got[1] is idx
    np.testing.assert_array_equal(vals.asnumpy(), nd.topk(x, k=2, ret_typ="value").asnumpy())
    single = nd.zeros((3, 2), ctx=ctx)
    assert nd.topk(x, k=2, out=single) is single
    with pytest.raises(MXNetError, match="list of 2 arrays"):
        nd.topk(x, k=2, ret_typ="both", out=single)
