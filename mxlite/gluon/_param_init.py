"""How Parameters get their replicas: initialization jobs, deferred initialization, hand-over.

:class:`~mxlite.gluon.parameter.Parameter` delegates its initialization machinery here. Every
function works on a whole batch of Parameters (one ``ParameterDict.initialize``, one forward pass
finishing deferred initializations, one ``reset_ctx``), so the per-Parameter work is only what
must be per Parameter:

* :func:`start` checks one Parameter and says what to fill (an :class:`~mxlite.gluon._replicas.
  InitJob`), or defers it, or warns that it is initialized already.
* :func:`run` fills the replicas of every job (:func:`mxlite.gluon._replicas.run_jobs`: one batch
  of multi-tensor fills), then :func:`set_replicas_many` hands them over: replica lists, context
  lookup tables (one shared table per distinct context list), zero gradients, one autograd
  ``mark_variables`` call; each Parameter's ``_install`` bumps the buffers epoch
  (:data:`mxlite._epoch.BUFFERS`: O(1) while no zero_grad plan is cached).

Nothing is assigned to any Parameter until every fill succeeded. Functions take Parameters
duck-typed (this module sits below :mod:`mxlite.gluon.parameter`, which imports it).
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from mxlite import autograd
from mxlite.base import CheckError
from mxlite.context import Context
from mxlite.gluon import _param_checks, _replicas, _sparse_param
from mxlite.gluon.utils import shape_is_known
from mxlite.ndarray.ndarray import NDArray

__all__ = [
    "pause",
    "collector_paused",
    "start",
    "make_job",
    "run",
    "finish_deferred",
    "set_replicas_many",
    "init_grad",
    "attach_grads",
    "ctx_map",
]

# ctx_map tables by context list: Parameters initialized on the same contexts share one (read-only)
_CTX_MAPS: dict[tuple[Context, ...], tuple[tuple[int | None, ...], ...]] = {}
_CTX_MAPS_MAX = 64


def pause() -> Any:
    """``autograd.pause()`` when autograd provides it (no recording while initializing)."""
    pause_scope = getattr(autograd, "pause", None)
    return pause_scope() if pause_scope is not None else contextlib.nullcontext()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector for the length of one batch of initializations.

    A batch allocates several container objects per Parameter (jobs, replica lists, NDArrays,
    gradients), every one of them long-lived and none part of a garbage cycle. Those allocations
    trigger the generational collector again and again, and each pass walks the survivors: on
    S1 (2,000 Parameters) in a process holding about 130,000 objects that was 20-25 ms of a
    ~90 ms ``initialize`` (median of 30, this 2-vCPU machine). The collector is re-enabled on
    the way out, error or not, and left alone when the caller had disabled it already.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def ctx_map(ctx_list: Sequence[Context]) -> tuple[tuple[int | None, ...], ...]:
    """The replica lookup table of ``ctx_list``: ``table[typeid & 1][device_id]`` is the index of
    that context's replica (None where there is none). Shared by every Parameter on the same
    contexts (tuples: nobody can change it)."""
    key = tuple(ctx_list)
    table = _CTX_MAPS.get(key)
    if table is None:
        rows: list[list[int | None]] = [[], []]
        for i, ctx in enumerate(key):
            row = rows[ctx.device_typeid & 1]
            while len(row) <= ctx.device_id:
                row.append(None)
            row[ctx.device_id] = i
        table = (tuple(rows[0]), tuple(rows[1]))
        if len(_CTX_MAPS) >= _CTX_MAPS_MAX:
            _CTX_MAPS.clear()
        _CTX_MAPS[key] = table
    return table


def _shape_known(param: Any) -> bool:
    shape = param._shape
    if shape and min(shape) > 0:  # every dimension known under either shape semantics
        return True
    return shape_is_known(param.shape)


def start(
    param: Any,
    init: Any,
    ctx: Any,
    default_init: Any,
    force_reinit: bool,
    stacklevel: int,
    ctx_checked: bool = False,
) -> _replicas.InitJob | None:
    """Everything ``Parameter.initialize`` does before filling arrays; the job to run, if any.

    Args:
        param: the Parameter.
        init: its ``initialize`` argument (None: the Parameter's own ``init``, else
            ``default_init``).
        ctx: a Context or a list of them (None: the current context).
        default_init: the fallback initializer.
        force_reinit: re-initialize an initialized Parameter.
        stacklevel: ``warnings.warn``'s, for the "already initialized" warning raised here.
        ctx_checked: ``ctx`` is a list made by :func:`_param_checks.as_ctx_list` already (a
            ParameterDict checks it once for all its Parameters).

    Warns:
        UserWarning: already initialized and not ``force_reinit`` (None is returned).

    Raises:
        ValueError: unknown shape and no deferred initialization allowed.
    """
    if param._data is not None and not force_reinit:
        warnings.warn(
            f"Parameter '{param.name}' is already initialized, ignoring. Set "
            "force_reinit=True to re-initialize.",
            stacklevel=stacklevel,
        )
        return None
    ctx_list = ctx if ctx_checked else _param_checks.as_ctx_list(ctx)
    if init is None:
        init = default_init if param.init is None else param.init
    if not _shape_known(param):
        if param._allow_deferred_init:
            param._defer(init, ctx_list, default_init)
            return None
        raise ValueError(
            _param_checks.MSG_INVALID_SHAPE.format(name=param.name, shape=str(param.shape))
        )
    job = make_job(param, init, ctx_list, default_init, None)
    data = param._data
    if data and data[0]._data.nbytes >= _replicas.RECYCLE_MIN_BYTES:
        # force_reinit: big buffers nobody else holds may take the new values
        job.recycle = [
            arr._data
            for arr, mine in zip(data, _replicas.exclusive(data))
            if mine and arr._data.nbytes >= _replicas.RECYCLE_MIN_BYTES
        ]
    return job


def make_job(
    param: Any, init: Any, ctx_list: list[Context], default_init: Any, data: Any
) -> _replicas.InitJob:
    """The :class:`~mxlite.gluon._replicas.InitJob` that gives ``param`` its first values."""
    if param._shape is None:  # pragma: no cover - callers check the shape first
        raise CheckError(_param_checks.MSG_INVALID_SHAPE.format(name=param.name, shape="None"))
    return _replicas.InitJob(
        param.name, param._shape, param.dtype, ctx_list, init, default_init, data
    )


def run(jobs: Sequence[_replicas.InitJob], params: Sequence[Any]) -> None:
    """Fill every job's replicas, then hand them to their Parameters (all or none)."""
    with pause():
        _replicas.run_jobs(jobs)
        set_replicas_many(params, [job.arrays for job in jobs], [job.ctx_list for job in jobs])


