"""Device-neutral kernels over raw NumPy / CuPy arrays (no NDArray here).

Each function checks its arguments, then dispatches on the array type: NumPy arrays go to the Numba
twins in :mod:`mxlite.ops._numba.fill`, CuPy arrays to the CUDA kernels in :mod:`mxlite.ops._cuda`. The
NumPy reference (:mod:`mxlite.ops._reference`) defines the results; the tests hold both backends
to it. Nothing is written before every argument has been checked.

Random fills draw from counter-based Philox4x32-10 streams. A stream is named by a 64-bit ``key``
(two uint32 words, see :func:`mxlite.random.param_key`); element ``i`` of a C-order array filled
at stream ``offset`` takes stream element ``offset + i``, so a value depends only on
``(key, offset + i)``: never on the device, the number of replicas, or how arrays are grouped into
multi-tensor launches. Uniform draws (and constants) are bit-identical on CPU and GPU; normal draws
agree to within 2 float32 ulps (computed in float64 and rounded once; see ``_reference``).

Supported dtypes for random fills: float16, bfloat16, float32, float64.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import DTYPE_NAME_TO_NP
from mxlite.ops import _launchers
from mxlite.ops.multi_tensor import AveragePlan, ZeroPlan, multi_average, multi_zero

__all__ = [
    "RANDOM_FILL_DTYPES",
    "MAX_STREAM_ELEMENTS",
    *_launchers.FILL,
    "multi_zero",
    "multi_average",
    "ZeroPlan",
    "AveragePlan",
]

RANDOM_FILL_DTYPES = ("float16", "bfloat16", "float32", "float64")
_RANDOM_FILL_NP = frozenset(
    np.dtype(DTYPE_NAME_TO_NP[name]) for name in RANDOM_FILL_DTYPES if name in DTYPE_NAME_TO_NP
)
# Stream positions stay below 2**62 so that block indices and signed element offsets fit 64 bits.
MAX_STREAM_ELEMENTS = 1 << 62

_MSG_NOT_ARRAY = "{where}: expected a numpy.ndarray or cupy.ndarray, got {got}."
_MSG_DTYPE = (
    "{where}: cannot draw random values into an array of dtype {dtype}; random fills support "
    "float16, bfloat16, float32 and float64. Fill a float array and cast it (arr.astype(...))."
)
_MSG_READONLY = (
    "{where}: the array is read-only (writeable=False); pass a writeable array or a copy."
)
_MSG_KEY = (
    "{where}: key must be a pair of integers in [0, 2**32), such as mxlite.random.param_key(name) "
    "returns; got {got!r}."
)
_MSG_OFFSET = (
    "{where}: offset must be an integer >= 0 with offset + size <= 2**62; got offset={offset!r} "
    "for {size} elements."
)
_MSG_REAL = "{where}: {name} must be a finite real number, got {got!r}."
_MSG_LENGTHS = "{where}: got {n} arrays but {m} {name}; pass one per array."
_MSG_VALUE = "{where}: value must be a real scalar (int, float, bool or 0-d array), got {got!r}."


# ------------------------------------------------------------------------------------- backends
# (Not named _numba/_cuda: importing mxlite.ops._cuda binds that name on this package.)
def _cpu_impl() -> ModuleType:
    from mxlite.ops._numba import fill as cpu  # noqa: PLC0415 - defer the Numba import to the first fill

    return cpu


def _cuda_impl() -> ModuleType:
    from mxlite.ops import _cuda as cuda  # noqa: PLC0415 - keeps CuPy out of `import mxlite`

    return cuda


def _impl(arr: Any) -> ModuleType:
    return _cuda_impl() if backend.is_gpu_array(arr) else _cpu_impl()


# ------------------------------------------------------------------------------------ validation
def _check_array(arr: Any, where: str, random: bool = True) -> None:
    if not (isinstance(arr, np.ndarray) or backend.is_gpu_array(arr)):
        raise TypeError(_MSG_NOT_ARRAY.format(where=where, got=type(arr).__name__))
    if random and arr.dtype not in _RANDOM_FILL_NP:  # (dtype.name costs microseconds)
        raise TypeError(_MSG_DTYPE.format(where=where, dtype=arr.dtype.name))
    if isinstance(arr, np.ndarray) and not arr.flags.writeable:
        raise ValueError(_MSG_READONLY.format(where=where))


def _is_int(x: Any) -> bool:
    # fast path first: the ABC check costs microseconds, thousands of times per multi-tensor call
    return type(x) is int or (isinstance(x, numbers.Integral) and not isinstance(x, bool))


def _check_key(key: Any, where: str) -> tuple[int, int]:
    try:
        k0, k1 = key
        ok = _is_int(k0) and _is_int(k1) and 0 <= k0 < 1 << 32 and 0 <= k1 < 1 << 32
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(_MSG_KEY.format(where=where, got=key))
    return int(k0), int(k1)


def _reals_fast(values: Sequence[Any]) -> list[float] | None:
    """``values`` as Python floats when all are finite Python floats or ints (checked at C speed,
    for thousands of arrays per call); None sends the caller to :func:`_check_real` per value."""
    if not all(type(v) is float or type(v) is int for v in values):
        return None
    try:
        arr = np.asarray(values, dtype=np.float64)
    except OverflowError:
        return None
    if not np.isfinite(arr).all():
        return None
    return arr.tolist()  # type: ignore[no-any-return]


def _keys_fast(keys: Sequence[Any]) -> bool:
    """Whether every key is a tuple of two Python ints in ``[0, 2**32)`` (no messages needed)."""
    try:
        if not all(type(k) is tuple and type(k[0]) is int and type(k[1]) is int for k in keys):
            return False
        if any(len(k) != 2 for k in keys):
            return False
        arr = np.asarray(keys, dtype=np.int64).reshape(-1)
    except (IndexError, OverflowError, ValueError, TypeError):
        return False
    return bool(((arr >= 0) & (arr < 1 << 32)).all())


def _check_offset(offset: Any, size: int, where: str) -> int:
    if not _is_int(offset) or offset < 0 or int(offset) + size > MAX_STREAM_ELEMENTS:
        raise ValueError(_MSG_OFFSET.format(where=where, offset=offset, size=size))
    return int(offset)


def _check_real(value: Any, name: str, where: str) -> float:
    if type(value) is not float and type(value) is not int:
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(_MSG_REAL.format(where=where, name=name, got=value))
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(_MSG_REAL.format(where=where, name=name, got=value))
    return result


def _check_value(value: Any, arr: Any, where: str) -> None:
    scalar = isinstance(value, (numbers.Number, np.generic)) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    )
    if not scalar or isinstance(value, complex):
        raise TypeError(_MSG_VALUE.format(where=where, got=value))
    np.array(value, dtype=arr.dtype)  # raises (OverflowError, ...) before anything is written


def _check_lengths(where: str, arrs: Sequence[Any], **lists: Sequence[Any] | None) -> None:
    for name, items in lists.items():
        if items is not None and len(items) != len(arrs):
            raise ValueError(_MSG_LENGTHS.format(where=where, n=len(arrs), m=len(items), name=name))


# ---------------------------------------------------------------------------------------- philox
def philox4x32(counter: Any, key: Any) -> Any:
    """Philox4x32-10 (Random123's ``philox4x32_10``) on the array's device.

    Args:
        counter: ``uint32[..., 4]`` counters (NumPy or CuPy).
        key: ``uint32[..., 2]`` keys, broadcast against ``counter``'s leading dimensions.

    Returns:
        ``uint32[..., 4]`` outputs, on the device of ``counter``.
    """
    return _impl(counter).philox4x32(counter, key)


# ---------------------------------------------------------------------------------- random fills
def fill_uniform(arr: Any, low: float, high: float, key: tuple[int, int], offset: int = 0) -> Any:
    """Fill ``arr`` in place with uniform draws from ``[low, high)``.

    float32: ``float32(low) + float32(high - low) * u`` with ``u = (w >> 8) * 2**-24``, each step
    rounded to float32 (bit-identical on CPU and GPU). float16/bfloat16: that value rounded to
    nearest even. float64: 53-bit ``u`` and float64 arithmetic. Rounding can make a value equal
    ``high`` when ``high - low`` is far above ``low``'s ulp, as in other float32 generators.

    Args:
        arr: NumPy or CuPy array (float16/bfloat16/float32/float64, any shape and strides).
        low, high: finite bounds.
        key: the stream's Philox key, ``(k0, k1)`` with each word in ``[0, 2**32)``.
        offset: stream position of ``arr``'s first element (C order).

    Returns:
        ``arr``.

    Raises:
        TypeError: ``arr`` is not an array of a supported dtype, or a bound is not a real number.
        ValueError: non-finite bound, bad key or offset, read-only ``arr``.
    """
    where = "fill_uniform"
    _check_array(arr, where)
    lo = _check_real(low, "low", where)
    hi = _check_real(high, "high", where)
    k = _check_key(key, where)
    off = _check_offset(offset, int(arr.size), where)
    return _impl(arr).fill_uniform(arr, lo, hi, k, off)


def fill_normal(arr: Any, loc: float, scale: float, key: tuple[int, int], offset: int = 0) -> Any:
    """Fill ``arr`` in place with draws from ``N(loc, scale**2)``.

    Box-Muller on pairs of stream elements in float64, rounded once to float32 (CPU and GPU agree
    to within 2 float32 ulps; float64 results to a few float64 ulps). Arguments and errors as for
    :func:`fill_uniform` (``scale`` may be 0 or negative: the values are ``loc + scale * z``).
    """
    where = "fill_normal"
    _check_array(arr, where)
    mu = _check_real(loc, "loc", where)
    sigma = _check_real(scale, "scale", where)
    k = _check_key(key, where)
    off = _check_offset(offset, int(arr.size), where)
    return _impl(arr).fill_normal(arr, mu, sigma, k, off)


def fill_constant(arr: Any, value: Any) -> Any:
    """Set every element of ``arr`` to ``value``, converted as ``np.array(value, dtype=arr.dtype)``.

    On the GPU this writes the value's byte pattern with 16-byte stores (memset speed); CuPy's own
    ``fill`` with a nonzero value is about four times slower.

    Raises:
        TypeError: ``arr`` is not an array or ``value`` is not a real scalar.
        OverflowError: a Python int ``value`` does not fit an integer ``arr.dtype``.
        ValueError: NaN or infinity into an integer ``arr.dtype``.
        ValueError: read-only ``arr``.
    """
    where = "fill_constant"
    _check_array(arr, where, random=False)
    _check_value(value, arr, where)
    return _impl(arr).fill_constant(arr, value)


def _group_by_backend(arrs: Sequence[Any]) -> tuple[list[int], list[int]]:
    gpu = [i for i, a in enumerate(arrs) if backend.is_gpu_array(a)]
    gpu_set = set(gpu)
    return [i for i in range(len(arrs)) if i not in gpu_set], gpu


def _multi_random(
    where: str,
    name: str,
    arrs: Sequence[Any],
    p0s: Sequence[float],
    p1s: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int] | None,
    names: tuple[str, str],
) -> None:
    _check_lengths(
        where, arrs, **{names[0] + "s": p0s, names[1] + "s": p1s, "keys": keys, "offsets": offsets}
    )
    offs = list(offsets) if offsets is not None else [0] * len(arrs)
    a0 = _reals_fast(p0s)
    if a0 is None:
        a0 = [_check_real(v, names[0], where) for v in p0s]
    a1 = _reals_fast(p1s)
    if a1 is None:
        a1 = [_check_real(v, names[1], where) for v in p1s]
    ks = list(keys) if _keys_fast(keys) else [_check_key(k, where) for k in keys]
    all_host = True
    for i, arr in enumerate(arrs):
        off = offs[i]
        if (  # the common case, checked without building the message label
            type(arr) is np.ndarray
            and arr.dtype in _RANDOM_FILL_NP
            and arr.flags.writeable
            and type(off) is int
            and 0 <= off <= MAX_STREAM_ELEMENTS - arr.size
        ):
            continue
        all_host = False
        _check_array(arr, f"{where} (array {i})")
        offs[i] = _check_offset(off, int(arr.size), f"{where} (array {i})")
    if all_host:  # every array passed the host fast path
        getattr(_cpu_impl(), name)(list(arrs), a0, a1, ks, offs)
        return
    for idxs, impl in zip(_group_by_backend(arrs), (_cpu_impl, _cuda_impl)):
        if idxs:
            getattr(impl(), name)(
                [arrs[i] for i in idxs],
                [a0[i] for i in idxs],
                [a1[i] for i in idxs],
                [ks[i] for i in idxs],
                [offs[i] for i in idxs],
            )


def multi_fill_uniform(
    arrs: Sequence[Any],
    lows: Sequence[float],
    highs: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int] | None = None,
) -> None:
    """:func:`fill_uniform` on many arrays at once, each with its own bounds, key and offset.

    Bitwise the same as calling :func:`fill_uniform` per array. GPU: one launch per (device, dtype)
    over a device-side table of (pointer, size, offset, key, params) rows. CPU: one parallel Numba
    loop per dtype over the same kind of table. ``offsets`` defaults to 0 for every array.
    Everything is checked before anything is written.
    """
    _multi_random(
        "multi_fill_uniform",
        "multi_fill_uniform",
        arrs,
        lows,
        highs,
        keys,
        offsets,
        ("low", "high"),
    )


def multi_fill_normal(
    arrs: Sequence[Any],
    locs: Sequence[float],
    scales: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int] | None = None,
) -> None:
    """:func:`fill_normal` on many arrays at once (see :func:`multi_fill_uniform`)."""
    _multi_random(
        "multi_fill_normal",
        "multi_fill_normal",
        arrs,
        locs,
        scales,
        keys,
        offsets,
        ("loc", "scale"),
    )


def multi_fill_constant(arrs: Sequence[Any], values: Sequence[Any]) -> None:
    """:func:`fill_constant` on many arrays (GPU: one launch per device). Checked before writing."""
    where = "multi_fill_constant"
    _check_lengths(where, arrs, values=values)
    for i, (arr, value) in enumerate(zip(arrs, values)):
        _check_array(arr, f"{where} (array {i})", random=False)
        _check_value(value, arr, f"{where} (array {i})")
    for idxs, impl in zip(_group_by_backend(arrs), (_cpu_impl, _cuda_impl)):
        if idxs:
            impl().multi_fill_constant([arrs[i] for i in idxs], [values[i] for i in idxs])
