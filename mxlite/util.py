"""NumPy-semantics switches (``npx.set_np()``): whether arrays are ``mx.np.ndarray`` and shapes allow 0/-1.

MXNet keeps two flags: *np_shape* (0 is a real dimension size and -1 marks an unknown one) and
*np_array* (front-end arrays are ``mx.np.ndarray``). ``set_np()`` turns both on.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "is_np_array",
    "is_np_shape",
    "set_np",
    "reset_np",
    "set_np_shape",
    "use_np",
    "use_np_shape",
    "use_np_array",
    "np_shape",
    "np_array",
    "is_np_default_dtype",
    "shape_is_known",
    "unknown_dim",
    "display_shape",
    "set_num_threads",
    "get_num_threads",
    "thread_policy",
]

F = TypeVar("F", bound=Callable[..., Any])


def set_num_threads(n: int | None) -> None:
    """Fix the number of threads mxlite's host work uses (BLAS products and Numba kernels);
    ``None`` (the default) lets it follow the cores other processes leave free. Explicit
    ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` / ``NUMBA_NUM_THREADS``
    settings still win for their pools (see :mod:`mxlite._threads`).

    Raises:
        ValueError: ``n`` is not a positive int or None.
    """
    from mxlite import _threads

    _threads.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads mxlite's host work uses now."""
    from mxlite import _threads

    return _threads.get_num_threads()


def thread_policy() -> dict[str, Any]:
    """The thread policy's current decision and its inputs (threads, cores, mode, BLAS, Numba)."""
    from mxlite import _threads

    return _threads.policy()


class _NpState(threading.local):
    def __init__(self) -> None:
        self.np_shape = False
        self.np_array = False
        self.np_dtype = False


_STATE = _NpState()


def is_np_shape() -> bool:
    """True when NumPy shape semantics are on (unknown dims are -1, 0 is a real size)."""
    return _STATE.np_shape


def is_np_array() -> bool:
    """True when NumPy array semantics are on (front-end arrays are ``mx.np.ndarray``)."""
    return _STATE.np_array


def set_np_shape(active: bool) -> bool:
    """Turn NumPy shape semantics on or off; returns the previous state."""
    prev = _STATE.np_shape
    _STATE.np_shape = bool(active)
    return prev


def is_np_default_dtype() -> bool:
    """True when ``mx.np`` creation functions default to float64 (``set_np(dtype=True)``)."""
    return _STATE.np_dtype


def set_np(shape: bool = True, array: bool = True, dtype: bool = False) -> None:
    """Turn on NumPy semantics, as ``mxnet.npx.set_np`` (for this thread).

    Args:
        shape: NumPy shape semantics (0 is a size, -1 marks an unknown dimension).
        array: front-end arrays are ``mx.np.ndarray``.
        dtype: ``mx.np`` creation functions default to float64 instead of float32.

    Raises:
        ValueError: ``array=True`` with ``shape=False`` (MXNet refuses that combination too).
    """
    if not shape and array:
        raise ValueError("NumPy Shape semantics is required in using NumPy array semantics.")
    _STATE.np_shape = bool(shape)
    _STATE.np_array = bool(array)
    _STATE.np_dtype = bool(dtype)


def reset_np() -> None:
    """Back to the legacy NDArray semantics."""
    set_np(shape=False, array=False, dtype=False)


def unknown_dim() -> int:
    """The marker of an unknown dimension: -1 under NumPy shape semantics, else 0."""
    return -1 if _STATE.np_shape else 0


def shape_is_known(shape: Any) -> bool:
    """Whether every dimension of ``shape`` is known (MXNet's ``mx.util.shape_is_known``).

    ``None`` is unknown; ``()`` is known only under NumPy shape semantics (a 0-d array); a
    dimension equal to :func:`unknown_dim` (or negative, or None) is unknown.
    """
    if shape is None:
        return False
    marker = unknown_dim()
    if len(shape) == 0:
        return marker == -1
    return all(d is not None and d != marker and d >= 0 for d in shape)


def display_shape(shape: Any) -> Any:
    """``shape`` as MXNet shows it in the current mode: unknown dims (None, negative, or 0 in
    legacy mode) appear as -1 under NumPy shape semantics and as 0 otherwise; None stays None."""
    if shape is None:
        return None
    marker = unknown_dim()
    out = []
    for d in shape:
        unknown = d is None or d < 0 or (d == 0 and marker == 0)
        out.append(marker if unknown else int(d))
    return tuple(out)


class _Scope:
    def __init__(self, shape: bool | None, array: bool | None) -> None:
        self._shape = shape
        self._array = array
        self._prev: tuple[bool, bool] = (False, False)

    def __enter__(self) -> None:
        self._prev = (_STATE.np_shape, _STATE.np_array)
        if self._shape is not None:
            _STATE.np_shape = self._shape
        if self._array is not None:
            _STATE.np_array = self._array

    def __exit__(self, *exc: object) -> None:
        _STATE.np_shape, _STATE.np_array = self._prev


def np_shape(active: bool = True) -> _Scope:
    """Scope with NumPy shape semantics on (or off)."""
    return _Scope(active, None)


def np_array(active: bool = True) -> _Scope:
    """Scope with NumPy array semantics on (or off)."""
    return _Scope(None, active)


def _is_member(obj: Any) -> bool:
    return inspect.isfunction(obj) or inspect.ismethod(obj) or isinstance(obj, property)


def _decorate_class(cls: type, shape: bool | None, array: bool | None) -> type:
    """Every method, static or class method and property of ``cls``, inherited ones included
    (as MXNet's ``inspect.getmembers`` walk), re-installed on ``cls`` inside the scope; static and
    class methods stay what they are (MXNet turns them into plain functions)."""
    for name, _member in inspect.getmembers(cls, predicate=_is_member):
        raw = inspect.getattr_static(cls, name)
        if isinstance(raw, staticmethod):
            setattr(cls, name, staticmethod(_decorate(raw.__func__, shape, array)))
        elif isinstance(raw, classmethod):
            setattr(cls, name, classmethod(_decorate(raw.__func__, shape, array)))
        elif isinstance(raw, property):
            fget = None if raw.fget is None else _decorate(raw.fget, shape, array)
            fset = None if raw.fset is None else _decorate(raw.fset, shape, array)
            setattr(cls, name, property(fget, fset, raw.fdel, raw.__doc__))
        elif inspect.isfunction(raw):
            setattr(cls, name, _decorate(raw, shape, array))
    return cls


def _decorate(func: F, shape: bool | None, array: bool | None) -> F:
    if isinstance(func, type):
        return _decorate_class(func, shape, array)  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _Scope(shape, array):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def use_np(func: F) -> F:
    """Decorator: run ``func`` (or every method of a class) with NumPy semantics on."""
    return _decorate(func, True, True)


def use_np_shape(func: F) -> F:
    """Decorator: run ``func`` (or every method of a class) with NumPy shape semantics on."""
    return _decorate(func, True, None)


def use_np_array(func: F) -> F:
    """Decorator: run ``func`` (or every method of a class) with NumPy array semantics on."""
    return _decorate(func, None, True)
