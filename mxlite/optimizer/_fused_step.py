"""Step plans of the fused families (SGD, NAG, Adam): everything of ``update_multi`` that does not
change from one step to the next, computed once.

A :class:`FusedStep` holds, for one list of (index, weight, gradient, state): the argument checks
(done when it is built), the dtype groups with their raw-array lists and their prepared fused
launches (:func:`mxlite.ops.multi_optimizer.prepare`), and a
:class:`~mxlite.optimizer._scalars.ScalarPlan` for the per-step counts, rates and decays.
``run`` then costs a few NumPy operations plus one launch per dtype group.

``FusedOptimizer.update_multi`` builds a plan and runs it once; :class:`~mxlite.optimizer.Updater`
keeps it and runs it every step while :meth:`FusedStep.valid` holds (and its own checks that the
arrays and states are the same objects). :class:`FusedOptimizer` is the base of those families:
its ``update_multi`` and ``_step_plan`` choose between these plans and the generic loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from mxlite.ndarray.ndarray import NDArray
from mxlite.ops import multi_optimizer
from mxlite.optimizer._common import Raw, check_arrays, group_by_dtype
from mxlite.optimizer._scalars import VECTOR_MIN, ScalarPlan
from mxlite.optimizer.optimizer import Optimizer

__all__ = ["FusedOptimizer", "FusedStep", "fused_plan", "multi_tensor_step"]


def fused_plan(
    weights: Sequence[Raw],
    grads: Sequence[Raw],
    states: Sequence[Sequence[Raw | None] | None],
    weights32: Sequence[Raw | None],
) -> multi_optimizer.Prepared | bool:
    """A prepared fused launch for these lists, or False when they take the single-tensor path
    (one tensor, or arrays the fused kernels refuse)."""
    if len(weights) > 1 and multi_optimizer.supported(weights, grads, states, weights32):
        return multi_optimizer.prepare(weights, grads, states, weights32)
    return False


def multi_tensor_step(
    fused: Callable[..., None],
    single: Callable[..., None],
    weights: Sequence[Raw],
    grads: Sequence[Raw],
    states: Sequence[Sequence[Raw | None]],
    weights32: Sequence[Raw | None],
    lrs: Any,
    wds: Any,
    kwargs: dict[str, float],
    plan: multi_optimizer.Prepared | bool | None,
) -> None:
    """The body of every ``_multi_tensor_<rule>``: one fused launch or the single path per tensor.

    ``fused(weights, grads, *states, lrs, wds, weights32=, plan=, **kwargs)`` is the
    :mod:`mxlite.ops.multi_optimizer` function, ``single(w, g, *state_i, w32, lr, wd, **kwargs)``
    the rule's single-tensor function. ``plan``: None decides now (more than one tensor and
    arrays the fused kernels accept); False takes the single path; True or a plan prepared for
    exactly these lists (:func:`fused_plan`) launches.
    """
    if plan is None:
        plan = len(weights) > 1 and multi_optimizer.supported(weights, grads, states, weights32)
    if plan is not False:
        prepared = None if plan is True else plan
        fused(weights, grads, *states, lrs, wds, weights32=weights32, plan=prepared, **kwargs)
        return
    for w, g, w32, lr, wd, *state in zip(weights, grads, weights32, lrs, wds, *states):
        single(w, g, *state, w32, lr, wd, **kwargs)


def _check_lists(opt: Any, weights: Sequence[NDArray], grads: Sequence[NDArray]) -> None:
    """:func:`check_arrays` on every (weight, gradient) pair, named ``<Optimizer>.update_multi``."""
    where = f"{type(opt).__name__}.update_multi"
    for weight, grad in zip(weights, grads):
        check_arrays(where, weight, grad)


class FusedStep:
    """One list of parameters of a fused-family optimizer, ready to be stepped repeatedly.

    Args:
        opt: the optimizer; ``opt._group_launcher(dtype, weights, grads, states)`` makes the
            callable ``(opt, lrs, wds)`` that updates one dtype group.
        family: the class defining the fused path (scalar hooks overridden below it disable the
            vectorized scalars).
        indices, weights, grads, states: as :meth:`Optimizer.update_multi` takes them.
        bias: Adam's bias-corrected rates.

    Raises:
        mxlite.lr_scheduler.ArgumentTypeError: a weight or gradient is not an NDArray.
    """

    def __init__(
        self,
        opt: Any,
        family: type,
        indices: Sequence[Any],
        weights: Sequence[NDArray],
        grads: Sequence[NDArray],
        states: Sequence[Any],
        bias: bool = False,
    ) -> None:
        _check_lists(opt, weights, grads)
        weights = list(weights)
        groups = group_by_dtype(weights)
        self.whole = len(groups) == 1
        self.groups: list[tuple[Any, Any]] = []
        for dtype, positions in groups:
            if self.whole:
                launcher = opt._group_launcher(dtype, weights, list(grads), list(states))
            else:
                launcher = opt._group_launcher(
                    dtype,
                    [weights[p] for p in positions],
                    [grads[p] for p in positions],
                    [states[p] for p in positions],
                )
            self.groups.append((None if self.whole else np.asarray(positions), launcher))
        vector = len(weights) >= VECTOR_MIN and opt._scalar_hooks_intact(family)
        self.scalars = ScalarPlan(
            opt,
            tuple(indices),
            [positions for _, positions in groups],
            weights,
            bias=bias,
            vector=vector,
        )

    def valid(self, opt: Any) -> bool:
        """Whether the optimizer's settings still match this plan (see ``ScalarPlan.valid``)."""
        return self.scalars.valid(opt)

    def run(self, opt: Any) -> None:
        """One step: count, compute the scalars, launch every dtype group."""
        lrs, wds = self.scalars.compute(opt)
        if self.whole:
            self.groups[0][1](opt, lrs, wds)
            return
        for positions, launcher in self.groups:
            launcher(opt, lrs[positions], wds[positions])


