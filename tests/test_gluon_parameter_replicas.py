"""Parameters on several contexts: identical replicas filled in place, own gradient buffers,
averaging on reset_ctx and save; the same bodies on gpu(0) and [gpu(0), cpu(0)] when a GPU is there."""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, nd
from mxlite.gluon import ParameterDict, nn
from mxlite.gluon.parameter import Parameter

BUILT_INS = [
    pytest.param(lambda: mx.init.Uniform(0.5), id="uniform"),
    pytest.param(lambda: mx.init.Normal(0.3), id="normal"),
    pytest.param(lambda: mx.init.Xavier(), id="xavier"),
    pytest.param(lambda: mx.init.Constant(0.25), id="constant"),
]
TWO_CPUS = [mx.cpu(0), mx.cpu(1)]


def _values(param):
    return [arr.asnumpy() for arr in param.list_data()]


@pytest.mark.parametrize("make_init", BUILT_INS)
def test_replicas_identical_and_independent(make_init):
    p = Parameter("rep_weight", shape=(4, 5))
    p.initialize(init=make_init(), ctx=TWO_CPUS)
    a, b = p.list_data()
    assert a.context == mx.cpu(0) and b.context == mx.cpu(1)
    np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    assert not np.shares_memory(a._data, b._data)
    a[:] = 9.0  # replicas are independent arrays
    assert float(b.asnumpy()[0, 0]) != 9.0


def test_built_in_fill_is_in_place_per_replica(monkeypatch):
    seen = []
    real = mx.initializer.init_many

    def spy(init, descs, arrays):
        seen.extend((str(d), a.context) for d, a in zip(descs, arrays))
        return real(init, descs, arrays)

    monkeypatch.setattr(mx.initializer, "init_many", spy)
    p = Parameter("inplace_weight", shape=(3, 3))
    p.initialize(ctx=TWO_CPUS)
    assert seen == [("inplace_weight", mx.cpu(0)), ("inplace_weight", mx.cpu(1))]
    assert [a.context for a in p.list_data()] == TWO_CPUS


def test_value_does_not_depend_on_contexts_or_order():
    mx.random.seed(1234)
    one = Parameter("same_weight", shape=(6, 3))
    one.initialize(ctx=mx.cpu(1))
    other = Parameter("other_weight", shape=(6, 3))
    other.initialize()
    mx.random.seed(1234)  # the first initialization of "same_weight" again, after another name
    later = Parameter("other_weight", shape=(6, 3))
    later.initialize()
    many = Parameter("same_weight", shape=(6, 3))
    many.initialize(ctx=[mx.cpu(2), mx.cpu(0), mx.cpu(1)])
    for arr in _values(many):
        np.testing.assert_array_equal(arr, one.data().asnumpy())
    assert not np.array_equal(other.data().asnumpy(), one.data().asnumpy())
    # a second Parameter of the same name since the seed draws new values, as in MXNet
    twin = Parameter("same_weight", shape=(6, 3))
    twin.initialize()
    assert not np.array_equal(twin.data().asnumpy(), one.data().asnumpy())
    mx.random.seed(99)
    reseeded = Parameter("same_weight", shape=(6, 3))
    reseeded.initialize()
    assert not np.array_equal(reseeded.data().asnumpy(), one.data().asnumpy())


def test_user_initializer_runs_once_on_cpu_and_is_copied():
    calls = []

    class MyInit(mx.init.Initializer):
        def _init_weight(self, name, data):
            calls.append((str(name), data.context))
            data[:] = nd.random.uniform(low=-10, high=10, shape=data.shape)

    p = Parameter("mine_weight", shape=(3, 4))
    p.initialize(init=MyInit(), ctx=[mx.cpu(1), mx.cpu(2), mx.cpu(3)])
    assert calls == [("mine_weight", mx.cpu(0))]  # once, on a cpu(0) array as in MXNet
    vals = _values(p)
    assert np.abs(vals[0]).max() > 1.0
    for arr in vals[1:]:
        np.testing.assert_array_equal(arr, vals[0])


def test_separate_gradient_buffers_filled_by_backward():
    net = nn.Dense(3, in_units=4)
    net.initialize(ctx=TWO_CPUS)
    g0, g1 = net.weight.list_grad()
    assert g0.context == mx.cpu(0) and g1.context == mx.cpu(1)
    assert not np.shares_memory(g0._data, g1._data)
    x = nd.ones((2, 4), ctx=mx.cpu(1))
    with autograd.record():
        y = net(x)
    y.backward()
    assert float(net.weight.grad(mx.cpu(1)).asnumpy().sum()) != 0.0
    assert float(net.weight.grad(mx.cpu(0)).asnumpy().sum()) == 0.0
    np.testing.assert_array_equal(net.bias.grad(mx.cpu(1)).asnumpy(), np.full(3, 2.0))


