"""Batched Parameter initialization (gluon/_param_init.py): one dispatch, plan, mark and cache
invalidation per batch, with the values, lookups, warnings and errors of the per-Parameter path."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite import _epoch, autograd, random
from mxlite.gluon import ParameterDict, _grad_cache, _param_init
from mxlite.initializer import InitDesc, init_many
from mxlite.initializers import _fill, batched


def _dict(prefix: str = "t_") -> ParameterDict:
    pd = ParameterDict(prefix)
    for i in range(6):
        pd.get(f"l{i}_weight", shape=(5, 3 + i))
        pd.get(f"l{i}_bias", shape=(5,), init="zeros")
    pd.get("frozen_weight", shape=(4, 4), grad_req="null")
    pd.get("acc_weight", shape=(4, 4), grad_req="add")
    return pd


@pytest.mark.parametrize("init", [mx.init.Xavier(), mx.init.Normal(0.3), mx.init.MSRAPrelu()])
def test_dict_values_equal_one_parameter_at_a_time(init):
    ctx = [mx.cpu(0), mx.cpu(1)]
    batch, alone = _dict(), _dict()
    mx.random.seed(41)
    batch.initialize(init, ctx=ctx)
    mx.random.seed(41)  # the same draw of every name
    for param in alone.values():
        param.initialize(None, ctx=ctx, default_init=init)
    for name, param in batch.items():
        for a, b in zip(param.list_data(), alone[name].list_data()):
            assert a.asnumpy().tobytes() == b.asnumpy().tobytes()


def test_replica_lookup_on_mixed_device_ids():
    pd = _dict()
    ctx = [mx.cpu(3), mx.cpu(0), mx.cpu(1)]
    pd.initialize(mx.init.Uniform(), ctx=ctx)
    for param in pd.values():
        assert param.list_ctx() == ctx
        for i, c in enumerate(ctx):
            assert param.data(c) is param.list_data()[i]
            assert param.data(c).context == c
        with pytest.raises(RuntimeError, match="was not initialized on context cpu\\(2\\)"):
            param.data(mx.cpu(2))
    # every Parameter on the same contexts shares one read-only table
    tables = {id(p._ctx_map) for p in pd.values()}
    assert len(tables) == 1
    assert isinstance(next(iter(pd.values()))._ctx_map, tuple)


def test_list_ctx_is_each_parameters_own_list():
    pd = _dict()
    pd.initialize(ctx=[mx.cpu(0)])
    a, b = pd["t_l0_weight"], pd["t_l1_weight"]
    assert a.list_ctx() == b.list_ctx() and a.list_ctx() is not b.list_ctx()


def test_gradients_are_distinct_zero_buffers_marked_for_autograd():
    pd = _dict()
    pd.initialize(mx.init.Xavier(), ctx=[mx.cpu(0), mx.cpu(1)])
    seen = set()
    for param in pd.values():
        if param.grad_req == "null":
            with pytest.raises(RuntimeError, match="grad_req='null'"):
                param.list_grad()
            assert all(d._ag_node is None for d in param.list_data())
            continue
        for data, grad in zip(param.list_data(), param.list_grad()):
            assert not grad.asnumpy().any()
            assert id(grad._data) not in seen
            seen.add(id(grad._data))
            assert data._grad is grad and data._ag_node.grad is grad
            assert data._grad_req == param.grad_req == data._ag_node.grad_req


def test_one_mark_per_batch_and_the_owner_invalidates_plans(monkeypatch):
    marks = []
    real_mark = autograd.mark_variables
    monkeypatch.setattr(
        autograd,
        "mark_variables",
        lambda v, g, r="write": (marks.append(len(v)), real_mark(v, g, r)),
    )
    before = _epoch.BUFFERS.value
    pd = _dict()
    pd.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    assert marks == [2 * (len(pd.keys()) - 1)]  # every replica but the grad_req='null' ones
    # each Parameter's own _install bumped the buffers epoch: plans built before are stale
    assert _epoch.BUFFERS.value > before
    cache, _ = _grad_cache.lookup(tuple(pd.values()))
    assert cache.current
    next(iter(pd.values())).initialize(force_reinit=True, ctx=[mx.cpu(0), mx.cpu(1)])
    assert not cache.current


def test_backward_reaches_batched_gradients():
    pd = ParameterDict("g_")
    pd.get("w_weight", shape=(2, 3))
    pd.initialize(mx.init.One(), ctx=[mx.cpu(0)])
    w = pd["g_w_weight"]
    with autograd.record():
        y = (w.data() * 3).sum()
    y.backward()
    np.testing.assert_array_equal(w.grad().asnumpy(), np.full((2, 3), 3.0, np.float32))


def test_dispatch_resolved_once_per_parameter(monkeypatch):
    init = mx.init.Xavier()
    calls = []
    real = type(init)._route
    monkeypatch.setattr(
        type(init), "_route", lambda self, d: (calls.append(str(d)), real(self, d))[1]
    )
    pd = _dict()
    pd.initialize(init, ctx=[mx.cpu(0), mx.cpu(1)])
    assert sorted(calls) == sorted(pd.keys())  # once per Parameter, not per replica or twice


def test_plan_route_memo_is_only_reused_by_the_same_initializer():
    desc = InitDesc("m_weight", {"__init__": None})
    first = mx.init.Uniform(0.5)
    assert batched.plan_route(first, desc) == (first, "_init_weight")
    assert desc.global_init is None  # plan_route leaves the descriptor's fallback alone
    a = mx.nd.zeros((3, 3))
    b = mx.nd.zeros((3, 3))
    mx.random.seed(42)
    init_many(mx.init.Normal(2.0), [desc], [a])  # another initializer: routed afresh
    loop = mx.nd.zeros((3, 3))
    mx.random.seed(42)
    mx.init.Normal(2.0)(InitDesc("m_weight", {"__init__": None}), loop)
    assert a.asnumpy().tobytes() == loop.asnumpy().tobytes()
    init_many(first, [desc], [b])  # the descriptor keeps its draw (0) for its other arrays
    mx.random.seed(42)
    mx.init.Uniform(0.5)(InitDesc("m_weight", {"__init__": None}), loop)
    assert b.asnumpy().tobytes() == loop.asnumpy().tobytes()


def test_same_descriptor_different_shapes_get_their_own_plans():
    desc = InitDesc("s_weight")
    small, big = mx.nd.zeros((2, 2)), mx.nd.zeros((4, 8))
    mx.random.seed(43)
    init_many(mx.init.Xavier(), [desc, desc], [small, big])
    for arr in (small, big):
        ref = mx.nd.zeros(arr.shape)
        mx.random.seed(43)
        mx.init.Xavier()(InitDesc("s_weight"), ref)
        assert arr.asnumpy().tobytes() == ref.asnumpy().tobytes()


def test_salted_param_key_is_param_key():
    for name, salt in [("a", ""), ("dense0_weight", "(64, 64)|float32|x"), ("é", "ü" * 40)]:
        assert random.salted_param_key(name, random.encode_salt(salt)) == random.param_key(
            name, salt
        )
    with pytest.raises(TypeError, match="salt must be a str"):
        random.param_key("a", b"x")  # type: ignore[arg-type]


def test_stream_key_salt_cache_follows_the_seed_and_fingerprint():
    arr = mx.nd.zeros((4, 4))
    desc = InitDesc("k_weight")
    try:
        mx.random.seed(1)
        k1 = _fill.stream_key(desc, mx.init.Uniform(0.1), arr)
        mx.random.seed(2)
        k2 = _fill.stream_key(desc, mx.init.Uniform(0.1), arr)
        k3 = _fill.stream_key(desc, mx.init.Uniform(0.2), arr)
        mx.random.seed(1)
        assert _fill.stream_key(desc, mx.init.Uniform(0.1), arr) == k1
    finally:
        mx.random.seed(0)
    assert len({k1, k2, k3}) == 3
    salt = "(4, 4)|float32|" + mx.init.Uniform(0.1)._fingerprint()
    mx.random.seed(1)
    try:
        assert k1 == (random.param_key("k_weight", salt), 0)
    finally:
        mx.random.seed(0)


def test_warnings_point_at_the_caller():
    pd = _dict()
    pd.initialize()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        pd.initialize()
        pd["t_l0_weight"].initialize()
    assert len(got) == len(pd.keys()) + 1
    assert {w.filename for w in got} == {__file__}
    assert "already initialized, ignoring" in str(got[-1].message)


def test_initialized_parameter_warns_before_checking_ctx():
    p = mx.gluon.Parameter("c_weight", shape=(2, 2))
    p.initialize()
    with pytest.warns(UserWarning, match="already initialized"):
        p.initialize(ctx=["not a context"])  # as before the batching: no TypeError then
    with pytest.raises(TypeError, match="ctx must be a Context"):
        p.initialize(ctx=["not a context"], force_reinit=True)
    assert p.list_ctx() == [mx.cpu(0)]


def test_failed_batch_changes_no_parameter():
    pd = _dict()
    pd.initialize(mx.init.Uniform(), ctx=[mx.cpu(0)])
    before = {n: (p.list_data(), p._grad) for n, p in pd.items()}
    pd.get("vec_weight", shape=(5,))  # Xavier refuses vectors
    with pytest.raises(ValueError, match="cannot be applied to vector t_vec_weight"):
        pd.initialize(mx.init.Xavier(), force_reinit=True)
    for name, (data, grads) in before.items():
        assert pd[name].list_data() is data and pd[name]._grad is grads
    assert pd["t_vec_weight"]._data is None


def test_set_replicas_many_copies_a_list_of_other_array_classes():
    p = mx.gluon.Parameter("r_weight", shape=(2,))
    mx.npx.set_np()
    try:
        arrays = [mx.nd.NDArray(np.ones(2, np.float32), mx.cpu(0))]
        _param_init.set_replicas_many([p], [arrays], [[mx.cpu(0)]])
        assert p.list_data() is not arrays
        assert type(p.data()) is mx.np.ndarray
    finally:
        mx.npx.reset_np()


@pytest.mark.gpu
@pytest.mark.parametrize("init", [mx.init.Xavier(), mx.init.Normal(0.3)])
def test_gpu_and_host_replicas_batched_like_one_at_a_time(gpu_ctx, init):
    ctx = [gpu_ctx, mx.cpu(0), mx.cpu(1)]
    batch, alone = _dict(), _dict()
    mx.random.seed(41)
    batch.initialize(init, ctx=ctx)
    mx.random.seed(41)  # the same draw of every name
    for param in alone.values():
        param.initialize(None, ctx=ctx, default_init=init)
    for name, param in batch.items():
        first = param.data(gpu_ctx).asnumpy()
        assert param.data(gpu_ctx).context == gpu_ctx
        for c in ctx:  # host replicas are copies of the GPU one: identical bits
            assert param.data(c).asnumpy().tobytes() == first.tobytes()
            assert alone[name].data(c).asnumpy().tobytes() == first.tobytes()
        if param.grad_req != "null":
            assert [g.context for g in param.list_grad()] == ctx
            assert not any(g.asnumpy().any() for g in param.list_grad())


def test_replica_groups_follow_the_arrays():
    from mxlite.gluon import data_parallel

    groups = data_parallel._REPLICA_GROUPS
    pd = _dict("rg_")
    pd.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    w = pd["rg_l0_weight"]
    d0, d1 = w.list_data()
    assert data_parallel._group_key(d0) == data_parallel._group_key(d1) == id(d0)
    g0, g1 = w.list_grad()
    assert data_parallel._group_key(g1) == id(g0) != id(d0)
    keys = [id(a) for p in pd.values() for a in p.list_data() + (p._grad or [])]
    assert all(k in groups for k in keys)
    del d0, d1, g0, g1, w
    pd.initialize(ctx=[mx.cpu(0), mx.cpu(1)], force_reinit=True)  # the old replicas die
    live = {id(a) for p in pd.values() for a in p.list_data() + (p._grad or [])}
    assert not [k for k in keys if k in groups and k not in live]
    total = sum(float((g.asnumpy() ** 2).sum()) for p in pd.values() for g in p.list_data()[:1])
    arrays = [a for p in pd.values() for a in p.list_data()]
    norm = mx.gluon.utils.clip_global_norm(arrays, 1e9)  # replicas counted once
    assert abs(norm - total**0.5) < 1e-4 * max(1.0, total**0.5)


def _collections_during(action) -> int:
    """How many cyclic-GC passes ran while ``action()`` ran."""
    passes = []

    def count(phase, info):
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(count)
    try:
        action()
    finally:
        gc.callbacks.remove(count)
    return len(passes)


def test_initialize_holds_garbage_collection_and_restores_the_collector():
    pd = ParameterDict("gc_")
    for i in range(400):  # thousands of container allocations: 5 passes without the pause
        pd.get(f"p{i}_weight", shape=(2, 2))
    assert gc.isenabled()
    # at most the one pass that the allocations counted while paused trigger once it is back
    assert _collections_during(lambda: pd.initialize(mx.init.Xavier())) <= 1
    assert gc.isenabled()
    deferred = ParameterDict("gcdef_")
    for i in range(400):
        deferred.get(f"p{i}_weight", shape=(2, 0), allow_deferred_init=True)
    deferred.initialize()
    for param in deferred.values():
        param.shape = (2, 2)  # what a first forward does before finishing the batch
    assert _collections_during(lambda: _param_init.finish_deferred(deferred.values())) <= 1
    assert all(p.data().shape == (2, 2) for p in deferred.values())
    assert gc.isenabled()


def test_collector_comes_back_after_a_failed_initialize_and_stays_off_if_it_was():
    pd = _dict("gcfail_")
    pd.get("vec_weight", shape=(5,))
    with pytest.raises(ValueError, match="cannot be applied to vector"):
        pd.initialize(mx.init.Xavier())
    assert gc.isenabled()
    assert pd["gcfail_vec_weight"]._data is None
    gc.disable()
    try:
        _dict("gcoff_").initialize()
        assert not gc.isenabled(), "a collector the caller turned off must stay off"
    finally:
        gc.enable()
