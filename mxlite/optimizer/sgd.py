"""SGD family: SGD (momentum, multi_precision), NAG, ccSGD, DCASGD, SGLD.

Update rules are MXNet 1.9.1's kernels, term for term and in the same association order
(``src/operator/optimizer_op-inl.h``), with ``g = rescale_grad * grad`` and
``clip(x) = max(min(x, c), -c)`` when ``clip_gradient`` is set:

* SGD (``multi_sgd[_mom]_update``, also used by MXNet for single tensors)::

      mom = momentum * mom - (lr * wd) * w - lr * clip(g)        # momentum > 0
      mom = -(lr * wd) * w - lr * clip(g)                         # momentum = 0 (no state)
      w = w + mom

  without clipping the last term is ``(lr * rescale_grad) * grad``.
* NAG with momentum (``nag_mom_update``)::

      mom = momentum * mom
      w' = w - mom + (momentum + 1) * (mom - lr * (clip(g) + wd * w))
      mom = mom - lr * (clip(g) + wd * w)

  (the last line reads the *updated* weight: MXNet's kernel runs in place and writes ``w'``
  before it updates ``mom``). NAG without momentum is ``sgd_update``:
  ``w = (1 - lr * wd) * w - lr * clip(g)``.
* With ``multi_precision`` and float16 weights the math runs on a float32 master copy; the
  state is ``(mom, weight32)`` (MXNet's order for SGD and NAG).

DCASGD and SGLD live in :mod:`mxlite.optimizer.dcasgd` (re-exported here).

Each rule has a single-tensor function over raw arrays and a multi-tensor function over lists
(``_multi_tensor_sgd``, ``_multi_tensor_nag``) with per-tensor ``lrs``/``wds``: the signature a
fused kernel takes. ``update_multi`` makes one multi-tensor call per dtype group through a
:class:`~mxlite.optimizer._fused_step.FusedStep` (which the Updater keeps from step to step).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.ndarray.ndarray import NDArray
from mxlite.ops import multi_optimizer
from mxlite.optimizer import _sparse_update
from mxlite.optimizer._common import (
    Raw,
    Scalars,
    check_arrays,
    clip_inplace,
    kernel_clip,
    scalar,
    zeros_state,
)
from mxlite.optimizer._fused_step import FusedOptimizer, FusedRule, fused_plan, multi_tensor_step
from mxlite.optimizer.dcasgd import DCASGD, SGLD
from mxlite.optimizer.optimizer import aggregation_size, register

__all__ = ["SGD", "NAG", "ccSGD", "DCASGD", "SGLD"]


# ---------------------------------------------------------------------- raw update rules
def _scaled_grad(xp: Any, grad: Raw, master: Raw, lr: float, rescale: float, clip: float) -> Raw:
    """``lr * clip(rescale * grad)`` (or ``(lr * rescale) * grad`` unclipped) in master's dtype."""
    g = grad if grad.dtype == master.dtype else grad.astype(master.dtype)
    if clip >= 0:
        step = xp.multiply(g, scalar(master, rescale))
        clip_inplace(xp, step, clip)
        step *= scalar(master, lr)
        return step
    return xp.multiply(g, scalar(master, lr) * scalar(master, rescale))


def _single_tensor_sgd(
    weight: Raw,
    grad: Raw,
    mom: Raw | None,
    weight32: Raw | None,
    lr: float,
    wd: float,
    *,
    momentum: float,
    rescale_grad: float,
    clip_gradient: float,
) -> None:
    """One SGD step in place (MXNet's multi-SGD kernel on one tensor); see the module docstring.

    ``weight32`` is the float32 master copy (multi-precision) or None; ``clip_gradient < 0``
    disables clipping.
    """
    xp = backend.xp_of(weight)
    master = weight32 if weight32 is not None else weight
    step = _scaled_grad(xp, grad, master, lr, rescale_grad, clip_gradient)
    decay = xp.multiply(master, scalar(master, lr) * scalar(master, wd))
    if mom is not None:
        xp.multiply(mom, scalar(master, momentum), out=mom)
        mom -= decay
        mom -= step
        master += mom
    else:
        xp.negative(decay, out=decay)
        decay -= step
        master += decay
    if weight32 is not None:
        weight[...] = weight32.astype(weight.dtype)


