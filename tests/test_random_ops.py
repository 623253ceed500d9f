"""Random operators: ``mx.nd.random.randint``/``shuffle``/``multinomial``, ``mx.np.random``'s
twins and ``mx.nd.Dropout``.

Values come from mxlite's counter-based stream, so they are compared statistically with the
distribution (and with MXNet 1.9.1 only for shapes, dtypes and errors); a seeded sequence of
calls must give the same values on every context.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, nd
from mxlite.base import MXNetError
from tests.oracle import run_oracle_json


def _seeded(fn: Any, ctx: mx.Context, seed: int = 3) -> np.ndarray:
    mx.random.seed(seed)
    return fn(ctx).asnumpy()


def test_randint_range_dtype_and_uniformity(ctx: mx.Context) -> None:
    mx.random.seed(11)
    x = nd.random.randint(-3, 5, shape=(40000,), ctx=ctx)
    assert x.dtype == np.int32 and x.context == ctx and x.shape == (40000,)
    vals = x.asnumpy()
    counts = np.bincount(vals + 3, minlength=8)
    assert vals.min() == -3 and vals.max() == 4
    assert np.all(np.abs(counts / vals.size - 1 / 8) < 0.01), counts
    assert nd.random.randint(0, 2, dtype="int64", ctx=ctx).shape == (1,)
    assert nd.random.randint(0, 2, shape=(2, 3), dtype="int64", ctx=ctx).dtype == np.int64


def test_random_ops_are_reproducible_on_every_context(ctx: mx.Context) -> None:
    """The same seed and calls give the same numbers on cpu(0) and on ``ctx``."""
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    cases = [
        lambda c: nd.random.randint(0, 100, shape=(3, 5), ctx=c),
        lambda c: nd.random.shuffle(nd.arange(20, ctx=c)),
        lambda c: nd.random.multinomial(nd.array(p, ctx=c), shape=7),
        lambda c: nd.Dropout(nd.ones((4, 6), ctx=c), p=0.4, mode="always"),
        lambda c: nd.Dropout(
            nd.ones((4, 6), ctx=c, dtype="float16"), p=0.4, mode="always", axes=(0,)
        ),
    ]
    for fn in cases:
        np.testing.assert_array_equal(_seeded(fn, ctx), _seeded(fn, mx.cpu(0)))
    mx.random.seed(3)
    first = nd.random.randint(0, 100, shape=(8,), ctx=ctx).asnumpy()
    second = nd.random.randint(0, 100, shape=(8,), ctx=ctx).asnumpy()
    assert not np.array_equal(first, second)  # successive draws take new stream positions


def test_shuffle_permutes_rows_and_leaves_the_input(ctx: mx.Context) -> None:
    x = nd.array(np.arange(30).reshape(10, 3), ctx=ctx, dtype="int32")
    mx.random.seed(5)
    y = nd.random.shuffle(x)
    assert y is not x and y.dtype == np.int32 and y.context == ctx
    np.testing.assert_array_equal(x.asnumpy(), np.arange(30).reshape(10, 3))
    rows = y.asnumpy()
    assert sorted(rows[:, 0].tolist()) == list(range(0, 30, 3))
    np.testing.assert_array_equal(rows[:, 1] - rows[:, 0], np.ones(10))
    assert not np.array_equal(rows, x.asnumpy())
    firsts = {int(nd.random.shuffle(nd.arange(4, ctx=ctx)).asnumpy()[0]) for _ in range(60)}
    assert firsts == {0, 1, 2, 3}


def test_np_shuffle_is_in_place(ctx: mx.Context) -> None:
    x = mx.np.arange(12, ctx=ctx).reshape(6, 2)
    mx.random.seed(2)
    assert mx.np.random.shuffle(x) is None
    rows = x.asnumpy()
    assert sorted(rows[:, 0].tolist()) == [0, 2, 4, 6, 8, 10]
    assert not np.array_equal(rows, np.arange(12).reshape(6, 2))


def test_multinomial_frequencies_log_probs_and_gradient(ctx: mx.Context) -> None:
    p = nd.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]], ctx=ctx)
    mx.random.seed(1)
    samples = nd.random.multinomial(p, shape=20000)
    assert samples.shape == (2, 20000) and samples.dtype == np.int32
    freq = np.stack([np.bincount(row, minlength=3) / row.size for row in samples.asnumpy()])
    np.testing.assert_allclose(freq, p.asnumpy(), atol=0.015)
    p.attach_grad()
    with autograd.record():
        s, logp = nd.random.multinomial(p, shape=4, get_prob=True, dtype="float32")
    assert s.dtype == np.float32 and logp.shape == (2, 4) and logp.dtype == np.float32
    idx = s.asnumpy().astype(int)
    chosen = np.take_along_axis(p.asnumpy(), idx, axis=1)
    np.testing.assert_allclose(logp.asnumpy(), np.log(chosen), rtol=1e-6)
    logp.backward()
    expected = np.zeros((2, 3))
    for row in range(2):
        for k in idx[row]:
            expected[row, k] += 1 / p.asnumpy()[row, k]
    np.testing.assert_allclose(p.grad.asnumpy(), expected, rtol=1e-6)


def test_multinomial_unnormalized_tail_goes_to_the_last_category() -> None:
    """A draw above the cumulative sum gives the last category, as MXNet's kernel."""
    mx.random.seed(0)
    s = nd.random.multinomial(nd.array([0.1, 0.1]), shape=2000).asnumpy()
    assert set(np.unique(s).tolist()) <= {0, 1}
    assert (s == 1).mean() > 0.85


