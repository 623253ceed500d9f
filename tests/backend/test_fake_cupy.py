"""The strict CuPy stand-in (tests/_support/fake_cupy.py) and the GPU test bodies run on it.

Part one checks that the stand-in refuses what CuPy 14 refuses (so a green run means something).
Part two runs a representative set of ``gpu``-marked tests in a subprocess with
``MXLITE_FAKE_CUPY=1``: mxlite's GPU branches (placement, copies between gpu(0) and the host,
indexing and assignment, printing, save/load, initializers, replicas, zero_grad, optimizers,
kvstore, the CUDA kernels through their host emulation) run on every machine, CI included.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mxlite import backend
from tests._support import cuda_host_emu

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fcp():
    from tests._support import fake_cupy

    cp = fake_cupy.install(devices=2)
    try:
        yield cp
    finally:
        fake_cupy.uninstall()


def test_install_makes_mxlite_see_fake_gpus(fcp):
    import cupy

    assert cupy is fcp and backend.gpu_count() == 2
    x = fcp.zeros(3, np.float32)
    assert backend.is_gpu_array(x) and backend.xp_of(x) is fcp


def test_implicit_host_conversions_raise_like_cupy(fcp):
    x = fcp.asarray(np.arange(4, dtype=np.float32))
    for convert in (np.asarray, np.array, lambda a: np.float32(a[0])):
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array"):
            convert(x)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.testing.assert_array_equal(x, np.arange(4))
    assert float(x[1]) == 1.0 and x.sum().item() == 6.0 and x.get().dtype == np.float32


def test_numpy_operands_of_kernels_raise_like_cupy(fcp):
    x = fcp.ones(3, np.float32)
    host = np.ones(3, np.float32)
    for op in (lambda: x + host, lambda: host * x, lambda: fcp.add(x, host),
               lambda: np.add(x, host), lambda: fcp.where(x > 0, host, x),
               lambda: x + np.array(2.0)):  # fmt: skip
        with pytest.raises(TypeError, match="Unsupported type"):
            op()
    assert (x + np.float32(2)).get().tolist() == [3.0, 3.0, 3.0]  # NumPy scalars are fine


def test_assignment_and_copyto_rules_of_cupy_14(fcp):
    x = fcp.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        x[...] = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for copyto"):
        fcp.copyto(x, np.ones((2, 3), np.float32))
    x[0] = np.float32(5)  # scalars fill
    x[[1], [2]] = np.array([7.0])  # advanced assignment uploads
    x[x > 6] = 9
    assert x.get().tolist() == [[5, 5, 5], [0, 0, 9]]
    host = x.get()
    host[0, 0] = -1
    assert x[0, 0].item() == 5  # .get() is a host copy


def test_only_cupy_14_names_and_keywords(fcp):
    x = fcp.ones(2)
    for missing in ("ctypes", "__array_interface__", "to_device", "resize", "setflags"):
        with pytest.raises(AttributeError):
            getattr(x, missing)
    with pytest.raises(AttributeError):
        x.flags.writeable  # noqa: B018 - CuPy's Flags has c/f_contiguous and owndata only
    with pytest.raises(TypeError, match="like"):
        fcp.asarray([1], like=x)
    with pytest.raises(TypeError):
        fcp.zeros(3, device="cuda")
    assert x.flags.c_contiguous and x.flags["OWNDATA"]


def test_reductions_and_indexing_return_device_arrays(fcp):
    x = fcp.asarray(np.arange(6.0).reshape(2, 3))
    for value in (x.sum(), x[1, 2], fcp.max(x), np.sum(x)):
        assert isinstance(value, fcp.ndarray) and value.shape == ()
    with pytest.raises(TypeError):
        range(x[0, 1])  # no __index__ on CuPy arrays


def test_devices_are_tracked(fcp):
    with fcp.cuda.Device(1):
        y = fcp.ones(3)
    assert y.device.id == 1 and fcp.ones(3).device.id == 0
    with pytest.raises(ValueError, match="device 1"):
        y * 2  # a kernel on device 0 reading device 1 memory
    with fcp.cuda.Device(1):
        assert (y * 2).device.id == 1
    assert fcp.array(y).device.id == 0  # cupy.array copies across devices (peer copy)


def test_ops_on_gpu1_run_on_device_1(fcp):
    """Ops make the array's GPU current (tests/ndarray/test_ndarray_devices.py checks every family)."""
    import mxlite as mx

    x = mx.nd.ones((2, 3), ctx=mx.gpu(1))
    y = (x * 2).astype("float16")
    assert y._data.device.id == 1 and y.context == mx.gpu(1)
    assert fcp.cuda.Device().id == 0  # the caller's current device is back


def test_work_takes_effect_only_when_its_stream_is_waited_on(fcp):
    from tests._support import fake_cupy_streams as streams

    x = fcp.zeros(3, np.float32)
    x += 2  # queued
    assert streams.pending_work() == 2 and np.isnan(x._a).all()  # unwritten memory: 0xFF bytes
    fcp.cuda.get_current_stream().synchronize()
    assert streams.pending_work() == 0 and x._a.tolist() == [2, 2, 2]
    x *= 3
    assert x.get().tolist() == [6, 6, 6]  # a host read synchronizes the array's stream
    y = x + 1
    assert float(y[0]) == 7.0
    with fcp.cuda.Device(1):
        z = fcp.ones(2, np.float32) * 5
    fcp.cuda.Device(0).synchronize()  # another device's work is not run
    assert np.isnan(z._a).all()
    fcp.cuda.Device(1).synchronize()
    assert z._a.tolist() == [5, 5]


