"""The strict CuPy stand-in (tests/fake_cupy.py) and the GPU test bodies run on it.

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
from tests import cuda_host_emu

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fcp():
    from tests import fake_cupy

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
    """Ops make the array's GPU current (tests/test_ndarray_devices.py checks every family)."""
    import mxlite as mx

    x = mx.nd.ones((2, 3), ctx=mx.gpu(1))
    y = (x * 2).astype("float16")
    assert y._data.device.id == 1 and y.context == mx.gpu(1)
    assert fcp.cuda.Device().id == 0  # the caller's current device is back


# ------------------------------------------------------------------ GPU test bodies on the fake
GPU_BODIES = [
    "tests/test_ndarray_gpu.py",
    "tests/test_ndarray.py",
    "tests/test_ndarray_indexing.py",
    "tests/test_ndarray_ops.py",
    "tests/test_nd_save_load.py",
    "tests/test_gluon_parameter_replicas.py",
    "tests/test_initializer_random.py",
    "tests/test_fill_ops.py",
    "tests/test_multi_tensor.py",
    "tests/test_zero_grad_cache.py",
    "tests/test_optimizer.py",
    "tests/test_multi_optimizer.py",
    "tests/test_kvstore.py",
    "tests/test_autograd_grads.py",
    "tests/test_conv_ops.py",
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
