"""``Loss`` (and its ``Torch``/``Caffe`` aliases), ``CustomMetric`` and the ``np`` decorator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy

from mxlite.metric.base import EvalMetric, check_label_shapes, nd_sum, register, to_host
from mxlite.ndarray.ndarray import NDArray

__all__ = ["Loss", "Torch", "Caffe", "CustomMetric", "np"]


@register
class Loss(EvalMetric):
    """The mean of loss values: ``sum(preds) / number of elements`` (labels are ignored).

    Args:
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
    """

    def __init__(
        self,
        name: str = "loss",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            name, output_names=output_names, label_names=label_names, has_global_stats=True
        )

    def update(self, _: Any, preds: Any) -> None:
        """Add the loss arrays ``preds`` (a list, or one array)."""
        if isinstance(preds, (NDArray, numpy.ndarray)):
            preds = [preds]
        for pred in preds:
            host = to_host(pred)
            loss = float(nd_sum(host))
            self.sum_metric += loss
            self.global_sum_metric += loss
            self.num_inst += host.size
            self.global_num_inst += host.size


@register
class Torch(Loss):
    """``Loss`` under the name 'torch' (kept for MXNet's Torch plugin)."""

    def __init__(
        self,
        name: str = "torch",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name, output_names=output_names, label_names=label_names)


@register
class Caffe(Loss):
    """``Loss`` under the name 'caffe' (kept for MXNet's Caffe plugin)."""

    def __init__(
        self,
        name: str = "caffe",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name, output_names=output_names, label_names=label_names)


def _python_number(value: Any) -> Any:
    """A NumPy scalar (or 0-d array) as a Python number, so sums accumulate in float64 as they
    do in MXNet (under NumPy 2 a Python float plus a float32 scalar stays float32)."""
    if isinstance(value, (numpy.generic, numpy.ndarray)) and numpy.ndim(value) == 0:
        return value.item()
    return value


@register
class CustomMetric(EvalMetric):
    """A metric computed by ``feval(label, pred)`` on NumPy arrays, per (label, pred) pair.

    ``feval`` returns either a value (each call then counts as one instance) or a tuple
    ``(sum_metric, num_inst)``.

    Args:
        feval: the evaluation function.
        name: display name (default: ``feval.__name__``, ``'custom(<lambda>)'`` for lambdas).
        allow_extra_outputs: allow more predictions than labels (the extra ones are ignored).
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
    """

    def __init__(
        self,
        feval: Callable[[Any, Any], Any],
        name: str | None = None,
        allow_extra_outputs: bool = False,
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        if name is None:
            name = feval.__name__
            if name.find("<") != -1:
                name = f"custom({name})"
        super().__init__(
            name,
            feval=feval,
            allow_extra_outputs=allow_extra_outputs,
            output_names=output_names,
            label_names=label_names,
            has_global_stats=True,
        )
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch.

        Raises:
            ValueError: different numbers of labels and predictions (unless
                ``allow_extra_outputs``).
        """
        if not self._allow_extra_outputs:
            labels, preds = check_label_shapes(labels, preds, True)
        for pred, label in zip(preds, labels):
            reval = self._feval(to_host(label), to_host(pred))
            if isinstance(reval, tuple):
                sum_metric, num_inst = (_python_number(v) for v in reval)
                self.sum_metric += sum_metric
                self.global_sum_metric += sum_metric
                self.num_inst += num_inst
                self.global_num_inst += num_inst
            else:
                reval = _python_number(reval)
                self.sum_metric += reval
                self.global_sum_metric += reval
                self.num_inst += 1
                self.global_num_inst += 1

    def get_config(self) -> dict[str, Any]:
        """Not available: a function cannot be serialized.

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError("CustomMetric cannot be serialized")


def np(  # noqa: N802 - MXNet's name
    numpy_feval: Callable[[Any, Any], Any],
    name: str | None = None,
    allow_extra_outputs: bool = False,
) -> CustomMetric:
    """A :class:`CustomMetric` from a function of NumPy ``(label, pred)`` returning a float.

    Example::

        def custom_metric(label, pred):
            return numpy.mean(numpy.abs(label - pred))

        metric = mx.metric.np(custom_metric)
    """

    def feval(label: Any, pred: Any) -> Any:
        return numpy_feval(label, pred)

    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
