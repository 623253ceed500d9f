"""The one invalidation idiom of mxlite's steady-state plans.

A training step repeats the same work over the same arrays, so several layers build a *plan*
once and reuse it: ``zero_grad``'s address tables (:mod:`mxlite.gluon._grad_cache`), the
Trainer's step lists (:mod:`mxlite.gluon._trainer_step`), the optimizer's step plans and the
Updater's call plans (:mod:`mxlite.optimizer`), the kvstore's push/pull plans
(:mod:`mxlite.kvstore._plan`). A plan is valid while the state it was built from is unchanged,
and every plan checks that the same way:

- **Epochs** (:class:`Epoch`) for state spread over many objects. The *owner* of the state bumps
  the epoch in the very method that changes it, never its callers, so a forgotten bump cannot
  happen at a call site:

  * :data:`BUFFERS`: some Parameter's replica or gradient arrays were (re)installed. Only the
    owning methods of :class:`mxlite.gluon.Parameter` (``_install``, ``_set_grads``,
    ``_replace_data``) bump it.
  * :data:`VARIABLES`: some array was (re)marked as an autograd variable
    (``autograd.mark_variables``, ``attach_grad``). Kept apart from BUFFERS because scripts
    re-mark their inputs every step, which must not rebuild ``zero_grad``'s tables.

- **Versions** (:class:`Versioned`) for the structure of one object (an optimizer's attributes,
  an Updater's states, a kvstore's keys, a ParameterDict's members): the object's own mutators
  call ``self._touch()``.

- **Identity** (:func:`same_objects`) for the arrays a call hands in: the plan was built for
  these very objects (NDArrays never swap their buffers, so the same objects mean the same
  memory).

A plan records ``epoch.value`` / ``obj._version`` when it is built and compares them when it is
used: a few integer comparisons, whatever the number of arrays. An epoch may also call listeners
on a bump (:meth:`Epoch.on_bump`), for caches that should let go of old buffers at once rather
than at their next use.

Not plans, and not invalidated here: *memos*, pure functions of their keys (the context tables
of ``_param_init``, the initializers' salts and routes, the fused optimizer's prepared-launch
LRU keyed by array ids and kept honest by weak references, the scalar memo of a launch).
"""

from __future__ import annotations

import operator
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Epoch", "BUFFERS", "VARIABLES", "Versioned", "same_objects"]


class Epoch:
    """A counter that only grows: plans read :attr:`value`, the owner calls :meth:`bump`.

    Args:
        name: what the epoch tracks (for reprs and errors).
    """

    __slots__ = ("name", "value", "_lock", "_listeners")

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0
        self._lock = threading.Lock()
        self._listeners: list[weakref.ref[Any] | Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"Epoch({self.name!r}, value={self.value})"

    def bump(self) -> None:
        """Record a change: every plan built before it is stale from now on."""
        with self._lock:
            self.value += 1
            listeners = list(self._listeners)
        for listener in listeners:
            if isinstance(listener, weakref.WeakMethod):
                method = listener()
                if method is not None:
                    method()
            else:
                listener()  # type: ignore[operator]

    def on_bump(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every bump (a bound method is held weakly)."""
        held: Any = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else callback
        with self._lock:
            self._listeners.append(held)


BUFFERS = Epoch("buffers")
VARIABLES = Epoch("variables")


def _fresh_locks_in_child() -> None:
    """A forked child gets fresh locks: another thread of the parent may have held one."""
    for epoch in (BUFFERS, VARIABLES):
        epoch._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_locks_in_child)


class Versioned:
    """Mixin for objects whose plans depend on their structure: ``_version`` changes in
    :meth:`_touch`, which the object's own mutators call."""

    _version: int = 0

    def _touch(self) -> None:
        """Invalidate every plan built from this object's current structure."""
        self._version = self._version + 1


def same_objects(given: Sequence[Any], kept: Sequence[Any]) -> bool:
    """Whether ``given`` holds the very objects of ``kept``, in order (identity, not equality)."""
    return len(given) == len(kept) and all(map(operator.is_, given, kept))
