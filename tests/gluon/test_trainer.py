"""gluon.Trainer: constructor checks, kvstore choice, stale gradients, deferred init, errors.

``SCENARIO`` runs unchanged under real MXNet 1.9.1 and mxlite and logs every outcome (values,
or exception category + message head); the logs must be equal. The unit tests below pin down
what the log cannot show: messages with remedies, nothing changed on failure, mxlite-only
refusals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon, nd
from mxlite.base import CheckError, MXNetError
from mxlite.gluon.parameter import DeferredInitializationError
from tests._support.scenario_log import assert_logs_equal, mxlite_log, mxnet_log

SCENARIO = r"""
import os
gluon, autograd, nd = mx.gluon, mx.autograd, mx.nd

def detail(e):
    return " | " + str(e).replace("mxnet.", "MX.").replace("mxlite.", "MX.")[:70]

def vals(arr):
    return [round(float(v), 5) for v in arr.asnumpy().ravel()[:4]]

def fixed(params):
    for i, (_, p) in enumerate(sorted(params.items())):
        n = int(np.prod(p.shape))
        p.set_data(nd.array(((np.arange(n) % 7) - 3 + i).reshape(p.shape) * 0.05))

def fb(net, ctxs, width=3):
    with autograd.record():
        losses = [net(nd.ones((2, width), ctx=c)).sum() for c in ctxs]
    for l in losses:
        l.backward()

TWO = [mx.cpu(0), mx.cpu(1)]

# --- constructor checks
p1 = gluon.Parameter("w", shape=(2, 3)); p1.initialize(ctx=mx.cpu())
p2 = gluon.Parameter("q", shape=(2, 3)); p2.initialize(ctx=TWO)
p3 = gluon.Parameter("u", shape=(2, 3))
log("ctor not list", lambda: gluon.Trainer(p1, "sgd"))
log("ctor list of int", lambda: gluon.Trainer([p1, 3], "sgd"))
log("ctor instance+params", lambda: gluon.Trainer([p1], mx.optimizer.SGD(), {"learning_rate": 0.1}))
log("ctor instance+{}", lambda: type(gluon.Trainer([p1], mx.optimizer.SGD(), {})).__name__)
log("ctor contexts differ", lambda: gluon.Trainer([p1, p2], "sgd"))
log("ctor uninitialized", lambda: gluon.Trainer([p3], "sgd"))
log("ctor bad kvstore", lambda: gluon.Trainer([p2], "sgd", kvstore=3).step(1))
pa = gluon.Parameter("pa", shape=(2, 3)); pa.initialize(ctx=TWO)
log("ctor dict sorted by key", lambda: [p.name for p in gluon.Trainer({"b": p2, "a": pa}, "sgd")._params])

# --- learning rate
t = gluon.Trainer([p1], "sgd", {"learning_rate": 0.5})
log("lr", lambda: t.learning_rate)
t.set_learning_rate(0.2)
log("lr set", lambda: (t.learning_rate, t.optimizer.lr))
sched = mx.lr_scheduler.FactorScheduler(step=1, factor=0.5, base_lr=1.0)
ts = gluon.Trainer([p2], "sgd", {"lr_scheduler": sched})
log("lr sched", lambda: ts.learning_rate)
log("lr sched set", lambda: ts.set_learning_rate(0.1))
log("lr sched unchanged", lambda: ts.learning_rate)

# --- kvstore choice, allreduce_grads/update errors
for kv in ["device", "local", None, "object"]:
    for ctxs in [[mx.cpu(0)], TWO]:
        for uok in [None, True, False]:
            r = gluon.Parameter("r", shape=(2,)); r.initialize(mx.init.One(), ctx=ctxs)
            kvstore = mx.kv.create("local") if kv == "object" else kv
            tr = gluon.Trainer([r], "sgd", {"learning_rate": 0.1}, kvstore=kvstore, update_on_kvstore=uok)
            with autograd.record():
                loss = sum((r.data(c) * (i + 2)).sum() for i, c in enumerate(ctxs))
            loss.backward()
            lab = "kv %s %d %s" % (kv, len(ctxs), uok)
            if kv is None and uok or kv in ("device", "local") and len(ctxs) == 1 and uok:
                continue  # MXNet: AttributeError on None.is_capable; mxlite: ValueError (unit test)
            log(lab + " step", lambda: tr.step(1))
            log(lab + " state", lambda: (type(tr._kvstore).__name__, tr._kvstore.type if tr._kvstore else None, tr._update_on_kvstore))
            log(lab + " weights", lambda: [vals(r.data(c)) for c in ctxs])
            log(lab + " allreduce", tr.allreduce_grads)
            log(lab + " update", lambda: tr.update(1))
            log(lab + " weights after", lambda: [vals(r.data(c)) for c in ctxs])

