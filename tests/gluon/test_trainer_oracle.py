"""Trainer steps against real MXNet 1.9.1: one and two contexts, sgd and adam, update on the
kvstore or on the replicas, set_learning_rate mid-run, save_states/load_states onto other
contexts; plus data-parallel == single-context training on the concatenated batch.

One scenario source runs unchanged under both frameworks (``mx`` is mxnet or mxlite); fixed
weights and data come from an .npz file both sides read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite
from tests._support.oracle import run_oracle

pytestmark = pytest.mark.oracle

# Runs under MXNet (mx = mxnet) and under mxlite (mx = mxlite); numpy is np.
SCENARIO = r"""
def build(mx, ctxs, path):
    nn = mx.gluon.nn
    net = nn.Sequential(prefix="net_")
    with net.name_scope():
        net.add(nn.Dense(5, in_units=4, activation="relu", prefix="d0_"))
        net.add(nn.Dense(3, in_units=5, prefix="d1_"))
    net.initialize(ctx=ctxs)
    init = np.load(path)
    for name, param in net.collect_params().items():
        param.set_data(mx.nd.array(init[name]))
    return net


def make_trainer(mx, net, cfg):
    kv = cfg.get("kvstore", "device")
    if kv == "object":
        kv = mx.kv.create("local")
    return mx.gluon.Trainer(net.collect_params(), cfg["opt"], dict(cfg["opt_params"]),
                            kvstore=kv, update_on_kvstore=cfg.get("uok"))


def train(mx, net, trainer, ctxs, path, steps, set_lr=None, snapshots=None):
    data = np.load(path)
    loss_fn = mx.gluon.loss.L2Loss()
    x, y = mx.nd.array(data["x"]), mx.nd.array(data["y"])
    for step in range(steps):
        xs = mx.gluon.utils.split_and_load(x, ctxs)
        ys = mx.gluon.utils.split_and_load(y, ctxs)
        with mx.autograd.record():
            losses = [loss_fn(net(a), b) for a, b in zip(xs, ys)]
        mx.autograd.backward(losses)
        trainer.step(x.shape[0])
        if set_lr is not None and step == 0:
            trainer.set_learning_rate(set_lr)
        if snapshots is not None:
            snapshots.append({name: [p.data(c).asnumpy().copy() for c in ctxs]
                              for name, p in net.collect_params().items()})


def params_of(net, ctxs):
    return {name: [p.data(c).asnumpy().tolist() for c in ctxs]
            for name, p in net.collect_params().items()}


def run(mx, cfg, path, snapshots=None):
    ctxs = [mx.cpu(i) for i in cfg["ctx"]]
    net = build(mx, ctxs, path)
    trainer = make_trainer(mx, net, cfg)
    train(mx, net, trainer, ctxs, path, cfg.get("steps", 3), cfg.get("set_lr"), snapshots)
    return {"params": params_of(net, ctxs), "lr": trainer.learning_rate,
            "uok": bool(trainer._update_on_kvstore), "kv": trainer._kvstore is not None}


def run_resume(mx, cfg, path, workdir):
    ctxs = [mx.cpu(i) for i in cfg["ctx"]]
    net = build(mx, ctxs, path)
    trainer = make_trainer(mx, net, cfg)
    train(mx, net, trainer, ctxs, path, 2)
    params_file, states_file = workdir + "/net.params", workdir + "/trainer.states"
    net.save_parameters(params_file)
    trainer.save_states(states_file)
    ctxs2 = [mx.cpu(i) for i in cfg["resume_ctx"]]
    net2 = build(mx, ctxs2, path)
    net2.load_parameters(params_file, ctx=ctxs2)
    trainer2 = make_trainer(mx, net2, dict(cfg, uok=cfg.get("resume_uok")))
    trainer2.load_states(states_file)
    train(mx, net2, trainer2, ctxs2, path, 2)
    return {"params": params_of(net2, ctxs2), "lr": trainer2.learning_rate}
