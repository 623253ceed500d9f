"""Per-context update counts: replicas whose device ids collide never drift apart.

MXNet keys the optimizer's update counts by device id only, so the updaters of ``[gpu(0),
cpu(0)]`` (or ``[cpu(0), cpu_pinned(0)]``) with ``update_on_kvstore=False`` share one count table:
every step counts twice, Adam's bias correction and the schedule run ahead and the replicas drift.
mxlite gives each context of a Trainer its own table (the first context of a device id keeps
MXNet's table, so every non-colliding setup is unchanged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon

_GRADS = (
    np.array([0.3, -1.7, 0.25, 2.0], dtype=np.float32),
    np.array([1.1, 0.4, -0.6, 0.05], dtype=np.float32),
)


def _params(ctxs: list[mx.Context]) -> list[gluon.Parameter]:
    out = []
    for k in range(3):
        p = gluon.Parameter(f"p{k}_weight", shape=(4,))
        p.initialize(mx.init.Constant(0.5 + 0.1 * k), ctx=ctxs)
        out.append(p)
    return out


def _trainer(params: list[gluon.Parameter], kvstore: Any, uok: bool | None) -> gluon.Trainer:
    sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.1)
    return gluon.Trainer(
        params,
        "adam",
        {"learning_rate": 0.1, "lr_scheduler": sched, "wd": 0.01},
        kvstore=kvstore,
        update_on_kvstore=uok,
    )


def _backward_replicas(params: list[gluon.Parameter], step: int) -> None:
    """Replica ``r`` of parameter ``k`` gets the gradient ``(k + 1 + step) * _GRADS[r]``.

    The losses use ``list_data()`` directly, so contexts whose lookup slots collide (cpu(0) and
    cpu_pinned(0)) each get their own gradient.
    """
    for k, p in enumerate(params):
        for r, w in enumerate(p.list_data()):
            g = mx.nd.array(_GRADS[r] * (k + 1 + step), ctx=w.context)
            with autograd.record():
                loss = (w * g).sum()
            loss.backward()


def _backward_single(params: list[gluon.Parameter], step: int) -> None:
    """The summed gradient of both replicas on one context (one float32 addition, as the store)."""
    for k, p in enumerate(params):
        g = mx.nd.array(
            (_GRADS[0] * (k + 1 + step)) + (_GRADS[1] * (k + 1 + step)), ctx=p.list_ctx()[0]
        )
        with autograd.record():
            loss = (p.data() * g).sum()
        loss.backward()


def _run_pair(ctxs: list[mx.Context], uok: bool | None, steps: int = 5) -> list[Any]:
    params = _params(ctxs)
    trainer = _trainer(params, "device", uok)
    history = []
    for step in range(steps):
        _backward_replicas(params, step)
        trainer.step(2)
        history.append([[w.asnumpy().copy() for w in p.list_data()] for p in params])
    return history


def _run_single(steps: int = 5) -> list[Any]:
    params = _params([mx.cpu(0)])
    trainer = _trainer(params, None, None)
    history = []
    for step in range(steps):
        _backward_single(params, step)
        trainer.step(2)
        history.append([p.data().asnumpy().copy() for p in params])
    return history


def _assert_replicas_match_single(pair: list[Any], single: list[Any]) -> None:
    for step, (reps, ref) in enumerate(zip(pair, single, strict=True)):
        for k, (replicas, want) in enumerate(zip(reps, ref, strict=True)):
            for r, got in enumerate(replicas):
                assert np.array_equal(got, want), f"step {step} param {k} replica {r}"


@pytest.mark.parametrize("uok", [False, True])
def test_colliding_device_ids_keep_replicas_identical(uok: bool) -> None:
    ctxs = [mx.cpu(0), mx.cpu_pinned(0)]  # both device id 0: MXNet would share one count table
    _assert_replicas_match_single(_run_pair(ctxs, uok), _run_single())


def test_non_colliding_contexts_unchanged() -> None:
    _assert_replicas_match_single(_run_pair([mx.cpu(0), mx.cpu(1)], False), _run_single())


@pytest.mark.gpu
@pytest.mark.parametrize("uok", [False, True])
def test_gpu_and_cpu_of_one_id_keep_replicas_identical(gpu_ctx: mx.Context, uok: bool) -> None:
    pair = _run_pair([gpu_ctx, mx.cpu(gpu_ctx.device_id)], uok)
    single = _run_single()
    for reps, ref in zip(pair, single, strict=True):
        for replicas, want in zip(reps, ref, strict=True):
            assert np.array_equal(replicas[0], replicas[1])  # bitwise identical replicas
            np.testing.assert_allclose(replicas[0], want, rtol=1e-6, atol=1e-7)


GOLDEN = (
    Path(__file__).resolve().parent.parent / "_support" / "data" / "trainer_states_adam_2ctx_v1.bin"
)


def _resume(ctxs: list[mx.Context], states: Path | str, start: int, steps: int = 5) -> list[Any]:
    """A fresh trainer on ``ctxs`` that loads ``states`` (saved after ``start`` steps) and runs
    the remaining steps; the weights are set to those of the uninterrupted run first."""
    params = _params(ctxs)
    weights = _run_single(start)[-1]
    for p, w in zip(params, weights, strict=True):
        p.set_data(mx.nd.array(w))
    trainer = _trainer(params, "device" if len(ctxs) > 1 else None, False)
    trainer.load_states(str(states))
    history = []
    for step in range(start, steps):
        (_backward_replicas if len(ctxs) > 1 else _backward_single)(params, step)
        trainer.step(2)
        history.append([[w.asnumpy().copy() for w in p.list_data()] for p in params])
    return history


def _assert_resumed(resumed: list[Any], start: int) -> None:
    want = _run_single()[start:]
    for step, (reps, ref) in enumerate(zip(resumed, want, strict=True)):
        for k, (replicas, w) in enumerate(zip(reps, ref, strict=True)):
            for r, got in enumerate(replicas):
                assert np.array_equal(got, w), f"step {start + step} param {k} replica {r}"


@pytest.mark.parametrize(
    "ctxs",
    [[mx.cpu(0), mx.cpu(1)], [mx.cpu(0), mx.cpu_pinned(0)], [mx.cpu(0)], [mx.cpu(4), mx.cpu(0)]],
    ids=["same", "colliding", "single", "other-ids"],
)
def test_states_saved_before_the_fix_resume_on_any_contexts(ctxs: list[mx.Context]) -> None:
    # written by mxlite before per-context counts (2 Adam steps on [cpu(0), cpu(1)])
    assert b'"_all_index_update_counts"' in GOLDEN.read_bytes()
    # [cpu(4), cpu(0)]: MXNet restarts cpu(4)'s counts alone (its replica would drift);
    # mxlite starts them from cpu(0)'s
    resumed = _resume(ctxs, GOLDEN, 2)
    _assert_resumed(resumed, 2)


@pytest.mark.parametrize(
    "load_ctxs",
    [[mx.cpu(0), mx.cpu_pinned(0)], [mx.cpu_pinned(0), mx.cpu(0)], [mx.cpu(0)]],
    ids=["same", "swapped", "single"],
)
def test_states_saved_with_colliding_ids_resume(tmp_path: Path, load_ctxs: list[Any]) -> None:
    params = _params([mx.cpu(0), mx.cpu_pinned(0)])
    trainer = _trainer(params, "device", False)
    for step in range(3):
        _backward_replicas(params, step)
        trainer.step(2)
    tables = trainer.optimizer._all_index_update_counts
    assert tables[0] == tables[(3, 0)] == {0: 3, 1: 3, 2: 3}
    trainer.save_states(str(tmp_path / "s"))
    _assert_resumed(_resume(load_ctxs, tmp_path / "s", 3), 3)


def test_states_of_one_context_resume_on_two_without_drift(tmp_path: Path) -> None:
    params = _params([mx.cpu(0)])
    trainer = _trainer(params, None, None)
    for step in range(2):
        _backward_single(params, step)
        trainer.step(2)
    trainer.save_states(str(tmp_path / "s"))
    # MXNet: cpu(1) finds no counts of its own and restarts Adam's bias correction alone
    _assert_resumed(_resume([mx.cpu(0), mx.cpu(1)], tmp_path / "s", 2), 2)


def test_all_new_device_ids_restart_counts_as_mxnet() -> None:
    resumed = _resume([mx.cpu(3), mx.cpu(5)], GOLDEN, 2)
    want = _run_single()[2:]
    for reps, ref in zip(resumed, want, strict=True):
        for replicas, w in zip(reps, ref, strict=True):
            assert np.array_equal(replicas[0], replicas[1])
            assert not np.array_equal(replicas[0], w)  # Adam's bias correction restarted