# --- MXNET_UPDATE_ON_KVSTORE
def backward_3x(p):
    for c in TWO:
        with autograd.record():
            loss = (p.data(c) * 3).sum()
        loss.backward()

for env in ["0", "1"]:
    os.environ["MXNET_UPDATE_ON_KVSTORE"] = env
    try:
        for uok in [None, True, False]:
            e = gluon.Parameter("e", shape=(2,)); e.initialize(mx.init.One(), ctx=TWO)
            tr = gluon.Trainer([e], "sgd", update_on_kvstore=uok)
            backward_3x(e)
            tr.step(1)
            log("env %s %s" % (env, uok), lambda: (tr._update_on_kvstore, vals(e.data(mx.cpu(1)))))
        for name in ["local", "device"]:
            e = gluon.Parameter("e", shape=(2,)); e.initialize(mx.init.One(), ctx=TWO)
            kvo = mx.kv.create(name)
            tr = gluon.Trainer([e], "sgd", kvstore=kvo)
            backward_3x(e)
            tr.step(1)
            log("env %s kv object %s" % (env, name), lambda: (tr._update_on_kvstore, tr._kvstore is kvo))
    finally:
        del os.environ["MXNET_UPDATE_ON_KVSTORE"]

# --- TestStore: no optimizer support
ts_p = gluon.Parameter("ts", shape=(2,)); ts_p.initialize(mx.init.One(), ctx=TWO)
tr = gluon.Trainer([ts_p], "sgd", kvstore="teststore")
for c in TWO:
    with autograd.record():
        loss = (ts_p.data(c) * 3).sum()
    loss.backward()
log("teststore step", lambda: tr.step(1))
log("teststore state", lambda: (tr._update_on_kvstore, type(tr._kvstore).__name__, vals(ts_p.data(mx.cpu(1)))))
tr = gluon.Trainer([ts_p], "sgd", kvstore="teststore", update_on_kvstore=True)
log("teststore uok", lambda: tr.step(1))

# --- stale gradients, ignore_stale_grad, partial freshness
for ctxs in [[mx.cpu(0)], TWO]:
    for kv, uok in [("device", None), ("device", False), ("device", True), (None, None)]:
        if uok and len(ctxs) == 1:
            continue
        net1 = gluon.nn.Dense(2, in_units=3, prefix="a_"); net2 = gluon.nn.Dense(2, in_units=3, prefix="b_")
        net1.initialize(ctx=ctxs); net2.initialize(ctx=ctxs)
        params = net1.collect_params(); params.update(net2.collect_params())
        fixed(params)
        tr = gluon.Trainer(params, "sgd", {"learning_rate": 0.1}, kvstore=kv, update_on_kvstore=uok)
        lab = "stale %d %s %s" % (len(ctxs), kv, uok)
        w = lambda: [vals(net1.weight.data(ctxs[-1])), vals(net2.weight.data(ctxs[-1]))]
        fb(net1, ctxs)
        log(lab + " step", lambda: tr.step(1))
        log(lab + " w", w)
        log(lab + " step ignore", lambda: tr.step(1, ignore_stale_grad=True))
        log(lab + " w2", w)
        log(lab + " step no backward", lambda: tr.step(1))
        fb(net1, ctxs); fb(net2, ctxs)
        log(lab + " step all fresh", lambda: tr.step(1))
        log(lab + " w3", w)
        if len(ctxs) == 2:
            with autograd.record():
                loss = net1(nd.ones((2, 3), ctx=ctxs[0])).sum() + net2(nd.ones((2, 3), ctx=ctxs[0])).sum()
            loss.backward()
            log(lab + " one ctx fresh", lambda: tr.step(1))
            log(lab + " one ctx fresh ignore", lambda: tr.step(1, ignore_stale_grad=True))
            log(lab + " w4", lambda: [vals(net1.weight.data(c)) for c in ctxs])