def _single_tensor_nag(
    weight: Raw,
    grad: Raw,
    mom: Raw | None,
    weight32: Raw | None,
    lr: float,
    wd: float,
    *,
    momentum: float,
    rescale_grad: float,
    clip_gradient: float,
) -> None:
    """One NAG step in place; without a momentum buffer it is MXNet's plain ``sgd_update``."""
    xp = backend.xp_of(weight)
    master = weight32 if weight32 is not None else weight
    g = grad if grad.dtype == master.dtype else grad.astype(master.dtype)
    if mom is None:  # sgd_update / mp_sgd_update: (1 - lr*wd) * w - lr * clip(g)
        step = _scaled_grad(xp, g, master, lr, rescale_grad, clip_gradient)
        keep = master.dtype.type(1.0) - scalar(master, lr) * scalar(master, wd)
        master *= keep
        master -= step
    else:
        s_lr = scalar(master, lr)
        s_wd = scalar(master, wd)
        term = xp.multiply(g, scalar(master, rescale_grad))
        clip_inplace(xp, term, clip_gradient)
        xp.multiply(mom, scalar(master, momentum), out=mom)
        # w' = (w - mom) + (momentum + 1) * (mom - lr * (term + wd * w))
        inner = term + xp.multiply(master, s_wd)
        inner *= s_lr
        inner = xp.subtract(mom, inner)
        inner *= scalar(master, momentum) + master.dtype.type(1.0)
        new_w = xp.subtract(master, mom)
        new_w += inner
        # MXNet's kernel writes the weight (in place) before it updates the momentum, so the
        # momentum's weight-decay term reads the *new* weight.
        master[...] = new_w
        decay = term + xp.multiply(master, s_wd)
        decay *= s_lr
        mom -= decay
    if weight32 is not None:
        weight[...] = weight32.astype(weight.dtype)


def _multi_tensor_momentum(
    weights: Sequence[Raw],
    grads: Sequence[Raw],
    moms: Sequence[Raw | None],
    weights32: Sequence[Raw | None],
    lrs: Scalars,
    wds: Scalars,
    *,
    nesterov: bool,
    momentum: float,
    rescale_grad: float,
    clip_gradient: float,
    plan: multi_optimizer.Prepared | bool | None = None,
) -> None:
    """SGD (or NAG with ``nesterov``) over a list of same-dtype tensors on one device; numerics
    equal the single path.

    One fused launch (:func:`mxlite.ops.multi_optimizer.multi_sgd_update` or
    ``multi_nag_update``) or the single path per tensor, as
    :func:`mxlite.optimizer._fused_step.multi_tensor_step` decides from ``plan``.
    """
    if nesterov:
        fused, single = multi_optimizer.multi_nag_update, _single_tensor_nag
    else:
        fused, single = multi_optimizer.multi_sgd_update, _single_tensor_sgd
    kwargs = {"momentum": momentum, "rescale_grad": rescale_grad, "clip_gradient": clip_gradient}
    multi_tensor_step(fused, single, weights, grads, [moms], weights32, lrs, wds, kwargs, plan)


_multi_tensor_sgd = functools.partial(_multi_tensor_momentum, nesterov=False)
_multi_tensor_nag = functools.partial(_multi_tensor_momentum, nesterov=True)


def _split_mp_states(
    states: Sequence[Any], use_mp: bool
) -> tuple[list[Raw | None], list[Raw | None]]:
    """(momentum buffers, master weights) as raw arrays from SGD/NAG states."""
    if use_mp:
        moms = [None if s[0] is None else s[0]._data for s in states]
        masters = [s[1]._data for s in states]
        return moms, masters
    return [None if s is None else s._data for s in states], [None] * len(states)


class _MomentumGroup:
    """The raw arrays of one SGD/NAG dtype group and their prepared fused launches."""

    def __init__(
        self, opt: _MomentumFamily, dtype: Any, weights: list[NDArray], grads: list[NDArray],
        states: list[Any],
    ) -> None:  # fmt: skip
        self.weights = [w._data for w in weights]
        self.grads = [g._data for g in grads]
        self.moms, self.masters = _split_mp_states(states, opt._group_uses_mp(dtype, states))
        self.nones: list[None] = [None] * len(weights)
        self.plans: dict[bool, Any] = {}  # with momentum buffers or without -> fused plan

    def __call__(self, opt: _MomentumFamily, lrs: np.ndarray, wds: np.ndarray) -> None:
        moms = opt._active_moms(self.moms, self.nones)
        key = moms is self.moms
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = fused_plan(self.weights, self.grads, [moms], self.masters)
        opt._launch(self.weights, self.grads, moms, self.masters, lrs, wds, plan)


# ---------------------------------------------------------------------- optimizers
class _MomentumFamily(FusedOptimizer):
    """Shared state layout of SGD and NAG: ``mom`` or ``(mom, weight32)``."""

    momentum: float
    _kind = ""

    def _fp16_warning(self) -> str:
        return super()._fp16_warning().replace("of the optimizer", f"of the {self._kind} optimizer")

    def create_state(self, index: Any, weight: NDArray) -> NDArray | None:
        if self.momentum != 0.0:
            return zeros_state(weight, weight.dtype)
        return None

    def _pack_mp_state(self, master: NDArray, state: Any) -> tuple[Any, Any]:
        return (state, master)  # (mom, weight32): MXNet's order for SGD and NAG

    def _kernel_kwargs(self) -> dict[str, float]:
        return {
            "momentum": self.momentum if self._uses_momentum() else 0.0,
            "rescale_grad": self.rescale_grad,
            "clip_gradient": kernel_clip(self.clip_gradient),
        }

    def _uses_momentum(self) -> bool:
        return self.momentum > 0

    def _active_moms(self, moms: list[Any], nones: list[None]) -> list[Any]:
        """The momentum buffers a step uses (``nones`` when momentum is off)."""
        return moms

    def _launch(
        self,
        weights: list[Raw],
        grads: list[Raw],
        moms: list[Any],
        masters: list[Any],
        lrs: Scalars,
        wds: Scalars,
        plan: multi_optimizer.Prepared | bool | None = None,
    ) -> None:
        """One call of the family's multi-tensor kernel (its declared ``fused_rule.kernel``)."""
        kernel = self.fused_rule.kernel
        kernel(weights, grads, moms, masters, lrs, wds, plan=plan, **self._kernel_kwargs())

    def _group_uses_mp(self, dtype: Any, states: Sequence[Any]) -> bool:
        return bool(self.multi_precision and dtype == np.float16)


