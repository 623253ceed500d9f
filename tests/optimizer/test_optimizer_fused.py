"""Optimizer/Updater through the fused multi-tensor path equal the single-tensor path bit for bit.

The same Updater call sequence runs twice: once as is (dtype groups of more than one tensor go
to :mod:`mxlite.ops.multi_optimizer`) and once with the fused path switched off (every tensor
through the NumPy single-tensor functions), over several steps with lr/wd multipliers, an LR
scheduler, weight decay, clipping, rescaling, nonzero states and float16 multi-precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite.ops import multi_optimizer

SHAPES = [(8, 5), (5,), (1,), (3, 3, 3), (7,), (64, 64)]
NAMES = {i: f"fc{i}_{'bias' if len(s) == 1 else 'weight'}" for i, s in enumerate(SHAPES)}

CASES = [
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.0}),
    ("sgd", {"momentum": 0.9, "multi_precision": True}),
    ("nag", {"momentum": 0.8}),
    ("nag", {"momentum": 0.0}),
    ("nag", {"momentum": 0.8, "multi_precision": True}),
    ("adam", {}),
    ("adam", {"multi_precision": True, "beta1": 0.8}),
]


def _optimizer(name: str, kwargs: dict[str, Any]) -> mx.optimizer.Optimizer:
    sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.7, base_lr=0.05)
    opt = mx.optimizer.create(
        name,
        lr_scheduler=sched,
        wd=0.01,
        rescale_grad=0.5,
        clip_gradient=0.8,
        param_idx2name=dict(NAMES),
        **kwargs,
    )
    opt.set_lr_mult({0: 0.5, "fc3_weight": 2.0})
    opt.set_wd_mult({5: 3.0})
    return opt


def _weights(fp16: bool, rng: np.random.Generator) -> list[Any]:
    """float32 parameters, with every other one float16 when ``fp16`` (two dtype groups)."""
    out = []
    for i, shape in enumerate(SHAPES):
        dtype = "float16" if fp16 and i % 2 == 0 else "float32"
        out.append(mx.nd.array(rng.standard_normal(shape), dtype=dtype))
    return out


def _train(
    name: str, kwargs: dict[str, Any], steps: int = 5
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(42)
    fp16 = bool(kwargs.get("multi_precision"))
    weights = _weights(fp16, rng)
    updater = mx.optimizer.get_updater(_optimizer(name, kwargs))
    indices = list(range(len(SHAPES)))
    for _ in range(steps):
        grads = [mx.nd.array(rng.standard_normal(w.shape) * 2, dtype=w.dtype) for w in weights]
        updater(indices, grads, weights)
    states = []
    for idx in indices:
        stack = [updater.states[idx]]
        while stack:
            s = stack.pop()
            if isinstance(s, (tuple, list)):
                stack.extend(s)
            elif s is not None:
                states.append(s.asnumpy())
    return [w.asnumpy() for w in weights], states


def _bits_equal(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), f"array {i} differs"


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_updater_fused_equals_single_path_bitwise(name, kwargs, monkeypatch):
    calls: list[str] = []
    for fn in ("multi_sgd_update", "multi_nag_update", "multi_adam_update"):
        real = getattr(multi_optimizer, fn)

        def counting(*args, _real=real, _fn=fn, **kw):
            calls.append(_fn)
            return _real(*args, **kw)

        monkeypatch.setattr(multi_optimizer, fn, counting)
    fused = _train(name, kwargs)
    assert calls and all(c == f"multi_{name}_update" for c in calls)  # the fused path ran
    monkeypatch.setattr(multi_optimizer, "supported", lambda *a, **k: False)
    calls.clear()
    single = _train(name, kwargs)
    assert not calls
    _bits_equal(fused[0], single[0])
    _bits_equal(fused[1], single[1])
    assert not all(
        np.array_equal(w, w0) for w, w0 in zip(fused[0], _weights(False, np.random.default_rng(42)))
    )


def test_adam_list_call_equals_index_by_index_calls():
    """Adam reads its scalars index by index, so a list call (fused) equals one call per index."""
    rng = np.random.default_rng(3)
    w_list = [mx.nd.array(rng.standard_normal(s)) for s in SHAPES]
    w_each = [w.copy() for w in w_list]
    up_list = mx.optimizer.get_updater(_optimizer("adam", {}))
    up_each = mx.optimizer.get_updater(_optimizer("adam", {}))
    for _ in range(4):
        grads = [mx.nd.array(rng.standard_normal(s)) for s in SHAPES]
        up_list(list(range(len(SHAPES))), [g.copy() for g in grads], w_list)
        for i, g in enumerate(grads):
            up_each(i, g.copy(), w_each[i])
    _bits_equal([w.asnumpy() for w in w_list], [w.asnumpy() for w in w_each])


def test_strided_weights_fall_back_to_the_single_path():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 8)).astype(np.float32)
    weights = [
        mx.nd.array(base[:, :4]),
        mx.nd.NDArray(base.copy()[:, ::2]),
    ]  # the second is a strided view
    expected = [w.asnumpy().copy() for w in weights]
    grads = [mx.nd.array(np.ones((6, 4), np.float32)) for _ in weights]
    assert not weights[1]._data.flags.c_contiguous
    mx.optimizer.get_updater(mx.optimizer.create("sgd", learning_rate=0.1))([0, 1], grads, weights)
    for w, e in zip(weights, expected):
        np.testing.assert_array_equal(w.asnumpy(), e - np.float32(0.1))
