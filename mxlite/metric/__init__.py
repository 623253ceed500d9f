"""``mx.metric``: online evaluation metrics (MXNet 1.9.1's ``mxnet.metric``).

``base`` holds ``EvalMetric``, the registry (``register``, ``alias``, ``create``) and
``CompositeEvalMetric``; ``classification``, ``regression`` and ``custom`` hold the metrics.
"""

from mxlite.metric.base import (
    CompositeEvalMetric,
    EvalMetric,
    alias,
    check_label_shapes,
    create,
    register,
)
from mxlite.metric.classification import F1, MCC, PCC, Accuracy, TopKAccuracy
from mxlite.metric.custom import Caffe, CustomMetric, Loss, Torch, np
from mxlite.metric.regression import (
    MAE,
    MSE,
    RMSE,
    CrossEntropy,
    NegativeLogLikelihood,
    PearsonCorrelation,
    Perplexity,
)

__all__ = [
    "Accuracy",
    "Caffe",
    "CompositeEvalMetric",
    "CrossEntropy",
    "CustomMetric",
    "EvalMetric",
    "F1",
    "Loss",
    "MAE",
    "MCC",
    "MSE",
    "NegativeLogLikelihood",
    "PCC",
    "PearsonCorrelation",
    "Perplexity",
    "RMSE",
    "TopKAccuracy",
    "Torch",
    "alias",
    "check_label_shapes",
    "create",
    "np",
    "register",
]
