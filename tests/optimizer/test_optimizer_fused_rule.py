"""Fusing declared as data: which optimizer classes take the fused path, decided once per class."""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite.optimizer._fused_step import FusedStep, fused_rule
from mxlite.optimizer.updater import get_updater


class _CountingSGD(mx.optimizer.SGD):
    calls = 0

    def update_multi_precision(self, index, weight, grad, state):  # type: ignore[no-untyped-def]
        type(self).calls += 1  # MXNet's Updater calls this (with lists when aggregating)
        super().update_multi_precision(index, weight, grad, state)


class _Mixin:
    def update_multi_precision(self, index, weight, grad, state):  # type: ignore[no-untyped-def]
        raise RuntimeError("mixin update ran")


class _MixedNAG(_Mixin, mx.optimizer.NAG):
    pass


class _OwnRates(mx.optimizer.Adam):
    def _get_lrs(self, indices):  # type: ignore[no-untyped-def]
        return [0.5 * lr for lr in super()._get_lrs(indices)]


@pytest.mark.parametrize(
    ("cls", "fused", "vector"),
    [
        (mx.optimizer.SGD, True, True),
        (mx.optimizer.ccSGD, True, True),
        (mx.optimizer.NAG, True, True),
        (mx.optimizer.Adam, True, True),
        (_CountingSGD, False, False),
        (_MixedNAG, False, False),
        (_OwnRates, True, False),
        (mx.optimizer.RMSProp, False, False),
        (mx.optimizer.AdaGrad, False, False),
    ],
)
def test_fused_rule_by_class(cls: type, fused: bool, vector: bool) -> None:
    rule = fused_rule(cls())
    assert (rule is not None) == fused
    if rule is not None:
        assert rule.vector_scalars == vector


def test_declared_rule_names_the_family_kernel() -> None:
    assert mx.optimizer.SGD.fused_rule.kernel is not mx.optimizer.NAG.fused_rule.kernel
    assert mx.optimizer.Adam.fused_rule.bias and not mx.optimizer.SGD.fused_rule.bias


def _step(opt: mx.optimizer.Optimizer, n: int = 20) -> tuple[list[np.ndarray], object]:
    rng = np.random.default_rng(0)
    weights = [mx.nd.array(rng.standard_normal((3, 4)).astype(np.float32)) for _ in range(n)]
    grads = [mx.nd.array(rng.standard_normal((3, 4)).astype(np.float32)) for _ in range(n)]
    updater = get_updater(opt)
    updater(list(range(n)), grads, weights)
    plan = next(iter(updater._plans.values())).step if updater._plans else None
    return [w.asnumpy() for w in weights], plan


def test_overriding_update_runs_the_subclass_code_and_matches_the_fused_values() -> None:
    _CountingSGD.calls = 0
    got, plan = _step(_CountingSGD(learning_rate=0.1, momentum=0.9))
    assert _CountingSGD.calls > 0
    assert not isinstance(plan, FusedStep)
    want, fused_plan = _step(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
    assert isinstance(fused_plan, FusedStep)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_mixin_update_is_called() -> None:
    with pytest.raises(RuntimeError, match="mixin update ran"):
        _step(_MixedNAG(learning_rate=0.1, momentum=0.9))


def test_overridden_scalar_hook_is_honoured_on_the_fused_path() -> None:
    got, _ = _step(_OwnRates(learning_rate=0.02))
    want, _ = _step(mx.optimizer.Adam(learning_rate=0.01))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
