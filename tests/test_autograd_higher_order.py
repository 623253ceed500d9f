"""Higher-order gradients (``autograd.grad(..., create_graph=True)``): the gradient penalty
``z = sum(grad(f(x, w), x) ** 2)`` differentiated again.

Ops MXNet 1.9.1 records the backward of (unary math, FullyConnected) are compared with MXNet;
the ops mxlite records beyond MXNet's (arithmetic, dot, reductions, softmaxes, ...) with
PyTorch's ``torch.autograd.grad(create_graph=True)`` on the same function.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from mxlite import autograd, nd
from mxlite.base import MXNetError
from tests.oracle import run_oracle_json

X0 = np.array([[0.5, -1.2, 2.0], [0.3, 0.9, -0.4]], dtype="float32")
W0 = np.array([[0.2, -0.5], [0.7, 0.1], [-0.3, 0.4]], dtype="float32")

# name -> (mxnet/mxlite expression of x and w, torch expression or None)
MX_OPS = {
    "sin": "nd.sin(x)",
    "cos": "nd.cos(x)",
    "exp": "nd.exp(x)",
    "log": "nd.log(nd.abs(x) + 1)",
    "tanh": "nd.tanh(x)",
    "sigmoid": "nd.sigmoid(x)",
    "relu": "nd.relu(x)",
    "square": "nd.square(x)",
    "sqrt": "nd.sqrt(nd.abs(x) + 1)",
    "fc": "nd.FullyConnected(x, w.T, no_bias=True, num_hidden=2)",
}
TORCH_OPS = {
    # MXNet 1.9.1 returns 0 for x's second-order gradient here (its FullyConnected backward
    # graph drops the sigmoid's curvature); mxlite gives the exact value.
    "fc_sigmoid": (
        "nd.sigmoid(nd.FullyConnected(x, w.T, no_bias=True, num_hidden=2))",
        "torch.sigmoid(x @ w)",
    ),
    "mul": ("x * x * 3", "x * x * 3"),
    "div": ("1.0 / (x + 3)", "1.0 / (x + 3)"),
    "dot_sigmoid": ("nd.sigmoid(nd.dot(x, w))", "torch.sigmoid(x @ w)"),
    "dot_t": ("nd.tanh(nd.dot(w, x, transpose_a=True, transpose_b=True))", "torch.tanh(w.T @ x.T)"),
    "sum": ("nd.sum(x * x, axis=1) * nd.sum(x)", "(x * x).sum(1) * x.sum()"),
    "mean": ("nd.mean(nd.exp(x), axis=0)", "torch.exp(x).mean(0)"),
    "pow": ("x ** 3", "x ** 3"),
    "rpow": ("2.0 ** x", "2.0 ** x"),
    "negative": ("-nd.exp(x)", "-torch.exp(x)"),
    "reshape": ("nd.exp(x).reshape((3, 2)) * w", "torch.exp(x).reshape(3, 2) * w"),
    "softmax": ("nd.softmax(x * 2)", "torch.softmax(x * 2, -1)"),
    "log_softmax": ("nd.log_softmax(x)", "torch.log_softmax(x, -1)"),
    "broadcast": ("x * nd.sum(w, axis=1).reshape((1, 3))", "x * w.sum(1).reshape(1, 3)"),
}

_MX_SCRIPT = """
res = {}
for name, expr in OPS.items():
    x = nd.array(X0); w = nd.array(W0)
    x.attach_grad(); w.attach_grad()
    with autograd.record():
        y = eval(expr)
        gx = autograd.grad(y, [x], head_grads=nd.ones_like(y), create_graph=True,
                           retain_graph=True)[0]
        z = (gx * gx).sum()
    z.backward()
    res[name] = [gx.asnumpy().tolist(), x.grad.asnumpy().tolist(), w.grad.asnumpy().tolist()]
"""


def _run_here(ops: dict[str, str]) -> dict[str, Any]:
    namespace: dict[str, Any] = {
        "nd": nd,
        "autograd": autograd,
        "OPS": ops,
        "X0": X0,
        "W0": W0,
    }
    exec(_MX_SCRIPT, namespace)
    return namespace["res"]


@pytest.mark.oracle
def test_gradient_penalty_matches_mxnet_where_mxnet_records_the_backward() -> None:
    ref = run_oracle_json(
        f"from mxnet import nd, autograd\nOPS = {MX_OPS!r}\nX0 = np.array({X0.tolist()!r}, "
        f"dtype='float32')\nW0 = np.array({W0.tolist()!r}, dtype='float32')\n"
        + _MX_SCRIPT
        + "print(json.dumps(res))"
    )
    ours = _run_here(MX_OPS)
    for name in MX_OPS:
        for want, got in zip(ref[name], ours[name]):
            np.testing.assert_allclose(
                np.array(got), np.array(want), rtol=2e-5, atol=1e-6, err_msg=name
            )


def test_gradient_penalty_matches_pytorch_beyond_mxnet() -> None:
    torch = pytest.importorskip("torch")
    ours = _run_here({name: mx_expr for name, (mx_expr, _) in TORCH_OPS.items()})
    for name, (_, torch_expr) in TORCH_OPS.items():
        x = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
        w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
        y = eval(torch_expr, {"torch": torch, "x": x, "w": w})
        (gx,) = torch.autograd.grad(y, [x], torch.ones_like(y), create_graph=True)
        z = (gx * gx).sum()
        z.backward()
        want = [
            gx.detach().numpy(),
            x.grad.numpy() if x.grad is not None else 0 * X0,
            w.grad.numpy() if w.grad is not None else 0 * W0,
        ]
        for w_arr, got in zip(want, ours[name]):
            np.testing.assert_allclose(np.array(got), w_arr, rtol=1e-4, atol=1e-5, err_msg=name)


def test_create_graph_keeps_the_first_graph_and_names_unsupported_ops() -> None:
    x = nd.array(X0)
    x.attach_grad()
    with autograd.record():
        y = nd.sin(x)
        (gx,) = autograd.grad(y, [x], head_grads=nd.ones_like(y), create_graph=True)
        z = (gx * gx).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), -2 * np.cos(X0) * np.sin(X0), rtol=1e-5)
    y.backward(nd.ones_like(y))  # retain_graph defaulted to True with create_graph
    np.testing.assert_allclose(x.grad.asnumpy(), np.cos(X0), rtol=1e-6)
    v = nd.array(X0)
    v.attach_grad()
    with autograd.record():
        t = nd.pick(v, nd.array([0, 1]), axis=1)
        with pytest.raises(MXNetError, match="Operator pick does not support higher-order"):
            autograd.grad(t, [v], head_grads=nd.ones_like(t), create_graph=True)


def test_plain_grad_is_unchanged_and_detached() -> None:
    x = nd.array(X0)
    x.attach_grad()
    with autograd.record():
        y = nd.exp(x)
    (gx,) = autograd.grad(y, [x], head_grads=nd.ones_like(y))
    assert gx._ag_node is None
    np.testing.assert_allclose(gx.asnumpy(), np.exp(X0), rtol=1e-6)
    json.dumps(gx.asnumpy().tolist())
