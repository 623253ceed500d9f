"""Averaging and re-placing replicas for ``reset_ctx`` and ``save``: one pass for all Parameters.

MXNet averages each Parameter on its own (``add_n`` of copies on the CPU, then a division) and
copies the result to every new context. mxlite gives the same values (bitwise on the host; see
``reduce_mean`` in :mod:`mxlite.gluon._replicas`, the per-parameter reference) with fewer passes:

* The average of every Parameter is taken on the device of its first GPU replica (on the host
  when all replicas are on CPU contexts), and all Parameters averaged on one device go through
  one :class:`mxlite.ops.AveragePlan`: one kernel launch (one Numba loop on the host) that reads
  the k replicas and writes the mean, summed in replica order and divided by k, as ``add_n``
  then ``/ k`` do.
* Results cross to the host once, all together, through pinned staging buffers
  (:mod:`mxlite.backend.staging`); host replicas needed on a GPU go the other way in one batch.
* ``reset_ctx`` puts each average itself on the first new context of the device it was
  computed on, instead of copying it there (the average is a fresh array nobody else holds).
* A Parameter with one replica is saved straight from its array (no copy).
* ``reset_ctx`` recycles the old replica buffers that nothing outside the Parameter can reach
  (checked with reference counts, see :func:`exclusive`): the average is written into replica
  0's buffer and the other buffers receive its copies, so moving between host contexts
  allocates no data memory (fresh pages cost a page fault each: about as much as the average).
  Buffers a caller still holds (an NDArray from ``data()``, a view of it, an autograd graph)
  are never written.

Dtypes without a multi-tensor kernel (integers, bfloat16; float16 on the host) and strided
arrays take the per-parameter reference path. On a GPU, float16 replicas are summed in float32
and rounded once (``add_n`` on the host rounds after every addition; the two can differ in the
last bit when k > 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.context import Context, cpu
from mxlite.gluon import _param_init
from mxlite.gluon._replicas import exclusive, reduce_mean, same_device
from mxlite.ndarray.ndarray import NDArray

__all__ = [
    "exclusive",
    "Averages",
    "average_many",
    "to_host_many",
    "place_many",
    "reset_ctx_many",
    "host_averages",
]

_KERNEL_DTYPES_HOST = frozenset({np.dtype(np.float32), np.dtype(np.float64)})
_KERNEL_DTYPES_GPU = _KERNEL_DTYPES_HOST | {np.dtype(np.float16)}

DevKey = tuple[str, int]
_HOST: DevKey = ("cpu", 0)


def _key(ctx: Context) -> DevKey:
    """The memory a context's arrays live in: the host for every CPU context."""
    return ("gpu", ctx.device_id) if ctx.is_gpu else _HOST


def _wrap(like: NDArray, raw: Any, ctx: Context) -> NDArray:
    return type(like)(raw, ctx)


def _to_gpu_many(
    raws: Sequence[Any], ctxs: Sequence[Context], into: Sequence[Any] | None = None
) -> list[Any]:
    """Copies of raw arrays (host or any GPU) on the GPU contexts ``ctxs``, written into
    ``into[i]`` when given (a buffer on that GPU) else into new arrays: host sources in one
    staged batch, GPU sources device to device (another GPU's through
    :func:`mxlite.backend.copy_between_devices`, ordered with both devices' streams)."""
    from mxlite.backend import staging

    out: list[Any] = [None] * len(raws)
    hosts, dests = [], []
    for i, (raw, ctx) in enumerate(zip(raws, ctxs)):
        cp = backend.get_xp(ctx)
        with cp.cuda.Device(ctx.device_id):
            dst = into[i] if into is not None and into[i] is not None else None
            if backend.is_gpu_array(raw):
                if int(raw.device.id) != ctx.device_id:
                    out[i] = backend.copy_between_devices(raw, ctx.device_id, out=dst)
                    continue
                if dst is None:
                    dst = cp.empty(raw.shape, dtype=raw.dtype)
                cp.copyto(dst, raw)
                out[i] = dst
                continue
            if dst is None:
                dst = cp.empty(raw.shape, dtype=raw.dtype)
            out[i] = dst
        hosts.append(raw)
        dests.append(dst)
    if hosts:
        staging.to_device_into(hosts, dests)
    return out


class Averages:
    """What :func:`average_many` found, per Parameter ``i``.

    Attributes:
        means: an NDArray holding the mean (the single replica itself when there is one).
        ready: raw buffers holding the mean that may become new replicas (fresh arrays, or
            owned replicas the mean was written into).
        spares: owned raw buffers free to be overwritten (same shape and dtype).
    """

    def __init__(self, n: int) -> None:
        self.means: list[NDArray | None] = [None] * n
        self.ready: list[list[Any]] = [[] for _ in range(n)]
        self.spares: list[list[Any]] = [[] for _ in range(n)]


