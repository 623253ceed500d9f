"""LAMB, LARS, LBSGD and the optimizer operators on the CPU backend: registry, states and their
contexts, Updater/Trainer state round trips (pickle-free), the reduction kernels against plain
loops, strided inputs, and GPU bodies (skipped without a GPU). MXNet parity is in
``test_optimizer_lamb_lars_oracle.py`` and ``test_optimizer_ops*_oracle.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite.ndarray import _cpu_norms, _lamb_rules
from mxlite.ndarray._kernel_params import dmlc_double, dmlc_float

_MAKERS: dict[str, dict[str, Any]] = {
    "lamb": {"learning_rate": 0.01, "wd": 0.01, "lower_bound": 0.1, "upper_bound": 5.0},
    "lars": {"learning_rate": 0.1, "momentum": 0.9, "eta": 0.02, "wd": 0.01},
    "lbsgd": {"learning_rate": 0.1, "momentum": 0.9, "batch_scale": 2, "warmup_epochs": 1},
}


def _make(name: str, **extra: Any) -> mx.optimizer.Optimizer:
    sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.8, base_lr=0.05)
    kwargs = dict(_MAKERS[name], lr_scheduler=sched, param_idx2name={0: "a_weight", 1: "a_bias"})
    kwargs.update(extra)
    return mx.optimizer.create(name, **kwargs)


def _problem(dtype: str = "float32", ctx: Any = None) -> tuple[list[Any], list[list[Any]]]:
    rng = np.random.default_rng(3)
    shapes = [(3, 4), (4,), (2, 2)]
    weights = [mx.nd.array(rng.normal(size=s), ctx=ctx, dtype=dtype) for s in shapes]
    grads = [
        [mx.nd.array(rng.normal(size=s), ctx=ctx, dtype=dtype) for s in shapes] for _ in range(4)
    ]
    return weights, grads


def _nd_states(state: Any) -> list[Any]:
    """The NDArrays of a state (None, an NDArray, or nested tuples of them), depth first."""
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _nd_states(s)]
    return [state]


def test_registry_names_and_classes() -> None:
    for name, cls in (("lamb", mx.optimizer.LAMB), ("LARS", mx.optimizer.LARS),
                      ("LbSgd", mx.optimizer.LBSGD)):  # fmt: skip
        opt = mx.optimizer.create(name)
        assert type(opt) is cls
        assert mx.optimizer.Optimizer.opt_registry[name.lower()] is cls


def test_aggregate_num_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", raising=False)
    assert mx.optimizer.LAMB().aggregate_num == 45
    assert mx.optimizer.LARS().aggregate_num == 4
    assert mx.optimizer.LBSGD().aggregate_num == 0
    monkeypatch.setenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", "100")
    assert mx.optimizer.LAMB().aggregate_num == 45  # multi_lamb_update's limit
    monkeypatch.setenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", "0")
    assert mx.optimizer.LAMB().aggregate_num == 1
    assert mx.optimizer.LAMB(aggregate_num=3).aggregate_num == 3


@pytest.mark.parametrize("name", sorted(_MAKERS))
@pytest.mark.parametrize("dump", [True, False])
def test_updater_state_round_trip_continues_identically(name: str, dump: bool) -> None:
    """Two steps, get_states, a fresh Updater (and optimizer unless dumped), two more steps:
    the same weights and states as four uninterrupted steps (LBSGD mid macro-batch included)."""
    weights_a, grads = _problem()
    weights_b = [w.copy() for w in weights_a]
    upd_a = mx.optimizer.get_updater(_make(name))
    for step in grads[:1]:
        upd_a([0, 1, 2], [g.copy() for g in step], weights_a)
    upd_b = mx.optimizer.get_updater(_make(name))
    upd_b([0, 1, 2], [g.copy() for g in grads[0]], weights_b)
    blob = upd_b.get_states(dump_optimizer=dump)
    upd_c = mx.optimizer.get_updater(_make(name) if not dump else mx.optimizer.Test())
    upd_c.set_states(blob)
    if not dump:  # the counts live in the optimizer: carry them over as a user would
        upd_c.optimizer.__dict__.update(
            {k: v for k, v in upd_b.optimizer.__dict__.items() if k != "param_dict"}
        )
    assert type(upd_c.optimizer) is type(upd_a.optimizer)
    for step in grads[1:]:
        upd_a([0, 1, 2], [g.copy() for g in step], weights_a)
        upd_c([0, 1, 2], [g.copy() for g in step], weights_b)
    for wa, wb in zip(weights_a, weights_b):
        np.testing.assert_array_equal(wa.asnumpy(), wb.asnumpy())
    for i in range(3):
        states_a, states_c = _nd_states(upd_a.states[i]), _nd_states(upd_c.states[i])
        assert len(states_a) == len(states_c)
        for sa, sc in zip(states_a, states_c):
            np.testing.assert_array_equal(sa.asnumpy(), sc.asnumpy())


@pytest.mark.parametrize("name", sorted(_MAKERS))
def test_multi_precision_states_and_contexts(name: str, ctx: mx.Context) -> None:
    """float16 weights with multi_precision: float32 masters and states on the weight's
    context; the weights follow their masters (LAMB's list path updates the masters)."""
    weights, grads = _problem("float16", ctx)
    opt = _make(name, multi_precision=True)
    upd = mx.optimizer.get_updater(opt)
    for step in grads:
        upd([0, 1, 2], step, weights)
    for i, w in enumerate(weights):
        states = _nd_states(upd.states[i])
        assert states and all(s.dtype == np.float32 for s in states)
        assert all(s.context == ctx for s in states)
        assert w.dtype == np.float16 and w.context == ctx
        masters = [s for s in states if s.shape == w.shape]
        assert any(np.array_equal(m.asnumpy().astype(np.float16), w.asnumpy()) for m in masters)


def test_lars_layout_and_wd_mult() -> None:
    opt = mx.optimizer.LARS(momentum=0.9, multi_precision=True, param_idx2name={0: "x_gamma"})
    assert opt.wd_mult == {"x_gamma": 0.0}  # LARS keeps decay only on *_weight
    state = opt.create_state_multi_precision(0, mx.nd.ones((2,), dtype="float16"))
    assert isinstance(state, tuple) and state[1].dtype == np.float32  # (mom, weight32)
    assert mx.optimizer.LARS().create_state(0, mx.nd.ones((2,))) is None
    with pytest.warns(UserWarning, match="multi_precision=True option of the SGD optimizer"):
        mx.optimizer.LARS().create_state_multi_precision(0, mx.nd.ones((2,), dtype="float16"))


def test_lamb_list_of_wrong_length_with_aggregate_one_raises() -> None:
    opt = mx.optimizer.LAMB(aggregate_num=1)
    w = [mx.nd.ones((2,)), mx.nd.ones((2,))]
    states = [opt.create_state(i, x) for i, x in enumerate(w)]
    with pytest.raises(AssertionError, match="aggregate_num is 1"):
        opt.update([0, 1], w, [x.copy() for x in w], states)
    assert all((x.asnumpy() == 1).all() for x in w)


def test_trainer_save_load_states_two_contexts(tmp_path: Path) -> None:
    ctxs = [mx.cpu(0), mx.cpu(1)]

    def build() -> tuple[mx.gluon.Parameter, mx.gluon.Trainer]:
        p = mx.gluon.Parameter("fc_weight", shape=(3, 2))
        p.initialize(ctx=ctxs, init=mx.init.Constant(0.5))
        return p, mx.gluon.Trainer([p], "lamb", {"learning_rate": 0.01, "wd": 0.01})

    def step(p: mx.gluon.Parameter, trainer: mx.gluon.Trainer, t: int) -> None:
        for c, ctx in enumerate(ctxs):
            with mx.autograd.record():
                x = mx.nd.array(np.full((3, 2), 0.1 * (t + 1) + c), ctx=ctx)
                loss = (p.data(ctx) * x).sum()
            loss.backward()
        trainer.step(2)

    p_a, tr_a = build()
    p_b, tr_b = build()
    for t in range(2):
        step(p_a, tr_a, t)
        step(p_b, tr_b, t)
    tr_b.save_states(str(tmp_path / "lamb.states"))
    p_c, tr_c = build()
    p_c.set_data(p_b.data(ctxs[0]))
    tr_c.load_states(str(tmp_path / "lamb.states"))
    for t in range(2, 4):
        step(p_a, tr_a, t)
        step(p_c, tr_c, t)
    for ctx in ctxs:
        np.testing.assert_array_equal(p_a.data(ctx).asnumpy(), p_c.data(ctx).asnumpy())


# ---------------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_sum_sq_equals_mxnets_loop(dtype: str) -> None:
    """multi_sum_sq's CPU loop: float32 accumulation in order, squares in the input dtype."""
    x = (np.random.default_rng(1).normal(size=257) * 3).astype(dtype)
    acc = np.float32(0)
    for v in x:
        sq = v * v if dtype != "float64" else np.float64(v) * np.float64(v)
        acc = np.float32(np.float64(acc) + np.float64(sq))
    assert _lamb_rules.sum_sq(x) == acc
    assert type(_lamb_rules.sum_sq(x)) is np.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scaled_nrm2_equals_the_recurrence(dtype: str) -> None:
    x = np.random.default_rng(2).normal(size=101) * 10.0 ** np.arange(-2, 3).repeat(21)[:101]
    x = x.astype(dtype)
    x[5] = 0.0
    t = np.dtype(dtype).type
    ssq, scale = t(0), t(0)
    for v in x:
        if v != 0:
            a = abs(v)
            if scale < a:
                ssq, scale = t(1) + ssq * (scale / a) * (scale / a), a
            else:
                ssq = ssq + (a / scale) * (a / scale)
    assert _lamb_rules.l2_norm(x) == scale * np.sqrt(ssq)
    assert _cpu_norms.scaled_nrm2(np.zeros(3, dtype=dtype), t(0), t(1)) == 0


def test_dmlc_parser_edges() -> None:
    assert dmlc_float(0.1) == np.float32(0.1)
    assert dmlc_float("1e-06") == np.float32(1e-6)
    assert dmlc_float(3.5351853949780884e-05) != np.float32(3.5351853949780884e-05)
    assert np.isnan(dmlc_float(float("nan"))) and dmlc_float(float("-inf")) == -np.inf
    assert dmlc_float(np.float32(0.35)) == np.float32(0.35)
    assert dmlc_float(7) == 7 and dmlc_double(0.1) == 0.1
    with pytest.raises(OverflowError):
        dmlc_float(1e39)
    with pytest.raises(ValueError):
        dmlc_float("abc")


def test_int_and_bool_fields_parse_as_mxnet() -> None:
    w = mx.nd.ones((2,))
    states = [w.copy(), w.copy()]
    on = mx.nd.lamb_update_phase1(w, w, *states, t=np.int64(1), wd=0.0, bias_correction="true")
    states = [w.copy(), w.copy()]
    off = mx.nd.lamb_update_phase1(w, w, *states, t="1", wd=0.0, bias_correction="False")
    assert not np.array_equal(on.asnumpy(), off.asnumpy())
    with pytest.raises(mx.base.MXNetError, match="expect boolean but value='maybe'"):
        mx.nd.lamb_update_phase1(w, w, *states, t=1, wd=0.0, bias_correction="maybe")


# ---------------------------------------------------------------------------------- operators
def test_strided_inputs_are_updated_in_place(ctx: mx.Context) -> None:
    """Non-contiguous arrays go through contiguous copies and are written back."""
    base = np.arange(24, dtype=np.float32).reshape(4, 6) / 10
    ref = mx.nd.array(base[:, ::2].copy(), ctx=ctx)
    mom_ref = mx.nd.zeros((4, 3), ctx=ctx)
    strided = mx.nd.array(base, ctx=ctx)
    weight = mx.nd.NDArray(strided._data[:, ::2], ctx)
    mom = mx.nd.NDArray(mx.nd.zeros((4, 6), ctx=ctx)._data[:, ::2], ctx)
    grad = mx.nd.ones((4, 3), ctx=ctx)
    mx.nd.sgd_mom_update(ref, grad, mom_ref, lr=0.1, momentum=0.9, wd=0.01, out=ref)
    got = mx.nd.sgd_mom_update(weight, grad, mom, lr=0.1, momentum=0.9, wd=0.01, out=weight)
    assert got is weight and got.context == ctx
    np.testing.assert_array_equal(strided.asnumpy()[:, ::2], ref.asnumpy())
    np.testing.assert_array_equal(strided.asnumpy()[:, 1::2], base[:, 1::2])
    np.testing.assert_array_equal(mom.asnumpy(), mom_ref.asnumpy())


def test_operator_results_live_on_the_weights_context(ctx: mx.Context) -> None:
    w = mx.nd.ones((2, 3), ctx=ctx)
    g = mx.nd.ones((2, 3), ctx=ctx) * 0.5
    outs = [
        mx.nd.sgd_update(w, g, lr=0.1),
        mx.nd.rmsprop_update(w, g, mx.nd.ones((2, 3), ctx=ctx), lr=0.1),
        mx.nd.lamb_update_phase1(w, g, mx.nd.zeros((2, 3), ctx=ctx), mx.nd.zeros((2, 3), ctx=ctx),
                                 t=1, wd=0.0),
        mx.nd.multi_sum_sq(w, g, num_arrays=2),
        mx.nd.all_finite(w),
    ]  # fmt: skip
    assert all(o.context == ctx for o in outs)
    assert (w.asnumpy() == 1).all()  # no out=: the weight is left alone


@pytest.mark.gpu
def test_operators_on_gpu_match_cpu(gpu_ctx: mx.Context) -> None:
    """The operators on a GPU: the fused kernels bitwise, the LAMB reductions to rounding."""
    rng = np.random.default_rng(5)
    w, g, m, v = (rng.normal(size=(5, 7)).astype(np.float32) for _ in range(4))
    v = np.abs(v)
    results = {}
    for ctx in (mx.cpu(0), gpu_ctx):
        W, G, M, V = (mx.nd.array(a, ctx=ctx) for a in (w, g, m, v))
        mx.nd.adam_update(W, G, M, V, lr=0.01, wd=0.01, out=W)
        gg = mx.nd.lamb_update_phase1(W, G, M, V, t=2, wd=0.01)
        multi = [mx.nd.array(w, ctx=ctx)]
        mx.nd.contrib.multi_lamb_update(
            multi, [G], [M.copy()], [V.copy()], step_count=[2], lrs=[0.1], wds=[0.0], out=multi
        )
        results[ctx.device_type] = (W.asnumpy(), gg.asnumpy(), multi[0].asnumpy())
    np.testing.assert_array_equal(results["cpu"][0], results["gpu"][0])
    for a, b in zip(results["cpu"][1:], results["gpu"][1:]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
