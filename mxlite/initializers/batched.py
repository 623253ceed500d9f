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
from mxlite.initializers import _fill
from mxlite.initializers.base import InitDesc, Initializer, create, invoke

__all__ = ["init_many", "replica_safe"]

_HOST = Context("cpu", 0)


class _Queue:
    """Plans waiting to run, grouped by (context, kind)."""

    def __init__(self) -> None:
        self.groups: dict[tuple[Context, str], list[tuple[_fill.FillPlan, Any]]] = {}
        self.ids: set[int] = set()

    def add(self, plan: _fill.FillPlan, arr: Any) -> None:
        raw = _fill.raw_of(arr)
        if id(raw) in self.ids:  # the same buffer twice: keep the per-array order of writes
            self.flush()
        self.ids.add(id(raw))
        ctx = _fill.ctx_of(arr)
        key = (ctx if ctx.device_typeid == 2 else _HOST, plan.kind)
        self.groups.setdefault(key, []).append((plan, arr))

    def flush(self) -> None:
        from mxlite import ops

        groups, self.groups, self.ids = self.groups, {}, set()
        for (ctx, kind), items in groups.items():
            multi = getattr(ops, f"multi_fill_{kind}", None)
            if multi is None or len(items) == 1:
                for plan, arr in items:
                    _fill.execute(plan, arr)
                continue
            raws = [_fill.raw_of(arr) for _, arr in items]
            with backend.device_guard(ctx):
                if kind == "constant":
                    multi(raws, [plan.params[0] for plan, _ in items])
                else:
                    multi(
                        raws,
                        [plan.params[0] for plan, _ in items],
                        [plan.params[1] for plan, _ in items],
                        [plan.key for plan, _ in items],
                        [plan.offset for plan, _ in items],
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
    try:
        for desc, arr in zip(descs, arrays):
            if not isinstance(desc, InitDesc):
                queue.flush()
                init(desc, arr)
                continue
            target, method, _ = init._route(desc)
            plan = _fill.plan_for(target, method, desc, arr)
            raw = getattr(arr, "_data", arr)
            if plan is None or not _batchable_raw(plan, raw):
                invoke(target, method, desc, arr)
                continue
            if id(raw) in queue.ids:  # the same buffer twice: keep the order of writes
                queue.flush()
            queue.ids.add(id(raw))
            ctx = _fill.ctx_of(arr)
            # every CPU context is the host: one launch for all of them
            group_key = (ctx if ctx.device_typeid == 2 else _HOST, plan.kind)
            items = queue.groups.get(group_key)
            if items is None:
                items = queue.groups[group_key] = []
            items.append((plan, arr))
    finally:
        queue.flush()


def replica_safe(initializer: Any, desc: InitDesc, arr: Any) -> bool:
    """Whether running ``initializer`` separately on each replica of ``desc`` gives identical values.

    True when the array's fill is a plan keyed by its (non-empty) name: every context draws the same
    stream (bit-identical for uniform and constant fills on every device; normal fills agree
    bitwise on devices of one type and to 2 float32 ulps between CPU and GPU). False otherwise
    (user initializers, Orthogonal, ad-hoc draws, ...): initialize once and copy to the replicas.
    This call has no side effects on the random streams.
    """
    init = create(initializer)
    if not isinstance(init, Initializer) or not isinstance(desc, InitDesc) or not str(desc):
        return False
    had_global = desc.global_init
    target, method, _ = init._route(desc)
    desc.global_init = had_global
    return _fill.has_plan(target, method)
