"""Array creation of ``mx.nd``: array, zeros, ones, full, empty, arange; reset_arrays, waitall.

Defaults as MXNet 1.9.1: float32 (``array`` of an NDArray keeps its dtype), the current context,
results of class ``mx.nd.NDArray`` even under ``npx.set_np()`` (``mx.np`` creates numpy-mode
arrays). Under legacy shape semantics a 0 in a shape means "unknown", so ``zeros``/``ones`` refuse
it (MXNetError) as MXNet does; ``empty``, ``full`` and ``array`` accept empty shapes.

``ctx`` may be a Context or a string as ``str(ctx)`` prints it (``'cpu(1)'``), which MXNet's
operator-backed ``ones``, ``zeros`` and ``arange`` accept; here every creation function does
(MXNet's ``full``, ``empty`` and ``array`` fail on a string with an AttributeError).
``array(..., dtype='bfloat16')`` works from lists and NumPy arrays (MXNet 1.9.1 has no bfloat16
on the host).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError, dtype_np
from mxlite.context import Context
from mxlite.ndarray._dtype_rules import cast_scalar
from mxlite.ndarray.ndarray import NDArray, default_ctx, on_device

__all__ = [
    "array",
    "zeros",
    "ones",
    "full",
    "empty",
    "arange",
    "reset_arrays",
    "waitall",
    "make",
    "normalize_shape",
    "as_context",
]

_UNKNOWN_DIM_MSG = (
    "shape : {shape}. Under legacy shape semantics a dimension of size 0 (or a 0-d shape) means "
    "'unknown', so {fn} cannot create it. Turn on numpy shape semantics (mx.npx.set_np() or "
    "`with mx.util.np_shape(True):`) to create empty or 0-d arrays."
)

_MSG_CTX_STRING = (
    "Invalid context string {text}: expected 'cpu(i)', 'gpu(i)', 'cpu_pinned(i)' or "
    "'cpu_shared(i)' (as str(mx.cpu(1)) prints), or a Context such as mx.cpu(1)."
)
# MXNet's Context::FromString: "<type>(<id>)" with the ')' last and the id read by std::stoi
# (leading white space, a sign, digits, anything after the digits ignored).
_CTX_STRING = re.compile(r"(cpu|gpu|cpu_pinned|cpu_shared)\([ \t\n\v\f\r]*([+-]?\d+)[^)]*\)")
_INT32_MAX = 2**31 - 1


def as_context(ctx: Context | str | None) -> Context:
    """``ctx`` as a Context: the current context for None, and a string parsed as MXNet 1.9.1's
    creation operators parse it (``'cpu(1)'``, ``'gpu(0)'``, ``'cpu_pinned(0)'``).

    A negative id of a host context means 0 there, as in MXNet.

    Raises:
        MXNetError: a string MXNet refuses too ("Invalid context string ...").
    """
    if not isinstance(ctx, str):
        return default_ctx(ctx)
    match = _CTX_STRING.fullmatch(ctx)
    if match is None or abs(int(match.group(2))) > _INT32_MAX:
        raise MXNetError(_MSG_CTX_STRING.format(text=ctx))
    device_type, device_id = match.group(1), int(match.group(2))
    if device_id < 0:
        if device_type == "gpu":
            raise MXNetError(_MSG_CTX_STRING.format(text=ctx))
        device_id = 0
    return Context(device_type, device_id)


def normalize_shape(
    shape: int | Sequence[int], fn: str, unknown_zero: bool = False
) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints.

    Args:
        shape: an int or a sequence of ints.
        fn: the calling function's name, for messages.
        unknown_zero: refuse 0 sizes and 0-d shapes (legacy ``zeros``/``ones``).

    Raises:
        MXNetError: negative sizes, or (``unknown_zero``) 0 sizes under legacy shape semantics.
    """
    from mxlite.util import is_np_shape

    try:
        shp = (
            (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        )
    except TypeError as err:
        raise TypeError(f"{fn}: shape must be an int or a sequence of ints, got {shape!r}") from err
    if any(d < 0 for d in shp):
        raise MXNetError(f"shape : {shape}. {fn}: dimensions must be non-negative.")
    if unknown_zero and not is_np_shape() and (not shp or 0 in shp):
        raise MXNetError(_UNKNOWN_DIM_MSG.format(shape=shape, fn=fn))
    return shp


def make(
    fill: str,
    shape: tuple[int, ...],
    ctx: Context | str | None,
    dtype: Any,
    cls: type[NDArray],
    value: Any = None,
) -> NDArray:
    """A new ``cls`` array on ``ctx`` (a Context or a string such as ``'cpu(1)'``) filled as
    ``fill`` ('zeros', 'ones', 'empty', 'full')."""
    ctx = as_context(ctx)
    xp = backend.get_xp(ctx)
    dt = dtype_np(dtype)
    with backend.device_guard(ctx):
        if fill == "full":
            arr = xp.full(shape, cast_scalar(value, dt), dtype=dt)
        else:
            arr = getattr(xp, fill)(shape, dtype=dt)
    return cls(arr, ctx)


@on_device
def _into(out: NDArray, value: Any) -> NDArray:
    out._data[...] = cast_scalar(value, out._data.dtype)
    return out


def zeros(
    shape: int | Sequence[int],
    ctx: Context | str | None = None,
    dtype: Any = None,
    stype: str | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Array of zeros on ``ctx`` (current context by default), float32 by default; written into
    ``out`` when given."""
    if stype not in (None, "default"):
        from mxlite.ndarray import _sparse_build

        return _sparse_build.zeros(stype, shape, ctx=as_context(ctx), dtype=dtype)
    if out is not None:
        return _into(out, 0)
    return make("zeros", normalize_shape(shape, "zeros", True), ctx, dtype, NDArray)


def ones(
    shape: int | Sequence[int],
    ctx: Context | str | None = None,
    dtype: Any = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Array of ones (float32 by default); written into ``out`` when given."""
    if out is not None:
        return _into(out, 1)
    return make("ones", normalize_shape(shape, "ones", True), ctx, dtype, NDArray)


def empty(
    shape: int | Sequence[int],
    ctx: Context | str | None = None,
    dtype: Any = None,
    stype: str | None = None,
) -> NDArray:
    """Uninitialized array (float32 by default)."""
    if stype not in (None, "default"):
        from mxlite.ndarray import _sparse_build

        return _sparse_build.empty(stype, shape, ctx=as_context(ctx), dtype=dtype)
    return make("empty", normalize_shape(shape, "empty"), ctx, dtype, NDArray)


def full(
    shape: int | Sequence[int],
    val: float,
    ctx: Context | str | None = None,
    dtype: Any = None,
    out: NDArray | None = None,
) -> NDArray:
    """Array filled with ``val`` (cast to ``dtype``, float32 by default); written into ``out``
    when given."""
    if out is not None:
        return _into(out, val)
    return make("full", normalize_shape(shape, "full"), ctx, dtype, NDArray, val)


def host_array(source_array: Any, dtype: Any, fn: str = "array") -> np.ndarray:
    """``source_array`` (nested lists, NumPy or CuPy arrays, scalars) as a C-contiguous NumPy array.

    Raises:
        TypeError: the source is not array-like (strings, ragged lists, unknown dtypes).
    """
    if backend.is_gpu_array(source_array):
        source_array = source_array.get()
    try:
        with np.errstate(all="ignore"):
            try:
                host = np.array(source_array, dtype=dtype, order="C")
            except OverflowError:  # NumPy 2 refuses -7 as uint8; MXNet (NumPy 1) wraps around
                host = np.array(np.asarray(source_array).astype(dtype), order="C")
    except (TypeError, ValueError, OverflowError) as err:
        raise TypeError(f"source_array must be array like object ({fn}: {err})") from err
    if host.dtype.kind in "OUS" or (host.dtype.kind == "V" and host.dtype.name != "bfloat16"):
        raise TypeError(
            f"source_array must be array like object ({fn}: got {type(source_array).__name__})"
        )
    return host


def array(source_array: Any, ctx: Context | str | None = None, dtype: Any = None) -> NDArray:
    """Copy ``source_array`` (NDArray, NumPy array, nested lists, scalar) to a new NDArray on
    ``ctx`` (the current context by default).

    The dtype defaults to the source's for an NDArray and to float32 for everything else, NumPy
    arrays included, as in MXNet.

    Raises:
        TypeError: ``source_array`` is not array-like.
        MXNetError: ``ctx`` is a string that names no context.
    """
    ctx = as_context(ctx)
    if isinstance(source_array, NDArray):
        target = dtype_np(dtype) if dtype is not None else source_array._data.dtype
        arr = backend.to_ctx(source_array._data, ctx, copy=True)
        with backend.array_device_guard(arr):
            return NDArray(arr.astype(target, copy=False), ctx)
    try:
        target = dtype_np(dtype)
    except TypeError as err:
        raise TypeError(f"source_array must be array like object ({err})") from err
    if ctx.is_gpu and backend.is_gpu_array(source_array):
        return NDArray(device_copy(source_array, ctx, target), ctx)
    host = host_array(source_array, target)
    backend.check_ctx_usable(ctx)
    return NDArray(backend.to_ctx(host, ctx), ctx)


def device_copy(source: Any, ctx: Context, dtype: Any) -> Any:
    """A C-contiguous copy of CuPy array ``source`` on GPU context ``ctx`` in ``dtype``, made on
    the devices (never through the host; another GPU's array through
    :func:`mxlite.backend.copy_between_devices`)."""
    arr = backend.to_ctx(source, ctx, copy=True)
    with backend.array_device_guard(arr):
        return backend.xp_of(arr).ascontiguousarray(arr.astype(dtype, copy=False))


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1.0,
    repeat: int = 1,
    infer_range: bool | None = None,
    ctx: Context | str | None = None,
    dtype: Any = None,
) -> NDArray:
    """Evenly spaced values in ``[start, stop)``, each repeated ``repeat`` times (float32 default).

    Raises:
        MXNetError: an empty or reversed range (``step`` pointing away from ``stop``).
    """
    if stop is None:
        start, stop = 0, start
    if int(repeat) < 1:
        raise MXNetError(
            f"arange: Range only supports repeat > 0, received {repeat}; repeat is how many "
            "times each value appears."
        )
    if step == 0:
        raise MXNetError("arange: step must not be 0")
    if (step > 0 and not start < stop) or (step < 0 and not start > stop):
        raise MXNetError(
            f"arange: Invalid range (start, stop, step) = ({start},{stop},{step}); the range "
            "must hold at least one value."
        )
    return _arange(start, stop, step, repeat, ctx, dtype, NDArray)


def _arange(
    start: float,
    stop: float,
    step: float,
    repeat: int,
    ctx: Context | str | None,
    dtype: Any,
    cls: type[NDArray],
) -> NDArray:
    ctx = as_context(ctx)
    count = max(int(np.ceil((stop - start) / step)), 0)
    host = start + step * np.arange(count, dtype=np.float64)
    if repeat > 1:
        host = np.repeat(host, repeat)
    host = host.astype(dtype_np(dtype))
    backend.check_ctx_usable(ctx)
    return cls(backend.to_ctx(host, ctx), ctx)


def reset_arrays(*arrays: NDArray, num_arrays: int | None = None, **kwargs: Any) -> list[NDArray]:
    """Set every array to zero, grouped by (device, dtype) so each group is one kernel launch.

    As MXNet's operator: ``num_arrays`` is required and must equal the number of arrays; the
    arrays may differ in shape and context but must hold floating-point values. Nothing is
    zeroed when an argument is rejected.

    Raises:
        MXNetError: ``num_arrays`` is missing or wrong, or an array is not floating-point.
        TypeError: an argument is not an NDArray.
    """
    if num_arrays is None:
        raise MXNetError(
            "Required parameter num_arrays of int is not presented, in operator reset_arrays: "
            "pass num_arrays=len(arrays)."
        )
    if num_arrays != len(arrays):
        raise MXNetError(
            f"Operator reset_arrays expects {num_arrays} inputs, but got {len(arrays)} instead."
        )
    for arr in arrays:
        if not isinstance(arr, NDArray):
            raise TypeError(f"reset_arrays expects NDArrays, got {type(arr)}")
        if arr._data.dtype.kind != "f" and arr._data.dtype.name != "bfloat16":
            raise MXNetError(
                "reset_arrays: This operation only support floating point types, not "
                f"{arr._data.dtype.name}. Zero integer arrays with arr[:] = 0."
            )
    from mxlite import ops

    ops.multi_zero([a._data for a in arrays])
    return []  # MXNet's operator has no outputs: its front end returns an empty list


def waitall() -> None:
    """Wait for all pending device work."""
    backend.synchronize(None)