@register
class SGD(_MomentumFamily):
    """SGD with momentum and weight decay (MXNet's multi-SGD kernel rule; see module docstring).

    Args:
        momentum: the momentum value (a state buffer exists when it is nonzero).
        lazy_update: with a row_sparse gradient, update only its rows (and their momentum);
            False applies weight decay and momentum to every row (see ``_sparse_update``).
        **kwargs: see :class:`~mxlite.optimizer.Optimizer` (``multi_precision`` keeps a float32
            master copy of float16 weights).
    """

    _kind = "SGD"
    fused_rule = FusedRule(kernel=_multi_tensor_sgd, group=_MomentumGroup)

    def __init__(self, momentum: float = 0.0, lazy_update: bool = True, **kwargs: Any) -> None:
        aggregate = kwargs.pop("aggregate_num", None)
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lazy_update = lazy_update
        self.aggregate_num = aggregation_size() if aggregate is None else int(aggregate)

    def _active_moms(self, moms: list[Any], nones: list[None]) -> list[Any]:
        return moms if self._uses_momentum() else nones

    def _update_impl(
        self, indices: Any, weights: Any, grads: Any, states: Any, multi_precision: bool
    ) -> None:
        if not isinstance(indices, (tuple, list)):
            indices, weights, grads, states = [indices], [weights], [grads], [states]
        if any(map(_sparse_update.is_sparse, grads)):
            _sparse_update.update_multi(self, indices, weights, grads, states)
            return
        for weight, grad in zip(weights, grads):
            check_arrays("SGD.update", weight, grad)
        self._update_count(list(indices))
        lrs = self._get_lrs(indices)
        wds = self._get_wds(indices)
        moms, masters = _split_mp_states(states, multi_precision)
        moms = self._active_moms(moms, [None] * len(moms))
        self._launch([w._data for w in weights], [g._data for g in grads], moms, masters, lrs, wds)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        """Update one weight (or lists of them, as MXNet's aggregated call) in place."""
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        """:meth:`update` through float32 master weights for float16 with multi_precision."""
        first = weight[0] if isinstance(index, (tuple, list)) else weight
        use_mp = bool(self.multi_precision and first.dtype == np.float16)
        self._update_impl(index, weight, grad, state, multi_precision=use_mp)


@register
class ccSGD(SGD):  # noqa: N801 - MXNet's name
    """[DEPRECATED] Same as :class:`SGD`, kept for backward compatibility."""


@register
class NAG(_MomentumFamily):
    """Nesterov accelerated SGD (MXNet's ``nag_mom_update``; see module docstring).

    Args:
        momentum: the momentum value.
        **kwargs: see :class:`~mxlite.optimizer.Optimizer` (``multi_precision`` supported).
    """

    _kind = "NAG"
    fused_rule = FusedRule(kernel=_multi_tensor_nag, group=_MomentumGroup)

    def __init__(self, momentum: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.momentum = momentum

    def _kernel_kwargs(self) -> dict[str, float]:
        return {
            "momentum": self.momentum,  # even when not > 0
            "rescale_grad": self.rescale_grad,
            "clip_gradient": kernel_clip(self.clip_gradient),
        }

    def _group_uses_mp(self, dtype: Any, states: Sequence[Any]) -> bool:
        return bool(
            self.multi_precision
            and dtype == np.float16
            and all(isinstance(s, (tuple, list)) for s in states)
        )

    def _update_impl(
        self, index: Any, weight: NDArray, grad: NDArray, state: Any, multi_precision: bool
    ) -> None:
        check_arrays("NAG.update", weight, grad)
        lr, wd = self._step_scalars(index)
        moms, masters = _split_mp_states([state], multi_precision)
        self._launch([weight._data], [grad._data], moms, masters, [lr], [wd])

    def update(self, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
        """Update one weight in place."""
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(
        self, index: Any, weight: NDArray, grad: NDArray, state: Any
    ) -> None:
        """:meth:`update` through the float32 master copy for float16 with multi_precision."""
        use_mp = bool(
            self.multi_precision and weight.dtype == np.float16 and isinstance(state, (tuple, list))
        )
        self._update_impl(index, weight, grad, state, multi_precision=use_mp)
