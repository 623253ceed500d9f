"""The ``mx.nd.*_update`` operators (and multi_sum_sq, multi_lars, all_finite, the contrib LAMB
ones) against MXNet 1.9.1: three steps of every operator, float32, float16 and float64, with
weight decay, rescaling, clipping (on and off), ``out=`` the weight, a new array and another
array. The result of every step, the final inputs (states are updated in place) and the dtypes
must be *bitwise* equal.

One oracle process runs every case; inputs travel as one .npz file, results come back as one.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from tests.oracle import run_oracle

STEPS = 3
SHAPE = (4, 5)
SHAPES = [(4, 5), (7,), (2, 3, 2)]
COMMON = {"wd": 0.01, "rescale_grad": 0.7, "clip_gradient": 0.9}
NOCLIP = {"wd": 0.03, "rescale_grad": 1.3}
CLIP_ONLY = {"rescale_grad": 0.7, "clip_gradient": 0.9}  # the multi operators take wds=
RESCALE_ONLY = {"rescale_grad": 1.3}
# a rate dmlc's parser reads one float32 ulp below float32(value); shows on tiny weights
ODD_LR = 3.5351853949780884e-05

# state name -> (low, high) of its uniform start values; weights and grads are normal
STATE_RANGE = {"n": (0.5, 1.0), "var": (0.1, 0.3), "v": (0.1, 0.3), "g": (0.1, 0.3)}


def _case(cid: str, op: str, inputs: list[str], kwargs: dict[str, Any], **extra: Any) -> Any:
    case = {
        "id": cid, "op": op, "inputs": inputs, "kwargs": kwargs, "dtype": "float32",
        "out": "self", "kind": "single", "f32": [], "scale": 1.0,
    }  # fmt: skip
    case.update(extra)
    return case


def _single_cases() -> list[dict[str, Any]]:
    cases = []
    for dt in ("float32", "float16", "float64"):
        for out in ("self", "none", "other"):
            sfx = f"{dt}_{out}"
            cases += [
                _case(f"sgd_{sfx}", "sgd_update", ["weight", "grad"], dict(COMMON, lr=0.1),
                      dtype=dt, out=out),
                _case(f"sgd_mom_{sfx}", "sgd_mom_update", ["weight", "grad", "mom"],
                      dict(NOCLIP, lr=0.1, momentum=0.9), dtype=dt, out=out),
                _case(f"nag_{sfx}", "nag_mom_update", ["weight", "grad", "mom"],
                      dict(COMMON, lr=0.1, momentum=0.8), dtype=dt, out=out),
                _case(f"adam_{sfx}", "adam_update", ["weight", "grad", "mean", "var"],
                      dict(COMMON, lr=0.01, beta1=0.8, beta2=0.95), dtype=dt, out=out),
            ]  # fmt: skip
        cases += [
            _case(f"sgd_noclip_{dt}", "sgd_update", ["weight", "grad"], dict(NOCLIP, lr=0.2),
                  dtype=dt),
            _case(f"sgd_mom_clip_{dt}", "sgd_mom_update", ["weight", "grad", "mom"],
                  dict(COMMON, lr=0.1, momentum=0.9), dtype=dt),
            _case(f"nag_noclip_{dt}", "nag_mom_update", ["weight", "grad", "mom"],
                  dict(NOCLIP, lr=0.1, momentum=0.9), dtype=dt),
            _case(f"adam_noclip_{dt}", "adam_update", ["weight", "grad", "mean", "var"],
                  dict(NOCLIP, lr=0.01), dtype=dt),
            _case(f"rmsprop_{dt}", "rmsprop_update", ["weight", "grad", "n"],
                  dict(COMMON, lr=0.01, clip_weights=1.2), dtype=dt),
            _case(f"rmspropalex_{dt}", "rmspropalex_update",
                  ["weight", "grad", "n", "g", "delta"],
                  dict(COMMON, lr=0.01, gamma1=0.9, gamma2=0.8), dtype=dt, out="none"),
            _case(f"ftrl_{dt}", "ftrl_update", ["weight", "grad", "z", "n"],
                  dict(COMMON, lr=0.1, lamda1=0.02, beta=0.5), dtype=dt),
            _case(f"ftml_{dt}", "ftml_update", ["weight", "grad", "d", "v", "z"],
                  {"lr": 0.05, "t": 2, "wd": 0.01, "rescale_grad": 0.7, "clip_grad": 0.9},
                  dtype=dt),
            _case(f"signsgd_{dt}", "signsgd_update", ["weight", "grad"],
                  dict(COMMON, lr=0.01), dtype=dt),
            _case(f"signum_{dt}", "signum_update", ["weight", "grad", "mom"],
                  dict(COMMON, lr=0.01, momentum=0.9, wd_lh=0.05), dtype=dt, out="other"),
            _case(f"lamb1_{dt}", "lamb_update_phase1", ["weight", "grad", "mean", "var"],
                  dict(COMMON, t=3, beta1=0.8, beta2=0.95, epsilon=1e-5), dtype=dt, out="none"),
            _case(f"lamb1_nobias_{dt}", "lamb_update_phase1",
                  ["weight", "grad", "mean", "var"],
                  dict(NOCLIP, t=1, bias_correction=False), dtype=dt, out="other"),
            _case(f"lamb2_{dt}", "lamb_update_phase2", ["weight", "g", "r1", "r2"],
                  {"lr": 0.02, "lower_bound": 0.5, "upper_bound": 3.0}, dtype=dt),
            _case(f"lamb2_nobound_{dt}", "lamb_update_phase2", ["weight", "g", "r1", "r2"],
                  {"lr": 0.02}, dtype=dt, out="none"),
        ]  # fmt: skip
    for dt in ("float16", "float32"):  # mp operators take any weight dtype
        for out in ("self", "none"):
            sfx = f"{dt}_{out}"
            cases += [
                _case(f"mp_sgd_{sfx}", "mp_sgd_update", ["weight", "grad", "weight32"],
                      dict(COMMON, lr=0.1), dtype=dt, out=out, f32=["weight32"]),
                _case(f"mp_sgd_mom_{sfx}", "mp_sgd_mom_update",
                      ["weight", "grad", "mom", "weight32"], dict(NOCLIP, lr=0.1, momentum=0.9),
                      dtype=dt, out=out, f32=["mom", "weight32"]),
                _case(f"mp_nag_{sfx}", "mp_nag_mom_update",
                      ["weight", "grad", "mom", "weight32"], dict(COMMON, lr=0.1, momentum=0.9),
                      dtype=dt, out=out, f32=["mom", "weight32"]),
            ]  # fmt: skip
    cases += [
        _case("mp_lamb1", "mp_lamb_update_phase1", ["weight", "grad", "mean", "var", "weight32"],
              dict(COMMON, t=2), dtype="float16", out="none", f32=["mean", "var", "weight32"]),
        _case("mp_lamb2", "mp_lamb_update_phase2", ["weight", "g", "r1", "r2", "weight32"],
              {"lr": 0.05, "upper_bound": 2.0}, dtype="float16", f32=["g", "r1", "r2", "weight32"]),
        _case("sgd_odd_lr", "sgd_update", ["weight", "grad"], {"lr": ODD_LR}, scale=1e-5),
        _case("sgd_mom_odd", "sgd_mom_update", ["weight", "grad", "mom"],
              {"lr": ODD_LR * 3, "momentum": 0.35 * 0.7, "wd": 0.35 * 0.001}, scale=1e-5),
        _case("sgd_clip0", "sgd_update", ["weight", "grad"], {"lr": 0.1, "clip_gradient": 0}),
        _case("sgd_defaults_lr_pos", "sgd_update", ["weight", "grad"], {"lr": 0.5}),
    ]  # fmt: skip
    return cases


def _multi_cases() -> list[dict[str, Any]]:
    cases = []
    rates = {"lrs": [0.1, 0.05, 0.2], "wds": [0.01, 0.0, 0.02]}
    for dt in ("float32", "float16", "float64"):
        for clip in (COMMON, NOCLIP):
            tag = f"{dt}_{'clip' if 'clip_gradient' in clip else 'noclip'}"
            kw = {k: v for k, v in clip.items() if k != "wd"}
            cases += [
                _case(f"multi_sgd_{tag}", "multi_sgd_update", ["weight", "grad"],
                      dict(kw, **rates), dtype=dt, kind="multi"),
                _case(f"multi_sgd_mom_{tag}", "multi_sgd_mom_update", ["weight", "grad", "mom"],
                      dict(kw, momentum=0.9, **rates), dtype=dt, kind="multi"),
                _case(f"pre_sgd_{tag}", "preloaded_multi_sgd_update", ["weight", "grad"],
                      kw, dtype=dt, kind="preloaded", rates=rates),
                _case(f"pre_sgd_mom_{tag}", "preloaded_multi_sgd_mom_update",
                      ["weight", "grad", "mom"], dict(kw, momentum=0.9), dtype=dt,
                      kind="preloaded", rates=rates),
            ]  # fmt: skip
        if dt != "float64":
            mp = {"f32": ["weight32"], "dtype": dt}
            mpm = {"f32": ["mom", "weight32"], "dtype": dt}
            cases += [
                _case(f"multi_mp_sgd_{dt}", "multi_mp_sgd_update", ["weight", "grad", "weight32"],
                      dict(CLIP_ONLY, **rates), kind="multi", **mp),
                _case(f"multi_mp_sgd_mom_{dt}", "multi_mp_sgd_mom_update",
                      ["weight", "grad", "mom", "weight32"],
                      dict(RESCALE_ONLY, momentum=0.9, **rates), kind="multi", **mpm),
                _case(f"pre_mp_sgd_{dt}", "preloaded_multi_mp_sgd_update",
                      ["weight", "grad", "weight32"], CLIP_ONLY, kind="preloaded", rates=rates,
                      **mp),
                _case(f"pre_mp_sgd_mom_{dt}", "preloaded_multi_mp_sgd_mom_update",
                      ["weight", "grad", "mom", "weight32"], dict(RESCALE_ONLY, momentum=0.9),
                      kind="preloaded", rates=rates, **mpm),
            ]  # fmt: skip
        lamb = {"beta1": 0.8, "beta2": 0.95, "epsilon": 1e-5, "rescale_grad": 0.7}
        for bias, clip, bounds in ((True, 0.9, (0.5, 3.0)), (False, -1, (-1, -1))):
            kw = dict(lamb, bias_correction=bias, clip_gradient=clip, lower_bound=bounds[0],
                      upper_bound=bounds[1])  # fmt: skip
            cases.append(
                _case(f"multi_lamb_{dt}_{bias}", "multi_lamb_update",
                      ["weight", "grad", "mean", "var"], kw, dtype=dt, kind="contrib",
                      lists={"step_count": [1, 4, 2], "lrs": rates["lrs"], "wds": rates["wds"]})
            )  # fmt: skip
            if dt == "float16":
                cases.append(
                    _case(f"multi_mp_lamb_{bias}", "multi_mp_lamb_update",
                          ["weight", "grad", "mean", "var", "weight32"], kw, dtype=dt,
                          kind="contrib", f32=["mean", "var", "weight32"],
                          lists={"step_count": [3, 1, 2], "lrs": rates["lrs"],
                                 "wds": rates["wds"]})
                )  # fmt: skip
        cases.append(_case(f"sum_sq_{dt}", "multi_sum_sq", ["weight"], {}, dtype=dt, kind="func"))
        cases.append(_case(f"finite_{dt}", "multi_all_finite", ["weight"], {}, dtype=dt,
                           kind="func", special=True))  # fmt: skip
        cases.append(_case(f"all_finite_{dt}", "all_finite", ["weight"], {}, dtype=dt,
                           kind="func", special=True, single=True))  # fmt: skip
    cases.append(
        _case("lars", "multi_lars", ["lrs", "weights_sum_sq", "grads_sum_sq", "wds"],
              {"eta": 0.02, "eps": 1e-6, "rescale_grad": 0.7}, kind="lars")
    )  # fmt: skip
    return cases


CASES = _single_cases() + _multi_cases()

# Runs identically under MXNet (mod=mx) and mxlite (mod=mxlite).
_DRIVER = r"""
def _arr(mod, data, key, dtype):
    return mod.nd.array(data[key], dtype=dtype)

