"""Differential tests of ``mx.np`` / ``mx.npx`` (numpy semantics) against real MXNet 1.9.1.

Each scenario runs under ``npx.set_np()`` in MXNet (one oracle process for the module) and in
mxlite; values, dtypes, shapes, classes, printed text and exception kinds must agree.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._support.ndarray_harness import Groups, run_mxlite, run_reference
from tests.ndarray.test_ndarray_oracle import assert_group_matches, dtype_cases

pytestmark = pytest.mark.oracle

REPR_CASES = [
    (f"repr {code}", f"x = {code}\nr = (repr(x), str(x))")
    for code in [
        "mx.np.array([1, 2, 3])",
        "mx.np.array(5)",
        "mx.np.zeros((0,))",
        "mx.np.zeros((2, 0))",
        "mx.np.array([1, 0, 1], dtype='bool')",
        "mx.np.array([1, 2], dtype='int32')",
        "mx.np.array([1, 2], dtype='int64')",
        "mx.np.array([1.5, 2], dtype='float16')",
        "mx.np.array([1.5, 2], dtype='float64')",
        "mx.np.arange(24).reshape((2, 3, 4))",
        "mx.np.array([[1e-5, 1e5]])",
        "mx.np.arange(2000)",
        "mx.np.arange(2000).astype('float64')",
        "mx.np.arange(40).astype('int32').reshape((2, 20))",
        "mx.np.array([1, 2, 3], ctx=mx.cpu(1))",
        "mx.np.array([1.123456789])",
        "mx.np.array([onp.nan, onp.inf])",
        "mx.np.array([])",
        "mx.np.array(onp.zeros((0, 3)))",
        "mx.np.array(5, dtype='int32')",
        "mx.np.array(True)",
        "mx.np.array([1, 2], dtype='float16')[0]",
        "mx.np.array([[1.0, 2.0], [3.0, 4.0]])[0, 0]",
        "mx.np.array([-6.0683527, 8.991421, -0.0, 0.0])",
        "mx.np.array([[42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0]])",
    ]
]

CREATION_CASES = [
    (f"np create {i}", f"r = {code}")
    for i, code in enumerate(
        [
            "mx.np.array([1, 2, 3])",
            "mx.np.array(onp.array([1, 2, 3]))",
            "mx.np.array(onp.array([1, 2, 3], dtype='int32'))",
            "mx.np.array([1, 2, 3], dtype=int)",
            "mx.np.array([True, False])",
            "mx.np.array(onp.array([True]))",
            "mx.np.array(onp.array([1.0, 2.0]))",
            "mx.np.array(onp.float64(5))",
            "mx.np.array(mx.np.array([1, 2], dtype='int32'))",
            "mx.np.array(mx.nd.array([1, 2]))",
            "mx.np.array('abc')",
            "mx.np.array(None)",
            "mx.np.zeros(3)",
            "mx.np.zeros((2, 0))",
            "mx.np.zeros(3, dtype='int32')",
            "mx.np.zeros((2, 3), ctx=mx.cpu(1))",
            "mx.np.ones((2,), dtype=bool)",
            "mx.np.full((2,), 3)",
            "mx.np.full((2,), 3.5)",
            "mx.np.full((2,), True)",
            "mx.np.full((2,), 3, dtype='int32')",
            "mx.np.empty((2, 2)).dtype",
            "mx.np.arange(3)",
            "mx.np.arange(3.0)",
            "mx.np.arange(0, 3, 0.5)",
            "mx.np.arange(3, dtype='int32')",
            "mx.np.arange(1, 4)",
            "mx.np.zeros_like(mx.np.ones(2, dtype='int32'))",
            "mx.np.ones_like(mx.np.zeros((2, 3)))",
            "mx.np.linspace(0, 1, 5)",
            "mx.nd.zeros(3)",
            "mx.nd.array([1, 2])",
            "mx.nd.zeros((0,))",
            "mx.np.random.uniform(size=(2, 3)).shape",
            "type(mx.np.random.uniform(size=(2, 3)))",
            "mx.np.random.uniform(size=(2, 3)).dtype",
            "mx.np.random.uniform(-10, 10, (2, 3)).shape",
            "mx.np.random.uniform(-10, 10, (2, 3), dtype='float64').dtype",
            "mx.np.random.normal(0, 1, (2,)).shape",
            "mx.np.random.normal(0, 1, size=3, dtype='float16').dtype",
            "mx.np.random.uniform(size=2).shape",
            "mx.np.random.uniform().shape",
            "mx.np.random.normal().shape",
            "mx.np.random.uniform(size=3, ctx=mx.cpu(1)).ctx",
            "mx.np.random.uniform(low=mx.np.zeros(2), high=1).shape",
            "type(mx.nd.random.uniform(shape=(2,)))",
            "mx.nd.random.uniform().shape",
            "bool(((mx.np.random.uniform(-10, 10, (50,)) >= -10) & True).all())",
        ]
    )
]

OPS_BASE = "x = mx.np.arange(24).reshape((2, 3, 4))\n"
OPS_CASES = [
    (name, OPS_BASE + code)
    for name, code in [
        ("sum", "r = x.sum()"),
        ("sum axis", "r = x.sum(axis=1)"),
        ("sum empty axes", "r = x.sum(axis=())"),
        ("sum keepdims", "r = x.sum(axis=1, keepdims=True)"),
        ("mean", "r = x.mean()"),
        ("prod dtype", "r = mx.np.prod(x.astype('int32') + 1, axis=(1, 2), dtype='float64')"),
        ("mean dtype", "r = mx.np.mean(x.astype('int32'), axis=0, dtype='float64')"),
        ("max", "r = x.max()"),
        ("np.max axis", "r = mx.np.max(x, axis=0)"),
        ("argmax", "r = x.argmax()"),
        ("argmax axis", "r = x.argmax(axis=1)"),
        ("reshape 0", "r = x.reshape(0, -1)"),
        ("reshape -2", "r = x.reshape(-2)"),
        ("reshape tuple", "r = x.reshape((6, 4))"),
        ("reshape args", "r = x.reshape(6, 4)"),
        ("reshape smaller", "r = x.reshape((2, 2))"),
        ("T", "r = x.T"),
        ("transpose args", "r = x.transpose(1, 0, 2)"),
        ("flatten", "r = x.flatten()"),
        ("dot", "r = mx.np.dot(x, x.reshape(4, 6))"),
        ("dot 1d", "r = mx.np.dot(mx.np.arange(3), mx.np.arange(3))"),
        ("concatenate", "r = mx.np.concatenate([x, x])"),
        ("stack", "r = mx.np.stack([x, x])"),
        ("softmax", "r = mx.npx.softmax(x)"),
        ("relu", "r = mx.npx.relu(x - 5)"),
        ("sigmoid", "r = mx.npx.sigmoid(x)"),
        ("activation tanh", "r = mx.npx.activation(x / 10, act_type='tanh')"),
        (
            "fully_connected",
            "w = mx.np.ones((5, 12))\nb = mx.np.arange(5)\nr = mx.npx.fully_connected(x, w, b, num_hidden=5)",
        ),
        (
            "fc no bias",
            "w = mx.np.ones((5, 12))\nr = mx.npx.fully_connected(x, w, None, num_hidden=5, no_bias=True)",
        ),
        ("pick", "r = mx.npx.pick(x.reshape(6, 4), mx.np.array([0, 1, 2, 3, 0, 1]))"),
        ("one_hot", "r = mx.npx.one_hot(mx.np.array([0, 2, 1]), 3)"),
        ("log_softmax", "r = mx.npx.log_softmax(mx.np.array([[0.0, 1.0, 2.0]]))"),
        ("asscalar", "r = x[0, 0, 0].asscalar()"),
        ("item", "r = x[0, 0, 1].item()"),
        ("tolist", "r = x[0].tolist()"),
        ("float", "r = float(x[0, 0, 1])"),
        ("int", "r = int(x[0, 0, 2])"),
        ("len", "r = len(x)"),
        ("bool many", "r = bool(x)"),
        ("dtype", "r = x.dtype"),
        ("astype int", "r = x.astype('int32').dtype"),
        ("astype python int", "r = x.astype(int)"),
        ("astype nocopy", "r = x.astype('float32', copy=False) is x"),
        ("element", "r = x[0, 1, 2]"),
        ("element shape", "r = x[0, 1, 2].shape"),
        ("row", "r = x[1]"),
        ("mask", "r = x[x > 20]"),
        ("column mask", "r = x[:, :, mx.np.array([1, 0, 1, 0], dtype=bool)]"),
        ("full slice is self", "r = x[:] is x"),
        ("out of bounds", "r = x[5]"),
        ("reversed slice", "r = x[1:0]"),
        ("abs", "r = mx.np.abs(x - 10)"),
        ("abs bool", "r = mx.np.abs(x > 3)"),
        ("mask multiply", "y = x - 12\ny *= mx.np.abs(y) >= 5\nr = y"),
        (
            "d2l init",
            "d = mx.np.zeros((8, 4))\nd[:] = mx.np.random.uniform(-10, 10, d.shape)\nd *= mx.np.abs(d) >= 5\nr = bool(((d == 0) | (mx.np.abs(d) >= 5)).all())",
        ),
        ("d2l set", "w = mx.np.ones((8, 4))\nw[:] += 1\nw[0, 0] = 42\nr = (w[0], repr(w[0]))"),
        ("idiv int", "y = x.astype('int32')\ny /= 2"),
        ("imul int by float array", "y = x.astype('int32')\ny *= mx.np.ones((2, 3, 4))"),
        ("iadd int into float", "y = x.copy()\ny += mx.np.ones((2, 3, 4), dtype='int32')\nr = y"),
        ("maximum", "r = mx.np.maximum(x, 7)"),
        ("clip", "r = mx.np.clip(x, 2, 5)"),
        ("where", "r = mx.np.where(x > 5, x, mx.np.zeros_like(x))"),
        ("numpy on left", "r = onp.ones(4) + x"),
        ("list operand", "r = x + [1, 2]"),
        ("is_np_array", "r = (mx.util.is_np_array(), mx.util.is_np_shape())"),
        (
            "shape_is_known",
            "known = mx.gluon.utils.shape_is_known\nr = [known(s) for s in [(2, -1), (2, 0), (), None, (2, 3)]]",
        ),
    ]
]

GROUPS: Groups = {
    "np dtypes": (True, dtype_cases("mx.np")),
    "np repr": (True, REPR_CASES),
    "np creation": (True, CREATION_CASES),
    "np ops": (True, OPS_CASES),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_reference(GROUPS, tmp_path_factory.mktemp("np_oracle")), run_mxlite(GROUPS)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_matches_mxnet(outcomes: tuple[dict[str, Any], dict[str, Any]], group: str) -> None:
    assert_group_matches(outcomes, GROUPS, group)


def test_legacy_semantics_come_back_after_reset(
    outcomes: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """Every scenario ran under set_np(); the harness turned it off again afterwards."""
    import mxlite as mx

    assert not mx.util.is_np_array() and not mx.util.is_np_shape()
    ref, _ = outcomes
    assert ref["np ops"]["is_np_array"]["v"][0]["v"] is True
