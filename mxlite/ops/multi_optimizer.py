"""Fused multi-tensor optimizer steps: SGD (momentum), NAG and Adam over many tensors at once.

Each call updates a list of tensors in place with one kernel launch per (device, dtype, state
layout) group: ``kernels/multi_optimizer.cu`` on the GPU, the Numba twins in
:mod:`mxlite.ops._cpu_optimizer` on the CPU. Both walk the chunk table of
:mod:`mxlite.ops.multi_tensor` (``chunk_buf``/``chunk_begin``), with 5 addresses and 3
per-tensor coefficients per buffer.

Numerics are those of the NumPy single-tensor paths in ``mxlite.optimizer`` (``sgd.py``,
``adam.py``), bit for bit: the per-tensor scalars (``lr``, ``lr * rescale_grad``, ``lr * wd``,
...) are computed here with NumPy in the master dtype exactly as that path computes them, and the
kernels apply the same IEEE operations in the same order (no FMA contraction). Per-tensor ``lrs``
and ``wds`` carry ``lr_mult``/``wd_mult``, schedules and Adam's bias correction.

Plans (the address table and the chunk table, on the device for the GPU) are cached, keyed by the
identity of the arrays of a call, and dropped as soon as one of those arrays is garbage
collected; a repeated call with the same buffers only converts the scalars and launches. A caller
that updates the same lists every step keeps a :class:`Prepared` plan (:func:`prepare`) and passes
it as ``plan=``: the call then skips hashing every array's identity for the cache lookup.

Arrays: NumPy or CuPy, C-contiguous; weights float16, float32 or float64; gradients of the
weight's dtype and shape; states (and float32 master copies ``weights32``, float16 weights only)
of the master's dtype and the weight's shape; everything of one tensor on one device. Everything
is checked before anything is written (for a cached plan, when the plan was built).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import _threads, backend
from mxlite.ops import _optimizer_checks as checks
from mxlite.ops._optimizer_checks import Arrays
from mxlite.ops._optimizer_coef import ADAM, CUDA_KERNELS, NAG, SGD, launch_scalars
from mxlite.ops._optimizer_coef import KINDS as _KINDS
from mxlite.ops.multi_tensor import chunk_table

__all__ = [
    "multi_sgd_update",
    "multi_nag_update",
    "multi_adam_update",
    "supported",
    "prepare",
    "Prepared",
    "clear_plan_cache",
    "CUDA_KERNELS",
    "launch_scalars",
    "SGD",
    "NAG",
    "ADAM",
]

_SLOTS = 5  # weight, grad, state 0, state 1, master (as in the kernels)
CPU_CHUNK = 1 << 15  # elements per chunk (multiples of 4: the GPU's vector path needs it)
CPU_SERIAL_BELOW = 1 << 16  # elements: smaller CPU launches skip the thread pool
GPU_CHUNK = 1 << 14
_THREADS = 256
_CACHE_SIZE = 8


# -------------------------------------------------------------------------------------- plans
class _Launch:
    """One kernel launch: the tensors of one (device, storage kind, state count) group."""

    def __init__(
        self,
        kind: str,
        device: tuple[str, int],
        positions: list[int],
        rows: np.ndarray,
        sizes: np.ndarray,
    ) -> None:
        self.kind = kind
        self.device = device
        self.positions = np.asarray(positions, dtype=np.intp)
        self.nbufs = len(positions)
        gpu = device[0] == "gpu"
        self.chunk = GPU_CHUNK if gpu else CPU_CHUNK
        chunk_buf, chunk_begin = chunk_table(sizes, self.chunk)
        self.nchunks = int(chunk_buf.size)
        self.total = int(sizes.sum())
        self.vec = int(bool(np.all(rows % 16 == 0)))
        self._coef_host: np.ndarray | None = None
        self._coef_dev: Any = None
        self._last: tuple[bytes, np.ndarray, np.ndarray] | None = None  # inputs -> coef, glob
        if gpu:
            cp: Any = backend.cupy_or_none()
            with cp.cuda.Device(device[1]):
                self.tables = (
                    cp.asarray(rows.astype(np.uint64).ravel()),
                    cp.asarray(sizes),
                    cp.asarray(chunk_buf),
                    cp.asarray(chunk_begin),
                )
        else:
            self.tables = (rows.astype(np.int64).ravel(), sizes, chunk_buf, chunk_begin)

    def scalars(
        self,
        family: int,
        nstate: int,
        lrs: np.ndarray,
        wds: np.ndarray,
        rescale: float,
        clip: float,
        params: tuple[float, ...],
    ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`launch_scalars` for this launch, reused while its inputs stay bit for bit the
        same (a step with unchanged rates converts nothing and uploads nothing)."""
        head = np.array((family, nstate, rescale, clip, *params), dtype=np.float64)
        key = head.tobytes() + lrs.tobytes() + wds.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1], self._last[2]
        coef, glob = launch_scalars(family, nstate, self.kind, lrs, wds, rescale, clip, params)
        self._last = (key, coef, glob)
        return coef, glob

    def run(
        self, family: int, nstate: int, coef: np.ndarray, glob: np.ndarray, clipping: bool
    ) -> None:
        if self.nchunks == 0:
            return
        if self.device[0] == "cpu":
            from mxlite.ops import _cpu_optimizer  # noqa: PLC0415 - defer Numba to the first step

            name = _KINDS[self.kind][3]
            _threads.launch(
                getattr(_cpu_optimizer, name),
                *self.tables,
                self.chunk,
                coef,
                glob,
                family,
                nstate,
                clipping,
                serial=getattr(_cpu_optimizer, name + "_serial"),
                big_enough=self.total >= CPU_SERIAL_BELOW,
            )
            return
        from mxlite.ops import _cuda  # noqa: PLC0415

        cp: Any = backend.cupy_or_none()
        with cp.cuda.Device(self.device[1]):
            if self._coef_host is not coef and (
                self._coef_host is None or self._coef_host.tobytes() != coef.tobytes()
            ):
                self._coef_dev = cp.asarray(coef)
                self._coef_host = coef
            kernel = _cuda.get_kernel("multi_optimizer.cu", _KINDS[self.kind][2])
            ctype = _KINDS[self.kind][1]
            args = (
                *self.tables[:4],
                np.int64(self.chunk),
                self._coef_dev,
                *(ctype(v) for v in glob),
                np.int32(family),
                np.int32(nstate),
                np.int32(clipping),
                np.int32(self.vec),
            )
            kernel((self.nchunks,), (_THREADS,), args)


