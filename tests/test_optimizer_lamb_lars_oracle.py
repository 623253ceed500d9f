"""LAMB, LARS and LBSGD against MXNet 1.9.1: five steps over five parameters with weight decay,
rescaling, clipping, lr/wd multipliers, a scheduler, bounds, bias correction, momentum
correction, warm-up strategies, float16 with and without multi_precision, float64, and chunk
sizes (``aggregate_num``), both one index at a time (``update_multi_precision``) and through an
``Updater`` (lists: LAMB's multi-tensor path). Weights after every step, the final states, the
state layout (``create_state_multi_precision``), float16 warnings, ``num_update`` and the
optimizers' own bookkeeping must be *bitwise* equal.

One oracle process runs every scenario; inputs travel as one .npz file, results come back as one.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from tests.oracle import run_oracle

STEPS = 5
SHAPES = [(4, 3), (3,), (2, 2, 2), (5,), (3, 1, 2)]
NAMES = {0: "fc_weight", 1: "fc_bias", 2: "bn_gamma", 3: "bn_beta", 4: "conv_weight"}
SCHED = ["FactorScheduler", {"step": 3, "factor": 0.5}]
COMMON = {"wd": 0.01, "rescale_grad": 0.5, "clip_gradient": 0.6}
MODES = ("single", "updater")


def _sc(name: str, opt: str, kwargs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    base = {
        "name": name, "opt": opt, "kwargs": kwargs, "sched": SCHED, "dtype": "float32",
        "fill_state": True, "lr_mult": {"0": 0.5, "fc_bias": 2.0}, "wd_mult": {"bn_gamma": 2.0},
        "attrs": [], "aggregate": None, "modes": list(MODES), "inexact": [],
    }  # fmt: skip
    base.update(extra)
    return base


def _mp16(name: str, opt: str, kwargs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """float16 weights with float32 master copies (states start at zero)."""
    options = dict(kwargs, multi_precision=True)
    return _sc(name, opt, options, dtype="float16", fill_state=False, **extra)


LAMB_ATTRS = ["aggregate_num"]
LARS_ATTRS = ["cur_lr", "last_lr", "aggregate_num"]
LBSGD_ATTRS = ["num_cums"]
SCENARIOS: list[dict[str, Any]] = [
    _sc("lamb", "lamb", dict(COMMON, learning_rate=0.01), attrs=LAMB_ATTRS),
    _sc("lamb_bounds_nobias", "LAMB",
        {"wd": 0.02, "bias_correction": False, "lower_bound": 0.5, "upper_bound": 2.0,
         "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-5, "learning_rate": 0.05}),
    _sc("lamb_chunks2", "lamb", dict(COMMON, learning_rate=0.01), aggregate=2),
    _sc("lamb_single_path", "lamb", dict(COMMON, learning_rate=0.01), aggregate=1),
    _sc("lamb_f64", "lamb", dict(COMMON, learning_rate=0.01, lower_bound=0.3), dtype="float64"),
    _mp16("lamb_mp16", "lamb", dict(COMMON, learning_rate=0.01)),
    # without multi_precision a float16 norm() is mshadow's half-precision recurrence, which
    # mxlite evaluates in float32: one index at a time is compared to float16 rounding below
    _sc("lamb_fp16", "lamb", dict(COMMON, learning_rate=0.01), dtype="float16",
        inexact=["single"]),
    _sc("lars", "lars", dict(COMMON, learning_rate=0.1, momentum=0.9, eta=0.01, eps=1e-6),
        attrs=LARS_ATTRS),
    _sc("lars_nomom", "LARS", dict(COMMON, learning_rate=0.1, eta=0.02), attrs=LARS_ATTRS),
    _sc("lars_nocorr", "lars",
        {"wd": 0.03, "rescale_grad": 1.5, "learning_rate": 0.1, "momentum": 0.8,
         "momentum_correction": False, "eta": 0.05}),
    _sc("lars_chunks2", "lars", dict(COMMON, learning_rate=0.1, momentum=0.9), aggregate=2),
    _sc("lars_f64", "lars", dict(COMMON, learning_rate=0.1, momentum=0.9), dtype="float64"),
    _sc("lars_fp16", "lars", dict(COMMON, learning_rate=0.1, momentum=0.9), dtype="float16"),
    _mp16("lars_mp16", "lars", dict(COMMON, learning_rate=0.1, momentum=0.9, eta=0.01)),
    _mp16("lars_mp16_nomom", "lars", dict(COMMON, learning_rate=0.1, eta=0.01)),
    _sc("lbsgd", "lbsgd",
        dict(COMMON, learning_rate=0.1, momentum=0.9, batch_scale=2, warmup_epochs=1,
             updates_per_epoch=4), attrs=LBSGD_ATTRS),
    _sc("lbsgd_sqrt3", "LBSGD",
        dict(COMMON, learning_rate=0.1, momentum=0.5, batch_scale=3, warmup_strategy="sqrt",
             warmup_epochs=2, updates_per_epoch=2), attrs=LBSGD_ATTRS),
    _sc("lbsgd_power2", "lbsgd",
        {"learning_rate": 0.1, "warmup_strategy": "power2", "batch_scale": 1, "begin_epoch": 1,
         "warmup_epochs": 3, "updates_per_epoch": 2, "wd": 0.01}),
    _sc("lbsgd_lars", "lbsgd",
        dict(COMMON, learning_rate=0.1, momentum=0.9, warmup_strategy="lars")),
    _mp16("lbsgd_mp16", "lbsgd", dict(COMMON, learning_rate=0.1, momentum=0.9, batch_scale=2,
                                      warmup_epochs=1, updates_per_epoch=2)),
    _sc("lbsgd_fp16", "lbsgd", dict(COMMON, learning_rate=0.1), dtype="float16"),
]  # fmt: skip

# Runs identically under MXNet (mod=mx) and mxlite (mod=mxlite): a scenario's full trajectory.
_DRIVER = r"""
import warnings

