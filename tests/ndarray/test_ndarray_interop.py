"""Zero-copy exchange on the host: ``np.asarray``, DLPack with NumPy (and PyTorch / JAX when
installed), ``mx.nd.from_numpy``; ``__cuda_array_interface__`` only on GPU arrays."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXLiteGPUError

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_JAX = importlib.util.find_spec("jax") is not None


@pytest.mark.parametrize("ctx", [mx.cpu(0), mx.cpu(1)], ids=["cpu0", "cpu1"])
def test_array_protocol_shares_host_memory(ctx: mx.Context) -> None:
    x = mx.nd.arange(6, ctx=ctx).reshape((2, 3))
    host = np.asarray(x)
    assert host.dtype == np.float32 and host.shape == (2, 3)
    assert np.shares_memory(host, x.handle)
    host[0, 0] = 42
    assert x[0, 0].asscalar() == 42
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    copied = np.array(x, copy=True)
    copied[:] = 0
    assert x.asnumpy().sum() != 0


def test_asnumpy_is_a_copy() -> None:
    x = mx.nd.ones((3,))
    host = x.asnumpy()
    host[:] = 5
    assert x.asnumpy().tolist() == [1, 1, 1]


def test_dlpack_to_numpy_is_zero_copy() -> None:
    x = mx.nd.arange(4)
    assert x.__dlpack_device__() == (1, 0)
    view = np.from_dlpack(x)
    view[1] = -1
    assert x.asnumpy().tolist() == [0, -1, 2, 3]


def test_from_dlpack_numpy_object_and_capsule() -> None:
    src = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = mx.nd.from_dlpack(src)
    assert x.context == mx.cpu(0) and x.shape == (2, 3) and x.dtype is np.float32
    x[1, 1] = 99
    assert src[1, 1] == 99
    y = mx.nd.from_dlpack(src.__dlpack__())
    src[0, 0] = -5
    assert y[0, 0].asscalar() == -5
    z = mx.nd.from_dlpack(mx.nd.to_dlpack_for_read(x))
    assert np.shares_memory(np.asarray(z), src)
    with pytest.raises(TypeError, match="DLPack"):
        mx.nd.from_dlpack([1, 2, 3])


def test_from_numpy_zero_copy_and_contiguity() -> None:
    src = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = mx.nd.from_numpy(src)
    x[0, 1] = 7  # the NDArray owns the memory now: writes go through it
    assert src[0, 1] == 7 and not src.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        src[0, 0] = 1
    with pytest.raises(ValueError, match="c-contiguous"):
        mx.nd.from_numpy(src.T)
    copied = mx.nd.from_numpy(src.T, zero_copy=False)
    x[:] = 0
    assert copied.asnumpy().tolist() == [[0, 3], [7, 4], [2, 5]]


def test_no_cuda_array_interface_on_host() -> None:
    x = mx.nd.ones(2)
    assert not hasattr(x, "__cuda_array_interface__")
    with pytest.raises(AttributeError, match="only defined for GPU arrays"):
        x.__cuda_array_interface__  # noqa: B018


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (not a dependency of mxlite)")
def test_dlpack_with_torch_cpu() -> None:
    import torch

    t = torch.arange(6, dtype=torch.float32)
    x = mx.nd.from_dlpack(t)
    x[0] = 42
    assert float(t[0]) == 42.0
    back = torch.from_dlpack(mx.nd.arange(3))
    assert back.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.skipif(not HAS_JAX, reason="JAX is not installed (not a dependency of mxlite)")
def test_dlpack_with_jax_cpu() -> None:
    import jax.numpy as jnp

    x = mx.nd.from_dlpack(jnp.arange(4, dtype=jnp.float32))
    assert x.asnumpy().tolist() == [0, 1, 2, 3]
    back = jnp.from_dlpack(mx.nd.arange(3))
    assert back.tolist() == [0.0, 1.0, 2.0]


def test_cuda_capsule_without_gpu_names_the_remedy(monkeypatch: pytest.MonkeyPatch) -> None:
    from mxlite import backend

    class CudaArray:
        def __dlpack_device__(self) -> tuple[int, int]:
            return (2, 0)

        def __dlpack__(self, **kwargs: object) -> object:
            raise AssertionError("must not be consumed without CuPy")

    monkeypatch.setattr(backend, "cupy_or_none", lambda: None)
    with pytest.raises(MXLiteGPUError, match="CuPy"):
        mx.nd.from_dlpack(CudaArray())
