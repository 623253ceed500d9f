"""Deferred computations of tests/fake_cupy.py: results allocated now, values written when the
stream runs (see tests/fake_cupy_streams.py).

A CuPy call returns at once with an array whose shape and dtype are known while the kernel that
fills it is still queued. Here:

* a ufunc's result shape is the broadcast of its operands and its dtype what NumPy's ufunc gives
  for 0-d operands of the same dtypes (so nothing is computed twice);
* any other function is run once at call time to learn what it returns: when the stream has no
  pending work, that run *is* a valid execution (the inputs are what the stream would see) and its
  values are published into the result when the stream reaches that point; otherwise the values
  are discarded and the function runs again when the stream gets there;
* a result that is a view of an input (``reshape``, basic indexing, ``asarray`` of a device array)
  is returned at once: it computes nothing;
* functions whose result shape depends on device data (``nonzero``, boolean masks, ``unique``...)
  synchronize the stream first, as CuPy does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests import fake_cupy_streams as streams

# Set by tests/fake_cupy.py: wrap(np.ndarray, device) -> fake ndarray; is_fake(obj) -> bool.
WRAP: Callable[[np.ndarray, int], Any] = None  # type: ignore[assignment]
IS_FAKE: Callable[[Any], bool] = None  # type: ignore[assignment]


def inputs_of(*objs: Any) -> dict[int, Any]:
    """id(host buffer) -> fake array, for every fake array in ``objs`` (lists, tuples, dicts)."""
    found: dict[int, Any] = {}
    stack = list(objs)
    while stack:
        obj = stack.pop()
        if IS_FAKE(obj):
            found[id(obj._a)] = obj
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
    return found


def compute(
    fn: Callable[[], Any],
    dev: int,
    found: dict[int, Any],
    *,
    sync: bool = False,
    queue: streams.Queue | None = None,
) -> Any:
    """Run ``fn`` (NumPy on the host buffers) as a kernel queued on ``queue`` (default: the current
    stream); returns fake arrays on ``dev`` whose values appear when the queue runs.

    Args:
        found: the inputs (:func:`inputs_of`): results sharing memory with one are views.
        sync: run the queue first (the result's shape depends on device data).
    """
    q = streams.current_queue() if queue is None else queue
    if sync:
        q.run_all()
    eager = q.pending == 0
    try:
        with np.errstate(all="ignore"):
            result = fn()
    except Exception:
        if eager:
            raise
        q.run_all()  # stale inputs made the trial run fail: run the stream, then for real
        return compute(fn, dev, found, queue=q)
    fresh: list[tuple[np.ndarray, np.ndarray, tuple[int, ...]]] = []
    out = _outputs(result, dev, found, fresh, ())
    if not fresh:
        return out
    if eager:
        pairs = [(dst, src) for dst, src, _ in fresh]
        q.push(lambda: _publish(pairs))
    else:
        paths = [(dst, path) for dst, _, path in fresh]
        q.push(lambda: _rerun(fn, paths))
    return out


def _publish(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for dst, src in pairs:
        np.copyto(dst, src, casting="unsafe")


def _rerun(fn: Callable[[], Any], paths: list[tuple[np.ndarray, tuple[int, ...]]]) -> None:
    result = fn()
    for dst, path in paths:
        value = result
        for i in path:
            value = value[i]
        value = np.asarray(value)
        if value.shape != dst.shape:
            raise AssertionError(
                "fake CuPy: a deferred result changed shape when run for real; its shape depends "
                "on device data, so the function must synchronize (add it to the SYNC list)"
            )
        np.copyto(dst, value, casting="unsafe")


def _outputs(
    result: Any, dev: int, found: dict[int, Any], fresh: list[Any], path: tuple[int, ...]
) -> Any:
    if isinstance(result, (list, tuple)):
        items = [_outputs(r, dev, found, fresh, (*path, i)) for i, r in enumerate(result)]
        return type(result)(items) if isinstance(result, list) else tuple(items)
    if not isinstance(result, (np.ndarray, np.generic)):
        return result
    arr = np.asarray(result)
    same = found.get(id(arr))
    if same is not None:
        return same
    for owner in found.values():
        if arr.size and np.may_share_memory(arr, owner._a):
            return WRAP(arr, owner._dev)
    dst = streams.alloc_like(arr)
    fresh.append((dst, arr, path))
    return WRAP(dst, dev)


# ------------------------------------------------------------------------------------- ufuncs
def ufunc_dtypes(ufunc: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> list[np.dtype]:
    """The output dtypes of ``ufunc(*args, **kw)`` from 0-d operands of the same dtypes (host
    buffers stay arrays, scalars stay scalars: NumPy 2's weak Python scalars apply)."""
    probe = [np.zeros((), a.dtype) if isinstance(a, np.ndarray) else a for a in args]
    keep = {k: v for k, v in kw.items() if k in ("dtype", "casting", "signature")}
    with np.errstate(all="ignore"):
        res = ufunc(*probe, **keep)
    outs = res if isinstance(res, tuple) else (res,)
    return [np.asarray(r).dtype for r in outs]


def ufunc_call(ufunc: Any, args: tuple[Any, ...], kw: dict[str, Any], outs: Any, dev: int) -> Any:
    """``ufunc.__call__`` queued on the current stream; ``outs`` the fake ``out=`` arrays or None.

    Shapes and casting are checked now (CuPy raises at the call)."""
    dtypes = ufunc_dtypes(ufunc, args, kw)
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    q = streams.current_queue()
    if outs is not None:
        outs = outs if isinstance(outs, tuple) else (outs,)
        casting = kw.get("casting", "same_kind")
        for o, dt in zip(outs, dtypes):
            if np.broadcast_shapes(shape, o.shape) != o.shape:
                raise ValueError(
                    f"non-broadcastable output operand with shape {o.shape} doesn't match the "
                    f"broadcast shape {shape}"
                )
            if not np.can_cast(dt, o.dtype, casting=casting):
                raise TypeError(
                    f"Cannot cast ufunc '{ufunc.__name__}' output from {dt!r} to {o.dtype!r} "
                    f"with casting rule '{casting}'"
                )
        q.push(lambda: ufunc(*args, **kw))
        return outs[0] if len(outs) == 1 else outs
    bufs = tuple(streams.alloc(shape, dt) for dt in dtypes)
    q.push(lambda: ufunc(*args, out=bufs, **kw))
    wrapped = tuple(WRAP(b, dev) for b in bufs)
    return wrapped[0] if len(wrapped) == 1 else wrapped
