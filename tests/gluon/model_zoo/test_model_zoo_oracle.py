"""Model-zoo networks against MXNet 1.9.1: the same structure, names and files both ways.

For every network, MXNet builds it with a fixed seed, randomizes the BatchNorm statistics,
saves ``.params``; mxlite loads that file into its own network and must predict the same
(predict mode). The reverse: mxlite's file loads into MXNet's network and predicts the same. Also
compared: ``repr(net)``, the Parameters' names (``collect_params``, under a fresh name manager)
and the structural names and shapes a ``.params`` file holds. ResNet-18 v1 and MobileNet v2 are
also compared in training mode (output, gradients, moving statistics), in float64 and at 64x64:
at random initialization a deep stack of training-mode BatchNorms amplifies float32 rounding to
percents of the gradients. Inputs are small (32x32 where the network allows it); the largest families are
marked slow.
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

# (name, input size) - the smallest input each network accepts, or 32.
FAST = [
    ("resnet18_v1", 64), ("resnet18_v2", 32), ("vgg11", 32), ("vgg11_bn", 32), ("alexnet", 67),
    ("squeezenet1.0", 224), ("squeezenet1.1", 224), ("mobilenet0.25", 32),
    ("mobilenetv2_0.25", 64),
]  # fmt: skip
LARGE = [("densenet121", 224), ("inceptionv3", 299)]
SLOW = [
    ("resnet34_v1", 32), ("resnet50_v1", 32), ("resnet101_v1", 32), ("resnet152_v1", 32),
    ("resnet34_v2", 32), ("resnet50_v2", 32), ("resnet101_v2", 32), ("resnet152_v2", 32),
    ("vgg13", 32), ("vgg16", 32), ("vgg19", 32), ("vgg13_bn", 32), ("vgg16_bn", 32),
    ("vgg19_bn", 32), ("densenet161", 224), ("densenet169", 224), ("densenet201", 224),
    ("mobilenet0.5", 32), ("mobilenet0.75", 32), ("mobilenet1.0", 32),
    ("mobilenetv2_0.5", 32), ("mobilenetv2_0.75", 32), ("mobilenetv2_1.0", 32),
]  # fmt: skip
TRAIN = ["resnet18_v1", "mobilenetv2_0.25"]

SCENARIO = '''
def zoo_build(mx, name):
    with mx.name.NameManager():
        return mx.gluon.model_zoo.vision.get_model(name)

def zoo_input(np, i, size):
    return np.random.RandomState(100 + i).uniform(-1, 1, (2, 3, size, size)).astype("float32")

def zoo_stats(mx, np, net, i):
    rs = np.random.RandomState(i)
    for name, p in sorted(net.collect_params().items()):
        if "running_mean" in name:
            p.set_data(mx.nd.array(rs.uniform(-0.2, 0.2, p.shape).astype("float32")))
        elif "running_var" in name:
            p.set_data(mx.nd.array(rs.uniform(0.5, 1.5, p.shape).astype("float32")))

def zoo_describe(net):
    return {"repr": repr(net),
            "names": [k[len(net.prefix):] for k in net.collect_params().keys()],
            "files": sorted((k, list(v.shape)) for k, v in net._collect_params_with_prefix().items())}

def zoo_train(mx, np, net, x):
    net.cast("float64")  # float64: rounding stays far below what is compared
    xs = mx.nd.array(x, dtype="float64")
    with mx.autograd.record():
        y = net(xs)
    y.backward(mx.nd.array(np.linspace(-1, 1, y.size).reshape(y.shape), dtype="float64"))
    out = {"y": y.asnumpy()}
    for name, p in net._collect_params_with_prefix().items():
        if p.grad_req != "null":
            out["grad_" + name] = p.grad().asnumpy()
        elif "running" in name:
            out["stat_" + name] = p.data().asnumpy()
    return out

def zoo_side(mx, np, names, train, own_prefix, other_prefix):
    """Build, save and predict with this library's networks; predict with the other's files
    (when present)."""
    import os
    info, arrays = {}, {}
    for i, (name, size) in enumerate(names):
        x = zoo_input(np, i, size)
        net = zoo_build(mx, name)
        mx.random.seed(i)
        net.initialize(mx.init.Xavier())
        net(mx.nd.array(x))  # finishes deferred initialization
        zoo_stats(mx, np, net, i)
        info[name] = zoo_describe(net)
        arrays["own_" + name] = net(mx.nd.array(x)).asnumpy()
        net.save_parameters(own_prefix + name + ".params")
        if name in train:
            for k, v in zoo_train(mx, np, net, x).items():
                arrays["train_own_%s_%s" % (name, k)] = v
        other = other_prefix + name + ".params"
        if os.path.exists(other):
            loaded = zoo_build(mx, name)
            loaded.load_parameters(other)
            arrays["other_" + name] = loaded(mx.nd.array(x)).asnumpy()
            if name in train:
                for k, v in zoo_train(mx, np, loaded, x).items():
                    arrays["train_other_%s_%s" % (name, k)] = v
    return info, arrays
'''


def _compare(names: list[tuple[str, int]], tmp: Path) -> None:
    scope: dict[str, Any] = {}
    exec(SCENARIO, scope)  # noqa: S102 - the scenario text the oracle runs too
    # mxlite first (its files exist for the oracle), then MXNet (loads them, saves its own),
    # then mxlite again to load MXNet's files.
    import os

    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        info, mine = scope["zoo_side"](mxlite, np, names, TRAIN, "ml_", "mx_")
        (tmp / "names.json").write_text(json.dumps([names, TRAIN]))
        script = (
            SCENARIO
            + """
