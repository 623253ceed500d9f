"""Repeated list pushpull calls (``mxlite.kvstore._plan``) equal the general path bit for bit.

Every scenario runs twice over the same inputs: once as is (after its first call a store runs a
cached PushPullPlan) and once with plans switched off. Stored values, outputs, weights and
optimizer states must be the same bytes, while the calls, the store and its settings change
between steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import nd
from mxlite.kvstore import kvstore as kv_mod

SHAPES = [(3, 4), (5,), (2, 2, 2), (1,), (6,)]


def _no_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kv_mod, "plannable", lambda *a: False)


def _arrays(rng: np.random.Generator, ctxs: list[mx.Context], dtype: str = "float32") -> Any:
    return [[nd.array(rng.standard_normal(s), ctx=c, dtype=dtype) for c in ctxs] for s in SHAPES]


def _refill(rng: np.random.Generator, grads: Any) -> None:
    for per_key in grads:
        for g in per_key:
            g[:] = nd.array(rng.standard_normal(g.shape) * 3, ctx=g.context, dtype=g.dtype)


def _snapshot(kv: Any, arrays: Any) -> list[np.ndarray]:
    out = [a.asnumpy() for per_key in arrays for a in per_key]
    out += [kv._store[k].asnumpy() for k in sorted(kv._store)]
    if kv._updater is not None:
        for k in sorted(kv._updater.states):
            state = kv._updater.states[k]
            for s in state if isinstance(state, tuple) else [state]:
                if s is not None:
                    out.append(s.asnumpy())
    return out


def _allreduce_scenario(ctxs: list[mx.Context], dtype: str = "float32") -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    kv = mx.kv.create("device")
    keys = list(range(len(SHAPES)))
    grads = _arrays(rng, ctxs, dtype)
    kv.init(keys, [g[0] for g in grads])
    snaps = []
    for step in range(6):
        _refill(rng, grads)
        if step == 3:
            kv.push(1, grads[1])  # a push through the general path in between
        if step == 4:
            grads[2] = [nd.array(rng.standard_normal(SHAPES[2]), ctx=c, dtype=dtype) for c in ctxs]
        kv.pushpull(keys, grads)
        snaps += _snapshot(kv, grads)
        kv.pull(0, out=grads[0][0])  # the stored value is the last sum
        snaps.append(grads[0][0].asnumpy())
    return snaps


def _update_scenario(ctxs: list[mx.Context], opt: str) -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    kv = mx.kv.create("device")
    keys = list(range(len(SHAPES)))
    grads = _arrays(rng, ctxs)
    weights = _arrays(rng, ctxs)
    kv.init(keys, [w[0] for w in weights])
    kv.set_optimizer(mx.optimizer.create(opt, learning_rate=0.1, wd=0.01))
    snaps = []
    for step in range(6):
        _refill(rng, grads)
        if step == 2:
            kv.set_optimizer(mx.optimizer.create(opt, learning_rate=0.05))
        if step == 4:
            weights[3] = [nd.zeros(SHAPES[3], ctx=c) for c in ctxs]
        kv.pushpull(keys, grads, out=weights)
        snaps += _snapshot(kv, weights)
    return snaps


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8))


@pytest.mark.parametrize(
    "ctxs", [[mx.cpu(0), mx.cpu(1)], [mx.cpu(0), mx.cpu(1), mx.cpu(2)], [mx.cpu(0)]]
)
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_allreduce_plans_equal_the_general_path(ctxs: Any, dtype: str, monkeypatch: Any) -> None:
    fast = _allreduce_scenario(ctxs, dtype)
    with monkeypatch.context() as m:
        _no_plans(m)
        slow = _allreduce_scenario(ctxs, dtype)
    _same(fast, slow)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_update_on_store_plans_equal_the_general_path(opt: str, monkeypatch: Any) -> None:
    ctxs = [mx.cpu(0), mx.cpu(1)]
    fast = _update_scenario(ctxs, opt)
    with monkeypatch.context() as m:
        _no_plans(m)
        slow = _update_scenario(ctxs, opt)
    _same(fast, slow)


def test_plan_is_reused_and_invalidated() -> None:
    kv = mx.kv.create("device")
    keys = [0, 1]
    grads = [[nd.ones((2,)), nd.ones((2,)) * 2] for _ in keys]
    kv.init(keys, [g[0] for g in grads])
    kv.pushpull(keys, grads)
    plan = kv._plan
    assert plan is not None
    kv.pushpull(list(keys), grads)
    assert kv._plan is plan  # same keys and arrays: reused
    assert [g.asnumpy().tolist() for g in grads[0]] == [[6.0, 6.0]] * 2  # 1 + 2, then 3 + 3
    kv.pushpull(keys, [list(grads[0]), grads[1]])  # a new list holding the same arrays
    assert kv._plan is not plan
    plan = kv._plan
    grads[1][1] = nd.ones((2,))  # same outer list, another array: the general path again
    kv.pushpull(keys, grads)
    assert kv._plan is not plan
    kv.set_gradient_compression({"type": "2bit", "threshold": 0.5})
    kv.pushpull(keys, grads)
    assert kv._plan is None  # compression: always the general path


def test_repeated_keys_and_mixed_forms_take_the_general_path() -> None:
    kv = mx.kv.create("local")
    kv.init([0, 1], [nd.zeros((2,)), nd.zeros((2,))])
    a, b = nd.ones((2,)), nd.ones((2,)) * 2
    kv.pushpull([0, 0], [a, b])  # MXNet merges repeated keys: 0 receives a + b
    assert kv._plan is None and a.asnumpy().tolist() == [3.0, 3.0] == b.asnumpy().tolist()
    c, d = nd.ones((2,)), nd.ones((2,))
    kv.pushpull([0, 1], [c, [d]])
    assert kv._plan is None


def test_bad_calls_after_a_plan_still_raise() -> None:
    kv = mx.kv.create("local")
    keys = [0, 1]
    grads = [[nd.ones((2,)), nd.ones((2,))] for _ in keys]
    kv.init(keys, [g[0] for g in grads])
    kv.pushpull(keys, grads)
    with pytest.raises(mx.base.MXNetError, match="has not been inited"):
        kv.pushpull([0, 7], grads)
    with pytest.raises(mx.base.MXNetError, match="different shapes"):
        kv.pushpull(keys, [grads[0], [nd.ones((2,)), nd.ones((3,))]])


@pytest.mark.gpu
def test_device_store_plans_equal_the_general_path(gpu_ctx: mx.Context, monkeypatch: Any) -> None:
    ctxs = [gpu_ctx, mx.cpu(0)]
    fast = _allreduce_scenario(ctxs) + _update_scenario(ctxs, "adam")
    with monkeypatch.context() as m:
        _no_plans(m)
        slow = _allreduce_scenario(ctxs) + _update_scenario(ctxs, "adam")
    _same(fast, slow)
