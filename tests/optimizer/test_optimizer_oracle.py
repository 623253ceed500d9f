"""Every optimizer against MXNet 1.9.1: several steps with wd, clip_gradient, rescale_grad,
lr/wd multipliers, an lr_scheduler and nonzero initial states. Weights after every step, the
gradients (AdaDelta rescales them in place) and the final states must be *bitwise* equal: mxlite
evaluates each kernel's float32/float16 operations in MXNet's order, and IEEE add, multiply,
divide and sqrt are exactly rounded on every platform.

One oracle process runs all scenarios; inputs travel as one .npz file, results come back as one.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from tests._support.oracle import run_oracle

STEPS = 5
SHAPES = [(4, 3), (3,), (2, 2, 2)]
NAMES = {0: "fc_weight", 1: "fc_bias", 2: "bn_gamma"}
SCHED = ["FactorScheduler", {"step": 2, "factor": 0.5}]


def _sc(name: str, opt: str, kwargs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "opt": opt,
        "kwargs": kwargs,
        "sched": SCHED,
        "dtype": "float32",
        "fill_state": True,
        "lr_mult": {"0": 0.5},
        "wd_mult": {"bn_gamma": 2.0},
    }
    base.update(extra)
    return base


_COMMON = {"wd": 0.01, "rescale_grad": 0.5, "clip_gradient": 0.6}


def _mp16(name: str, opt: str, **kwargs: Any) -> dict[str, Any]:
    """A scenario on float16 weights with float32 master copies: ``_COMMON`` plus ``kwargs`` and
    ``multi_precision=True``; states start at zero (the masters must equal the weights)."""
    options = dict(_COMMON, **kwargs, multi_precision=True)
    return _sc(name, opt, options, dtype="float16", fill_state=False)


SCENARIOS: list[dict[str, Any]] = [
    _sc("sgd_mom_clip", "sgd", dict(_COMMON, momentum=0.9, learning_rate=0.1)),
    _sc("sgd_plain", "SGD", {"wd": 0.02, "rescale_grad": 0.25, "learning_rate": 0.2}),
    _sc(
        "sgd_mom_noclip_nosched",
        "sgd",
        {"momentum": 0.8, "wd": 0.03, "learning_rate": 0.05},
        sched=None,
    ),
    _sc("ccsgd", "ccSGD", dict(_COMMON, momentum=0.5, learning_rate=0.1)),
    _sc("nag_mom_clip", "nag", dict(_COMMON, momentum=0.9, learning_rate=0.1)),
    _sc(
        "nag_mom_noclip",
        "nag",
        {"momentum": 0.7, "wd": 0.05, "rescale_grad": 2.0, "learning_rate": 0.1},
    ),
    _sc("nag_nomom", "NAG", dict(_COMMON, learning_rate=0.1)),
    _sc("dcasgd", "dcasgd", dict(_COMMON, learning_rate=0.1, lamda=0.1)),
    _sc("sgld_no_noise", "sgld", dict(_COMMON, learning_rate=0.01)),
    _sc("adam_clip", "adam", dict(_COMMON, learning_rate=0.01)),
    _sc(
        "adam_noclip",
        "Adam",
        {"wd": 0.1, "rescale_grad": 1.5, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6},
    ),
    _sc("adamax", "adamax", dict(_COMMON, learning_rate=0.01)),
    _sc("nadam", "nadam", dict(_COMMON, learning_rate=0.01)),
    _sc("rmsprop", "rmsprop", dict(_COMMON, learning_rate=0.01, clip_weights=0.9)),
    _sc(
        "rmsprop_centered", "RMSProp", dict(_COMMON, learning_rate=0.01, centered=True, gamma2=0.8)
    ),
    _sc("adagrad", "adagrad", dict(_COMMON, learning_rate=0.1, eps=1e-6)),
    _sc("adadelta", "adadelta", dict(_COMMON, rho=0.8, epsilon=1e-4)),
    _sc("ftrl", "ftrl", dict(_COMMON, lamda1=0.05, beta=0.5, learning_rate=0.2)),
    _sc("test", "test", {"rescale_grad": 0.5}),
    _sc("signum", "signum", dict(_COMMON, learning_rate=0.01, momentum=0.8, wd_lh=0.05)),
    _sc("signsgd", "Signum", dict(_COMMON, learning_rate=0.01, momentum=0.0)),
    _sc("ftml", "ftml", dict(_COMMON, learning_rate=0.05)),
    _sc("ftml_noclip", "FTML", {"wd": 0.02, "beta1": 0.5, "beta2": 0.99, "learning_rate": 0.1}),
    _mp16("sgd_mom_mp16", "sgd", momentum=0.9, learning_rate=0.1),
    _mp16("sgd_mp16", "sgd", learning_rate=0.1),
    _mp16("nag_mom_mp16", "nag", momentum=0.9, learning_rate=0.1),
    _mp16("adam_mp16", "adam", learning_rate=0.01),
    _sc("sgd_mom_fp16", "sgd", dict(_COMMON, momentum=0.9, learning_rate=0.1), dtype="float16"),
    _sc("adam_fp16", "adam", dict(_COMMON, learning_rate=0.01), dtype="float16"),
    # numpy.float32 multipliers / rate: MXNet (NumPy 1.x) multiplies a NumPy scalar and a Python
    # number in float64, NumPy 2 would keep float32
    *(
        _sc(
            f"{name}_np32_{what}",
            opt,
            dict(kwargs, learning_rate=0.001),
            sched=None if what == "lr" else SCHED,
            # products whose float32 and float64 roundings differ: 0.001 * f32(0.35), ...
            lr_mult={"0": 0.35, "fc_bias": 0.7},
            wd_mult={"bn_gamma": 2.3, "1": 0.45},
            np32=what,
        )
        for what in ("mult", "lr")
        # (not Adam: its bias-corrected rate reaches MXNet's kernel as a decimal string that
        # dmlc's strtof parses with two float roundings, which tiny weights would show)
        for name, opt, kwargs in (
            ("sgd", "sgd", dict(_COMMON, momentum=0.9)),
            ("nag", "nag", dict(_COMMON, momentum=0.9)),
            ("adagrad", "adagrad", _COMMON),
            ("rmsprop", "rmsprop", _COMMON),
        )
    ),
]
MODES = ("single", "updater")

# Runs identically under MXNet (mod=mx) and mxlite (mod=mxlite): a scenario's full trajectory.
_DRIVER = r"""
def flatten_state(state):
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        out = []
        for s in state:
            out.extend(flatten_state(s))
        return out
    return [state]

