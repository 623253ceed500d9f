"""Summing small host vectors across the threads that run one step on several contexts.

``SyncBatchNorm`` reduces its batch statistics (and, in the backward pass, its gradient sums)
across the ``ndev`` contexts of one process. mxlite runs operators synchronously, so the
per-context forward passes must run concurrently (one thread per context) for the statistics of
every context to exist at the same time; each call of :func:`allreduce` waits until all ``ndev``
contexts contributed to the current round of its key and returns the sum. The sum runs in float64
in the order of the contexts (not of arrival), so results do not depend on thread scheduling.

A round that cannot complete raises instead of hanging: at once when the calling thread is the
only one in the process (the contexts' passes are running one after another), else after
:data:`TIMEOUT_ENV` seconds (default 60).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite.base import MXNetError

__all__ = ["allreduce", "TIMEOUT_ENV"]

TIMEOUT_ENV = "MXLITE_SYNC_TIMEOUT"

_MSG_SEQUENTIAL = (
    "{what} '{key}' reduces its statistics across {ndev} contexts, but only the pass on {ctx} "
    "is running: mxlite runs operators synchronously, so the passes of the {ndev} contexts must "
    "run at the same time, one thread per context (e.g. concurrent.futures.ThreadPoolExecutor "
    "running `with autograd.record(): loss = loss_fn(net(x), y); loss.backward()` per context). "
    "Pass num_devices=1 (or use nn.BatchNorm) for per-context statistics."
)
_MSG_TIMEOUT = (
    "{what} '{key}': waited {timeout:.0f} s for the passes of {ndev} contexts, {got} arrived "
    "({ctxs}). Run one thread per context, and check num_devices (it must equal the number of "
    "contexts used). The wait is set by the {env} environment variable."
)
_MSG_TWICE = (
    "{what} '{key}': context {ctx} contributed twice to one round before the other contexts "
    "arrived; each of the num_devices={ndev} contexts must run the layer once per step."
)


class _Round:
    __slots__ = ("parts", "result")

    def __init__(self) -> None:
        self.parts: dict[tuple[int, int], tuple[Any, ...]] = {}
        self.result: tuple[np.ndarray, ...] | None = None


_LOCK = threading.Condition()
_OPEN: dict[str, _Round] = {}


def _timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, "60"))
    except ValueError:
        return 60.0


def allreduce(
    key: str, ndev: int, ctx: Any, parts: Sequence[Any], what: str = "SyncBatchNorm"
) -> tuple[np.ndarray, ...]:
    """The elementwise sums over ``ndev`` contexts of ``parts`` (host or device vectors, returned
    as float64 NumPy arrays), once every context of this round of ``key`` contributed.

    Args:
        key: the round's name (the layer's prefix).
        ndev: how many contexts take part.
        ctx: the caller's Context (orders the sum; one contribution per context per round).
        parts: the caller's vectors.
        what: the layer named in errors.

    Raises:
        MXNetError: the other contexts cannot arrive (one thread), do not arrive in time, or a
            context contributes twice to one round.
    """
    from mxlite import backend  # noqa: PLC0415 - keeps this module free of array imports

    host = tuple(np.asarray(backend.to_numpy(p), dtype=np.float64) for p in parts)
    if ndev <= 1:
        return host
    me = (ctx.device_typeid, ctx.device_id)
    with _LOCK:
        rnd = _OPEN.setdefault(key, _Round())
        if me in rnd.parts:
            raise MXNetError(_MSG_TWICE.format(what=what, key=key, ctx=ctx, ndev=ndev))
        rnd.parts[me] = host
        if len(rnd.parts) == ndev:
            ordered = [rnd.parts[k] for k in sorted(rnd.parts)]
            rnd.result = tuple(np.sum([p[i] for p in ordered], axis=0) for i in range(len(host)))
            del _OPEN[key]
            _LOCK.notify_all()
            return rnd.result
        if threading.active_count() == 1:
            del rnd.parts[me]
            raise MXNetError(_MSG_SEQUENTIAL.format(what=what, key=key, ndev=ndev, ctx=ctx))
        timeout = _timeout()
        if not _LOCK.wait_for(lambda: rnd.result is not None, timeout):
            got = sorted(rnd.parts)
            rnd.parts.pop(me, None)
            raise MXNetError(
                _MSG_TIMEOUT.format(
                    what=what, key=key, timeout=timeout, ndev=ndev, got=len(got), ctxs=got,
                    env=TIMEOUT_ENV,
                )
            )  # fmt: skip
        assert rnd.result is not None  # the wait returned because it was set
        return rnd.result
