"""``mx.np`` / ``mx.npx``: the semantics switches (per thread, scopes, decorators), the np array
class and its printing, creation defaults, promotion rules, np.random, npx ops, unknown dims."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

import mxlite as mx
from mxlite import util
from mxlite.base import MXNetError
from mxlite.ndarray.ndarray import NDArray
from mxlite.numpy.multiarray import ndarray as np_ndarray


@pytest.fixture
def np_mode() -> Iterator[None]:
    mx.npx.set_np()
    try:
        yield
    finally:
        mx.npx.reset_np()


def test_switches_are_per_thread() -> None:
    assert not mx.npx.is_np_array() and not mx.npx.is_np_shape()
    mx.npx.set_np()
    try:
        assert mx.npx.is_np_array() and mx.npx.is_np_shape()
        seen: list[tuple[bool, bool]] = []
        worker = threading.Thread(
            target=lambda: seen.append((util.is_np_array(), util.is_np_shape()))
        )
        worker.start()
        worker.join()
        assert seen == [(False, False)]
    finally:
        mx.npx.reset_np()
    assert not util.is_np_array() and not util.is_np_shape()
    with pytest.raises(ValueError, match="NumPy Shape semantics is required"):
        mx.npx.set_np(shape=False, array=True)
    assert not util.is_np_shape()


def test_scopes_and_decorators() -> None:
    with util.np_shape(True):
        assert util.is_np_shape() and not util.is_np_array()
        with util.np_array(True):
            assert util.is_np_array()
        assert not util.is_np_array()
    assert not util.is_np_shape()
    assert util.set_np_shape(True) is False and util.set_np_shape(False) is True

    @util.use_np
    def inside() -> tuple[bool, bool]:
        return util.is_np_shape(), util.is_np_array()

    assert inside() == (True, True) and not util.is_np_array()

    @mx.npx.use_np
    class Model:
        def forward(self) -> bool:
            return util.is_np_array()

    assert Model().forward() is True and not util.is_np_array()


def test_unknown_dims(np_mode: None) -> None:
    assert util.unknown_dim() == -1
    assert util.shape_is_known((2, 3)) and util.shape_is_known((2, 0)) and util.shape_is_known(())
    assert not util.shape_is_known((2, -1)) and not util.shape_is_known(None)
    assert util.display_shape((8, None)) == (8, -1) and util.display_shape((8, 0)) == (8, 0)


def test_unknown_dims_legacy() -> None:
    assert util.unknown_dim() == 0
    assert not util.shape_is_known((2, 0)) and not util.shape_is_known(())
    assert util.display_shape((8, None)) == (8, 0) and util.display_shape((8, -1)) == (8, 0)


def test_np_array_class_and_printing(np_mode: None) -> None:
    x = mx.np.array([1, 2, 3])
    assert type(x) is np_ndarray and isinstance(x, NDArray)
    assert x.dtype == np.dtype("float32") and isinstance(x.dtype, np.dtype)
    assert repr(x) == "array([1., 2., 3.])" and str(x) == "[1. 2. 3.]"
    assert repr(mx.np.array([1, 2], dtype="int64")) == "array([1, 2], dtype=int64)"
    assert repr(mx.np.array([1, 0], dtype=bool)) == "array([ True, False])"
    assert repr(mx.np.array([1.5, 2], dtype="float16")) == "array([1.5, 2. ], dtype=float16)"
    assert repr(mx.np.zeros((2, 0))) == "array([], shape=(2, 0))"
    assert repr(mx.np.array(5)) == "array(5.)"
    assert repr(mx.np.array(-0.0) * 1) == "array(-0.)"
    long = repr(mx.np.arange(2000))
    assert "shape=" not in long and long.endswith("1.999e+03])")
    assert repr(mx.np.array([1.0], ctx=mx.cpu(1))) == "array([1.])"
    assert f"{mx.np.array(2.5):.2f}" == "2.50"


def test_np_scalars_and_python_protocol(np_mode: None) -> None:
    x = mx.np.arange(6).reshape(2, 3)
    assert x[1, 2].shape == () and float(x[1, 2]) == 5.0 and int(x[1, 1]) == 4
    assert x[0, 1].item() == 1.0 and x.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert not hasattr(x, "asscalar")
    with pytest.raises(ValueError, match="ndarray with multiple elements is ambiguous"):
        bool(x)
    with pytest.warns(DeprecationWarning, match="empty array"):
        assert bool(mx.np.zeros((0,))) is False
    assert [3, 4][mx.np.array(1, dtype="int32")] == 4


def test_creation_defaults(np_mode: None) -> None:
    assert mx.np.array([1, 2, 3]).dtype == np.float32
    assert mx.np.array(np.array([1, 2, 3])).dtype == np.int64
    assert mx.np.array([True, False]).dtype == np.float32
    assert mx.np.full((2,), True).dtype == np.bool_
    assert mx.np.zeros((2, 0)).shape == (2, 0)
    assert mx.np.arange(3).dtype == np.float32
    with pytest.raises(ValueError, match="as_np_ndarray"):
        mx.np.array(mx.nd.array([1, 2]))
    legacy = mx.nd.zeros((2,))
    assert type(legacy) is NDArray  # mx.nd keeps its class under set_np(), as in MXNet
    shared = legacy.as_np_ndarray()
    shared[0] = 3
    assert type(shared) is np_ndarray and legacy.asnumpy().tolist() == [3, 0]
    assert type(shared.as_nd_ndarray()) is NDArray


def test_promotion_and_comparisons(np_mode: None) -> None:
    a = mx.np.array([1.5, -6.0, 7.0])
    i = mx.np.array([1, 2, 3], dtype="int32")
    assert (a > 1).dtype == np.bool_ and (a > 1).tolist() == [True, False, True]
    assert (a * (mx.np.abs(a) >= 5)).dtype == np.float32
    assert (i / 2).dtype == np.float32 and (i / 2).tolist() == [0.5, 1.0, 1.5]
    assert (i * 2.5).dtype == np.int32 and (i * 2.5).tolist() == [2, 4, 6]
    assert (a + i).dtype == np.float32
    assert (i + mx.np.array([1, 2, 3], dtype="int64")).dtype == np.int64
    with pytest.raises(MXNetError, match="Type inconsistent"):
        a > i  # noqa: B018
    with pytest.raises(MXNetError, match="Type inconsistent"):
        i /= 2
    assert i.tolist() == [1, 2, 3]
    assert mx.np.array([1, 2, 3], dtype="int32").mean().dtype == np.float32
    assert mx.np.array([True, False, True]).astype(bool).sum().dtype == np.int64


def test_seed_flow_of_the_initialization_tutorial(np_mode: None) -> None:
    mx.random.seed(7)
    data = mx.np.zeros((8, 4))
    data[:] = mx.np.random.uniform(-10, 10, data.shape)
    data *= mx.np.abs(data) >= 5
    values = data.asnumpy()
    assert ((values == 0) | (np.abs(values) >= 5)).all() and (values != 0).any()
    assert repr(data[:2]).startswith("array([[")
    w = mx.np.ones((8, 4))
    w[:] += 1
    w[0, 0] = 42
    assert repr(w[0]) == "array([42.,  2.,  2.,  2.])"
    assert str(mx.np.full((1, 8), 42.0)) == "[[42. 42. 42. 42. 42. 42. 42. 42.]]"


def test_np_random(np_mode: None) -> None:
    mx.random.seed(3)
    u = mx.np.random.uniform(-2, 3, size=(2000,))
    assert type(u) is np_ndarray and u.dtype == np.float32 and u.shape == (2000,)
    assert u.min().item() >= -2 and u.max().item() < 3 and abs(u.mean().item() - 0.5) < 0.15
    n = mx.np.random.normal(1.0, 2.0, (4000,), dtype="float64")
    assert n.dtype == np.float64 and abs(n.mean().item() - 1.0) < 0.15
    assert mx.np.random.uniform().shape == () and mx.np.random.normal(size=3).shape == (3,)
    mx.random.seed(3)
    again = mx.np.random.uniform(-2, 3, size=(2000,))
    np.testing.assert_array_equal(again.asnumpy(), u.asnumpy())
    bounded = mx.np.random.uniform(mx.np.array([0.0, 10.0]), mx.np.array([1.0, 11.0]))
    assert bounded.shape == (2,) and 10 <= bounded[1].item() < 11
    assert mx.np.random.uniform(size=3, ctx=mx.cpu(1)).ctx == mx.cpu(1)


def test_npx_ops(np_mode: None) -> None:
    x = mx.np.array([[-1.0, 2.0, 0.5]])
    assert mx.npx.relu(x).tolist() == [[0.0, 2.0, 0.5]]
    np.testing.assert_allclose(
        mx.npx.sigmoid(x).asnumpy(), 1 / (1 + np.exp(-x.asnumpy())), rtol=1e-6
    )
    assert mx.npx.activation(x, act_type="relu").tolist() == [[0.0, 2.0, 0.5]]
    w = mx.np.ones((2, 3))
    b = mx.np.array([1.0, -1.0])
    out = mx.npx.fully_connected(x, w, b, num_hidden=2)
    assert type(out) is np_ndarray and out.tolist() == [[2.5, 0.5]]
    assert mx.npx.fully_connected(x, w, None, num_hidden=2, no_bias=True).tolist() == [[1.5, 1.5]]
    np.testing.assert_allclose(mx.npx.softmax(x).asnumpy().sum(), 1.0, rtol=1e-6)
    assert mx.npx.pick(mx.np.array([[1.0, 2.0], [3.0, 4.0]]), mx.np.array([1, 0])).tolist() == [
        2.0,
        3.0,
    ]
    assert mx.npx.one_hot(mx.np.array([1, 0]), 2).tolist() == [[0, 1], [1, 0]]
    assert mx.npx.num_gpus() == mx.context.num_gpus() and mx.npx.current_context() == mx.cpu()
    mx.npx.waitall()


def test_np_functions(np_mode: None) -> None:
    x = mx.np.arange(6).reshape(2, 3)
    assert mx.np.sum(x).shape == () and mx.np.sum(x, axis=0).tolist() == [3, 5, 7]
    assert x.sum(axis=()).shape == (2, 3)
    assert mx.np.concatenate([x, x]).shape == (4, 3) and mx.np.stack([x, x]).shape == (2, 2, 3)
    assert mx.np.dot(mx.np.arange(3), mx.np.arange(3)).shape == ()
    assert x.flatten().shape == (6,) and x.T.shape == (3, 2)
    with pytest.raises(MXNetError, match="Cannot reshape"):
        x.reshape(0, -1)
    assert mx.np.maximum(x, 2).tolist() == [[2, 2, 2], [3, 4, 5]]
    assert mx.np.where(x > 2, x, mx.np.zeros_like(x)).tolist() == [[0, 0, 0], [3, 4, 5]]
    assert x[x > 3].tolist() == [4, 5]
    assert ((x > 1) & (x < 4)).tolist() == [[False, False, True], [True, False, False]]
    # NumPy's names, not the kernels' (MXNet: np.subtract.__name__ == 'subtract')
    assert [f.__name__ for f in (mx.np.subtract, mx.np.less, mx.np.power)] == [
        "subtract",
        "less",
        "power",
    ]


def test_npx_save_and_load(np_mode: None, tmp_path: pytest.TempPathFactory) -> None:
    fname = str(tmp_path / "arrays.npz")  # type: ignore[operator]
    mx.npx.save(fname, {"w": mx.np.arange(4).reshape(2, 2), "s": mx.np.array(3.0)})
    loaded = mx.npx.load(fname)
    assert type(loaded["w"]) is np_ndarray and loaded["w"].tolist() == [[0, 1], [2, 3]]
    assert loaded["s"].shape == ()
