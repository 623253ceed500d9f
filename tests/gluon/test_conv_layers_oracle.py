"""Differential tests of the convolution, pooling and normalization layers against MXNet 1.9.1.

One scenario text runs under both libraries: for each layer (a constructor expression), the
``repr`` and the Parameters' names and shapes before and after the first forward pass (deferred
``in_channels``), then, with every Parameter set to the same values, a training-mode forward and
backward: the output, the input gradient, every Parameter's gradient and (BatchNorm) the moving
statistics. Also the constructor errors (MXNet's AssertionError messages)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite
from tests._support.oracle import run_oracle

pytestmark = pytest.mark.oracle

LAYERS = [
    ("nn.Conv1D(4, 3)", (2, 3, 9)),
    ("nn.Conv1D(6, 3, strides=2, padding=1, dilation=2, groups=2, use_bias=False)", (2, 4, 11)),
    ("nn.Conv2D(5, 3, padding=1, activation='relu')", (2, 3, 7, 6)),
    ("nn.Conv2D(4, (3, 2), strides=(2, 1), padding=(1, 0), in_channels=3)", (2, 3, 8, 7)),
    ("nn.Conv2D(6, 3, groups=3, padding=1, use_bias=False)", (1, 6, 5, 5)),
    ("nn.Conv2D(3, 1, layout='NCHW', dilation=1)", (2, 4, 5, 5)),
    ("nn.Conv3D(3, (2, 3, 2), strides=(1, 2, 1), padding=1)", (1, 2, 4, 5, 4)),
    ("nn.Conv1DTranspose(3, 3, strides=2, output_padding=1)", (2, 4, 5)),
    ("nn.Conv2DTranspose(4, 3, strides=2, padding=1, output_padding=1)", (2, 3, 4, 5)),
    ("nn.Conv2DTranspose(6, (2, 3), groups=2, in_channels=4, use_bias=False)", (1, 4, 3, 3)),
    ("nn.Conv3DTranspose(2, 2, strides=2)", (1, 3, 2, 3, 2)),
    ("nn.MaxPool1D(3, 2, 1)", (2, 3, 9)),
    ("nn.MaxPool2D()", (2, 3, 6, 7)),
    ("nn.MaxPool2D(3, 2, 1, ceil_mode=True)", (2, 3, 7, 8)),
    ("nn.MaxPool3D(2, 1)", (1, 2, 3, 4, 3)),
    ("nn.AvgPool1D(2)", (2, 3, 7)),
    ("nn.AvgPool2D(3, 2, 1, count_include_pad=False)", (2, 3, 7, 6)),
    ("nn.AvgPool2D(2, ceil_mode=True)", (2, 3, 5, 5)),
    ("nn.AvgPool3D(2)", (1, 2, 4, 4, 4)),
    ("nn.MaxPool2D(2, layout='NHWC')", (2, 6, 6, 3)),
    ("nn.GlobalMaxPool1D()", (2, 3, 7)),
    ("nn.GlobalMaxPool2D()", (2, 3, 4, 5)),
    ("nn.GlobalMaxPool3D()", (2, 3, 2, 3, 4)),
    ("nn.GlobalAvgPool1D()", (2, 3, 7)),
    ("nn.GlobalAvgPool2D()", (2, 3, 4, 5)),
    ("nn.GlobalAvgPool3D()", (2, 3, 2, 3, 4)),
    ("nn.ReflectionPad2D(2)", (2, 3, 4, 5)),
    ("nn.ReflectionPad2D((0, 0, 0, 0, 1, 2, 0, 3))", (1, 2, 4, 5)),
    ("nn.BatchNorm()", (4, 3, 2, 3)),
    ("nn.BatchNorm(axis=-1, momentum=0.8, epsilon=1e-3, in_channels=3)", (4, 2, 3)),
    ("nn.BatchNorm(scale=False, center=False)", (4, 3, 5)),
    ("nn.BatchNorm(use_global_stats=True)", (4, 3, 2, 2)),
    ("nn.BatchNormReLU()", (4, 3, 2, 3)),
    ("nn.LayerNorm()", (3, 4, 5)),
    ("nn.LayerNorm(axis=1, epsilon=1e-3, in_channels=4)", (3, 4, 5)),
    ("nn.InstanceNorm()", (2, 3, 4, 5)),
    ("nn.InstanceNorm(scale=True, in_channels=3)", (2, 3, 6)),
    ("nn.GroupNorm(3)", (2, 6, 3, 2)),
    ("nn.GroupNorm(2, center=False)", (2, 4, 5)),
    ("contrib.SyncBatchNorm(num_devices=1)", (4, 3, 2, 3)),
    ("contrib.PixelShuffle2D((2, 3))", (1, 12, 2, 3)),
    ("contrib.PixelShuffle1D(2)", (2, 4, 3)),
]

CONSTRUCTOR_ERRORS = [
    "nn.Conv1D(4, 3, layout='NWC')",
    "nn.Conv2D(4, 3, layout='NCW')",
    "nn.Conv2D(4, (3, 3, 3))",
    "nn.Conv3DTranspose(4, 3, layout='NCHW')",
    "nn.MaxPool2D(layout='NCW')",
    "nn.AvgPool3D((2, 2))",
    "nn.GlobalAvgPool1D(layout='NCHW')",
    "nn.ReflectionPad2D((1, 2))",
]

SCENARIO = """
def run_layers(mx, np, layers, errors):
    out = {"layers": [], "errors": []}
    arrays = {}
    scope = {"nn": mx.gluon.nn, "contrib": mx.gluon.contrib.nn}
    for i, (expr, shape) in enumerate(layers):
        layer = eval(expr, scope)
        rec = {"repr0": repr(layer)}
        rec["params0"] = [(k, list(v.shape)) for k, v in layer.collect_params().items()]
        layer.initialize()
        rs = np.random.RandomState(i)
        x = mx.nd.array(rs.uniform(-1, 1, shape).astype("float32"))
        layer(x)
        rec["params1"] = [(k, list(v.shape)) for k, v in layer.collect_params().items()]
        rec["repr1"] = repr(layer)
        for j, p in enumerate(layer.collect_params().values()):
            lo = 0.5 if "var" in p.name or "gamma" in p.name else -1
            p.set_data(mx.nd.array(rs.uniform(lo, 1.5, p.shape).astype("float32")))
        x.attach_grad()
        with mx.autograd.record():
            y = layer(x)
        y.backward(mx.nd.array(rs.uniform(0.5, 1.5, y.shape).astype("float32")))
        arrays["%d_y" % i] = y.asnumpy()
        arrays["%d_dx" % i] = x.grad.asnumpy()
        for k, p in layer.collect_params().items():
            if p.grad_req != "null":
                arrays["%d_grad_%s" % (i, k)] = p.grad().asnumpy()
            arrays["%d_data_%s" % (i, k)] = p.data().asnumpy()
        out["layers"].append(rec)
    for expr in errors:
        try:
            eval(expr, scope)
            out["errors"].append(None)
        except Exception as err:
            out["errors"].append([type(err).__name__, str(err), isinstance(err, AssertionError)])
    return out, arrays
