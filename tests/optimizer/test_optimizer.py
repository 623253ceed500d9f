"""Optimizer base class: registry, learning rates, multipliers, counts, warnings, bad input; the
multi-tensor path against the single-tensor path."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import optimizer as opt_mod
from tests._support.oracle import run_oracle_json

# Runs unchanged under MXNet (mod=mxnet) and mxlite (mod=mxlite); returns JSON-able facts.
_FACTS = r"""
def api_facts(mod):
    import io, contextlib, warnings
    import numpy as np
    facts = {}
    facts["create_case"] = [type(mod.optimizer.create(n)).__name__ for n in ("SGD", "sgd", "AdAm", "rmsProp", "ccsgd")]
    try:
        mod.optimizer.create("no_such_opt")
    except Exception as err:
        facts["unknown"] = [type(err).__name__, str(err).split(".")[0]]
    defaults = {}
    for name in ("sgd", "nag", "adam", "adamax", "nadam", "rmsprop", "adagrad", "adadelta", "ftrl",
                 "dcasgd", "sgld", "test", "ccsgd", "signum", "ftml"):
        o = mod.optimizer.create(name)
        defaults[name] = [o.lr, o.learning_rate, o.wd, o.rescale_grad, o.clip_gradient,
                          o.num_update, o.begin_num_update, o.multi_precision, o.aggregate_num]
    facts["defaults"] = defaults
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        s = mod.lr_scheduler.FactorScheduler(step=3, factor=0.5, base_lr=0.3)
        o = mod.optimizer.SGD(lr_scheduler=s, learning_rate=0.7)
        facts["override"] = [o.lr, o.learning_rate, s.base_lr]
        s2 = mod.lr_scheduler.FactorScheduler(step=3, base_lr=0.3)
        o2 = mod.optimizer.SGD(lr_scheduler=s2)
        facts["from_sched"] = [o2.lr, o2.learning_rate]
        o3 = mod.optimizer.Adam(lr_scheduler=mod.lr_scheduler.FactorScheduler(step=3, base_lr=0.001))
        facts["adam_same_lr"] = [o3.lr]
        cos = mod.lr_scheduler.CosineScheduler(max_update=10, base_lr=0.3)
        o8 = mod.optimizer.NAG(lr_scheduler=cos, learning_rate=0.1)
        facts["cosine_override"] = [cos.base_lr, o8.learning_rate]  # base_lr_orig keeps 0.3
    facts["printed"] = buf.getvalue()
    try:
        o.set_learning_rate(0.1)
    except Exception as err:
        facts["set_lr_sched"] = [type(err).__name__, str(err)]
    o4 = mod.optimizer.SGD(learning_rate=0.2)
    o4.set_learning_rate(0.05)
    facts["set_lr"] = [o4.lr, o4.learning_rate]
    try:
        o4.learning_rate = 1.0
    except Exception as err:
        facts["lr_setter"] = type(err).__name__
    try:
        o4.set_lr_scale({})
    except BaseException as err:
        facts["lr_scale"] = type(err).__name__
    names = {0: "fc_weight", 1: "fc_bias", 2: "bn_gamma", 3: "bn_beta", 4: "bn_running_mean"}
    o5 = mod.optimizer.SGD(param_idx2name=names, wd=0.1, learning_rate=0.5)
    facts["wd_mult"] = sorted(o5.wd_mult.items())
    o5.set_lr_mult({0: 2.0, "fc_bias": 3.0})
    o5.set_wd_mult({"fc_bias": 0.5, 2: 4.0})
    facts["lrs"] = o5._get_lrs([0, 1, 2, 3, 4, 9])
    facts["wds"] = o5._get_wds([0, 1, 2, 3, 4, 9])
    facts["lr_wd_one"] = [o5._get_lr(1), o5._get_wd(2)]
    class P:
        def __init__(self, lr_mult, wd_mult):
            self.lr_mult, self.wd_mult = lr_mult, wd_mult
    o6 = mod.optimizer.SGD(param_dict={0: P(0.5, 0.0), 1: P(2.0, 3.0)}, wd=0.1, learning_rate=0.5)
    o6.set_lr_mult({0: 10.0})
    facts["param_dict"] = [o6._get_lrs([0, 1, 2]), o6._get_wds([0, 1, 2])]
    # NumPy scalars as rates and multipliers: MXNet runs under NumPy 1.x, where a NumPy scalar
    # times a Python number is a float64 product (NumPy 2 would keep float32)
    products = []
    for lr in (0.001, np.float32(0.001), np.float64(0.001), np.float32(0.1)):
        for mult in (0.35, np.float32(0.35), 3, np.float16(2.3), np.float32(2.3)):
            on = mod.optimizer.SGD(learning_rate=lr, wd=lr, param_idx2name={0: "a_weight"},
                                   param_dict={1: P(mult, mult)})
            on.set_lr_mult({0: mult})
            on.set_wd_mult({"a_weight": mult})
            products.append([float(x).hex() for x in on._get_lrs([0, 1]) + on._get_wds([0, 1])])
    facts["np_scalar_products"] = products
    o7 = mod.optimizer.SGD(begin_num_update=10)
    o7._update_count(0); o7._update_count([0, 1]); o7._update_count(1)
    o7._set_current_context(3); o7._update_count(0)
    facts["counts"] = [o7.num_update, sorted(o7._all_index_update_counts[0].items()),
                       sorted(o7._index_update_count.items()), sorted(o7._all_index_update_counts)]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for name in ("sgd", "nag", "adam", "rmsprop"):
            st = mod.optimizer.create(name, momentum=0.9) if name in ("sgd", "nag") else mod.optimizer.create(name)
            st.create_state_multi_precision(0, mod.nd.zeros((2,), dtype="float16"))
        facts["fp16_warnings"] = [[r.category.__name__, str(r.message)] for r in rec]
    dtypes = {}
    for name in ("sgd", "nag", "adam", "adamax", "nadam", "rmsprop", "adagrad", "adadelta", "ftrl", "dcasgd", "test",
                 "signum", "ftml"):
        kw = {"momentum": 0.9} if name in ("sgd", "nag") else {}
        if name == "rmsprop":
            kw = {"centered": True}
        o = mod.optimizer.create(name, **kw)
        for mp in (False, True):
            o.multi_precision = mp
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                st = o.create_state_multi_precision(0, mod.nd.ones((2,), dtype="float16"))
            def desc(x):
                if x is None:
                    return None
                if isinstance(x, (tuple, list)):
                    return [type(x).__name__] + [desc(y) for y in x]
                return str(x.dtype.__name__) + ":" + str(x.asnumpy().tolist())
            dtypes[f"{name}-{mp}"] = desc(st)
    facts["state_layouts"] = dtypes
    t = mod.optimizer.Test(rescale_grad=2.0)
    w = mod.nd.array([1.0, 2.0]); g = mod.nd.array([0.5, -1.0]); st = t.create_state(0, w)
    t.update(0, w, g, st)
    facts["test_opt"] = [w.asnumpy().tolist(), st.asnumpy().tolist(), t.num_update]
    try:
        mod.optimizer.SGD(param_idx2name=[("a", 1)])
    except Exception as err:
        facts["idx2name_err"] = isinstance(err, AssertionError)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        class Sgd(mod.optimizer.Optimizer):
            pass
        mod.optimizer.register(Sgd)
        facts["register_warning"] = [str(r.message).split(" is overriding")[0].split(".")[-1] for r in rec]
        import importlib
        reg = mod.optimizer.Optimizer.opt_registry
        facts["registered_as"] = type(mod.optimizer.create("sgd")).__name__
    return facts
