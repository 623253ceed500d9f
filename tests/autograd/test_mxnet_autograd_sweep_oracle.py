"""Scenarios from MXNet 1.9.1's own ``tests/python/unittest/test_autograd.py`` (dense arrays),
rewritten as one batch and run under MXNet 1.9.1 and mxlite: gradients of unary and binary
functions, head gradients with ``None`` entries, ``_fresh_grad`` and ``detach``, ``grad_req='add'``
with ``retain_graph``, ``attach_grad``, train/predict modes with Dropout, ``autograd.Function``
and ``autograd.grad(create_graph=True)``."""

from __future__ import annotations

import pytest

from tests._support.conformance_harness import Case, assert_matches_mxnet

PRELUDE = """
ag = mx.autograd
nd = mx.nd
u = nd.array(np.linspace(0.1, 0.9, 20).reshape(4, 5))
v = nd.array(np.linspace(1.1, 2.0, 20).reshape(4, 5))

def grads(f, *args):
    xs = [a.copy() for a in args]
    for x in xs:
        x.attach_grad()
    with ag.record():
        out = f(*xs)
    out.backward()
    return nd.concat(out.reshape((-1,)), *[x.grad.reshape((-1,)) for x in xs], dim=0)

def out_grads():
    x = nd.ones((3, 5))
    dx = nd.zeros_like(x)
    ag.mark_variables([x], [dx])
    with ag.record():
        a, b, c = nd.split(x, axis=0, num_outputs=3, squeeze_axis=True)
        ag.backward([a, b, c], [None, nd.array([1, 2, 3, 4, 5]), nd.array([5, 4, 3, 2, 1])])
    return dx

def fresh():
    x = nd.ones((2, 2))
    dx = nd.zeros_like(x)
    y = nd.ones_like(x)
    dy = nd.zeros_like(x)
    ag.mark_variables([x, y], [dx, dy])
    flags = [x._fresh_grad, y._fresh_grad]
    with ag.record():
        (x + 2 + y).backward()
    flags += [x._fresh_grad, y._fresh_grad, float(dx.sum().asscalar())]
    dx[:] = 0
    x._fresh_grad = False
    y._fresh_grad = False
    with ag.record():
        ((x + 2).detach() + y).backward()
    flags += [x._fresh_grad, y._fresh_grad, float(dx.sum().asscalar())]
    return flags

def retain():
    x = nd.ones((2, 2))
    dx = nd.zeros((2, 2))
    ag.mark_variables([x], [dx], grad_reqs="add")
    with ag.record():
        y = x + 1
        y.backward(retain_graph=True)
        y.backward(retain_graph=False)
    return dx

def twice():
    x = nd.ones((2, 2))
    x.attach_grad()
    with ag.record():
        y = x + 1
    y.backward()
    y.backward()

def attach():
    x = nd.zeros((3, 3))
    before = x.grad is None
    x.attach_grad()
    with ag.record():
        y = x * 2
        inner = y.grad is None
    y.backward(out_grad=nd.ones_like(y) * 3)
    return [before, inner, x.grad.asnumpy().tolist()]

def modes():
    x = nd.ones((10, 10))
    x.attach_grad()
    seen = []
    with ag.record(train_mode=True):
        seen += [ag.is_recording(), ag.is_training()]
        y = nd.Dropout(x, p=0.5)
        seen += [float(y.max().asscalar()), float(y.min().asscalar())]
        y.backward()
        seen.append(bool((x.grad == y).min().asscalar()))
        with ag.predict_mode():
            seen += [ag.is_recording(), ag.is_training()]
            y = nd.Dropout(x, p=0.5)
            y.backward(train_mode=False)
            seen.append(bool((x.grad == x).min().asscalar()))
    with ag.train_mode():
        seen += [ag.is_recording(), ag.is_training()]
    with ag.record():
        with ag.pause():
            seen.append(bool((nd.Dropout(x, p=0.5) == x).min().asscalar()))
    seen += [ag.is_recording(), ag.is_training()]
    return seen

class Fn(ag.Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x / y, x * y

    def backward(self, dm, dn):
        x, y = self.saved_tensors
        return dm / y + dn * y, dn * x - dm * x / y / y

def function():
    x, y = u.copy(), v.copy()
    x.attach_grad()
    y.attach_grad()
    with ag.record():
        m, n = Fn()(x, y)
        ag.backward([m, n])
    return nd.concat(x.grad, y.grad, dim=0)

def second_order():
    x = nd.ones((1,))
    x.attach_grad()
    with ag.record():
        z = nd.elemwise_add(nd.exp(x), x)
    dx, = ag.grad(z, [x], create_graph=True)
    first = dx.copy()
    dx.backward()
    return nd.concat(first, x.grad, dim=0)
"""

CASES: list[Case] = [
    ("exp", "grads(nd.exp, u)", None),
    ("half", "grads(lambda x: x / 2, u)", None),
    ("square", "grads(lambda x: x ** 2, u)", None),
    ("add", "grads(lambda x, y: x + y, u, v)", None),
    ("mul", "grads(lambda x, y: x * y, u, v)", None),
    ("compose", "grads(lambda x, y: x + x * y, u, v)", None),
    (
        "fc",
        "grads(lambda a, w, b: nd.FullyConnected(a * 2, w, b, num_hidden=3), u, v[:3], v[0, :3])",
        None,
    ),
    ("out_grads", "out_grads()", None),
    ("fresh_grad", "fresh()", None),
    ("retain_add", "retain()", None),
    ("backward_twice", "twice()", "retain_graph"),
    ("attach_grad", "attach()", None),
    ("modes", "modes()", None),
    ("function", "function()", None),
    ("second_order", "second_order()", None),
]


@pytest.mark.oracle
def test_mxnet_autograd_scenarios_match() -> None:
    assert_matches_mxnet(PRELUDE, CASES, rtol=1e-6)
