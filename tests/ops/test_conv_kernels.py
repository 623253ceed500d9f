"""Kernel twins of the convolution, pooling and normalization layer: the Numba kernels (parallel
and serial variants) against the NumPy references that define them, per dtype and geometry.
``im2col``/``col2im`` and pooling forward agree bitwise (the same terms in the same order);
pooling backward and the normalization sums agree within rounding (other summation orders)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from mxlite.ops import conv, norm, pool, winograd
from mxlite.ops._numba import conv as _cpu_conv
from mxlite.ops._numba import norm as _cpu_norm
from mxlite.ops._numba import pool as _cpu_pool
from mxlite.ops._numba import winograd as _cpu_winograd

_RNG = np.random.default_rng(11)

GEOMETRIES = [  # kernel, stride, pad, dilate (3-d; 1-d and 2-d have unit leading entries)
    ((1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1)),
    ((1, 7, 7), (1, 2, 2), (0, 3, 3), (1, 1, 1)),
    ((1, 1, 1), (1, 2, 2), (0, 0, 0), (1, 1, 1)),
    ((1, 1, 3), (1, 1, 3), (0, 0, 2), (1, 1, 2)),
    ((2, 3, 2), (2, 1, 2), (1, 0, 1), (1, 2, 1)),
    ((3, 3, 3), (1, 1, 1), (1, 1, 1), (2, 1, 1)),
]


@pytest.mark.parametrize("geo", GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parallel", [True, False])
def test_im2col_and_col2im_twins_are_bitwise(geo: Any, dtype: Any, parallel: bool) -> None:
    win = conv.Window(*geo, ndim=3)
    x5 = _RNG.standard_normal((2, 3, 5, 7, 8)).astype(dtype)
    out3 = win.conv_out(x5.shape[2:])
    ref = conv.im2col_reference(x5, win, out3)
    cols = np.full_like(ref, np.nan)  # poisoned: every element must be written
    xph = conv.width_phases(x5, win.stride[2])
    run = _cpu_conv.im2col if parallel else _cpu_conv.im2col_serial
    run(xph, x5.shape[4], cols, win.packed(out3))
    np.testing.assert_array_equal(cols, ref)
    back_ref = conv.col2im_reference(ref, x5.shape, win, out3)
    back = np.full(x5.shape, np.nan, dtype=dtype)
    (_cpu_conv.col2im if parallel else _cpu_conv.col2im_serial)(ref, back, win.packed(out3))
    np.testing.assert_array_equal(back, back_ref)


def test_im2col_reads_strided_views() -> None:
    base = _RNG.standard_normal((2, 5, 6, 4)).astype(np.float32)
    x5 = conv.as5d(base.transpose(0, 3, 1, 2))  # a channels-last array seen channels-first
    win = conv.Window.of((3, 2), (2, 2), (1, 0), (1, 1))
    out3 = win.conv_out(x5.shape[2:])
    np.testing.assert_array_equal(
        conv.im2col(x5, win, out3), conv.im2col_reference(np.ascontiguousarray(x5), win, out3)
    )


POOLS = [  # kind, p, include_pad, kernel, stride, pad
    ("max", 1, True, (1, 3, 3), (1, 2, 2), (0, 1, 1)),
    ("max", 1, True, (2, 2, 3), (1, 2, 1), (1, 0, 1)),
    ("max", 1, True, (1, 2, 2), (1, 3, 3), (0, 1, 1)),  # 'full': windows of padding only
    ("avg", 1, True, (1, 3, 3), (1, 2, 2), (0, 1, 1)),
    ("avg", 1, False, (1, 3, 2), (1, 2, 1), (0, 1, 1)),
    ("sum", 1, True, (2, 2, 2), (2, 1, 2), (1, 1, 0)),
    ("lp", 1, True, (1, 2, 2), (1, 1, 1), (0, 0, 0)),
    ("lp", 2, True, (1, 2, 3), (1, 2, 1), (0, 1, 0)),
    ("lp", 3, True, (1, 2, 2), (1, 2, 2), (0, 1, 1)),
]


@pytest.mark.parametrize("case", POOLS, ids=lambda c: f"{c[0]}{c[1]}-{c[2]}-{c[3]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("convention", ["valid", "full"])
def test_pooling_twins(case: Any, dtype: Any, convention: str) -> None:
    kind, p, incl, kernel, stride, pad = case
    x = np.round(_RNG.uniform(-2, 2, (2, 3, 4, 7, 6)) * 4) / 4  # ties for max
    x = (x + 3 if kind == "lp" else x).astype(dtype)
    out = tuple(pool.out_size(n, k, s, q, convention) for n, k, s, q in
                zip(x.shape[2:], kernel, stride, pad))  # fmt: skip
    spec = pool.PoolSpec(kernel, stride, pad, out, pool.KINDS[kind], p, incl)
    ref = pool.forward_reference(x, spec)
    for parallel in (True, False):
        got = np.full(x.shape[:2] + out, np.nan, dtype=dtype)
        run = _cpu_pool.forward if parallel else _cpu_pool.forward_serial
        run(x, got, spec.packed(), spec.kind, p, incl, dtype(np.finfo(dtype).min))
        if kind == "lp" and p == 3:  # cbrt of two libms
            np.testing.assert_allclose(got, ref, rtol=4 * np.finfo(dtype).eps)
        else:
            np.testing.assert_array_equal(got, ref)
        g = _RNG.standard_normal(ref.shape).astype(dtype)
        back = np.full(x.shape, np.nan, dtype=dtype)
        run_b = _cpu_pool.backward if parallel else _cpu_pool.backward_serial
        run_b(g, x, ref, back, spec.packed(), spec.kind, p, incl)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        back_ref = pool.backward_reference(g, x, ref, spec)
        np.testing.assert_allclose(back, back_ref, rtol=tol, atol=tol)
        if kind != "max":
            continue
        # the maxima recorded in the forward pass give the same gradient
        got_i = np.full_like(got, np.nan)
        index = np.full(got.shape, -7, dtype=np.int32)
        (_cpu_pool.forward_argmax if parallel else _cpu_pool.forward_argmax_serial)(
            x, got_i, index, spec.packed(), dtype(np.finfo(dtype).min)
        )
        np.testing.assert_array_equal(got_i, ref)
        back_i = np.full(x.shape, np.nan, dtype=dtype)
        (_cpu_pool.backward_argmax if parallel else _cpu_pool.backward_argmax_serial)(
            g, index, back_i
        )
        np.testing.assert_allclose(back_i, back_ref, rtol=tol, atol=tol)
        # the device path's NumPy/CuPy twin records the same maxima and scatters the same sums
        ref_o, ref_i = pool.forward_argmax_reference(x, spec)
        np.testing.assert_array_equal(ref_o, ref)
        np.testing.assert_array_equal(ref_i, index)
        back_s = pool.backward_argmax_reference(g, index, x.shape)
        np.testing.assert_allclose(back_s, back_i, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
def test_normalization_twins(dtype: Any, relu: bool) -> None:
    x = (_RNG.standard_normal((5, 4, 37)) * 3 + 10).astype(dtype)
    g = _RNG.standard_normal(x.shape).astype(dtype)
    y = _RNG.standard_normal(x.shape).astype(dtype)  # a fused ReLU's output masks g
    y_ref = y if relu else None
    mean_ref, var_ref = norm.moments_reference(x.astype(np.float64))
    k1, k2, k3 = (_RNG.standard_normal(4) for _ in range(3))
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for parallel in (True, False):
        suffix = "" if parallel else "_serial"
        mean, var = np.full(4, np.nan), np.full(4, np.nan)
        getattr(_cpu_norm, "moments" + suffix)(x, mean, var)
        np.testing.assert_allclose(mean, mean_ref, rtol=1e-12)
        np.testing.assert_allclose(var, var_ref, rtol=1e-9)
        out = np.full_like(x, np.nan)
        getattr(_cpu_norm, "scale_shift" + suffix)(x, k1.astype(dtype), k2.astype(dtype), out,
                                                   True)  # fmt: skip
        np.testing.assert_allclose(out, norm.apply_reference(x, k1, k2, relu=True), **tol)
        sums = np.full(4, np.nan), np.full(4, np.nan)
        getattr(_cpu_norm, "grad_sums" + suffix)(g, x, mean_ref, *sums, y, relu)
        g64, x64 = g.astype(np.float64), x.astype(np.float64)
        for a, b in zip(sums, norm.grad_sums_reference(g64, x64, mean_ref, y_ref)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
        dx = np.full_like(x, np.nan)
        coef = (k.astype(dtype) for k in (k1, k2, k3))
        getattr(_cpu_norm, "affine2" + suffix)(g, x, *coef, dx, y, relu)
        np.testing.assert_allclose(dx, norm.input_grad_reference(g, x, k1, k2, k3, y_ref), **tol)


@pytest.mark.parametrize("shape, pad", [((2, 5, 9, 7), (1, 1)), ((1, 3, 4, 13), (0, 2)),
                                        ((3, 2, 6, 6), (2, 0))])  # fmt: skip
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parallel", [True, False])
def test_winograd_twins_are_bitwise(shape: Any, pad: Any, dtype: Any, parallel: bool) -> None:
    x = _RNG.standard_normal(shape).astype(dtype)
    out_h, out_w = shape[2] + 2 * pad[0] - 2, shape[3] + 2 * pad[1] - 2
    th, tw = winograd.tiles(out_h, out_w)
    k = winograd.constants(dtype)
    suffix = "" if parallel else "_serial"
    v = np.full((36, shape[1], shape[0] * th * tw), np.nan, dtype=dtype)
    getattr(_cpu_winograd, "input_transform" + suffix)(x, v, k, *pad, th, tw)
    np.testing.assert_array_equal(v, winograd.input_transform_reference(x, *pad, th, tw))
    g = _RNG.standard_normal((shape[0], 4, out_h, out_w)).astype(dtype)
    z = np.full((36, 4, shape[0] * th * tw), np.nan, dtype=dtype)
    getattr(_cpu_winograd, "grad_transform" + suffix)(g, z, k, th, tw)
    np.testing.assert_array_equal(z, winograd.grad_transform_reference(g, th, tw))
    mm = _RNG.standard_normal((36, 4, shape[0] * th * tw)).astype(dtype)
    bias = _RNG.standard_normal(4).astype(dtype)
    y = np.full((shape[0], 4, out_h, out_w), np.nan, dtype=dtype)
    getattr(_cpu_winograd, "output_transform" + suffix)(mm, y, bias, k, th, tw)
    ref = winograd.output_transform_reference(mm, bias, shape[0], out_h, out_w, th, tw)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_winograd_convolution_equals_im2col(pad: int) -> None:
    x = _RNG.standard_normal((2, 16, 11, 9))
    w = _RNG.standard_normal((18, 16, 3, 3)) / 12
    g = _RNG.standard_normal((2, 18, 9 + 2 * pad, 7 + 2 * pad))
    win = conv.Window.of((3, 3), (1, 1), (pad, pad), (1, 1))
    assert conv._winograd(win, conv.as5d(x), w, 1)
    fast = (conv.conv_forward(x, w, None, win, 1),) + conv.conv_backward(
        g, x, w, win, 1, (True, True, False)
    )[:2]
    cols = conv.im2col_reference(conv.as5d(x), win, win.conv_out(conv.as5d(x).shape[2:]))
    direct = (w.reshape(18, -1) @ cols).reshape(18, 2, -1).transpose(1, 0, 2).reshape(fast[0].shape)
    np.testing.assert_allclose(fast[0], direct, rtol=1e-10, atol=1e-12)
    dw = (g.transpose(1, 0, 2, 3).reshape(18, -1) @ cols.T).reshape(w.shape)
    np.testing.assert_allclose(fast[2], dw, rtol=1e-10, atol=1e-11)
    dcols = w.reshape(18, -1).T @ g.transpose(1, 0, 2, 3).reshape(18, -1)
    dx = conv.col2im_reference(dcols, conv.as5d(x).shape, win, win.conv_out(conv.as5d(x).shape[2:]))
    np.testing.assert_allclose(fast[1], dx.reshape(x.shape), rtol=1e-10, atol=1e-11)


def test_every_twin_has_a_serial_variant() -> None:
    for module in (_cpu_conv, _cpu_norm, _cpu_pool, _cpu_winograd):
        names = [n for n in module.__all__ if n.islower() and not n.endswith("_serial")]
        for name in names:
            assert hasattr(module, name + "_serial"), f"{module.__name__}.{name}"


def test_windows_of_every_dimensionality() -> None:
    for nd in (1, 2, 3):
        k = tuple(itertools.islice(itertools.cycle((3, 2)), nd))
        win = conv.Window.of(k, (1,) * nd, (1,) * nd, (1,) * nd)
        assert win.ndim == nd and win.kernel[3 - nd :] == k and win.size == int(np.prod(k))


@pytest.mark.parametrize("geo", GEOMETRIES[1:])  # (the first is a Winograd window)
def test_per_sample_column_matrices_give_the_whole_batch_results(
    geo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host convolutions of many output positions build one sample's column matrix at a time:
    forward, weight and data gradients equal those of one column matrix for the batch."""
    kernel, stride, pad, dilate = geo
    win = conv.Window(kernel, stride, pad, dilate, 3)
    x = _RNG.standard_normal((3, 2, 5, 9, 8))
    w = _RNG.standard_normal((4, 2, *kernel))
    b = _RNG.standard_normal(4)
    results = []
    for threshold in (10**9, 1):  # whole batch, then per sample
        monkeypatch.setattr(conv, "_COLS_PER_SAMPLE_FROM", threshold)
        y = conv.conv_forward(x, w, b, win, 1)
        g = np.linspace(-1, 1, y.size).reshape(y.shape)
        results.append([y, *conv.conv_backward(g, x, w, win, 1, (True, True, True))])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