class _Plan:
    """Address and chunk tables of one list of buffers, split into launches."""

    def __init__(self, arrays: Arrays) -> None:
        weights, grads, states0, states1, masters = arrays
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, w in enumerate(weights):
            if w.size == 0:
                continue
            mp = masters is not None and masters[i] is not None
            kind = "float16mp" if mp else w.dtype.name
            nstate = int(states0 is not None and states0[i] is not None) + int(
                states1 is not None and states1[i] is not None
            )
            groups.setdefault((checks.device(w), kind, nstate), []).append(i)
        self.launches: list[tuple[int, _Launch]] = []
        self.refs: list[Any] = []  # weak references whose callbacks drop this plan from the cache
        for (device, kind, nstate), positions in groups.items():
            rows = np.empty((len(positions), _SLOTS), dtype=np.int64)
            for r, i in enumerate(positions):
                addr = [_address(weights[i]), _address(grads[i])]
                copy = None if masters is None else masters[i]
                master = addr[0] if copy is None else _address(copy)
                for states in (states0, states1):  # absent states point at the master buffer
                    s = None if states is None else states[i]
                    addr.append(master if s is None else _address(s))
                addr.append(master)
                rows[r] = addr
            sizes = np.array([weights[i].size for i in positions], dtype=np.int64)
            self.launches.append((nstate, _Launch(kind, device, positions, rows, sizes)))


