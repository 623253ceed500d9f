"""The base of optimizers whose ``update`` takes one index or lists of them (MXNet's aggregated
form) and dispatches both to ``_update_impl(..., multi_precision)``: LAMB and LARS."""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite.optimizer.optimizer import Optimizer

__all__ = ["AggregatedOptimizer"]


class AggregatedOptimizer(Optimizer):
    """``update``/``update_multi_precision`` for one index or lists of indices, as MXNet's
    aggregating optimizers write them; subclasses implement :meth:`_update_impl`."""

    def _update_impl(
        self, index: Any, weight: Any, grad: Any, state: Any, multi_precision: bool = False
    ) -> None:
        raise NotImplementedError

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        """Update one weight (or lists of them, MXNet's aggregated form) in place."""
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        """:meth:`update`, through float32 master copies for float16 weights when
        ``multi_precision`` is on (decided by the first weight of a list)."""
        first = weight[0] if isinstance(index, (tuple, list)) else weight
        use_mp = bool(self.multi_precision and first.dtype == np.float16)
        self._update_impl(index, weight, grad, state, multi_precision=use_mp)