"""

SGD = {"opt": "sgd", "opt_params": {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01}}
ADAM = {"opt": "adam", "opt_params": {"learning_rate": 0.01, "wd": 0.001}}

CASES: dict[str, dict[str, Any]] = {
    "sgd-1ctx": dict(SGD, ctx=[0]),
    "sgd-1ctx-kvobject-uok": dict(SGD, ctx=[0], kvstore="object"),
    "sgd-2ctx-default": dict(SGD, ctx=[0, 1]),
    "sgd-2ctx-uok-true": dict(SGD, ctx=[0, 1], uok=True),
    "sgd-2ctx-uok-false": dict(SGD, ctx=[0, 1], uok=False),
    "sgd-2ctx-local-set-lr": dict(SGD, ctx=[0, 1], kvstore="local", set_lr=0.05),
    "sgd-2ctx-no-kvstore": dict(SGD, ctx=[0, 1], kvstore=None),
    "adam-1ctx": dict(ADAM, ctx=[0]),
    "adam-2ctx-uok-true": dict(ADAM, ctx=[0, 1], uok=True),
    "adam-2ctx-uok-false": dict(ADAM, ctx=[0, 1], uok=False, set_lr=0.02),
}

RESUME_CASES: dict[str, dict[str, Any]] = {
    # states saved by the kvstore's updater, loaded by a single-context trainer on cpu(1)
    "sgd-2ctx-uok-to-cpu1": dict(SGD, ctx=[0, 1], uok=True, resume_ctx=[1]),
    # states saved on cpu(0) and cpu(1) replicas, loaded onto two other contexts
    "sgd-2ctx-to-2-3": dict(SGD, ctx=[0, 1], uok=False, resume_ctx=[2, 3], resume_uok=False),
    "adam-1ctx-to-2ctx-uok": dict(ADAM, ctx=[0], resume_ctx=[0, 1], resume_uok=True),
    "adam-2ctx-to-cpu1": dict(ADAM, ctx=[0, 1], uok=False, resume_ctx=[1]),
}


def _write_fixture(path: Path) -> None:
    rng = np.random.default_rng(7)
    arrays = {
        "net_d0_weight": rng.uniform(-0.5, 0.5, (5, 4)),
        "net_d0_bias": rng.uniform(-0.1, 0.1, (5,)),
        "net_d1_weight": rng.uniform(-0.5, 0.5, (3, 5)),
        "net_d1_bias": rng.uniform(-0.1, 0.1, (3,)),
        "x": rng.normal(size=(8, 4)),
        "y": rng.normal(size=(8, 3)),
    }
    np.savez(path, **{k: v.astype(np.float32) for k, v in arrays.items()})


def _namespace() -> dict[str, Any]:
    ns: dict[str, Any] = {"np": np}
    exec(SCENARIO, ns)  # noqa: S102 - the test's own scenario source
    return ns


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trainer_oracle")
    _write_fixture(root / "fixture.npz")
    (root / "oracle").mkdir()
    (root / "mine").mkdir()
    return root


@pytest.fixture(scope="module")
def oracle_results(fixture_dir: Path) -> dict[str, Any]:
    script = SCENARIO + (
        "\nimport json\n"
        f"path = {str(fixture_dir / 'fixture.npz')!r}\n"
        f"cases = json.loads({json.dumps(CASES)!r})\n"
        f"resume = json.loads({json.dumps(RESUME_CASES)!r})\n"
        "out = {name: run(mx, cfg, path) for name, cfg in cases.items()}\n"
        "for name, cfg in resume.items():\n"
        f"    d = {str(fixture_dir / 'oracle')!r} + '/' + name\n"
        "    import os; os.makedirs(d)\n"
        "    out['resume:' + name] = run_resume(mx, cfg, path, d)\n"
        "print(json.dumps(out))\n"
    )
    return json.loads(run_oracle(script).strip().splitlines()[-1])  # type: ignore[no-any-return]


def _assert_params_close(mine: dict[str, Any], ref: dict[str, Any]) -> None:
    assert mine.keys() == ref.keys()
    for name in ref:
        assert len(mine[name]) == len(ref[name])
        for got, want in zip(mine[name], ref[name], strict=True):
            np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-7, err_msg=name)


@pytest.mark.parametrize("case", list(CASES))
def test_trainer_steps_match_mxnet(
    case: str, fixture_dir: Path, oracle_results: dict[str, Any]
) -> None:
    cfg = json.loads(json.dumps(CASES[case]))
    snapshots: list[dict[str, list[np.ndarray]]] = []
    mine = _namespace()["run"](mxlite, cfg, str(fixture_dir / "fixture.npz"), snapshots)
    ref = oracle_results[case]
    assert (mine["uok"], mine["kv"]) == (ref["uok"], ref["kv"])
    assert mine["lr"] == pytest.approx(ref["lr"], rel=1e-7)
    _assert_params_close(mine["params"], ref["params"])
    # the weights moved, and (with a kvstore) replicas are bitwise identical after every step
    assert not np.allclose(
        mine["params"]["net_d0_weight"][0], np.load(fixture_dir / "fixture.npz")["net_d0_weight"]
    )
    if mine["kv"]:
        for snap in snapshots:
            for name, replicas in snap.items():
                for other in replicas[1:]:
                    assert np.array_equal(replicas[0], other), name


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_save_load_states_onto_other_contexts_matches_mxnet(
    case: str, fixture_dir: Path, oracle_results: dict[str, Any]
) -> None:
    cfg = json.loads(json.dumps(RESUME_CASES[case]))
    workdir = fixture_dir / "mine" / case
    workdir.mkdir()
    mine = _namespace()["run_resume"](mxlite, cfg, str(fixture_dir / "fixture.npz"), str(workdir))
    ref = oracle_results["resume:" + case]
    assert mine["lr"] == pytest.approx(ref["lr"], rel=1e-7)
    _assert_params_close(mine["params"], ref["params"])


def test_resume_equals_uninterrupted_training(fixture_dir: Path) -> None:
    """Save after 2 steps, load into a fresh net+trainer on other contexts, 2 more steps ==
    4 uninterrupted steps (momentum state carried over)."""
    ns = _namespace()
    path = str(fixture_dir / "fixture.npz")
    cfg = dict(SGD, ctx=[0, 1], uok=False, resume_ctx=[1, 2], resume_uok=True)
    workdir = fixture_dir / "mine" / "uninterrupted"
    workdir.mkdir()
    resumed = ns["run_resume"](mxlite, cfg, path, str(workdir))
    straight = ns["run"](mxlite, dict(SGD, ctx=[0, 1], uok=False, steps=4), path)
    for name, replicas in straight["params"].items():
        for got in resumed["params"][name]:
            np.testing.assert_array_equal(got, replicas[0], err_msg=name)


def test_data_parallel_equals_single_context_on_concatenated_batch(fixture_dir: Path) -> None:
    ns = _namespace()
    path = str(fixture_dir / "fixture.npz")
    for opt in (SGD, ADAM):
        for uok in (True, False):
            single = ns["run"](mxlite, dict(opt, ctx=[0], steps=4), path)
            snapshots: list[dict[str, list[np.ndarray]]] = []
            parallel = ns["run"](mxlite, dict(opt, ctx=[0, 1], uok=uok, steps=4), path, snapshots)
            for name, (want,) in single["params"].items():
                for got in parallel["params"][name]:
                    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
            for snap in snapshots:
                for name, (first, second) in snap.items():
                    assert np.array_equal(first, second), name
