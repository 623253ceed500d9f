"""Per-step scalars of a whole-list update, vectorized: update counts, learning rates, weight decays.

:class:`ScalarPlan` computes what :meth:`Optimizer._plan_scalars` computes index by index, with
NumPy over all indices at once and bit for bit the same:

* counts: every index gains one update (``begin_num_update`` first for new ones); ``num_update``
  is the running maximum in MXNet's processing order (dtype groups, chunks of ``aggregate_num``,
  or one index at a time), and the scheduler is read at the same points with those values;
* ``lr = base * lr_mult`` and ``wd = wd * wd_mult`` are single IEEE double products, as the
  Python expressions are (``x * 1.0 == x`` for indices without a multiplier; a NumPy float32
  multiplier gives a double product too, as in MXNet under NumPy 1.x); Adam's rate is
  ``lr * factor(t)`` with ``factor`` evaluated by the optimizer's own Python code once per
  distinct count ``t``.

The vector path runs only where that equality is certain; everything else takes the index-by-index
path (:meth:`Optimizer._plan_scalars`) for that step: rates, decays or counts that are not plain
Python ``float``/``int`` (multipliers may also be NumPy float16/32/64 or integer scalars),
duplicate indices, a subclass that overrides a scalar hook, or a scheduler other than mxlite's
own (those may count their calls; the built-in ones return the same rate when called again with
the same ``num_update``, so the vector path calls them once per distinct value, in increasing
order).

The update-count tables stay the optimizer's plain dicts, written every step (one C-level
``dict.update``). Before a step the plan checks that the table still holds what it wrote last
(one ``itemgetter``), so edits from elsewhere are picked up.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import lr_scheduler as _sched
from mxlite.ops import _optimizer_checks as checks
from mxlite.optimizer._common import NP1_FLOAT64

__all__ = ["ScalarPlan", "SCALAR_HOOKS", "VECTOR_MIN"]

# Optimizer methods whose overriding (below the class that defines the fused path) sends every
# step through the index-by-index path.
SCALAR_HOOKS = (
    "_update_count",
    "_get_lrs",
    "_get_wds",
    "_get_lr",
    "_get_wd",
    "_step_scalars",
    "_chunk_scalars",
    "_plan_scalars",
    "_bias_factor",
    "_bias_corrected",
)
# Schedulers whose repeated calls with one num_update return the same rate and change nothing.
_IDEMPOTENT = (
    _sched.FactorScheduler,
    _sched.MultiFactorScheduler,
    _sched.PolyScheduler,
    _sched.CosineScheduler,
)
VECTOR_MIN = 2  # fewer indices: the index-by-index path is cheaper than setting up arrays
_LR_MULT = operator.attrgetter("lr_mult")
_WD_MULT = operator.attrgetter("wd_mult")


def _plain(value: Any) -> bool:
    """Whether ``value`` is exactly a Python float or int (the types the vector path mirrors)."""
    return type(value) is float or type(value) is int


def _mult_ok(value: Any) -> bool:
    """Whether a multiplier may enter the float64 vector: a Python float or int, or a NumPy
    float16/32/64 or integer scalar, whose product with a plain rate MXNet (NumPy 1.x) computes
    in float64 (see :func:`mxlite.optimizer._common.scalar_product`)."""
    return (
        type(value) is float
        or type(value) is int
        or isinstance(value, NP1_FLOAT64)
        or isinstance(value, np.integer)
    )


def _getter(keys: tuple[Any, ...]) -> Callable[[dict[Any, Any]], tuple[Any, ...]]:
    if len(keys) == 1:
        key = keys[0]
        return lambda table: (table[key],)
    return operator.itemgetter(*keys)


class ScalarPlan:
    """Scalars of repeated ``update_multi`` calls over one list of indices.

    Args:
        opt: the optimizer (its multipliers and settings are read now; :meth:`valid` tells when
            they changed).
        keys: the indices, in call order (hashable, as the Updater's states need).
        groups: positions of each dtype group, in order of first appearance.
        weights: the call's weights (the index-by-index path needs them for its grouping).
        bias: whether rates get Adam's bias correction (``opt._bias_factor``).
        vector: False forces the index-by-index path (a subclass overrides a scalar hook).
    """

    def __init__(
        self,
        opt: Any,
        keys: tuple[Any, ...],
        groups: Sequence[Sequence[int]],
        weights: list[Any],
        bias: bool,
        vector: bool,
    ) -> None:
        self.keys = keys
        self.n = n = len(keys)
        self.weights = weights
        self.bias = bias
        self.version = opt._version
        sched = opt.lr_scheduler
        self.vector = bool(
            vector
            and n >= VECTOR_MIN
            and (sched is None or type(sched) in _IDEMPOTENT)
            and len(set(keys)) == n
        )
        if not self.vector:
            return  # the index-by-index path reads everything live at each step
        self._param_dict = opt.param_dict
        self._pd_len = len(opt.param_dict)
        self._names = opt.idx2name
        self._names_len = len(opt.idx2name)
        self._lr_snap = dict(opt.lr_mult)
        self._wd_snap = dict(opt.wd_mult)
        # Processing order and the points where the scheduler is read (MXNet's Updater order).
        agg = opt.aggregate_num
        if agg > 0:
            order = [p for group in groups for p in group]
            reads, sizes = [], []
            offset = 0
            for group in groups:
                for start in range(0, len(group), agg):
                    size = min(agg, len(group) - start)
                    reads.append(offset + start + size - 1)
                    sizes.append(size)
                offset += len(group)
        else:
            order = list(range(n))
            reads, sizes = order, [1] * n
        self.order = np.asarray(order, dtype=np.intp)
        self.in_order = order == list(range(n))
        self.reads = np.asarray(reads, dtype=np.intp)
        self.read_of = np.repeat(np.arange(len(reads)), sizes)
        self.okeys = tuple(self.keys[p] for p in order)
        self._get_counts = _getter(self.okeys)
        self._table: Any = None
        self._counts: np.ndarray | None = None
        self._written: tuple[Any, ...] = ()
        self._build_mults(opt)

    # ------------------------------------------------------------------ multipliers
    def _build_mults(self, opt: Any) -> None:
        """Multipliers in processing order (``_get_lrs``/``_get_wds``'s lookup, index by index)."""
        lr_m: list[Any] = []
        wd_m: list[Any] = []
        pd_pos: list[int] = []
        pd_params: list[Any] = []
        for k, key in enumerate(self.okeys):
            if key in opt.param_dict:
                pd_pos.append(k)
                pd_params.append(opt.param_dict[key])
                lr_m.append(1.0)
                wd_m.append(1.0)
                continue
            named = key in opt.idx2name
            for mults, out in ((opt.lr_mult, lr_m), (opt.wd_mult, wd_m)):
                if key in mults:
                    out.append(mults[key])
                else:
                    out.append(mults.get(opt.idx2name[key], 1.0) if named else 1.0)
        self._static_plain = all(map(_mult_ok, lr_m)) and all(map(_mult_ok, wd_m))
        self.lr_mult = np.array(lr_m if self._static_plain else [1.0] * self.n, dtype=np.float64)
        self.wd_mult = np.array(wd_m if self._static_plain else [1.0] * self.n, dtype=np.float64)
        self._pd_pos = np.asarray(pd_pos, dtype=np.intp)
        self._pd_params = pd_params
        self._pd_lr: list[Any] = []
        self._pd_wd: list[Any] = []
        self._pd_plain = True
        self._refresh_param_mults()

    def _refresh_param_mults(self) -> bool:
        """Read the gluon Parameters' multipliers (they may change any time, as in MXNet);
        returns whether every multiplier is plain."""
        if not self._pd_params:
            return self._static_plain
        lr_now = list(map(_LR_MULT, self._pd_params))
        wd_now = list(map(_WD_MULT, self._pd_params))
        if lr_now != self._pd_lr or wd_now != self._pd_wd:
            self._pd_plain = all(map(_mult_ok, lr_now)) and all(map(_mult_ok, wd_now))
            if self._pd_plain:
                self.lr_mult[self._pd_pos] = lr_now
                self.wd_mult[self._pd_pos] = wd_now
            self._pd_lr, self._pd_wd = lr_now, wd_now
        return self._static_plain and self._pd_plain

    def valid(self, opt: Any) -> bool:
        """Whether ``opt``'s multiplier sources and settings are those this plan was built from
        (anything assigned since bumps ``opt._version``; in-place edits of ``lr_mult``/
        ``wd_mult`` are compared, of ``param_dict``/``idx2name`` only by size)."""
        if opt._version != self.version:
            return False
        return not self.vector or (
            opt.param_dict is self._param_dict
            and len(opt.param_dict) == self._pd_len
            and opt.idx2name is self._names
            and len(opt.idx2name) == self._names_len
            and opt.lr_mult == self._lr_snap
            and opt.wd_mult == self._wd_snap
        )

    # ------------------------------------------------------------------ counts
    def _read_counts(self, opt: Any) -> np.ndarray | None:
        """Update counts (processing order) before this step, or None if not plain ints."""
        table = opt._index_update_count
        if table is self._table and self._counts is not None:
            try:
                if self._get_counts(table) == self._written:
                    return self._counts
            except KeyError:
                pass
        begin = opt.begin_num_update
        values = [table.get(key, begin) for key in self.okeys]
        if not all(map(_plain, values)):
            return None
        try:
            return np.array(values, dtype=np.int64)
        except OverflowError:
            return None

    # ------------------------------------------------------------------ the step
    def compute(self, opt: Any) -> tuple[np.ndarray, np.ndarray]:
        """Count this step's updates and return ``(lrs, wds)`` as float64 arrays in call order.

        Reads the scheduler exactly as the index-by-index path would (same values, same order).
        """
        if self.vector:
            result = self._vector_step(opt)
            if result is not None:
                return result
        where = f"{type(opt).__name__}.update_multi"
        lrs, wds = opt._plan_scalars(self.keys, self.weights)
        return checks.reals(where, "lrs", lrs, self.n), checks.reals(where, "wds", wds, self.n)

    def _vector_step(self, opt: Any) -> tuple[np.ndarray, np.ndarray] | None:
        sched = opt.lr_scheduler
        wd = opt.wd
        if not (_plain(wd) and (sched is not None or _plain(opt.lr))):
            return None
        if not self._refresh_param_mults():
            return None
        counts = self._read_counts(opt)
        if counts is None:
            return None
        new = counts + 1
        nu0 = opt.num_update
        if not _plain(nu0):
            return None
        num_update = max(nu0, int(new.max()))
        if sched is None:
            lrs = opt.lr * self.lr_mult
        else:
            base = self._scheduled(sched, new, nu0)
            if base is None:
                return None
            lrs = base * self.lr_mult
        if self.bias:
            factor = self._bias(opt, new)
            if factor is None:
                return None
            lrs = lrs * factor
        wds = wd * self.wd_mult
        # Commit: nothing above wrote anything (the built-in schedulers' own state aside, which
        # the index-by-index path would leave the same).
        listed = new.tolist()
        opt._index_update_count.update(zip(self.okeys, listed))
        self._table = opt._index_update_count
        self._counts = new
        self._written = tuple(listed)
        opt.num_update = num_update
        if self.in_order:
            return lrs, wds
        out_lr = np.empty_like(lrs)
        out_wd = np.empty_like(wds)
        out_lr[self.order] = lrs
        out_wd[self.order] = wds
        return out_lr, out_wd

    def _scheduled(self, sched: Any, new: np.ndarray, nu0: int) -> Any:
        """Scheduler rates per element (processing order), or a scalar when all are one value;
        None when a rate is not plain."""
        running = np.maximum.accumulate(new)
        np.maximum(running, nu0, out=running)
        at = running[self.reads]  # num_update at each read, non-decreasing
        if at[0] == at[-1]:
            rate = sched(int(at[0]))
            return rate if _plain(rate) else None
        starts = np.concatenate(([0], np.flatnonzero(at[1:] != at[:-1]) + 1))
        rates = [sched(int(v)) for v in at[starts]]
        if not all(map(_plain, rates)):
            return None
        per_read = np.repeat(np.array(rates, dtype=np.float64), np.diff([*starts, len(at)]))
        return per_read[self.read_of]

    def _bias(self, opt: Any, new: np.ndarray) -> Any:
        """Adam's factor per element (processing order) or a scalar; None when not plain."""
        if not (_plain(opt.beta1) and _plain(opt.beta2)):
            return None
        low, high = int(new.min()), int(new.max())
        if low == high:
            factor = opt._bias_factor(low)
            return factor if type(factor) is float else None
        distinct, inverse = np.unique(new, return_inverse=True)
        factors = [opt._bias_factor(int(t)) for t in distinct]
        if not all(type(f) is float for f in factors):
            return None
        return np.array(factors, dtype=np.float64)[inverse]
