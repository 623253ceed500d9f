"""Ops on arrays of gpu(1) run on gpu(1): results, gradients and temporaries live on the array's
device, and the current CUDA device is the same afterwards.

CuPy computes and allocates on the *current* device. Without a guard an op on gpu(1) arrays reads
them through peer access and leaves its result on gpu(0) while the NDArray claims gpu(1) (or CuPy
raises). The bodies run on the strict fake CuPy with two devices (tests/fake_cupy.py, which raises
ValueError for a kernel on device 0 reading device-1 memory and records the device of every
result), so every machine checks them; with two real GPUs the same bodies run there too.
Each op family is compared with the same op on cpu(0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, backend, nd
from mxlite.ndarray.ndarray import NDArray
from tests.test_autograd_grads import CASES as GRAD_CASES


def _fake_two_gpus() -> Iterator[Any]:
    from tests import fake_cupy

    with fake_cupy.installed(devices=2) as cp:  # a MXLITE_FAKE_CUPY=1 run keeps its fake after
        yield cp


def _real_two_gpus() -> Iterator[Any]:
    cp = backend.cupy_or_none()
    if cp is None or cp.__name__ != "cupy" or getattr(cp, "FAKE_DEVICES", None) is not None:
        pytest.skip("needs CuPy with two real GPUs (the fake variant runs everywhere)")
    if backend.gpu_count() < 2:
        pytest.skip(f"needs two GPUs, {backend.gpu_count()} usable")
    yield cp


@pytest.fixture(
    params=[
        pytest.param("fake", id="fake2"),
        pytest.param("real", id="real2", marks=pytest.mark.gpu),
    ]
)
def cp(request: pytest.FixtureRequest) -> Iterator[Any]:
    """CuPy (fake or real) with gpu(0) and gpu(1); gpu(0) is current."""
    gen = _fake_two_gpus() if request.param == "fake" else _real_two_gpus()
    mod = next(gen)
    with mod.cuda.Device(0):
        yield mod
    for _ in gen:
        pass


G1 = mx.gpu(1)


def _check_on(result: Any, ctx: mx.Context) -> None:
    """``result`` (an NDArray or a list of them) says it is on ``ctx`` and its memory is there."""
    for r in result if isinstance(result, (list, tuple)) else [result]:
        assert isinstance(r, NDArray), type(r)
        assert r.context == ctx, (r.context, ctx)
        dev = r._data.device.id if backend.is_gpu_array(r._data) else None
        assert dev == (ctx.device_id if ctx.device_type == "gpu" else None), (dev, ctx)


def _values(result: Any) -> list[np.ndarray]:
    return [r.asnumpy() for r in (result if isinstance(result, (list, tuple)) else [result])]


def _run_both(fn: Callable[[mx.Context], Any], cp: Any) -> None:
    """``fn`` on gpu(1) lands on gpu(1) with cpu(0)'s values; the current device stays 0."""
    want = fn(mx.cpu(0))
    got = fn(G1)
    assert cp.cuda.Device().id == 0
    _check_on(got, G1)
    for w, g in zip(_values(want), _values(got), strict=True):
        assert w.dtype == g.dtype and w.shape == g.shape
        np.testing.assert_allclose(g, w, rtol=1e-6)


HOST = np.arange(12, dtype=np.float32).reshape(3, 4) - 5


def _x(ctx: mx.Context, dtype: str = "float32") -> NDArray:
    return nd.array(HOST, ctx=ctx, dtype=dtype)


def _inplace(ctx: mx.Context) -> NDArray:
    x = _x(ctx)
    x += 2
    x *= _x(ctx)
    x[1] = 7
    x[:, 2] = nd.array([1, 2, 3], ctx=ctx)
    return x


def _fc(ctx: mx.Context) -> NDArray:
    w = nd.array(np.ones((2, 4)), ctx=ctx)
    return nd.FullyConnected(_x(ctx), w, nd.array([1, 2], ctx=ctx), num_hidden=2)


