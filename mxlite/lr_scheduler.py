"""``mx.lr_scheduler``: learning-rate schedules, as in MXNet 1.9.1.

A scheduler is called with ``num_update`` (the largest number of updates applied to any weight so
far) and returns the learning rate for that update. Schedulers keep state between calls the way
MXNet's do: :class:`FactorScheduler` and :class:`MultiFactorScheduler` lower ``base_lr`` in place
as ``num_update`` passes each boundary and never raise it again; :class:`PolyScheduler` and
:class:`CosineScheduler` overwrite ``base_lr`` with the value of their curve while
``num_update <= max_update`` and keep the last value after that.

Boundary rules (MXNet's, verified against MXNet 1.9.1):

* Warmup: for ``num_update < warmup_steps`` the rate is ``warmup_begin_lr`` (mode ``'constant'``)
  or ``warmup_begin_lr + (base_lr - warmup_begin_lr) * num_update / warmup_steps`` (``'linear'``).
* FactorScheduler: the rate is multiplied by ``factor`` once for every whole ``step`` that
  ``num_update`` exceeds, *strictly*: updates ``1 .. step`` use ``base_lr``, updates
  ``step + 1 .. 2 * step`` use ``base_lr * factor``, and so on. It never drops below
  ``stop_factor_lr``.
* MultiFactorScheduler: the rate is multiplied by ``factor`` when ``num_update`` exceeds each
  entry of ``step`` (strictly greater).

Argument checks that MXNet performs with ``assert`` raise :class:`ArgumentTypeError` /
:class:`ArgumentValueError` here: they subclass ``AssertionError`` (so code that caught MXNet's
errors still works) and ``TypeError`` / ``ValueError``, carry a message, and are not removed by
``python -O``.
"""

from __future__ import annotations

import logging
from math import cos, pi
from typing import Any

__all__ = [
    "ArgumentTypeError",
    "ArgumentValueError",
    "LRScheduler",
    "FactorScheduler",
    "MultiFactorScheduler",
    "PolyScheduler",
    "CosineScheduler",
]

_WARMUP_MODES = ("linear", "constant")
_MSG_STEP_BELOW_1 = (
    "Schedule step must be greater or equal than 1 round: {where} got step={step!r}."
)


class ArgumentTypeError(TypeError, AssertionError):
    """An argument of the wrong type where MXNet 1.9.1 used a bare ``assert``."""


class ArgumentValueError(ValueError, AssertionError):
    """An argument with a bad value where MXNet 1.9.1 used a bare ``assert``."""


def _require_int(value: Any, what: str, where: str) -> None:
    if not isinstance(value, int):
        raise ArgumentTypeError(
            f"{where}: {what} must be an int, got {value!r} of type {type(value).__name__}. "
            f"Pass a whole number, e.g. {what}=int({value!r})."
        )


def _require_factor(factor: float, where: str) -> None:
    if factor > 1.0:
        raise ValueError(
            f"Factor must be no more than 1 to make lr reduce: {where} got factor={factor!r}."
        )


