"""Regression and probability metrics: ``MAE``, ``MSE``, ``RMSE``, ``CrossEntropy``,
``NegativeLogLikelihood``, ``Perplexity`` and ``PearsonCorrelation`` (MXNet 1.9.1's formulas).

``MAE``/``MSE``/``RMSE`` average the per-update value (each update counts once, whatever its
batch size), as MXNet does. The per-update values are computed in the inputs' dtype (float32
for float32 arrays) and accumulated in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite.base import CheckError
from mxlite.metric.base import EvalMetric, alias, check_label_shapes, nd_sum, register, to_host

__all__ = [
    "MAE",
    "MSE",
    "RMSE",
    "CrossEntropy",
    "NegativeLogLikelihood",
    "Perplexity",
    "PearsonCorrelation",
]


class _PairwiseError(EvalMetric):
    """Base of MAE/MSE/RMSE: ``_value(label, pred)`` per (label, pred) pair, 1-D arrays being
    read as columns ``(N, 1)``."""

    def __init__(
        self,
        name: str,
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            name, output_names=output_names, label_names=label_names, has_global_stats=True
        )

    @staticmethod
    def _value(label: np.ndarray, pred: np.ndarray) -> Any:
        raise NotImplementedError

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch.

        Raises:
            ValueError: different numbers of labels and predictions, or shapes that do not
                broadcast.
        """
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label_host = to_host(label)
            pred_host = to_host(pred)
            if label_host.ndim == 1:
                label_host = label_host.reshape(label_host.shape[0], 1)
            if pred_host.ndim == 1:
                pred_host = pred_host.reshape(pred_host.shape[0], 1)
            value = float(self._value(label_host, pred_host))
            self.sum_metric += value
            self.global_sum_metric += value
            self.num_inst += 1
            self.global_num_inst += 1


@register
class MAE(_PairwiseError):
    """Mean absolute error ``mean(|label - pred|)``, averaged over updates."""

    def __init__(
        self,
        name: str = "mae",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _value(label: np.ndarray, pred: np.ndarray) -> Any:
        return np.abs(label - pred).mean()


@register
class MSE(_PairwiseError):
    """Mean squared error ``mean((label - pred)**2)``, averaged over updates."""

    def __init__(
        self,
        name: str = "mse",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _value(label: np.ndarray, pred: np.ndarray) -> Any:
        return ((label - pred) ** 2.0).mean()


@register
class RMSE(_PairwiseError):
    """Root mean squared error ``sqrt(mean((label - pred)**2))``, averaged over updates."""

    def __init__(
        self,
        name: str = "rmse",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _value(label: np.ndarray, pred: np.ndarray) -> Any:
        return np.sqrt(((label - pred) ** 2.0).mean())


class _LogLoss(EvalMetric):
    """Base of CrossEntropy and NegativeLogLikelihood: ``-sum(log(pred[i, label[i]] + eps))``
    over samples, divided by the number of samples."""

    def __init__(
        self,
        eps: float,
        name: str,
        output_names: Sequence[str] | None,
        label_names: Sequence[str] | None,
    ) -> None:
        super().__init__(
            name,
            eps=eps,
            output_names=output_names,
            label_names=label_names,
            has_global_stats=True,
        )
        self.eps = eps

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch of ``(N,)`` class labels and ``(N, C)`` probabilities.

        Raises:
            ValueError: different numbers of labels and predictions.
            CheckError: a label array does not hold one label per prediction row.
        """
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label_host = to_host(label).ravel()
            pred_host = to_host(pred)
            num_examples = pred_host.shape[0]
            if label_host.shape[0] != num_examples:
                raise CheckError(
                    f"{type(self).__name__}: got {label_host.shape[0]} labels for "
                    f"{num_examples} predictions (pred shape {pred_host.shape}); pass one "
                    "class index per prediction row."
                )
            prob = pred_host[np.arange(num_examples, dtype=np.int64), np.int64(label_host)]
            loss = float((-np.log(prob + self.eps)).sum())
            self.sum_metric += loss
            self.global_sum_metric += loss
            self.num_inst += num_examples
            self.global_num_inst += num_examples


@register
@alias("ce")
class CrossEntropy(_LogLoss):
    """Cross entropy of predicted probabilities: ``-sum(log(p[label] + eps)) / N``.

    Args:
        eps: added to each probability (log of 0 is undefined).
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
    """

    def __init__(
        self,
        eps: float = 1e-12,
        name: str = "cross-entropy",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(eps, name, output_names, label_names)


@register
@alias("nll_loss")
class NegativeLogLikelihood(_LogLoss):
    """Negative log-likelihood of predicted probabilities: ``-sum(log(p[label] + eps)) / N``.

    Args:
        eps: added to each probability.
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
    """

    def __init__(
        self,
        eps: float = 1e-12,
        name: str = "nll-loss",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(eps, name, output_names, label_names)


@register
class Perplexity(EvalMetric):
    """Perplexity ``exp(-sum(log(max(1e-10, p[label]))) / N)`` over non-ignored labels.

    Args:
        ignore_label: a label value to leave out of the count (None counts all).
        axis: the class axis of the predictions.
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
    """

    def __init__(
        self,
        ignore_label: int | None,
        axis: int = -1,
        name: str = "perplexity",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            name,
            ignore_label=ignore_label,
            output_names=output_names,
            label_names=label_names,
            has_global_stats=True,
        )
        self.ignore_label = ignore_label
        self.axis = axis

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch: each label array holds one class index per prediction row.

        Raises:
            CheckError: different numbers of labels and predictions, or a label array whose
                size is not the number of prediction rows.
        """
        if len(labels) != len(preds):
            raise CheckError(
                f"Perplexity: got {len(labels)} label arrays for {len(preds)} predictions"
            )
        loss = 0.0
        num: Any = 0
        for label, pred in zip(labels, preds):
            pred_host = to_host(pred)
            label_host = to_host(label).reshape(-1)
            classes = pred_host.shape[self.axis]
            if label_host.size != pred_host.size / pred_host.shape[-1]:
                raise CheckError(f"shape mismatch: {tuple(label.shape)} vs. {tuple(pred.shape)}")
            rows = np.moveaxis(pred_host, self.axis, -1).reshape(-1, classes)
            picked = rows[
                np.arange(rows.shape[0]), np.clip(label_host.astype(np.int32), 0, classes - 1)
            ]
            if self.ignore_label is not None:
                ignore = (label_host == self.ignore_label).astype(picked.dtype)
                num -= float(ignore.sum())
                picked = picked * (1 - ignore) + ignore
            clipped = np.maximum(picked.dtype.type(1e-10), picked)
            # MXNet's log is the C library's; NumPy's vectorized float32 log can differ from it
            # in the last bit, a correctly rounded float64 log does not (in practice).
            logs = np.log(clipped.astype(np.float64)).astype(clipped.dtype)
            loss -= float(nd_sum(logs))
            num += picked.size
        self.sum_metric += loss
        self.global_sum_metric += loss
        self.num_inst += num
        self.global_num_inst += num

    def get(self) -> tuple[Any, Any]:
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.sum_metric / self.num_inst))

    def get_global(self) -> tuple[Any, Any]:
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.global_sum_metric / self.global_num_inst))