def _dtype(case, name):
    return "float32" if name in case["f32"] else case["dtype"]

def run_case(mod, case, data, res):
    nd = mod.nd
    cid, kind, ntensor = case["id"], case["kind"], 1 if case["kind"] == "single" else 3
    arrs = {}
    for t in range(ntensor):
        for name in case["inputs"]:
            arrs[(name, t)] = _arr(mod, data, f"{cid}_{name}_{t}", _dtype(case, name))
    fn = getattr(nd.contrib if kind == "contrib" else nd, case["op"])
    other = None
    for step in range(%(steps)d):
        for t in range(ntensor):
            if "grad" in case["inputs"]:
                arrs[("grad", t)] = _arr(mod, data, f"{cid}_grad_{t}_{step}", case["dtype"])
        if kind == "single":
            ins = [arrs[(n, 0)] for n in case["inputs"]]
            if case["out"] == "self":
                out = ins[0]
            elif case["out"] == "other":
                dt = "float32" if case["op"] == "mp_lamb_update_phase1" else None
                other = nd.zeros(ins[0].shape, dtype=dt or ins[0].dtype) if other is None else other
                out = other
            else:
                out = None
            got = fn(*ins, out=out, **case["kwargs"])
            outs = [got]
        elif kind in ("multi", "preloaded"):
            flat = [arrs[(n, t)] for t in range(ntensor) for n in case["inputs"]]
            if kind == "preloaded":
                flat += [nd.array(case["rates"][k], dtype="float32") for k in ("lrs", "wds")]
            weights = [arrs[("weight", t)] for t in range(ntensor)]
            got = fn(*flat, out=weights, num_weights=ntensor, **case["kwargs"])
            outs = list(got)
        elif kind == "contrib":
            lists = [[arrs[(n, t)] for t in range(ntensor)] for n in case["inputs"]]
            weights = lists[0]
            got = fn(*lists, out=weights, **case["lists"], **case["kwargs"])
            outs = list(got)
        elif kind == "lars":
            ins = [arrs[(n, 0)] for n in case["inputs"]]
            outs = [fn(*ins, **case["kwargs"])]
        else:
            ins = [arrs[("weight", t)] for t in range(ntensor)]
            if case.get("single"):
                outs = [fn(ins[step %% 3])]
            else:
                outs = [fn(*ins, num_arrays=ntensor, **case["kwargs"])]
        for k, o in enumerate(outs):
            res[f"{cid}_out{k}_{step}"] = o.asnumpy()
    for (name, t), a in arrs.items():
        res[f"{cid}_final_{name}_{t}"] = a.asnumpy()
