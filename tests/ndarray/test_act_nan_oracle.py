"""LeakyReLU (leaky, elu, selu, gelu, prelu) at NaN, +-0, +-inf and the activation layers,
values and gradients bit for bit against MXNet 1.9.1, per dtype.

MXNet's float32 leaky/elu run on oneDNN: the gradient at NaN is 1 there (the ``x > 0`` branch)
and ELU's ``-0.0`` gives ``+0.0``; float64 and float16 take the other branch. Points where the
two libraries only differ in the last bits of ``exp``/``erf`` (and SELU's gradient, which is
wrong in MXNet 1.9.1, see README) are left out.
"""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from tests._support.conformance_harness import Case, assert_matches_mxnet

PRELUDE = """
nan, inf = float("nan"), float("inf")

def act(vals, dtype, act_type, grad=False):
    x = mx.nd.array(vals, dtype=dtype)
    x.attach_grad()
    g = mx.nd.array([0.25], dtype=dtype)
    g.attach_grad()
    with mx.autograd.record():
        if act_type == "prelu":
            y = mx.nd.LeakyReLU(x, gamma=g, act_type="prelu")
        else:
            y = mx.nd.LeakyReLU(x, act_type=act_type, slope=0.3)
    y.backward()
    if not grad:
        return y
    return mx.nd.concat(x.grad, g.grad, dim=0) if act_type == "prelu" else x.grad

def layer(make, vals):
    net = make()
    net.initialize()
    x = mx.nd.array(vals)
    x.attach_grad()
    with mx.autograd.record():
        y = net(x)
    y.backward()
    return mx.nd.concat(y, x.grad, dim=0)

SPECIAL = [nan, 0.0, -0.0, 1.0, inf, -inf]
"""


def _cases() -> list[Case]:
    cases: list[Case] = []
    points = {
        "leaky": ("SPECIAL + [-1.0, 1e-3, -1e-3]", "SPECIAL + [-1.0, 1e-3, -1e-3]"),
        "prelu": ("SPECIAL + [-1.0, 1e-3]", "SPECIAL + [-1.0, 1e-3]"),
        "elu": ("SPECIAL + [1e-3, -1e-3]", "SPECIAL + [1e-3]"),
        "selu": ("SPECIAL + [-1.0, 1e-3, -1e-3]", "[nan, 0.0, -0.0, 1.0, inf, 1e-3]"),
        "gelu": ("[nan, inf, -inf]", "[nan, 0.0, -0.0, -inf]"),
    }
    for act_type, (fwd, grad) in points.items():
        for dtype in ("float32", "float64", "float16"):
            if act_type in ("leaky", "prelu") and dtype == "float64":
                # MXNet rounds the negative branch of float64 leaky/prelu to float32
                fwd_pts, grad_pts = "SPECIAL + [-1.0, 1e-3]", grad
            elif act_type == "elu" and dtype == "float16":
                fwd_pts, grad_pts = "[nan, 0.0, 1.0, inf, -inf]", "[nan, 0.0, -0.0, 1.0, inf]"
            else:
                fwd_pts, grad_pts = fwd, grad
            cases.append((f"{act_type}_{dtype}", f"act({fwd_pts}, {dtype!r}, {act_type!r})", None))
            cases.append(
                (
                    f"{act_type}_{dtype}_grad",
                    f"act({grad_pts}, {dtype!r}, {act_type!r}, True)",
                    None,
                )
            )
    cases += [
        ("layer_leaky", "layer(lambda: mx.gluon.nn.LeakyReLU(0.1), SPECIAL + [-1.0])", None),
        ("layer_prelu", "layer(mx.gluon.nn.PReLU, SPECIAL + [-1.0])", None),
        ("layer_elu", "layer(mx.gluon.nn.ELU, [nan, 0.0, -0.0, 1.0, inf])", None),
        ("layer_selu", "layer(mx.gluon.nn.SELU, [nan, 0.0, 1.0, inf])", None),
        ("layer_gelu", "layer(mx.gluon.nn.GELU, [nan, 0.0, inf])", None),
    ]
    return cases


CASES = _cases()


@pytest.mark.oracle
def test_leaky_relu_family_special_points_match_mxnet() -> None:
    assert_matches_mxnet(PRELUDE, CASES)


def test_nan_gradient_rule_on_every_context(ctx: mx.Context) -> None:
    for dtype, want in (("float32", 1.0), ("float64", np.float32(0.3))):
        x = mx.nd.array([np.nan, 0.0], dtype=dtype, ctx=ctx)
        x.attach_grad()
        with mx.autograd.record():
            y = mx.nd.LeakyReLU(x, act_type="leaky", slope=0.3)
        y.backward()
        assert x.grad.asnumpy()[0] == want and x.grad.asnumpy()[1] == np.float32(0.3)
