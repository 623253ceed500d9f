"""``EvalMetric``, the metric registry (``register``/``alias``/``create``), ``CompositeEvalMetric``
and the input helpers every metric shares.

Every metric keeps two sets of statistics: *local* ones (``num_inst``, ``sum_metric``) that
``reset_local`` clears, e.g. at each logging interval, and *global* ones (``global_num_inst``,
``global_sum_metric``) that only ``reset`` clears, e.g. at each epoch. ``get`` reads the local,
``get_global`` the global statistics (metrics made without global statistics return ``get()``).

Inputs are NDArrays on any context (GPU arrays are reduced on their device where a metric
needs only a summary, e.g. an argmax, then copied to the host), lists of them, and, beyond
MXNet, NumPy arrays. Sums accumulate in float64 as in MXNet (each batch's value is a NumPy
scalar added to a Python float); values are returned as Python floats.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import backend, registry
from mxlite.base import numeric_types, string_types
from mxlite.ndarray.ndarray import NDArray

__all__ = [
    "check_label_shapes",
    "EvalMetric",
    "CompositeEvalMetric",
    "register",
    "alias",
    "create",
    "to_host",
    "argmax_to_host",
    "nd_sum",
]

_MSG_SHAPES = "Shape of labels {} does not match shape of predictions {}"


def _is_array(x: Any) -> bool:
    return isinstance(x, (NDArray, np.ndarray))


def check_label_shapes(
    labels: Any, preds: Any, wrap: bool = False, shape: bool = False
) -> tuple[Any, Any]:
    """Check that ``labels`` and ``preds`` have the same length (or, with ``shape``, shape).

    Args:
        labels: a list of arrays, or one array.
        preds: a list of arrays, or one array.
        wrap: wrap a single array (NDArray or NumPy) in a list.
        shape: compare ``.shape`` instead of ``len()``.

    Returns:
        ``(labels, preds)``, wrapped when asked.

    Raises:
        ValueError: the lengths (shapes) differ; the message shows both.
    """
    if not shape:
        label_shape, pred_shape = len(labels), len(preds)
    else:
        label_shape, pred_shape = labels.shape, preds.shape
    if label_shape != pred_shape:
        raise ValueError(_MSG_SHAPES.format(label_shape, pred_shape))
    if wrap:
        if _is_array(labels):
            labels = [labels]
        if _is_array(preds):
            preds = [preds]
    return labels, preds


def to_host(x: Any) -> np.ndarray:
    """The values of an NDArray (any context), a NumPy array or an array-like as NumPy."""
    if isinstance(x, NDArray):
        return x.asnumpy()
    return np.asarray(x)


def nd_sum(host: np.ndarray) -> Any:
    """The sum of all elements as MXNet's CPU ``mx.nd.sum`` gives it: floats through one
    Kahan-compensated pass (bitwise MXNet's, see :mod:`mxlite.metric._kahan`), integers exactly."""
    if host.dtype.kind == "f":
        from mxlite.metric._kahan import kahan_sum

        return kahan_sum(host)
    return host.sum()


def argmax_to_host(x: Any, axis: int) -> np.ndarray:
    """``argmax`` along ``axis`` computed where ``x`` lives, copied to the host."""
    if isinstance(x, NDArray):
        xp = x._xp
        with backend.array_device_guard(x._data):
            return backend.to_numpy(xp.argmax(x._data, axis=axis))
    return np.argmax(np.asarray(x), axis=axis)


class EvalMetric:
    """Base class of evaluation metrics; subclasses implement :meth:`update`.

    Args:
        name: the metric's display name.
        output_names: the predictions :meth:`update_dict` uses (default: all).
        label_names: the labels :meth:`update_dict` uses (default: all).
        **kwargs: constructor arguments recorded for :meth:`get_config`; ``has_global_stats``
            (default False) says whether global statistics are kept apart from local ones.
    """

    def __init__(
        self,
        name: str,
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._has_global_stats = kwargs.pop("has_global_stats", False)
        self._kwargs = kwargs
        self.reset()

    def __str__(self) -> str:
        return f"EvalMetric: {dict(self.get_name_value())}"

    def get_config(self) -> dict[str, Any]:
        """The configuration ``mx.metric.create(**config)`` rebuilds this metric from."""
        config = self._kwargs.copy()
        config.update(
            {
                "metric": self.__class__.__name__,
                "name": self.name,
                "output_names": self.output_names,
                "label_names": self.label_names,
            }
        )
        return config

    def update_dict(self, label: dict[str, Any], pred: dict[str, Any]) -> None:
        """Update with name -> array mappings, picking ``label_names`` / ``output_names``."""
        preds = (
            [pred[name] for name in self.output_names]
            if self.output_names is not None
            else list(pred.values())
        )
        labels = (
            [label[name] for name in self.label_names]
            if self.label_names is not None
            else list(label.values())
        )
        self.update(labels, preds)

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch: ``labels`` and ``preds`` are lists of arrays (or single arrays)."""
        raise NotImplementedError()

    def reset(self) -> None:
        """Clear local and global statistics."""
        self.num_inst: Any = 0
        self.sum_metric: Any = 0.0
        self.global_num_inst: Any = 0
        self.global_sum_metric: Any = 0.0

    def reset_local(self) -> None:
        """Clear the local statistics only."""
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self) -> tuple[Any, Any]:
        """``(name, value)`` of the local statistics; the value is NaN before any update."""
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, float(self.sum_metric / self.num_inst))

    def get_global(self) -> tuple[Any, Any]:
        """``(name, value)`` of the global statistics (``get()`` without global statistics)."""
        if self._has_global_stats:
            if self.global_num_inst == 0:
                return (self.name, float("nan"))
            return (self.name, float(self.global_sum_metric / self.global_num_inst))
        return self.get()

    @staticmethod
    def _zip(name: Any, value: Any) -> list[tuple[Any, Any]]:
        if not isinstance(name, list):
            name = [name]
        if not isinstance(value, list):
            value = [value]
        return list(zip(name, value))

    def get_name_value(self) -> list[tuple[Any, Any]]:
        """``[(name, value), ...]`` of :meth:`get`."""
        return self._zip(*self.get())

    def get_global_name_value(self) -> list[tuple[Any, Any]]:
        """``[(name, value), ...]`` of :meth:`get_global`."""
        if self._has_global_stats:
            return self._zip(*self.get_global())
        return self.get_name_value()


register = registry.get_register_func(EvalMetric, "metric")
alias = registry.get_alias_func(EvalMetric, "metric")
_create = registry.get_create_func(EvalMetric, "metric")


def create(metric: Any, *args: Any, **kwargs: Any) -> EvalMetric:
    """Make a metric from a name (``'acc'``, ``'f1'``, ...), an instance, a list of those (a
    ``CompositeEvalMetric``) or a function ``feval(label, pred)`` (a ``CustomMetric``).

    ``args`` and ``kwargs`` go to the constructor (to each one for a list).

    Raises:
        CheckError: the name is not registered.
    """
    if callable(metric):
        from mxlite.metric.custom import CustomMetric

        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, list):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    return _create(metric, *args, **kwargs)  # type: ignore[no-any-return]


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get`` returns ``([names], [values])``.

    Args:
        metrics: child metrics (anything :func:`create` accepts).
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
    """

    def __init__(
        self,
        metrics: Sequence[Any] | None = None,
        name: str = "composite",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            name, output_names=output_names, label_names=label_names, has_global_stats=True
        )
        self.metrics = [create(i) for i in (metrics or [])]

    def add(self, metric: Any) -> None:
        """Append a child metric (anything :func:`create` accepts)."""
        self.metrics.append(create(metric))

    def get_metric(self, index: int) -> EvalMetric:
        """The ``index``-th child.

        Raises:
            ValueError: no such child (MXNet returns the error instead of raising it).
        """
        try:
            return self.metrics[index]
        except IndexError:
            raise ValueError(
                f"Metric index {index} is out of range 0 and {len(self.metrics)}"
            ) from None

    def update_dict(self, labels: dict[str, Any], preds: dict[str, Any]) -> None:  # type: ignore[override]
        if self.label_names is not None:
            labels = OrderedDict([i for i in labels.items() if i[0] in self.label_names])
        if self.output_names is not None:
            preds = OrderedDict([i for i in preds.items() if i[0] in self.output_names])
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels: Any, preds: Any) -> None:
        for metric in self.metrics:
            metric.update(labels, preds)

    def reset(self) -> None:
        for metric in getattr(self, "metrics", []):
            metric.reset()

    def reset_local(self) -> None:
        for metric in getattr(self, "metrics", []):
            metric.reset_local()

    def _gather(self, getter: Callable[[EvalMetric], tuple[Any, Any]]) -> tuple[Any, Any]:
        names: list[Any] = []
        values: list[Any] = []
        for metric in self.metrics:
            name, value = getter(metric)
            if isinstance(name, string_types):
                name = [name]
            if isinstance(value, numeric_types):
                value = [value]
            names.extend(name)
            values.extend(value)
        return (names, values)

    def get(self) -> tuple[Any, Any]:
        return self._gather(lambda m: m.get())

    def get_global(self) -> tuple[Any, Any]:
        return self._gather(lambda m: m.get_global())

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"metrics": [i.get_config() for i in self.metrics]})
        return config
