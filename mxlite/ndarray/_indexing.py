"""``x[key]`` and ``x[key] = value`` with MXNet 1.9.1's rules.

* Basic indexing (ints, slices, ``None``, ``...``) returns a view that writes through when the
  selected elements are contiguous in memory (``x[1]``, ``x[1:3]``, ``x[0, 1:3]``); otherwise a
  copy (``x[:, 1]``, ``x[::2]``). Advanced indexing (lists, arrays, NDArrays) always copies.
* Legacy arrays read one element as shape ``(1,)``; numpy-mode arrays as ``()``.
* ``x[:]`` and ``x[()]`` return ``x`` itself.
* Legacy arrays refuse boolean masks (ValueError) and float keys (ValueError); ints out of range
  raise IndexError; a first-axis slice whose start lies past its stop is an MXNetError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mxlite import autograd, backend
from mxlite.base import MXNetError
from mxlite.ndarray import _dtype_rules

if TYPE_CHECKING:
    from mxlite.ndarray.ndarray import NDArray

__all__ = ["getitem", "setitem", "check_inplace_value"]

_MSG_INPLACE = (
    "Inplace operations (+=, -=, x[:]=, etc) are not supported when recording with autograd: "
    "the value written is part of the graph being recorded. Build a new array instead (for "
    "example with mx.nd.concat, mx.nd.where or slice-and-stack), or write outside record()."
)

_BOOL_MASK_MSG = (
    "Cannot perform boolean indexing in legacy mode. Please activate numpy semantics by calling "
    "`npx.set_np()` in the global scope before calling this function."
)


def check_inplace_value(value: Any) -> None:
    """Raise when, while recording, ``value`` (an array in the graph) would be written into
    another array in place (``x[1] = y``, ``x += y``): MXNet cannot differentiate that write.

    Raises:
        MXNetError: recording is on and ``value`` is a variable or a recorded op's output.
    """
    if autograd.is_recording() and getattr(value, "_ag_node", None) is not None:
        if autograd.live_node(value) is not None:
            raise MXNetError(_MSG_INPLACE)


def _covers_all(x: NDArray, nkey: Any) -> bool:
    """Whether a basic key selects every element in order (MXNet copies the value then)."""
    parts = nkey if isinstance(nkey, tuple) else (nkey,)
    if any(isinstance(k, slice) and k.step is not None and k.step < 0 for k in parts):
        return False
    return bool(x._data[nkey].size == x._data.size)


def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _is_basic(k: Any) -> bool:
    return k is None or k is Ellipsis or isinstance(k, slice) or _is_int(k)


def _norm_one(k: Any, x: NDArray) -> Any:
    """One key component as numpy understands it, with MXNet's type checks."""
    from mxlite.ndarray.ndarray import NDArray

    numpy_mode = x._numpy_semantics()
    if isinstance(k, (bool, np.bool_)):
        return k if numpy_mode else int(k)
    if _is_int(k) or k is None or k is Ellipsis:
        return int(k) if _is_int(k) else k
    if isinstance(k, slice):
        for part in (k.start, k.stop, k.step):
            if part is not None and not _is_int(part):
                raise TypeError(
                    f"'{type(part).__name__}' object cannot be interpreted as an integer"
                )
        if k.step == 0:
            raise ValueError("slice step cannot be zero")
        return k
    if isinstance(k, NDArray):
        raw = k._data
        if backend.is_gpu_array(raw) != backend.is_gpu_array(x._data) or (
            backend.is_gpu_array(raw) and k.context != x.context
        ):
            raw = backend.to_ctx(raw, x.context)
        return _index_array(raw, numpy_mode)
    if isinstance(k, range):
        return np.arange(k.start, k.stop, k.step)
    if isinstance(k, (list, tuple, np.ndarray)):  # a tuple inside a key is a list, as in MXNet
        arr = np.asarray(k)
        if backend.is_gpu_array(x._data):
            arr = backend.to_ctx(arr, x.context)
        return _index_array(arr, numpy_mode)
    raise ValueError(f"NDArray does not support slicing with key {k} of type {type(k)}.")


def _index_array(raw: Any, numpy_mode: bool) -> Any:
    if raw.dtype == np.bool_:
        if not numpy_mode:
            raise ValueError(_BOOL_MASK_MSG)
        return raw
    if raw.dtype.kind == "f" or raw.dtype.name == "bfloat16":
        return raw.astype(np.int64)
    return raw


