"""Classification metrics: ``Accuracy``, ``TopKAccuracy``, ``F1``, ``MCC`` and ``PCC``.

Formulas and aggregation are MXNet 1.9.1's. ``F1`` and ``MCC`` are binary (labels 0/1,
predictions ``(N, 2)`` scores whose argmax is the predicted class); with ``average='macro'``
their value is the mean of per-update scores, with ``'micro'`` one score over all updates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite.base import CheckError
from mxlite.metric.base import (
    EvalMetric,
    alias,
    argmax_to_host,
    check_label_shapes,
    register,
    to_host,
)

__all__ = ["Accuracy", "TopKAccuracy", "F1", "MCC", "PCC"]


@register
@alias("acc")
class Accuracy(EvalMetric):
    """Fraction of samples whose predicted class equals the label.

    A prediction of another shape than its label holds class scores along ``axis`` (its
    argmax is the predicted class); one of the same shape holds class indices.

    Args:
        axis: the class axis of score predictions.
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
    """

    def __init__(
        self,
        axis: int = 1,
        name: str = "accuracy",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            name,
            axis=axis,
            output_names=output_names,
            label_names=label_names,
            has_global_stats=True,
        )
        self.axis = axis

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch.

        Raises:
            ValueError: different numbers of labels and predictions, or a label and its
                prediction hold different numbers of samples.
        """
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            if pred.shape != label.shape:
                pred_label = argmax_to_host(pred, self.axis)
            else:
                pred_label = to_host(pred)
            pred_flat = pred_label.astype("int32").reshape(-1)
            label_flat = to_host(label).astype("int32").reshape(-1)
            check_label_shapes(label_flat, pred_flat)
            num_correct = int((pred_flat == label_flat).sum())
            self.sum_metric += num_correct
            self.global_sum_metric += num_correct
            self.num_inst += len(pred_flat)
            self.global_num_inst += len(pred_flat)


