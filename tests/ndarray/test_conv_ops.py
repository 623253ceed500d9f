"""Convolution, pooling, normalization, upsampling and padding operators on every context:
finite-difference gradients (float64), agreement between contexts (the GPU body runs on the
fake CuPy), float16 against float32, channels-last against channels-first (which MXNet 1.9.1's
CPU build cannot run), and bad input that changes nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.base import MXNetError
from tests._support.gradcheck import check_grad

_RNG = np.random.default_rng(5)


def _a(*shape: int) -> np.ndarray:
    return _RNG.uniform(-1, 1, shape)


# ----------------------------------------------------------------------- numerical gradients
GRAD_CASES = [
    ("conv2d", lambda x, w, b: mx.nd.Convolution(x, w, b, kernel=(3, 2), stride=(2, 1),
                                                 pad=(1, 1), dilate=(1, 2), num_filter=4,
                                                 num_group=2),
     [_a(2, 4, 5, 6), _a(4, 2, 3, 2), _a(4)]),
    ("conv1d", lambda x, w: mx.nd.Convolution(x, w, kernel=(3,), pad=(2,), num_filter=3,
                                              no_bias=True),
     [_a(2, 2, 6), _a(3, 2, 3)]),
    ("conv3d", lambda x, w: mx.nd.Convolution(x, w, kernel=(2, 2, 2), stride=(2, 1, 1),
                                              num_filter=2, no_bias=True),
     [_a(1, 2, 4, 3, 3), _a(2, 2, 2, 2, 2)]),
    ("conv_nhwc", lambda x, w, b: mx.nd.Convolution(x, w, b, kernel=(2, 2), pad=(1, 0),
                                                    num_filter=3, layout="NHWC"),
     [_a(2, 4, 3, 2), _a(3, 2, 2, 2), _a(3)]),
    ("deconv", lambda x, w, b: mx.nd.Deconvolution(x, w, b, kernel=(3, 3), stride=(2, 2),
                                                   pad=(1, 0), adj=(1, 1), num_filter=4,
                                                   num_group=2, no_bias=False),
     [_a(1, 2, 3, 3), _a(2, 2, 3, 3), _a(4)]),
    ("maxpool", lambda x: mx.nd.Pooling(x, kernel=(2, 3), stride=(2, 1), pad=(1, 1)),
     [_a(2, 2, 5, 5)]),
    ("avgpool_full", lambda x: mx.nd.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1),
                                             pool_type="avg", pooling_convention="full",
                                             count_include_pad=False),
     [_a(1, 2, 6, 5)]),
    ("lp2", lambda x: mx.nd.Pooling(x, kernel=(2, 2), pool_type="lp", p_value=2),
     [_a(1, 2, 4, 4) + 2]),
    ("lp3", lambda x: mx.nd.Pooling(x, kernel=(2,), pool_type="lp", p_value=3),
     [_a(1, 2, 5) + 2]),
    ("upsampling", lambda x, y: mx.nd.UpSampling(x, y, scale=2, sample_type="nearest",
                                                 num_args=2),
     [_a(1, 2, 2, 3), _a(1, 1, 1, 3)]),
    ("pad_reflect", lambda x: mx.nd.Pad(x, mode="reflect", pad_width=(0, 0, 0, 0, 2, 1, 1, 2)),
     [_a(1, 2, 4, 3)]),
    ("pad_edge", lambda x: mx.nd.Pad(x, mode="edge", pad_width=(0, 0, 0, 0, 1, 2, 0, 3)),
     [_a(1, 2, 3, 3)]),
    ("layernorm", lambda x, g, b: mx.nd.LayerNorm(x, g, b, axis=1), [_a(3, 4, 2), _a(4), _a(4)]),
    ("instancenorm", lambda x, g, b: mx.nd.InstanceNorm(x, g, b), [_a(2, 3, 5), _a(3), _a(3)]),
    ("groupnorm", lambda x, g, b: mx.nd.GroupNorm(x, g, b, num_groups=2),
     [_a(2, 4, 3), _a(2), _a(2)]),
]  # fmt: skip


@pytest.mark.parametrize("fn, inputs", [c[1:] for c in GRAD_CASES], ids=[c[0] for c in GRAD_CASES])
def test_gradients_match_finite_differences(fn: Any, inputs: list[np.ndarray]) -> None:
    check_grad(fn, inputs, rtol=1e-5, atol=1e-7)


def test_batch_norm_training_gradient_matches_finite_differences() -> None:
    mm, mv = mx.nd.zeros(3, dtype="float64"), mx.nd.ones(3, dtype="float64")

    def bn(x: Any, g: Any, b: Any) -> Any:
        return mx.nd.BatchNorm(x, g, b, mm, mv, fix_gamma=False, axis=1)

    with autograd.train_mode():
        check_grad(bn, [_a(4, 3, 2), _a(3) + 2, _a(3)], rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------- every context
def _pipeline(ctx: mx.Context) -> list[np.ndarray]:
    """A forward and backward through every operator of the family on ``ctx``."""
    rng = np.random.default_rng(0)

    def arr(*shape: int) -> Any:
        return mx.nd.array(rng.standard_normal(shape), ctx=ctx)

    x, w, b, gamma = arr(2, 3, 7, 7), arr(4, 3, 3, 3), arr(4), mx.nd.ones(4, ctx=ctx)
    mm, mv = mx.nd.zeros(4, ctx=ctx), mx.nd.ones(4, ctx=ctx)
    for a in (x, w, b, gamma):
        a.attach_grad()
    with autograd.record():
        y = mx.nd.Convolution(x, w, b, kernel=(3, 3), num_filter=4, pad=(1, 1), stride=(2, 2))
        y = mx.nd.BatchNorm(y, gamma, mx.nd.zeros(4, ctx=ctx), mm, mv, fix_gamma=False)
        y = mx.nd.Pooling(y, kernel=(2, 2), pool_type="max")
        y = mx.nd.Deconvolution(y, arr(4, 2, 3, 3), kernel=(3, 3), num_filter=2, stride=(2, 2))
        y = mx.nd.GroupNorm(y, mx.nd.ones(2, ctx=ctx), mx.nd.zeros(2, ctx=ctx), num_groups=2)
        y = mx.nd.Pad(y, mode="reflect", pad_width=(0, 0, 0, 0, 1, 1, 1, 1))
        y = mx.nd.UpSampling(y, scale=2, sample_type="nearest")
        y = mx.nd.Pooling(y, kernel=(3, 3), pool_type="avg", stride=(2, 2), pad=(1, 1))
        loss = (y * y).sum()
    loss.backward()
    assert y.context == ctx and x.grad.context == ctx and mm.context == ctx
    return [a.asnumpy() for a in (y, x.grad, w.grad, b.grad, gamma.grad, mm, mv)]


def test_every_context_computes_the_same(ctx: mx.Context) -> None:
    ref = _pipeline(mx.cpu(0))
    got = _pipeline(ctx)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------- what MXNet's CPU lacks
def test_float16_follows_float32() -> None:
    x, w, b = _a(2, 3, 6, 5), _a(4, 3, 3, 3) * 0.3, _a(4)
    ref = mx.nd.Convolution(mx.nd.array(x), mx.nd.array(w), mx.nd.array(b), kernel=(3, 3),
                            num_filter=4, pad=(1, 1))  # fmt: skip
    half = [mx.nd.array(a, dtype="float16") for a in (x, w, b)]
    for a in half:
        a.attach_grad()
    with autograd.record():
        y = mx.nd.Convolution(*half, kernel=(3, 3), num_filter=4, pad=(1, 1))
    y.backward()
    assert y.dtype == np.float16 and half[1].grad.dtype == np.float16
    np.testing.assert_allclose(y.asnumpy(), ref.asnumpy(), rtol=1e-2, atol=1e-2)
    assert np.isfinite(half[0].grad.asnumpy()).all()


@pytest.mark.parametrize("op", ["Convolution", "Deconvolution"])
def test_channels_last_equals_channels_first(op: str) -> None:
    x, w = _a(2, 4, 6, 5), _a(4, 2, 3, 3)
    kw = {"kernel": (3, 3), "num_filter": 4 if op == "Convolution" else 2, "pad": (1, 1),
          "stride": (2, 1), "num_group": 2, "no_bias": True}  # fmt: skip
    if op == "Deconvolution":
        kw["num_filter"] = 4
    fn = getattr(mx.nd, op)
    first = [mx.nd.array(x), mx.nd.array(w)]
    last = [mx.nd.array(x.transpose(0, 2, 3, 1)), mx.nd.array(w.transpose(0, 2, 3, 1))]
    outs = []
    for arrays, layout in ((first, "NCHW"), (last, "NHWC")):
        for a in arrays:
            a.attach_grad()
        with autograd.record():
            y = fn(*arrays, layout=layout, **kw)
        head = np.arange(y.size).reshape(outs[0][0].shape if outs else y.shape) % 7
        y.backward(mx.nd.array(head.transpose(0, 2, 3, 1) if outs else head))
        outs.append([y.asnumpy()] + [a.grad.asnumpy() for a in arrays])
    to_first = (0, 3, 1, 2)
    np.testing.assert_allclose(outs[1][0].transpose(to_first), outs[0][0], rtol=1e-5, atol=1e-6)
    for a, b in zip(outs[1][1:], outs[0][1:]):
        np.testing.assert_allclose(a.transpose(to_first), b, rtol=1e-5, atol=1e-6)


def test_same_convention_pools_1d_max_tf_style() -> None:
    x = mx.nd.array(np.arange(7, dtype=np.float32).reshape(1, 1, 7))
    y = mx.nd.Pooling(x, kernel=(2,), stride=(2,), pooling_convention="same")
    assert y.asnumpy().ravel().tolist() == [1.0, 3.0, 5.0, 6.0]


# ----------------------------------------------------------------------- bad input
def test_batch_norm_with_bad_parameters_changes_nothing() -> None:
    x = mx.nd.array(_a(4, 3, 2))
    gamma, beta, mm, mv = mx.nd.array(_a(3)), mx.nd.zeros(3), mx.nd.zeros(2), mx.nd.ones(3)
    before = [a.asnumpy().copy() for a in (gamma, mm, mv)]
    with autograd.record(), pytest.raises(MXNetError, match="moving_mean") as err:
        mx.nd.BatchNorm(x, gamma, beta, mm, mv)
    assert "(3,)" in str(err.value) and "(4, 3, 2)" in str(err.value)
    for a, b in zip((gamma, mm, mv), before):
        np.testing.assert_array_equal(a.asnumpy(), b)  # fix_gamma did not write either


def test_convolution_errors_name_the_shapes() -> None:
    x = mx.nd.ones((2, 3, 4, 4))
    with pytest.raises(MXNetError, match=r"kernel size exceed input.*\(5, 5\).*\(2, 3, 4, 4\)"):
        mx.nd.Convolution(x, mx.nd.ones((2, 3, 5, 5)), kernel=(5, 5), num_filter=2, no_bias=True)
    with pytest.raises(MXNetError, match="num_group"):
        mx.nd.Convolution(x, mx.nd.ones((2, 1, 3, 3)), kernel=(3, 3), num_filter=2,
                          num_group=2, no_bias=True)  # fmt: skip
    with pytest.raises(MXNetError, match="Required parameter kernel"):
        mx.nd.Convolution(x, mx.nd.ones((2, 3, 3, 3)), num_filter=2, no_bias=True)
    with pytest.raises(MXNetError, match="too big target shape"):
        mx.nd.Deconvolution(x, mx.nd.ones((3, 1, 3, 3)), kernel=(3, 3), num_filter=1,
                            target_shape=(9, 9))  # fmt: skip


def test_deconvolution_target_shape_sets_pad_and_adj() -> None:
    x = mx.nd.ones((1, 1, 4, 4))
    for t in (9, 8, 7):
        y = mx.nd.Deconvolution(x, mx.nd.ones((1, 1, 3, 3)), kernel=(3, 3), num_filter=1,
                                stride=(2, 2), target_shape=(t, t))  # fmt: skip
        assert y.shape == (1, 1, t, t)


def test_max_pooling_on_a_device_scatters_the_maxima_it_recorded(
    fake_gpu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the (fake) GPU, max pooling under record() keeps each window's first maximum and its
    backward pass is one scatter of them (not a second search): values and gradients equal the
    host's, ties (rounded inputs) included."""
    from mxlite.ops import pool

    calls: list[str] = []
    for name in ("backward_argmax_reference", "backward_reference"):
        original = getattr(pool, name)
        monkeypatch.setattr(pool, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    x = np.round(_RNG.uniform(-2, 2, (2, 3, 7, 6)) * 2) / 2
    g = _RNG.standard_normal((2, 3, 4, 3))
    results = []
    for ctx in (mx.cpu(0), mx.gpu(0)):
        a = mx.nd.array(x, ctx=ctx)
        a.attach_grad()
        with autograd.record():
            y = mx.nd.Pooling(a, kernel=(3, 3), stride=(2, 2), pad=(1, 1))
        y.backward(mx.nd.array(g, ctx=ctx))
        results.append((y.asnumpy(), a.grad.asnumpy()))
    assert calls == ["backward_argmax_reference"]
    np.testing.assert_array_equal(results[1][0], results[0][0])
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6, atol=1e-6)
    assert results[0][1].sum() == pytest.approx(g.sum(), abs=1e-4)  # every output's gradient lands


