"""The training step's fused ops: FullyConnected as one node (with an optional ReLU), the sparse
softmax cross-entropy, and rules that compute only the gradients a backward pass needs.

Each fused path is checked against the composition it replaces (bit for bit where the
operations are the same) and, for what a user sees, against MXNet 1.9.1.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon, nd
from mxlite.autograd_rules import GRAD_RULES
from mxlite.base import MXNetError
from mxlite.ndarray import op_nn
from tests.oracle import run_oracle_json

RNG = np.random.default_rng(3)


def _arr(*shape: int, dtype: str = "float32") -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def _grads(fn, *arrays: np.ndarray, need=None):
    """Forward value and gradients of ``fn(*nds).sum()`` (attach_grad on the ``need`` inputs)."""
    xs = [nd.array(a, dtype=a.dtype) for a in arrays]
    need = range(len(xs)) if need is None else need
    for i in need:
        xs[i].attach_grad()
    with autograd.record():
        out = fn(*xs)
        head = (out * out).sum()
    head.backward()
    return out.asnumpy(), [xs[i].grad.asnumpy() for i in need]


# ---------------------------------------------------------------------- FullyConnected
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("no_bias", [True, False])
def test_fully_connected_matches_the_dot_composition(flatten: bool, no_bias: bool) -> None:
    x, w, b = _arr(4, 3, 5), _arr(6, 15 if flatten else 5), _arr(6)

    def fused(x, w, b):
        return nd.FullyConnected(x, w, b, num_hidden=6, no_bias=no_bias, flatten=flatten)

    def composed(x, w, b):
        x2 = x.reshape((4, 15)) if flatten else x.reshape((12, 5))
        out = nd.dot(x2, w, transpose_b=True)
        if not no_bias:
            out = out + b.reshape((1, 6))
        return out if flatten else out.reshape((4, 3, 6))

    out_f, g_f = _grads(fused, x, w, b, need=[0, 1] if no_bias else [0, 1, 2])
    out_c, g_c = _grads(composed, x, w, b, need=[0, 1] if no_bias else [0, 1, 2])
    np.testing.assert_array_equal(out_f, out_c)
    for gf, gc in zip(g_f, g_c):
        assert gf.shape == gc.shape
        np.testing.assert_allclose(gf, gc, rtol=1e-5, atol=1e-5)


def test_fully_connected_relu_fusion_equals_relu_after_the_product() -> None:
    x, w, b = _arr(5, 7), _arr(4, 7), _arr(4)
    out_f, g_f = _grads(
        lambda x, w, b: op_nn._fully_connected(x, w, b, 4, True, None, "relu"), x, w, b
    )
    out_c, g_c = _grads(lambda x, w, b: nd.relu(nd.FullyConnected(x, w, b, num_hidden=4)), x, w, b)
    np.testing.assert_array_equal(out_f, out_c)
    for gf, gc in zip(g_f, g_c):
        np.testing.assert_array_equal(gf, gc)
    assert (out_f == 0).any() and (out_f > 0).any()  # both sides of the ReLU were exercised


def test_dense_relu_runs_fused_unless_the_activation_has_hooks() -> None:
    net = gluon.nn.Dense(3, activation="relu", in_units=4)
    net.initialize()
    x = nd.array(_arr(2, 4))
    with autograd.record():
        fused = net(x)
    assert fused._ag_node.op == "FullyConnected"
    seen = []
    handle = net.act.register_forward_hook(lambda block, inp, out: seen.append(out.shape))
    with autograd.record():
        hooked = net(x)
    handle.detach()
    assert seen == [(2, 3)]  # the hook saw the activation block run
    assert hooked._ag_node.op == "Activation_relu"
    np.testing.assert_array_equal(fused.asnumpy(), hooked.asnumpy())


def test_fully_connected_rule_skips_gradients_nobody_needs(monkeypatch) -> None:
    calls = []
    rule = GRAD_RULES["FullyConnected"]

    def spy(g, ins, out, attrs, needs, into=None):
        calls.append((needs, into))
        res = rule(g, ins, out, attrs, needs, into)
        assert [r is not None for r in res] == list(needs)
        return res

    monkeypatch.setitem(GRAD_RULES, "FullyConnected", spy)
    x, w = nd.array(_arr(3, 4)), nd.array(_arr(2, 4))
    w.attach_grad()  # the input x is data: no gradient wanted
    with autograd.record():
        out = nd.FullyConnected(x, w, no_bias=True, num_hidden=2)
    out.backward()
    assert [needs for needs, _ in calls] == [(False, True)]
    # the weight's only gradient went straight into its buffer (no copy afterwards)
    assert calls[0][1][1] is w.grad._data
    np.testing.assert_allclose(w.grad.asnumpy(), np.ones((3, 2)).T @ x.asnumpy(), rtol=1e-6)


@pytest.mark.parametrize("grad_req", ["write", "add"])
def test_gradient_written_in_place_only_where_it_is_the_whole_gradient(grad_req: str) -> None:
    """A weight used twice gets the sum of both uses; 'add' accumulates onto what was there."""
    x, w = nd.array(_arr(3, 4)), nd.array(_arr(4, 4))
    w.attach_grad(grad_req=grad_req)
    w.grad[:] = 1.0
    with autograd.record():
        h = nd.FullyConnected(x, w, no_bias=True, num_hidden=4)
        out = nd.FullyConnected(h, w, no_bias=True, num_hidden=4)
    out.backward()
    xn, wn = x.asnumpy().astype(np.float64), w.asnumpy().astype(np.float64)
    hn = xn @ wn.T
    g_out = np.ones((3, 4))
    expected = g_out.T @ hn + (g_out @ wn).T @ xn
    if grad_req == "add":
        expected += 1.0
    np.testing.assert_allclose(w.grad.asnumpy(), expected, rtol=1e-5)


@pytest.mark.oracle
def test_fully_connected_errors_match_mxnet() -> None:
    ref = run_oracle_json(
        """
        cases = {
            "weight": lambda: mx.nd.FullyConnected(mx.nd.ones((2, 3)), mx.nd.ones((4, 5)),
                                                   mx.nd.ones((4,)), num_hidden=4),
            "bias": lambda: mx.nd.FullyConnected(mx.nd.ones((2, 3)), mx.nd.ones((4, 3)),
                                                 mx.nd.ones((5,)), num_hidden=4),
            "dtype": lambda: mx.nd.FullyConnected(mx.nd.ones((2, 3)),
                                                  mx.nd.ones((4, 3), dtype="float64"),
                                                  mx.nd.ones((4,)), num_hidden=4),
            "no_bias_missing": lambda: mx.nd.FullyConnected(mx.nd.ones((2, 3)),
                                                            mx.nd.ones((4, 3)), num_hidden=4),
        }
        out = {}
        for name, fn in cases.items():
            try:
                fn().wait_to_read()
                out[name] = None
            except Exception as e:
                out[name] = [type(e).__name__, str(e)]
        out["flat_false"] = list(mx.nd.FullyConnected(mx.nd.ones((2, 3, 2)), mx.nd.ones((4, 2)),
                                 mx.nd.ones((4,)), num_hidden=4, flatten=False).shape)
        print(json.dumps(out))
        """
    )
    fragments = {
        "weight": "Shape inconsistent, Provided = [4, 5], inferred shape=(4, 3)",
        "bias": "Unexpected shape for bias [5]",
        "dtype": "expected float32, got float64",
        "no_bias_missing": "expects 3 inputs, but got 2",
    }
    mine = {
        "weight": lambda: nd.FullyConnected(nd.ones((2, 3)), nd.ones((4, 5)), nd.ones((4,)), 4),
        "bias": lambda: nd.FullyConnected(nd.ones((2, 3)), nd.ones((4, 3)), nd.ones((5,)), 4),
        "dtype": lambda: nd.FullyConnected(
            nd.ones((2, 3)), nd.ones((4, 3), dtype="float64"), nd.ones((4,)), 4
        ),
        "no_bias_missing": lambda: nd.FullyConnected(nd.ones((2, 3)), nd.ones((4, 3)), None, 4),
    }
    for name, fn in mine.items():
        assert ref[name][0] == "MXNetError"
        with pytest.raises(MXNetError) as info:
            fn()
        mxnet_words = ref[name][1].replace(" ", "")
        assert fragments[name].replace(" ", "") in str(info.value).replace(" ", "")
        assert fragments[name].replace(" ", "").split("(")[0] in mxnet_words
    flat = nd.FullyConnected(nd.ones((2, 3, 2)), nd.ones((4, 2)), nd.ones((4,)), 4, flatten=False)
    assert list(flat.shape) == ref["flat_false"]


# ---------------------------------------------------------------------- softmax cross-entropy
def _composed_ce(pred: nd.NDArray, label: nd.NDArray) -> nd.NDArray:
    logp = nd.log_softmax(pred, axis=-1)
    return nd.mean(-nd.pick(logp, label, axis=-1, keepdims=True), axis=0, exclude=True)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_sparse_softmax_ce_equals_the_composition_bit_for_bit(dtype: str) -> None:
    pred = _arr(6, 5, dtype=dtype) * 3
    label = np.array([0, 4, 2, 2, 7, -1], dtype="float32")  # out of range labels clip, as pick

    def run(fn):
        p, lab = nd.array(pred, dtype=dtype), nd.array(label)
        p.attach_grad()
        with autograd.record():
            loss = fn(p, lab)
        loss.backward(nd.array(np.arange(1, 7), dtype=dtype))
        return loss.asnumpy(), p.grad.asnumpy()

    loss_f, grad_f = run(op_nn.sparse_softmax_cross_entropy_rows)
    loss_c, grad_c = run(_composed_ce)
    assert loss_f.dtype == loss_c.dtype and loss_f.shape == (6,)
    np.testing.assert_array_equal(loss_f, loss_c)
    np.testing.assert_array_equal(grad_f, grad_c)


def test_softmax_ce_loss_takes_the_fused_path_only_where_it_is_the_same() -> None:
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    pred, label = nd.array(_arr(4, 3)), nd.array([0, 1, 2, 1])
    pred.attach_grad()
    with autograd.record():
        fused = loss(pred, label)
        weighted = loss(pred, label, nd.ones((4, 1)))
    assert fused._ag_node.op == "_sparse_softmax_ce"
    assert weighted._ag_node.op != "_sparse_softmax_ce"
    np.testing.assert_array_equal(fused.asnumpy(), weighted.asnumpy())


def test_sparse_softmax_ce_rejects_a_label_per_class() -> None:
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    with pytest.raises(MXNetError, match="Shape inconsistent"):
        loss(nd.ones((4, 3)), nd.ones((5,)))


@pytest.mark.oracle
def test_training_step_matches_mxnet() -> None:
    """Three SGD-momentum steps of a Dense-ReLU MLP with SoftmaxCrossEntropyLoss on two
    contexts: the fused step gives MXNet's weights."""
    x = _arr(8, 6)
    y = np.array([0, 1, 2, 0, 1, 2, 2, 0], dtype="float32")
    w = {"w0": _arr(5, 6) * 0.3, "b0": _arr(5) * 0.1, "w1": _arr(3, 5) * 0.3, "b1": _arr(3) * 0.1}
    script = """
        def run(mx, arrays, x, y):
            from mxnet import gluon, autograd
            ctx = [mx.cpu(0), mx.cpu(1)]
            net = gluon.nn.Sequential(prefix="net_")
            with net.name_scope():
                net.add(gluon.nn.Dense(5, activation="relu", in_units=6))
                net.add(gluon.nn.Dense(3, in_units=5))
            net.initialize(ctx=ctx)
            params = list(net.collect_params().values())
            for p, key in zip(params, ["w0", "b0", "w1", "b1"]):
                p.set_data(mx.nd.array(arrays[key]))
            trainer = gluon.Trainer(net.collect_params(), "sgd",
                                    {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3})
            loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
            for _ in range(3):
                xs = gluon.utils.split_and_load(x, ctx)
                ys = gluon.utils.split_and_load(y, ctx)
                with autograd.record():
                    losses = [loss_fn(net(a), b) for a, b in zip(xs, ys)]
                for loss in losses:
                    loss.backward()
                trainer.step(8)
            return [p.data(ctx[1]).asnumpy().tolist() for p in params]
        """
    inputs = {k: v.tolist() for k, v in w.items()}
    ref = run_oracle_json(
        script
        + f"""
        arrays = {{k: np.array(v, dtype="float32") for k, v in {inputs!r}.items()}}
        print(json.dumps(run(mx, arrays, np.array({x.tolist()!r}, dtype="float32"),
                             np.array({y.tolist()!r}, dtype="float32"))))
        """
    )
    namespace: dict = {}
    exec(textwrap.dedent(script).replace("from mxnet import", "from mxlite import"), namespace)
    mine = namespace["run"](mx, w, x, y)
    for got, want in zip(mine, ref):
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5, atol=1e-6)