class LRScheduler:
    """Base class of a learning-rate scheduler.

    Subclasses implement ``__call__(num_update) -> float``.

    Args:
        base_lr: the initial learning rate (the rate warmup ends at).
        warmup_steps: number of updates spent warming up before the schedule starts (an int >= 0).
        warmup_begin_lr: the rate warmup starts from; must not exceed ``base_lr``.
        warmup_mode: ``'linear'`` (equal increments each update) or ``'constant'`` (hold
            ``warmup_begin_lr`` for ``warmup_steps`` updates).

    Raises:
        ArgumentTypeError: ``warmup_steps`` is not an int.
        ValueError: ``warmup_begin_lr > base_lr``, ``warmup_steps < 0`` or an unknown mode.
    """

    def __init__(
        self,
        base_lr: float = 0.01,
        warmup_steps: int = 0,
        warmup_begin_lr: float = 0,
        warmup_mode: str = "linear",
    ) -> None:
        where = type(self).__name__
        self.base_lr = base_lr
        _require_int(warmup_steps, "warmup_steps", where)
        self.warmup_steps = warmup_steps
        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        if self.warmup_begin_lr > self.warmup_final_lr:
            raise ValueError(
                f"Base lr has to be higher than warmup_begin_lr: {where} got "
                f"base_lr={base_lr!r} < warmup_begin_lr={warmup_begin_lr!r}. "
                "Lower warmup_begin_lr or raise base_lr."
            )
        if self.warmup_steps < 0:
            raise ValueError(
                f"Warmup steps has to be positive or 0: {where} got warmup_steps={warmup_steps}."
            )
        if warmup_mode not in _WARMUP_MODES:
            raise ValueError(
                f"Supports only linear and constant modes of warmup: {where} got "
                f"warmup_mode={warmup_mode!r}; use 'linear' or 'constant'."
            )
        self.warmup_mode = warmup_mode

    def get_warmup_lr(self, num_update: int) -> float:
        """The warmup learning rate for ``num_update < warmup_steps``.

        Raises:
            ArgumentValueError: ``num_update`` is not inside the warmup.
        """
        if not num_update < self.warmup_steps:
            raise ArgumentValueError(
                f"get_warmup_lr: num_update={num_update} is not inside the warmup "
                f"(warmup_steps={self.warmup_steps}); call the scheduler itself instead."
            )
        if self.warmup_mode == "linear":
            span = self.warmup_final_lr - self.warmup_begin_lr
            return self.warmup_begin_lr + span * float(num_update) / float(self.warmup_steps)
        if self.warmup_mode == "constant":
            return self.warmup_begin_lr
        raise ValueError(f"Invalid warmup mode {self.warmup_mode}")

    def __call__(self, num_update: int) -> float:
        """The learning rate for update number ``num_update``.

        ``num_update`` is the largest number of updates applied to any one weight:
        ``max(k_i)`` where weight ``i`` has been updated ``k_i`` times.
        """
        raise NotImplementedError("must override this")


class FactorScheduler(LRScheduler):
    """Multiply the learning rate by ``factor`` every ``step`` updates.

    The rate for update ``n`` is ``base_lr * factor ** max(0, ceil(n / step) - 1)`` (but at
    least ``stop_factor_lr``): updates ``0 .. step`` keep ``base_lr``.

    Args:
        step: number of updates between two changes (>= 1).
        factor: the multiplier (<= 1).
        stop_factor_lr: the rate never goes below this value; once reached it stays.
        base_lr, warmup_steps, warmup_begin_lr, warmup_mode: see :class:`LRScheduler`.

    Raises:
        ValueError: ``step < 1`` or ``factor > 1``.
    """

    def __init__(
        self,
        step: int,
        factor: float = 1,
        stop_factor_lr: float = 1e-8,
        base_lr: float = 0.01,
        warmup_steps: int = 0,
        warmup_begin_lr: float = 0,
        warmup_mode: str = "linear",
    ) -> None:
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if step < 1:
            raise ValueError(_MSG_STEP_BELOW_1.format(where="FactorScheduler", step=step))
        _require_factor(factor, "FactorScheduler")
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0

    def __call__(self, num_update: int) -> float:
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        # A loop, not an if: resuming at a large num_update applies every missed step.
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
                logging.info(
                    "Update[%d]: now learning rate arrived at %0.5e, will not change in the future",
                    num_update,
                    self.base_lr,
                )
            else:
                logging.info("Update[%d]: Change learning rate to %0.5e", num_update, self.base_lr)
        return self.base_lr


class MultiFactorScheduler(LRScheduler):
    """Multiply the learning rate by ``factor`` after each update count listed in ``step``.

    For ``step[k] < n <= step[k+1]`` the rate is ``base_lr * factor ** (k + 1)``.

    Args:
        step: a non-empty, strictly increasing list of update counts, each >= 1.
        factor: the multiplier (<= 1).
        base_lr, warmup_steps, warmup_begin_lr, warmup_mode: see :class:`LRScheduler`.

    Raises:
        ArgumentTypeError: ``step`` is not a list.
        ArgumentValueError: ``step`` is empty.
        ValueError: ``step`` is not increasing, has an entry < 1, or ``factor > 1``.
    """

    def __init__(
        self,
        step: list[int],
        factor: float = 1,
        base_lr: float = 0.01,
        warmup_steps: int = 0,
        warmup_begin_lr: float = 0,
        warmup_mode: str = "linear",
    ) -> None:
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(step, list):
            raise ArgumentTypeError(
                f"MultiFactorScheduler: step must be a list of update counts, got {step!r} of "
                f"type {type(step).__name__}; e.g. step=[100, 200]."
            )
        if len(step) < 1:
            raise ArgumentValueError(
                "MultiFactorScheduler: step must list at least one update count, got []."
            )
        for i, bound in enumerate(step):
            if i != 0 and step[i] <= step[i - 1]:
                raise ValueError(
                    f"Schedule step must be an increasing integer list: MultiFactorScheduler got "
                    f"step={step!r} (entry {i} is not larger than entry {i - 1})."
                )
            if bound < 1:
                raise ValueError(_MSG_STEP_BELOW_1.format(where="MultiFactorScheduler", step=step))
        _require_factor(factor, "MultiFactorScheduler")
        self.step = step
        self.cur_step_ind = 0
        self.factor = factor
        self.count = 0

    def __call__(self, num_update: int) -> float:
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while self.cur_step_ind <= len(self.step) - 1:
            if num_update > self.step[self.cur_step_ind]:
                self.count = self.step[self.cur_step_ind]
                self.cur_step_ind += 1
                self.base_lr *= self.factor
                logging.info("Update[%d]: Change learning rate to %0.5e", num_update, self.base_lr)
            else:
                return self.base_lr
        return self.base_lr