# --- grad_req='null' parameters are skipped
pn = gluon.Parameter("pn", shape=(2,), grad_req="null"); pn.initialize(mx.init.One())
pq = gluon.Parameter("pq", shape=(2,)); pq.initialize(mx.init.One())
tr = gluon.Trainer([pn, pq], "sgd")
with autograd.record():
    loss = (pq.data() * 2).sum()
loss.backward()
log("null step", lambda: tr.step(1))
log("null values", lambda: [vals(pn.data()), vals(pq.data())])

# --- deferred initialization: the store is made once every parameter has a value
for ctxs in [[mx.cpu(0)], TWO]:
    for kv, uok in [("device", None), ("device", False), (None, None)]:
        lab = "deferred %d %s %s" % (len(ctxs), kv, uok)
        net1 = gluon.nn.Dense(2, prefix="a_", weight_initializer=mx.init.Constant(0.5))
        net2 = gluon.nn.Dense(2, prefix="b_", weight_initializer=mx.init.Constant(0.25))
        net1.initialize(ctx=ctxs); net2.initialize(ctx=ctxs)
        params = net1.collect_params(); params.update(net2.collect_params())
        tr = gluon.Trainer(params, "sgd", {"learning_rate": 0.1}, kvstore=kv, update_on_kvstore=uok)
        fb(net1, ctxs)
        log(lab + " step", lambda: tr.step(1, ignore_stale_grad=True))
        log(lab + " state", lambda: (tr._kv_initialized, tr._kvstore is None, vals(net1.weight.data(ctxs[0]))))
        fb(net2, ctxs, 4)
        log(lab + " step 2", lambda: tr.step(1, ignore_stale_grad=True))
        log(lab + " state 2", lambda: (tr._kv_initialized, type(tr._kvstore).__name__, tr._update_on_kvstore, [p.name for p in tr._params_to_init]))
        log(lab + " w", lambda: [vals(net2.weight.data(c)) for c in ctxs])

# --- manual allreduce_grads + update; set_data resets an update-on-kvstore store
p4 = gluon.Parameter("w4", shape=(2,)); p4.initialize(mx.init.One(), ctx=TWO)
tr = gluon.Trainer([p4], "sgd", {"learning_rate": 1.0}, update_on_kvstore=False)
def fb4():
    for i, c in enumerate(TWO):
        with autograd.record():
            loss = (p4.data(c) * (i + 1)).sum()
        loss.backward()
fb4(); tr.update(1)
log("update without allreduce", lambda: [vals(p4.data(c)) for c in TWO])
fb4(); tr.allreduce_grads()
log("grads after allreduce", lambda: [vals(p4.grad(c)) for c in TWO])
tr.update(2)
log("update after allreduce", lambda: [vals(p4.data(c)) for c in TWO])
tr.allreduce_grads()
log("allreduce twice", lambda: [vals(p4.grad(c)) for c in TWO])
p5 = gluon.Parameter("w5", shape=(2,)); p5.initialize(mx.init.One(), ctx=TWO)
tr = gluon.Trainer([p5], "sgd", {"learning_rate": 1.0})
def fb5():
    for c in TWO:
        with autograd.record():
            loss = (p5.data(c) * 1).sum()
        loss.backward()