@register
@alias("pearsonr")
class PearsonCorrelation(EvalMetric):
    """Pearson correlation of predictions and labels.

    Args:
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
        average: ``'macro'`` (mean of per-update correlations) or ``'micro'`` (one correlation
            over everything seen, with Welford's running moments).
    """

    def __init__(
        self,
        name: str = "pearsonr",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
        average: str = "macro",
    ) -> None:
        self.average = average
        super().__init__(
            name, output_names=output_names, label_names=label_names, has_global_stats=True
        )
        if self.average == "micro":
            self.reset_micro()

    def reset_micro(self) -> None:
        """Clear the running moments of the 'micro' average."""
        self._sse_p: Any = 0
        self._mean_p: Any = 0
        self._sse_l: Any = 0
        self._mean_l: Any = 0
        self._pred_nums = 0
        self._label_nums = 0
        self._conv: Any = 0

    def reset(self) -> None:
        self.num_inst = 0
        self.sum_metric = 0.0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0
        if self.average == "micro":
            self.reset_micro()

    @staticmethod
    def update_variance(new_values: np.ndarray, *aggregate: Any) -> tuple[Any, Any, Any]:
        """Welford's online update of ``(count, mean, sum of squared deviations)``."""
        count, mean, m_2 = aggregate
        count += len(new_values)
        delta = new_values - mean
        mean += np.sum(delta / count)
        delta_2 = new_values - mean
        m_2 += np.sum(delta * delta_2)
        return count, mean, m_2

    def update_cov(self, label: np.ndarray, pred: np.ndarray) -> None:
        """Add the batch's co-deviation from the running means."""
        self._conv = self._conv + np.sum((label - self._mean_l) * (pred - self._mean_p))

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch.

        Raises:
            ValueError: different numbers of labels and predictions, or a label and its
                prediction have different shapes.
        """
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            check_label_shapes(label, pred, False, True)
            label_host = to_host(label).ravel().astype(np.float64)
            pred_host = to_host(pred).ravel().astype(np.float64)
            self.num_inst += 1
            self.global_num_inst += 1
            if self.average == "macro":
                corr = float(np.corrcoef(pred_host, label_host)[0, 1])
                self.sum_metric += corr
                self.global_sum_metric += corr
            else:
                self._label_nums, self._mean_l, self._sse_l = self.update_variance(
                    label_host, self._label_nums, self._mean_l, self._sse_l
                )
                self.update_cov(label_host, pred_host)
                self._pred_nums, self._mean_p, self._sse_p = self.update_variance(
                    pred_host, self._pred_nums, self._mean_p, self._sse_p
                )

    def get(self) -> tuple[Any, Any]:
        if self.num_inst == 0:
            return (self.name, float("nan"))
        if self.average == "macro":
            return (self.name, float(self.sum_metric / self.num_inst))
        n = self._label_nums
        pearsonr = self._conv / (
            (n - 1) * np.sqrt(self._sse_p / (n - 1)) * np.sqrt(self._sse_l / (n - 1))
        )
        return (self.name, float(pearsonr))
