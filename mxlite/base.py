"""Errors, dtype tables and small shared helpers: the bottom layer, importing nothing of mxlite."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "MXNetError",
    "CheckError",
    "MXLiteGPUError",
    "ParamFileError",
    "mx_real_t",
    "numeric_types",
    "integer_types",
    "string_types",
    "DTYPE_NAME_TO_NP",
    "dtype_np",
    "dtype_name",
    "py_str",
]


class MXNetError(RuntimeError):
    """Default error raised by mxlite, like ``mxnet.base.MXNetError`` (a RuntimeError subclass)."""


class CheckError(MXNetError, AssertionError):
    """Raised where MXNet 1.x uses ``assert`` for a caller's mistake.

    It is an AssertionError too, so MXNet code that catches AssertionError keeps working, but
    unlike an ``assert`` it is still raised under ``python -O``.
    """


class MXLiteGPUError(MXNetError):
    """A GPU context was asked for data but no usable GPU (or CuPy) is there."""


class ParamFileError(MXNetError, ValueError):
    """A parameter file is damaged, truncated, hostile or of an unknown format."""


mx_real_t = np.float32
numeric_types: tuple[type, ...] = (float, int, np.generic)
integer_types: tuple[type, ...] = (int, np.integer)
string_types: tuple[type, ...] = (str,)

try:  # bfloat16 is optional: ml_dtypes ships it when installed.
    import ml_dtypes as _ml_dtypes  # type: ignore[import-not-found]

    bfloat16: Any = np.dtype(_ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - depends on the environment
    bfloat16 = None

DTYPE_NAME_TO_NP: dict[str, Any] = {
    "float16": np.dtype(np.float16),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "uint8": np.dtype(np.uint8),
    "int8": np.dtype(np.int8),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "bool": np.dtype(np.bool_),
}
if bfloat16 is not None:
    DTYPE_NAME_TO_NP["bfloat16"] = bfloat16


def dtype_np(dtype: Any) -> np.dtype:
    """Turn a dtype given the MXNet way (``'float32'``, ``np.float32``, ``None``) into ``np.dtype``.

    ``None`` means MXNet's default real type, float32.
    """
    if dtype is None:
        return np.dtype(mx_real_t)
    if isinstance(dtype, str) and dtype in DTYPE_NAME_TO_NP:
        return DTYPE_NAME_TO_NP[dtype]
    try:
        return np.dtype(dtype)
    except TypeError as err:
        raise TypeError(
            f"Unsupported dtype {dtype!r}; use one of {sorted(DTYPE_NAME_TO_NP)}."
        ) from err


def dtype_name(dtype: Any) -> str:
    """Name of a dtype as MXNet prints it (``'float32'``)."""
    return str(dtype_np(dtype).name)


def py_str(x: bytes | str) -> str:
    """``x`` as a ``str`` (bytes decoded as UTF-8), as MXNet's ``base.py_str``."""
    return x.decode("utf-8") if isinstance(x, bytes) else x
