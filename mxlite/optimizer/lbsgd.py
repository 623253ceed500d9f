"""LBSGD, large-batch SGD with warm-up, as MXNet 1.9.1's optimizer.

SGD with momentum (``sgd_update``/``sgd_mom_update``) whose rate is multiplied by a warm-up
factor, with gradients accumulated over ``batch_scale`` calls per index (a macro-batch):

* every call adds the gradient to the index's running sum; while the count of accumulated
  gradients ``num_cums`` is not a multiple of ``batch_scale`` the weight gets MXNet's
  ``sgd_update`` with ``lr=0`` (a no-op for finite gradients);
* otherwise the mean gradient ``cum_grad / batch_scale`` updates the weight with rate
  ``lr * mult``, and the sum restarts. ``mult`` is, with ``nwup = warmup_epochs *
  updates_per_epoch`` and ``maxmult = batch_scale``::

      linear:  1 + (maxmult - 1) * nup / nwup        power2: 1 + (maxmult - 1) * nup**2 / nwup**2
      sqrt:    1 + (maxmult - 1) * sqrt(nup / nwup)  other:  1
      (maxmult once nup >= nwup; 1 when nwup <= 1)

  for ``nup = num_cums``, or for ``warmup_strategy='lars'`` the layer's LARS ratio
  ``sqrt(|w|^2 / (|g|^2 + wd * |w|^2 + 1e-18))`` clipped to [0.01, 100].

MXNet quirks kept: the rate and decay are read *before* the update is counted (a scheduler sees
the previous ``num_update``); the first gradient of a macro-batch is kept by reference, not
copied; ``begin_epoch * updates_per_epoch`` seeds the count of a fresh index.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np

from mxlite.ndarray.ndarray import NDArray
from mxlite.ndarray.op_optimizer import (
    mp_sgd_mom_update,
    mp_sgd_update,
    sgd_mom_update,
    sgd_update,
)
from mxlite.optimizer._common import check_arrays, zeros_state
from mxlite.optimizer.optimizer import Optimizer, register

__all__ = ["LBSGD"]

_FP16_SGD = (
    "Accumulating with float16 in optimizer can lead to poor accuracy or slow convergence. "
    "Consider using multi_precision=True option of the SGD optimizer"
)


@register
class LBSGD(Optimizer):
    """The Large Batch SGD optimizer (see the module docstring).

    Args:
        momentum: the momentum value.
        multi_precision: keep float32 master copies of float16 weights.
        warmup_strategy: ``'linear'``, ``'power2'``, ``'sqrt'`` or ``'lars'``.
        warmup_epochs: epochs of warm-up (5).
        batch_scale: gradients accumulated per update, and the final rate multiplier (1).
        updates_per_epoch: updates per epoch, for the warm-up (32).
        begin_epoch: the epoch to start from (0).
        num_epochs: accepted and stored, as in MXNet (60).
    """

    def __init__(
        self,
        momentum: float = 0.0,
        multi_precision: bool = False,
        warmup_strategy: str = "linear",
        warmup_epochs: int = 5,
        batch_scale: float = 1,
        updates_per_epoch: int = 32,
        begin_epoch: int = 0,
        num_epochs: int = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        logging.info("Running Large-Batch SGD Algorithm")
        logging.info(
            "(Batch_scale=%f, warmup_epochs=%d, warmup_strategy=%s, updates_per_epoch=%d)",
            batch_scale, warmup_epochs, warmup_strategy, updates_per_epoch,
        )  # fmt: skip
        self.momentum = momentum
        self.multi_precision = multi_precision
        self.warmup_strategy = warmup_strategy
        self.warmup_epochs = warmup_epochs
        self.batch_scale = batch_scale
        self.updates_per_epoch = updates_per_epoch
        self.init_updates = begin_epoch * updates_per_epoch
        self.num_epochs = num_epochs
        self.lbmult = 1
        self.cumgrads: dict[Any, dict[str, Any]] = {}
        self.adaptive = False
        self.admult = 1

    def create_state(self, index: Any, weight: NDArray) -> Any:
        """The momentum (or None); ``(momentum, weight32)`` for a float16 weight with
        ``multi_precision`` (MXNet's own branch, reached when called directly)."""
        momentum = None
        if self.multi_precision and weight.dtype == np.float16:
            master = weight.astype(np.float32)
            if self.momentum != 0.0:
                momentum = zeros_state(weight, np.float32)
            return (momentum, master)
        if weight.dtype == np.float16 and not self.multi_precision:
            warnings.warn(_FP16_SGD, stacklevel=2)
        if self.momentum != 0.0:
            momentum = zeros_state(weight, weight.dtype)
        return momentum

    def _get_lbmult(self, nup: int) -> float:
        """The warm-up multiplier after ``nup`` accumulated updates."""
        nwup = self.warmup_epochs * self.updates_per_epoch
        strategy = self.warmup_strategy
        maxmult = float(self.batch_scale)
        if nup >= nwup:
            return maxmult
        if nwup <= 1:
            return 1.0
        if strategy == "linear":
            return 1.0 + (maxmult - 1) * nup / nwup
        if strategy == "power2":
            return 1.0 + (maxmult - 1) * (nup * nup) / (nwup * nwup)
        if strategy == "sqrt":
            return 1.0 + (maxmult - 1) * math.sqrt(float(nup) / nwup)
        return 1.0

    def _get_lars(self, weight: NDArray, g: NDArray, wd: float) -> float:
        """The layer's LARS ratio, clipped to [0.01, 100] (squared norms summed by NumPy in
        float32, the ratio in double, as MXNet 1.9.1 under NumPy 1.x computes it)."""
        weight2 = float(self._l2norm(weight))
        grad2 = float(self._l2norm(g))
        lars = math.sqrt(weight2 / (grad2 + wd * weight2 + 1e-18))
        if lars < 0.01:
            return 0.01
        if lars > 100:
            return 100.0
        return lars

    def _l2norm(self, v: NDArray) -> Any:
        """The squared L2 norm: ``(v * v)`` summed on the host (a NumPy scalar of v's dtype)."""
        return (v * v).asnumpy().sum()

    def _reset_cum_gradient(self, index: Any) -> None:
        """Restart the gradient sum of ``index`` (called after each macro-batch update)."""
        self.cumgrads[index]["cum_grad"] = 0

    def _get_cum_gradient(self, index: Any) -> dict[str, Any]:
        """The accumulation record of ``index`` (empty when there is none)."""
        return self.cumgrads.get(index, {})

    def _put_cum_gradient(self, index: Any, cgrad: dict[str, Any]) -> None:
        """Store the accumulation record of ``index``."""
        self.cumgrads[index] = cgrad

    def _cumulate_gradient(self, grad: NDArray, index: Any) -> dict[str, Any]:
        """Add ``grad`` to the running sum of ``index``; returns ``{'cum_grad', 'num_cums'}``."""
        cgrad = self._get_cum_gradient(index)
        if cgrad and cgrad["num_cums"] > 0:
            cum_grad = cgrad["cum_grad"] + grad
            num_cums = cgrad["num_cums"] + 1
        else:
            cum_grad = grad
            num_cums = self.init_updates + 1
        cgrad = {"cum_grad": cum_grad, "num_cums": num_cums}
        self._put_cum_gradient(index, cgrad)
        return cgrad

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Accumulate ``grad``; at the end of a macro-batch update ``weight`` (and the
        momentum) in place."""
        check_arrays("LBSGD.update", weight, grad)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        self._update_count(index)
        cgrad = self._cumulate_gradient(grad, index)
        if cgrad["num_cums"] % self.batch_scale != 0:
            sgd_update(weight, grad, out=weight, lr=0.0, wd=wd)
            return
        grad = cgrad["cum_grad"] / self.batch_scale
        if self.warmup_strategy == "lars":
            lbmult = self._get_lars(weight, grad, wd)
        else:
            lbmult = self._get_lbmult(cgrad["num_cums"])
        lr = lr * lbmult
        kwargs: dict[str, Any] = {"rescale_grad": self.rescale_grad}
        if self.momentum > 0:
            kwargs["momentum"] = self.momentum
        if self.clip_gradient:
            kwargs["clip_gradient"] = self.clip_gradient
        if not isinstance(state, (list, tuple)):
            if state is not None:
                sgd_mom_update(weight, grad, state, out=weight, lr=lr, wd=wd, **kwargs)
            else:
                sgd_update(weight, grad, out=weight, lr=lr, wd=wd, **kwargs)
        elif state[0] is not None:
            mp_sgd_mom_update(weight, grad, state[0], state[1], out=weight, lr=lr, wd=wd, **kwargs)
        else:
            mp_sgd_update(weight, grad, state[1], out=weight, lr=lr, wd=wd, **kwargs)
        self._reset_cum_gradient(index)
