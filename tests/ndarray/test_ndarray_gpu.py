"""GPU tests (``gpu`` marker; skipped with a reason when no GPU is usable): contexts on gpu(0),
ops on the GPU, copies between gpu(0) and CPU contexts, device errors, printing, DLPack and the
CUDA array interface with CuPy and PyTorch."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError

pytestmark = pytest.mark.gpu

HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_arrays_live_on_the_gpu(gpu_ctx: mx.Context) -> None:
    import cupy as cp

    x = mx.nd.arange(6, ctx=gpu_ctx).reshape((2, 3))
    assert x.context == gpu_ctx and isinstance(x.handle, cp.ndarray)
    assert x.handle.device.id == gpu_ctx.device_id
    with gpu_ctx:
        assert mx.nd.zeros(2).context == gpu_ctx
    print("gpu array:", repr(x))
    assert repr(x) == "\n[[0. 1. 2.]\n [3. 4. 5.]]\n<NDArray 2x3 @gpu(0)>"


def test_ops_run_on_the_gpu(gpu_ctx: mx.Context) -> None:
    import cupy as cp

    a = mx.nd.array([[1, -2], [3, -4]], ctx=gpu_ctx)
    results = [a + 1, a * a, a.abs(), mx.nd.dot(a, a), mx.nd.softmax(a), a.sum(axis=1), a > 0]
    for r in results:
        assert r.context == gpu_ctx and isinstance(r.handle, cp.ndarray)
    assert mx.nd.dot(a, a).asnumpy().tolist() == [[-5, 6], [-9, 10]]
    a[:] += 1
    a[0, 0] = 42
    assert a.asnumpy().tolist() == [[42, -1], [4, -3]]
    data = a.copy()
    data *= data.abs() >= 4
    assert data.asnumpy().tolist() == [[42, 0], [4, 0]]


def test_copies_between_gpu_and_cpu(gpu_ctx: mx.Context) -> None:
    host = mx.nd.array([1, 2, 3], ctx=mx.cpu(1))
    dev = host.copyto(gpu_ctx)
    assert dev.context == gpu_ctx and dev.asnumpy().tolist() == [1, 2, 3]
    back = dev.as_in_context(mx.cpu(0))
    assert back.context == mx.cpu(0) and isinstance(back.handle, np.ndarray)
    target = mx.nd.zeros((3,), ctx=gpu_ctx)
    host.copyto(target)
    assert target.asnumpy().tolist() == [1, 2, 3]
    dev[:] = mx.nd.array([7, 8, 9])  # a host value assigned into a GPU array
    assert dev.asnumpy().tolist() == [7, 8, 9]


def test_mixing_gpu_and_cpu_operands_fails(gpu_ctx: mx.Context) -> None:
    dev = mx.nd.ones((2,), ctx=gpu_ctx)
    host = mx.nd.ones((2,))
    with pytest.raises(MXNetError, match="same context"):
        dev + host  # noqa: B018
    with pytest.raises(MXNetError, match="same context"):
        mx.nd.concat(host, dev, dim=0)
    assert dev.asnumpy().tolist() == [1, 1]


def test_host_conversion_is_explicit(gpu_ctx: mx.Context) -> None:
    dev = mx.nd.ones((2,), ctx=gpu_ctx)
    with pytest.raises(TypeError, match="asnumpy"):
        np.asarray(dev)
    assert dev.asnumpy().tolist() == [1, 1]


def test_numpy_mode_printing_on_gpu(gpu_ctx: mx.Context) -> None:
    mx.npx.set_np()
    try:
        x = mx.np.array([1.0, 2.0, 3.0], ctx=gpu_ctx)
        assert repr(x) == "array([1., 2., 3.], ctx=gpu(0))"
        assert str(x) == "[1. 2. 3.] @gpu(0)"
        d = x.astype("float64")
        assert repr(d) == "array([1., 2., 3.], dtype=float64, ctx=gpu(0))"
    finally:
        mx.npx.reset_np()


def test_cuda_array_interface_and_dlpack_with_cupy(gpu_ctx: mx.Context) -> None:
    import cupy as cp

    x = mx.nd.arange(4, ctx=gpu_ctx)
    cai = x.__cuda_array_interface__
    assert cai["shape"] == (4,) and cai["typestr"] == "<f4"
    assert x.__dlpack_device__() == (2, gpu_ctx.device_id)
    view = cp.from_dlpack(x)
    view[0] = 42
    assert x.asnumpy().tolist() == [42, 1, 2, 3]
    src = cp.arange(3, dtype=cp.float32)
    y = mx.nd.from_dlpack(src)
    assert y.context == gpu_ctx
    y[1] = -1
    assert src.get().tolist() == [0, -1, 2]
    z = mx.nd.from_dlpack(mx.nd.to_dlpack_for_write(x))
    z[3] = 7
    assert x.asnumpy()[3] == 7
    print("cupy dlpack round trip:", x.asnumpy().tolist(), src.get().tolist())


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_dlpack_with_torch_cuda(gpu_ctx: mx.Context) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("this PyTorch cannot use the GPU (a CPU-only build, or no device it sees)")
    t = torch.arange(4, dtype=torch.float32, device=f"cuda:{gpu_ctx.device_id}")
    x = mx.nd.from_dlpack(t)
    assert x.context == gpu_ctx
    x[0] = 42
    torch.cuda.synchronize()
    assert float(t[0]) == 42.0
    back = torch.from_dlpack(mx.nd.arange(3, ctx=gpu_ctx))
    assert back.device.type == "cuda" and back.tolist() == [0.0, 1.0, 2.0]
    print("torch dlpack round trip:", t.tolist(), back.tolist())