def _address(arr: Any) -> int:
    return int(arr.data.ptr) if backend.is_gpu_array(arr) else int(arr.ctypes.data)


_LOCK = threading.Lock()
_PLANS: OrderedDict[tuple[Any, ...], _Plan] = OrderedDict()
# Keys whose arrays were collected. Weak-reference callbacks only append here (they may run in
# the middle of anything, even while _LOCK is held); every lookup purges first, so an id reused
# by a new array can never match a stale plan.
_DEAD: list[tuple[Any, ...]] = []


def _drop(key: tuple[Any, ...]) -> Any:
    def callback(_: Any) -> None:
        _DEAD.append(key)

    return callback


def _lookup(key: tuple[Any, ...]) -> _Plan | None:
    with _LOCK:
        while _DEAD:
            _PLANS.pop(_DEAD.pop(), None)
        plan = _PLANS.get(key)
        if plan is not None:
            _PLANS.move_to_end(key)
        return plan


def _plan(where: str, arrays: Arrays, state_names: tuple[str, str]) -> _Plan:
    """The cached plan for these arrays, or a new one after every check has passed."""
    key = _key(arrays)
    plan = _lookup(key)
    if plan is not None:
        return plan
    problem = checks.problem(where, *arrays, state_names=state_names)
    if problem is not None:
        raise problem[0](problem[1])
    plan = _Plan(arrays)
    callback = _drop(key)
    plan.refs = [
        weakref.ref(a, callback)
        for items in arrays
        if items is not None
        for a in items
        if a is not None
    ]
    with _LOCK:
        _PLANS[key] = plan
        while len(_PLANS) > _CACHE_SIZE:
            _PLANS.popitem(last=False)
    return plan


def _key(arrays: Arrays) -> tuple[Any, ...]:
    """Cache key: the identities of every array (a plan's weak references keep them unique)."""
    return tuple(None if items is None else tuple(map(id, items)) for items in arrays)


def clear_plan_cache() -> None:
    """Forget every cached plan (they are rebuilt on the next call)."""
    with _LOCK:
        _PLANS.clear()


def _listed(
    weights: Sequence[Any],
    grads: Sequence[Any],
    states: Sequence[Sequence[Any] | None],
    weights32: Sequence[Any] | None,
) -> Arrays:
    """The five lists of a call (``states`` padded with None to two lists)."""
    lists = [*list(states), None, None][:2]
    return (weights, grads, lists[0], lists[1], weights32)


def supported(
    weights: Sequence[Any],
    grads: Sequence[Any],
    states: Sequence[Sequence[Any] | None] = (),
    weights32: Sequence[Any] | None = None,
) -> bool:
    """Whether the fused functions accept these arrays (no exception would be raised for them).

    Cheap when the same arrays were updated before (their plan is cached).

    Args:
        weights, grads: one per tensor.
        states: up to two lists of states (momentum; or Adam's means and variances), entries may
            be None for tensors without that state.
        weights32: float32 master copies (None entries for non-multi-precision tensors).
    """
    arrays = _listed(weights, grads, states, weights32)
    if _lookup(_key(arrays)) is not None:  # checked when that plan was built
        return True
    return checks.problem("supported", *arrays) is None


class Prepared:
    """The checked plan of one set of array lists, for callers that update them repeatedly.

    Made by :func:`prepare`; pass it as ``plan=`` to the update functions together with the very
    list objects it was prepared with (checked by identity, so the lists must not be edited).
    It keeps the plan alive as long as it lives, whatever the plan cache evicts.
    """

    __slots__ = ("_lists", "_plan", "full_states")

    def __init__(self, lists: Arrays, plan: _Plan) -> None:
        self._lists = lists
        self._plan = plan
        # Every tensor has both states (what Adam requires; checked once here, not per call).
        self.full_states = all(
            items is not None and all(a is not None for a in items) for items in lists[2:4]
        )

    def plan_for(self, where: str, arrays: Arrays) -> _Plan:
        """The plan, after checking that ``arrays`` are the lists it was prepared with.

        Raises:
            ValueError: other lists (or states given differently) than at :func:`prepare`.
        """
        if not all(a is b for a, b in zip(arrays, self._lists)):
            raise ValueError(
                f"{where}: plan= was prepared for other array lists; pass the very lists given "
                "to multi_optimizer.prepare, or leave plan=None."
            )
        return self._plan


