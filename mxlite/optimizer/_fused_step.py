"""Step plans of the fused families (SGD, NAG, Adam): everything of ``update_multi`` that does not
change from one step to the next, computed once.

A :class:`FusedStep` holds, for one list of (index, weight, gradient, state): the argument checks
(done when it is built), the dtype groups with their raw-array lists and their prepared fused
launches (:func:`mxlite.ops.multi_optimizer.prepare`), and a
:class:`~mxlite.optimizer._scalars.ScalarPlan` for the per-step counts, rates and decays.
``run`` then costs a few NumPy operations plus one launch per dtype group.

``FusedOptimizer.update_multi`` builds a plan and runs it once; :class:`~mxlite.optimizer.Updater`
keeps it and runs it every step while :meth:`FusedStep.valid` holds (and its own checks that the
arrays and states are the same objects). :class:`FusedOptimizer` is the base of those families.

Fusing is declared as data: a family class sets ``fused_rule = FusedRule(kernel, group, bias)``
(its multi-tensor kernel, its state layout and its kind of scalars) and nothing else. Whether a
step is fused is answered by one function, :func:`fused_rule`, from flags that
``FusedOptimizer.__init_subclass__`` computes once per class: a subclass that overrides
``update``, ``update_multi_precision`` or ``update_multi`` (itself or through a mixin) is not
fused, by construction, so MXNet's generic loop calls its code; one that overrides a scalar hook
(:data:`~mxlite.optimizer._scalars.SCALAR_HOOKS`) keeps the fused kernels but reads its
scalars index by index. (Methods patched onto a class after it is created are not seen.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from mxlite.ndarray.ndarray import NDArray
from mxlite.ops import multi_optimizer
from mxlite.optimizer._common import Raw, check_arrays, group_by_dtype
from mxlite.optimizer._scalars import SCALAR_HOOKS, VECTOR_MIN, ScalarPlan
from mxlite.optimizer.optimizer import Optimizer

__all__ = [
    "FusedOptimizer",
    "FusedRule",
    "FusedStep",
    "fused_plan",
    "fused_rule",
    "multi_tensor_step",
]

# Overriding one of these below the class that declares a FusedRule makes the class generic.
UPDATE_METHODS = ("update", "update_multi_precision", "update_multi")


@dataclasses.dataclass(frozen=True)
class FusedRule:
    """What a fused optimizer family declares, in one place.

    Attributes:
        kernel: the multi-tensor rule over raw lists (``_multi_tensor_<rule>``), the same
            function its single-tensor ``update`` calls with lists of one.
        group: the state layout: ``group(opt, dtype, weights, grads, states)`` unpacks one dtype
            group's states into raw lists and returns the callable ``(opt, lrs, wds)`` that
            steps it (see :class:`FusedStep`).
        bias: the rates carry Adam's bias correction.
        vector_scalars: the scalar hooks are the family's own, so the counts, rates and decays
            of a long list may be computed vectorized (set per class, never declared).
    """

    kernel: Callable[..., None]
    group: Callable[..., Callable[..., None]]
    bias: bool = False
    vector_scalars: bool = True


def fused_rule(opt: Any) -> FusedRule | None:
    """The rule a step of ``opt`` runs fused with, or None when it takes the generic loop.

    The one answer to "will this step be fused?": the rule of ``type(opt)``'s family when the
    class keeps the family's update methods (see the module docstring).
    """
    return getattr(type(opt), "_fused", None)


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
        opt: the optimizer.
        rule: its :func:`fused_rule` (``rule.group`` makes each dtype group's launcher).
        indices, weights, grads, states: as :meth:`Optimizer.update_multi` takes them.

    Raises:
        mxlite.lr_scheduler.ArgumentTypeError: a weight or gradient is not an NDArray.
    """

    def __init__(
        self,
        opt: Any,
        rule: FusedRule,
        indices: Sequence[Any],
        weights: Sequence[NDArray],
        grads: Sequence[NDArray],
        states: Sequence[Any],
    ) -> None:
        _check_lists(opt, weights, grads)
        weights = list(weights)
        groups = group_by_dtype(weights)
        self.whole = len(groups) == 1
        self.groups: list[tuple[Any, Any]] = []
        for dtype, positions in groups:
            if self.whole:
                launcher = rule.group(opt, dtype, weights, list(grads), list(states))
            else:
                launcher = rule.group(
                    opt,
                    dtype,
                    [weights[p] for p in positions],
                    [grads[p] for p in positions],
                    [states[p] for p in positions],
                )
            self.groups.append((None if self.whole else np.asarray(positions), launcher))
        self.scalars = ScalarPlan(
            opt,
            tuple(indices),
            [positions for _, positions in groups],
            weights,
            bias=rule.bias,
            vector=len(weights) >= VECTOR_MIN and rule.vector_scalars,
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

    A family class declares ``fused_rule``; ``update_multi`` and ``_step_plan`` run it when
    :func:`fused_rule` says so and MXNet's generic loop otherwise.
    """

    #: Declared by each family class (SGD, NAG, Adam); see :class:`FusedRule`.
    fused_rule: ClassVar[FusedRule]
    #: Computed per class by ``__init_subclass__``: what :func:`fused_rule` returns.
    _fused: ClassVar[FusedRule | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        owner = next((c for c in cls.__mro__ if "fused_rule" in vars(c)), None)
        if owner is None or any(getattr(cls, n) is not getattr(owner, n) for n in UPDATE_METHODS):
            cls._fused = None
            return
        intact = all(getattr(cls, h, None) is getattr(owner, h, None) for h in SCALAR_HOOKS)
        cls._fused = dataclasses.replace(owner.__dict__["fused_rule"], vector_scalars=intact)

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
        rule = fused_rule(self)
        if rule is None:
            Optimizer.update_multi(self, indices, weights, grads, states)
            return
        if len(indices) >= VECTOR_MIN:
            FusedStep(self, rule, indices, weights, grads, states).run(self)
            return
        _check_lists(self, weights, grads)
        lrs, wds = self._plan_scalars(indices, weights)
        for dtype, _ in group_by_dtype(weights):  # at most one group
            rule.group(self, dtype, list(weights), list(grads), list(states))(self, lrs, wds)

    def _step_plan(
        self,
        indices: Sequence[Any],
        weights: Sequence[NDArray],
        grads: Sequence[NDArray],
        states: Sequence[Any],
    ) -> Any:
        rule = fused_rule(self)
        if rule is None:
            return super()._step_plan(indices, weights, grads, states)
        return FusedStep(self, rule, indices, weights, grads, states)