@register
@alias("top_k_accuracy", "top_k_acc")
class TopKAccuracy(EvalMetric):
    """Fraction of samples whose label is among the ``top_k`` highest-scored classes.

    Args:
        top_k: how many classes count (more than 1; use Accuracy for 1). The name becomes
            ``'<name>_<top_k>'``.
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.

    Raises:
        CheckError: ``top_k`` is not more than 1.
    """

    def __init__(
        self,
        top_k: int = 1,
        name: str = "top_k_accuracy",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            name,
            top_k=top_k,
            output_names=output_names,
            label_names=label_names,
            has_global_stats=True,
        )
        self.top_k = top_k
        if not self.top_k > 1:
            raise CheckError("Please use Accuracy if top_k is no more than 1")
        self.name += f"_{self.top_k}"

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch of ``(N, C)`` scores (or ``(N,)``) and ``(N,)`` labels.

        Raises:
            CheckError: a prediction has more than 2 dimensions.
            ValueError: label and prediction lengths differ.
        """
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            if len(pred.shape) > 2:
                raise CheckError(
                    f"Predictions should be no more than 2 dims (got shape {tuple(pred.shape)})"
                )
            pred_label = np.argpartition(to_host(pred).astype("float32"), -self.top_k)
            label_host = to_host(label).astype("int32")
            check_label_shapes(label_host, pred_label)
            num_samples = pred_label.shape[0]
            correct = 0
            if pred_label.ndim == 1:
                correct = int((pred_label.reshape(-1) == label_host.reshape(-1)).sum())
            else:
                num_classes = pred_label.shape[1]
                for j in range(min(num_classes, self.top_k)):
                    column = pred_label[:, num_classes - 1 - j].reshape(-1)
                    correct += int((column == label_host.reshape(-1)).sum())
            self.sum_metric += correct
            self.global_sum_metric += correct
            self.num_inst += num_samples
            self.global_num_inst += num_samples


class _BinaryClassificationMetrics:
    """True/false positive/negative counts over batches, local and global."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self.reset_stats()

    def update_binary_stats(self, label: Any, pred: Any) -> None:
        """Count one batch: ``pred`` is ``(N, 2)`` scores, ``label`` ``(N,)`` of 0/1.

        Raises:
            ValueError: lengths differ, or the labels hold more than two classes.
        """
        pred_host = to_host(pred)
        label_host = to_host(label).astype("int32")
        pred_label = np.argmax(pred_host, axis=1)
        check_label_shapes(label_host, pred_host)
        classes = np.unique(label_host)
        if len(classes) > 2:
            raise ValueError(
                f"{self._owner} currently only supports binary classification (the labels "
                f"hold {len(classes)} classes: {classes.tolist()})."
            )
        pred_true = np.asarray(pred_label == 1)
        pred_false = 1 - pred_true
        label_true = np.asarray(label_host == 1)
        label_false = 1 - label_true
        tp = int((pred_true * label_true).sum())
        fp = int((pred_true * label_false).sum())
        fn = int((pred_false * label_true).sum())
        tn = int((pred_false * label_false).sum())
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += fn
        self.true_negatives += tn
        self.global_true_positives += tp
        self.global_false_positives += fp
        self.global_false_negatives += fn
        self.global_true_negatives += tn

    @staticmethod
    def _ratio(num: int, den: int) -> float:
        return float(num) / den if den > 0 else 0.0

    @staticmethod
    def _harmonic(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def precision(self) -> float:
        return self._ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def global_precision(self) -> float:
        tp = self.global_true_positives
        return self._ratio(tp, tp + self.global_false_positives)

    @property
    def recall(self) -> float:
        return self._ratio(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def global_recall(self) -> float:
        tp = self.global_true_positives
        return self._ratio(tp, tp + self.global_false_negatives)

    @property
    def fscore(self) -> float:
        return self._harmonic(self.precision, self.recall)

    @property
    def global_fscore(self) -> float:
        return self._harmonic(self.global_precision, self.global_recall)

    def matthewscc(self, use_global: bool = False) -> float:
        """Matthews' correlation coefficient; zero terms of the denominator count as 1."""
        prefix = "global_" if use_global else ""
        if not getattr(self, prefix + "total_examples"):
            return 0.0
        tp = float(getattr(self, prefix + "true_positives"))
        fp = float(getattr(self, prefix + "false_positives"))
        fn = float(getattr(self, prefix + "false_negatives"))
        tn = float(getattr(self, prefix + "true_negatives"))
        denom = 1.0
        for term in (tp + fp, tp + fn, tn + fp, tn + fn):
            if term != 0.0:
                denom *= term
        return ((tp * tn) - (fp * fn)) / math.sqrt(denom)

    @property
    def total_examples(self) -> int:
        return (
            self.false_negatives + self.false_positives + self.true_negatives + self.true_positives
        )

    @property
    def global_total_examples(self) -> int:
        return (
            self.global_false_negatives
            + self.global_false_positives
            + self.global_true_negatives
            + self.global_true_positives
        )

    def local_reset_stats(self) -> None:
        self.false_positives = 0
        self.false_negatives = 0
        self.true_positives = 0
        self.true_negatives = 0

    def reset_stats(self) -> None:
        self.local_reset_stats()
        self.global_false_positives = 0
        self.global_false_negatives = 0
        self.global_true_positives = 0
        self.global_true_negatives = 0


class _BinaryMetric(EvalMetric):
    """F1 and MCC: a score of the binary counts, per update ('macro') or overall ('micro')."""

    def __init__(
        self,
        name: str,
        output_names: Sequence[str] | None,
        label_names: Sequence[str] | None,
        average: str,
    ) -> None:
        self._average = average
        self._metrics = _BinaryClassificationMetrics(type(self).__name__)
        EvalMetric.__init__(
            self,
            name=name,
            output_names=output_names,
            label_names=label_names,
            has_global_stats=True,
        )

    def _score(self, use_global: bool) -> float:
        raise NotImplementedError

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch of ``(N,)`` 0/1 labels and ``(N, 2)`` scores.

        Raises:
            ValueError: lengths differ, or the labels hold more than two classes.
        """
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            self._metrics.update_binary_stats(label, pred)
        stats = self._metrics
        if self._average == "macro":
            self.sum_metric += self._score(False)
            self.global_sum_metric += self._score(True)
            self.num_inst += 1
            self.global_num_inst += 1
            stats.reset_stats()
        else:
            self.sum_metric = self._score(False) * stats.total_examples
            self.global_sum_metric = self._score(True) * stats.global_total_examples
            self.num_inst = stats.total_examples
            self.global_num_inst = stats.global_total_examples

    def reset(self) -> None:
        self.sum_metric = 0.0
        self.num_inst = 0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0
        self._metrics.reset_stats()

    def reset_local(self) -> None:
        self.sum_metric = 0.0
        self.num_inst = 0
        self._metrics.local_reset_stats()


@register
class F1(_BinaryMetric):
    """F1 score of a binary classification: ``2 * precision * recall / (precision + recall)``.

    Args:
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
        average: ``'macro'`` (mean of per-update F1) or ``'micro'`` (F1 of all counts).
    """

    def __init__(
        self,
        name: str = "f1",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
        average: str = "macro",
    ) -> None:
        self.average = average
        super().__init__(name, output_names, label_names, average)

    @property
    def metrics(self) -> _BinaryClassificationMetrics:
        """The binary counts."""
        return self._metrics

    def _score(self, use_global: bool) -> float:
        return self._metrics.global_fscore if use_global else self._metrics.fscore


@register
class MCC(_BinaryMetric):
    """Matthews correlation coefficient of a binary classification:
    ``(TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))``, zero terms counting as 1.

    Args:
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
        average: ``'macro'`` (mean of per-update MCC) or ``'micro'`` (MCC of all counts).
    """

    def __init__(
        self,
        name: str = "mcc",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
        average: str = "macro",
    ) -> None:
        super().__init__(name, output_names, label_names, average)

    def _score(self, use_global: bool) -> float:
        return self._metrics.matthewscc(use_global=use_global)


@register
class PCC(EvalMetric):
    """Multiclass Matthews correlation (the discrete Pearson correlation) of the confusion
    matrix, which grows as new classes appear.

    Args:
        name: display name.
        output_names: see :class:`EvalMetric`.
        label_names: see :class:`EvalMetric`.
        has_global_stats: keep global statistics apart from local ones.
    """

    def __init__(
        self,
        name: str = "pcc",
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
        has_global_stats: bool = True,
    ) -> None:
        self.k = 2
        super().__init__(
            name=name,
            output_names=output_names,
            label_names=label_names,
            has_global_stats=has_global_stats,
        )

    lcm: np.ndarray
    gcm: np.ndarray

    def _grow(self, inc: int) -> None:
        self.lcm = np.pad(self.lcm, ((0, inc), (0, inc)), "constant", constant_values=(0))
        self.gcm = np.pad(self.gcm, ((0, inc), (0, inc)), "constant", constant_values=(0))
        self.k += inc

    @staticmethod
    def _calc_mcc(cmat: np.ndarray) -> float:
        n = cmat.sum()
        x = cmat.sum(axis=1)
        y = cmat.sum(axis=0)
        cov_xx = np.sum(x * (n - x))
        cov_yy = np.sum(y * (n - y))
        if cov_xx == 0 or cov_yy == 0:
            return float("nan")
        i = cmat.diagonal()
        cov_xy = np.sum(i * n - x * y)
        return float(cov_xy / (cov_xx * cov_yy) ** 0.5)

    def update(self, labels: Any, preds: Any) -> None:
        """Add a batch of integer labels and class scores (or class indices)."""
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label_host = to_host(label).astype("int32")
            if pred.shape != label.shape:
                pred_host = argmax_to_host(pred, 1)
            else:
                pred_host = to_host(pred).astype("int32")
            n = max(pred_host.max(), label_host.max())
            if n >= self.k:
                self._grow(int(n) + 1 - self.k)
            bcm = np.zeros((self.k, self.k))
            for i, j in zip(pred_host, label_host):
                bcm[i, j] += 1
            self.lcm += bcm
            self.gcm += bcm
        self.num_inst += 1
        self.global_num_inst += 1

    @property  # type: ignore[override]
    def sum_metric(self) -> float:  # type: ignore[override]
        return self._calc_mcc(self.lcm) * self.num_inst

    @property  # type: ignore[override]
    def global_sum_metric(self) -> float:  # type: ignore[override]
        return self._calc_mcc(self.gcm) * self.global_num_inst

    def reset(self) -> None:
        self.global_num_inst = 0.0
        self.gcm = np.zeros((self.k, self.k))
        self.reset_local()

    def reset_local(self) -> None:
        self.num_inst = 0.0
        self.lcm = np.zeros((self.k, self.k))
