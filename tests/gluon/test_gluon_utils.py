"""gluon.utils data-parallel helpers: split_data, split_and_load, clip_global_norm.

``SCENARIO`` runs under real MXNet 1.9.1 and mxlite; the logs must match. clip_global_norm
deliberately differs from MXNet in one way: replicas of one parameter count once.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon, nd
from mxlite.base import CheckError, MXNetError
from tests._support.scenario_log import assert_logs_equal, mxlite_log, mxnet_log

SCENARIO = r"""
import warnings
gluon, nd = mx.gluon, mx.nd

def detail(e):
    return " | " + str(e)[:160]

def vals(*arrays):
    return [[round(float(v), 5) for v in a.asnumpy().ravel()] for a in arrays]

def desc(parts):
    return [[list(p.shape), str(p.context), str(np.dtype(p.dtype)), round(float(p.asnumpy().sum()), 3)] for p in parts]

TWO = [mx.cpu(0), mx.cpu(1)]
x = nd.array(np.arange(24).reshape(4, 6))
log("even error axis 0", lambda: gluon.utils.split_data(x, 3))
log("even error axis 1", lambda: gluon.utils.split_data(x, 4, batch_axis=1))
for n, axis in [(3, 0), (4, 1), (5, 1), (1, 0), (4, 0), (6, 1), (2, 1)]:
    log("split %d %d" % (n, axis), lambda: desc(gluon.utils.split_data(x, n, batch_axis=axis, even_split=False)))
log("split too many axis 1", lambda: gluon.utils.split_data(x, 7, batch_axis=1, even_split=False))
log("split zero", lambda: gluon.utils.split_data(x, 0))
parts = gluon.utils.split_data(x, 2)
parts[0][0, 0] = 100
log("axis 0 slices are views", lambda: float(x[0, 0].asscalar()))
log("load numpy", lambda: desc(gluon.utils.split_and_load(np.arange(12).reshape(4, 3), TWO)))
log("load float64 numpy", lambda: desc(gluon.utils.split_and_load(np.arange(4, dtype=np.float64), TWO)))
log("load list", lambda: desc(gluon.utils.split_and_load([[1, 2], [3, 4]], TWO)))
log("load single ctx", lambda: desc(gluon.utils.split_and_load(x, [mx.cpu(1)])))
log("load single same ctx is input", lambda: gluon.utils.split_and_load(x, [mx.cpu(0)])[0] is x)
log("load axis 1", lambda: desc(gluon.utils.split_and_load(x, TWO, batch_axis=1)))
log("load uneven error", lambda: gluon.utils.split_and_load(nd.ones((5, 2)), TWO))
log("load uneven", lambda: desc(gluon.utils.split_and_load(nd.ones((5, 2)), TWO, even_split=False)))
log("load too few samples", lambda: type(gluon.utils.split_and_load(nd.ones((1, 2)), TWO, even_split=False)).__name__)

