"""Argument checks shared by the ``mx.nd`` operators, with MXNet 1.9.1's messages.

MXNet validates operator parameters in C++ and reports them as ``MXNetError`` with fixed texts
(``Invalid Input: 'foo', valid values are: {...}``, ``This operation only support floating
point types, not int32``); the helpers here raise the same texts, followed by what to do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np

from mxlite.base import MXNetError, dtype_np

__all__ = [
    "accepts_out",
    "check_choice",
    "check_float",
    "check_int_dtype",
    "normalize_axis",
    "out_dtype",
    "shape_text",
    "to_index",
]

_MSG_CHOICE = (
    "Invalid Input: '{value}', valid values are: {{{choices}}}, in operator {op}(name=\"\", "
    '{param}="{value}")'
)
_MSG_FLOAT = (
    "This operation only support floating point types, not {dtype}: {op} needs a float16, "
    "float32 or float64 input; cast it with .astype('float32') first."
)
_MSG_INT = (
    "This operation only support integer types, not {dtype}: {op}'s {param} must be an int32 "
    "or int64 array; cast it with .astype('int32') first."
)
_MSG_OUTS = "{op}: out= must be a list of {n} arrays, one per result"
_MSG_AXIS = (
    "{op}: axis {axis} is out of range for an input of {ndim} dimensions; valid axes are "
    "{lo} .. {hi}."
)
_F = TypeVar("_F", bound=Callable[..., Any])
_FLOAT_KINDS = frozenset({np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)})


def check_choice(op: str, param: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` when it is one of ``choices`` (MXNet's enum parameters).

    Raises:
        MXNetError: another value, with MXNet's "Invalid Input" text.
    """
    options = sorted(choices)
    if value not in options:
        quoted = ", ".join(f"'{c}'" for c in options)
        raise MXNetError(_MSG_CHOICE.format(value=value, choices=quoted, op=op, param=param))
    return str(value)


def check_float(op: str, arr: Any) -> None:
    """Raise unless ``arr`` (a raw array) holds float16/32/64 values.

    Raises:
        MXNetError: an integer or bool array, with MXNet's wording.
    """
    if arr.dtype not in _FLOAT_KINDS:
        raise MXNetError(_MSG_FLOAT.format(dtype=arr.dtype.name, op=op))


def check_int_dtype(op: str, param: str, arr: Any) -> None:
    """Raise unless ``arr`` (a raw array) holds int32 or int64 values (MXNet's length inputs).

    Raises:
        MXNetError: any other dtype, with MXNet's wording.
    """
    if arr.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise MXNetError(_MSG_INT.format(dtype=arr.dtype.name, op=op, param=param))


def normalize_axis(op: str, axis: Any, ndim: int, message: str | None = None) -> int:
    """``axis`` in ``[0, ndim)`` (negative axes count from the end).

    Args:
        op: the operator's name, for the message.
        axis: the axis as given.
        ndim: the number of dimensions of the input.
        message: MXNet's own text for this operator (formatted with ``axis`` and ``ndim``);
            the default names the valid range.

    Raises:
        MXNetError: ``axis`` outside ``[-ndim, ndim)``.
    """
    ax = int(axis)
    if not -ndim <= ax < ndim:
        text = message or _MSG_AXIS
        raise MXNetError(text.format(op=op, axis=axis, ndim=ndim, lo=-ndim, hi=ndim - 1, r=ndim))
    return ax % ndim if ndim else 0


def out_dtype(op: str, dtype: Any, choices: Iterable[str]) -> np.dtype:
    """The NumPy dtype of an operator's ``dtype`` parameter, one of MXNet's ``choices``.

    Raises:
        MXNetError: a dtype outside ``choices``, with MXNet's "Invalid Input" text.
    """
    name = dtype if isinstance(dtype, str) else np.dtype(dtype_np(dtype)).name
    check_choice(op, "dtype", name, choices)
    return np.dtype(dtype_np(name))


def to_index(xp: Any, raw: Any) -> Any:
    """Raw index values as int64, truncated toward zero as MXNet casts float indices."""
    if raw.dtype == np.int64:
        return raw
    return raw.astype(np.int64)


def shape_text(shape: Any) -> str:
    """A shape as MXNet prints it in messages: ``[3,4]``."""
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def accepts_out(fn: _F) -> _F:
    """Decorator giving an op MXNet's ``out=`` argument: the result is copied into ``out``
    (which must have its shape) and ``out`` is returned; an op with a list of results takes a
    list of arrays, one per result.

    Raises:
        MXNetError: ``out`` of another shape, or not one array per result.
    """

    @functools.wraps(fn)
    def with_out(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if out is None:
            return result
        from mxlite.ndarray.op_math import write_out  # noqa: PLC0415 - op_math sits above us

        if isinstance(result, list):
            if not isinstance(out, (list, tuple)) or len(out) != len(result):
                raise MXNetError(_MSG_OUTS.format(op=fn.__name__, n=len(result)))
            return [write_out(r, o) for r, o in zip(result, out)]
        return write_out(result, out)

    return with_out  # type: ignore[return-value]
