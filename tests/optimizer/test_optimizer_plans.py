"""Cached step plans (Updater) and vectorized scalars (ScalarPlan) equal the index-by-index path.

Every scenario runs twice over the same inputs: once as is (the Updater reuses its plan, scalars
come from the NumPy vector path) and once with both switched off (a fresh plan every call, the
index-by-index ``Optimizer._plan_scalars``). Weights, states, update-count tables (with their
order), ``num_update`` and the scheduler's state must be bit for bit the same, while multipliers,
schedules, states, gradient buffers and contexts change between steps.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite.optimizer import _scalars
from mxlite.optimizer.updater import Updater
from tests._support.optimizer_helpers import flat_states

SHAPES = [(6, 5), (5,), (1,), (3, 3, 3), (7,), (64, 64), (0,), (9,)]
CASES = [
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "aggregate_num": 3}),
    ("sgd", {"momentum": 0.0, "aggregate_num": 0}),
    ("sgd", {"momentum": 0.9, "multi_precision": True}),
    ("nag", {"momentum": 0.8}),
    ("nag", {"momentum": 0.8, "multi_precision": True, "aggregate_num": 2}),
    ("adam", {}),
    ("adam", {"multi_precision": True, "beta1": 0.8}),
    ("adam", {"aggregate_num": 3}),
    ("rmsprop", {}),  # no fused path: the generic plan
]
SCHEDULERS = {
    "factor": lambda: mx.lr_scheduler.FactorScheduler(step=3, factor=0.7, base_lr=0.05),
    "multifactor": lambda: mx.lr_scheduler.MultiFactorScheduler(
        step=[2, 5], factor=0.5, base_lr=0.04
    ),
    "poly": lambda: mx.lr_scheduler.PolyScheduler(max_update=9, base_lr=0.05, warmup_steps=2),
    "cosine": lambda: mx.lr_scheduler.CosineScheduler(max_update=9, base_lr=0.05),
    "none": lambda: None,
}


class CountingScheduler(mx.lr_scheduler.LRScheduler):
    """A scheduler whose rate depends on how often it was called (not deduplicable)."""

    def __init__(self) -> None:
        super().__init__(base_lr=0.05)
        self.calls: list[int] = []

    def __call__(self, num_update: int) -> float:
        self.calls.append(num_update)
        return self.base_lr * 0.99 ** len(self.calls)


def _reference_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cached plans and no vector scalars: the index-by-index semantics of MXNet's Updater."""
    monkeypatch.setattr(Updater, "_cached_plan", lambda self, *a: None)
    monkeypatch.setattr(_scalars.ScalarPlan, "_vector_step", lambda self, opt: None)


def _spy_vector_steps(m: pytest.MonkeyPatch) -> list[bool]:
    """A list that records, step by step, whether ``ScalarPlan`` took the vector path."""
    used: list[bool] = []
    real = _scalars.ScalarPlan._vector_step

    def spy(self: Any, opt: Any) -> Any:
        result = real(self, opt)
        used.append(result is not None)
        return result

    m.setattr(_scalars.ScalarPlan, "_vector_step", spy)
    return used


