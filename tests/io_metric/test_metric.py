"""mx.metric on the CPU backend: inputs on every context and as NumPy arrays, the registry,
MXNet's CPU sum reproduced bitwise, and errors that leave the statistics unchanged."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import CheckError
from mxlite.metric._kahan import kahan_sum
from mxlite.metric.base import nd_sum

PREDS = np.array([[0.3, 0.7], [0.6, 0.4], [0.4, 0.6], [0.8, 0.2]], dtype=np.float32)
LABELS = np.array([1, 1, 1, 0], dtype=np.float32)


@pytest.mark.parametrize("name", ["acc", "f1", "mcc", "ce", "nll_loss", "top_k_acc", "pcc"])
def test_values_do_not_depend_on_the_context_or_the_input_kind(ctx: mx.Context, name: str) -> None:
    kwargs = {"top_k": 2} if name == "top_k_acc" else {}
    ref = mx.metric.create(name, **kwargs)
    ref.update([mx.nd.array(LABELS)], [mx.nd.array(PREDS)])
    on_ctx = mx.metric.create(name, **kwargs)
    on_ctx.update([mx.nd.array(LABELS, ctx=ctx)], [mx.nd.array(PREDS, ctx=ctx)])
    numpy_in = mx.metric.create(name, **kwargs)
    numpy_in.update(LABELS, PREDS)  # single NumPy arrays are wrapped like single NDArrays
    mixed = mx.metric.create(name, **kwargs)
    mixed.update([mx.nd.array(LABELS, ctx=ctx)], [PREDS])
    assert on_ctx.get() == numpy_in.get() == mixed.get() == ref.get()
    assert not math.isnan(ref.get()[1])


def test_accuracy_counts_and_local_global_split() -> None:
    acc = mx.metric.Accuracy()
    acc.update([mx.nd.array(LABELS)], [mx.nd.array(PREDS)])
    assert acc.get() == ("accuracy", 0.75) and (acc.num_inst, acc.sum_metric) == (4, 3)
    acc.reset_local()
    acc.update([mx.nd.array([0, 1])], [mx.nd.array([0, 1])])
    assert acc.get() == ("accuracy", 1.0) and acc.get_global() == ("accuracy", 5 / 6)
    assert isinstance(acc.get()[1], float)


def test_mismatched_inputs_raise_and_change_nothing() -> None:
    acc = mx.metric.Accuracy()
    acc.update([mx.nd.array(LABELS)], [mx.nd.array(PREDS)])
    before = (acc.num_inst, acc.sum_metric, acc.global_num_inst, acc.global_sum_metric)
    with pytest.raises(ValueError, match="Shape of labels 3 does not match shape of predictions 4"):
        acc.update([mx.nd.array([1, 1, 1])], [mx.nd.array(PREDS)])
    with pytest.raises(ValueError, match="Shape of labels 2 does not match shape of predictions 1"):
        acc.update([mx.nd.array([1]), mx.nd.array([1])], [mx.nd.array(PREDS)])
    assert (acc.num_inst, acc.sum_metric, acc.global_num_inst, acc.global_sum_metric) == before
    ce = mx.metric.CrossEntropy()
    with pytest.raises(CheckError, match="got 3 labels for 4 predictions"):
        ce.update([mx.nd.array([0, 1, 1])], [mx.nd.array(PREDS)])
    assert ce.num_inst == 0 and ce.sum_metric == 0.0


def test_registry_register_alias_create() -> None:
    @mx.metric.register
    @mx.metric.alias("always_one", "ones")
    class AlwaysOne(mx.metric.EvalMetric):
        def __init__(self, name: str = "one") -> None:
            super().__init__(name)

        def update(self, labels: object, preds: object) -> None:
            self.sum_metric += 1
            self.num_inst += 1

    for key in ("alwaysone", "ALWAYS_ONE", "ones"):
        metric = mx.metric.create(key)
        assert isinstance(metric, AlwaysOne) and metric.name == "one"
    metric.update(None, None)
    assert metric.get_global() == ("one", 1.0)  # no global statistics: get() is returned
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mx.metric.register(type("AlwaysOne", (mx.metric.EvalMetric,), {}))
    assert "is overriding existing metric" in str(caught[0].message)
    with pytest.raises(CheckError, match="Can only register subclass of EvalMetric"):
        mx.metric.register(int)
    with pytest.raises(TypeError, match="needs the metric"):
        mx.metric.base._create()


def test_composite_get_metric_raises_for_a_missing_index() -> None:
    comp = mx.metric.CompositeEvalMetric(["acc"])
    assert isinstance(comp.get_metric(0), mx.metric.Accuracy)
    with pytest.raises(ValueError, match="Metric index 3 is out of range 0 and 1"):
        comp.get_metric(3)


def test_f1_micro_reset_local_keeps_global_counts() -> None:
    f1 = mx.metric.F1(average="micro")
    f1.update([mx.nd.array(LABELS)], [mx.nd.array(PREDS)])
    first = f1.get()
    f1.reset_local()
    assert math.isnan(f1.get()[1]) and f1.get_global() == first
    assert f1.metrics.global_total_examples == 4


def test_custom_metric_accumulates_numpy_scalars_in_float64() -> None:
    metric = mx.metric.np(lambda label, pred: np.float32(1) / np.float32(3))
    for _ in range(3):
        metric.update([mx.nd.array([1.0])], [mx.nd.array([1.0])])
    assert type(metric.sum_metric) is float
    assert metric.sum_metric == 3 * float(np.float32(1) / np.float32(3))


def test_nd_sum_is_mxnets_kahan_sum() -> None:
    values = np.array([-0.378168, -1.849489, -0.702906, 0.0, -0.786078, 0.0], dtype=np.float32)
    values[0] = np.float32(-0.378167986869812)
    values[1] = np.float32(-1.8494888544082642)
    values[2] = np.float32(-0.7029057741165161)
    values[4] = np.float32(-0.7860777378082275)
    # MXNet 1.9.1 gives -3.7166404724121094; NumPy's pairwise sum gives -3.7166402339935303.
    assert float(kahan_sum(values)) == -3.7166404724121094
    assert float(values.sum()) == -3.7166402339935303
    assert nd_sum(np.arange(5, dtype=np.int32)) == 10
    assert kahan_sum(np.ones(3, np.float16)).dtype == np.float16