def test_a_copy_between_devices_needs_an_event(fcp):
    with fcp.cuda.Device(1):
        src = fcp.ones(4, np.float32) * 2
    unordered = fcp.array(src)  # queued on device 0; device 1 has not run
    assert np.isnan(unordered.get()).all()
    with fcp.cuda.Device(1):
        src = fcp.ones(4, np.float32) * 3
        ready = fcp.cuda.get_current_stream().record()
    fcp.cuda.get_current_stream().wait_event(ready)
    assert not ready.done
    ordered = fcp.array(src)
    assert ordered.get().tolist() == [3, 3, 3, 3] and ready.done
    event = fcp.cuda.Event()
    assert event.done  # never recorded
    event.synchronize()


def test_streams_of_one_device_and_deadlocks(fcp):
    from tests._support import fake_cupy_streams as streams

    side = fcp.cuda.Stream(non_blocking=True)
    x = fcp.zeros(2, np.float32)
    with side:
        assert fcp.cuda.get_current_stream() is side
        x += 1  # on the side stream; the null stream does not wait for a non-blocking stream
    assert fcp.cuda.get_current_stream() is fcp.cuda.Stream.null
    fcp.cuda.Stream.null.synchronize()
    assert x._a.tolist() == [0, 0]
    side.synchronize()
    assert x._a.tolist() == [1, 1]
    a, b = fcp.cuda.Stream(non_blocking=True), fcp.cuda.Stream(non_blocking=True)
    ev_b = fcp.cuda.Event()
    ev_b.record(b)  # position 0 of b: nothing to wait for
    with a:
        y = x * 2
    ev_a = a.record()
    b.wait_event(ev_a)
    with b:
        z = y + 1
    assert z.get(stream=b).tolist() == [3, 3]
    late = fcp.cuda.Event()
    with b:
        z += 1
    late.record(b)
    a.wait_event(late)
    ev_a2 = a.record()
    b.wait_event(ev_a2)  # b now waits for a, which waits for b's earlier work: fine
    b.synchronize()
    a2, b2 = fcp.cuda.Stream(non_blocking=True), fcp.cuda.Stream(non_blocking=True)
    with a2:
        w = fcp.ones(1)
    ev1 = a2.record()
    b2.wait_event(ev1)
    with b2:
        w += 1
    ev2 = b2.record()
    streams.queue_for(a2).items.appendleft(lambda: ev2.synchronize())  # a cycle, by hand
    streams.queue_for(a2).submitted += 1
    with pytest.raises(streams.DeadlockError):
        a2.synchronize()


def test_raw_memory_and_runtime_copies_are_queued(fcp):
    x = fcp.asarray(np.arange(4, dtype=np.float32))
    y = fcp.empty(4, np.float32)
    fcp.cuda.runtime.memcpyAsync(y.data.ptr, x.data.ptr, 16, 3, 0)
    y.data.memset_async(0, 4)
    assert y.get().tolist() == [0, 1, 2, 3]
    pinned = fcp.cuda.alloc_pinned_memory(16)
    host = np.frombuffer(pinned, dtype=np.float32)
    ev = fcp.cuda.Event()
    fcp.cuda.runtime.memcpyAsync(pinned.ptr, y.data.ptr, 16, 2, 0)
    ev.record()
    assert not ev.query()
    ev.synchronize()
    assert host.tolist() == [0, 1, 2, 3]
    props = fcp.cuda.runtime.getDeviceProperties(0)
    assert props["memoryClockRate"] * 1000 * 2 * props["memoryBusWidth"] // 8 > 3e12  # kHz, bits


# ------------------------------------------------------------------ GPU test bodies on the fake
GPU_BODIES = [
    "tests/ndarray/test_ndarray_gpu.py",
    "tests/ndarray/test_ndarray.py",
    "tests/ndarray/test_ndarray_indexing.py",
    "tests/ndarray/test_ndarray_ops.py",
    "tests/formats/test_nd_save_load.py",
    "tests/gluon/test_gluon_parameter_replicas.py",
    "tests/initializer/test_initializer_random.py",
    "tests/ops/test_fill_ops.py",
    "tests/ops/test_multi_tensor.py",
    "tests/gluon/test_zero_grad_cache.py",
    "tests/optimizer/test_optimizer.py",
    "tests/ops/test_multi_optimizer.py",
    "tests/kvstore/test_kvstore.py",
    "tests/autograd/test_autograd_grads.py",
    "tests/ndarray/test_conv_ops.py",
]


@pytest.mark.skipif(not cuda_host_emu.available(), reason="g++ not on PATH: kernels not emulated")
def test_gpu_marked_tests_pass_on_the_fake():
    files = [f for f in GPU_BODIES if (ROOT / f).exists()]
    env = {**os.environ, "MXLITE_FAKE_CUPY": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *files]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    tail = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert passed and int(passed.group(1)) >= 200, tail
    assert "failed" not in proc.stdout.splitlines()[-1], tail
