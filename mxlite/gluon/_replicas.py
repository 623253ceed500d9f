"""How a Parameter's replicas get their first values.

MXNet runs the initializer once on a CPU array and copies the result to every context. mxlite
keeps the values and drops the host round trip where it can:

* Built-in fills (``initializer.replica_safe``: Uniform, Normal, Xavier, Constant, Zero, ...)
  are pure functions of (seed, parameter name, shape, dtype, initializer), whatever the device.
  Each replica is allocated on its own context and filled there, in place: the replicas are
  identical by construction and nothing crosses the host. All the fills of one ``initialize()``
  call go through ``initializer.init_many`` in one batch (multi-tensor kernels).
* Anything else (user-defined initializers such as the tutorials' ``MyInit``, which may draw from
  ``mx.nd.random``'s global counter or print; Orthogonal; Constant parameters) runs once, on a
  ``cpu(0)`` array as in MXNet, and the result is copied to every replica, so replicas stay
  identical and the initializer runs (and prints) exactly once.
* A verbose initializer (``set_verbosity(True)``) also runs once, so it logs once per parameter.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mxlite import backend, initializer
from mxlite.base import dtype_np
from mxlite.context import Context, cpu
from mxlite.initializer.batched import plan_route
from mxlite.ndarray.ndarray import NDArray
from mxlite.util import is_np_array

# Replaced replica buffers at least this large are reused by force_reinit (fresh memory costs a
# page fault per 4 KiB page; smaller arrays come from the allocator's warm heap anyway).
RECYCLE_MIN_BYTES = 1 << 18

__all__ = [
    "InitJob",
    "front_class",
    "to_front",
    "zeros",
    "empty",
    "zeros_like_each",
    "run_jobs",
    "astype",
    "same_device",
    "reduce_mean",
    "exclusive",
]


def front_class() -> type[NDArray]:
    """The array class users see now: ``mx.np.ndarray`` under ``npx.set_np()``, else NDArray."""
    if is_np_array():
        from mxlite.numpy.multiarray import ndarray as np_ndarray

        return np_ndarray
    return NDArray


def to_front(arr: NDArray) -> NDArray:
    """``arr`` as the current front-end class (re-wrapped without copying when it differs)."""
    cls = front_class()
    if type(arr) is cls:
        return arr
    return cls(arr._data, arr.context)


def _alloc(fill: str, shape: Sequence[int], dtype: Any, ctx: Context) -> NDArray:
    """A new array of the front-end class on ``ctx``, made by ``xp.zeros`` or ``xp.empty``."""
    dt = dtype if isinstance(dtype, np.dtype) else dtype_np(dtype)
    if not ctx.is_gpu:
        return front_class()(getattr(np, fill)(shape, dt), ctx)
    with backend.device_guard(ctx):
        return front_class()(getattr(backend.get_xp(ctx), fill)(shape, dt), ctx)


def zeros(shape: Sequence[int], dtype: Any, ctx: Context) -> NDArray:
    """A zero array of the front-end class on ``ctx`` (0-sized dimensions allowed)."""
    return _alloc("zeros", tuple(shape), dtype, ctx)


def empty(shape: Sequence[int], dtype: Any, ctx: Context) -> NDArray:
    """An uninitialized array of the front-end class on ``ctx``, for a fill that writes it all."""
    return _alloc("empty", tuple(shape), dtype, ctx)


def zeros_like_each(arrays: Sequence[NDArray], cls: type[NDArray] | None = None) -> list[NDArray]:
    """A zero array of the same shape, dtype and context for each of ``arrays`` (gradients), of
    class ``cls`` (default: :func:`front_class`)."""
    if cls is None:
        cls = front_class()
    out = []
    for arr in arrays:
        raw, ctx = arr._data, arr.context
        if not ctx.is_gpu:
            out.append(cls(np.zeros(raw.shape, raw.dtype), ctx))
        else:
            with backend.device_guard(ctx):
                out.append(cls(backend.xp_of(raw).zeros(raw.shape, raw.dtype), ctx))
    return out


@dataclass(slots=True)
class InitJob:
    """The first values of one Parameter: what to run and where the replicas go.

    Attributes:
        name: the parameter's name (the initializer dispatches on its suffix).
        shape: the complete shape.
        dtype: the dtype as the Parameter holds it.
        ctx_list: one context per replica.
        init: the parameter's own initializer (``InitDesc.attrs['__init__']``) or None.
        default_init: the initializer called (it dispatches to ``init`` when that is set).
        data: a value given with ``set_data`` before initialization, copied instead of running
            any initializer.
        arrays: the filled replicas, one per context (set by :func:`run_jobs`).
        recycle: raw buffers of the replicas being replaced that nothing else references (see
            :func:`exclusive`); a built-in fill may write into them instead of new arrays.
    """

    name: str
    shape: tuple[int, ...]
    dtype: Any
    ctx_list: list[Context]
    init: Any
    default_init: Any
    data: NDArray | None = None
    arrays: list[NDArray] = field(default_factory=list)
    recycle: list[Any] | None = None

    def desc(self) -> Any:
        return initializer.InitDesc(self.name, {"__init__": self.init})


def _plan_route(init_obj: Any, desc: Any) -> tuple[Any, str] | None:
    """``(target, method)`` when each replica may be filled in place on its own device by a
    fill plan (identical results), else None."""
    if getattr(init_obj, "_verbose", False):
        return None  # a verbose initializer logs once per parameter, not once per replica
    return plan_route(init_obj, desc)


def _host_kind(ctx: Context) -> bool:
    return not ctx.is_gpu


# per initializer object: (the initializer, its descs, the arrays to fill)
_Batches = dict[int, tuple[Any, list[Any], list[NDArray]]]


def run_jobs(jobs: Sequence[InitJob]) -> None:
    """Fill ``job.arrays`` for every job; nothing is assigned to any Parameter here.

    Replicas on the device type of the first context are filled in place (in one
    ``init_many`` batch per initializer for all jobs); replicas on the other device type (a
    mixed ``[gpu(0), cpu(0)]`` list) are copies of the first replica, because normal draws may
    differ in the last bits between CPU and GPU kernels while replicas must be identical.

    Raises:
        whatever the initializer raises; the jobs' arrays are then incomplete and must be
        dropped by the caller.
    """
    batches: _Batches = {}
    created: dict[int, Any] = {}
    pending: list[InitJob] = []  # jobs with replicas on the other device type, copied at the end
    recycled = 0
    cls = front_class()
    dtypes: dict[Any, np.dtype] = {}
    for job in jobs:
        if job.data is not None:
            job.arrays = [
                to_front(job.data.copyto(ctx).astype(job.dtype, copy=False)) for ctx in job.ctx_list
            ]
            continue
        init_obj = created.get(id(job.default_init))
        if init_obj is None:
            init_obj = created[id(job.default_init)] = initializer.create(job.default_init)
        desc = job.desc()
        if _plan_route(init_obj, desc) is None:
            host = zeros(job.shape, job.dtype, cpu())
            init_obj(desc, host)
            job.arrays = [host.copyto(ctx) for ctx in job.ctx_list]
            continue
        dtype = dtypes.get(job.dtype)
        if dtype is None:
            dtype = dtypes[job.dtype] = dtype_np(job.dtype)
        batch = batches.get(id(init_obj))
        if batch is None:
            batch = batches[id(init_obj)] = (init_obj, [], [])
        # Built-in fills write every element: the replicas need no zeroing first.
        first_kind = _host_kind(job.ctx_list[0])
        slots: list[NDArray | None] = []
        for ctx in job.ctx_list:
            if _host_kind(ctx) != first_kind:
                slots.append(None)
                if not pending or pending[-1] is not job:
                    pending.append(job)
                continue
            arr = _take_recycled(job, ctx) if job.recycle else None
            if arr is not None:
                recycled += arr._data.nbytes
            elif first_kind:
                arr = cls(np.empty(job.shape, dtype), ctx)
            else:
                arr = empty(job.shape, dtype, ctx)
            slots.append(arr)
            batch[1].append(desc)
            batch[2].append(arr)
        job.arrays = slots  # type: ignore[assignment]  # completed below for pending jobs
    if recycled and not _plans_succeed(batches):
        _unrecycle(batches, jobs)
    for init_obj, descs, arrays in batches.values():
        initializer.init_many(init_obj, descs, arrays)
    for job in pending:
        source = job.arrays[0]
        job.arrays = [
            arr if arr is not None else source.copyto(ctx)
            for arr, ctx in zip(job.arrays, job.ctx_list)
        ]


def _take_recycled(job: InitJob, ctx: Context) -> NDArray | None:
    """A buffer of ``job.recycle`` that fits a replica on ``ctx`` (removed from the list)."""
    if not job.recycle:
        return None
    dtype = job.dtype if isinstance(job.dtype, np.dtype) else dtype_np(job.dtype)
    gpu = ctx.is_gpu
    for i, raw in enumerate(job.recycle):
        on_gpu = backend.is_gpu_array(raw)
        if (
            on_gpu == gpu
            and (not gpu or int(raw.device.id) == ctx.device_id)
            and raw.dtype == dtype
            and tuple(raw.shape) == tuple(job.shape)
        ):
            del job.recycle[i]
            return front_class()(raw, ctx)
    return None


def _plans_succeed(batches: dict[int, tuple[Any, list[Any], list[NDArray]]]) -> bool:
    """Whether every array of the batches has a batchable fill plan that computes without error.

    Checked before anything is written when replicas being replaced are recycled: a failing
    ``initialize`` must leave the Parameters as they were, and their old buffers are among the
    arrays (``init_many`` fills earlier arrays before a later one fails).
    """
    from mxlite.initializer import _fill

    try:
        for init_obj, descs, arrays in batches.values():
            for desc, arr in zip(descs, arrays):
                target, method, _ = init_obj._route(desc)
                plan = _fill.plan_for(target, method, desc, arr)
                if plan is None or plan.kind not in ("uniform", "normal", "constant"):
                    return False
    except Exception:  # init_many raises it again, with fresh arrays only
        return False
    return True


def _unrecycle(batches: _Batches, jobs: Sequence[InitJob]) -> None:
    """Replace every recycled buffer of the batches (and of the jobs' replica lists) with a new
    array."""
    fresh: dict[int, NDArray] = {}
    for _, _, arrays in batches.values():
        for i, arr in enumerate(arrays):
            new = fresh.get(id(arr))
            if new is None:
                new = fresh[id(arr)] = empty(arr._data.shape, arr._data.dtype, arr.context)
            arrays[i] = new
    for job in jobs:
        job.arrays = [
            fresh.get(id(slot), slot) if slot is not None else None  # type: ignore[misc]
            for slot in job.arrays
        ]


_BASELINE: tuple[int, int] | None = None


def _baseline() -> tuple[int, int]:
    """Reference counts of an entry of a list and of its ``_data``, held nowhere else (measured
    once on this interpreter, with the same expressions :func:`exclusive` uses)."""
    global _BASELINE
    if _BASELINE is None:
        probe = [NDArray(np.empty(1), cpu())]
        _BASELINE = (sys.getrefcount(probe[0]), sys.getrefcount(probe[0]._data))
    return _BASELINE


def exclusive(arrays: list[NDArray]) -> list[bool]:
    """For each entry of a Parameter's own replica list: whether only that list reaches it.

    True when the NDArray is referenced by ``arrays`` alone, its raw array by the NDArray alone
    (no views, no other wrapper), and the raw array owns its writable memory. Such a buffer is
    dropped by the Parameter anyway, so writing into it is invisible to everyone. Call it before
    taking any other reference to the entries.
    """
    held, raw_held = _baseline()
    out = []
    for i in range(len(arrays)):
        ok = sys.getrefcount(arrays[i]) <= held and sys.getrefcount(arrays[i]._data) <= raw_held
        raw = arrays[i]._data
        writeable = bool(raw.flags.writeable) if isinstance(raw, np.ndarray) else True
        out.append(ok and raw.base is None and writeable)
    return out


def astype(arr: NDArray, dtype: Any) -> NDArray:
    """``arr.astype(dtype)`` allocated on ``arr``'s own device."""
    with backend.device_guard(arr.context):
        return arr.astype(dtype)


def same_device(a: Context, b: Context) -> bool:
    """Whether arrays on ``a`` and ``b`` share memory (all CPU contexts share the host)."""
    if not a.is_gpu and not b.is_gpu:
        return True
    return a == b


def reduce_mean(arrays: Sequence[NDArray]) -> NDArray:
    """The average of replicas ``arrays``, on cpu(0).

    The sum is taken on the device of the first GPU replica when there is one (replicas on other
    devices are copied there), so the result crosses to the host once.
    """
    from mxlite.ndarray import op

    host = cpu()
    if len(arrays) == 1:
        return arrays[0].copyto(host)
    acc_ctx = next((a.context for a in arrays if a.context.is_gpu), host)
    parts = [a if same_device(a.context, acc_ctx) else a.copyto(acc_ctx) for a in arrays]
    with backend.device_guard(acc_ctx):
        mean = op.add_n(*parts) / len(arrays)
    return mean.copyto(host) if mean.context != host else mean