class _DecayScheduler(LRScheduler):
    """A decay from ``base_lr`` to ``final_lr`` over ``max_update`` updates, after warmup.

    For ``warmup_steps <= num_update <= max_update`` the rate is
    ``final_lr + (base_lr - final_lr) * self._curve(num_update - warmup_steps)``, where the curve
    falls from 1 to 0 over ``max_steps = max_update - warmup_steps``; later updates keep the last
    rate.
    """

    def __init__(
        self,
        max_update: int,
        base_lr: float = 0.01,
        final_lr: float = 0,
        warmup_steps: int = 0,
        warmup_begin_lr: float = 0,
        warmup_mode: str = "linear",
    ) -> None:
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        where = type(self).__name__
        _require_int(max_update, "max_update", where)
        if max_update < 1:
            raise ValueError(
                f"maximum number of updates must be strictly positive: {where} got "
                f"max_update={max_update}."
            )
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def _curve(self, done: int) -> float:
        """The share of ``base_lr - final_lr`` left after ``done`` decay steps (1 down to 0)."""
        raise NotImplementedError

    def __call__(self, num_update: int) -> float:
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            span = self.base_lr_orig - self.final_lr
            self.base_lr = self.final_lr + span * self._curve(num_update - self.warmup_steps)
        return self.base_lr


class PolyScheduler(_DecayScheduler):
    """Polynomial decay from ``base_lr`` to ``final_lr`` over ``max_update`` updates.

    After warmup, for ``num_update <= max_update``::

        lr = final_lr + (base_lr - final_lr) * (1 - (num_update - warmup_steps) / max_steps) ** pwr

    with ``max_steps = max_update - warmup_steps``; later updates keep the last rate.

    Args:
        max_update: update count at which the decay reaches ``final_lr`` (an int >= 1).
        base_lr: the rate decay starts from.
        pwr: the power of the decay.
        final_lr: the rate after ``max_update`` updates.
        warmup_steps, warmup_begin_lr, warmup_mode: see :class:`LRScheduler`.

    Raises:
        ArgumentTypeError: ``max_update`` is not an int.
        ValueError: ``max_update < 1``.
    """

    def __init__(
        self,
        max_update: int,
        base_lr: float = 0.01,
        pwr: float = 2,
        final_lr: float = 0,
        warmup_steps: int = 0,
        warmup_begin_lr: float = 0,
        warmup_mode: str = "linear",
    ) -> None:
        super().__init__(max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        self.power = pwr

    def _curve(self, done: int) -> float:
        return pow(1 - float(done) / float(self.max_steps), self.power)


class CosineScheduler(_DecayScheduler):
    """Cosine decay from ``base_lr`` to ``final_lr`` over ``max_update`` updates.

    After warmup, for ``num_update <= max_update``::

        lr = final_lr + (base_lr - final_lr) * (1 + cos(pi * (num_update - warmup_steps) / max_steps)) / 2

    with ``max_steps = max_update - warmup_steps``; later updates keep the last rate.

    Args:
        max_update: update count at which the decay reaches ``final_lr`` (an int >= 1).
        base_lr: the rate decay starts from.
        final_lr: the rate after ``max_update`` updates.
        warmup_steps, warmup_begin_lr, warmup_mode: see :class:`LRScheduler`.

    Raises:
        ArgumentTypeError: ``max_update`` is not an int.
        ValueError: ``max_update < 1``.
    """

    # The constructor is _DecayScheduler's: its arguments and defaults are CosineScheduler's.

    def _curve(self, done: int) -> float:
        # Halving before the product (MXNet halves after it) changes no bit: halving is exact.
        return (1 + cos(pi * done / self.max_steps)) / 2