def run_scenario(mod, sc, mode, data, out):
    sid = sc["name"]
    kwargs = dict(sc["kwargs"])
    if sc["sched"] is not None:
        kwargs["lr_scheduler"] = getattr(mod.lr_scheduler, sc["sched"][0])(**sc["sched"][1])
    kwargs["param_idx2name"] = {0: "fc_weight", 1: "fc_bias", 2: "bn_gamma"}
    cast = np.float32 if sc.get("np32") == "mult" else float
    if sc.get("np32") == "lr":
        kwargs["learning_rate"] = np.float32(kwargs["learning_rate"])
        kwargs["wd"] = np.float32(kwargs["wd"])
    opt = mod.optimizer.create(sc["opt"], **kwargs)
    opt.set_lr_mult({int(k) if k.isdigit() else k: cast(v) for k, v in sc["lr_mult"].items()})
    opt.set_wd_mult({int(k) if k.isdigit() else k: cast(v) for k, v in sc["wd_mult"].items()})
    nparam = 3
    weights = [mod.nd.array(data[f"{sid}_w{p}"], dtype=sc["dtype"]) for p in range(nparam)]
    updater = mod.optimizer.get_updater(opt)
    states = [opt.create_state_multi_precision(p, weights[p]) for p in range(nparam)]
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
            out[f"{sid}_{mode}_t{t}_w{p}"] = weights[p].asnumpy()
            out[f"{sid}_{mode}_t{t}_g{p}"] = grads[p].asnumpy()
    final = updater.states if mode == "updater" else dict(enumerate(states))
    for p in range(nparam):
        for k, arr in enumerate(flatten_state(final[p])):
            out[f"{sid}_{mode}_s{p}_{k}"] = arr.asnumpy()
    out[f"{sid}_{mode}_num_update"] = np.array(opt.num_update)