def test_reset_ctx_and_save_average_replicas(tmp_path):
    pd = ParameterDict("avg_")
    p = pd.get("weight", shape=(2, 2))
    pd.initialize(ctx=[mx.cpu(0), mx.cpu(1), mx.cpu(2)])
    for i, arr in enumerate(p.list_data()):
        arr[:] = float(i)  # 0, 1, 2 -> mean 1
    fname = str(tmp_path / "avg.params")
    pd.save(fname)
    np.testing.assert_array_equal(nd.load(fname)["avg_weight"].asnumpy(), np.ones((2, 2)))
    p.reset_ctx(TWO_CPUS)
    for arr in _values(p):
        np.testing.assert_array_equal(arr, np.ones((2, 2)))


def test_deferred_init_fills_each_replica():
    net = nn.Sequential()
    net.add(nn.Dense(5, activation="relu"), nn.Dense(2))
    net.initialize(ctx=TWO_CPUS)
    net(nd.ones((3, 7)))
    for param in net.collect_params().values():
        a, b = _values(param)
        np.testing.assert_array_equal(a, b)
    assert net[0].weight.shape == (5, 7)


# ---------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.parametrize("make_init", BUILT_INS)
def test_gpu_parameter(gpu_ctx, make_init):
    mx.random.seed(51)
    p = Parameter("gpu_weight", shape=(16, 8))
    p.initialize(init=make_init(), ctx=gpu_ctx)
    assert p.data().context == gpu_ctx and p.grad().context == gpu_ctx
    mx.random.seed(51)  # the same (first) draw of the name on the CPU
    ref = Parameter("gpu_weight", shape=(16, 8))
    ref.initialize(init=make_init(), ctx=mx.cpu())
    np.testing.assert_allclose(p.data().asnumpy(), ref.data().asnumpy(), rtol=3e-7, atol=1e-7)


@pytest.mark.gpu
def test_gpu_uniform_bit_identical_to_cpu(gpu_ctx):
    mx.random.seed(52)
    p = Parameter("bits_weight", shape=(64, 33))
    p.initialize(ctx=gpu_ctx)
    mx.random.seed(52)
    q = Parameter("bits_weight", shape=(64, 33))
    q.initialize(ctx=mx.cpu())
    np.testing.assert_array_equal(p.data().asnumpy(), q.data().asnumpy())


@pytest.mark.gpu
@pytest.mark.parametrize("make_init", BUILT_INS)
def test_mixed_gpu_cpu_replicas_identical(gpu_ctx, make_init):
    p = Parameter("mixed_weight", shape=(8, 8))
    p.initialize(init=make_init(), ctx=[gpu_ctx, mx.cpu(0)])
    g, c = p.list_data()
    assert g.context == gpu_ctx and c.context == mx.cpu(0)
    np.testing.assert_array_equal(g.asnumpy(), c.asnumpy())
    assert p.grad(gpu_ctx).context == gpu_ctx and p.grad(mx.cpu(0)).context == mx.cpu(0)
    with gpu_ctx:
        assert p.data() is g
    g[:] = 2.0
    p.reset_ctx(mx.cpu(0))
    np.testing.assert_allclose(p.data().asnumpy(), (2.0 + c.asnumpy()) / 2, rtol=1e-6)


@pytest.mark.gpu
def test_gpu_dense_forward_backward_and_save(gpu_ctx, tmp_path):
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="relu"), nn.Dense(2))
    net.initialize(ctx=[gpu_ctx, mx.cpu(0)])
    x = nd.random.uniform(shape=(3, 5))
    out_cpu = net(x).asnumpy()
    with autograd.record():
        y = net(x.copyto(gpu_ctx))
    y.backward()
    np.testing.assert_allclose(y.asnumpy(), out_cpu, rtol=1e-5, atol=1e-6)
    assert float(np.abs(net[0].weight.grad(gpu_ctx).asnumpy()).sum()) > 0
    fname = str(tmp_path / "g.params")
    net.save_parameters(fname)
    other = nn.Sequential()
    other.add(nn.Dense(4, activation="relu"), nn.Dense(2))
    other.load_parameters(fname, ctx=gpu_ctx)
    np.testing.assert_allclose(other(x.copyto(gpu_ctx)).asnumpy(), out_cpu, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_gpu_zero_grad_groups_by_context(gpu_ctx):
    pd = ParameterDict("z_")
    for name in ("a", "b"):
        pd.get(name, shape=(3,))
    pd.initialize(ctx=[gpu_ctx, mx.cpu(0)])
    for p in pd.values():
        for g in p.list_grad():
            g[:] = 1.0
    pd.zero_grad()
    assert all(float(g.asnumpy().sum()) == 0.0 for p in pd.values() for g in p.list_grad())
