"""In-place writes while ``autograd.record()`` is on, and index keys that mix lists, tuples,
slices, ints and ``None``, against MXNet 1.9.1.

MXNet refuses a write into an array that is already in the graph being recorded (a variable
with ``attach_grad``, or a recorded op's output) with "Assigning to NDArrays that are already in
a computational graph ...", and writing an array of the graph into part of another array
(``x[1] = y``, ``x += y``) with "Inplace operations (+=, -=, x[:]=, etc) are not supported when
recording with autograd"; a write that covers the whole target (``x[:] = y``), arrays outside
the graph, writes outside ``record()`` and writes under ``pause()`` are allowed.
"""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from tests._support.conformance_harness import Case, assert_matches_mxnet

PRELUDE = """
ag = mx.autograd

def write(front, kind, op):
    x = front.ones((3, 4))
    if kind in ("leaf", "op"):
        x.attach_grad()
    with ag.record(train_mode=(kind != "predict")):
        t = x * 2 if kind in ("op", "plainop") else x
        if op == "iadd":
            t += 1
        elif op == "isub":
            t -= 1
        elif op == "imul":
            t *= 2
        elif op == "setall":
            t[:] = 5
        elif op == "setidx":
            t[1] = 5
        elif op == "setslice":
            t[1:2, 1:3] = front.zeros((1, 2))
        elif op == "setadv":
            t[[0, 1]] = 5
        elif op == "view":
            t[1][:] = 3
        elif op == "copyto":
            front.zeros((3, 4)).copyto(t)
    return t.as_nd_ndarray() if hasattr(t, "as_nd_ndarray") else t

def paused():
    x = mx.nd.ones((3,))
    x.attach_grad()
    with ag.record():
        with ag.pause():
            x += 1
    return x

def outside():
    x = mx.nd.ones((3,))
    x.attach_grad()
    with ag.record():
        y = x * 2
    x[:] = 7
    y.backward()
    return mx.nd.concat(x, x.grad, dim=0)

def write_value(front, op):
    x = front.zeros((3, 4))
    y = front.ones((4,)) if op != "all" else front.ones((3, 4))
    y.attach_grad()
    const = front.ones((4,))
    with ag.record():
        z = y * 2
        if op == "all":
            x[:] = z
        elif op == "all_tuple":
            x[:, :] = z
        elif op == "int":
            x[1] = z
        elif op == "slice":
            x[1:2] = z
        elif op == "tuple":
            x[1, :] = z
        elif op == "step":
            x[::2] = z
        elif op == "adv":
            x[[0, 1]] = z
        elif op == "iadd":
            x += z
        elif op == "leaf":
            x[1] = y
        elif op == "copyto":
            z.copyto(x[1])
        elif op == "numpy":
            x[1] = np.ones(4)
        elif op == "scalar":
            x[1] = 3
        elif op == "const":
            x[1] = const
    return x.as_nd_ndarray() if hasattr(x, "as_nd_ndarray") else x

a = mx.nd.arange(600).reshape((5, 6, 4, 5))
an = a.as_np_ndarray()

def set_marks(front, key):
    b = front.zeros((5, 6, 4, 5))
    b[key] = 1
    return mx.nd.array(np.argwhere(b.asnumpy() == 1))

def set_values(front, key):
    b = front.zeros((5, 6, 4, 5))
    shape = b[key].shape
    b[key] = front.arange(int(np.prod(shape))).reshape(shape) + 1
    host = b.asnumpy()
    return mx.nd.array(host[host != 0])
"""

_ASSIGN = "Assigning to NDArrays that are already in a computational graph"
_INPLACE = "Inplace operations (+=, -=, x[:]=, etc) are not supported when recording with autograd"
_VALUE_OPS = {
    "all": None,
    "int": _INPLACE,
    "slice": _INPLACE,
    "tuple": _INPLACE,
    "step": _INPLACE,
    "adv": _INPLACE,
    "iadd": _INPLACE,
    "leaf": _INPLACE,
    "copyto": None,
    "numpy": None,
    "scalar": None,
    "const": None,
}
_OPS = ("iadd", "isub", "imul", "setall", "setidx", "setslice", "setadv", "view", "copyto")
_KEYS = {
    "k1": "([1, 2], slice(3, 5), (2, 3), [3, 4])",
    "k2": "((1, 2), slice(None), [0, 1])",
    "k3": "(slice(1, 3), [0, 2], slice(None), [1, 2])",
    "k4": "([[1], [2]], slice(0, 2), [1, 2])",
    "k5": "(0, [1, 2], slice(None), 2)",
    "k6": "(slice(0, 2), (1,))",
    "k7": "(mx.nd.array([1, 2], dtype='int32'), slice(3, 5), (2, 3))",
    "k8": "([1, 2], None, slice(0, 2))",
    "k9": "(slice(0, 2), None, [1, 2], None)",
    "k10": "(None, [1, 2], [0, 1])",
    "k11": "([1, 2], slice(None), None, [0, 1])",
    "k12": "([1, 2], Ellipsis, (0, 3))",
    "k13": "(Ellipsis, None, [1, 2])",
}


def _cases() -> list[Case]:
    cases: list[Case] = []
    for front in ("mx.nd", "mx.np"):
        for kind in ("leaf", "op", "plain", "plainop"):
            for op in _OPS:
                frag = _ASSIGN if kind in ("leaf", "op") else None
                cases.append((f"{front}_{kind}_{op}", f"write({front}, {kind!r}, {op!r})", frag))
        cases.append((f"{front}_predict", f"write({front}, 'predict', 'iadd')", None))
        for op, frag in _VALUE_OPS.items():
            cases.append((f"{front}_value_{op}", f"write_value({front}, {op!r})", frag))
    cases += [("paused", "paused()", None), ("outside", "outside()", None)]
    for name, key in _KEYS.items():
        cases.append((f"get_{name}", f"a[{key}]", None))
        cases.append((f"np_get_{name}", f"an[{key}].as_nd_ndarray()", None))
        cases.append((f"set_{name}", f"set_marks(mx.nd, {key})", None))
        cases.append((f"setv_{name}", f"set_values(mx.nd, {key})", None))
    return cases


CASES = _cases()


@pytest.mark.oracle
def test_inplace_writes_and_mixed_keys_match_mxnet() -> None:
    assert_matches_mxnet(PRELUDE, CASES)


def test_refused_write_changes_nothing(ctx: mx.Context) -> None:
    x = mx.nd.ones((2, 3), ctx=ctx)
    x.attach_grad()
    with mx.autograd.record():
        y = x * 2
        for write in (
            lambda: x.__setitem__(slice(None), 5),
            lambda: mx.nd.zeros((2, 3), ctx=ctx).copyto(y),
        ):
            with pytest.raises(mx.base.MXNetError, match="already in a computational graph"):
                write()
    y.backward()
    assert x.asnumpy().tolist() == [[1] * 3] * 2 and x.grad.asnumpy().tolist() == [[2] * 3] * 2


def test_mixed_key_gradient_flows(ctx: mx.Context) -> None:
    x = mx.nd.arange(24, ctx=ctx).reshape((2, 3, 4))
    x.attach_grad()
    with mx.autograd.record():
        y = x[[0, 1], None, (1, 2)]
    y.backward()
    assert y.shape == (2, 1, 4)  # the advanced indices are not adjacent: they lead
    want = np.zeros((2, 3, 4))
    want[0, 1] = want[1, 2] = 1
    np.testing.assert_array_equal(x.grad.asnumpy(), want)