""".replace("%(steps)d", str(STEPS))


def _make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240611)
    data: dict[str, np.ndarray] = {}
    for sc in SCENARIOS:
        sid = sc["name"]
        for p, shape in enumerate(SHAPES):
            # tiny weights make a rate one float32 ulp off show in the updated weights
            scale = 1e-6 if sc.get("np32") else 1.0
            data[f"{sid}_w{p}"] = (rng.normal(0, 1, shape) * scale).astype(np.float32)
            for t in range(STEPS):
                data[f"{sid}_g{t}_{p}"] = rng.normal(0, 1.5, shape).astype(np.float32)
            for k in range(4):
                lo, hi = (0.5, 1.0) if k == 0 else (0.1, 0.3)
                data[f"{sid}_s{p}_{k}"] = rng.uniform(lo, hi, shape).astype(np.float32)
    return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(oracle results, inputs) for every scenario and mode, from one oracle process."""
    tmp = tmp_path_factory.mktemp("opt_oracle")
    data = _make_inputs()
    np.savez(tmp / "inputs.npz", **data)
    script = (
        _DRIVER
        + f"\nscenarios = json.loads({json.dumps(json.dumps(SCENARIOS))})\n"
        + "mx.optimizer.optimizer.normal = lambda loc, scale, shape, dtype, ctx: mx.nd.zeros(shape, ctx, dtype=dtype)\n"
        + "data = dict(np.load('inputs.npz'))\nout = {}\n"
        + f"for sc in scenarios:\n    for mode in {MODES!r}:\n        run_scenario(mx, sc, mode, data, out)\n"
        + "np.savez('oracle.npz', **out)\nprint('ok')\n"
    )
    run_oracle(script, cwd=tmp, timeout=300)
    return dict(np.load(tmp / "oracle.npz")), data


def _run_ours(
    sc: dict[str, Any], mode: str, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    from mxlite.ndarray import random as nd_random

    monkeypatch.setattr(
        nd_random,
        "normal",
        lambda loc, scale, shape, dtype, ctx: mx.nd.zeros(shape, ctx, dtype=dtype),
    )
    namespace: dict[str, Any] = {"np": np}
    exec(_DRIVER, namespace)  # noqa: S102 - our own driver text, shared with the oracle
    out: dict[str, Any] = {}
    namespace["run_scenario"](mx, sc, mode, data, out)
    return out


@pytest.mark.oracle
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sc", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_optimizer_matches_oracle(
    sc: dict[str, Any],
    mode: str,
    runs: tuple[dict[str, Any], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected, data = runs
    ours = _run_ours(sc, mode, data, monkeypatch)
    sid = sc["name"]
    for t in range(STEPS):
        for p in range(len(SHAPES)):
            key = f"{sid}_{mode}_t{t}_w{p}"
            assert ours[key].dtype == expected[key].dtype
            np.testing.assert_array_equal(ours[key], expected[key], err_msg=key)
            gkey = f"{sid}_{mode}_t{t}_g{p}"  # AdaDelta rescales the caller's gradient in place
            np.testing.assert_array_equal(ours[gkey], expected[gkey], err_msg=gkey)
    state_keys = sorted(k for k in expected if k.startswith(f"{sid}_{mode}_s"))
    assert sorted(k for k in ours if k.startswith(f"{sid}_{mode}_s")) == state_keys
    for key in state_keys:
        assert ours[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(ours[key], expected[key], err_msg=key)
    assert int(ours[f"{sid}_{mode}_num_update"]) == int(expected[f"{sid}_{mode}_num_update"])
