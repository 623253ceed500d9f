"""pytest-benchmark groups for the hot paths (small sizes; ``python -m bench`` has the full sets).

    pytest bench                          # timings, grouped: init, zero_grad, reduce, io, step
    pytest bench --benchmark-disable      # each body once, as a smoke test (CI)

Each benchmark also checks its result, so a fast wrong answer fails.
"""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from bench import sets
from bench.cases import make_params

SMALL = sets.s1(200)  # 200 x (64, 64): launch-bound
RESNET = sets.s2(4)  # ResNet-50's 161 shapes, channels / 4

CONTEXTS = [pytest.param(mx.cpu(0), id="cpu")]
if mx.num_gpus():
    CONTEXTS.append(pytest.param(mx.gpu(0), id="gpu"))


def _sync() -> None:
    mx.nd.waitall()


@pytest.fixture(params=CONTEXTS)
def ctx(request):
    return request.param


@pytest.mark.benchmark(group="init")
@pytest.mark.parametrize("pset", [SMALL, RESNET], ids=["S1-200", "S2-div4"])
def test_initialize_xavier(benchmark, ctx, pset):
    params = make_params(pset, [ctx])

    def run():
        params.initialize(mx.init.Xavier(), ctx=[ctx], force_reinit=True)
        _sync()

    benchmark(run)
    w = next(iter(params.values())).data(ctx).asnumpy()
    assert w.std() > 0 and np.abs(w).max() < 1.0


@pytest.mark.benchmark(group="init")
def test_initialize_per_parameter_loop(benchmark, ctx):
    """The per-tensor peer: one Parameter.initialize call per parameter."""
    params = make_params(SMALL, [ctx])
    values = list(params.values())

    def run():
        for param in values:
            param.initialize(mx.init.Xavier(), ctx=[ctx], force_reinit=True)
        _sync()

    benchmark(run)
    assert values[0].data(ctx).asnumpy().std() > 0


@pytest.mark.benchmark(group="zero_grad")
@pytest.mark.parametrize("fused", [True, False], ids=["cached-plan", "per-tensor"])
def test_zero_grad(benchmark, ctx, fused):
    params = make_params(SMALL, [ctx])
    grads = [p.grad(ctx) for p in params.values()]

    def loop():
        for g in grads:
            g[:] = 0

    def run():
        (params.zero_grad if fused else loop)()
        _sync()

    for g in grads:
        g[:] = 1.0
    benchmark(run)
    assert all(not g.asnumpy().any() for g in grads)


@pytest.mark.benchmark(group="reduce")
def test_reset_ctx_two_cpu_contexts(benchmark):
    a, b = [mx.cpu(0), mx.cpu(1)], [mx.cpu(2), mx.cpu(3)]
    params = make_params(RESNET, a)
    state = {"at": a}

    def flip():
        state["at"] = b if state["at"] is a else a
        params.reset_ctx(state["at"])

    benchmark(flip)
    assert next(iter(params.values())).list_ctx() == state["at"]


@pytest.mark.benchmark(group="io")
def test_save_and_load(benchmark, ctx, tmp_path):
    params = make_params(RESNET, [ctx, mx.cpu(1)] if ctx.device_type == "gpu" else [ctx])
    path = str(tmp_path / "b.params")
    first = next(iter(params.values()))
    expected = first.data(ctx).asnumpy()

    def run():
        params.save(path)
        params.load(path, ctx=first.list_ctx())
        _sync()

    benchmark(run)
    assert first.data(ctx).asnumpy().tobytes() == expected.tobytes()


@pytest.mark.benchmark(group="step")
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_optimizer_step(benchmark, ctx, name):
    params = make_params(SMALL, [ctx])
    kwargs = {"momentum": 0.9} if name == "sgd" else {}
    updater = mx.optimizer.get_updater(mx.optimizer.create(name, learning_rate=0.01, **kwargs))
    weights = [p.data(ctx) for p in params.values()]
    grads = [p.grad(ctx) for p in params.values()]
    for g in grads:
        g[:] = 0.5
    before = weights[0].asnumpy()
    idx = list(range(len(weights)))

    def run():
        updater(idx, grads, weights)
        _sync()

    benchmark(run)
    assert not np.array_equal(weights[0].asnumpy(), before)