names, train = json.load(open("names.json"))
info, arrays = zoo_side(mx, np, [tuple(n) for n in names], train, "mx_", "ml_")
np.savez("zoo_mx.npz", **arrays)
json.dump(info, open("zoo_mx.json", "w"))
"""
        )
        run_oracle(script, cwd=tmp, timeout=1800)
        _, again = scope["zoo_side"](mxlite, np, names, TRAIN, "ml2_", "mx_")
    finally:
        os.chdir(cwd)
    ref_info = json.loads((tmp / "zoo_mx.json").read_text())
    with np.load(tmp / "zoo_mx.npz") as f:
        ref = dict(f)
    problems = []
    info = json.loads(json.dumps(info))
    for name, _ in names:
        for key in ("repr", "names", "files"):
            if info[name][key] != ref_info[name][key]:
                problems.append(f"{name}: {key} differs from MXNet's")
        # MXNet's file in mxlite, and mxlite's file in MXNet, predict as their makers did.
        pairs = [(again["other_" + name], ref["own_" + name], "MXNet's file in mxlite"),
                 (ref["other_" + name], mine["own_" + name], "mxlite's file in MXNet")]  # fmt: skip
        for got, want, what in pairs:
            scale = float(np.abs(want).max()) or 1.0
            if got.shape != want.shape or not np.allclose(got, want, rtol=1e-3, atol=1e-4 * scale):
                problems.append(f"{name}: {what}: max |diff| {np.abs(got - want).max():.3g}")
    # Training mode with the same parameters: MXNet's own network against mxlite with MXNet's
    # file, and MXNet with mxlite's file against mxlite's own network. Gradients that are zero
    # in exact arithmetic (a BatchNorm's beta followed by another BatchNorm) are rounding noise:
    # the absolute tolerance is relative to the network's largest gradient.
    trained = 0
    train_keys = [k for k in ref if k.startswith("train_")]
    for key in train_keys:
        net_name = next(n for n in TRAIN if key.split("_", 2)[2].startswith(n + "_"))
        largest = max(float(np.abs(ref[k]).max()) for k in train_keys if f"_{net_name}_grad" in k)
        want = ref[key]
        mirror = key.replace("train_own_", "train_other_") if "_own_" in key else None
        got = again[mirror] if mirror else mine[key.replace("train_other_", "train_own_")]
        trained += 1
        if not np.allclose(got, want, rtol=1e-6, atol=1e-8 * largest):
            rel = np.abs(got - want).max() / (float(np.abs(want).max()) or 1.0)
            problems.append(f"{key}: max |diff| {rel:.3g} of the largest value")
    assert not problems, "\n".join(problems)
    assert bool(trained) == any(n in TRAIN for n, _ in names)


def test_model_zoo_families_match_mxnet(tmp_path: Path) -> None:
    _compare(FAST, tmp_path)


@pytest.mark.slow
def test_model_zoo_large_networks_match_mxnet(tmp_path: Path) -> None:
    _compare(LARGE, tmp_path)


@pytest.mark.slow
def test_model_zoo_every_depth_and_width_matches_mxnet(tmp_path: Path) -> None:
    _compare(SLOW, tmp_path)