def _scenario(name: str, kwargs: dict[str, Any], sched: Any) -> dict[str, Any]:
    """Eight steps with changes in between; returns everything observable."""
    rng = np.random.default_rng(11)
    fp16 = bool(kwargs.get("multi_precision"))
    dtypes = ["float16" if fp16 and i % 3 == 0 else "float32" for i in range(len(SHAPES))]
    weights = [
        mx.nd.array(rng.standard_normal(s), dtype=d) for s, d in zip(SHAPES, dtypes, strict=True)
    ]
    grads = [mx.nd.array(np.zeros(s), dtype=d) for s, d in zip(SHAPES, dtypes, strict=True)]
    params = {i: mx.gluon.Parameter(f"p{i}_weight", shape=SHAPES[i]) for i in (0, 1, 2)}
    names = {i: f"fc{i}_{'weight' if len(s) > 1 else 'bias'}" for i, s in enumerate(SHAPES)}
    opt = mx.optimizer.create(
        name,
        lr_scheduler=sched,
        wd=0.01,
        rescale_grad=0.5,
        clip_gradient=0.9,
        param_idx2name=names,
        param_dict=params,
        **kwargs,
    )
    opt.set_lr_mult({3: 0.5, "fc4_bias": 2.0})
    opt.set_wd_mult({5: 3.0})
    upd = mx.optimizer.get_updater(opt)
    idx = list(range(len(SHAPES)))
    for step in range(8):
        for g in grads:
            g._data[...] = rng.standard_normal(g.shape) * 2
        if step == 2:
            params[0].lr_mult = 3.0
            params[1].wd_mult = 0.0
        if step == 3:
            opt.set_lr_mult({3: 0.25})
            opt.wd_mult[5] = 2.0  # in place
        if step == 4:
            opt.rescale_grad = 0.25
            if hasattr(opt, "momentum") and opt.momentum:
                opt.momentum = 0.5
            if opt.lr_scheduler is None:
                opt.set_learning_rate(0.02)
        if step == 5:
            upd.states[1] = opt.create_state_multi_precision(1, weights[1])  # from outside
        if step == 6:
            grads[2] = mx.nd.array(rng.standard_normal(SHAPES[2]), dtype=dtypes[2])
            upd(7, grads[7], weights[7])  # the last index gets ahead: distinct counts in a step
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            upd(list(idx), list(grads), list(weights))
    return {
        "weights": [w.asnumpy() for w in weights],
        "states": [a for i in idx for a in flat_states(upd.states[i])],
        "counts": list(opt._index_update_count.items()),
        "num_update": opt.num_update,
        "sched": None if sched is None else dict(vars(sched)),
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("weights", "states"):
        assert len(a[key]) == len(b[key])
        for x, y in zip(a[key], b[key], strict=True):
            assert x.dtype == y.dtype and x.shape == y.shape
            assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), key
    assert a["counts"] == b["counts"]
    assert a["num_update"] == b["num_update"]
    assert a["sched"] == b["sched"]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
@pytest.mark.parametrize("sched", list(SCHEDULERS))
def test_cached_plans_equal_index_by_index_path(name, kwargs, sched, monkeypatch):
    with monkeypatch.context() as m:
        vector_steps = _spy_vector_steps(m)
        fast = _scenario(name, kwargs, SCHEDULERS[sched]())
    with monkeypatch.context() as m:
        _reference_mode(m)
        slow = _scenario(name, kwargs, SCHEDULERS[sched]())
    _same(fast, slow)
    assert fast["num_update"] == 9  # index 7: eight list steps and one single call
    if name != "rmsprop":  # every list step of the fused families took the vector path
        assert vector_steps == [True] * 8  # a single index takes the index-by-index path


def test_call_counting_scheduler_sees_the_same_calls(monkeypatch):
    fast_sched, slow_sched = CountingScheduler(), CountingScheduler()
    fast = _scenario("sgd", {"momentum": 0.9, "aggregate_num": 3}, fast_sched)
    with monkeypatch.context() as m:
        _reference_mode(m)
        slow = _scenario("sgd", {"momentum": 0.9, "aggregate_num": 3}, slow_sched)
    _same(fast, slow)
    assert fast_sched.calls == slow_sched.calls and len(fast_sched.calls) > 8


@pytest.mark.parametrize(
    ("mult", "vector"),
    [(np.float32(0.35), True), (np.float16(2.3), True), (np.int64(3), True), (True, False)],
    ids=["float32", "float16", "int64", "bool"],
)
def test_numpy_multipliers_equal_the_index_by_index_path(mult, vector, monkeypatch):
    """NumPy float/int multipliers (in the optimizer's dicts and on gluon Parameters) take the
    vector path with float64 products, as the index-by-index path (MXNet under NumPy 1.x)."""

    def run() -> tuple[list[np.ndarray], list[Any]]:
        weights = [mx.nd.ones((4,)) * (i + 1) for i in range(5)]
        grads = [mx.nd.ones((4,)) * 0.1 for _ in range(5)]
        param = mx.gluon.Parameter("p_weight", shape=(4,), lr_mult=mult, wd_mult=mult)
        opt = mx.optimizer.create("adam", learning_rate=0.001, wd=0.01, param_dict={4: param})
        opt.set_lr_mult({1: mult})
        opt.set_wd_mult({2: mult})
        upd = mx.optimizer.get_updater(opt)
        for _ in range(3):
            upd(list(range(5)), list(grads), list(weights))
        return [w.asnumpy() for w in weights], opt._get_lrs(range(5)) + opt._get_wds(range(5))

    with monkeypatch.context() as m:
        used = _spy_vector_steps(m)
        fast, scalars = run()
    with monkeypatch.context() as m:
        _reference_mode(m)
        slow, _ = run()
    assert used == [vector] * 3
    for x, y in zip(fast, slow, strict=True):
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8))
    if vector:  # float64 products, never rounded to the multiplier's type
        assert scalars[1] == 0.001 * float(mult) and type(scalars[1]) is float
        assert scalars[7] == 0.01 * float(mult) and type(scalars[7]) is float