def average_many(
    replica_lists: Sequence[Sequence[NDArray]], owned: Sequence[Sequence[bool]] | None = None
) -> Averages:
    """The average of each list of replicas, computed on the device of its first GPU replica
    (on the host when it has none), one AveragePlan per (device, replica count).

    Args:
        replica_lists: per Parameter, its replicas.
        owned: per Parameter and replica, whether the buffer may be overwritten (see
            :func:`exclusive`); None means none may. Owned replicas on the device of the sum
            receive the mean in the same pass.
    """
    result = Averages(len(replica_lists))
    groups: dict[tuple[DevKey, int], list[int]] = {}
    for i, arrays in enumerate(replica_lists):
        mine = [a._data for a, ok in zip(arrays, owned[i]) if ok] if owned is not None else []
        if len(arrays) == 1:
            result.means[i] = arrays[0]
            result.ready[i] = mine
            continue
        acc = next((a.context for a in arrays if a.context.is_gpu), None)
        raw0 = arrays[0]._data
        allowed = _KERNEL_DTYPES_GPU if acc is not None else _KERNEL_DTYPES_HOST
        if raw0.dtype not in allowed or not all(
            a._data.dtype == raw0.dtype
            and a._data.shape == raw0.shape
            and a._data.flags.c_contiguous
            for a in arrays
        ):
            mean = reduce_mean(arrays)
            result.means[i] = mean
            result.ready[i] = [mean._data]
            result.spares[i] = mine
            continue
        result.spares[i] = mine
        groups.setdefault((_key(acc) if acc is not None else _HOST, len(arrays)), []).append(i)
    for (dev, _k), idxs in groups.items():
        _average_group(dev, idxs, replica_lists, result)
    return result


def _average_group(
    dev: DevKey, idxs: list[int], replica_lists: Sequence[Sequence[NDArray]], result: Averages
) -> None:
    """One AveragePlan over the Parameters ``idxs`` whose sums run on device ``dev``.

    The mean goes into replica 0's buffer when it is owned and on ``dev`` (the kernels allow
    that alias) and into every other owned buffer on ``dev`` in the same pass.
    """
    from mxlite.ops import AveragePlan

    ctx = cpu() if dev == _HOST else Context("gpu", dev[1])
    reps: list[list[Any]] = []
    moves: list[tuple[int, int]] = []
    for row, i in enumerate(idxs):
        reps.append([])
        for col, arr in enumerate(replica_lists[i]):
            reps[row].append(arr._data)
            if not same_device(arr.context, ctx):
                moves.append((row, col))
    if moves:
        moved = _to_gpu_many([reps[r][c] for r, c in moves], [ctx] * len(moves))
        for (r, c), raw in zip(moves, moved):
            reps[r][c] = raw
    outs: list[list[Any]] = []
    with backend.device_guard(ctx):
        xp = backend.get_xp(ctx)
        for ins, i in zip(reps, idxs):
            here = [sp for sp in result.spares[i] if _on(sp, dev)]
            first = replica_lists[i][0]._data
            if any(sp is first for sp in here):
                here = [first] + [sp for sp in here if sp is not first]
            else:
                here = [xp.empty(ins[0].shape, dtype=ins[0].dtype)] + here
            outs.append(here)
            result.spares[i] = [sp for sp in result.spares[i] if not _on(sp, dev)]
        AveragePlan(reps, outs)()
    for i, out in zip(idxs, outs):
        result.means[i] = _wrap(replica_lists[i][0], out[0], ctx)
        result.ready[i] = out


def _on(raw: Any, dev: DevKey) -> bool:
    return _dev_of(raw) == dev


def _dev_of(raw: Any) -> DevKey:
    if type(raw) is np.ndarray:  # the common case, without backend.is_gpu_array's name test
        return _HOST
    return ("gpu", int(raw.device.id)) if backend.is_gpu_array(raw) else _HOST


def to_host_many(arrays: Sequence[NDArray]) -> list[tuple[NDArray, bool]]:
    """``arrays`` on cpu(0): GPU arrays cross in one staged batch (fresh copies); host arrays
    are re-labelled cpu(0) without a copy (not fresh)."""
    from mxlite.backend import staging

    host = cpu()
    out: list[tuple[NDArray, bool] | None] = [None] * len(arrays)
    gpu_idx = [i for i, a in enumerate(arrays) if a.context.is_gpu]
    for i, arr in enumerate(arrays):
        if not arr.context.is_gpu:
            out[i] = (arr if arr.context == host else _wrap(arr, arr._data, host), False)
    if gpu_idx:
        copies = staging.to_host([arrays[i]._data for i in gpu_idx])
        for i, raw in zip(gpu_idx, copies):
            out[i] = (_wrap(arrays[i], raw, host), True)
    return out  # type: ignore[return-value]