class FusedOptimizer(Optimizer):
    """Base of the optimizers with a fused multi-tensor path (SGD, NAG, Adam).

    ``update_multi`` runs the fused path once and ``_step_plan`` returns a
    :class:`FusedStep`, unless a subclass overrides ``update`` or ``update_multi_precision``
    below :meth:`_fused_family` (then MXNet's generic loop runs, which calls them) or overrides
    ``update_multi`` itself (then its plan just calls it).
    """

    #: The rates of the fused path carry Adam's bias correction (:class:`FusedStep`'s ``bias``).
    _fused_bias: ClassVar[bool] = False

    def _fused_family(self) -> type:
        """The class that defines the fused path of ``type(self)``."""
        raise NotImplementedError

    def _group_launcher(
        self, dtype: Any, weights: list[NDArray], grads: list[NDArray], states: list[Any]
    ) -> Callable[..., None]:
        """The callable ``(opt, lrs, wds)`` that updates one dtype group (see :class:`FusedStep`)."""
        raise NotImplementedError

    def update_multi(
        self,
        indices: Sequence[Any],
        weights: Sequence[NDArray],
        grads: Sequence[NDArray],
        states: Sequence[Any],
    ) -> None:
        """All parameters of one context: scalars in MXNet's order, one call per dtype group.

        Uncached: a list is stepped through a :class:`FusedStep` built for this call; a single
        index (the Updater's per-key form) skips building one: check, read its scalars, launch.
        """
        family = self._fused_family()
        if self._has_custom_update(family):
            Optimizer.update_multi(self, indices, weights, grads, states)
            return
        if len(indices) >= VECTOR_MIN:
            FusedStep(self, family, indices, weights, grads, states, self._fused_bias).run(self)
            return
        _check_lists(self, weights, grads)
        lrs, wds = self._plan_scalars(indices, weights)
        for dtype, _ in group_by_dtype(weights):  # at most one group
            self._group_launcher(dtype, list(weights), list(grads), list(states))(self, lrs, wds)

    def _step_plan(
        self,
        indices: Sequence[Any],
        weights: Sequence[NDArray],
        grads: Sequence[NDArray],
        states: Sequence[Any],
    ) -> Any:
        family = self._fused_family()
        if self._has_custom_update(family) or (
            type(self).update_multi is not FusedOptimizer.update_multi
        ):
            return super()._step_plan(indices, weights, grads, states)
        return FusedStep(self, family, indices, weights, grads, states, self._fused_bias)
