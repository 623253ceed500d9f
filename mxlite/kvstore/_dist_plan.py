"""A distributed store's repeated list ``pushpull`` (a Trainer's step), run from a plan.

The first call takes the general path of :class:`~mxlite.kvstore.dist.DistKVStore`, which checks
that every worker agrees and builds the :class:`~mxlite.kvstore._fused.FusedGroup` of each
(dtype, transport) group. The plan keeps those groups (their buffers, shard layout and copy
lists) and, for a later call with the same keys and the very same arrays (matched as
:class:`~mxlite.kvstore._plan.PushPullPlan` matches them, and only while nothing in the store has
changed since), runs:

1. each group's fused, ordered sum (two collectives per bucket);
2. without an optimizer: the sums (views of the groups' result buffers) become the stored
   values; with one: the updater gets them as gradients, grouped by the stored weights' devices
   as the general path groups them;
3. the stored values are copied into the outputs.

It skips the agreement collective: every worker built its plan from the same agreed call, and
the calls that change a store (``init``, a general ``push``) are collective, so every worker
drops its plan at the same call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import backend
from mxlite.context import Context
from mxlite.kvstore._fused import FusedGroup
from mxlite.kvstore._plan import PushPullPlan
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer.updater import Updater

__all__ = ["DistPushPullPlan"]


class DistPushPullPlan(PushPullPlan):
    """A list ``pushpull`` of a distributed store, ready to run again with the same arrays.

    Build it right after the general path ran the same call.

    Args:
        kv: the store.
        keys, value, out: the call's arguments (see :func:`mxlite.kvstore._plan.plannable`).
        groups: the fused groups the general path built for this call.
    """

    def __init__(
        self, kv: Any, keys: list[Any], value: list[Any], out: list[Any] | None, groups: list[Any]
    ) -> None:
        self._remember(kv, keys, value, out)  # no super().__init__: no local sum buffers here
        self.fused: list[FusedGroup] = list(groups)
        kinds = {k: type(v[0] if isinstance(v, list) else v) for k, v in zip(keys, value)}
        self.merged: dict[Any, NDArray] = {}
        for group in self.fused:
            for k, view in zip(group.keys, group.views):
                self.merged[k] = kinds[k](view, group.ctx)
        self.update_groups: list[tuple[list[Any], list[NDArray], list[NDArray]]] = []
        if self.updater is not None:
            by_ctx: dict[Context, tuple[list[Any], list[NDArray], list[NDArray]]] = {}
            for k in keys:
                stored = kv._store[k]
                keys_, grads, weights = by_ctx.setdefault(stored.context, ([], [], []))
                keys_.append(k)
                grads.append(self.merged[k])
                weights.append(stored)
            self.update_groups = list(by_ctx.values())
        targets = value if out is None else out
        self.copies: list[tuple[Any, Any, Context, bool]] = []
        for k, dsts in zip(keys, targets):
            src = self.merged[k]._data if self.updater is None else kv._store[k]._data
            for dst in dsts if isinstance(dsts, list) else [dsts]:
                host = not backend.is_gpu_array(dst._data) and not backend.is_gpu_array(src)
                self.copies.append((dst._data, src, dst.context, host))

    def run(self, kv: Any) -> None:
        """One pushpull: fused sums, store or update, copy into the outputs."""
        for group in self.fused:
            group.run()
        updater = self.updater
        if updater is None:
            kv._store.update(self.merged)
        elif isinstance(updater, Updater):
            for keys, grads, weights in self.update_groups:
                if len(keys) == 1:
                    updater(keys[0], grads[0], weights[0])
                else:
                    updater(keys, grads, weights)
        else:  # any callable: once per key, in the call's order (as the general path)
            store = kv._store
            for k in self.keys:
                updater(k, self.merged[k], store[k])
        copyto = np.copyto
        for dst, src, ctx, host in self.copies:
            if host:
                copyto(dst, src, casting="unsafe")
                continue
            with backend.device_guard(ctx):
                dst[...] = backend.to_ctx(src, ctx)