def test_np_random_randint_and_multinomial(ctx: mx.Context) -> None:
    mx.random.seed(4)
    x = mx.np.random.randint(2, 9, size=(5, 4), ctx=ctx)
    assert isinstance(x, mx.np.ndarray) and x.dtype == np.int64 and x.shape == (5, 4)
    assert 2 <= int(x.asnumpy().min()) and int(x.asnumpy().max()) <= 8
    assert mx.np.random.randint(5).shape == ()  # MXNet 1.9.1 fails without a size
    counts = mx.np.random.multinomial(100, [0.2, 0.3, 0.5], size=(3,))
    assert counts.shape == (3, 3) and counts.dtype == np.int64
    np.testing.assert_array_equal(counts.asnumpy().sum(axis=1), [100, 100, 100])
    assert mx.np.random.multinomial(0, [0.5, 0.5]).asnumpy().tolist() == [0, 0]
    with pytest.raises(ValueError, match="pvals"):
        mx.np.random.multinomial(3, [0.8, 0.8])


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: nd.random.randint(3, 3), MXNetError, "low must be less"),
        (lambda: nd.random.randint(0.5, 3), MXNetError, "expect long"),
        (lambda: nd.random.randint(0, 3, dtype="float32"), MXNetError, "Invalid Input"),
        (
            lambda: nd.random.multinomial(nd.array([0.5, 0.5]), dtype="int64"),
            MXNetError,
            "Invalid Input",
        ),
    ],
)
def test_random_bad_arguments(call: Any, exc: type[Exception], match: str) -> None:
    before = mx.random.adhoc_offset()
    with pytest.raises(exc, match=match):
        call()
    assert mx.random.adhoc_offset() == before  # nothing drawn


# ---------------------------------------------------------------------- Dropout
def test_dropout_is_identity_outside_training(ctx: mx.Context) -> None:
    x = nd.array(np.arange(12.0).reshape(3, 4), ctx=ctx)
    before = mx.random.adhoc_offset()
    y = nd.Dropout(x, p=0.5)
    assert y is not x
    np.testing.assert_array_equal(y.asnumpy(), x.asnumpy())
    with autograd.predict_mode():
        np.testing.assert_array_equal(nd.Dropout(x, p=0.9).asnumpy(), x.asnumpy())
    assert mx.random.adhoc_offset() == before


def test_dropout_rate_scale_and_gradient_in_training(ctx: mx.Context) -> None:
    x = nd.ones((200, 100), ctx=ctx)
    x.attach_grad()
    mx.random.seed(9)
    with autograd.record():
        y = nd.Dropout(x, p=0.3)
    y.backward()
    out = y.asnumpy()
    assert set(np.unique(out).tolist()) == {0.0, np.float32(1 / 0.7)}
    assert abs((out == 0).mean() - 0.3) < 0.01
    np.testing.assert_array_equal(x.grad.asnumpy(), out)  # d(x * mask)/dx = mask


def test_dropout_modes_axes_and_edge_rates(ctx: mx.Context) -> None:
    x = nd.ones((50, 40), ctx=ctx)
    with autograd.train_mode():
        assert (nd.Dropout(x, p=0.5).asnumpy() == 0).any()
    shared = nd.Dropout(x, p=0.5, mode="always", axes=(1,)).asnumpy()
    assert (shared == shared[:, :1]).all()  # one mask value per row
    assert 0 < (shared[:, 0] == 0).mean() < 1
    assert (nd.Dropout(x, p=0.0, mode="always").asnumpy() == 1).all()
    assert not nd.Dropout(x, p=1.0, mode="always").asnumpy().any()  # MXNet 1.9.1 gives NaN
    half = nd.Dropout(x.astype("float16"), p=0.5, mode="always")
    assert half.dtype == np.float16 and set(np.unique(half.asnumpy()).tolist()) <= {0.0, 2.0}


@pytest.mark.oracle
def test_random_shapes_and_dtypes_match_mxnet() -> None:
    codes = [
        "mx.nd.random.randint(0, 5, shape=(2, 3))",
        "mx.nd.random.randint(0, 5)",
        "mx.nd.random.randint(-3, 5, shape=4, dtype='int64')",
        "mx.nd.random.shuffle(mx.nd.arange(12).reshape((3, 4)).astype('int32'))",
        "mx.nd.random.multinomial(mx.nd.array([[0.1, 0.9], [0.5, 0.5]]))",
        "mx.nd.random.multinomial(mx.nd.array([[0.1, 0.9], [0.5, 0.5]]), shape=(2, 3))",
        "mx.nd.random.multinomial(mx.nd.array([0.1, 0.9]), shape=3, get_prob=True, dtype='float16')",
        "mx.nd.random.multinomial(mx.nd.array([0.1, 0.9], dtype='float64'), get_prob=True)",
        "mx.nd.Dropout(mx.nd.ones((2, 3)), p=0.5, mode='always', axes=(0,))",
        "mx.nd.Dropout(mx.nd.ones((2, 3), dtype='float64'))",
        "mx.npx.dropout(mx.np.ones((2, 3)), p=0.2, mode='always')",
        "mx.np.random.randint(0, 5, size=(2, 3))",
        "mx.np.random.multinomial(5, [0.2, 0.8], size=(2,))",
    ]
    script = (
        "def d(r):\n"
        "    if isinstance(r, (list, tuple)):\n"
        "        return [d(v) for v in r]\n"
        "    return [type(r).__name__, list(r.shape), np.dtype(r.dtype).name, str(r.context)]\n"
        f"print(json.dumps([d(eval(c)) for c in {codes!r}]))\n"
    )
    ref = run_oracle_json(script)

    def describe(r: Any) -> Any:
        if isinstance(r, (list, tuple)):
            return [describe(v) for v in r]
        return [type(r).__name__, list(r.shape), np.dtype(r.dtype).name, str(r.context)]

    got = [describe(eval(c, {"mx": mx})) for c in codes]
    assert got == ref
