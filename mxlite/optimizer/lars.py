"""LARS, layer-wise adaptive rate scaling (You et al., arXiv:1708.03888), as MXNet 1.9.1's optimizer.

SGD (with momentum and weight decay) whose rate is scaled per layer, except for parameters
whose names end in ``gamma``, ``beta`` or ``bias``::

    lr_layer = lr * eta * ||w|| / (||g|| * rescale_grad + wd * ||w|| + eps)   (both norms > 0)
    lr_layer = lr                                                             (otherwise)

then MXNet's multi-SGD rule ``mom = momentum * mom - (lr_layer * wd) * w - lr_layer *
clip(rescale_grad * g)``, ``w += mom``. With ``momentum_correction`` the momentum is scaled by
``lr / last_lr`` when a scheduler changes the rate (Goyal et al., arXiv:1706.02677).

As in MXNet, every update (one index or a list) runs the aggregated path: the LARS parameters
first, ``multi_sum_sq`` of their weights and gradients, ``multi_lars`` for their rates (float32),
then ``preloaded_multi_(mp_)sgd(_mom)_update`` in chunks of ``aggregate_num``
(``MXNET_OPTIMIZER_AGGREGATION_SIZE``, default 4). Only names ending in ``_weight`` keep weight
decay by default (not ``_gamma``, unlike the other optimizers). States: the momentum (or None),
or ``(momentum, weight32)`` with ``multi_precision`` and float16 weights.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mxlite.ndarray.creation import array
from mxlite.ndarray.ndarray import NDArray
from mxlite.ndarray.op_lamb import multi_lars, multi_sum_sq
from mxlite.ndarray.op_multi_optimizer import (
    preloaded_multi_mp_sgd_mom_update,
    preloaded_multi_mp_sgd_update,
    preloaded_multi_sgd_mom_update,
    preloaded_multi_sgd_update,
)
from mxlite.optimizer._aggregated import AggregatedOptimizer
from mxlite.optimizer._common import check_arrays, zeros_state
from mxlite.optimizer.optimizer import aggregation_size, register

__all__ = ["LARS"]

_NO_LARS_SUFFIXES = ("gamma", "beta", "bias")


def _flatten(groups: Any) -> list[Any]:
    return [item for group in groups for item in group]


@register
class LARS(AggregatedOptimizer):
    """The LARS optimizer (see the module docstring).

    Args:
        momentum: the momentum value (a state buffer exists when it is nonzero).
        lazy_update: accepted; mxlite stores gradients densely.
        eta: the LARS coefficient (0.001).
        eps: added to the denominator of the trust ratio (0).
        momentum_correction: scale the momentum by ``lr / last_lr`` when the rate changes.
        **kwargs: see :class:`~mxlite.optimizer.Optimizer`; ``aggregate_num`` (an mxlite
            extension) overrides the chunk size.
    """

    def __init__(
        self,
        momentum: float = 0.0,
        lazy_update: bool = True,
        eta: float = 0.001,
        eps: float = 0,
        momentum_correction: bool = True,
        **kwargs: Any,
    ) -> None:
        aggregate = kwargs.pop("aggregate_num", None)
        super().__init__(**kwargs)
        self.momentum = momentum
        self.momentum_correction = momentum_correction
        self.lazy_update = lazy_update
        self.aggregate_num = aggregation_size() if aggregate is None else int(aggregate)
        self.eta = eta
        self.eps = eps
        self.skip = 0
        self.last_lr: float | None = None
        self.cur_lr: float | None = None

    def _get_lrs(self, indices: Any) -> list[float]:
        """The rates of ``indices``; remembers the previous and the current base rate (for the
        momentum correction), as MXNet's LARS does at every call."""
        if self.cur_lr is not None:
            self.last_lr = self.cur_lr
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        if self.cur_lr is None:
            self.last_lr = lr
        self.cur_lr = lr
        return self._times_mults(lr, indices, "lr_mult", self.lr_mult)

    def set_wd_mult(self, args_wd_mult: dict[Any, float]) -> None:
        """Weight-decay multipliers; names from ``param_idx2name`` not ending in ``_weight`` get
        0 (LARS keeps no decay on ``_gamma`` either)."""
        self.wd_mult = {
            name: 0.0 for name in self.idx2name.values() if not name.endswith("_weight")
        }
        self.wd_mult.update(self._sym_mults("__wd_mult__"))
        self.wd_mult.update(args_wd_mult)

    def create_state(self, index: Any, weight: NDArray) -> NDArray | None:
        """The momentum buffer (weight's dtype), or None without momentum."""
        if self.momentum != 0.0:
            return zeros_state(weight, weight.dtype)
        return None

    def create_state_multi_precision(self, index: Any, weight: NDArray) -> Any:
        """:meth:`create_state`, as ``(momentum, weight32)`` for float16 weights with
        ``multi_precision``."""
        if self.multi_precision and weight.dtype == np.float16:
            master = weight.astype(np.float32)
            return (self.create_state(index, master), master)
        if weight.dtype == np.float16 and not self.multi_precision:
            warnings.warn(
                self._fp16_warning().replace("of the optimizer", "of the SGD optimizer"),
                stacklevel=2,
            )
        return self.create_state(index, weight)

    def _momentum(self) -> float:
        if self.momentum_correction and self.last_lr != 0:
            return self.momentum * (self.cur_lr / self.last_lr)  # type: ignore[operator]
        return self.momentum

    def _update_impl(
        self, indices: Any, weights: Any, grads: Any, states: Any, multi_precision: bool = False
    ) -> None:
        if not isinstance(indices, (tuple, list)):
            indices, weights, grads, states = [indices], [weights], [grads], [states]
        for weight, grad in zip(weights, grads):
            check_arrays("LARS.update", weight, grad)
        self._update_count(list(indices))
        lrs = self._get_lrs(indices)
        wds = self._get_wds(indices)
        kwargs: dict[str, Any] = {"rescale_grad": self.rescale_grad}
        if self.momentum > 0:
            kwargs["momentum"] = self._momentum()
        if self.clip_gradient:
            kwargs["clip_gradient"] = self.clip_gradient
        names = [self.idx2name.get(i, str(i)) for i in indices]
        lars = [k for k, name in enumerate(names) if not name.endswith(_NO_LARS_SUFFIXES)]
        order = lars + [k for k, name in enumerate(names) if name.endswith(_NO_LARS_SUFFIXES)]
        ctx = weights[0].context
        new_lrs = array([lrs[k] for k in order], ctx=ctx, dtype="float32")
        new_wds = array([wds[k] for k in order], ctx=ctx, dtype="float32")
        new_weights = [weights[k] for k in order]
        new_grads = [grads[k] for k in order]
        new_states = [states[k] for k in order]
        nb = len(lars)
        if nb > 0:
            w_sum_sq = multi_sum_sq(*new_weights[:nb], num_arrays=nb)
            g_sum_sq = multi_sum_sq(*new_grads[:nb], num_arrays=nb)
            head = NDArray(new_lrs._data[:nb], ctx)  # a view: the rates are scaled in place
            multi_lars(
                head, w_sum_sq, g_sum_sq, NDArray(new_wds._data[:nb], ctx), eta=self.eta,
                eps=self.eps, rescale_grad=self.rescale_grad, out=head,
            )  # fmt: skip
        step = self.aggregate_num if self.aggregate_num > 0 else len(order)
        for start in range(0, len(order), step):
            end = min(start + step, len(order))
            part = slice(start, end)
            rates = (NDArray(new_lrs._data[part], ctx), NDArray(new_wds._data[part], ctx))
            data = self._chunk_inputs(
                new_weights[part], new_grads[part], new_states[part], multi_precision
            )
            op = self._chunk_op(multi_precision)
            op(*data, *rates, out=new_weights[part], num_weights=end - start, **kwargs)

    def _chunk_inputs(
        self, weights: list[NDArray], grads: list[NDArray], states: list[Any], mp: bool
    ) -> list[NDArray]:
        """The flat input list of a preloaded multi-SGD call, as MXNet's LARS builds it."""
        if not mp:
            if self.momentum > 0:
                return _flatten(zip(weights, grads, states))
            return _flatten(zip(weights, grads))
        if self.momentum > 0:
            return _flatten(zip(weights, grads, [s[0] for s in states], [s[1] for s in states]))
        return _flatten(zip(weights, grads, [s[1] for s in states]))

    def _chunk_op(self, mp: bool) -> Any:
        if mp:
            return preloaded_multi_mp_sgd_mom_update if self.momentum > 0 else (
                preloaded_multi_mp_sgd_update
            )  # fmt: skip
        return preloaded_multi_sgd_mom_update if self.momentum > 0 else preloaded_multi_sgd_update
