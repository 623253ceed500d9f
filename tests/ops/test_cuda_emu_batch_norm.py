"""The CUDA BatchNorm kernels (kernels/batch_norm.cu) run on the host by g++
(tests/_support/cuda_emu_batch_norm.py): the elementwise passes bitwise equal to mxlite.ops.norm's NumPy
references, the channel sums bitwise equal to a NumPy twin that adds the same terms in the same
slot order (and close to the references), and BatchNorm on a fake GPU running them end to end
with the host's values, moving statistics and gradients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.ops import _cuda_norm, norm
from tests._support import cuda_emu_batch_norm as emu

pytestmark = pytest.mark.skipif(not emu.available(), reason="g++ not on PATH: kernels not emulated")

_RNG = np.random.default_rng(21)
DTYPES = [np.float32, np.float64, np.float16]
SHAPES = [(2, 3, 5), (3, 2, 300), (1, 4, 1)]  # planes under a warp, over 256, of one position


def _acc(dtype: Any) -> Any:
    return np.float64 if dtype == np.float64 else np.float32


def _data(shape: tuple[int, ...], dtype: Any, shift: float = 0.0) -> np.ndarray:
    return (_RNG.standard_normal(shape) * 2 + shift).astype(dtype)


def _family(dtype: Any) -> str:
    return np.dtype(dtype).name


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("relu", [False, True])
def test_elementwise_passes_are_bitwise_the_references(shape: Any, dtype: Any, relu: bool) -> None:
    n, c, p = shape
    acc = _acc(dtype)
    x, g, y = (_data(shape, dtype) for _ in range(3))
    scale, shift, k1, k2, k3 = (_RNG.standard_normal(c).astype(acc) for _ in range(5))
    threads = min(256, max(32, -(-p // 32) * 32))
    out = np.full(shape, np.nan, dtype=dtype)
    emu.run("bn_forward_apply", _family(dtype), n * c, threads,
            (x, scale, shift, out, np.int32(c), np.int64(p), np.int32(relu)))  # fmt: skip
    want = norm.apply_reference(x, scale, shift, relu).astype(dtype)
    np.testing.assert_array_equal(out.view(np.uint8), want.view(np.uint8))
    dx = np.full(shape, np.nan, dtype=dtype)
    emu.run("bn_backward_apply", _family(dtype), n * c, threads,
            (g, x, y, k1, k2, k3, dx, np.int32(c), np.int64(p), np.int32(relu)))  # fmt: skip
    want = norm.input_grad_reference(g, x, k1, k2, k3, y if relu else None).astype(dtype)
    np.testing.assert_array_equal(dx.view(np.uint8), want.view(np.uint8))


def _slot_sums(
    mode: int, x: np.ndarray, center: np.ndarray, g: np.ndarray, y: np.ndarray | None, slots: int
) -> np.ndarray:
    """What bn_channel_sums computes: per (channel, slot) the float64 sums of its terms, added
    for n = 0..N-1 and positions slot, slot + slots, ... in that order."""
    n, c, p = x.shape
    acc = _acc(x.dtype)
    xa, ga = x.astype(acc), g.astype(acc)
    mid = center.astype(acc)[:, None]
    out = np.zeros((c, slots, 2))
    for b in range(n):
        for start in range(0, p, slots):
            pos = np.arange(start, min(start + slots, p))
            at = pos - start
            xv = xa[b][:, pos]
            if mode == 0:
                out[:, at, 0] += xv.astype(np.float64)
            elif mode == 1:
                d = xv - mid
                out[:, at, 1] += (d * d).astype(np.float64)
            else:
                gv = ga[b][:, pos]
                if y is not None:
                    gv = gv * (y.astype(acc)[b][:, pos] > 0).astype(acc)
                out[:, at, 0] += gv.astype(np.float64)
                out[:, at, 1] += (gv * (xv - mid)).astype(np.float64)
    return out


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("sms", [1, 64])
def test_channel_sums_add_the_terms_in_slot_order(
    shape: Any, dtype: Any, mode: int, sms: int
) -> None:
    n, c, p = shape
    x, g, y = _data(shape, dtype, shift=5.0), _data(shape, dtype), _data(shape, dtype)
    center = (x.astype(np.float64).mean(axis=(0, 2)) + 0.25).astype(_acc(dtype))
    per_channel, threads = _cuda_norm.launch_shape(c, p, sms)
    slots = per_channel * threads
    assert slots >= threads and (per_channel == 1 or slots <= p + threads)
    for relu in (False, True) if mode == 2 else (False,):
        partials = np.full((c, slots, 2), np.nan)
        emu.run("bn_channel_sums", _family(dtype), c * per_channel, threads,
                (x, g, y, center, partials, np.int64(n), np.int32(c), np.int64(p),
                 np.int32(per_channel), np.int32(mode), np.int32(relu)))  # fmt: skip
        want = _slot_sums(mode, x, center, g, y if relu else None, slots)
        np.testing.assert_array_equal(partials, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_moments_and_gradient_sums_on_the_fake_gpu_match_the_references(
    fake_gpu: Any, dtype: Any
) -> None:
    cp = fake_gpu
    x = _data((4, 3, 70), dtype, shift=3.0)
    g = _data(x.shape, dtype)
    y = _data(x.shape, dtype)
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype != np.float64 else {"rtol": 1e-12, "atol": 1e-12}
    mean, var = _cuda_norm.moments(cp.asarray(x))
    mean_ref, var_ref = norm.moments_reference(x.astype(np.float64))
    np.testing.assert_allclose(cp.asnumpy(mean), mean_ref, **tol)
    np.testing.assert_allclose(cp.asnumpy(var), var_ref, **tol)
    center = mean_ref.astype(_acc(dtype))
    s1, s2 = _cuda_norm.grad_sums(cp.asarray(g), cp.asarray(x), cp.asarray(center), cp.asarray(y))
    r1, r2 = norm.grad_sums_reference(g.astype(np.float64), x.astype(np.float64), center, y)
    np.testing.assert_allclose(cp.asnumpy(s1), r1, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(cp.asnumpy(s2), r2, rtol=1e-5, atol=1e-4)


def _batch_norm_step(ctx: mx.Context, x: np.ndarray, g: np.ndarray) -> list[np.ndarray]:
    c = x.shape[1]
    data = mx.nd.array(x, ctx=ctx, dtype=x.dtype)
    gamma = mx.nd.array(np.linspace(0.5, 1.5, c), ctx=ctx)
    beta = mx.nd.array(np.linspace(-1, 1, c), ctx=ctx)
    mm, mv = mx.nd.zeros(c, ctx=ctx), mx.nd.ones(c, ctx=ctx)
    for arr in (data, gamma, beta):
        arr.attach_grad()
    with autograd.record():
        out = mx.nd.BatchNorm(data, gamma, beta, mm, mv, fix_gamma=False, momentum=0.8)
    out.backward(mx.nd.array(g, ctx=ctx, dtype=x.dtype))
    return [a.asnumpy() for a in (out, mm, mv, data.grad, gamma.grad, beta.grad)]


def test_batch_norm_on_the_fake_gpu_runs_the_kernels(
    fake_gpu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[str] = []
    original = emu.run
    monkeypatch.setattr(emu, "run", lambda k, *a: launched.append(k) or original(k, *a))
    x = _data((4, 3, 6, 5), np.float32, shift=2.0)
    g = _data(x.shape, np.float32)
    host = _batch_norm_step(mx.cpu(0), x, g)
    device = _batch_norm_step(mx.gpu(0), x, g)
    # forward: mean, variance, apply; backward: gradient sums, apply
    assert sorted(set(launched)) == ["bn_backward_apply", "bn_channel_sums", "bn_forward_apply"]
    assert launched.count("bn_channel_sums") == 3
    for got, want in zip(device, host):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
