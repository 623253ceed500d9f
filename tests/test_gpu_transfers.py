"""Transfers between the host and the GPUs do what they must and no more (issue 17, item 8), on the
fake CuPy: ``asnumpy()`` copies once, ``nd.array(cupy_array)`` stays on the devices, and
``waitall()`` does not create a CUDA context on GPUs mxlite never used."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from tests import fake_cupy_streams

HOST = np.arange(6, dtype=np.float64).reshape(2, 3) - 2.5


def _count_gets(monkeypatch: pytest.MonkeyPatch, cp: Any) -> list[Any]:
    """Record every ``cupy.ndarray.get`` result (the host copies a transfer makes)."""
    assert mx.num_gpus() > 0  # the GPU probe (which reads its kernel's output) has run
    results: list[Any] = []
    original = cp.ndarray.get

    def get(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        results.append(out)
        return out

    monkeypatch.setattr(cp.ndarray, "get", get)
    return results


def test_asnumpy_of_a_gpu_array_is_the_one_host_copy(
    fake_gpu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = mx.nd.array(HOST, ctx=mx.gpu(0))
    gets = _count_gets(monkeypatch, fake_gpu)
    host = x.asnumpy()
    assert len(gets) == 1 and host is gets[0]  # no second host copy of the transfer
    host[0, 0] = 99
    assert x.asnumpy()[0, 0] == np.float32(-2.5)
    cpu = mx.nd.array(HOST)
    out = cpu.asnumpy()
    assert out is not cpu._data and np.array_equal(out, HOST.astype(np.float32))


@pytest.mark.parametrize("make", ["nd", "np"])
def test_array_of_a_cupy_array_never_goes_through_the_host(
    fake_gpu: Any, monkeypatch: pytest.MonkeyPatch, make: str
) -> None:
    cp = fake_gpu.install(devices=2)
    src = cp.asarray(HOST)[:, ::2]  # float64, strided
    gets = _count_gets(monkeypatch, cp)
    array = mx.nd.array if make == "nd" else mx.np.array
    same = array(src, ctx=mx.gpu(0))
    other = array(src, ctx=mx.gpu(1), dtype="float16")
    assert gets == []
    want_dtype = np.float32 if make == "nd" else np.float64  # nd.array defaults to float32
    assert same.dtype == want_dtype and same._data.flags.c_contiguous
    assert other.dtype == np.float16 and other._data.device.id == 1
    np.testing.assert_array_equal(same.asnumpy(), HOST[:, ::2].astype(want_dtype))
    np.testing.assert_array_equal(other.asnumpy(), HOST[:, ::2].astype(np.float16))
    assert array(src, ctx=mx.cpu()).asnumpy().tolist() == HOST[:, ::2].astype(want_dtype).tolist()


def test_waitall_creates_no_context_on_unused_gpus(fake_gpu: Any) -> None:
    fake_gpu.install(devices=3)
    x = mx.nd.ones((4,), ctx=mx.gpu(0)) * 2
    mx.nd.waitall()
    assert fake_cupy_streams.CONTEXTS == {0}
    assert fake_cupy_streams.pending_work() == 0 and x.asnumpy().tolist() == [2.0] * 4
    y = mx.nd.ones((4,), ctx=mx.gpu(2)) * 3
    mx.nd.waitall()
    assert fake_cupy_streams.CONTEXTS == {0, 2} and fake_cupy_streams.pending_work() == 0
    assert y.asnumpy().tolist() == [3.0] * 4
