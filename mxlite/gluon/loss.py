"""Losses for training (``gluon.loss``), with MXNet 1.9.1's formulas, arguments and weighting.

Every loss takes ``(pred, label, sample_weight=None)`` (the binary cross-entropy also
``pos_weight``), multiplies the elementwise loss by ``sample_weight`` (broadcast) and by the
scalar ``weight``, then averages over every axis except ``batch_axis``, giving shape
``(batch_size,)``. In numpy mode (``npx.set_np()``) the average runs over every axis but the
first, as in MXNet. Losses are built from recorded ops, so ``autograd`` differentiates them.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from mxlite.base import numeric_types
from mxlite.gluon.block import HybridBlock
from mxlite.ndarray import op, op_nn
from mxlite.ndarray.ndarray import NDArray
from mxlite.util import is_np_array

__all__ = [
    "Loss",
    "L2Loss",
    "L1Loss",
    "SigmoidBinaryCrossEntropyLoss",
    "SigmoidBCELoss",
    "SoftmaxCrossEntropyLoss",
    "SoftmaxCELoss",
    "KLDivLoss",
    "HuberLoss",
    "HingeLoss",
    "SquaredHingeLoss",
    "LogisticLoss",
    "TripletLoss",
    "PoissonNLLLoss",
    "CosineEmbeddingLoss",
]


class _WeightTypeError(TypeError, AssertionError):
    """A non-numeric ``weight`` (MXNet raises AssertionError; this is also a TypeError)."""


def _apply_weighting(loss: NDArray, weight: Any = None, sample_weight: Any = None) -> NDArray:
    """``loss * sample_weight`` (broadcast) ``* weight``; either may be None."""
    if sample_weight is not None:
        loss = op.multiply(loss, sample_weight)
    if weight is not None:
        if not isinstance(weight, numeric_types):
            raise _WeightTypeError(
                f"weight must be a number, got {type(weight).__name__}; pass a float such as "
                "weight=1.0 (use sample_weight for per-sample weights)."
            )
        loss = loss * weight
    return loss


def _reshape_like(x: Any, like: NDArray) -> Any:
    """``x`` reshaped to ``like``'s shape (labels may come flat or with extra unit axes)."""
    if not isinstance(x, NDArray) or x.shape == like.shape:
        return x
    return x.reshape(like.shape)