# (family/op, function of the context giving NDArray results)
OPS: list[tuple[str, Callable[[mx.Context], Any]]] = [
    ("binary array", lambda c: _x(c) * _x(c) - _x(c) / 2),
    ("binary scalar", lambda c: 3 - _x(c) ** 2),
    ("comparison", lambda c: _x(c) > 0),
    ("maximum", lambda c: nd.maximum(_x(c), 1.5)),
    ("int division", lambda c: _x(c, "int32") / 3),
    ("unary exp", lambda c: nd.exp(_x(c) / 10)),
    ("unary int sqrt", lambda c: nd.sqrt(nd.abs(_x(c, "int32")))),
    ("unary out=", lambda c: nd.tanh(_x(c), out=nd.zeros((3, 4), ctx=c))),
    ("neg", lambda c: -_x(c)),
    ("clip", lambda c: nd.clip(_x(c), -1, 2)),
    ("inplace and setitem", _inplace),
    ("sum", lambda c: _x(c).sum(axis=1)),
    ("mean all", lambda c: _x(c).mean()),
    ("max", lambda c: nd.max(_x(c), axis=0, keepdims=True)),
    ("prod int", lambda c: nd.prod(_x(c, "int64"), axis=0)),
    ("norm", lambda c: _x(c).norm()),
    ("argmax", lambda c: _x(c).argmax(axis=1)),
    ("dot", lambda c: nd.dot(_x(c), _x(c), transpose_b=True)),
    ("batch_dot", lambda c: nd.batch_dot(_x(c).reshape((3, 2, 2)), _x(c).reshape((3, 2, 2)))),
    ("FullyConnected", _fc),
    ("softmax", lambda c: nd.softmax(_x(c))),
    ("log_softmax", lambda c: nd.log_softmax(_x(c), axis=0)),
    ("Activation", lambda c: nd.Activation(_x(c), act_type="softrelu")),
    ("LeakyReLU elu", lambda c: nd.LeakyReLU(_x(c), act_type="elu")),
    ("pick", lambda c: nd.pick(_x(c), nd.array([0, 3, 1], ctx=c))),
    ("one_hot", lambda c: nd.one_hot(nd.array([0, 2, 5], ctx=c), 3)),
    ("transpose", lambda c: _x(c).T),
    ("reshape view", lambda c: _x(c).reshape((2, -1))),
    ("expand/squeeze", lambda c: _x(c).expand_dims(0).squeeze()),
    ("broadcast_to", lambda c: nd.broadcast_to(_x(c)[0:1], (2, 3, 4))),
    ("concat", lambda c: nd.concat(_x(c), _x(c), dim=0)),
    ("stack", lambda c: nd.stack(_x(c), _x(c), axis=1)),
    ("split", lambda c: nd.split(_x(c), 2, axis=1)),
    ("slice_axis", lambda c: nd.slice_axis(_x(c), 1, 1, 3)),
    ("add_n", lambda c: nd.add_n(_x(c), _x(c), _x(c))),
    ("where", lambda c: nd.where(_x(c) > 0, _x(c), -_x(c))),
    ("zeros_like", lambda c: nd.zeros_like(_x(c))),
    ("ones_like out=", lambda c: nd.ones_like(_x(c), out=nd.zeros((3, 4), ctx=c))),
    (
        "tile/repeat/flip",
        lambda c: [nd.tile(_x(c), (1, 2)), nd.repeat(_x(c), 2), nd.flip(_x(c), 0)],
    ),
    ("identity", lambda c: nd.identity(_x(c))),
    ("getitem view", lambda c: _x(c)[1]),
    ("getitem copy", lambda c: _x(c)[:, 1]),
    ("getitem advanced", lambda c: _x(c)[nd.array([2, 0], ctx=c)]),
    ("getitem list", lambda c: _x(c)[[0, 2], 1]),
    ("astype", lambda c: _x(c).astype("float16")),
    ("copy", lambda c: _x(c).copy()),
    ("copyto array", lambda c: _x(c).copyto(nd.zeros((3, 4), ctx=c, dtype="int32"))),
    ("creation", lambda c: [nd.zeros(3, ctx=c), nd.ones((2, 2), ctx=c), nd.full(2, 7, ctx=c)]),
    ("creation 2", lambda c: [nd.arange(5, ctx=c), nd.array([1, 2], ctx=c)]),
    ("array of NDArray", lambda c: nd.array(_x(c), ctx=c, dtype="float64")),
    ("out= fill", lambda c: nd.full(2, 5, out=nd.zeros(2, ctx=c))),
    ("np ops", lambda c: mx.np.add(_x(c).as_np_ndarray(), 1).sum(axis=0)),
    (
        "np logic",
        lambda c: [(_x(c, "int32").as_np_ndarray() & 6), ~(_x(c, "bool").as_np_ndarray())],
    ),
    (
        "np all/any/flatten",
        lambda c: [_x(c).as_np_ndarray().all(axis=0), _x(c).as_np_ndarray().flatten()],
    ),
    ("np creation", lambda c: [mx.np.zeros_like(_x(c).as_np_ndarray()), mx.np.eye(3, ctx=c)]),
    ("np array", lambda c: mx.np.array(_x(c).as_np_ndarray(), dtype="int32", ctx=c)),
    (
        "np full out=",
        lambda c: mx.np.full_like(_x(c).as_np_ndarray(), 2, out=mx.np.zeros((3, 4), ctx=c)),
    ),
    ("npx", lambda c: mx.npx.softmax(_x(c).as_np_ndarray())),
]


@pytest.mark.parametrize("name,fn", OPS, ids=[o[0] for o in OPS])
def test_op_families_run_on_the_arrays_device(name: str, fn: Any, cp: Any) -> None:
    _run_both(fn, cp)


