"""Contexts as MXNet 1.9.1 has them: construction, equality and hashing, text, device type ids,
``with ctx:`` nesting per thread, ``Context.default_ctx``, and GPU contexts without a GPU."""

from __future__ import annotations

import pickle
import threading

import pytest

import mxlite as mx
from mxlite import backend
from mxlite.base import MXLiteGPUError, MXNetError
from mxlite.context import Context


def test_construction_and_text() -> None:
    g = Context("gpu", 1)
    assert g.device_type == "gpu" and g.device_id == 1 and g.device_typeid == 2
    assert repr(g) == "gpu(1)" and str(g) == "gpu(1)"
    assert Context(g) == g and Context(g) is not g
    assert Context("gpu") == mx.gpu(0)
    assert str(mx.cpu_pinned()) == "cpu_pinned(0)" and str(mx.cpu_pinned(2)) == "cpu_pinned(2)"
    assert str(Context("cpu_shared", 2)) == "cpu_shared(2)"
    assert [Context(t).device_typeid for t in ("cpu", "gpu", "cpu_pinned", "cpu_shared")] == [
        1,
        2,
        3,
        5,
    ]
    assert Context.devtype2str == {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}
    assert Context.devstr2type == {"cpu": 1, "gpu": 2, "cpu_pinned": 3, "cpu_shared": 5}


def test_unknown_device_type_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="tpu"):
        Context("tpu", 0)
    with pytest.raises(KeyError):
        Context(3)  # type: ignore[arg-type]


def test_equality_and_hashing() -> None:
    assert mx.cpu() == mx.cpu(0) and mx.cpu() != mx.cpu(1) and mx.cpu() != mx.gpu(0)
    assert mx.cpu() != "cpu(0)" and mx.cpu() != None  # noqa: E711
    assert hash(mx.cpu()) == hash(Context("cpu", 0))
    table = {mx.cpu(0): "a", mx.gpu(0): "b"}
    assert table[Context("cpu", 0)] == "a" and table[Context("gpu")] == "b"
    assert len({mx.cpu(0), mx.cpu(0), mx.cpu(1), mx.cpu_pinned(0)}) == 3
    assert pickle.loads(pickle.dumps(mx.gpu(1))) == mx.gpu(1)


def test_with_nesting_and_default_ctx() -> None:
    assert mx.current_context() == mx.cpu(0) and Context.default_ctx == mx.cpu(0)
    with mx.cpu(1):
        assert mx.current_context() == mx.cpu(1) and Context.default_ctx == mx.cpu(1)
        with mx.gpu(2) as g:
            assert g == mx.gpu(2) and mx.current_context() == mx.gpu(2)
        assert mx.current_context() == mx.cpu(1)
    assert mx.current_context() == mx.cpu(0)
    same = mx.cpu(4)
    with same:
        with same:
            assert mx.current_context() == same
        assert mx.current_context() == same
    assert mx.current_context() == mx.cpu(0)


def test_default_ctx_assignment_is_per_thread() -> None:
    try:
        Context.default_ctx = mx.cpu(5)
        assert mx.current_context() == mx.cpu(5)
        assert mx.nd.zeros(1).context == mx.cpu(5)
        seen: list[Context] = []
        worker = threading.Thread(target=lambda: seen.append(mx.current_context()))
        worker.start()
        worker.join()
        assert seen == [mx.cpu(0)]
    finally:
        Context.default_ctx = mx.cpu(0)
    assert mx.current_context() == mx.cpu(0)


def test_with_is_thread_local() -> None:
    barrier = threading.Barrier(2)
    seen: dict[str, list[Context]] = {"a": [], "b": []}

    def run(name: str, ctx: Context) -> None:
        with ctx:
            barrier.wait()
            seen[name].append(mx.current_context())
            barrier.wait()
        seen[name].append(mx.current_context())

    threads = [
        threading.Thread(target=run, args=("a", mx.cpu(1))),
        threading.Thread(target=run, args=("b", mx.cpu(2))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": [mx.cpu(1), mx.cpu(0)], "b": [mx.cpu(2), mx.cpu(0)]}


@pytest.mark.skipif(backend.gpu_count() > 0, reason="checks the no-GPU behaviour")
def test_no_gpu_here() -> None:
    assert mx.context.num_gpus() == 0 and mx.num_gpus() == 0
    with pytest.raises(MXNetError, match="gpu_memory_info"):
        mx.context.gpu_memory_info(0)


@pytest.mark.skipif(backend.gpu_count() > 0, reason="checks the no-GPU behaviour")
def test_gpu_context_for_data_names_the_remedy() -> None:
    gpu = mx.gpu(0)  # creating the context is fine
    host = mx.nd.ones((2,))
    for make in (
        lambda: mx.nd.zeros((2,), ctx=gpu),
        lambda: mx.nd.array([1, 2], ctx=gpu),
        lambda: host.copyto(gpu),
        lambda: host.as_in_context(gpu),
        lambda: mx.nd.arange(3, ctx=gpu),
    ):
        with pytest.raises(MXLiteGPUError) as info:
            make()
        text = str(info.value)
        assert (
            "gpu(0)" in text and "CuPy" in text and "mxlite[cuda12]" in text and "mx.cpu()" in text
        )
    assert isinstance(MXLiteGPUError("x"), MXNetError)
    assert host.asnumpy().tolist() == [1, 1]


def test_empty_cache_on_cpu_is_a_no_op() -> None:
    mx.cpu(0).empty_cache()
