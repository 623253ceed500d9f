"""NDArray basics on every context (cpu(0), cpu(1), and gpu(0) when present): creation defaults,
properties, copies between contexts, in-place forms from the tutorials, printing, protocol."""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError
from mxlite.ndarray.ndarray import NDArray


def test_creation_defaults(ctx: mx.Context) -> None:
    for arr in (
        mx.nd.zeros((2, 3), ctx=ctx),
        mx.nd.ones((2, 3), ctx=ctx),
        mx.nd.empty((2, 3), ctx=ctx),
        mx.nd.full((2, 3), 7, ctx=ctx),
        mx.nd.array([[1, 2, 3], [4, 5, 6]], ctx=ctx),
        mx.nd.arange(6, ctx=ctx).reshape((2, 3)),
    ):
        assert type(arr) is NDArray
        assert arr.dtype is np.float32
        assert arr.shape == (2, 3) and arr.size == 6 and arr.ndim == 2
        assert arr.context == ctx and arr.ctx == ctx
        assert arr.stype == "default"
    assert mx.nd.full((2,), 7, ctx=ctx).asnumpy().tolist() == [7.0, 7.0]
    assert mx.nd.zeros(3, ctx=ctx, dtype="int64").dtype is np.int64


def test_creation_uses_current_context(ctx: mx.Context) -> None:
    with ctx:
        assert mx.nd.zeros(2).context == ctx
        assert mx.nd.array([1.0]).context == ctx
        assert mx.nd.arange(3).context == ctx
    assert mx.nd.zeros(2).context == mx.cpu(0)


def test_array_dtype_defaults(ctx: mx.Context) -> None:
    assert mx.nd.array(np.array([1, 2], dtype=np.int64), ctx=ctx).dtype is np.float32
    src = mx.nd.array([1, 2], dtype="int32", ctx=ctx)
    copy = mx.nd.array(src, ctx=ctx)
    assert copy.dtype is np.int32
    copy[0] = 9
    assert src.asnumpy().tolist() == [1, 2]


def test_out_arguments_write_in_place(ctx: mx.Context) -> None:
    out = mx.nd.ones((2, 2), ctx=ctx)
    assert mx.nd.zeros((2, 2), out=out) is out
    assert out.asnumpy().sum() == 0
    assert mx.nd.full((2, 2), 3, out=out) is out
    assert out.asnumpy().tolist() == [[3, 3], [3, 3]]
    like = mx.nd.ones_like(mx.nd.zeros((2, 2), ctx=ctx), out=out)
    assert like is out and out.asnumpy().sum() == 4


def test_copies_between_contexts(ctx: mx.Context) -> None:
    src = mx.nd.array([[1, 2], [3, 4]], ctx=ctx)
    for target in (mx.cpu(0), mx.cpu(1), ctx):
        moved = src.copyto(target)
        assert moved.context == target and moved is not src
        np.testing.assert_array_equal(moved.asnumpy(), src.asnumpy())
        moved[:] = 0
        assert src.asnumpy().sum() == 10
    assert src.as_in_context(ctx) is src
    other = mx.cpu(3)
    assert src.as_in_context(other).context == other
    dst = mx.nd.zeros((2, 2), ctx=mx.cpu(2), dtype="int32")
    assert src.copyto(dst) is dst
    assert dst.asnumpy().tolist() == [[1, 2], [3, 4]] and dst.dtype is np.int32
    assert src.copy().context == ctx


def test_copyto_bad_target_changes_nothing(ctx: mx.Context) -> None:
    src = mx.nd.ones((2, 2), ctx=ctx)
    dst = mx.nd.zeros((3,), ctx=ctx)
    with pytest.raises(MXNetError, match="shape mismatch"):
        src.copyto(dst)
    assert dst.asnumpy().tolist() == [0, 0, 0]
    with pytest.raises(TypeError, match="copyto does not support"):
        src.copyto("cpu(0)")  # type: ignore[arg-type]


def test_tutorial_in_place_forms(ctx: mx.Context) -> None:
    w = mx.nd.array([[-6.0, 8.0, -1.0, 2.0], [6.5, -9.5, -8.0, 4.0]], ctx=ctx)
    data = w.copy()
    data *= data.abs() >= 5
    assert data.asnumpy().tolist() == [[-6.0, 8.0, -0.0, 0.0], [6.5, -9.5, -8.0, 0.0]]
    w[:] += 1
    w[0, 0] = 42
    assert w[0].asnumpy().tolist() == [42.0, 9.0, 0.0, 3.0]
    assert w[1].asnumpy().tolist() == [7.5, -8.5, -7.0, 5.0]
    w[:] = mx.nd.array([1, 2, 3, 4], ctx=ctx)
    assert w.asnumpy().tolist() == [[1, 2, 3, 4], [1, 2, 3, 4]]


def test_views_write_through(ctx: mx.Context) -> None:
    x = mx.nd.arange(12, ctx=ctx).reshape((3, 4))
    row = x[1]
    row += 100
    block = x[0:2]
    block[:] = block * 2
    assert x.asnumpy().tolist() == [[0, 2, 4, 6], [208, 210, 212, 214], [8, 9, 10, 11]]
    col = x[:, 0]
    col[:] = -1
    assert x[2, 0].asscalar() == 8.0
    flat = x.reshape((12,))
    flat[11] = 0
    assert x[2, 3].asscalar() == 0.0