def clip(arrays, max_norm, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        norm = gluon.utils.clip_global_norm(arrays, max_norm, **kw)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if isinstance(norm, mx.nd.NDArray):
        norm = ["NDArray", list(norm.shape), str(norm.context), str(np.dtype(norm.dtype)), vals(norm)]
    else:
        norm = [type(norm).__name__, round(float(norm), 4)]
    return norm, messages, vals(*arrays)

log("clip", lambda: clip([nd.array([3.0, 4.0]), nd.array([[1.0, 2.0], [2.0, 4.0]], ctx=mx.cpu(1))], 1.0))
log("no clip", lambda: clip([nd.array([3.0, 4.0]), nd.array([[1.0, 2.0], [2.0, 4.0]])], 100.0))
log("no check", lambda: clip([nd.array([3.0, 4.0], ctx=mx.cpu(1)), nd.array([1.0, 2.0])], 1.0, check_isfinite=False))
log("nan", lambda: clip([nd.array([np.nan, 4.0]), nd.array([1.0, 2.0])], 1.0))
log("inf", lambda: clip([nd.array([np.inf, 4.0]), nd.array([1.0, 2.0])], 1.0))
log("nan no check", lambda: clip([nd.array([np.nan, 4.0]), nd.array([1.0, 2.0])], 1.0, check_isfinite=False))
log("empty", lambda: gluon.utils.clip_global_norm([], 1.0))
rng = np.random.RandomState(0)
big = [nd.array(rng.randn(37, 11)), nd.array(rng.randn(5)), nd.array(rng.randn(300))]
log("random", lambda: clip(big, 2.0))
"""


# mxlite refuses to make empty slices with its own message (MXNet fails inside an operator)
# and names the empty-list error; the categories still match.
_OWN_MESSAGES = {"split too many axis 1", "load too few samples", "empty"}


@pytest.mark.oracle
def test_split_and_clip_log_matches_mxnet() -> None:
    assert_logs_equal(mxlite_log(SCENARIO), mxnet_log(SCENARIO), category_only=_OWN_MESSAGES)


# ---------------------------------------------------------------- unit tests
def test_uneven_split_message_names_shape_slices_axis_and_remedy() -> None:
    data = nd.ones((5, 2))
    with pytest.raises(ValueError) as info:
        gluon.utils.split_data(data, 2)
    text = str(info.value)
    assert "(5, 2)" in text and "2 slices along axis 0" in text and "even_split=False" in text


def test_too_few_samples_is_refused_with_remedy() -> None:
    with pytest.raises(MXNetError, match="some slices would be empty"):
        gluon.utils.split_and_load(nd.ones((1, 2)), [mx.cpu(0), mx.cpu(1)], even_split=False)


def test_split_and_load_numpy_mode_returns_np_arrays() -> None:
    mx.npx.set_np()
    try:
        parts = gluon.utils.split_and_load(np.ones((4, 6)), [mx.cpu(0), mx.cpu(1)], batch_axis=1)
        assert all(isinstance(p, mx.np.ndarray) for p in parts)
        assert [p.shape for p in parts] == [(4, 3), (4, 3)]
        assert [p.ctx for p in parts] == [mx.cpu(0), mx.cpu(1)]
    finally:
        mx.npx.reset_np()


def _replicated_net_after_allreduce() -> tuple[gluon.nn.Sequential, gluon.Trainer]:
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(4, in_units=3), gluon.nn.Dense(2, in_units=4))
    ctxs = [mx.cpu(0), mx.cpu(1)]
    net.initialize(mx.init.Constant(0.3), ctx=ctxs)
    trainer = gluon.Trainer(net.collect_params(), "sgd", update_on_kvstore=False)
    rng = np.random.default_rng(0)
    with autograd.record():
        losses = [(net(nd.array(rng.normal(size=(2, 3)), ctx=c)) ** 2).sum() for c in ctxs]
    autograd.backward(losses)
    trainer.allreduce_grads()
    return net, trainer


def test_clip_global_norm_counts_each_parameter_once_over_replicas() -> None:
    net, _ = _replicated_net_after_allreduce()
    params = list(net.collect_params().values())
    per_ctx = [p.grad(mx.cpu(0)).asnumpy().copy() for p in params]
    expected = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in per_ctx))
    all_replicas = [g for p in params for g in p.list_grad()]
    norm = gluon.utils.clip_global_norm(all_replicas, 0.5)
    assert norm == pytest.approx(expected, rel=1e-6)
    scale = 0.5 / (expected + 1e-8)
    for p, before in zip(params, per_ctx, strict=True):
        first, second = (g.asnumpy() for g in p.list_grad())
        np.testing.assert_allclose(first, before * scale, rtol=1e-6)
        assert np.array_equal(first, second)  # replicas stay identical


def test_clip_global_norm_counts_replicas_once_after_reset_ctx() -> None:
    p = gluon.Parameter("w", shape=(2,))
    p.initialize(mx.init.One(), ctx=[mx.cpu(0)])
    p.reset_ctx([mx.cpu(2), mx.cpu(3)])
    for g in p.list_grad():
        g[:] = nd.array([3.0, 4.0], ctx=g.context)
    assert gluon.utils.clip_global_norm(p.list_grad(), 100.0) == pytest.approx(5.0)


def test_unrelated_equal_arrays_count_separately_as_in_mxnet() -> None:
    arrays = [nd.array([3.0, 4.0]), nd.array([3.0, 4.0], ctx=mx.cpu(1))]
    assert gluon.utils.clip_global_norm(arrays, 100.0) == pytest.approx(np.sqrt(50.0))


def test_clip_returns_float32_scalar_and_ndarray_without_check() -> None:
    norm = gluon.utils.clip_global_norm([nd.array([3.0, 4.0])], 10.0)
    assert isinstance(norm, np.float32) and norm == 5.0
    out = gluon.utils.clip_global_norm(
        [nd.array([3.0, 4.0], ctx=mx.cpu(2))], 1.0, check_isfinite=False
    )
    assert isinstance(out, nd.NDArray) and out.shape == (1,) and out.context == mx.cpu(2)


def test_clip_nan_warns_and_poisons_like_mxnet() -> None:
    arrays = [nd.array([np.nan, 1.0]), nd.array([1.0, 2.0])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        norm = gluon.utils.clip_global_norm(arrays, 1.0)
    assert np.isnan(norm)
    assert [str(w.message) for w in caught] == [
        "nan or inf is detected. Clipping results will be undefined."
    ]
    assert all(np.isnan(a.asnumpy()).all() for a in arrays)


def test_clip_empty_list_is_an_assertion_error() -> None:
    with pytest.raises(CheckError, match="at least one array"):
        gluon.utils.clip_global_norm([], 1.0)


def test_clip_float64_and_float16_keep_dtype() -> None:
    a64 = nd.array([3.0, 4.0], dtype="float64")
    assert isinstance(gluon.utils.clip_global_norm([a64], 1.0), np.float64)
    assert a64.dtype == np.float64
    np.testing.assert_allclose(a64.asnumpy(), [0.6, 0.8], rtol=1e-8)
    a16 = nd.array([300.0, 400.0], dtype="float16")  # squares overflow float16; norm in float32
    assert gluon.utils.clip_global_norm([a16], 1.0) == pytest.approx(500.0)
    assert a16.dtype == np.float16
    np.testing.assert_allclose(a16.asnumpy(), [0.6, 0.8], rtol=2e-3)


@pytest.mark.gpu
def test_clip_global_norm_mixed_gpu_cpu_replicas(gpu_ctx: mx.Context) -> None:
    p = gluon.Parameter("w", shape=(2,))
    p.initialize(mx.init.One(), ctx=[gpu_ctx, mx.cpu(0)])
    for g in p.list_grad():
        g[:] = nd.array([3.0, 4.0], ctx=g.context)
    assert gluon.utils.clip_global_norm(p.list_grad(), 1.0) == pytest.approx(5.0)
    for g in p.list_grad():
        np.testing.assert_allclose(g.asnumpy(), [0.6, 0.8], rtol=1e-6)