def test_convolution_on_a_device_is_column_matrices_and_cublas_gemms(
    fake_gpu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the (fake) GPU a 3x3 stride-1 convolution, which the host runs by Winograd, runs by
    im2col and one GEMM per product (a batched one per group): forward and both gradients
    equal the host's."""
    from mxlite import backend
    from mxlite.ops import winograd

    for name in ("forward", "weight_grad"):
        original = getattr(winograd, name)

        def host_only(*args: Any, _f: Any = original) -> Any:
            assert not backend.is_gpu_array(args[0]), "Winograd ran on a device array"
            return _f(*args)

        monkeypatch.setattr(winograd, name, host_only)
    products: list[tuple[int, int]] = []
    matmul = fake_gpu.matmul
    monkeypatch.setattr(
        fake_gpu, "matmul", lambda a, b: products.append((a.ndim, b.ndim)) or matmul(a, b),
        raising=False,
    )  # fmt: skip
    x, g = _RNG.standard_normal((2, 16, 8, 8)), _RNG.standard_normal((2, 16, 8, 8))
    w = _RNG.standard_normal((16, 16, 3, 3)) * 0.1
    for groups, rank in ((1, 2), (2, 3)):
        results = []
        for ctx in (mx.cpu(0), mx.gpu(0)):
            a = mx.nd.array(x, ctx=ctx)
            wt = mx.nd.array(w[:, : 16 // groups], ctx=ctx)
            a.attach_grad()
            wt.attach_grad()
            products.clear()  # (the GPU probe multiplies too)
            with autograd.record():
                y = mx.nd.Convolution(a, wt, kernel=(3, 3), pad=(1, 1), num_filter=16,
                                      num_group=groups, no_bias=True)  # fmt: skip
            y.backward(mx.nd.array(g, ctx=ctx))
            results.append([y.asnumpy(), a.grad.asnumpy(), wt.grad.asnumpy()])
        assert len(products) == 3 and all(p == (rank, rank) for p in products), products
        for got, want in zip(results[1], results[0]):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
