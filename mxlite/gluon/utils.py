"""``mx.gluon.utils``: the data-parallel helpers (``split_data``, ``split_and_load``,
``clip_global_norm``), text layout, shape checks and hook handles.

``download``, ``check_sha1`` and ``replace_file`` live in :mod:`mxlite.gluon._download` and are
re-exported here under MXNet's names. :func:`register_replicas` is how a Parameter tells
``clip_global_norm`` which arrays are replicas of one another (counted once in the norm).
"""

from __future__ import annotations

import functools
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import CheckError, MXNetError
from mxlite.context import Context
from mxlite.gluon._download import (
    _get_repo_file_url,
    _get_repo_url,
    check_sha1,
    download,
    replace_file,
)
from mxlite.ndarray.ndarray import NDArray
from mxlite.util import is_np_shape

__all__ = [
    "HookHandle",
    "shape_is_known",
    "split_data",
    "split_and_load",
    "clip_global_norm",
    "register_replicas",
    "check_sha1",
    "download",
    "replace_file",
    "_get_repo_url",
    "_get_repo_file_url",
]

_MSG_UNEVEN = (
    "data with shape {shape} cannot be evenly split into {n} slices along axis {axis}. Use a "
    "batch size that's multiple of {n} or set even_split=False to allow uneven partitioning of "
    "data."
)
_MSG_TOO_SMALL = (
    "data with shape {shape} cannot be split into {n} slices along axis {axis}: some slices "
    "would be empty. Use a batch with at least {n} samples, or fewer contexts."
)


def split_data(
    data: NDArray, num_slice: int, batch_axis: int = 0, even_split: bool = True
) -> list[NDArray]:
    """Split ``data`` into ``num_slice`` slices along ``batch_axis``.

    With ``even_split=False`` the first ``size % num_slice`` slices get one extra element.
    Slices along axis 0 are views of ``data``; along other axes they are copies.

    Raises:
        ValueError: ``even_split`` and the size is not a multiple of ``num_slice``.
        MXNetError: fewer elements than slices along ``batch_axis`` (a slice would be empty).
        ZeroDivisionError: ``num_slice`` is 0.
    """
    points = _split_points(tuple(data.shape), num_slice, batch_axis, even_split)
    if batch_axis == 0:
        return [data[points[i] : points[i + 1]] for i in range(num_slice)]
    from mxlite.ndarray import op

    return [
        op.slice_axis(data, axis=batch_axis, begin=points[i], end=points[i + 1])
        for i in range(num_slice)
    ]


def _split_points(
    shape: tuple[int, ...], num_slice: int, batch_axis: int, even_split: bool
) -> list[int]:
    """Where the slices of :func:`split_data` begin and end along ``batch_axis``.

    Raises:
        ValueError: ``even_split`` and the size is not a multiple of ``num_slice``.
        MXNetError: fewer elements than slices.
        ZeroDivisionError: ``num_slice`` is 0.
    """
    size = shape[batch_axis]
    if even_split and size % num_slice != 0:
        raise ValueError(_MSG_UNEVEN.format(shape=shape, n=num_slice, axis=batch_axis))
    if size < num_slice:
        raise MXNetError(_MSG_TOO_SMALL.format(shape=shape, n=num_slice, axis=batch_axis))
    each, extras = divmod(size, num_slice)
    sizes = [0] + [each + 1] * extras + [each] * (num_slice - extras)
    return [int(p) for p in np.cumsum(sizes)]


