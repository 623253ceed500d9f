"""Initialize many arrays at once: one multi-tensor fill per (context, distribution).

:func:`init_many` is what gluon calls for a whole ParameterDict. For each ``(desc, arr)`` it
resolves the same dispatch as ``initializer(desc, arr)``; when the method that would run has a
fill plan (built-in Uniform, Normal, Xavier, MSRAPrelu, Constant with a scalar, Zero, One and the
default bias/gamma/beta fills), the plan is queued, and queued plans run as one
``ops.multi_fill_uniform`` / ``ops.multi_fill_normal`` launch per device (all CPU contexts share
the host: one launch for them). Anything else (user
subclasses, Orthogonal, Bilinear, ...) is called one by one, in order. The values are bitwise
those of calling the initializer per array: plans carry the same stream keys and parameters, and
the multi-tensor kernels produce the same bits as the single-tensor ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mxlite import backend
from mxlite.context import Context
from mxlite.initializer import _fill
from mxlite.initializer.base import InitDesc, Initializer, create, invoke

__all__ = ["init_many", "plan_route", "replica_safe"]

_HOST = Context("cpu", 0)


class _Group:
    """The queued fills of one (context, kind), column by column (no object per fill)."""

    __slots__ = ("arrays", "params0", "params1", "keys", "offsets")

    def __init__(self) -> None:
        self.arrays: list[Any] = []
        self.params0: list[Any] = []
        self.params1: list[Any] = []
        self.keys: list[Any] = []
        self.offsets: list[int] = []


class _Queue:
    """Plans waiting to run, grouped by (context, kind)."""

    def __init__(self) -> None:
        self.groups: dict[tuple[Context, str], _Group] = {}
        self.ids: set[int] = set()
        self._last: tuple[Context, str, _Group] | None = None  # the group of the previous fill

    def add(self, plan: _fill.FillPlan, raw: Any, arr: Any) -> None:
        """Queue ``plan`` for ``arr`` (whose raw array is ``raw``)."""
        if id(raw) in self.ids:  # the same buffer twice: keep the per-array order of writes
            self.flush()
        self.ids.add(id(raw))
        ctx = _fill.ctx_of(arr)
        last = self._last
        if last is not None and last[0] is ctx and last[1] == plan.kind:
            group = last[2]
        else:
            # every CPU context is the host: one launch for all of them
            key = (ctx if ctx.is_gpu else _HOST, plan.kind)
            found = self.groups.get(key)
            group = found if found is not None else self.groups.setdefault(key, _Group())
            self._last = (ctx, plan.kind, group)
        group.arrays.append(arr)
        params = plan.params
        group.params0.append(params[0])
        if len(params) > 1:
            group.params1.append(params[1])
            group.keys.append(plan.key)
            group.offsets.append(plan.offset)

    def flush(self) -> None:
        from mxlite import ops

        groups, self.groups, self.ids, self._last = self.groups, {}, set(), None
        for (ctx, kind), group in groups.items():
            multi = getattr(ops, f"multi_fill_{kind}", None)
            if multi is None or len(group.arrays) == 1:
                for i, arr in enumerate(group.arrays):
                    _fill.execute(_plan_of(kind, group, i), arr)
                continue
            raws = [_fill.raw_of(arr) for arr in group.arrays]
            with backend.device_guard(ctx):
                if kind == "constant":
                    multi(raws, group.params0)
                else:
                    multi(raws, group.params0, group.params1, group.keys, group.offsets)


def _plan_of(kind: str, group: _Group, i: int) -> _fill.FillPlan:
    """The plan of the ``i``-th fill of ``group``, rebuilt from its columns."""
    if kind == "constant":
        return _fill.FillPlan(kind, (group.params0[i],))
    return _fill.FillPlan(
        kind, (group.params0[i], group.params1[i]), group.keys[i], group.offsets[i]
    )


def _batchable(plan: _fill.FillPlan, arr: Any) -> bool:
    return _batchable_raw(plan, _fill.raw_of(arr))


def _batchable_raw(plan: _fill.FillPlan, raw: Any) -> bool:
    if raw.size == 0 or not raw.flags.c_contiguous:
        return False
    if plan.kind == "constant":
        return _fill.is_real_scalar(plan.params[0])
    return _fill.dtype_name(raw.dtype) in _fill.FILL_DTYPES


def init_many(initializer: Any, descs: Sequence[Any], arrays: Sequence[Any]) -> None:
    """Initialize ``arrays[i]`` as ``create(initializer)(descs[i], arrays[i])`` would, batched.

    Consecutive arrays with the same descriptor, shape and dtype (the replicas of one
    Parameter) share one fill plan: it is a pure function of those. A descriptor that
    :func:`plan_route` routed for the same initializer is not routed again.

    Args:
        initializer: anything :func:`create` accepts (an Initializer, a name, a JSON string, ...).
        descs: one :class:`InitDesc` (or legacy ``str``) per array.
        arrays: the NDArrays to fill in place; they may live on different contexts.

    Raises:
        ValueError: ``descs`` and ``arrays`` differ in length. Errors of the individual
            initializers propagate unchanged, after every array before the failing one is filled.
    """
    if len(descs) != len(arrays):
        raise ValueError(
            f"init_many needs one descriptor per array: got {len(descs)} descs and {len(arrays)} arrays"
        )
    init = create(initializer)
    if not isinstance(init, Initializer) or init._verbose:
        for desc, arr in zip(descs, arrays):
            init(desc, arr)
        return
    queue = _Queue()
    last: tuple[Any, Any, Any, _fill.FillPlan | None] | None = None
    try:
        for desc, arr in zip(descs, arrays):
            if not isinstance(desc, InitDesc):
                queue.flush()
                init(desc, arr)
                continue
            memo = desc._route_memo
            if memo is not None and memo[0] is init:
                target, method = memo[1], memo[2]
                if desc.global_init is None:  # as _route sets it
                    desc.global_init = init
            else:
                target, method, _ = init._route(desc)
            raw = getattr(arr, "_data", arr)
            if (
                last is not None
                and last[0] is desc
                and last[1] == raw.shape
                and last[2] == raw.dtype
            ):
                plan = last[3]
            else:
                plan = _fill.plan_for(target, method, desc, arr)
                last = (desc, raw.shape, raw.dtype, plan)
            if plan is None or not _batchable_raw(plan, raw):
                invoke(target, method, desc, arr)
                continue
            queue.add(plan, raw, arr)
    finally:
        queue.flush()


def plan_route(initializer: Any, desc: Any) -> tuple[Any, str] | None:
    """``(target, method)`` of ``initializer(desc, arr)`` when that call is a fill plan keyed by
    ``desc``'s (non-empty) name, else None; see :func:`replica_safe`.

    No side effects on the random streams or on ``desc.global_init``; the route is remembered on
    ``desc`` for :func:`init_many` with the same initializer object.
    """
    init = create(initializer)
    if not isinstance(init, Initializer) or not isinstance(desc, InitDesc) or not len(desc):
        return None
    had_global = desc.global_init
    target, method, _ = init._route(desc)
    desc.global_init = had_global
    if not _fill.has_plan(target, method):
        return None
    desc._route_memo = (init, target, method)
    return target, method


def replica_safe(initializer: Any, desc: InitDesc, arr: Any) -> bool:
    """Whether running ``initializer`` separately on each replica of ``desc`` gives identical values.

    True when the array's fill is a plan keyed by its (non-empty) name: every context draws the same
    stream (bit-identical for uniform and constant fills on every device; normal fills agree
    bitwise on devices of one type and to 2 float32 ulps between CPU and GPU). False otherwise
    (user initializers, Orthogonal, ad-hoc draws, ...): initialize once and copy to the replicas.
    This call has no side effects on the random streams.
    """
    return plan_route(initializer, desc) is not None
