"""Cached zero plans for ``ParameterDict.zero_grad``: one launch per device, O(1) when unchanged.

``zero_grad`` is called once per training step over the same gradient buffers. Building the
table of their addresses costs microseconds per buffer; running it is one kernel launch (one
parallel Numba loop on the host) per device. So the table is built once and reused:

* Every gradient (re)allocation anywhere (``initialize``, deferred init, ``reset_ctx``,
  ``grad_req`` changes, ``cast``, ``load`` of an uninitialized Parameter) goes through the
  Parameter's owning methods, which bump the buffers epoch (:data:`mxlite._epoch.BUFFERS`); the bump drops every cached plan at once (a plan holds references to its
  buffers; dropping it frees old buffers now rather than at the next ``zero_grad``).
* A ``ParameterDict`` keeps its :class:`ZeroGradCache` with its own version (bumped when a
  Parameter is added) and length at the time: checking them and the epoch is a handful of
  comparisons, whatever the number of Parameters.
* ``Block.collect_params()`` returns a new dict each time (as in MXNet), so
  ``net.collect_params().zero_grad()`` would never hit a per-dict cache. Fresh dicts therefore
  look their Parameters up in a small module-level cache keyed by the tuple of Parameter objects
  (built and hashed at C speed).

Buffers of all dtypes on one device share one plan: the kernel zeroes bytes. All host contexts
(``cpu(0)``, ``cpu(1)``, ...) share the host, so they share one plan too.

Threads: a ``zero_grad`` may run while another thread (re)allocates gradient buffers (an
``initialize`` of another net, a ``grad_req`` change). The steady-state path takes no lock: it
reads a cache's plans *before* comparing its epoch, and a change bumps the epoch
*before* it drops plans and *after* the new buffers are in place, so a ``zero_grad`` either runs
plans that were valid when it started or finds them stale and rebuilds; it never runs dropped
(empty) plans and returns. A fresh plan is run from the builder's own reference, so a concurrent
drop cannot empty it either. The registry of live caches and the shared slots are changed
under one lock (:data:`_LOCK`), which rebuilds and invalidations take, never the steady state.
"""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections import OrderedDict
from typing import Any

from mxlite import _epoch, backend
from mxlite.base import MXNetError
from mxlite.gluon import _sparse_param

__all__ = ["ZeroGradCache", "lookup", "build"]

_MSG_NOT_FLOAT = (
    "reset_arrays: This operation only support floating point types, not {dtype} (gradient of "
    "Parameter '{name}'). Zero integer gradients with grad[:] = 0, or use numpy mode "
    "(mx.npx.set_np()), where zero_grad zeroes every dtype."
)
_SHARED_SLOTS = 8
#: Guards the epoch bump, ``_State.live`` and ``_State.shared`` (never the steady state).
_LOCK = threading.Lock()


def _new_lock_in_child() -> None:
    """A forked child gets a fresh lock: another thread of the parent may have held it."""
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


class _State:
    """Every cache that currently holds plans (the epoch is :data:`mxlite._epoch.BUFFERS`)."""

    def __init__(self) -> None:
        self.live: weakref.WeakSet[ZeroGradCache] = weakref.WeakSet()
        self.shared: OrderedDict[tuple[Any, ...], ZeroGradCache] = OrderedDict()


_STATE = _State()


def _release() -> None:
    """After a bump of the buffers epoch: drop every stale cached plan now, so the old buffers
    they hold are freed at once rather than at the next ``zero_grad``. O(1) when none is cached
    (e.g. during an ``initialize`` of thousands of Parameters).

    Only caches of an older epoch are dropped: another thread may have built and
    registered a current one between the bump and this call.
    """
    if not _STATE.live:
        return
    with _LOCK:
        now = _epoch.BUFFERS.value
        stale = [cache for cache in _STATE.live if cache.epoch != now]
        for cache in stale:
            cache.plans = ()
            _STATE.live.discard(cache)
        for key in [k for k, cache in _STATE.shared.items() if cache.epoch != now]:
            del _STATE.shared[key]