"""


def _run_mxnet(tmp: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    (tmp / "layers.json").write_text(json.dumps([LAYERS, CONSTRUCTOR_ERRORS]))
    script = (
        SCENARIO
        + """
layers, errors = json.load(open("layers.json"))
out, arrays = run_layers(mx, np, [(e, tuple(s)) for e, s in layers], errors)
np.savez("layers_out.npz", **arrays)
json.dump(out, open("layers_out.json", "w"))
"""
    )
    run_oracle(script, cwd=tmp, timeout=600)
    with np.load(tmp / "layers_out.npz") as f:
        arrays = dict(f)
    return json.loads((tmp / "layers_out.json").read_text()), arrays


def test_layers_match_mxnet(tmp_path: Path) -> None:
    ref, ref_arrays = _run_mxnet(tmp_path)
    scope: dict[str, Any] = {}
    exec(SCENARIO, scope)  # noqa: S102 - the scenario text the oracle ran
    # A fresh thread has fresh block-name counters (they are per thread), as the fresh MXNet
    # process has: parameter names must not depend on the blocks other tests made before.
    box: list[Any] = []
    worker = threading.Thread(
        target=lambda: box.append(scope["run_layers"](mxlite, np, LAYERS, CONSTRUCTOR_ERRORS))
    )
    worker.start()
    worker.join()
    assert box, "the scenario raised in its thread (see the output above)"
    got, arrays = box[0]
    got = json.loads(json.dumps(got))  # tuples as lists, as the oracle's JSON has them
    problems = []
    for (expr, _), a, b in zip(LAYERS, got["layers"], ref["layers"]):
        for key in ("repr0", "params0", "params1", "repr1"):
            if a[key] != b[key]:
                problems.append(f"{expr} {key}: {a[key]!r} != MXNet's {b[key]!r}")
    for name, want in ref_arrays.items():
        have = arrays.get(name)
        if have is None or have.shape != want.shape:
            problems.append(f"{name}: {None if have is None else have.shape} vs {want.shape}")
        elif not np.allclose(have, want, rtol=1e-4, atol=1e-4):
            problems.append(f"{name}: max |diff| {np.abs(have - want).max():.3g}")
    assert sorted(arrays) == sorted(ref_arrays)
    for expr, a, b in zip(CONSTRUCTOR_ERRORS, got["errors"], ref["errors"]):
        if b is None or a is None or a[2] != b[2] or (b[1] and b[1] not in a[1]):
            problems.append(f"{expr}: {a} vs MXNet's {b}")
    assert not problems, "\n".join(problems)
