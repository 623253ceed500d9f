"""LAMB, layer-wise adaptive moments (You et al., arXiv:1904.00962), as MXNet 1.9.1's optimizer.

Per tensor, with ``t`` its update count::

    mean = beta1 * mean + (1 - beta1) * clip(rescale_grad * grad)
    var = beta2 * var + (1 - beta2) * clip(rescale_grad * grad)**2
    g = mean_hat / (sqrt(var_hat) + epsilon) + wd * w     (hats: / (1 - beta**t) if bias_correction)
    r1 = clip(||w||, lower_bound, upper_bound);  r2 = ||g||
    w = w - lr * (r1 / r2) * g                            (lr alone when r1 or r2 is 0)

MXNet runs two paths, and so does mxlite, operator for operator:

* one index at a time (``update(i, w, g, s)``, or ``aggregate_num <= 1``):
  ``lamb_update_phase1`` -> ``NDArray.norm()`` of the weight and of ``g`` -> ``lamb_update_phase2``
  (``mp_`` forms for float16 weights with ``multi_precision``; note that MXNet's
  ``mp_lamb_update_phase2`` does not write the float32 master copy back, so on this path a
  float16 weight is recomputed from an unchanged master at every step, exactly as in MXNet);
* lists of indices (what the Updater and Trainer pass): chunks of ``aggregate_num`` (default
  ``MXNET_OPTIMIZER_AGGREGATION_SIZE`` or 45, at most 45) through
  ``mx.nd.contrib.multi_lamb_update`` / ``multi_mp_lamb_update``, whose norms are sums of squares
  (the weight norm of the float16 weights, not the masters) and which update the masters.

``lower_bound``/``upper_bound`` and ``clip_gradient`` reach the kernels only when truthy (0 means
off), as MXNet's Python passes them. States: ``(mean, var)`` in the weight's dtype, or
``(weight32, (mean, var))`` in float32 with ``multi_precision`` and float16 weights.
"""

from __future__ import annotations

import os
from typing import Any

from mxlite.base import CheckError
from mxlite.ndarray import _lamb_rules
from mxlite.ndarray.ndarray import NDArray, out_ctx
from mxlite.ndarray.op_lamb import (
    lamb_update_phase1,
    lamb_update_phase2,
    mp_lamb_update_phase1,
    mp_lamb_update_phase2,
    multi_lamb_update,
    multi_mp_lamb_update,
)
from mxlite.optimizer._aggregated import AggregatedOptimizer
from mxlite.optimizer._common import check_arrays, zeros_state
from mxlite.optimizer.optimizer import register

__all__ = ["LAMB"]

_MAX_AGGREGATE = 45  # multi_lamb_update's limit
_MSG_CHUNK = (
    "LAMB.update: got {n} indices but aggregate_num is {agg}; with aggregate_num <= 1 pass one "
    "index at a time (MXNet asserts len(index) == aggregate_num)."
)


def lamb_aggregation_size() -> int:
    """LAMB's chunk size: ``MXNET_OPTIMIZER_AGGREGATION_SIZE`` (default 45), kept in [1, 45]."""
    raw = os.getenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", str(_MAX_AGGREGATE))
    try:
        value = int(raw)
    except ValueError as err:
        raise ValueError(
            f"MXNET_OPTIMIZER_AGGREGATION_SIZE must be an integer, got {raw!r}; unset it or use "
            "e.g. 45."
        ) from err
    return max(1, min(_MAX_AGGREGATE, value))


def _norm(arr: NDArray) -> NDArray:
    """``arr.norm()`` as MXNet's CPU backend computes it (shape (1,), ``arr``'s dtype)."""
    value = _lamb_rules.l2_norm(arr._data)
    return type(arr)(
        arr._xp.asarray(value).reshape(1).astype(arr._data.dtype), out_ctx(arr.context)
    )


