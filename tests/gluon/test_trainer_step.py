"""Trainer steps with cached per-step lists equal MXNet's Parameter-by-Parameter loop.

``_reference_update`` is MXNet 1.9.1's ``Trainer._update`` (plus mxlite's per-context update
counts); the scenarios run once with it and once with the Trainer's own cached path, with random
partial freshness, ``ignore_stale_grad`` on and off, and everything that replaces Parameters'
buffers between steps. Warnings, weights, gradients, fresh flags and optimizer states must be
the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import trainer as trainer_mod
from mxlite.gluon._trainer_step import count_keys, fork_missing_counts


def _reference_update(self: Any, ignore_stale_grad: bool = False) -> None:
    on_kvstore = self._kvstore is not None and self._update_on_kvstore
    updates: list[list[Any]] = [[] for _ in self._updaters]
    for i, param in enumerate(self._params):
        if param.grad_req == "null":
            continue
        datas = param.list_data()
        if not ignore_stale_grad:
            for data in datas:
                if not data._fresh_grad:
                    raise UserWarning(
                        trainer_mod._MSG_STALE.format(name=param.name, ctx=data.context)
                    )
        if on_kvstore:
            continue
        for upd, arr, grad in zip(updates, datas, param.list_grad(), strict=True):
            if not ignore_stale_grad or arr._fresh_grad:
                upd.append((i, grad, arr))
                arr._fresh_grad = False
    if on_kvstore or not any(updates):
        return
    first = next(p for p in self._params if p.grad_req != "null")
    keys = count_keys(first.list_ctx())
    fork_missing_counts(self._optimizer, keys)
    for updater, upd, key in zip(self._updaters, updates, keys, strict=True):
        if upd:
            idx, grads, weights = zip(*upd, strict=True)
            updater.count_key = key
            updater(list(idx), list(grads), list(weights))


def _backward(param: gluon.Parameter, replica: int, scale: float) -> None:
    w = param.list_data()[replica]
    with autograd.record():
        loss = (w * w * scale).sum()
    loss.backward()


def _scenario(ctxs: list[mx.Context], kvstore: Any, uok: bool | None, opt: str) -> list[Any]:
    rng = np.random.default_rng(3)
    params = [gluon.Parameter(f"p{k}_weight", shape=(3, k + 1)) for k in range(6)]
    for p in params:
        p.initialize(mx.init.Uniform(0.5), ctx=ctxs)
        p.set_data(mx.nd.array(rng.uniform(-1, 1, p.shape)))
    params[4].grad_req = "null"
    trainer = gluon.Trainer(
        params, opt, {"learning_rate": 0.1, "wd": 0.01}, kvstore=kvstore, update_on_kvstore=uok
    )
    log: list[Any] = []
    for step in range(14):
        if step == 4:
            params[4].grad_req = "write"
            params[1].grad_req = "null"
        if step == 6:
            params[1].grad_req = "add"
            params[2].initialize(mx.init.Constant(0.3), ctx=ctxs, force_reinit=True)
        if step == 8:
            params[0].data(ctxs[-1]).attach_grad()  # re-marked by hand: a new autograd node
        if step == 9 and len(ctxs) > 1:
            for p in params:
                p.reset_ctx(list(reversed(ctxs)))
            ctxs = list(reversed(ctxs))
        if step == 10:
            params[3].cast("float64")
        # random partial freshness; most steps everything is fresh
        partial = step % 3 == 1
        for p in params:
            if p.grad_req == "null":
                continue
            for r in range(len(ctxs)):
                if not partial or rng.random() < 0.6:
                    _backward(p, r, float(rng.uniform(0.5, 2)))
        ignore = bool(rng.random() < 0.5)
        try:
            trainer.step(2, ignore_stale_grad=ignore)
            log.append(("ok", ignore))
        except UserWarning as err:
            log.append(("stale", ignore, str(err)))
        for p in params:
            log.append([d.asnumpy() for d in p.list_data()])
            log.append([d._fresh_grad for d in p.list_data()])
            if p.grad_req != "null":
                log.append([g.asnumpy() for g in p.list_grad()])
    updaters = [trainer._kvstore._updater] if trainer._update_on_kvstore else trainer._updaters
    for upd in updaters:
        for k in sorted(upd.states):
            state = upd.states[k]
            for s in state if isinstance(state, tuple) else [state]:
                if s is not None:
                    log.append(s.asnumpy())
    log.append(
        sorted(
            (str(k), sorted(t.items()))
            for k, t in trainer.optimizer._all_index_update_counts.items()
        )
    )
    return log


def _same(a: Any, b: Any) -> None:
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8))
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b


@pytest.mark.parametrize(
    ("ctxs", "kvstore", "uok"),
    [
        ([mx.cpu(0)], None, None),
        ([mx.cpu(0), mx.cpu(1)], "device", False),
        ([mx.cpu(0), mx.cpu(1)], "device", True),
        ([mx.cpu(0), mx.cpu_pinned(0)], "device", False),
        ([mx.cpu(0), mx.cpu(1)], None, None),
    ],
    ids=["one", "two-uok-false", "two-uok-true", "colliding", "two-no-store"],
)
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_cached_steps_equal_mxnet_loop(
    ctxs: list[mx.Context], kvstore: Any, uok: bool | None, opt: str, monkeypatch: Any
) -> None:
    fast = _scenario(list(ctxs), kvstore, uok, opt)
    with monkeypatch.context() as m:
        m.setattr(trainer_mod.Trainer, "_update", _reference_update)
        slow = _scenario(list(ctxs), kvstore, uok, opt)
    assert [entry for entry in fast if isinstance(entry, tuple)] == [
        entry for entry in slow if isinstance(entry, tuple)
    ]
    assert any(entry[0] == "stale" for entry in fast if isinstance(entry, tuple))
    _same(fast, slow)


def test_step_lists_are_reused_until_buffers_change() -> None:
    p = gluon.Parameter("w", shape=(2,))
    p.initialize(mx.init.One(), ctx=[mx.cpu(0), mx.cpu(1)])
    t = gluon.Trainer([p], "sgd", {"learning_rate": 1.0}, update_on_kvstore=False)
    for _ in range(2):
        for r in range(2):
            _backward(p, r, 1.0)
        t.step(1)
    lists = t._lists
    for r in range(2):
        _backward(p, r, 1.0)
    t.step(1)
    assert t._lists is lists
    p.reset_ctx([mx.cpu(2), mx.cpu(3)])
    for r in range(2):
        _backward(p, r, 1.0)
    t.step(1)
    assert t._lists is not lists and [a.context for a in t._lists.flat] == [mx.cpu(2), mx.cpu(3)]


def test_replica_count_mismatch_is_refused_with_remedy() -> None:
    p = gluon.Parameter("w", shape=(2,))
    p.initialize(mx.init.One(), ctx=[mx.cpu(0), mx.cpu(1)])
    t = gluon.Trainer([p], "sgd", {"learning_rate": 1.0}, kvstore=None)
    p.reset_ctx([mx.cpu(0), mx.cpu(1), mx.cpu(2)])
    for r in range(3):
        _backward(p, r, 1.0)
    with pytest.raises(ValueError, match="has 3 replicas, but this Trainer was created for 2"):
        t.step(1)
    assert all(d.asnumpy().tolist() == [1.0, 1.0] for d in p.list_data())
