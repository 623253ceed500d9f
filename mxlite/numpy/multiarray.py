"""``mx.np.ndarray``: an NDArray with NumPy semantics, printed like MXNet 1.9.1 prints it.

Differences from the legacy NDArray (all read off real MXNet):

* ``repr`` is NumPy's, minus ``dtype=float32`` (float32 and bool print no dtype; every other dtype
  does, int64 included), plus ``ctx=gpu(0)`` off the host; ``str`` is NumPy's, plus ``@gpu(0)``.
* ``dtype`` is a ``numpy.dtype``; one element reads as a 0-d array; reductions give 0-d arrays.
* Operators promote dtypes as :mod:`mxlite.ndarray._dtype_rules` says; comparisons give bool.
* ``reshape`` has no special codes (only -1); ``flatten`` gives a 1-d copy; ``item``,
  ``tolist``, ``float()``, ``int()`` work; ``asscalar`` does not exist.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mxlite.ndarray import _reshape
from mxlite.ndarray.ndarray import NDArray, on_device

__all__ = ["ndarray"]


_IMPLIED_DTYPES = (np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_))


def _numpy_repr(arr: np.ndarray) -> str:
    """``repr(arr)`` as NumPy 1.x writes it (MXNet 1.9.1's reference), whichever NumPy runs here.

    NumPy 2 adds ``shape=`` to summarized arrays; MXNet's text does not have it.
    """
    width = int(np.get_printoptions()["linewidth"])
    prefix = "array("
    skip_dtype = arr.dtype in _IMPLIED_DTYPES and arr.size > 0
    suffix = ")" if skip_dtype else ","
    if arr.size > 0 or arr.shape == (0,):
        body = np.array2string(arr, separator=", ", prefix=prefix, suffix=suffix)
    else:
        body = f"[], shape={arr.shape!r}"
    text = prefix + body + suffix
    if skip_dtype:
        return text
    dtype_text = f"dtype={arr.dtype.name})"
    last_line = len(text) - (text.rfind("\n") + 1)
    spacer = "\n" + " " * len(prefix) if last_line + len(dtype_text) + 1 > width else " "
    return text + spacer + dtype_text


def _no_asscalar(self: Any) -> Any:
    raise AttributeError("mxnet.numpy.ndarray object has no attribute asscalar")


class ndarray(NDArray):  # noqa: N801 - NumPy's name
    """An NDArray with NumPy semantics (``mx.np.ndarray``)."""

    __slots__ = ()

    @staticmethod
    def _numpy_semantics() -> bool:
        return True

    @property
    def dtype(self) -> Any:
        """The element type as a ``numpy.dtype`` (``dtype('float32')``)."""
        return self._data.dtype

    asscalar = property(_no_asscalar)  # type: ignore[assignment]

    def _kind_name(self) -> str:
        return "ndarray"

    def _empty_truth(self) -> bool:
        warnings.warn(
            "The truth value of an empty array is ambiguous. Returning False, but in future this "
            "will result in an error.",
            DeprecationWarning,
            stacklevel=3,
        )
        return False

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        text = _numpy_repr(self.asnumpy())
        dt = self._data.dtype
        if "dtype=" in text:
            if dt == np.float32:
                text = text[: text.rindex(",")] + ")"
        elif dt not in (np.float32, np.bool_):
            text = f"{text[:-1]}, dtype={dt})"
        if self._ctx.device_type != "cpu":
            text = f"{text[:-1]}, ctx={self._ctx})"
        return text

    def __str__(self) -> str:
        text = str(self.asnumpy())
        if self._ctx.device_type == "cpu" or self.ndim == 0:
            return text
        return f"{text} @{self._ctx}"

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return format(self.item(), spec)
        if not spec:
            return str(self)
        raise TypeError("Cannot format mxnet.numpy.ndarray with format_spec")

    # ------------------------------------------------------------------ python scalars
    def _scalar(self) -> Any:
        if self.size != 1:
            raise TypeError("only size-1 arrays can be converted to Python scalars")
        return self.asnumpy().reshape(-1)[0].item()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self._scalar())

    # ------------------------------------------------------------------ logic
    @on_device
    def _bitwise(self, other: Any, fn: str) -> NDArray:
        from mxlite.ndarray._dtype_rules import cast_scalar
        from mxlite.ndarray.ndarray import as_raw, is_scalar, same_ctx

        xp, a = self._xp, self._data
        if isinstance(other, NDArray):
            same_ctx(fn, self, other)
            b = as_raw(other, self)
            dt = np.result_type(a.dtype, b.dtype)
            a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
        elif is_scalar(other):
            b = cast_scalar(other, a.dtype)
        else:
            raise TypeError(f"type {type(other)} not supported")
        if a.dtype.kind not in "biu":
            raise TypeError(f"{fn} is only defined for bool and integer arrays, not {a.dtype}")
        return self._new(xp.asarray(getattr(xp, fn)(a, b)))

    def __and__(self, other: Any) -> NDArray:
        return self._bitwise(other, "bitwise_and")

    __rand__ = __and__

    def __or__(self, other: Any) -> NDArray:
        return self._bitwise(other, "bitwise_or")

    __ror__ = __or__

    def __xor__(self, other: Any) -> NDArray:
        return self._bitwise(other, "bitwise_xor")

    __rxor__ = __xor__

    @on_device
    def __invert__(self) -> NDArray:
        if self._data.dtype.kind not in "biu":
            raise TypeError(f"invert is only defined for bool and integer arrays, not {self.dtype}")
        return self._new(self._xp.invert(self._data))

    @on_device
    def all(self, axis: Any = None, keepdims: bool = False) -> NDArray:
        """Whether every element (along ``axis``) is true; a bool array."""
        return self._new(self._xp.asarray(self._xp.all(self._data, axis=axis, keepdims=keepdims)))

    @on_device
    def any(self, axis: Any = None, keepdims: bool = False) -> NDArray:
        """Whether some element (along ``axis``) is true; a bool array."""
        return self._new(self._xp.asarray(self._xp.any(self._data, axis=axis, keepdims=keepdims)))

    # ------------------------------------------------------------------ shape ops
    def reshape(self, *shape: Any, **kwargs: Any) -> NDArray:
        """Reshape with NumPy's rules (``-1`` infers one dimension); a view.

        Raises:
            TypeError: unknown keyword arguments, or an ``order`` other than 'C'.
            MXNetError: the sizes do not match.
        """
        order = kwargs.pop("order", "C")
        if "newshape" in kwargs:
            shape = (kwargs.pop("newshape"),)
        if kwargs:
            raise TypeError(f"reshape got unexpected keyword arguments {sorted(kwargs)}")
        if order != "C":
            raise TypeError(f"reshape: only order='C' is supported, got {order!r}")
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        target = _reshape.numpy_target_shape(self.shape, tuple(int(s) for s in shape))
        return self._reshaped(target)

    @on_device
    def flatten(self, order: str = "C") -> NDArray:  # type: ignore[override]
        """A 1-d copy of the array (differentiable)."""
        return self._reshaped((self.size,), copy=True)

    def ravel(self, order: str = "C") -> NDArray:
        """A 1-d view of the array."""
        return self._reshaped((self.size,))

    def copy(self, order: str = "C") -> NDArray:  # type: ignore[override]
        """A deep copy on the same context."""
        return super().copy()

    # ------------------------------------------------------------------ selection
    def take(self, indices: Any, axis: int | None = None, mode: str = "raise") -> NDArray:
        """``mx.np.take(self, indices, axis, mode)``: the flattened array's elements when
        ``axis`` is None (NumPy's method, not the legacy ``take``)."""
        from mxlite.numpy import _op_select

        return _op_select.take(self, indices, axis=axis, mode=mode)

    def argsort(self, axis: int | None = -1, kind: str | None = None, order: Any = None) -> NDArray:
        """``mx.np.argsort(self, axis)``: int64 indices that sort the array along ``axis``."""
        from mxlite.numpy import _op_select

        return _op_select.argsort(self, axis=axis)