@register
class LAMB(AggregatedOptimizer):
    """The LAMB optimizer (see the module docstring).

    Args:
        learning_rate: the initial rate (default 0.001).
        beta1, beta2: decay rates of the moment estimates (0.9, 0.999).
        epsilon: added to the root of the second moment (1e-6).
        lower_bound, upper_bound: limits of the weight norm in the trust ratio (None: none).
        bias_correction: divide the moments by ``1 - beta**t`` (True).
        **kwargs: see :class:`~mxlite.optimizer.Optimizer`; ``aggregate_num`` (an mxlite
            extension) overrides the chunk size.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-6,
        lower_bound: float | None = None,
        upper_bound: float | None = None,
        bias_correction: bool = True,
        **kwargs: Any,
    ) -> None:
        aggregate = kwargs.pop("aggregate_num", None)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.bias_correction = bias_correction
        self.aggregate_num = lamb_aggregation_size() if aggregate is None else int(aggregate)

    def create_state(self, index: Any, weight: NDArray) -> tuple[NDArray, NDArray]:
        """``(mean, var)``: zeros in the weight's dtype."""
        return (zeros_state(weight, weight.dtype), zeros_state(weight, weight.dtype))

    def _phase1_kwargs(self) -> dict[str, Any]:
        kwargs = {
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
            "bias_correction": self.bias_correction,
            "rescale_grad": self.rescale_grad,
        }
        if self.clip_gradient:
            kwargs["clip_gradient"] = self.clip_gradient
        return kwargs

    def _bounds(self) -> dict[str, Any]:
        bounds = {}
        if self.lower_bound:
            bounds["lower_bound"] = self.lower_bound
        if self.upper_bound:
            bounds["upper_bound"] = self.upper_bound
        return bounds

    def _update_one(
        self, index: Any, weight: NDArray, grad: NDArray, state: Any, multi_precision: bool
    ) -> None:
        """Phase 1, the two norms, phase 2 (MXNet's path for one index)."""
        check_arrays("LAMB.update", weight, grad)
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        kwargs = dict(self._phase1_kwargs(), t=self._index_update_count[index])
        if multi_precision:
            weight32 = state[0]
            mean, var = state[1]
            g = mp_lamb_update_phase1(weight, grad, mean, var, weight32, wd=wd, **kwargs)
            r1, r2 = _norm(weight32), _norm(g)
            mp_lamb_update_phase2(weight, g, r1, r2, weight32, lr=lr, out=weight, **self._bounds())
        else:
            mean, var = state
            g = lamb_update_phase1(weight, grad, mean, var, wd=wd, **kwargs)
            r1, r2 = _norm(weight), _norm(g)
            lamb_update_phase2(weight, g, r1, r2, lr=lr, out=weight, **self._bounds())

    def _update_impl(
        self, index: Any, weight: Any, grad: Any, state: Any, multi_precision: bool = False
    ) -> None:
        listed = isinstance(index, (tuple, list))
        if self.aggregate_num <= 1 or not listed:
            if listed:
                if len(index) != self.aggregate_num:
                    raise CheckError(_MSG_CHUNK.format(n=len(index), agg=self.aggregate_num))
                index, weight, grad, state = index[0], weight[0], grad[0], state[0]
            self._update_one(index, weight, grad, state, multi_precision)
            return
        kwargs = dict(self._phase1_kwargs(), **self._bounds())
        step_count, lrs, wds = [], [], []
        for i, w_i, g_i in zip(index, weight, grad):
            check_arrays("LAMB.update", w_i, g_i)
            self._update_count(i)  # one at a time: a scheduler may see num_update move
            step_count.append(self._index_update_count[i])
            lrs.append(self._get_lr(i))
            wds.append(self._get_wd(i))
        for start in range(0, len(weight), self.aggregate_num):
            chunk = slice(start, min(start + self.aggregate_num, len(weight)))
            states = list(state[chunk])
            rates: dict[str, Any] = {
                "step_count": step_count[chunk],
                "lrs": lrs[chunk],
                "wds": wds[chunk],
            }
            weights = list(weight[chunk])
            if multi_precision:
                means = [s[1][0] for s in states]
                variances = [s[1][1] for s in states]
                masters = [s[0] for s in states]
                multi_mp_lamb_update(
                    weights, list(grad[chunk]), means, variances, masters, out=weights,
                    **rates, **kwargs,
                )  # fmt: skip
            else:
                means = [s[0] for s in states]
                variances = [s[1] for s in states]
                multi_lamb_update(
                    weights, list(grad[chunk]), means, variances, out=weights, **rates, **kwargs
                )