def _normalize(key: Any, x: NDArray) -> tuple[Any, bool]:
    """``(numpy key, is basic)`` for ``key``."""
    parts = key if isinstance(key, tuple) else (key,)
    normed = tuple(_norm_one(k, x) for k in parts)
    basic = all(_is_basic(k) for k in normed)
    return (normed if isinstance(key, tuple) else normed[0]), basic


def _is_advanced(k: Any) -> bool:
    return k is not None and k is not Ellipsis and not isinstance(k, slice)


def _mxnet_new_axes(parts: tuple[Any, ...], ndim: int) -> tuple[tuple[Any, ...], list[int]] | None:
    """For an advanced key with ``None`` entries: the key without them and where MXNet inserts
    their new axes into the result (``_new_axes_after_advanced_indexing``), which differs from
    NumPy when the advanced indices are adjacent (``x[[1, 2], None]`` is ``(1, 2, ...)`` there,
    ``(2, 1, ...)`` in NumPy). None when the key has no ``None`` or holds a boolean mask."""
    if not any(k is None for k in parts) or any(
        getattr(k, "dtype", None) == np.bool_ for k in parts
    ):
        return None
    consumed = sum(1 for k in parts if k is not None and k is not Ellipsis)
    key: list[Any] = []
    for k in parts:
        key.extend([slice(None)] * (ndim - consumed) if k is Ellipsis else [k])
    if not any(k is Ellipsis for k in parts):
        key.extend([slice(None)] * (ndim - consumed))
    adv = [i for i, k in enumerate(key) if _is_advanced(k)]
    adjacent = all(b - a == 1 for a, b in zip(adv, adv[1:]))
    adv_ndim = len(np.broadcast_shapes(*[np.shape(key[i]) for i in adv]))
    steps = [0 if adjacent else adv_ndim] + [0 if i in adv else 1 for i in range(len(key))]
    cum = np.cumsum(steps)
    return tuple(k for k in key if k is not None), [
        int(cum[i]) for i, k in enumerate(key) if k is None
    ]


def _check_bounds(key: Any, x: NDArray) -> None:
    """MXNet's IndexError messages for ints out of range and too many indices."""
    parts = key if isinstance(key, tuple) else (key,)
    consumed = [k for k in parts if k is not None and k is not Ellipsis and not isinstance(k, bool)]
    if len(consumed) > x.ndim:
        raise IndexError(f"too many indices ({len(consumed)}) for array with {x.ndim} dimensions")
    # MXNet walks an all-int tuple one axis at a time, so its messages always say "axis 0".
    all_ints = isinstance(key, tuple) and len(key) == x.ndim and all(_is_int(k) for k in key)
    axis = 0
    for k in parts:
        if k is Ellipsis:
            axis += x.ndim - len(consumed)
        elif _is_int(k):
            size = x.shape[axis]
            if not -size <= k < size:
                shown = 0 if all_ints else axis
                raise IndexError(f"index {k} is out of bounds for axis {shown} with size {size}")
            axis += 1
        elif k is not None and not isinstance(k, bool):
            axis += 1


def _check_first_axis_slice(key: Any, x: NDArray) -> None:
    """MXNet's ``_slice``: a unit-step slice on axis 0 whose start passes its stop is an error."""
    if not isinstance(key, slice) or key.step not in (None, 1) or x.ndim == 0:
        return
    if key.start is None and key.stop is None:
        return
    n = x.shape[0]
    start, stop, _ = key.indices(n)
    if start > stop:
        raise MXNetError(
            f"Check failed: begin <= end ({start} vs. {stop}) : Invalid slicing range [{start}, {stop})"
        )