def finish_deferred(params: Iterable[Any]) -> None:
    """Finish the deferred initializations of ``params`` together (one batch of fills).

    Every shape is checked first: on an error no Parameter is initialized.

    Raises:
        CheckError: a shape still has unknown dimensions.
    """
    with collector_paused():
        _finish_deferred(params)


def _finish_deferred(params: Iterable[Any]) -> None:
    jobs, owners, seen = [], [], set()
    for param in params:
        pending = param._deferred_init
        if pending is None or id(param) in seen:
            continue
        seen.add(id(param))
        if not _shape_known(param):
            raise CheckError(
                _param_checks.MSG_INVALID_SHAPE_DEFERRED.format(
                    name=param.name, shape=str(param.shape)
                )
            )
        jobs.append(
            make_job(param, pending.init, pending.ctx_list, pending.default_init, pending.data)
        )
        owners.append(param)
    if jobs:
        run(jobs, owners)


def set_replicas_many(
    params: Sequence[Any],
    arrays: Sequence[Sequence[NDArray]],
    ctx_lists: Sequence[Sequence[Context]],
) -> None:
    """Make ``arrays[i]`` the replicas of ``params[i]`` on ``ctx_lists[i]``, with fresh zero
    gradients (none for ``grad_req='null'``), marked for autograd in one call."""
    cls = _replicas.front_class()
    variables: list[NDArray] = []
    gradients: list[NDArray] = []
    reqs: list[str] = []
    last_list: Any = None
    table = None
    for param, replicas, ctx_list in zip(params, arrays, ctx_lists):
        if ctx_list is not last_list:  # usually one list for the whole batch
            last_list, table = ctx_list, ctx_map(ctx_list)
        data = list(replicas)  # the list is the caller's to give away
        for i, arr in enumerate(data):
            if type(arr) is not cls and arr.stype == "default":
                data[i] = cls(arr._data, arr.context)
        data = _sparse_param.stored_as(param._stype, data)
        req = param.grad_req
        grads = None if req == "null" else _new_grads(param, data, cls)
        param._install(data, ctx_list, table, grads)
        if grads is not None:
            variables += data
            gradients += grads
            reqs += [req] * len(data)
    if variables:
        autograd.mark_variables(variables, gradients, reqs)


def init_grad(param: Any) -> None:
    """Give ``param`` fresh zero gradient buffers (none for ``grad_req='null'``) and mark its
    replicas as autograd variables with them."""
    if param.grad_req == "null":
        param._set_grads(None)
        return
    param._set_grads(_new_grads(param, param._data, None))
    attach_grads(param)


def _new_grads(param: Any, data: list[NDArray], cls: Any) -> list[NDArray]:
    """Zero gradient buffers for ``data`` in ``param``'s ``grad_stype``."""
    if param._grad_stype != "default":
        return _sparse_param.zero_grads_for(param._grad_stype, data)
    return _replicas.zeros_like_each(data, cls)


def attach_grads(param: Any) -> None:
    """Mark ``param``'s replicas as autograd variables writing into its gradient buffers."""
    autograd.mark_variables(param._data, param._grad, param.grad_req)