def test_copies_between_gpus(cp: Any) -> None:
    x0 = nd.array(HOST, ctx=mx.gpu(0))
    x1 = x0.copyto(G1)
    _check_on(x1, G1)
    _check_on(x1.as_in_context(mx.gpu(0)), mx.gpu(0))
    target = nd.zeros((3, 4), ctx=G1)
    assert x0.copyto(target) is target
    _check_on(target, G1)
    host_target = nd.zeros((3, 4))
    x1.copyto(host_target)
    _check_on(host_target, mx.cpu(0))
    np.testing.assert_array_equal(host_target.asnumpy(), HOST)
    _check_on(nd.array(x0, ctx=G1, dtype="float16"), G1)
    y = x1 + x0  # the second GPU's array is copied to the first one's device
    _check_on(y, G1)
    np.testing.assert_array_equal(y.asnumpy(), 2 * HOST)
    x1[0] = x0[1]  # a value from another GPU
    x1[nd.array([2], ctx=mx.gpu(0))] = x0[0:1]  # a key and a value from another GPU
    _check_on(x1[nd.array([0, 2], ctx=mx.gpu(0))], G1)
    np.testing.assert_array_equal(x1.asnumpy()[[0, 2]], HOST[[1, 0]])
    assert cp.cuda.Device().id == 0


def test_random_draws_land_on_gpu1(cp: Any) -> None:
    mx.random.seed(7)
    u = nd.random.uniform(-1, 1, shape=(2, 3), ctx=G1)
    out = nd.zeros(6, ctx=G1)
    nd.random.normal(0, 1, out=out)
    p = mx.np.random.uniform(mx.np.zeros(3, ctx=G1), mx.np.ones(3, ctx=G1), ctx=G1)
    for r in (u, out, p):
        _check_on(r, G1)
    mx.random.seed(7)
    want = nd.random.uniform(-1, 1, shape=(2, 3))
    np.testing.assert_array_equal(u.asnumpy(), want.asnumpy())
    assert cp.cuda.Device().id == 0


@pytest.mark.parametrize("name,fn,inputs", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_backward_on_gpu1(name: str, fn: Any, inputs: list[np.ndarray], cp: Any) -> None:
    """Every gradient rule, on gpu(1): gradients land there, equal to cpu(0)'s."""
    grads = {}
    for ctx in (mx.cpu(0), G1):
        xs = [nd.array(a, ctx=ctx, dtype="float64") for a in inputs]
        for x in xs:
            x.attach_grad()
        with autograd.record():
            out = fn(*xs)
        head = nd.array(np.linspace(0.5, 1.5, out.size).reshape(out.shape), ctx=ctx)
        out.backward(head.astype("float64"))
        for x in xs:
            _check_on(x.grad, ctx)
        _check_on(out, ctx)
        grads[ctx] = [x.grad.asnumpy() for x in xs]
    for w, g in zip(grads[mx.cpu(0)], grads[G1], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    assert cp.cuda.Device().id == 0


def test_backward_through_copies_between_gpus_and_grad(cp: Any) -> None:
    x = nd.array([1.0, 2.0, 3.0], ctx=G1)
    x.attach_grad(grad_req="add")
    for _ in range(2):
        with autograd.record():
            y = x.copyto(mx.gpu(0)) * 2 + x.copyto(mx.gpu(0))  # gpu(0) nodes, a gpu(1) leaf
            z = (y.copyto(G1) * x).sum()
        z.backward()
    _check_on(x.grad, G1)
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * (6 * np.array([1.0, 2.0, 3.0])))
    with autograd.record():
        loss = nd.softmax(x * x).sum() + (x * 3).sum()
    (dx,) = autograd.grad(loss, [x])
    _check_on(dx, G1)
    np.testing.assert_allclose(dx.asnumpy(), [3.0, 3.0, 3.0], rtol=1e-5)
    assert cp.cuda.Device().id == 0


def test_selftest_passes_on_every_gpu(cp: Any) -> None:
    from mxlite import selftest

    assert [selftest.check_context(c) for c in (mx.gpu(0), G1)] == ["", ""]


def test_selftest_launches_the_kernels_on_every_gpu(
    cp: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from mxlite import selftest

    assert selftest.main(["--require-gpu"]) == 0
    text = capsys.readouterr().out
    for ctx in ("gpu(0)", "gpu(1)"):
        assert f"{ctx} kernels (fill, zero, average, fused SGD vs the CPU): ok" in text, text


def test_selftest_reports_a_kernel_that_writes_wrong_values(
    cp: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mxlite import selftest
    from mxlite.ops import _cuda

    if getattr(cp, "FAKE_DEVICES", None) is None:
        pytest.skip("breaks a kernel of the fake CuPy on purpose")
    monkeypatch.setattr(_cuda, "multi_zero_bytes", lambda *args: None)  # the launch is lost
    problem = selftest.check_kernels(mx.gpu(1))
    assert problem.startswith("zero: ") and "values differ from the CPU" in problem
    assert selftest.main([]) == 1
    assert "gpu(1) kernels (fill, zero, average, fused SGD vs the CPU): FAIL zero" in (
        capsys.readouterr().out
    )


def test_host_arrays_get_the_shared_no_op_guard() -> None:
    """On the host the guard is one type check and a shared no-op context manager."""
    host_guard = backend.array_device_guard(np.ones(2))
    assert host_guard is backend.array_device_guard(np.float32(1))
    assert host_guard is backend.array_device_guard(None)
    with host_guard:
        assert (nd.ones(2) + 1).context == mx.cpu(0)