def prepare(
    weights: Sequence[Any],
    grads: Sequence[Any],
    states: Sequence[Sequence[Any] | None] = (),
    weights32: Sequence[Any] | None = None,
) -> Prepared:
    """Check these lists once and return their plan for repeated updates (``plan=``).

    Arguments as :func:`supported`. The lists must stay the same objects with the same contents
    for as long as the plan is used.

    Raises:
        TypeError, ValueError: as the update functions, for arrays they would refuse.
    """
    arrays = _listed(weights, grads, states, weights32)
    return Prepared(arrays, _plan("prepare", arrays, ("states", "states")))


# ------------------------------------------------------------------------------ coefficients
def _run(
    where: str,
    family: int,
    arrays: Arrays,
    lrs: Sequence[float] | np.ndarray,
    wds: Sequence[float] | np.ndarray,
    rescale_grad: float,
    clip_gradient: float | None,
    params: tuple[float, ...],
    state_names: tuple[str, str] = ("moms", "states"),
    prepared: Prepared | None = None,
) -> None:
    n = len(arrays[0])
    lr_all = checks.reals(where, "lrs", lrs, n)
    wd_all = checks.reals(where, "wds", wds, n)
    rescale = checks.real(where, "rescale_grad", rescale_grad)
    clip = checks.clip_value(where, clip_gradient)
    if prepared is None:
        plan = _plan(where, arrays, state_names)
    else:
        plan = prepared.plan_for(where, arrays)
    whole = len(plan.launches) == 1
    for nstate, launch in plan.launches:
        pos = launch.positions
        lr, wd = (lr_all, wd_all) if whole and launch.nbufs == n else (lr_all[pos], wd_all[pos])
        coef, glob = launch.scalars(family, nstate, lr, wd, rescale, clip, params)
        launch.run(family, nstate, coef, glob, clip >= 0)


def _run_momentum(
    where: str,
    family: int,
    weights: Sequence[Any],
    grads: Sequence[Any],
    moms: Sequence[Any] | None,
    lrs: Sequence[float] | np.ndarray,
    wds: Sequence[float] | np.ndarray,
    momentum: float,
    rescale_grad: float,
    clip_gradient: float | None,
    weights32: Sequence[Any] | None,
    plan: Prepared | None,
) -> None:
    """:func:`_run` for the momentum families (SGD, NAG): one optional state list."""
    mom = checks.real(where, "momentum", momentum)
    arrays = (weights, grads, moms, None, weights32)
    _run(where, family, arrays, lrs, wds, rescale_grad, clip_gradient, (mom,), prepared=plan)


