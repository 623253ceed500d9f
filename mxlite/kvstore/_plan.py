"""Repeated list ``pushpull`` calls of a :class:`~mxlite.kvstore.KVStore`, without per-key Python.

A Trainer all-reduces the same gradients into the same keys at every step:
``kv.pushpull(keys, grads, out)`` with the same list of keys and the same arrays. The general
path re-validates the key/value forms, regroups the pairs, allocates a fresh sum per key and
looks every stored array up again, which costs tens of microseconds per key. A
:class:`PushPullPlan` does all of that once; a later call with the same keys and the very same
value and output arrays (compared by identity; NDArrays never swap their buffers) runs it:

* each key's values are summed, in the order given, into a buffer the plan keeps for that key
  on the key's merge context (one ``numpy.add`` when all values are host arrays of one dtype;
  the general path's copy-then-add otherwise), bit for bit the general path's sum;
* without an optimizer the buffers become the stored values; with one, the updater gets the
  buffers as gradients, grouped by the stored weights' devices as the general path groups them
  (the same gradient objects every step, so the Updater's cached step plan applies);
* the stored values are copied into the outputs.

The store bumps its version whenever anything else changes what is stored or how (``init``, a
``push`` through the general path, a new optimizer or compression, loaded states); a plan built
for an older version is not used. Gradient compression always takes the general path.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer.updater import Updater

__all__ = ["PushPullPlan", "plannable"]

_GPU_TYPEID = 2


def _form(values: Any) -> str | None:
    """'lists' when every per-key value is a list of NDArrays, 'arrays' when every one is an
    NDArray, else None (mixed forms take the general path)."""
    if all(type(v) is list for v in values):
        if all(isinstance(x, NDArray) for v in values for x in v):
            return "lists"
        return None
    if all(isinstance(v, NDArray) for v in values):
        return "arrays"
    return None


def _flat(values: Sequence[Any], form: str) -> list[Any]:
    return list(chain.from_iterable(values)) if form == "lists" else list(values)


def plannable(keys: Any, value: Any, out: Any) -> bool:
    """Whether a ``pushpull(keys, value, out)`` call has a form plans cover: lists of keys,
    values (and outputs) with one form each."""
    return (
        isinstance(keys, list)
        and len(keys) > 1
        and len(set(keys)) == len(keys)  # repeated keys merge their values: general path
        and isinstance(value, list)
        and len(value) == len(keys)
        and _form(value) is not None
        and (
            out is None
            or (isinstance(out, list) and len(out) == len(keys) and _form(out) is not None)
        )
    )


class _Key:
    """One key's reduce: its value arrays, merge context and sum buffer, and its outputs."""

    __slots__ = ("key", "raws", "ctx", "host", "buffer", "outs")

    def __init__(self, key: Any, values: list[NDArray], ctx: Context, outs: list[NDArray]):
        self.key = key
        self.raws = [v._data for v in values]
        self.ctx = ctx
        first = self.raws[0]
        self.host = ctx.device_typeid != _GPU_TYPEID and all(
            not backend.is_gpu_array(r) and r.dtype == first.dtype for r in self.raws
        )
        with backend.device_guard(ctx):
            raw = backend.to_ctx(first, ctx, copy=True)  # the general path's sum starts so
        self.buffer = NDArray(raw, ctx)
        self.outs = [(o._data, o.context, not backend.is_gpu_array(o._data)) for o in outs]

    def reduce(self) -> None:
        """Sum the values into the buffer, in order (bitwise the general path's sum)."""
        buf, raws = self.buffer._data, self.raws
        if self.host:
            if len(raws) == 1:
                np.copyto(buf, raws[0])
                return
            np.add(raws[0], raws[1], out=buf)
            for raw in raws[2:]:
                np.add(buf, raw, out=buf)
            return
        ctx = self.ctx
        with backend.device_guard(ctx):
            backend.copy_into(buf, raws[0])
            for raw in raws[1:]:
                buf += backend.to_ctx(raw, ctx)

    def pull(self, src: Any) -> None:
        """Copy the stored raw array ``src`` into every output (cast to its dtype)."""
        src_host = not backend.is_gpu_array(src)
        for dst, _ctx, dst_host in self.outs:
            if dst_host and src_host:
                dst[...] = src
                continue
            backend.copy_into(dst, src)