""".replace("%(steps)d", str(STEPS)).replace("%%", "%")


def _make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20260101)
    data: dict[str, np.ndarray] = {}
    for case in CASES:
        cid = case["id"]
        ntensor = 1 if case["kind"] == "single" else 3
        for t in range(ntensor):
            shape = SHAPE if case["kind"] == "single" else SHAPES[t]
            for name in case["inputs"]:
                if name == "weight":
                    value = rng.normal(0, 1, shape) * case["scale"]
                    if case.get("special") and t == 1:
                        value.flat[2] = [np.inf, np.nan, 7e4][len(cid) % 3]  # 7e4: inf in float16
                elif name == "weight32":
                    value = data[f"{cid}_weight_{t}"]
                elif name in ("r1", "r2"):
                    value = rng.uniform(0.2, 4.0, (1,))
                elif name in ("lrs", "wds"):
                    value = rng.uniform(0.01, 0.2, (6,))
                elif name in ("weights_sum_sq", "grads_sum_sq"):
                    value = rng.uniform(0.0, 5.0, (6,))
                    value[1] = 0.0
                elif name == "grad":
                    value = rng.normal(0, 1.5, shape)
                elif name in ("mom", "d", "z", "delta", "mean"):
                    value = rng.normal(0, 0.1, shape)
                else:
                    value = rng.uniform(*STATE_RANGE.get(name, (0.1, 0.3)), shape)
                data[f"{cid}_{name}_{t}"] = value.astype(np.float32)
            for step in range(STEPS):
                grad = rng.normal(0, 1.5, shape) * (1 if step != 1 else 0.01)
                data[f"{cid}_grad_{t}_{step}"] = grad.astype(np.float32)
            if "weight32" in case["inputs"]:  # masters equal the (rounded) weights
                data[f"{cid}_weight32_{t}"] = (
                    data[f"{cid}_weight_{t}"].astype(case["dtype"]).astype(np.float32)
                )
    return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, np.ndarray], Any]:
    """(oracle results, inputs) of every case, from one oracle process."""
    tmp = tmp_path_factory.mktemp("opt_ops_oracle")
    data = _make_inputs()
    np.savez(tmp / "inputs.npz", **data)
    script = (
        _DRIVER
        + f"\ncases = json.loads({json.dumps(json.dumps(CASES))})\n"
        + "data = dict(np.load('inputs.npz'))\nres = {}\n"
        + "for case in cases:\n    run_case(mx, case, data, res)\n"
        + "np.savez('oracle.npz', **res)\nprint('ok')\n"
    )
    run_oracle(script, cwd=tmp, timeout=300)
    return dict(np.load(tmp / "oracle.npz")), data


@pytest.mark.oracle
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_operator_matches_oracle(
    case: dict[str, Any], runs: tuple[dict[str, np.ndarray], Any]
) -> None:
    expected, data = runs
    namespace: dict[str, Any] = {"np": np}
    exec(_DRIVER, namespace)  # noqa: S102 - our own driver text, shared with the oracle
    ours: dict[str, Any] = {}
    namespace["run_case"](mx, case, data, ours)
    keys = sorted(k for k in expected if k.startswith(case["id"] + "_"))
    assert keys and sorted(ours) == keys
    for key in keys:
        assert ours[key].dtype == expected[key].dtype, key
        assert ours[key].shape == expected[key].shape, key
        np.testing.assert_array_equal(ours[key], expected[key], err_msg=key)