def _count_plans(monkeypatch: pytest.MonkeyPatch, cls: type) -> list[int]:
    built: list[int] = []
    real = cls._step_plan

    def spy(self: Any, indices: Any, *args: Any) -> Any:
        built.append(len(indices))
        return real(self, indices, *args)

    monkeypatch.setattr(cls, "_step_plan", spy)
    return built


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_plan_is_reused_until_something_changes(name, monkeypatch):
    cls = type(mx.optimizer.create(name))
    built = _count_plans(monkeypatch, cls)
    weights = [mx.nd.ones((3,)) for _ in range(5)]
    grads = [mx.nd.ones((3,)) for _ in range(5)]
    opt = mx.optimizer.create(name, learning_rate=0.1)
    upd = mx.optimizer.get_updater(opt)
    for _ in range(4):
        upd(list(range(5)), list(grads), list(weights))  # fresh lists, same arrays
    assert built == [5]
    upd(list(range(5)), list(grads), weights[:4] + [mx.nd.ones((3,))])  # a new weight object
    assert built == [5, 5]
    opt.set_lr_mult({0: 0.5})
    upd(list(range(5)), list(grads), list(weights))
    assert built == [5, 5, 5]
    upd.states  # noqa: B018 - an outside read may edit the states
    upd(list(range(5)), list(grads), list(weights))
    upd(list(range(5)), list(grads), list(weights))
    assert built == [5, 5, 5, 5]
    upd(list(range(3)), grads[:3], weights[:3])  # another index list: its own plan
    upd(list(range(5)), list(grads), list(weights))
    upd(list(range(3)), grads[:3], weights[:3])
    assert built == [5, 5, 5, 5, 3]
    upd.clear_plans()
    upd(list(range(5)), list(grads), list(weights))
    assert built == [5, 5, 5, 5, 3, 5]


def test_set_states_and_optimizer_swap_rebuild_plans(monkeypatch):
    weights = [mx.nd.ones((3,)) * i for i in range(4)]
    grads = [mx.nd.ones((3,)) for _ in range(4)]
    upd = mx.optimizer.get_updater(mx.optimizer.create("sgd", momentum=0.9, learning_rate=0.1))
    upd(list(range(4)), list(grads), list(weights))
    saved = upd.get_states(dump_optimizer=True)
    upd(list(range(4)), list(grads), list(weights))
    after_two = [w.asnumpy() for w in weights]
    upd.set_states(saved)  # momentum and counts back to after step one
    for w, v in zip(weights, after_two, strict=True):
        w._data[...] = v
    upd(list(range(4)), list(grads), list(weights))
    assert upd.optimizer.num_update == 2
    assert upd.optimizer._index_update_count == {i: 2 for i in range(4)}
    ref_w = [mx.nd.ones((3,)) * i for i in range(4)]
    ref = mx.optimizer.get_updater(mx.optimizer.create("sgd", momentum=0.9, learning_rate=0.1))
    for _ in range(2):
        ref(list(range(4)), list(grads), list(ref_w))
    ref.set_states(saved)
    for w, v in zip(ref_w, after_two, strict=True):
        w._data[...] = v
    ref(list(range(4)), list(grads), list(ref_w))
    for a, b in zip(weights, ref_w, strict=True):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_updaters_on_two_contexts_share_one_optimizer(monkeypatch):
    def run() -> tuple[list[np.ndarray], dict[int, list[Any]], int]:
        opt = mx.optimizer.create(
            "adam",
            learning_rate=0.1,
            lr_scheduler=mx.lr_scheduler.FactorScheduler(2, 0.5, base_lr=0.1),
        )
        ups = [mx.optimizer.get_updater(opt) for _ in range(2)]
        weights = [[mx.nd.ones((4,), ctx=mx.cpu(c)) * (i + 1) for i in range(3)] for c in (0, 1)]
        grads = [[mx.nd.ones((4,), ctx=mx.cpu(c)) * 0.5 for _ in range(3)] for c in (0, 1)]
        for step in range(5):
            for c in (0, 1):
                if not (c == 1 and step == 2):  # context 1 skips a step: different counts
                    ups[c](list(range(3)), list(grads[c]), list(weights[c]))
        counts = {d: list(t.items()) for d, t in opt._all_index_update_counts.items()}
        return [w.asnumpy() for ws in weights for w in ws], counts, opt.num_update

    fast = run()
    with monkeypatch.context() as m:
        _reference_mode(m)
        slow = run()
    for x, y in zip(fast[0], slow[0], strict=True):
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8))
    assert fast[1:] == slow[1:]
    assert fast[1][1] == [(0, 4), (1, 4), (2, 4)] and fast[2] == 5


