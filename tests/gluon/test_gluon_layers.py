"""Behaviour of the issue-12 gluon layers on every context: training with a Trainer over several
contexts, Dropout's training/predict switch and its seeded masks, Embedding and PReLU
gradients, dtypes, numpy-mode inputs, save/load, and refused arguments that change nothing.
MXNet 1.9.1's reprs, values and errors are compared in tests/gluon/test_gluon_layers_oracle.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon, nd
from mxlite.base import CheckError
from mxlite.gluon import nn
from mxlite.gluon.contrib import nn as cnn


def _two_contexts(ctx: mx.Context) -> list[mx.Context]:
    return [ctx, mx.cpu(1)] if ctx.device_type == "gpu" else [mx.cpu(0), mx.cpu(1)]


def test_dropout_block_switches_with_training(ctx: mx.Context) -> None:
    drop = nn.Dropout(0.4)
    x = nd.ones((64, 32), ctx=ctx)
    np.testing.assert_array_equal(drop(x).asnumpy(), x.asnumpy())
    with autograd.record():
        y = drop(x)
    vals = y.asnumpy()
    assert set(np.unique(vals).tolist()) == {0.0, np.float32(1 / 0.6)}
    with autograd.record(train_mode=False):
        np.testing.assert_array_equal(drop(x).asnumpy(), x.asnumpy())
    with autograd.train_mode():
        assert (drop(x).asnumpy() == 0).any()
    assert (nn.Dropout(0.0)(x).asnumpy() == 1).all()


def test_dropout_masks_are_seeded_and_device_independent(ctx: mx.Context) -> None:
    def masks(where: mx.Context) -> list[np.ndarray]:
        mx.random.seed(123)
        drop = nn.Dropout(0.5, axes=(1,))
        with autograd.record():
            return [drop(nd.ones((8, 5, 3), ctx=where)).asnumpy() for _ in range(3)]

    ours, ref = masks(ctx), masks(mx.cpu(0))
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(a, b)
        assert (a == a[:, :1, :]).all()
    assert not np.array_equal(ours[0], ours[1])


def test_mlp_with_dropout_trains_on_two_contexts(ctx: mx.Context) -> None:
    ctxs = _two_contexts(ctx)
    mx.random.seed(0)
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Flatten(), nn.Dense(16, activation="relu"), nn.Dropout(0.2), nn.Dense(3))
    net.initialize(mx.init.Xavier(), ctx=ctxs)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.05})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2, 2)).astype(np.float32)
    y = (x.reshape(60, 4).sum(axis=1) > 0).astype(np.float32) + (x[:, 0, 0] > 1)
    first = last = 0.0
    for step in range(40):
        xs = gluon.utils.split_and_load(x, ctxs)
        ys = gluon.utils.split_and_load(y, ctxs)
        with autograd.record():
            losses = [loss_fn(net(a), b) for a, b in zip(xs, ys)]
        autograd.backward(losses)
        trainer.step(60)
        total = sum(float(v.mean().asscalar()) for v in losses)
        first = total if step == 0 else first
        last = total
    assert last < first * 0.6
    w0, w1 = (net[1].weight.data(c).asnumpy() for c in ctxs)
    np.testing.assert_array_equal(w0, w1)


def test_embedding_gradient_adds_repeated_indices_and_trains(ctx: mx.Context) -> None:
    ctxs = _two_contexts(ctx)
    emb = nn.Embedding(5, 3)
    emb.initialize(mx.init.Constant(0.5), ctx=ctxs)
    idx = nd.array([[0, 2, 2], [4, 2, 0]], ctx=ctxs[0])
    with autograd.record():
        out = emb(idx)
    assert out.shape == (2, 3, 3) and out.context == ctxs[0]
    out.backward()
    grad = emb.weight.grad(ctxs[0]).asnumpy()
    np.testing.assert_array_equal(grad[:, 0], [2, 0, 3, 0, 1])
    trainer = gluon.Trainer(emb.collect_params(), "sgd", {"learning_rate": 0.1})
    with autograd.record():
        losses = [emb(nd.array([1, 1], ctx=c)).sum() for c in ctxs]
    autograd.backward(losses)
    trainer.step(1)
    for c in ctxs:
        w = emb.weight.data(c).asnumpy()
        np.testing.assert_allclose(w[1], np.full(3, 0.5 - 0.1 * 4), rtol=1e-6)
        np.testing.assert_allclose(w[0], np.full(3, 0.5), rtol=1e-6)


def test_prelu_alpha_is_a_learned_parameter(ctx: mx.Context) -> None:
    prelu = nn.PReLU(in_channels=3)
    prelu.initialize(ctx=ctx)
    assert prelu.alpha.name.endswith("_alpha") and prelu.alpha.shape == (3,)
    np.testing.assert_array_equal(prelu.alpha.data(ctx).asnumpy(), [0.25, 0.25, 0.25])
    x = nd.array(np.array([-1.0, 2.0, -3.0]).reshape(1, 3, 1) * np.ones((2, 3, 2)), ctx=ctx)
    with autograd.record():
        y = prelu(x)
    np.testing.assert_allclose(y.asnumpy()[0, :, 0], [-0.25, 2.0, -0.75])
    y.backward()
    np.testing.assert_allclose(prelu.alpha.grad(ctx).asnumpy(), [-4.0, 0.0, -12.0])
    trainer = gluon.Trainer(prelu.collect_params(), "sgd", {"learning_rate": 0.01})
    trainer.step(1)
    np.testing.assert_allclose(prelu.alpha.data(ctx).asnumpy(), [0.29, 0.25, 0.37], rtol=1e-6)


def test_layers_save_and_load_their_parameters(tmp_path: Path) -> None:
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Embedding(6, 4), nn.PReLU(in_channels=2), nn.Flatten(), nn.Dense(2))
    net.initialize(mx.init.Uniform(1.0))
    x = nd.array([[1, 5], [0, 2]])
    ref = net(x).asnumpy()
    path = str(tmp_path / "layers.params")
    net.save_parameters(path)
    fresh = nn.HybridSequential()
    with fresh.name_scope():
        fresh.add(nn.Embedding(6, 4), nn.PReLU(in_channels=2), nn.Flatten(), nn.Dense(2))
    fresh.load_parameters(path)
    np.testing.assert_array_equal(fresh(x).asnumpy(), ref)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_activation_layers_keep_dtype(dtype: str, ctx: mx.Context) -> None:
    x = nd.array(np.linspace(-3, 3, 12).reshape(3, 4), ctx=ctx, dtype=dtype)
    blocks = [nn.LeakyReLU(0.1), nn.ELU(), nn.SELU(), nn.GELU(), nn.Swish(), cnn.Identity()]
    for blk in blocks:
        out = blk(x)
        assert out.dtype == np.dtype(dtype) and out.context == ctx, blk
    prelu = nn.PReLU()
    prelu.initialize(ctx=ctx)
    prelu.cast(dtype)
    assert prelu(x).dtype == np.dtype(dtype)


def test_swish_and_gelu_values(ctx: mx.Context) -> None:
    x = nd.array([-2.0, -0.5, 0.0, 1.5], ctx=ctx, dtype="float64")
    v = x.asnumpy()
    np.testing.assert_allclose(nn.Swish(beta=2.0)(x).asnumpy(), v / (1 + np.exp(-2 * v)))
    from math import erf

    expected = [0.5 * a * (1 + erf(a / np.sqrt(2))) for a in v]
    np.testing.assert_allclose(nn.GELU()(x).asnumpy(), expected, rtol=1e-12)


def test_lambda_blocks(ctx: mx.Context) -> None:
    x = nd.array([[-1.0, 2.0]], ctx=ctx)
    np.testing.assert_allclose(nn.Lambda("tanh")(x).asnumpy(), np.tanh([[-1.0, 2.0]]), rtol=1e-6)
    assert nn.Lambda(lambda a, b: a + b)(x, x).asnumpy().tolist() == [[-2.0, 4.0]]
    hl = nn.HybridLambda(lambda F, a: F.LeakyReLU(a, slope=0.5))
    hl.hybridize()
    assert hl(x).asnumpy().tolist() == [[-0.5, 2.0]]
    assert nn.HybridLambda("relu")(x).asnumpy().tolist() == [[0.0, 2.0]]


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: nn.LeakyReLU(-0.1), CheckError, "must be no less than 0"),
        (lambda: nn.Lambda("nosuchfn"), AssertionError, "is not found in ndarray"),
        (lambda: nn.HybridLambda("nosuchfn"), AssertionError, "not found in symbol/ndarray"),
        (lambda: nn.Lambda(3), ValueError, "Unrecognized function in lambda"),
    ],
)
def test_bad_constructor_arguments(make: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        make()  # type: ignore[operator]


def test_flatten_and_layers_on_numpy_arrays(ctx: mx.Context) -> None:
    mx.npx.set_np()
    try:
        x = mx.np.ones((2, 3, 4), ctx=ctx)
        out = nn.Flatten()(x)
        assert isinstance(out, mx.np.ndarray) and out.shape == (2, 12)
        for blk in (nn.ELU(), nn.GELU(), nn.LeakyReLU(0.2), nn.Dropout(0.5)):
            res = blk(x)
            assert isinstance(res, mx.np.ndarray) and res.shape == (2, 3, 4)
        emb = nn.Embedding(4, 2)
        emb.initialize(ctx=ctx)
        assert emb(mx.np.array([1, 3], ctx=ctx)).shape == (2, 2)
    finally:
        mx.npx.reset_np()


def test_concurrent_joins_children_outputs(ctx: mx.Context) -> None:
    for cls in (cnn.HybridConcurrent, cnn.Concurrent, cnn.HybridConcatenate, cnn.Concatenate):
        net = cls(axis=1)
        with net.name_scope():
            net.add(nn.Dense(2, in_units=3, weight_initializer="ones", bias_initializer="zeros"))
            net.add(cnn.Identity())
        net.initialize(ctx=ctx)
        out = net(nd.ones((4, 3), ctx=ctx))
        assert out.shape == (4, 5)
        np.testing.assert_array_equal(out.asnumpy()[0], [3.0, 3.0, 1.0, 1.0, 1.0])
    x = nd.ones((2, 2), ctx=ctx)
    assert cnn.Identity()(x) is x


def test_forward_hooks_see_inputs_and_outputs_and_detach(ctx: mx.Context) -> None:
    calls: list[tuple[str, object]] = []
    act = nn.GELU()
    pre = act.register_forward_pre_hook(lambda blk, args: calls.append(("pre", args[0].shape)))
    post = act.register_forward_hook(lambda blk, args, out: calls.append(("post", out.dtype)))
    act(nd.ones((2, 2), ctx=ctx))
    pre.detach()
    act(nd.ones((3,), ctx=ctx))
    with post:
        pass
    act(nd.ones((1,), ctx=ctx))
    assert calls == [("pre", (2, 2)), ("post", np.float32), ("post", np.float32)]