def place_many(averages: Averages, ctx_list: Sequence[Context]) -> list[list[NDArray]]:
    """One replica of each mean per context of ``ctx_list`` (values copied exactly).

    Each context takes a ready buffer on its device when one is left, else a copy of the mean,
    written into a spare buffer on that device when there is one, else into a new array.
    Device-to-host copies of all means go in one staged batch, host-to-GPU copies likewise.
    """
    ctx_list = list(ctx_list)
    n = len(averages.means)
    means: list[NDArray] = averages.means  # type: ignore[assignment]
    ready: list[dict[DevKey, list[Any]]] = [{} for _ in range(n)]
    free: list[dict[DevKey, list[Any]]] = [{} for _ in range(n)]
    for i in range(n):
        for raw in averages.ready[i]:
            ready[i].setdefault(_dev_of(raw), []).append(raw)
        for raw in averages.spares[i]:
            free[i].setdefault(_dev_of(raw), []).append(raw)
    if any(not c.is_gpu for c in ctx_list):
        lacking = [
            i for i in range(n) if not ready[i].get(_HOST) and _dev_of(means[i]._data) != _HOST
        ]
        for i, (arr, _) in zip(lacking, to_host_many([means[i] for i in lacking])):
            ready[i].setdefault(_HOST, []).append(arr._data)
    placed: list[list[Any]] = [[None] * len(ctx_list) for _ in range(n)]
    sources: dict[int, dict[DevKey, Any]] = {}
    transfers: list[tuple[int, int, Any, Any]] = []  # (param, replica, source, destination)
    for i in range(n):
        known = {_dev_of(means[i]._data): means[i]._data}
        for dev, raws in ready[i].items():
            known.setdefault(dev, raws[0])
        sources[i] = known
        for j, ctx in enumerate(ctx_list):
            key = _key(ctx)
            if ready[i].get(key):
                placed[i][j] = ready[i][key].pop(0)
            elif key in known:
                src = known[key]
                with backend.device_guard(ctx):
                    xp = backend.xp_of(src)
                    if free[i].get(key):
                        dst = free[i][key].pop()
                        xp.copyto(dst, src)
                    else:
                        dst = xp.array(src, copy=True)
                placed[i][j] = dst
            else:  # a GPU the mean is not on: from a GPU copy when there is one, else the host
                src = next((v for k, v in known.items() if k != _HOST), known.get(_HOST))
                spare = free[i][key].pop() if free[i].get(key) else None
                transfers.append((i, j, src, spare))
    if transfers:
        moved = _to_gpu_many(
            [t[2] for t in transfers],
            [ctx_list[t[1]] for t in transfers],
            [t[3] for t in transfers],
        )
        for (i, j, _, _), raw in zip(transfers, moved):
            placed[i][j] = raw
    return [[_wrap(means[i], raw, ctx) for raw, ctx in zip(placed[i], ctx_list)] for i in range(n)]


def reset_ctx_many(params: Sequence[Any], ctx_list: Sequence[Context]) -> None:
    """Move initialized Parameters to ``ctx_list``: average, place, fresh gradients."""
    if not params:
        return
    owned = [exclusive(p._data) for p in params]  # before anything else refers to the replicas
    averages = average_many([p._data for p in params], owned)
    replicas = place_many(averages, ctx_list)
    _param_init.set_replicas_many(params, replicas, [ctx_list] * len(params))


def host_averages(params: Sequence[Any]) -> list[NDArray]:
    """The average of each Parameter's replicas on cpu(0), for saving (read-only: a Parameter
    with one host replica is returned as its own array, re-labelled cpu(0)).

    Raises:
        RuntimeError, DeferredInitializationError: a Parameter is not initialized (as
            ``Parameter.list_data`` raises); nothing is computed then.
    """
    dense = [p for p in params if p._stype == "default"]
    replica_lists = [p.list_data() for p in dense]
    means = iter([arr for arr, _ in to_host_many(average_many(replica_lists).means)])  # type: ignore[arg-type]
    # sparse weights: all rows, from the Trainer's store when there is one (MXNet's _reduce)
    return [next(means) if p._stype == "default" else p._reduce() for p in params]