_epoch.BUFFERS.on_bump(_release)


class ZeroGradCache:
    """The zero plans of one set of Parameters, valid for one epoch.

    Attributes:
        epoch: the epoch the plans were built in; the plans are stale (and dropped)
            once :data:`mxlite._epoch.BUFFERS` moves on.
        plans: one ``ops.ZeroPlan`` per device.
        not_float: ``(dtype name, parameter name)`` of the first non-floating gradient, which
            legacy mode refuses (as MXNet's ``reset_arrays`` does); None when all are floats.
    """

    __slots__ = ("epoch", "plans", "not_float", "__weakref__")

    def __init__(self) -> None:
        self.epoch = _epoch.BUFFERS.value
        self.plans: tuple[Any, ...] = ()
        self.not_float: tuple[str, str] | None = None

    @property
    def current(self) -> bool:
        """Whether no gradient buffer has been (re)allocated since the plans were built."""
        return self.epoch == _epoch.BUFFERS.value

    def run(self, plans: tuple[Any, ...] | None = None) -> bool:
        """Zero every gradient buffer: one launch per device.

        Args:
            plans: the plans to run, as :func:`lookup` returned them with this cache (run even
                if they went stale meanwhile); None runs :attr:`plans` while they are current.

        Returns:
            False, having zeroed nothing, when ``plans`` is None and the plans are stale (some
            gradient buffer was reallocated since they were built): rebuild with :func:`lookup`.

        Raises:
            MXNetError: a gradient is not floating-point and numpy mode is off (nothing is
                zeroed then).
        """
        if plans is None:
            plans = self.plans  # read before the epoch: see the module docstring
            if self.epoch != _epoch.BUFFERS.value:
                return False
        if self.not_float is not None:
            from mxlite.util import is_np_array

            if not is_np_array():
                dtype, name = self.not_float
                raise MXNetError(_MSG_NOT_FLOAT.format(dtype=dtype, name=name))
        for plan in plans:
            plan()
        return True


def build(params: Any) -> ZeroGradCache:
    """A fresh cache over the gradient buffers of ``params`` (Parameters, in order), not yet
    registered (see :func:`lookup`)."""
    from mxlite.ops import ZeroPlan

    cache = ZeroGradCache()
    groups: dict[int, list[Any]] = {}
    sparse: list[Any] = []
    for param in params:
        grads = param._grad
        if grads is None or param.grad_req == "null":
            continue
        for grad in grads:
            if grad.stype != "default":  # row_sparse buffers: drop their rows
                sparse.append(grad)
                continue
            raw = grad._data
            if cache.not_float is None and raw.dtype.kind != "f" and raw.dtype.name != "bfloat16":
                cache.not_float = (raw.dtype.name, param.name)
            dev = int(raw.device.id) if backend.is_gpu_array(raw) else -1
            groups.setdefault(dev, []).append(raw)
    cache.plans = tuple(ZeroPlan(arrays) for arrays in groups.values())
    if sparse:
        cache.plans += (functools.partial(_sparse_param.zero_sparse, sparse),)
    return cache


def lookup(params: tuple[Any, ...]) -> tuple[ZeroGradCache, tuple[Any, ...]]:
    """The current cache for the Parameters ``params`` (from the shared slots, or built now)
    and its plans, which :meth:`ZeroGradCache.run` runs even if another thread drops them."""
    shared = _STATE.shared
    with _LOCK:
        cache = shared.get(params)
        if cache is not None and cache.current:
            shared.move_to_end(params)
            return cache, cache.plans
    cache = build(params)
    plans = cache.plans  # nobody else can drop them before the cache is registered
    with _LOCK:
        if cache.current:  # else a buffer changed while building: it is stale already
            _STATE.live.add(cache)
            shared[params] = cache
            while len(shared) > _SHARED_SLOTS:
                shared.popitem(last=False)
    return cache, plans