class Loss(HybridBlock):
    """Base class for losses.

    Args:
        weight: global scalar weight for the loss (None for no weighting).
        batch_axis: the axis that indexes the mini-batch; every other axis is averaged out.
    """

    def __init__(self, weight: float | None, batch_axis: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._weight = weight
        self._batch_axis = batch_axis

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_axis={self._batch_axis}, w={self._weight})"

    def hybrid_forward(self, F: Any, x: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N803
        """Compute the loss (override in subclasses)."""
        raise NotImplementedError


class _PointwiseLoss(Loss):
    """A loss of ``(pred, label, sample_weight=None)``: an elementwise term, weighted, then reduced.

    Subclasses define :meth:`_pointwise`; ``label`` arrives reshaped to ``pred``'s shape unless
    ``_reshape_label`` is False. The term is multiplied by ``sample_weight`` and by
    :meth:`_scale` (``weight``), then :meth:`_reduce` averages out every axis but ``batch_axis``.
    """

    _reshape_label: ClassVar[bool] = True
    # In numpy mode MXNet's L1, L2 and cross-entropy losses average over every axis but the first.
    _numpy_mode_mean: ClassVar[bool] = False

    def hybrid_forward(  # type: ignore[override]
        self,
        F: Any,  # noqa: N803
        pred: NDArray,
        label: NDArray,
        sample_weight: Any = None,
    ) -> NDArray:
        fused = self._fused(pred, label, sample_weight)
        if fused is not None:
            return fused
        if self._reshape_label:
            label = _reshape_like(label, pred)
        return self._finish(self._pointwise(pred, label), sample_weight)

    def _fused(self, pred: NDArray, label: Any, sample_weight: Any) -> NDArray | None:
        """The whole loss as one fused op where a subclass has one for these arguments (the
        same values as the composition), else None."""
        return None

    def _pointwise(self, pred: NDArray, label: Any) -> NDArray:
        """The elementwise loss (override in subclasses)."""
        raise NotImplementedError

    def _scale(self) -> Any:
        """The scalar the loss is multiplied by (``weight``; None for none)."""
        return self._weight

    def _finish(self, loss: NDArray, sample_weight: Any) -> NDArray:
        """Weight ``loss`` and reduce it to one value per sample."""
        loss = _apply_weighting(loss, self._scale(), sample_weight)
        return self._reduce(loss)

    def _reduce(self, loss: NDArray) -> NDArray:
        """Average over every axis but the batch axis."""
        if self._numpy_mode_mean and is_np_array():
            if loss.ndim <= 1:
                return loss
            return op.mean(loss, axis=tuple(range(1, loss.ndim)))
        return op.mean(loss, axis=self._batch_axis, exclude=True)


class L2Loss(_PointwiseLoss):
    r"""Half the mean squared error: :math:`L = \frac{w}{2} \operatorname{mean}(|label - pred|^2)`.

    ``label`` may have any shape with ``pred``'s number of elements. Default ``weight=1``.
    """

    _numpy_mode_mean = True

    def __init__(self, weight: float = 1.0, batch_axis: int = 0, **kwargs: Any) -> None:
        super().__init__(weight, batch_axis, **kwargs)

    def _scale(self) -> Any:
        if not isinstance(self._weight, numeric_types):
            raise _WeightTypeError(
                f"L2Loss: weight must be a number, got {self._weight!r}; the loss is scaled by "
                "weight / 2 (default weight=1.0)."
            )
        weight: Any = self._weight
        return weight / 2

    def _pointwise(self, pred: NDArray, label: Any) -> NDArray:
        return op.square(label - pred)


class L1Loss(_PointwiseLoss):
    r"""Mean absolute error: :math:`L = \operatorname{mean}(|label - pred|)`."""

    _numpy_mode_mean = True

    def __init__(self, weight: float | None = None, batch_axis: int = 0, **kwargs: Any) -> None:
        super().__init__(weight, batch_axis, **kwargs)

    def _pointwise(self, pred: NDArray, label: Any) -> NDArray:
        return op.abs(label - pred)


class SigmoidBinaryCrossEntropyLoss(_PointwiseLoss):
    r"""Binary cross-entropy on logits (default) or on probabilities (``from_sigmoid=True``).

    On logits it uses the stable form :math:`\max(x, 0) - x z + \log(1 + e^{-|x|})`; with
    ``pos_weight`` (broadcast against the label, e.g. shape ``(1, classes)``) the positive term is
    scaled: :math:`x - x z + (1 + (p - 1) z)(\log(1 + e^{-|x|}) + \max(-x, 0))`. On probabilities:
    :math:`-(z \log(x + \epsilon) p + (1 - z) \log(1 - x + \epsilon))` with
    :math:`\epsilon = 10^{-12}`.
    """

    _numpy_mode_mean = True

    def __init__(
        self,
        from_sigmoid: bool = False,
        weight: float | None = None,
        batch_axis: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(weight, batch_axis, **kwargs)
        self._from_sigmoid = from_sigmoid

    def hybrid_forward(  # type: ignore[override]
        self,
        F: Any,  # noqa: N803
        pred: NDArray,
        label: NDArray,
        sample_weight: Any = None,
        pos_weight: Any = None,
    ) -> NDArray:
        loss = self._pointwise(pred, _reshape_like(label, pred), pos_weight)
        return self._finish(loss, sample_weight)

    def _pointwise(self, pred: NDArray, label: Any, pos_weight: Any = None) -> NDArray:
        if not self._from_sigmoid:
            log_term = op.softrelu(-op.abs(pred))
            if pos_weight is None:
                return op.relu(pred) - pred * label + log_term
            log_weight = op.multiply(pos_weight - 1, label) + 1
            return pred - pred * label + log_weight * (log_term + op.relu(-pred))
        eps = 1e-12
        pos_term = op.log(pred + eps) * label
        if pos_weight is not None:
            pos_term = op.multiply(pos_term, pos_weight)
        return -(pos_term + op.log(1.0 - pred + eps) * (1.0 - label))


SigmoidBCELoss = SigmoidBinaryCrossEntropyLoss


class SoftmaxCrossEntropyLoss(_PointwiseLoss):
    r"""Softmax cross-entropy: :math:`L = -\sum_j label_j \log \operatorname{softmax}(pred)_j`.

    With ``sparse_label`` (default) ``label`` holds class indices and has ``pred``'s shape
    without ``axis``; otherwise it holds a distribution of ``pred``'s shape. ``from_logits=True``
    means ``pred`` already is a log-probability (from ``log_softmax``).
    """

    _reshape_label = False
    _numpy_mode_mean = True

    def __init__(
        self,
        axis: int = -1,
        sparse_label: bool = True,
        from_logits: bool = False,
        weight: float | None = None,
        batch_axis: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(weight, batch_axis, **kwargs)
        self._axis = axis
        self._sparse_label = sparse_label
        self._from_logits = from_logits

    def _fused(self, pred: NDArray, label: Any, sample_weight: Any) -> NDArray | None:
        if (
            sample_weight is None
            and self._weight is None
            and self._sparse_label
            and not self._from_logits
            and self._batch_axis == 0
            and isinstance(label, NDArray)
            and pred.ndim == 2
            and self._axis in (-1, 1)
        ):
            # The common classifier case as one op: the same values as the composition below.
            return op_nn.sparse_softmax_cross_entropy_rows(pred, label)
        return None

    def _pointwise(self, pred: NDArray, label: Any) -> NDArray:
        if not self._from_logits:
            pred = op.log_softmax(pred, axis=self._axis)
        if self._sparse_label:
            return -op.pick(pred, label, axis=self._axis, keepdims=True)
        label = _reshape_like(label, pred)
        return -op.sum(pred * label, axis=self._axis, keepdims=True)


SoftmaxCELoss = SoftmaxCrossEntropyLoss


class KLDivLoss(_PointwiseLoss):
    r"""Kullback-Leibler divergence :math:`L = \sum label (\log(label + 10^{-12}) - pred)`.

    ``pred`` is a log-probability when ``from_logits`` (default), else logits turned into one
    with ``log_softmax`` along ``axis``. Unlike the other losses it *sums* over the non-batch
    axes, as in MXNet 1.9.1.
    """

    _reshape_label = False

    def __init__(
        self,
        from_logits: bool = True,
        axis: int = -1,
        weight: float | None = None,
        batch_axis: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(weight, batch_axis, **kwargs)
        self._from_logits = from_logits
        self._axis = axis

    def _pointwise(self, pred: NDArray, label: Any) -> NDArray:
        if not self._from_logits:
            pred = op.log_softmax(pred, axis=self._axis)
        return label * (op.log(label + 1e-12) - pred)

    def _reduce(self, loss: NDArray) -> NDArray:
        return op.sum(loss, axis=self._batch_axis, exclude=True)


class HuberLoss(_PointwiseLoss):
    r"""Smoothed L1: :math:`|d| - \rho/2` where :math:`|d| > \rho`, else :math:`d^2 / (2\rho)`."""

    def __init__(
        self, rho: float = 1, weight: float | None = None, batch_axis: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(weight, batch_axis, **kwargs)
        self._rho = rho

    def _pointwise(self, pred: NDArray, label: Any) -> NDArray:
        dist = op.abs(label - pred)
        return op.where(
            dist > self._rho, dist - 0.5 * self._rho, op.square(dist) * (0.5 / self._rho)
        )


class HingeLoss(_PointwiseLoss):
    r"""Hinge loss for labels in {-1, 1}: :math:`\max(0, margin - pred \cdot label)`."""

    def __init__(
        self, margin: float = 1, weight: float | None = None, batch_axis: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def _pointwise(self, pred: NDArray, label: Any) -> NDArray:
        return op.relu(self._margin - pred * label)


class SquaredHingeLoss(HingeLoss):
    r"""Squared hinge loss: :math:`\max(0, margin - pred \cdot label)^2`."""

    def _pointwise(self, pred: NDArray, label: Any) -> NDArray:
        return op.square(super()._pointwise(pred, label))


class LogisticLoss(_PointwiseLoss):
    r"""Logistic loss on logits; labels in {-1, 1} (``label_format='signed'``) or {0, 1}."""

    def __init__(
        self,
        weight: float | None = None,
        batch_axis: int = 0,
        label_format: str = "signed",
        **kwargs: Any,
    ) -> None:
        super().__init__(weight, batch_axis, **kwargs)
        if label_format not in ("signed", "binary"):
            raise ValueError(f"label_format can only be signed or binary, recieved {label_format}.")
        self._label_format = label_format

    def _pointwise(self, pred: NDArray, label: Any) -> NDArray:
        if self._label_format == "signed":
            label = (label + 1.0) / 2.0
        return op.relu(pred) - pred * label + op.softrelu(-op.abs(pred))


class TripletLoss(Loss):
    r"""Triplet loss: :math:`\max(0, \sum (pos - pred)^2 - \sum (neg - pred)^2 + margin)`."""

    def __init__(
        self, margin: float = 1, weight: float | None = None, batch_axis: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def hybrid_forward(  # type: ignore[override]
        self,
        F: Any,
        pred: NDArray,
        positive: NDArray,
        negative: NDArray,  # noqa: N803
    ) -> NDArray:
        positive = _reshape_like(positive, pred)
        negative = _reshape_like(negative, pred)
        dist = op.square(positive - pred) - op.square(negative - pred)
        loss = op.relu(op.sum(dist, axis=self._batch_axis, exclude=True) + self._margin)
        return _apply_weighting(loss, self._weight, None)


class PoissonNLLLoss(Loss):
    r"""Negative log-likelihood of a Poisson ``target`` with rate ``exp(pred)``
    (``from_logits``, default) or ``pred``: :math:`L = e^{pred} - target \cdot pred`, or
    :math:`pred - target \log(pred + \epsilon)`; ``compute_full`` adds Stirling's term
    :math:`target \log target - target + \frac12 \log(2 \pi target)` where ``target > 1``.
    Weighted, then averaged over *every* element: one value, shape ``(1,)`` (as MXNet).
    """

    def __init__(
        self,
        weight: float | None = None,
        from_logits: bool = True,
        batch_axis: int = 0,
        compute_full: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(weight, batch_axis, **kwargs)
        self._from_logits = from_logits
        self._compute_full = compute_full

    def hybrid_forward(  # type: ignore[override]
        self,
        F: Any,  # noqa: N803
        pred: NDArray,
        target: NDArray,
        sample_weight: Any = None,
        epsilon: float = 1e-08,
    ) -> NDArray:
        target = _reshape_like(target, pred)
        if self._from_logits:
            loss = op.exp(pred) - target * pred
        else:
            loss = pred - target * op.log(pred + epsilon)
        if self._compute_full:
            stirling = target * op.log(target) - target + 0.5 * op.log(2 * target * math.pi)
            loss = loss + stirling * (target > 1)
        return op.mean(_apply_weighting(loss, self._weight, sample_weight))


class CosineEmbeddingLoss(Loss):
    r"""Cosine embedding loss for pairs ``(input1, input2)`` and labels 1 or -1:
    :math:`1 - \cos(input1_i, input2_i)` for label 1, :math:`\max(0, \cos(input1_i, input2_i) -
    margin)` for label -1 (cosines along the last axis, norms floored at 1e-12). ``input1`` is
    reshaped to ``input2``'s shape. Returns shape ``(batch_size, 1)``, as MXNet 1.9.1.
    """

    def __init__(
        self, weight: float | None = None, batch_axis: int = 0, margin: float = 0, **kwargs: Any
    ) -> None:
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def hybrid_forward(  # type: ignore[override]
        self,
        F: Any,  # noqa: N803
        input1: NDArray,
        input2: NDArray,
        label: NDArray,
        sample_weight: Any = None,
    ) -> NDArray:
        input1 = _reshape_like(input1, input2)
        label = label.reshape((-1, 1))
        norms = op.norm(input1, axis=-1).reshape((-1, 1)) * op.norm(input2, axis=-1).reshape(
            (-1, 1)
        )
        dots = op.sum(input1 * input2, axis=-1).reshape((-1, 1))
        cos_sim = dots / op.maximum(norms, 1e-12)
        similar = (1 - cos_sim) * (label == 1)
        dissimilar = op.maximum((label == -1) * (cos_sim - self._margin), 0)
        return _apply_weighting(similar + dissimilar, self._weight, sample_weight)