# ---------------------------------------------------------------------------------- public API
def multi_sgd_update(
    weights: Sequence[Any],
    grads: Sequence[Any],
    moms: Sequence[Any] | None,
    lrs: Sequence[float] | np.ndarray,
    wds: Sequence[float] | np.ndarray,
    momentum: float,
    rescale_grad: float,
    clip_gradient: float | None,
    weights32: Sequence[Any] | None = None,
    plan: Prepared | None = None,
) -> None:
    """SGD on many tensors in place (MXNet's multi-SGD rule; numerics of ``_single_tensor_sgd``)::

        step = lr * clip(rescale_grad * g)        (or (lr * rescale_grad) * g unclipped)
        mom = momentum * mom - (lr * wd) * w - step;   w = w + mom      (with a momentum buffer)
        w = w + (-(lr * wd) * w - step)                                   (without)

    Args:
        weights, grads: arrays, one per tensor (see the module docstring for what is accepted).
        moms: momentum buffers (None, or None entries: no momentum for those tensors).
        lrs, wds: per-tensor learning rates and weight decays (multipliers applied).
        momentum, rescale_grad: the optimizer's values.
        clip_gradient: clip bound; None or negative: no clipping.
        weights32: float32 master copies for multi-precision float16 weights (None entries
            elsewhere); the math runs on them and the weights receive their rounded values.
        plan: a :class:`Prepared` plan of exactly these lists (skips the cache lookup), or None.

    Raises:
        TypeError: an argument is not an array or has the wrong dtype, or a scalar is not real.
        ValueError: lengths, shapes or devices disagree, an array is strided or read-only, or a
            scalar is not finite. Nothing is written in these cases.
    """
    _run_momentum(
        "multi_sgd_update", SGD, weights, grads, moms, lrs, wds, momentum, rescale_grad, clip_gradient,
        weights32, plan,
    )  # fmt: skip


def multi_nag_update(
    weights: Sequence[Any],
    grads: Sequence[Any],
    moms: Sequence[Any] | None,
    lrs: Sequence[float] | np.ndarray,
    wds: Sequence[float] | np.ndarray,
    momentum: float,
    rescale_grad: float,
    clip_gradient: float | None,
    weights32: Sequence[Any] | None = None,
    plan: Prepared | None = None,
) -> None:
    """NAG on many tensors in place (numerics of ``_single_tensor_nag``). With ``term =
    clip(rescale_grad * g)`` and a momentum buffer::

        mom = momentum * mom
        w' = (w - mom) + (momentum + 1) * (mom - lr * (term + wd * w))
        mom = mom - lr * (term + wd * w')

    without one: ``w = (1 - lr * wd) * w - lr * clip(rescale_grad * g)``. Arguments and errors as
    :func:`multi_sgd_update`.
    """
    _run_momentum(
        "multi_nag_update", NAG, weights, grads, moms, lrs, wds, momentum, rescale_grad, clip_gradient,
        weights32, plan,
    )  # fmt: skip


def multi_adam_update(
    weights: Sequence[Any],
    grads: Sequence[Any],
    means: Sequence[Any],
    vars: Sequence[Any],  # noqa: A002 - MXNet's name
    lrs: Sequence[float] | np.ndarray,
    wds: Sequence[float] | np.ndarray,
    beta1: float,
    beta2: float,
    epsilon: float,
    rescale_grad: float,
    clip_gradient: float | None,
    weights32: Sequence[Any] | None = None,
    plan: Prepared | None = None,
) -> None:
    """Adam on many tensors in place (MXNet's ``adam_update``; numerics of ``_single_tensor_adam``)::

        g = clip(rescale_grad * grad + wd * w)
        mean = beta1 * mean + (1 - beta1) * g;   var = beta2 * var + (1 - beta2) * g * g
        w = w - lr * mean / (sqrt(var) + epsilon)

    ``lrs`` are the bias-corrected rates ``lr * sqrt(1 - beta2**t) / (1 - beta1**t)``. Arguments
    and errors as :func:`multi_sgd_update`; ``means`` and ``vars`` are required for every tensor.
    """
    where = "multi_adam_update"
    params = tuple(
        checks.real(where, name, v)
        for name, v in (("beta1", beta1), ("beta2", beta2), ("epsilon", epsilon))
    )
    if plan is None or not plan.full_states:  # a plan's lists are checked when it is used
        for i, (m, v) in enumerate(zip(means, vars)):
            if m is None or v is None:
                raise ValueError(checks.MSG_STATES.format(where=where, i=i))
    arrays = (weights, grads, means, vars, weights32)
    _run(
        where, ADAM, arrays, lrs, wds, rescale_grad, clip_gradient, params, ("means", "vars"), plan
    )