def split_and_load(
    data: Any, ctx_list: Sequence[Context], batch_axis: int = 0, even_split: bool = True
) -> list[NDArray]:
    """Split ``data`` along ``batch_axis`` and copy slice i to ``ctx_list[i]``.

    ``data`` may be an NDArray or anything ``mx.nd.array`` accepts (a NumPy array, lists). A
    NumPy batch is split first and each slice copied once, straight to its context.
    """
    if type(data) is np.ndarray and len(ctx_list) > 1 and batch_axis == 0:
        points = _split_points(data.shape, len(ctx_list), batch_axis, even_split)
        make = _front_array()
        return [make(data[points[i] : points[i + 1]], ctx=ctx) for i, ctx in enumerate(ctx_list)]
    if not isinstance(data, NDArray):
        data = _front_array()(data, ctx=ctx_list[0])
    if len(ctx_list) == 1:
        return [data.as_in_context(ctx_list[0])]
    slices = split_data(data, len(ctx_list), batch_axis, even_split)
    return [part.as_in_context(ctx) for part, ctx in zip(slices, ctx_list, strict=True)]


def _front_array() -> Any:
    """``mx.np.array`` in numpy mode, else ``mx.nd.array``."""
    from mxlite.util import is_np_array

    if is_np_array():
        from mxlite import numpy as mnp

        return mnp.array
    from mxlite.ndarray import array

    return array


# Replica groups: a gradient (or data) buffer of one replica -> the tuple of all replicas' buffers
# of the same parameter. Parameter registers its buffers here so clip_global_norm counts a
# replicated parameter once, not once per device.
# Entries hold weak references and vanish with the arrays.
_REPLICA_GROUPS: dict[int, tuple[weakref.ref[NDArray], ...]] = {}


def register_replicas(arrays: Sequence[NDArray]) -> None:
    """Record that ``arrays`` are replicas of one parameter's buffer (one per context).

    An array's entry goes when the array dies: the group's weak references carry the callbacks
    (a group lives while an entry holds it). ``weakref.finalize`` would do the same at several
    microseconds per array, thousands of times per ``initialize`` or ``reset_ctx``.
    """
    group = tuple(weakref.ref(arr, functools.partial(_forget, id(arr))) for arr in arrays)
    for arr in arrays:
        _REPLICA_GROUPS[id(arr)] = group


def _forget(key: int, ref: weakref.ref[NDArray]) -> None:
    """Weak-reference callback: drop the entry of a dead array (unless re-registered since)."""
    group = _REPLICA_GROUPS.get(key)
    if group is not None and ref in group:
        del _REPLICA_GROUPS[key]


def _group_key(arr: NDArray) -> int:
    """Identity of the replica group ``arr`` belongs to (its own id when it has none)."""
    group = _REPLICA_GROUPS.get(id(arr))
    if group is not None and any(ref() is arr for ref in group):
        first = group[0]()
        return id(first) if first is not None else id(arr)
    return id(arr)


def _sq_norm(arr: NDArray, acc_dtype: Any) -> Any:
    """Squared 2-norm of ``arr`` as a 0-d array on its device (no host sync)."""
    raw = arr._data
    xp = backend.xp_of(raw)
    with backend.device_guard(arr.context):
        flat = raw.reshape(-1).astype(acc_dtype, copy=False)
        return xp.dot(flat, flat)