def layout(state):
    if state is None:
        return "None"
    if isinstance(state, (tuple, list)):
        return "(" + ", ".join(layout(s) for s in state) + ")"
    return f"{np.dtype(state.dtype).name}{tuple(state.shape)}"

def flatten_state(state):
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        out = []
        for s in state:
            out.extend(flatten_state(s))
        return out
    return [state]

def run_scenario(mod, sc, mode, data, out, meta):
    sid = sc["name"]
    kwargs = dict(sc["kwargs"])
    if sc["sched"] is not None:
        kwargs["lr_scheduler"] = getattr(mod.lr_scheduler, sc["sched"][0])(**sc["sched"][1])
    kwargs["param_idx2name"] = {int(k): v for k, v in sc["names"].items()}
    opt = mod.optimizer.create(sc["opt"], **kwargs)
    if sc["aggregate"] is not None:
        opt.aggregate_num = sc["aggregate"]
    opt.set_lr_mult({int(k) if k.isdigit() else k: v for k, v in sc["lr_mult"].items()})
    opt.set_wd_mult({int(k) if k.isdigit() else k: v for k, v in sc["wd_mult"].items()})
    nparam = len(sc["names"])
    weights = [mod.nd.array(data[f"{sid}_w{p}"], dtype=sc["dtype"]) for p in range(nparam)]
    updater = mod.optimizer.get_updater(opt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        states = [opt.create_state_multi_precision(p, weights[p]) for p in range(nparam)]
    meta[f"{sid}__{mode}__warnings"] = sorted({str(w.message) for w in caught})
    meta[f"{sid}__{mode}__layout"] = [layout(s) for s in states]
    meta[f"{sid}__{mode}__wd_mult"] = sorted((str(k), v) for k, v in opt.wd_mult.items())
    if sc["fill_state"]:
        for p in range(nparam):
            for k, arr in enumerate(flatten_state(states[p])):
                arr[:] = mod.nd.array(data[f"{sid}_s{p}_{k}"], dtype=arr.dtype)
    if mode == "updater":
        for p in range(nparam):
            updater.states[p] = states[p]
            updater.states_synced[p] = True
    for t in range(%(steps)d):
        grads = [mod.nd.array(data[f"{sid}_g{t}_{p}"], dtype=sc["dtype"]) for p in range(nparam)]
        if mode == "single":
            for p in range(nparam):
                opt.update_multi_precision(p, weights[p], grads[p], states[p])
        else:
            updater(list(range(nparam)), grads, weights)
        for p in range(nparam):
            out[f"{sid}__{mode}__t{t}_w{p}"] = weights[p].asnumpy()
    final = updater.states if mode == "updater" else dict(enumerate(states))
    for p in range(nparam):
        for k, arr in enumerate(flatten_state(final[p])):
            out[f"{sid}__{mode}__s{p}_{k}"] = arr.asnumpy()
    meta[f"{sid}__{mode}__num_update"] = int(opt.num_update)
    for attr in sc["attrs"]:
        if attr == "num_cums":
            value = sorted((str(k), v["num_cums"]) for k, v in opt.cumgrads.items())
        else:
            value = getattr(opt, attr)
            value = None if value is None else float(value)
        meta[f"{sid}__{mode}__{attr}"] = value
""".replace("%(steps)d", str(STEPS))


def _scenarios() -> list[dict[str, Any]]:
    return [dict(sc, names={str(k): v for k, v in NAMES.items()}) for sc in SCENARIOS]


def _make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261107)
    data: dict[str, np.ndarray] = {}
    for sc in SCENARIOS:
        sid = sc["name"]
        for p, shape in enumerate(SHAPES):
            data[f"{sid}_w{p}"] = rng.normal(0, 1, shape).astype(np.float32)
            for t in range(STEPS):
                scale = 0.0 if (t == 2 and p == 3) else 1.5  # a zero gradient: r2 = 0
                data[f"{sid}_g{t}_{p}"] = rng.normal(0, scale, shape).astype(np.float32)
            for k in range(3):
                lo, hi = (0.05, 0.3)
                data[f"{sid}_s{p}_{k}"] = rng.uniform(lo, hi, shape).astype(np.float32)
    return data


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray]]:
    """(oracle arrays, oracle metadata, inputs) of every scenario, from one oracle process."""
    tmp = tmp_path_factory.mktemp("lamb_lars_oracle")
    data = _make_inputs()
    np.savez(tmp / "inputs.npz", **data)
    script = (
        _DRIVER
        + f"\nscenarios = json.loads({json.dumps(json.dumps(_scenarios()))})\n"
        + "data = dict(np.load('inputs.npz'))\nout = {}\nmeta = {}\n"
        + "for sc in scenarios:\n    for mode in sc['modes']:\n"
        + "        run_scenario(mx, sc, mode, data, out, meta)\n"
        + "np.savez('oracle.npz', **out)\nprint(json.dumps(meta))\n"
    )
    stdout = run_oracle(script, cwd=tmp, timeout=300)
    meta = json.loads(stdout.strip().splitlines()[-1])
    return dict(np.load(tmp / "oracle.npz")), meta, data


def _run_ours(sc: dict[str, Any], mode: str, data: dict[str, Any]) -> tuple[dict, dict]:
    namespace: dict[str, Any] = {"np": np}
    exec(_DRIVER, namespace)  # noqa: S102 - our own driver text, shared with the oracle
    out: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    namespace["run_scenario"](mx, sc, mode, data, out, meta)
    return out, json.loads(json.dumps(meta))


CASES = [(sc, mode) for sc in _scenarios() for mode in sc["modes"] if mode not in sc["inexact"]]


@pytest.mark.oracle
@pytest.mark.parametrize("sc,mode", CASES, ids=[f"{sc['name']}-{mode}" for sc, mode in CASES])
def test_optimizer_matches_oracle(sc: dict[str, Any], mode: str, runs: Any) -> None:
    expected, expected_meta, data = runs
    ours, meta = _run_ours(sc, mode, data)
    prefix = f"{sc['name']}__{mode}__"
    assert {k: v for k, v in meta.items()} == {
        k: v for k, v in expected_meta.items() if k.startswith(prefix)
    }
    keys = sorted(k for k in expected if k.startswith(prefix))
    assert sorted(ours) == keys
    for key in keys:
        assert ours[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(ours[key], expected[key], err_msg=key)


@pytest.mark.oracle
def test_lamb_fp16_one_index_at_a_time_within_float16_rounding(runs: Any) -> None:
    """float16 LAMB without multi_precision, one index at a time: MXNet's half-precision norm
    recurrence is evaluated in float32 here, so weights and states agree to float16 rounding
    (the list path of the same scenario is bitwise, above)."""
    expected, expected_meta, data = runs
    sc = next(s for s in _scenarios() if s["name"] == "lamb_fp16")
    ours, meta = _run_ours(sc, "single", data)
    prefix = "lamb_fp16__single__"
    assert meta == {k: v for k, v in expected_meta.items() if k.startswith(prefix)}
    keys = sorted(k for k in expected if k.startswith(prefix))
    assert sorted(ours) == keys
    for key in keys:
        assert ours[key].dtype == expected[key].dtype == np.float16, key
        np.testing.assert_allclose(
            ours[key].astype(np.float64), expected[key], rtol=4e-3, atol=1e-3, err_msg=key
        )


# ---------------------------------------------------------------------------------- Trainer
TRAINER_STEPS = 4
TRAINER_SHAPES = {"fc_weight": (3, 2), "fc_bias": (3,), "bn_gamma": (2, 2), "bn_beta": (4,)}
_LBSGD = {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01, "warmup_epochs": 1}
TRAINER_RUNS = [
    (opt, params, uok)
    for opt, params in (
        ("lamb", {"learning_rate": 0.01, "wd": 0.01, "clip_gradient": 0.8}),
        ("lars", {"learning_rate": 0.1, "momentum": 0.9, "eta": 0.05, "wd": 0.01}),
        ("lbsgd", dict(_LBSGD, batch_scale=1, updates_per_epoch=3)),
    )
    for uok in (None, False, True)
]
# Gradients accumulated over two steps: MXNet keeps the first gradient of a macro-batch by
# reference; with update_on_kvstore=False that is the Parameter's gradient buffer, which the
# next backward overwrites (so the sum is 2 * g1), in MXNet and in mxlite alike. (With the
# kvstore updating, MXNet's reference is its merge buffer; mxlite's kvstore gives a fresh array
# on its first push, so there the first macro-batch differs; see mxlite/optimizer/README.md.)
TRAINER_RUNS.append(("lbsgd", dict(_LBSGD, batch_scale=2, updates_per_epoch=2), False))
# A loss whose gradients are exact (sum(w * x): the gradient is x), so that the weights depend
# only on the optimizer: two CPU contexts, kvstore aggregation, Trainer.step's rescaling.
_TRAINER_DRIVER = r"""
def run_trainer(mod, opt, opt_params, uok, shapes, steps, data, out, key):
    ctxs = [mod.cpu(0), mod.cpu(1)]
    params = []
    for name, shape in shapes.items():
        p = mod.gluon.Parameter(name, shape=tuple(shape))
        p.initialize(ctx=ctxs, init=mod.init.Zero())
        p.set_data(mod.nd.array(data[f"w_{name}"]))
        params.append(p)
    trainer = mod.gluon.Trainer(params, opt, dict(opt_params), update_on_kvstore=uok)
    for t in range(steps):
        for c, ctx in enumerate(ctxs):
            with mod.autograd.record():
                losses = [(p.data(ctx) * mod.nd.array(data[f"x{t}_{p.name}_{c}"], ctx=ctx)).sum()
                          for p in params]
                loss = mod.nd.add_n(*losses)
            loss.backward()
        trainer.step(4)
        for p in params:
            for c, ctx in enumerate(ctxs):
                out[f"{key}__t{t}_{p.name}_{c}"] = p.data(ctx).asnumpy()
"""


def _trainer_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    data = {}
    for name, shape in TRAINER_SHAPES.items():
        data[f"w_{name}"] = rng.normal(0, 1, shape).astype(np.float32)
        for t in range(TRAINER_STEPS):
            for c in range(2):
                data[f"x{t}_{name}_{c}"] = rng.normal(0, 1, shape).astype(np.float32)
    return data


def _trainer_key(opt: str, params: dict[str, Any], uok: Any) -> str:
    return f"{opt}_uok{uok}_b{params.get('batch_scale', 0)}"


@pytest.fixture(scope="module")
def trainer_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, np.ndarray], Any]:
    tmp = tmp_path_factory.mktemp("lamb_lars_trainer")
    data = _trainer_inputs()
    np.savez(tmp / "inputs.npz", **data)
    runs = [[o, p, u, _trainer_key(o, p, u)] for o, p, u in TRAINER_RUNS]
    script = (
        _TRAINER_DRIVER
        + f"\nruns = json.loads({json.dumps(json.dumps(runs))})\n"
        + f"shapes = json.loads({json.dumps(json.dumps(TRAINER_SHAPES))})\n"
        + "data = dict(np.load('inputs.npz'))\nout = {}\n"
        + "for opt, params, uok, key in runs:\n"
        + f"    run_trainer(mx, opt, params, uok, shapes, {TRAINER_STEPS}, data, out, key)\n"
        + "np.savez('oracle.npz', **out)\nprint('ok')\n"
    )
    run_oracle(script, cwd=tmp, timeout=300)
    return dict(np.load(tmp / "oracle.npz")), data


@pytest.mark.oracle
@pytest.mark.parametrize(
    "opt,params,uok", TRAINER_RUNS, ids=[_trainer_key(o, p, u) for o, p, u in TRAINER_RUNS]
)
def test_trainer_two_cpu_contexts_matches_oracle(
    opt: str, params: dict[str, Any], uok: Any, trainer_runs: Any
) -> None:
    expected, data = trainer_runs
    namespace: dict[str, Any] = {"np": np}
    exec(_TRAINER_DRIVER, namespace)  # noqa: S102 - our own driver text, shared with the oracle
    ours: dict[str, Any] = {}
    key = _trainer_key(opt, params, uok)
    namespace["run_trainer"](mx, opt, params, uok, TRAINER_SHAPES, TRAINER_STEPS, data, ours, key)
    keys = sorted(k for k in expected if k.startswith(key + "__"))
    assert keys and sorted(ours) == keys
    for k in keys:
        np.testing.assert_array_equal(ours[k], expected[k], err_msg=k)


# ---------------------------------------------------------------------------------- defaults
_DEFAULTS = r"""
def defaults(mod):
    out = {}
    for name, kwargs in (("lamb", {}), ("lars", {}), ("lbsgd", {}),
                         ("lbsgd", {"multi_precision": True, "begin_epoch": 2}),
                         ("lamb", {"lower_bound": 0.1, "bias_correction": False})):
        opt = mod.optimizer.create(name, **kwargs)
        simple = {k: v for k, v in vars(opt).items()
                  if isinstance(v, (int, float, str, bool, type(None)))}
        out[name + json.dumps(kwargs)] = [type(opt).__name__, simple]
    return out
"""


@pytest.mark.oracle
def test_constructor_defaults_match_oracle() -> None:
    """Every plain attribute MXNet's LAMB, LARS and LBSGD set has the same value here."""
    from tests.oracle import run_oracle_json

    expected = run_oracle_json(_DEFAULTS + "\nprint(json.dumps(defaults(mx)))\n")
    namespace: dict[str, Any] = {"json": json}
    exec(_DEFAULTS, namespace)  # noqa: S102 - our own driver text, shared with the oracle
    ours = json.loads(json.dumps(namespace["defaults"](mx)))
    assert ours.keys() == expected.keys()
    for key, (cls, attrs) in expected.items():
        assert ours[key][0] == cls
        assert {k: ours[key][1].get(k, "<missing>") for k in attrs} == attrs, key
