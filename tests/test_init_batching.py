"""initialize(): one multi fill per (context, kind); force_reinit recycles only unheld buffers."""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite import ops
from mxlite.base import MXNetError
from mxlite.gluon import ParameterDict, _replicas, nn


def _spy(monkeypatch):
    calls = []
    for kind in ("uniform", "normal", "constant"):
        real = getattr(ops, f"multi_fill_{kind}")

        def spy(arrs, *args, _real=real, _kind=kind, **kwargs):
            calls.append((_kind, len(arrs)))
            return _real(arrs, *args, **kwargs)

        monkeypatch.setattr(ops, f"multi_fill_{kind}", spy)
    return calls


def test_initialize_is_one_fill_per_kind(monkeypatch):
    pd = ParameterDict("b_")
    for i in range(20):
        pd.get(f"l{i}_weight", shape=(4, 3))
        pd.get(f"l{i}_bias", shape=(4,), init="zeros")
        pd.get(f"l{i}_gamma", shape=(4,), init="ones")
    calls = _spy(monkeypatch)
    pd.initialize(mx.init.Xavier(), ctx=[mx.cpu(0), mx.cpu(1)])
    assert sorted(calls) == [("constant", 80), ("uniform", 40)]


class _TwoWeights(nn.HybridBlock):
    """Two weights of unknown input size, inferred from the first input."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.a = self.params.get("a_weight", shape=(3, 0), allow_deferred_init=True)
            self.b = self.params.get("b_weight", shape=(5, 0), allow_deferred_init=True)
            self.c = self.params.get("c_bias", shape=(0,), init="zeros", allow_deferred_init=True)

    def infer_shape(self, x):
        self.a.shape = (3, x.shape[1])
        self.b.shape = (5, x.shape[1])
        self.c.shape = (x.shape[1],)

    def hybrid_forward(self, F, x, a, b, c):
        return F.dot(x + c, a.T)


def test_deferred_forward_fills_a_block_in_one_batch(monkeypatch):
    net = _TwoWeights()
    net.initialize(mx.init.Normal(), ctx=[mx.cpu(0), mx.cpu(1)])
    calls = _spy(monkeypatch)
    net(mx.nd.ones((2, 4)))
    assert sorted(calls) == [("constant", 2), ("normal", 4)]
    assert net.b.data(mx.cpu(1)).shape == (5, 4)


def test_deferred_shapes_checked_before_any_fill():
    net = _TwoWeights()
    net.initialize()
    net.a.shape = (3, 4)
    with pytest.raises(mx.base.CheckError):
        type(net.a)._finish_deferred_inits([net.a, net.b])
    assert net.a._data is None  # nothing initialized


def _big_dict(n=3):
    pd = ParameterDict("g_")
    for i in range(n):
        pd.get(f"p{i}_weight", shape=(300, 400))  # 480 KB: recyclable
    pd.initialize(mx.init.Uniform(), ctx=[mx.cpu(0), mx.cpu(1)])
    return pd


def test_force_reinit_recycles_unheld_buffers_with_the_same_values():
    pd = _big_dict()
    ref = _big_dict()
    mx.random.seed(31)
    for p in ref.values():
        p.initialize(mx.init.Xavier(), ctx=[mx.cpu(0), mx.cpu(1)], force_reinit=True)
    before = {name: sorted(id(a._data) for a in p.list_data()) for name, p in pd.items()}
    mx.random.seed(31)  # the same draw of each name as ref's
    pd.initialize(mx.init.Xavier(), ctx=[mx.cpu(0), mx.cpu(1)], force_reinit=True)
    for name, p in pd.items():
        assert sorted(id(a._data) for a in p.list_data()) == before[name]
        a, b = p.list_data()
        assert not np.shares_memory(a._data, b._data)
        for arr, want in zip(p.list_data(), ref[name].list_data()):
            assert arr.asnumpy().tobytes() == want.asnumpy().tobytes()


def test_force_reinit_never_writes_a_held_replica():
    pd = _big_dict(1)
    held = pd["g_p0_weight"].data(mx.cpu(1))
    old = held.asnumpy()
    pd.initialize(mx.init.Xavier(), ctx=[mx.cpu(0), mx.cpu(1)], force_reinit=True)
    assert held.asnumpy().tobytes() == old.tobytes()
    assert not np.array_equal(pd["g_p0_weight"].data(mx.cpu(1)).asnumpy(), old)


def test_failing_force_reinit_leaves_recycled_buffers_untouched():
    pd = _big_dict(3)
    pd.get("bad_weight", shape=(5,), dtype="int32", init="zeros")  # Xavier cannot fill it
    pd["g_bad_weight"].initialize()
    pd["g_bad_weight"].init = mx.init.Xavier()
    before = {name: [a.asnumpy() for a in p.list_data()] for name, p in pd.items()}
    with pytest.raises((MXNetError, ValueError)):
        pd.initialize(mx.init.Xavier(), ctx=[mx.cpu(0), mx.cpu(1)], force_reinit=True)
    for name, p in pd.items():
        for arr, old in zip(p.list_data(), before[name]):
            assert arr.asnumpy().tobytes() == old.tobytes()


def test_plans_succeed_sees_failures():
    pd = _big_dict(1)
    job = pd["g_p0_weight"]._make_job(mx.init.Xavier(), [mx.cpu()], mx.init.Xavier(), None)
    vec = _replicas.empty((7,), np.float32, mx.cpu())
    batches = {0: (mx.init.Xavier(), [job.desc()], [vec])}
    assert not _replicas._plans_succeed(batches)  # Xavier refuses vectors
    mat = _replicas.empty((7, 2), np.float32, mx.cpu())
    assert _replicas._plans_succeed({0: (mx.init.Xavier(), [job.desc()], [mat])})