class PushPullPlan:
    """A list ``pushpull`` of one store, ready to run again with the same arrays.

    Build it right after the general path ran the same call (which validated everything and
    created the stored entries it relies on).

    Args:
        kv: the store.
        keys, value, out: the call's arguments (see :func:`plannable`).
    """

    def __init__(self, kv: Any, keys: list[Any], value: list[Any], out: list[Any] | None):
        self._remember(kv, keys, value, out)
        targets = value if out is None else out
        self.entries: list[_Key] = []
        for key, vals, outs in zip(keys, value, targets, strict=True):
            vals = vals if isinstance(vals, list) else [vals]
            outs = outs if isinstance(outs, list) else [outs]
            ctx = kv._merge_context(key, vals)
            self.entries.append(_Key(key, vals, ctx, outs))
        self.merged = {e.key: e.buffer for e in self.entries}
        # All on the host, one dtype per key, two values per key (the usual two-CPU Trainer):
        # flat operand lists, so a step is two tight loops of NumPy calls.
        self.host_adds: list[tuple[Any, Any, Any]] | None = None
        if all(e.host and len(e.raws) == 2 and all(h for _, _, h in e.outs) for e in self.entries):
            self.host_adds = [(e.raws[0], e.raws[1], e.buffer._data) for e in self.entries]
        self.groups: list[tuple[list[Any], list[NDArray], list[NDArray]]] = []
        if self.updater is not None:
            by_ctx: dict[Context, tuple[list[Any], list[NDArray], list[NDArray]]] = {}
            for e in self.entries:
                stored = kv._store[e.key]
                keys_, grads, weights = by_ctx.setdefault(stored.context, ([], [], []))
                keys_.append(e.key)
                grads.append(e.buffer)
                weights.append(stored)
            self.groups = list(by_ctx.values())
        self.host_copies: list[tuple[Any, Any]] | None = None
        if self.host_adds is not None:
            sources = [
                e.buffer._data if self.updater is None else kv._store[e.key]._data
                for e in self.entries
            ]
            if not any(backend.is_gpu_array(src) for src in sources):
                self.host_copies = [
                    (dst, src) for e, src in zip(self.entries, sources) for dst, _, _ in e.outs
                ]
            else:
                self.host_adds = None

    def _remember(self, kv: Any, keys: list[Any], value: list[Any], out: list[Any] | None) -> None:
        """Keep what :meth:`matches` compares: the store's version and updater, the call."""
        self.version = kv._version
        self.updater = kv._updater
        self.keys = tuple(keys)
        self.value_form = _form(value)
        self.values = list(value)
        self.flat_values = _flat(value, self.value_form)  # type: ignore[arg-type]
        self.out_form = None if out is None else _form(out)
        self.outs = None if out is None else list(out)
        self.flat_outs = None if out is None else _flat(out, self.out_form)  # type: ignore[arg-type]

    def matches(self, kv: Any, keys: Any, value: Any, out: Any) -> bool:
        """Whether ``pushpull(keys, value, out)`` on ``kv`` is the call this plan was made for
        (same keys, the very same arrays, and nothing changed in the store since)."""
        if kv._version != self.version or kv._updater is not self.updater:
            return False
        if not isinstance(keys, list) or len(keys) != len(self.keys) or tuple(keys) != self.keys:
            return False
        if not self._same(value, self.values, self.flat_values, self.value_form):
            return False
        if out is None or self.outs is None:
            return out is None and self.outs is None
        return self._same(out, self.outs, self.flat_outs, self.out_form)  # type: ignore[arg-type]

    @staticmethod
    def _same(given: Any, inner: list[Any], flat: list[Any], form: str | None) -> bool:
        if not isinstance(given, list) or len(given) != len(inner):
            return False
        if form == "lists":
            # the same list objects (so the chain below iterates lists), holding the same arrays
            if not all(map(operator.is_, given, inner)):
                return False
            now = list(chain.from_iterable(given))
            return len(now) == len(flat) and all(map(operator.is_, now, flat))
        return all(map(operator.is_, given, flat))

    def run(self, kv: Any) -> None:
        """One pushpull: reduce every key, store or update, copy into the outputs."""
        if self.host_adds is not None:
            add = np.add
            for a, b, buf in self.host_adds:
                add(a, b, out=buf)
        else:
            for entry in self.entries:
                entry.reduce()
        store = kv._store
        updater = self.updater
        if updater is None:
            store.update(self.merged)
            if self.host_copies is not None:
                self._copy_host()
                return
            for entry in self.entries:
                entry.pull(entry.buffer._data)
            return
        if isinstance(updater, Updater):
            for keys, grads, weights in self.groups:
                if len(keys) == 1:
                    updater(keys[0], grads[0], weights[0])
                else:
                    updater(keys, grads, weights)
        else:
            for entry in self.entries:
                updater(entry.key, entry.buffer, store[entry.key])
        if self.host_copies is not None:
            self._copy_host()
            return
        for entry in self.entries:
            entry.pull(store[entry.key]._data)

    def _copy_host(self) -> None:
        copyto = np.copyto
        for dst, src in self.host_copies:  # type: ignore[union-attr]
            copyto(dst, src, casting="unsafe")