"""


@pytest.fixture(scope="module")
def oracle_facts() -> dict[str, Any]:
    return run_oracle_json(_FACTS + "\nprint(json.dumps(api_facts(mx), default=str))\n")


@pytest.fixture
def restore_registry() -> Any:
    saved = dict(opt_mod.Optimizer.opt_registry)
    yield
    opt_mod.Optimizer.opt_registry.clear()
    opt_mod.Optimizer.opt_registry.update(saved)


@pytest.mark.oracle
def test_api_facts_match_oracle(oracle_facts: dict[str, Any], restore_registry: Any) -> None:
    import json

    namespace: dict[str, Any] = {}
    exec(_FACTS, namespace)  # noqa: S102 - our own snippet, shared with the oracle
    ours = json.loads(json.dumps(namespace["api_facts"](mx), default=str))
    assert ours.keys() == oracle_facts.keys()
    for key in oracle_facts:
        assert ours[key] == oracle_facts[key], key


def test_unknown_optimizer_error_lists_registered_names() -> None:
    with pytest.raises(
        ValueError, match="Cannot find optimizer Adamw.*Registered optimizers: .*adam"
    ):
        mx.optimizer.create("Adamw")


def test_register_requires_a_class(restore_registry: Any) -> None:
    before = dict(opt_mod.Optimizer.opt_registry)
    with pytest.raises(AssertionError, match="expects a class"):
        mx.optimizer.register("sgd")  # type: ignore[arg-type]
    assert opt_mod.Optimizer.opt_registry == before


def test_custom_optimizer_via_register_and_create(restore_registry: Any) -> None:
    @mx.optimizer.Optimizer.register
    class HalfStep(mx.optimizer.Optimizer):
        def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
            self._update_count(index)
            weight[:] = weight - self._get_lr(index) * 0.5 * grad

    opt = mx.optimizer.Optimizer.create_optimizer("halfstep", learning_rate=0.2)
    assert isinstance(opt, HalfStep)
    w = mx.nd.array([1.0, 2.0])
    updater = mx.optimizer.get_updater(opt)
    updater([0], [mx.nd.array([1.0, 1.0])], [w])
    np.testing.assert_allclose(w.asnumpy(), [0.9, 1.9], rtol=1e-6)
    assert opt.num_update == 1


def test_bad_param_idx2name_and_sym() -> None:
    with pytest.raises(TypeError, match="param_idx2name should be a dict"):
        mx.optimizer.SGD(param_idx2name=["fc_weight"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mxlite has no symbolic API"):
        mx.optimizer.SGD(sym="net")


class _AttrSymbol:
    """What the optimizer reads from a ``sym``: argument names and their attributes."""

    def attr_dict(self) -> dict[str, dict[str, str]]:
        return {
            "a_weight": {"__lr_mult__": "2", "__wd_mult__": "3"},
            "b_bias": {"__wd_mult__": ".5"},
        }

    def list_arguments(self) -> list[str]:
        return ["a_weight", "b_bias", "c"]


def test_sym_attribute_multipliers_as_mxnet() -> None:
    """Values and key order from MXNet 1.9.1 with the same symbol stand-in: bias-like names get
    wd_mult 0 first, ``__lr_mult__``/``__wd_mult__`` attributes next, explicit dicts last."""
    opt = mx.optimizer.SGD(
        sym=_AttrSymbol(), param_idx2name={0: "a_weight", 1: "b_bias", 2: "c_beta"}
    )
    assert list(opt.lr_mult.items()) == [("a_weight", 2.0)]
    assert list(opt.wd_mult.items()) == [("b_bias", 0.5), ("c_beta", 0.0), ("a_weight", 3.0)]
    opt.set_lr_mult({"c": 4.0})
    opt.set_wd_mult({"c": 5.0})
    assert list(opt.lr_mult.items()) == [("a_weight", 2.0), ("c", 4.0)]
    assert list(opt.wd_mult.items())[-1] == ("c", 5.0) and opt.wd_mult["a_weight"] == 3.0


def test_update_rejects_non_ndarrays() -> None:
    opt = mx.optimizer.Adam()
    w = mx.nd.array([1.0, 2.0])
    state = opt.create_state(0, w)
    with pytest.raises(AssertionError, match="grad must be an NDArray"):
        opt.update(0, w, np.ones(2, np.float32), state)
    with pytest.raises(TypeError, match="weight must be an NDArray"):
        opt.update(0, [1.0, 2.0], mx.nd.ones((2,)), state)
    np.testing.assert_array_equal(w.asnumpy(), [1.0, 2.0])
    assert opt.num_update == 0 and opt._index_update_count == {}


def test_set_learning_rate_with_scheduler_changes_nothing() -> None:
    sched = mx.lr_scheduler.FactorScheduler(step=2, base_lr=0.3)
    opt = mx.optimizer.SGD(lr_scheduler=sched)
    with pytest.raises(UserWarning, match="LRScheduler of the optimizer has already been defined"):
        opt.set_learning_rate(0.9)
    assert opt.lr is None and sched.base_lr == 0.3 and opt.learning_rate == 0.3


def test_scheduler_override_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    sched = mx.lr_scheduler.MultiFactorScheduler(step=[5], base_lr=0.3)
    opt = mx.optimizer.NAG(lr_scheduler=sched, learning_rate=0.1)
    assert "overwritten by ``learning_rate``" in capsys.readouterr().out
    assert sched.base_lr == 0.1 and opt.learning_rate == 0.1


def test_optimizer_copies_without_param_dict() -> None:
    import copy

    opt = mx.optimizer.SGD(param_dict={0: object()}, learning_rate=0.3)
    clone = copy.deepcopy(opt)
    assert clone.param_dict == {} and clone.lr == 0.3 and opt.param_dict


def test_aggregation_size_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", "7")
    assert mx.optimizer.SGD().aggregate_num == 7
    assert mx.optimizer.SGD(aggregate_num=2).aggregate_num == 2
    monkeypatch.setenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", "many")
    with pytest.raises(ValueError, match="MXNET_OPTIMIZER_AGGREGATION_SIZE must be an integer"):
        mx.optimizer.SGD()


# ---------------------------------------------------------------------- multi == single
_MULTI_CASES = [
    ("sgd", {"momentum": 0.9, "clip_gradient": 0.5, "wd": 0.01, "rescale_grad": 0.7}),
    ("sgd", {"wd": 0.01}),
    ("sgd", {"momentum": 0.9, "wd": 0.01, "multi_precision": True}),
    ("sgd", {"momentum": 0.9, "aggregate_num": 0}),
    ("nag", {"momentum": 0.9, "clip_gradient": 0.5, "wd": 0.01}),
    ("nag", {"wd": 0.01, "multi_precision": True}),
    ("nag", {"momentum": 0.8, "wd": 0.01, "multi_precision": True}),
    ("adam", {"clip_gradient": 0.5, "wd": 0.01}),
    ("adam", {"wd": 0.01, "multi_precision": True}),
    ("adam", {"wd": 0.01, "aggregate_num": 2}),
    ("rmsprop", {"centered": True, "wd": 0.01}),
    ("adamax", {"wd": 0.01}),
    ("nadam", {"wd": 0.01}),
    ("adagrad", {"wd": 0.01}),
    ("ftrl", {"wd": 0.01}),
    ("dcasgd", {"wd": 0.01}),
    ("signum", {"wd": 0.01, "wd_lh": 0.01}),
    ("ftml", {"wd": 0.01}),
]


def _params(dtypes: list[str]) -> tuple[list[mx.nd.NDArray], list[list[mx.nd.NDArray]]]:
    rng = np.random.default_rng(7)
    shapes = [(5, 4), (4,), (3, 2, 2), (7,), (2, 3)]
    weights = [mx.nd.array(rng.normal(size=s), dtype=d) for s, d in zip(shapes, dtypes)]
    grads = [
        [mx.nd.array(rng.normal(size=s), dtype=d) for s, d in zip(shapes, dtypes)] for _ in range(3)
    ]
    return weights, grads


@pytest.mark.parametrize(
    ("name", "kwargs"), _MULTI_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(_MULTI_CASES)]
)
def test_update_multi_equals_single_path_bitwise(name: str, kwargs: dict[str, Any]) -> None:
    mixed = ["float32", "float16", "float32", "float16", "float32"]
    dtypes = mixed if kwargs.get("multi_precision") else ["float32"] * 5
    sched = {"lr_scheduler": mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.05)}
    runs = []
    for path in ("single", "multi"):
        weights, grads = _params(dtypes)
        opt = mx.optimizer.create(
            name,
            **kwargs,
            **{"lr_scheduler": mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.05)},
        )
        opt.set_lr_mult({1: 0.5})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            states = [opt.create_state_multi_precision(i, w) for i, w in enumerate(weights)]
        for step in grads:
            if path == "single":
                for i, (w, g, s) in enumerate(zip(weights, step, states)):
                    opt.update_multi_precision(i, w, g, s)
            else:
                opt.update_multi(list(range(len(weights))), weights, step, states)
        runs.append(([w.asnumpy() for w in weights], opt.num_update, dict(opt._index_update_count)))
    del sched
    (w_single, n_single, c_single), (w_multi, n_multi, c_multi) = runs
    for a, b in zip(w_single, w_multi):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert (n_single, c_single) == (n_multi, c_multi) == (3, {i: 3 for i in range(5)})


def test_update_multi_calls_multi_tensor_once_per_dtype_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mxlite.optimizer import sgd

    calls: list[int] = []
    real = sgd._multi_tensor_sgd

    def spy(weights: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(len(weights))
        real(weights, *args, **kwargs)

    rule = dataclasses.replace(sgd.SGD.fused_rule, kernel=spy)
    monkeypatch.setattr(sgd.SGD, "fused_rule", rule)
    weights, grads = _params(["float32", "float16", "float32", "float16", "float32"])
    opt = mx.optimizer.SGD(momentum=0.9, multi_precision=True, aggregate_num=2)
    states = [opt.create_state_multi_precision(i, w) for i, w in enumerate(weights)]
    opt.update_multi(list(range(5)), weights, grads[0], states)
    assert calls == [3, 2]  # float32 group, float16 group; chunks of 2 only time the lr reads


def test_update_multi_respects_overridden_update(restore_registry: Any) -> None:
    class Frozen(mx.optimizer.SGD):
        def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
            self._update_count(index)

    weights, grads = _params(["float32"] * 5)
    before = [w.asnumpy() for w in weights]
    opt = Frozen(momentum=0.9)
    states = [opt.create_state(i, w) for i, w in enumerate(weights)]
    opt.update_multi(list(range(5)), weights, grads[0], states)
    for w, b in zip(weights, before):
        np.testing.assert_array_equal(w.asnumpy(), b)
    assert opt.num_update == 1


def test_multi_precision_keeps_float32_master() -> None:
    w = mx.nd.array([1.0, 2.0, 3.0], dtype="float16")
    opt = mx.optimizer.SGD(learning_rate=1e-4, multi_precision=True)
    state = opt.create_state_multi_precision(0, w)
    mom, master = state
    assert mom is None and master.dtype == np.float32
    for _ in range(10):
        opt.update_multi_precision(0, w, mx.nd.ones((3,), dtype="float16"), state)
    np.testing.assert_allclose(master.asnumpy(), [0.999, 1.999, 2.999], rtol=1e-6)
    assert w.dtype == np.float16
    np.testing.assert_array_equal(w.asnumpy(), master.asnumpy().astype(np.float16))


# ---------------------------------------------------------------------- SGLD and DCASGD momentum
def test_sgld_noise_has_the_documented_scale() -> None:
    mx.random.seed(11)
    opt = mx.optimizer.SGLD(learning_rate=0.04)
    w = mx.nd.zeros((200_000,))
    opt.update(0, w, mx.nd.zeros((200_000,)), None)
    values = w.asnumpy()
    assert abs(values.mean()) < 0.002
    assert values.std() == pytest.approx(math.sqrt(0.04), rel=0.01)


def test_dcasgd_momentum_runs_the_documented_rule() -> None:
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(6,)).astype(np.float32)
    grads = [rng.normal(size=(6,)).astype(np.float32) for _ in range(3)]
    opt = mx.optimizer.DCASGD(momentum=0.9, lamda=0.04, learning_rate=0.1, wd=0.01)
    w = mx.nd.array(w0)
    state = opt.create_state(0, w)
    for g in grads:
        opt.update(0, w, mx.nd.array(g), state)
    ref_w, ref_prev, ref_mom = w0.astype(np.float64), w0.astype(np.float64), np.zeros(6)
    for g in grads:
        step = -0.1 * (g + 0.01 * ref_w + 0.04 * g * g * (ref_w - ref_prev))
        ref_mom = 0.9 * ref_mom + step
        ref_prev = ref_w.copy()
        ref_w = ref_w + ref_mom
    np.testing.assert_allclose(w.asnumpy(), ref_w, rtol=1e-5)
    np.testing.assert_allclose(state[0].asnumpy(), ref_mom, rtol=1e-5)
    np.testing.assert_allclose(state[1].asnumpy(), ref_prev, rtol=1e-5)


def test_fp16_warning_only_without_multi_precision() -> None:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        mx.optimizer.SGD(momentum=0.9, multi_precision=True).create_state_multi_precision(
            0, mx.nd.zeros((2,), dtype="float16")
        )
        mx.optimizer.Adam().create_state_multi_precision(0, mx.nd.zeros((2,)))
    assert rec == []
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        mx.optimizer.Adam(learning_rate=0.5)
    assert out.getvalue() == ""


def _on_cpu_then_gpu(
    kwargs: dict[str, Any], gpu_ctx: mx.Context
) -> Iterator[tuple[mx.Context, list[mx.nd.NDArray], list[list[mx.nd.NDArray]]]]:
    """``(ctx, weights, grads)`` for cpu(0), then ``gpu_ctx``: the same :func:`_params` each time
    (float16 mixed in with ``multi_precision``), the weights copied to ``ctx``."""
    mixed = ["float32", "float16", "float32", "float16", "float32"]
    dtypes = mixed if kwargs.get("multi_precision") else ["float32"] * 5
    for ctx in (mx.cpu(0), gpu_ctx):
        weights, grads = _params(dtypes)
        yield ctx, [w.copyto(ctx) for w in weights], grads


def _assert_runs_equal(results: list[list[np.ndarray]]) -> None:
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("name", "kwargs"), _MULTI_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(_MULTI_CASES)]
)
def test_gpu_update_equals_cpu_bitwise(
    name: str, kwargs: dict[str, Any], gpu_ctx: mx.Context
) -> None:
    """CuPy runs the same separately rounded IEEE operations, so GPU and CPU agree bit for bit."""
    results = []
    for ctx, weights, grads in _on_cpu_then_gpu(kwargs, gpu_ctx):
        opt = mx.optimizer.create(name, learning_rate=0.05, **kwargs)
        updater = mx.optimizer.get_updater(opt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for step in grads:
                updater(list(range(5)), [g.copyto(ctx) for g in step], weights)
        assert all(w.context == ctx for w in weights)
        results.append([w.asnumpy() for w in weights])
    _assert_runs_equal(results)


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("name", "kwargs"),
    _MULTI_CASES[:10],
    ids=[f"{n}-{i}" for i, (n, _) in enumerate(_MULTI_CASES[:10])],
)
def test_gpu_cached_step_plans_equal_cpu_bitwise(
    name: str, kwargs: dict[str, Any], gpu_ctx: mx.Context
) -> None:
    """Same arrays every step: the Updater's cached plan, prepared fused launches and reused
    coefficient tables run on the GPU, and agree with the CPU bit for bit."""
    results = []
    for ctx, weights, grads in _on_cpu_then_gpu(kwargs, gpu_ctx):
        buffers = [g.copyto(ctx) for g in grads[0]]
        sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.05)
        updater = mx.optimizer.get_updater(mx.optimizer.create(name, lr_scheduler=sched, **kwargs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for step in grads * 2:
                for buf, g in zip(buffers, step):
                    g.copyto(buf)
                updater(list(range(5)), list(buffers), list(weights))
        assert len(updater._plans) == 1
        results.append([w.asnumpy() for w in weights])
    _assert_runs_equal(results)


def test_no_optimizer_computes_scalar_only_expressions_on_the_device(fake_gpu: Any) -> None:
    """Bias corrections and other scalar-only formulas run on the host: on a GPU, ``power`` of two
    scalars would be a kernel with CUDA's (not correctly rounded) ``powf``, so the GPU step would
    not equal the CPU step bitwise. The fake CuPy records ufuncs called without a device array."""
    from tests._support import fake_cupy

    host = np.linspace(-1, 1, 10).astype(np.float32)
    for name in sorted(opt_mod.Optimizer.opt_registry):
        results = {}
        for ctx in (mx.cpu(), mx.gpu(0)):
            mx.random.seed(5)  # SGLD draws noise
            # GroupAdaGrad: 2-D weights, no weight decay (MXNet's contrib optimizer)
            group = name == "groupadagrad"
            opt = opt_mod.create(name, learning_rate=0.1, wd=0.0 if group else 0.01)
            shape = (2, 5) if group else (10,)
            w = mx.nd.array(host.reshape(shape), ctx=ctx)
            g = mx.nd.array(host[::-1].copy().reshape(shape), ctx=ctx)
            state = opt.create_state_multi_precision(0, w)
            fake_cupy.SCALAR_ONLY_CALLS.clear()
            for _ in range(3):
                opt.update_multi_precision(0, w, g, state)
            results[ctx.device_type] = w.asnumpy()
        assert fake_cupy.SCALAR_ONLY_CALLS == [], (name, fake_cupy.SCALAR_ONLY_CALLS)
        np.testing.assert_array_equal(results["gpu"], results["cpu"], err_msg=name)