def test_asscalar_astype_and_transpose(ctx: mx.Context) -> None:
    x = mx.nd.arange(6, ctx=ctx).reshape((2, 3))
    assert x[1, 2].asscalar() == np.float32(5.0)
    assert isinstance(x[1, 2].asscalar(), np.float32)
    with pytest.raises(ValueError, match="not a scalar"):
        x.asscalar()
    as_int = x.astype("int32")
    assert as_int.dtype is np.int32 and as_int.context == ctx
    assert x.astype(np.float32, copy=False) is x
    assert x.astype(np.float32) is not x
    t = x.T
    assert t.shape == (3, 2) and t.asnumpy().tolist() == [[0, 3], [1, 4], [2, 5]]
    t[0, 0] = 50
    assert x[0, 0].asscalar() == 0.0


def test_add_n_and_cross_cpu_ops(ctx: mx.Context) -> None:
    a = mx.nd.ones((2,), ctx=ctx)
    total = mx.nd.add_n(a, a * 2, a * 3)
    assert total.asnumpy().tolist() == [6, 6] and total.context == ctx
    if ctx.device_type == "cpu":
        other = mx.nd.ones((2,), ctx=mx.cpu(5))
        assert (a + other).context == ctx
        assert (other + a).context == mx.cpu(5)
        pinned = mx.nd.ones((2,), ctx=mx.cpu_pinned(1))
        assert (pinned * 2).context == mx.cpu(1)


def test_reset_arrays(ctx: mx.Context) -> None:
    a = mx.nd.ones((3,), ctx=ctx)
    b = mx.nd.ones((2, 2), ctx=ctx, dtype="float16")
    mx.nd.reset_arrays(a, b, num_arrays=2)
    assert a.asnumpy().sum() == 0 and b.asnumpy().sum() == 0
    c = mx.nd.ones((2,), ctx=ctx)
    i = mx.nd.ones((2,), ctx=ctx, dtype="int32")
    with pytest.raises(MXNetError, match="floating point"):
        mx.nd.reset_arrays(c, i, num_arrays=2)
    with pytest.raises(MXNetError, match="expects 3 inputs"):
        mx.nd.reset_arrays(c, num_arrays=3)
    with pytest.raises(MXNetError, match="num_arrays"):
        mx.nd.reset_arrays(c)
    assert c.asnumpy().tolist() == [1, 1] and i.asnumpy().tolist() == [1, 1]


def test_repr_text(ctx: mx.Context) -> None:
    x = mx.nd.array([1, 2, 3], ctx=ctx)
    assert repr(x) == f"\n[1. 2. 3.]\n<NDArray 3 @{ctx}>"
    assert str(x) == repr(x)
    assert (
        repr(mx.nd.zeros((2, 2), ctx=ctx, dtype="int32"))
        == f"\n[[0 0]\n [0 0]]\n<NDArray 2x2 @{ctx}>"
    )
    assert repr(mx.nd.array(5, ctx=ctx)) == f"\n5.0\n<NDArray  @{ctx}>"
    empty = mx.nd.arange(4, ctx=ctx)[2:2]
    assert repr(empty) == f"\n[]\n<NDArray 0 @{ctx}>"
    flags = mx.nd.array([1, 0], ctx=ctx, dtype="bool")
    assert repr(flags) == f"\n[ True False]\n<NDArray 2 @{ctx}>"
    half = mx.nd.array([1.5, 2], ctx=ctx, dtype="float16")
    assert repr(half) == f"\n[1.5 2. ]\n<NDArray 2 @{ctx}>"


def test_len_iter_bool(ctx: mx.Context) -> None:
    x = mx.nd.arange(6, ctx=ctx).reshape((3, 2))
    assert len(x) == 3
    rows = list(x)
    assert [r.shape for r in rows] == [(2,)] * 3 and rows[2].asnumpy().tolist() == [4, 5]
    assert bool(mx.nd.array([2], ctx=ctx)) and not bool(mx.nd.array([0], ctx=ctx))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)
    with pytest.raises(TypeError):
        len(mx.nd.array(1.0, ctx=ctx))


def test_unsupported_operands_raise_type_error(ctx: mx.Context) -> None:
    x = mx.nd.ones((3,), ctx=ctx)
    for bad in (None, [1, 2, 3], np.ones(3), "a"):
        with pytest.raises(TypeError, match="not supported"):
            x + bad  # noqa: B018
    with pytest.raises(TypeError):
        x // 2  # noqa: B018
    before = x.asnumpy()
    with pytest.raises(TypeError, match="not supported"):
        x += None  # type: ignore[operator]
    np.testing.assert_array_equal(x.asnumpy(), before)


def test_waitall_and_wait_to_read(ctx: mx.Context) -> None:
    x = mx.nd.ones((4,), ctx=ctx) * 3
    x.wait_to_read()
    mx.nd.waitall()
    assert x.asnumpy().tolist() == [3, 3, 3, 3]
