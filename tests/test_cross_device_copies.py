"""Copies between two GPUs are ordered with both devices' streams (issue 17, item 1).

CuPy queues a device-to-device copy on one stream and, on NVIDIA GPUs, does not wait for the
other device's stream: without events a copy reads gradients, batches or weights that the other
GPU has not finished writing, and the source may be overwritten (or its memory reused) before the
copy has read it. The bodies run on the asynchronous fake CuPy with two devices
(tests/fake_cupy.py): work takes effect only when its stream is waited on, so every missing event
shows up as NaN (unwritten memory) or a later value. Each test reads the destination first, then
the source device, or the other way round, so that one order exposes each missing wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import backend, gluon, nd
from tests import fake_cupy_streams

G0, G1 = mx.gpu(0), mx.gpu(1)
HOST = np.arange(12, dtype=np.float32).reshape(3, 4) + 1


@pytest.fixture
def cp() -> Iterator[Any]:
    """The asynchronous fake CuPy with gpu(0) and gpu(1); gpu(0) current."""
    from tests import fake_cupy

    with fake_cupy.installed(devices=2) as mod, mod.cuda.Device(0):
        yield mod


def _queued() -> int:
    return fake_cupy_streams.pending_work()


def test_a_copy_waits_for_work_queued_on_the_source_gpu(cp: Any) -> None:
    x = nd.array(HOST, ctx=G1) * 3  # still queued on gpu(1)
    assert _queued() > 0
    y = x.as_in_context(G0)
    np.testing.assert_array_equal(y.asnumpy(), HOST * 3)  # runs gpu(0)'s stream only
    z = nd.array(HOST, ctx=G0) * 2
    np.testing.assert_array_equal(z.copyto(G1).asnumpy(), HOST * 2)


def test_the_source_is_not_overwritten_before_the_copy_read_it(cp: Any) -> None:
    x = nd.array(HOST, ctx=G1) * 3
    y = x.copyto(G0)  # queued on gpu(0)
    x[:] = -1  # queued on gpu(1) after the copy was issued
    np.testing.assert_array_equal(x.asnumpy(), -np.ones_like(HOST))  # gpu(1) runs first
    np.testing.assert_array_equal(y.asnumpy(), HOST * 3)


def test_copies_into_existing_arrays_and_strided_sources(cp: Any) -> None:
    src = nd.array(HOST, ctx=G1) + 1
    target = nd.zeros((3, 4), ctx=G0)
    src.copyto(target)
    np.testing.assert_array_equal(target.asnumpy(), HOST + 1)
    strided = (nd.array(HOST, ctx=G0) * 5)[:, 1:3]
    moved = backend.to_ctx(strided._data, G1)
    assert moved.device.id == 1 and moved.flags.c_contiguous
    np.testing.assert_array_equal(moved.get(), HOST[:, 1:3] * 5)
    raw = (nd.array(HOST, ctx=G1) * 7)._data
    into = (nd.zeros((3, 4), ctx=G0))._data
    assert backend.copy_into(into, raw) is into
    src_host = raw.get()  # gpu(1)'s stream first: the copy into gpu(0) must not see a later write
    np.testing.assert_array_equal(into.get(), src_host)
    half = (nd.zeros((3, 4), ctx=G0, dtype="float16"))._data
    backend.copy_into(half, raw)  # cast on the destination
    np.testing.assert_array_equal(half.get(), (HOST * 7).astype(np.float16))
    for bad in (nd.zeros((4, 3), ctx=G0)._data, nd.zeros((3, 4), ctx=G1)._data):
        with pytest.raises(ValueError, match="copy_between_devices: cannot copy"):
            backend.copy_between_devices(raw, 0, out=bad)


@pytest.mark.parametrize("store", ["device", "local"])
def test_kvstore_pushpull_reads_finished_gradients(cp: Any, store: str) -> None:
    kv = mx.kv.create(store)
    keys = ["a", "b"]
    kv.init(keys, [nd.zeros((3, 4)), nd.zeros((2,))])
    for step in range(3):  # steps 2 and 3 run the cached PushPullPlan
        grads_a = [nd.array(HOST, ctx=c) * (i + 1 + step) for i, c in enumerate((G0, G1))]
        grads_b = [nd.ones((2,), ctx=c) * (i + 2) for i, c in enumerate((G1, G0))]
        kv.pushpull(keys, [grads_a, grads_b])
        first = grads_a[1] if step % 2 else grads_a[0]
        np.testing.assert_array_equal(first.asnumpy(), HOST * (3 + 2 * step))
        for g in grads_a:
            np.testing.assert_array_equal(g.asnumpy(), HOST * (3 + 2 * step))
        for g in grads_b:
            np.testing.assert_array_equal(g.asnumpy(), [5.0, 5.0])
    outs = [nd.zeros((3, 4), ctx=c) for c in (G1, G0)]
    kv.pull("a", out=outs)
    np.testing.assert_array_equal(outs[0].asnumpy(), HOST * 7)


def test_kvstore_updates_on_the_store_with_gradients_of_both_gpus(cp: Any) -> None:
    kv = mx.kv.create("device")
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.5, rescale_grad=1.0))
    kv.init(0, nd.array(HOST))
    grads = [nd.ones((3, 4), ctx=c) * (i + 1) for i, c in enumerate((G0, G1))]
    kv.push(0, grads)
    grads[1][:] = 100  # the next step's gradient: queued after the push read the old one
    outs = [nd.zeros((3, 4), ctx=c) for c in (G1, G0)]
    kv.pull(0, out=outs)
    for out in outs:
        np.testing.assert_array_equal(out.asnumpy(), HOST - 0.5 * 3)


def test_split_and_load_of_a_batch_on_another_gpu(cp: Any) -> None:
    batch = np.arange(24, dtype=np.float32).reshape(6, 4)
    for home, ctxs in ((G1, [G0, G1]), (G0, [G1, G0])):
        data = nd.array(batch, ctx=home) * 2  # queued on its GPU
        parts = gluon.utils.split_and_load(data, ctxs)
        assert [p.context for p in parts] == ctxs
        for i, part in enumerate(parts):
            np.testing.assert_array_equal(part.asnumpy(), batch[3 * i : 3 * i + 3] * 2)


def _param_with_replicas(values: tuple[float, float]) -> Any:
    p = gluon.Parameter("w", shape=(3, 4))
    p.initialize(init=mx.init.Zero(), ctx=[G0, G1])
    for ctx, v in zip((G0, G1), values):
        p.data(ctx)[:] = nd.array(HOST, ctx=ctx) * v  # queued on that GPU
    return p


@pytest.mark.parametrize("new", [[G1, G0], [G1], [mx.cpu(0), G1]])
def test_reset_ctx_averages_replicas_still_being_written(cp: Any, new: list[Any]) -> None:
    p = _param_with_replicas((1.0, 3.0))
    p.reset_ctx(new)
    for ctx in new:
        np.testing.assert_array_equal(p.data(ctx).asnumpy(), HOST * 2)


def test_save_averages_replicas_still_being_written(cp: Any, tmp_path: Path) -> None:
    params = gluon.ParameterDict()
    params.get("w", shape=(3, 4), init=mx.init.Zero())
    params.initialize(ctx=[G0, G1])
    w = params.get("w")
    for ctx, v in zip((G0, G1), (1.0, 5.0)):
        w.data(ctx)[:] = nd.array(HOST, ctx=ctx) * v
    params.save(str(tmp_path / "p.params"))
    loaded = nd.load(str(tmp_path / "p.params"))
    np.testing.assert_array_equal(loaded["w"].asnumpy(), HOST * 3)


def test_trainer_step_on_two_gpus_matches_two_cpu_contexts(cp: Any) -> None:
    results = {}
    for ctxs in ([mx.cpu(0), mx.cpu(1)], [G0, G1]):
        mx.random.seed(3)
        net = gluon.nn.Dense(3, in_units=4, prefix="same_")  # same names, same draws
        net.initialize(mx.init.Xavier(), ctx=ctxs)
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
        x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4)
        for _ in range(2):
            parts = gluon.utils.split_and_load(x, ctxs)
            with mx.autograd.record():
                losses = [(net(part) ** 2).sum() for part in parts]
            for loss in losses:
                loss.backward()
            trainer.step(4)
        results[ctxs[0].device_type] = [net.weight.data(c).asnumpy() for c in reversed(ctxs)] + [
            net.bias.data(ctxs[1]).asnumpy()
        ]
    for got, want in zip(results["gpu"], results["cpu"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