def clip_global_norm(
    arrays: Sequence[NDArray], max_norm: float, check_isfinite: bool = True
) -> Any:
    """Scale ``arrays`` in place so that their joint 2-norm is at most ``max_norm``.

    ``total_norm = sqrt(sum_i ||a_i||^2)``; every array is multiplied by
    ``min(max_norm / (total_norm + 1e-8), 1)`` (NaN when the norm is NaN, as MXNet). Replicas of
    one parameter on several contexts (registered by Parameter; after
    ``Trainer.allreduce_grads`` they hold the same values) count once in the norm, where MXNet
    counts every replica; every array given is scaled. Norms are accumulated in float32
    (float64 when an array is float64), one host transfer per device.

    Returns:
        The total norm before clipping: a NumPy float32 scalar when ``check_isfinite`` (as
        MXNet's ``asscalar()``), else an NDArray of shape (1,) on the first array's context.

    Raises:
        CheckError: ``arrays`` is empty.
    """
    if len(arrays) == 0:
        raise CheckError("clip_global_norm needs at least one array; got an empty list")
    acc_dtype = np.float64 if any(arr.dtype == np.float64 for arr in arrays) else np.float32
    seen: set[int] = set()
    per_device: dict[Context, Any] = {}
    for arr in arrays:
        key = _group_key(arr)
        if key in seen:
            continue
        seen.add(key)
        part = _sq_norm(arr, acc_dtype)
        ctx = arr.context
        with backend.device_guard(ctx):
            per_device[ctx] = part if ctx not in per_device else per_device[ctx] + part
    total_sq = acc_dtype(0)
    for part in per_device.values():
        total_sq = acc_dtype(total_sq + acc_dtype(backend.to_numpy(part)))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        total_norm = acc_dtype(np.sqrt(total_sq))
        if check_isfinite and not np.isfinite(total_norm):
            warnings.warn(
                UserWarning("nan or inf is detected. Clipping results will be undefined."),
                stacklevel=2,
            )
        scale = acc_dtype(max_norm) / (total_norm + acc_dtype(1e-8))
        if np.isnan(scale) or scale < 1:
            for arr in arrays:
                with backend.device_guard(arr.context):
                    arr._data *= arr._data.dtype.type(scale)
    if check_isfinite:
        return total_norm
    ctx = arrays[0].context
    xp = backend.get_xp(ctx)
    with backend.device_guard(ctx):
        raw = xp.asarray([total_norm], dtype=acc_dtype)
    return type(arrays[0])(raw, ctx)


def _indent(text: str, num_spaces: int) -> str:
    """Indent every line of ``text`` but the first by ``num_spaces`` spaces (MXNet's layout)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * num_spaces
    return "\n".join([lines[0]] + [pad + line for line in lines[1:]])


def _brief_print_list(items: Iterable[Any], limit: int = 7) -> str:
    """Quote at most ``limit`` items, eliding the middle: ``'a', 'b', ..., 'y', 'z'``."""
    lst = list(items)
    if len(lst) > limit:
        head = _brief_print_list(lst[: limit // 2], limit)
        tail = _brief_print_list(lst[-limit // 2 :], limit)
        return head + ", ..., " + tail
    return ", ".join(f"'{item}'" for item in lst)


def shape_is_known(shape: Any) -> bool:
    """Whether every dimension of ``shape`` is known.

    Unknown dimensions are 0 in legacy mode and -1 under NumPy shape semantics
    (``npx.set_np()``); ``None`` is an unknown shape. A 0-d shape ``()`` is known only under
    NumPy semantics (in legacy mode it means "unknown rank").

    Raises:
        CheckError: a dimension is below the unknown marker (for example -2).
    """
    if shape is None:
        return False
    unknown = -1 if is_np_shape() else 0
    if len(shape) == 0:
        return unknown == -1
    for dim in shape:
        if dim == unknown:
            return False
        if dim < unknown:
            raise CheckError(
                f"shape dimension size cannot be less than {unknown}, while received {dim}"
            )
    return True


class HookHandle:
    """A handle that attaches a hook to a block's hook dictionary and detaches it again.

    Usable as a context manager: the hook is detached on exit.
    """

    def __init__(self) -> None:
        self._hooks_dict_ref: weakref.ref[OrderedDict[int, Any]] | None = None
        self._id: int | None = None

    def attach(self, hooks_dict: OrderedDict[int, Any], hook: Callable[..., Any]) -> None:
        """Register ``hook`` in ``hooks_dict``.

        Raises:
            CheckError: this handle is already attached.
        """
        if self._hooks_dict_ref is not None:
            raise CheckError("The same handle cannot be attached twice.")
        self._id = id(hook)
        hooks_dict[self._id] = hook
        self._hooks_dict_ref = weakref.ref(hooks_dict)

    def detach(self) -> None:
        """Remove the hook (no-op when it is gone already)."""
        if self._hooks_dict_ref is None:
            return
        hooks_dict = self._hooks_dict_ref()
        if hooks_dict is not None and self._id is not None and self._id in hooks_dict:
            del hooks_dict[self._id]

    def __enter__(self) -> HookHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()
