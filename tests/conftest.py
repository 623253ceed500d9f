"""Shared fixtures: a ``ctx`` fixture over cpu(0), cpu(1) and every usable GPU; the gpu marker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import mxlite as mx
from mxlite import backend

if os.environ.get("MXLITE_FAKE_CUPY") == "1":  # GPU test bodies on a strict host CuPy stand-in
    from tests import fake_cupy

    fake_cupy.install()

HAS_GPU = backend.gpu_count() > 0
GPU_SKIP_REASON = "no usable GPU: " + backend.gpu_remedy()

requires_gpu = pytest.mark.skipif(not HAS_GPU, reason=GPU_SKIP_REASON)


def _ctx_params() -> list:
    params = [pytest.param(mx.cpu(0), id="cpu0"), pytest.param(mx.cpu(1), id="cpu1")]
    params.append(
        pytest.param(
            mx.gpu(0),
            id="gpu0",
            marks=[pytest.mark.gpu, pytest.mark.skipif(not HAS_GPU, reason=GPU_SKIP_REASON)],
        )
    )
    return params


@pytest.fixture(params=_ctx_params())
def ctx(request: pytest.FixtureRequest) -> mx.Context:
    """Every context a test body should pass on: cpu(0), cpu(1), and gpu(0) when usable."""
    return request.param


@pytest.fixture
def gpu_ctx() -> mx.Context:
    """gpu(0); the test is skipped with a reason when no GPU is usable."""
    if not HAS_GPU:
        pytest.skip(GPU_SKIP_REASON)
    return mx.gpu(0)


@pytest.fixture
def fake_gpu() -> Iterator[Any]:
    """The fake CuPy (tests/fake_cupy.py) with one GPU; the test may ``install`` it again with other
    devices or missing pieces. Whatever was installed before comes back afterwards."""
    from tests import fake_cupy

    with fake_cupy.installed(devices=1) as cp:
        yield cp


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "gpu" in item.keywords and not HAS_GPU:
            item.add_marker(pytest.mark.skip(reason=GPU_SKIP_REASON))
