"""``mx.nd``: the legacy NDArray front end."""

from __future__ import annotations

from typing import Any

from mxlite.ndarray import op, random
from mxlite.ndarray.creation import arange, array, empty, full, ones, reset_arrays, waitall, zeros
from mxlite.ndarray.ndarray import NDArray, ctx_of_raw
from mxlite.ndarray.op import *  # noqa: F403 - mx.nd exposes every op at top level
from mxlite.ndarray.op import abs, max, min, round, sum  # noqa: A004, F401 - shadow builtins on purpose


def save(fname: str, data: Any, format: str | None = None) -> None:  # noqa: A002 - public name
    """Save an NDArray, a list of them or a str->NDArray dict (see mxlite.ndarray.serialization)."""
    from mxlite.ndarray import serialization

    serialization.save(fname, data, format=format)


def load(fname: str, ctx: Any = None, format: str | None = None) -> Any:  # noqa: A002
    """Load what :func:`save` wrote (or real MXNet wrote): a list or a dict of NDArrays."""
    from mxlite.ndarray import serialization

    return serialization.load(fname, ctx=ctx, format=format)


def load_frombuffer(buf: bytes) -> Any:
    """Load NDArrays from the bytes of a ``.params`` file."""
    from mxlite.ndarray import serialization

    return serialization.load_frombuffer(buf)


def from_dlpack(dlpack: Any) -> NDArray:
    """Zero-copy NDArray from a DLPack capsule or any object with ``__dlpack__`` (NumPy, CuPy,
    PyTorch, JAX arrays)."""
    from mxlite import backend

    device_type = None
    if hasattr(dlpack, "__dlpack_device__"):
        device_type = int(dlpack.__dlpack_device__()[0])
    if device_type == 2:  # kDLCUDA
        cp = backend.cupy_or_none()
        if cp is None:
            raise RuntimeError(
                "from_dlpack: a CUDA array needs CuPy and a usable GPU. " + backend.gpu_remedy()
            )
        arr = cp.from_dlpack(dlpack)
    else:
        import numpy as np

        arr = np.from_dlpack(dlpack)
    return NDArray(arr, ctx_of_raw(arr))


def from_numpy(ndarray: Any, zero_copy: bool = True) -> NDArray:
    """NDArray sharing memory with a NumPy array (a copy when ``zero_copy`` is False)."""
    import numpy as np

    arr = np.asarray(ndarray) if zero_copy else np.array(ndarray, copy=True)
    return NDArray(arr)


def to_dlpack_for_read(data: NDArray) -> Any:
    """A DLPack capsule of ``data``."""
    return data.to_dlpack_for_read()


to_dlpack_for_write = to_dlpack_for_read