fb5(); tr.step(1)
p5.set_data(nd.ones(2) * 10)
log("set_data resets store", lambda: (tr._kv_initialized, tr._kvstore is None))
fb5(); tr.step(1)
log("after set_data", lambda: [vals(p5.data(c)) for c in TWO])
ts = gluon.Trainer([p5], "sgd", {"lr_scheduler": mx.lr_scheduler.FactorScheduler(step=1, factor=0.5, base_lr=1.0)})
fb5(); ts.step(1); fb5(); ts.step(1)
log("scheduled lr after 2 steps", lambda: (ts.learning_rate, ts.optimizer.num_update))
rs = gluon.Trainer([p5], mx.optimizer.SGD(learning_rate=0.3, rescale_grad=2.0))
fb5(); rs.step(4)
log("rescale_grad kept", lambda: (rs._scale, rs.optimizer.rescale_grad, vals(p5.data(mx.cpu(0)))))
"""


@pytest.mark.oracle
def test_trainer_behaviour_log_matches_mxnet() -> None:
    assert_logs_equal(mxlite_log(SCENARIO), mxnet_log(SCENARIO))


# ---------------------------------------------------------------- unit tests
def _param(name: str, ctxs: list[mx.Context], value: float = 1.0) -> gluon.Parameter:
    p = gluon.Parameter(name, shape=(2,))
    p.initialize(mx.init.Constant(value), ctx=ctxs)
    return p


def _backward(p: gluon.Parameter, scales: list[float] | None = None) -> None:
    for i, ctx in enumerate(p.list_ctx()):
        with autograd.record():
            loss = (p.data(ctx) * (scales[i] if scales else 1.0)).sum()
        loss.backward()


TWO = [mx.cpu(0), mx.cpu(1)]


@pytest.mark.parametrize(
    ("make", "exc", "fragment"),
    [
        (lambda p: gluon.Trainer(p, "sgd"), ValueError, "must be a list or dict of Parameters"),
        (lambda p: gluon.Trainer([p, "x"], "sgd"), ValueError, "got list of <class 'str'>"),
        (lambda p: gluon.Trainer([], "sgd"), TypeError, "net.collect_params()"),
        (
            lambda p: gluon.Trainer([p], mx.optimizer.SGD(), {"learning_rate": 1}),
            CheckError,
            "optimizer_params must be None",
        ),
        (
            lambda p: gluon.Trainer([p, _param("other", [mx.cpu(0)])], "sgd"),
            CheckError,
            "All Parameters must be initialized on the same set of contexts",
        ),
        (
            lambda p: gluon.Trainer([p, gluon.Parameter("z", shape=(1,))], "sgd"),
            RuntimeError,
            "has not been initialized",
        ),
    ],
)
def test_constructor_errors_leave_parameters_untouched(make: Any, exc: type, fragment: str) -> None:
    p = _param("w", TWO)
    with pytest.raises(exc) as info:
        make(p)
    assert fragment in str(info.value)
    assert p._trainer is None
    assert np.array_equal(p.data(mx.cpu(1)).asnumpy(), [1.0, 1.0])


def test_check_error_is_an_assertion_error() -> None:
    p = _param("w", [mx.cpu(0)])
    with pytest.raises(AssertionError):
        gluon.Trainer([p], mx.optimizer.SGD(), {"learning_rate": 1})


def test_set_learning_rate_refused_with_scheduler_keeps_rate() -> None:
    sched = mx.lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=0.3)
    t = gluon.Trainer([_param("w", TWO)], "sgd", {"lr_scheduler": sched})
    before = t.learning_rate
    with pytest.raises(UserWarning, match="LRScheduler of the optimizer has already been defined"):
        t.set_learning_rate(0.01)
    assert t.learning_rate == before == 0.3


@pytest.mark.parametrize("call", ["allreduce_grads", "update"])
def test_allreduce_and_update_refused_when_updating_on_kvstore(call: str) -> None:
    p = _param("w", TWO)
    t = gluon.Trainer([p], "sgd", {"learning_rate": 1.0}, update_on_kvstore=True)
    _backward(p)
    grads = [g.asnumpy().copy() for g in p.list_grad()]
    fn = t.allreduce_grads if call == "allreduce_grads" else (lambda: t.update(1))
    with pytest.raises(CheckError) as info:
        fn()
    assert f"{call}() when parameters are updated on kvstore" in str(info.value)
    assert "Try setting `update_on_kvstore` to False" in str(info.value)
    assert [g.asnumpy().tolist() for g in p.list_grad()] == [g.tolist() for g in grads]
    assert [d.asnumpy().tolist() for d in p.list_data()] == [[1.0, 1.0], [1.0, 1.0]]


@pytest.mark.parametrize(
    ("ctxs", "kvstore"), [([mx.cpu(0)], "device"), (TWO, None), ([mx.cpu(0)], None)]
)
def test_update_on_kvstore_true_without_a_store_is_refused(
    ctxs: list[mx.Context], kvstore: Any
) -> None:
    """MXNet crashes with AttributeError ('NoneType' has no is_capable); mxlite says why."""
    p = _param("w", ctxs)
    t = gluon.Trainer([p], "sgd", kvstore=kvstore, update_on_kvstore=True)
    _backward(p)
    with pytest.raises(ValueError, match="update_on_kvstore=True needs a kvstore"):
        t.step(1)
    assert not t._kv_initialized
    assert all(d.asnumpy().tolist() == [1.0, 1.0] for d in p.list_data())


def test_store_without_optimizer_support_refuses_update_on_kvstore() -> None:
    p = _param("w", TWO)
    t = gluon.Trainer([p], "sgd", kvstore=mx.kv.create("teststore"), update_on_kvstore=True)
    _backward(p)
    with pytest.raises(ValueError, match="Please set update_on_kvstore=False when training with"):
        t.step(1)


def test_kvstore_of_wrong_type_is_refused_at_first_step() -> None:
    p = _param("w", TWO)
    t = gluon.Trainer([p], "sgd", kvstore=3.5)
    _backward(p)
    with pytest.raises(TypeError, match="kvstore must be KVStore, str or None"):
        t.step(1)
    assert all(d.asnumpy().tolist() == [1.0, 1.0] for d in p.list_data())


def test_stale_gradient_warning_names_parameter_and_context() -> None:
    a, b = _param("a", TWO), _param("b", TWO)
    # b (stale) comes first: as in MXNet, parameters checked before the stale one have their
    # fresh flag consumed by the failing step (see the oracle log), so order matters here.
    # No store: with one, the failing step has already summed the gradients (MXNet reduces
    # before it checks), and the retry would sum them again.
    t = gluon.Trainer([b, a], "sgd", {"learning_rate": 1.0}, kvstore=None)
    _backward(a)
    with pytest.raises(UserWarning) as info:
        t.step(1)
    text = str(info.value)
    assert "Parameter `b` on context cpu(0)" in text and "ignore_stale_grad=True" in text
    # update() ran no optimizer step for anyone (the check comes first)
    assert [d.asnumpy().tolist() for d in a.list_data()] == [[1.0, 1.0], [1.0, 1.0]]
    t.step(1, ignore_stale_grad=True)
    assert [d.asnumpy().tolist() for d in a.list_data()] == [[0.0, 0.0], [0.0, 0.0]]
    assert [d.asnumpy().tolist() for d in b.list_data()] == [[1.0, 1.0], [1.0, 1.0]]


def test_deferred_parameters_join_the_store_after_first_forward() -> None:
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(3, weight_initializer=mx.init.Constant(0.1)))
    net.initialize(ctx=TWO)
    t = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1.0})
    with pytest.raises(DeferredInitializationError):
        t.step(1)
    assert not t._kv_initialized and t._kvstore is None
    with autograd.record():
        losses = [net(nd.ones((2, 5), ctx=c)).sum() for c in TWO]
    autograd.backward(losses)
    t.step(4)
    assert t._kv_initialized and t._kvstore is not None and t._params_to_init == []
    weight = net[0].weight
    # grad of sum(x W^T + b) wrt W is 2 ones per context -> summed 4, / batch 4 -> 1
    assert np.allclose(weight.data(mx.cpu(1)).asnumpy(), -0.9)
    assert np.array_equal(weight.data(mx.cpu(0)).asnumpy(), weight.data(mx.cpu(1)).asnumpy())


def test_local_store_with_huge_parameter_updates_on_replicas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mxlite.gluon import trainer as trainer_mod

    monkeypatch.setattr(trainer_mod, "_LOCAL_UPDATE_ON_KV_MAX_SIZE", 1)
    p = _param("w", TWO)
    for kv, expected in (("local", False), ("device", True)):
        t = gluon.Trainer([p], "sgd", kvstore=kv)
        _backward(p)
        t.step(1)
        assert t._update_on_kvstore is expected, kv


def test_env_var_is_read_at_first_step(monkeypatch: pytest.MonkeyPatch) -> None:
    p = _param("w", TWO)
    t = gluon.Trainer([p], "sgd")
    monkeypatch.setenv("MXNET_UPDATE_ON_KVSTORE", "0")
    _backward(p)
    t.step(1)
    assert t._update_on_kvstore is False
    t2 = gluon.Trainer([p], "sgd", update_on_kvstore=True)
    _backward(p)
    t2.step(1)
    assert t2._update_on_kvstore is True


def test_manual_allreduce_then_update_equals_step_bitwise() -> None:
    results = []
    for manual in (False, True):
        p = _param("w", TWO, 0.37)
        t = gluon.Trainer([p], "adam", {"learning_rate": 0.01}, update_on_kvstore=False)
        for _ in range(3):
            _backward(p, [0.3, 1.7])
            if manual:
                t.allreduce_grads()
                t.update(2)
            else:
                t.step(2)
        results.append([d.asnumpy() for d in p.list_data()])
    for a, b in zip(*results, strict=True):
        assert np.array_equal(a, b)


def test_allreduce_grads_sums_replicas_in_place() -> None:
    p = _param("w", TWO)
    t = gluon.Trainer([p], "sgd", update_on_kvstore=False)
    _backward(p, [2.0, 5.0])
    t.allreduce_grads()
    assert [g.asnumpy().tolist() for g in p.list_grad()] == [[7.0, 7.0], [7.0, 7.0]]


def test_gradient_compression_through_trainer() -> None:
    p = _param("w", TWO, 0.0)
    t = gluon.Trainer(
        [p], "sgd", {"learning_rate": 1.0}, compression_params={"type": "2bit", "threshold": 0.5}
    )
    _backward(p, [0.3, 0.3])  # each replica's 0.3 stays in its residual
    t.step(1)
    assert [d.asnumpy().tolist() for d in p.list_data()] == [[0.0, 0.0], [0.0, 0.0]]
    _backward(p, [0.3, 0.3])  # residuals reach 0.6 -> each sends 0.5
    t.step(1)
    assert [d.asnumpy().tolist() for d in p.list_data()] == [[-1.0, -1.0], [-1.0, -1.0]]


def test_gradient_compression_refused_by_local_store() -> None:
    p = _param("w", TWO)
    t = gluon.Trainer([p], "sgd", kvstore="local", compression_params={"type": "2bit"})
    _backward(p)
    with pytest.raises(MXNetError, match="Gradient compression is not supported"):
        t.step(1)
    assert all(d.asnumpy().tolist() == [1.0, 1.0] for d in p.list_data())


def test_save_states_before_any_step_and_missing_file(tmp_path: Any) -> None:
    p = _param("w", TWO)
    t = gluon.Trainer([p], "sgd", {"momentum": 0.9, "learning_rate": 0.1})
    t.save_states(str(tmp_path / "s"))
    assert (tmp_path / "s").stat().st_size > 0
    t.load_states(str(tmp_path / "s"))
    with pytest.raises(FileNotFoundError):
        t.load_states(str(tmp_path / "missing"))


@pytest.mark.parametrize("uok", [True, False])
def test_load_states_rejects_damaged_file_and_keeps_optimizer(tmp_path: Any, uok: bool) -> None:
    from mxlite.base import ParamFileError

    p = _param("w", TWO)
    t = gluon.Trainer([p], "sgd", {"momentum": 0.9, "learning_rate": 0.1}, update_on_kvstore=uok)
    _backward(p)
    t.step(1)
    t.save_states(str(tmp_path / "s"))
    blob = (tmp_path / "s").read_bytes()
    (tmp_path / "bad").write_bytes(blob[: len(blob) // 2])
    optimizer = t.optimizer
    with pytest.raises(ParamFileError):
        t.load_states(str(tmp_path / "bad"))
    assert t.optimizer is optimizer and t.learning_rate == 0.1


def test_load_states_moves_states_to_the_weights_contexts(tmp_path: Any) -> None:
    p = _param("w", TWO)
    t = gluon.Trainer([p], "sgd", {"momentum": 0.9, "learning_rate": 0.1}, update_on_kvstore=False)
    _backward(p)
    t.step(1)
    t.save_states(str(tmp_path / "s"))
    q = _param("w", [mx.cpu(3), mx.cpu(5)])
    t2 = gluon.Trainer([q], "sgd", {"learning_rate": 7.0}, update_on_kvstore=False)
    t2.load_states(str(tmp_path / "s"))
    assert t2.learning_rate == 0.1  # the saved optimizer replaces the new one
    _backward(q)
    t2.step(1)
    for ctx, updater in zip([mx.cpu(3), mx.cpu(5)], t2._updaters, strict=True):
        assert updater.states[0].context == ctx
    # summed gradient 2: saved momentum v = -0.1 * 2; then v = 0.9 * v - 0.2 = -0.38 -> 1 - 0.38
    # (without the loaded momentum the weight would be 0.8)
    assert np.allclose(q.data(mx.cpu(5)).asnumpy(), 0.62)


def _train_fixed(ctxs: list[mx.Context], opt: str, uok: bool | None, steps: int = 3) -> Any:
    """A small Dense net with fixed weights trained on fixed data split over ``ctxs``."""
    rng = np.random.default_rng(11)
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(6, in_units=4, activation="tanh"), gluon.nn.Dense(3, in_units=6))
    net.initialize(ctx=ctxs)
    for param in net.collect_params().values():
        param.set_data(nd.array(rng.uniform(-0.5, 0.5, param.shape)))
    x = nd.array(rng.normal(size=(8, 4)))
    y = nd.array(rng.normal(size=(8, 3)))
    trainer = gluon.Trainer(
        net.collect_params(), opt, {"learning_rate": 0.05, "wd": 0.01}, update_on_kvstore=uok
    )
    loss_fn = gluon.loss.L2Loss()
    snapshots = []
    for _ in range(steps):
        xs, ys = gluon.utils.split_and_load(x, ctxs), gluon.utils.split_and_load(y, ctxs)
        with autograd.record():
            losses = [loss_fn(net(a), b) for a, b in zip(xs, ys, strict=True)]
        autograd.backward(losses)
        trainer.step(8)
        snapshots.append(
            [[d.asnumpy().copy() for d in p.list_data()] for p in net.collect_params().values()]
        )
    return trainer, snapshots


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("opt", "uok"), [("sgd", True), ("sgd", False), ("adam", True), ("adam", None)]
)
def test_mixed_gpu_cpu_replicas_train_like_two_cpu_contexts(
    gpu_ctx: mx.Context, opt: str, uok: bool | None
) -> None:
    trainer, mixed = _train_fixed([gpu_ctx, mx.cpu(0)], opt, uok)
    _, cpus = _train_fixed([mx.cpu(0), mx.cpu(1)], opt, uok)
    for step_mixed, step_cpu in zip(mixed, cpus, strict=True):
        for (gpu_rep, cpu_rep), (ref, _) in zip(step_mixed, step_cpu, strict=True):
            assert np.array_equal(gpu_rep, cpu_rep)  # every replica gets the identical update
            np.testing.assert_allclose(gpu_rep, ref, rtol=1e-5, atol=1e-6)
    kv = trainer._kvstore
    assert kv is not None and kv.type == "device"
    if trainer._update_on_kvstore:
        # the 'device' store reduces and updates on the GPU
        assert all(arr.context == gpu_ctx for arr in kv._store.values())


@pytest.mark.parametrize(("opt", "uok"), [("sgd", True), ("sgd", False), ("adam", None)])
def test_replicas_stay_identical_on_other_cpu_contexts(opt: str, uok: bool | None) -> None:
    _, moved = _train_fixed([mx.cpu(3), mx.cpu(7)], opt, uok)
    _, ref = _train_fixed([mx.cpu(0), mx.cpu(1)], opt, uok)
    for step_moved, step_ref in zip(moved, ref, strict=True):
        for (a, b), (want, _) in zip(step_moved, step_ref, strict=True):
            assert np.array_equal(a, b) and np.array_equal(a, want)
