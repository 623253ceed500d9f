"""GPU detection in :mod:`mxlite.backend`: any CUDA runtime error means "no GPU" (checked with fake
CuPy modules), the remedy text, and the errors GPU contexts raise when no GPU is usable."""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import backend
from mxlite.base import MXLiteGPUError, MXNetError


class CUDARuntimeError(RuntimeError):
    """Stands in for cupy_backends.cuda.api.runtime.CUDARuntimeError."""


def _fake_cupy(get_count: object) -> types.ModuleType:
    cupy = types.ModuleType("cupy")
    cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_count))
    cupy.cuda = cuda  # type: ignore[attr-defined]
    return cupy


@pytest.fixture
def fresh_probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Forget the cached detection before and after the test (monkeypatch restores sys.modules)."""
    backend._probe_cupy.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    backend._probe_cupy.cache_clear()


def _raise(message: str) -> object:
    def get_count() -> int:
        raise CUDARuntimeError(message)

    return get_count


@pytest.mark.parametrize(
    "message",
    [
        "cudaErrorNoDevice: no CUDA-capable device is detected",
        "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version",
        "cudaErrorInitializationError: initialization error",
    ],
)
def test_cuda_runtime_errors_mean_no_gpu(fresh_probe: pytest.MonkeyPatch, message: str) -> None:
    fresh_probe.setitem(sys.modules, "cupy", _fake_cupy(_raise(message)))
    assert backend.gpu_count() == 0 and backend.cupy_or_none() is None
    assert mx.context.num_gpus() == 0
    remedy = backend.gpu_remedy()
    assert "CUDA runtime reported no usable GPU" in remedy and message in remedy
    assert "mx.cpu()" in remedy
    with pytest.raises(MXLiteGPUError, match="no usable GPU"):
        mx.nd.zeros((2,), ctx=mx.gpu(0))


def test_import_failure_means_no_gpu(fresh_probe: pytest.MonkeyPatch) -> None:
    fresh_probe.setitem(sys.modules, "cupy", None)  # ``import cupy`` raises ImportError
    assert backend.gpu_count() == 0
    assert "CuPy could not be imported" in backend.gpu_remedy()
    assert backend.get_xp(mx.cpu(3)) is np


def test_zero_devices_means_no_gpu(fresh_probe: pytest.MonkeyPatch) -> None:
    fresh_probe.setitem(sys.modules, "cupy", _fake_cupy(lambda: 0))
    assert backend.gpu_count() == 0
    assert "found no GPU" in backend.gpu_remedy()


def test_fewer_gpus_than_asked(fake_gpu: Any) -> None:
    fake_gpu.install(devices=1)
    assert backend.gpu_count() == 1
    backend.check_ctx_usable(mx.gpu(0))
    with pytest.raises(MXLiteGPUError, match=r"only 1 GPU\(s\) are usable") as info:
        backend.check_ctx_usable(mx.gpu(1))
    assert "mx.cpu()" in str(info.value)
    backend.check_ctx_usable(mx.cpu(7))


@pytest.mark.parametrize(
    "missing,says",
    [
        (("nvrtc",), "NVRTC, CUDA's runtime compiler"),
        (("headers",), "the CUDA headers (cuda_fp16.h) were not found"),
        (("cublas",), "cuBLAS, which matrix products"),
    ],
)
def test_a_gpu_without_compiler_headers_or_cublas_is_not_usable(
    fake_gpu: Any, missing: tuple[str, ...], says: str
) -> None:
    """A driver-only host: the GPU is counted, but the probe kernel (or cuBLAS) fails."""
    fake_gpu.install(devices=2, missing=missing)
    assert backend.gpu_count() == 0 and mx.context.num_gpus() == 0
    remedy = backend.gpu_remedy()
    assert "CuPy found 2 GPU(s), but" in remedy and says in remedy, remedy
    assert "[ctk]" in remedy and "mxlite[cuda13]" in remedy
    with pytest.raises(MXLiteGPUError, match="no usable GPU"):
        mx.nd.zeros((2,), ctx=mx.gpu(0))
    fake_gpu.install(devices=2)
    assert backend.gpu_count() == 2 and backend.gpu_remedy().startswith("Install")


def test_the_probe_checks_what_the_kernel_wrote(fake_gpu: Any, monkeypatch: Any) -> None:
    from tests import fake_cupy_cuda

    fake_gpu.install(devices=1)
    monkeypatch.setattr(fake_cupy_cuda, "_probe_launch", lambda grid, block, args: None)
    backend._probe_cupy.cache_clear()
    assert backend.gpu_count() == 0
    assert "wrote [0.0, 0.0, 0.0, 0.0] instead of [0.0, 0.5, 1.0, 1.5]" in backend.gpu_remedy()


def test_gpu_memory_info_errors(fresh_probe: pytest.MonkeyPatch) -> None:
    fresh_probe.setitem(sys.modules, "cupy", _fake_cupy(_raise("cudaErrorNoDevice")))
    for device_id in (0, 1, -1):
        with pytest.raises(MXNetError, match=f"gpu\\({device_id}\\) is not available"):
            mx.context.gpu_memory_info(device_id)


def test_cpu_paths_never_need_cupy(fresh_probe: pytest.MonkeyPatch) -> None:
    fresh_probe.setitem(sys.modules, "cupy", None)
    x = mx.nd.arange(4, ctx=mx.cpu(1))
    assert backend.xp_of(x.handle) is np and not backend.is_gpu_array(x.handle)
    assert backend.to_numpy(x.handle) is x.handle
    moved = backend.to_ctx(x.handle, mx.cpu(0), copy=True)
    assert moved is not x.handle and moved.tolist() == [0, 1, 2, 3]
    backend.synchronize(None)
    with backend.device_guard(mx.cpu(0)):
        pass


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH (CUDA toolkit)")
def test_probe_kernel_compiles_with_nvcc(tmp_path: Path) -> None:
    """The probe's kernel is real CUDA (NVRTC compiles it at run time; nvcc here, to PTX)."""
    from mxlite import _gpu_probe

    src = tmp_path / "probe.cu"
    src.write_text(_gpu_probe.KERNEL_SOURCE)
    cmd = ["nvcc", "-std=c++17", "-arch=sm_90", "--ptx", "-o", str(tmp_path / "p.ptx"), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f".entry {_gpu_probe.KERNEL_NAME}(" in (tmp_path / "p.ptx").read_text()