def getitem(x: NDArray, key: Any) -> NDArray:
    """``x[key]`` (see the module docstring)."""
    from mxlite.ndarray.ndarray import autograd_record

    if (isinstance(key, tuple) and len(key) == 0) or (
        isinstance(key, slice) and key == slice(None)
    ):
        return x
    nkey, basic = _normalize(key, x)
    if basic:
        _check_bounds(nkey, x)
        _check_first_axis_slice(nkey, x)
    if basic:
        # A trailing Ellipsis makes NumPy return a 0-d view instead of a scalar copy.
        parts = nkey if isinstance(nkey, tuple) else (nkey,)
        nkey = parts if any(k is Ellipsis for k in parts) else (*parts, Ellipsis)
    new_axes = (
        None if basic else _mxnet_new_axes(nkey if isinstance(nkey, tuple) else (nkey,), x.ndim)
    )
    if new_axes is not None:
        nkey = new_axes[0]
    try:
        res = x._data[nkey]
    except IndexError as err:
        raise IndexError(
            f"index {key!r} is out of bounds for an array of shape {x.shape}: {err}"
        ) from err
    if new_axes is not None:
        shape = list(res.shape)
        for ax in new_axes[1]:
            shape.insert(ax, 1)
        res = res.reshape(shape)
    if basic and not res.flags.c_contiguous:
        res = res.copy()
    if res.ndim == 0 and not x._numpy_semantics():
        res = res.reshape(1)
    out = x._new(res)
    autograd_record("getitem", [x], out, key=nkey)
    return out


def _value_raw(x: NDArray, value: Any) -> Any:
    """``value`` as a raw array (or scalar) of ``x``'s dtype on ``x``'s device."""
    from mxlite.ndarray.ndarray import NDArray

    dtype = x._data.dtype
    if isinstance(value, NDArray):
        raw = value._data
        if backend.is_gpu_array(raw) != backend.is_gpu_array(x._data) or (
            backend.is_gpu_array(raw) and value.context != x.context
        ):
            raw = backend.to_ctx(raw, x.context)
        return raw.astype(dtype, copy=False)
    if isinstance(value, (bool, np.bool_)):
        return _dtype_rules.cast_scalar(int(value), dtype)
    if isinstance(value, (int, float, np.generic)) and not isinstance(value, np.str_):
        return _dtype_rules.cast_scalar(value, dtype)
    try:
        with np.errstate(all="ignore"):
            host = np.asarray(value).astype(dtype)
        if host.dtype.kind in "OUS":
            raise TypeError(type(value).__name__)
    except (TypeError, ValueError) as err:
        name = "mxnet.np.ndarray" if x._numpy_semantics() else str(NDArray)
        raise TypeError(
            f"{name} does not support assignment with non-array-like object {value} of type "
            f"{type(value)}"
        ) from err
    return backend.to_ctx(host, x.context) if backend.is_gpu_array(x._data) else host


def _trim_leading_ones(raw: Any, ndim: int) -> Any:
    """Drop leading size-1 axes of a value with more dims than its target region (MXNet allows
    ``a[0, 0] = nd.array([9])``)."""
    extra = raw.ndim - ndim
    if extra > 0 and all(d == 1 for d in raw.shape[:extra]):
        return raw.reshape(raw.shape[extra:])
    return raw


def setitem(x: NDArray, key: Any, value: Any) -> None:
    """``x[key] = value``: writes into ``x``'s memory (and every view of it)."""
    autograd.check_assignable(x)
    nkey, basic = _normalize(key, x)
    if basic:
        _check_bounds(nkey, x)
    if not (basic and _covers_all(x, nkey)):
        check_inplace_value(value)
    raw_val = _value_raw(x, value)
    if raw_val is x._data:
        return
    new_axes = (
        None if basic else _mxnet_new_axes(nkey if isinstance(nkey, tuple) else (nkey,), x.ndim)
    )
    if new_axes is not None:
        # MXNet drops the ``None`` entries and squeezes their axes out of the value
        nkey = new_axes[0]
        ndim = getattr(raw_val, "ndim", 0)
        region = x._data[nkey].ndim
        if ndim == region + len(new_axes[1]):
            drop = [ax for ax in new_axes[1] if raw_val.shape[ax] == 1]
            if len(drop) == len(new_axes[1]):
                raw_val = raw_val.reshape([d for i, d in enumerate(raw_val.shape) if i not in drop])
    if basic and getattr(raw_val, "ndim", 0) > 0:
        raw_val = _trim_leading_ones(raw_val, x._data[nkey].ndim)
    try:
        x._data[nkey] = raw_val
    except ValueError as err:
        vshape = tuple(np.shape(raw_val))
        msg = (
            f"cannot assign a value of shape {vshape} to index {key!r} of an array of shape "
            f"{x.shape}: shape {vshape} is not broadcastable to the indexed region ({err})"
        )
        if x._numpy_semantics():
            raise MXNetError(msg) from err
        raise ValueError(msg) from err