def test_outside_edits_of_the_count_table_are_read(monkeypatch):
    weights = [mx.nd.ones((2,)) for _ in range(3)]
    grads = [mx.nd.ones((2,)) for _ in range(3)]
    opt = mx.optimizer.create("adam", learning_rate=0.1)
    upd = mx.optimizer.get_updater(opt)
    upd(list(range(3)), list(grads), list(weights))
    opt._index_update_count[1] = 10  # e.g. restored by hand
    upd(list(range(3)), list(grads), list(weights))
    assert opt._index_update_count == {0: 2, 1: 11, 2: 2} and opt.num_update == 11


def test_duplicate_and_bytes_indices_follow_the_index_by_index_path(monkeypatch):
    def run() -> tuple[list[np.ndarray], list[Any]]:
        weights = [mx.nd.ones((3,)) * (i + 1) for i in range(3)]
        grads = [mx.nd.ones((3,)) * 0.25 for _ in range(3)]
        opt = mx.optimizer.create("adam", learning_rate=0.1)
        upd = mx.optimizer.get_updater(opt)
        for _ in range(3):
            upd([b"a", b"b", b"a"], list(grads), list(weights))
        return [w.asnumpy() for w in weights], list(opt._index_update_count.items())

    fast = run()
    with monkeypatch.context() as m:
        _reference_mode(m)
        slow = run()
    for x, y in zip(fast[0], slow[0], strict=True):
        np.testing.assert_array_equal(x, y)
    assert fast[1] == slow[1] == [("a", 6), ("b", 3)]


def test_version_is_not_saved_and_assignments_bump_it():
    opt = mx.optimizer.create("sgd", learning_rate=0.1)
    before = opt._version
    opt.rescale_grad = 0.5
    opt.num_update = 3
    assert opt._version == before  # per-step values are read at every step
    opt.param_dict = {}
    opt.set_wd_mult({})
    assert opt._version == before + 2
    assert "_version" not in opt.__getstate__()
    upd = mx.optimizer.get_updater(opt)
    upd(0, mx.nd.ones((2,)), mx.nd.ones((2,)))
    saved = upd.get_states(dump_optimizer=True)
    assert b"_version" not in saved
    restored = mx.optimizer.get_updater(mx.optimizer.create("sgd"))
    restored.set_states(saved)
    assert restored.optimizer.num_update == 3  # max(count, the 3 set above)
    assert isinstance(restored.optimizer._version, int)


def test_bad_weights_raise_before_anything_is_counted():
    opt = mx.optimizer.create("sgd", momentum=0.9)
    upd = mx.optimizer.get_updater(opt)
    weights = [mx.nd.ones((2,)), mx.nd.ones((2,))]
    upd([0, 1], [mx.nd.ones((2,)), mx.nd.ones((2,))], weights)
    with pytest.raises(TypeError, match="grad must be an NDArray"):
        upd([0, 1], [mx.nd.ones((2,)), np.ones(2, np.float32)], weights)
    assert opt._index_update_count == {0: 1, 1: 1} and opt.num_update == 1
    np.testing.assert_array_equal(weights[0].asnumpy(), weights[1].asnumpy())
