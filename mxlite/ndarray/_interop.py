"""Zero-copy exchange with NumPy, CuPy, PyTorch and JAX: ``__array__``, DLPack, CUDA array interface.

* ``np.asarray(x)`` works for host arrays only (no copy); a GPU array raises TypeError and points
  to ``asnumpy()``, as CuPy does: an implicit device-to-host copy would hide a slow transfer.
* ``x.__dlpack__()`` / ``x.__dlpack_device__()`` export the backing array; ``mx.nd.from_dlpack``
  imports a capsule or any object with ``__dlpack__`` without copying (host memory through NumPy,
  CUDA memory through CuPy).
* ``x.__cuda_array_interface__`` exists on GPU arrays only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mxlite import backend

if TYPE_CHECKING:
    from mxlite.ndarray.ndarray import NDArray

__all__ = [
    "to_host_array",
    "cuda_array_interface",
    "from_dlpack",
    "from_numpy",
    "to_dlpack_for_read",
    "to_dlpack_for_write",
]

_KDL_CPU = 1
_KDL_CUDA = 2
_KDL_CUDA_HOST = 3
_KDL_CUDA_MANAGED = 13


def to_host_array(x: NDArray, dtype: Any = None, copy: Any = None) -> np.ndarray:
    """``np.asarray(x)``: the backing NumPy array (no copy unless ``dtype``/``copy`` ask for one).

    Raises:
        TypeError: ``x`` lives on a GPU (use ``x.asnumpy()`` to copy it to the host).
    """
    if backend.is_gpu_array(x._data):
        raise TypeError(
            f"Implicit conversion of an array on {x.context} to a NumPy array is not allowed. "
            "Use .asnumpy() to copy it to the host explicitly."
        )
    arr = x._data
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if copy:
        return np.array(arr, copy=True)
    return arr


def cuda_array_interface(x: NDArray) -> dict[str, Any]:
    """The ``__cuda_array_interface__`` dict of a GPU array.

    Raises:
        AttributeError: ``x`` is a host array (so ``hasattr`` is False there, as in CuPy/NumPy).
    """
    if not backend.is_gpu_array(x._data):
        raise AttributeError(
            f"__cuda_array_interface__ is only defined for GPU arrays; this one is on {x.context}"
        )
    return dict(x._data.__cuda_array_interface__)


class _Capsule:
    """Adapter giving a bare DLPack capsule the ``__dlpack__`` protocol NumPy/CuPy expect."""

    def __init__(self, capsule: Any, device: tuple[int, int]) -> None:
        self._capsule = capsule
        self._device = device

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self._capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return self._device


def _is_capsule(obj: Any) -> bool:
    return type(obj).__name__ == "PyCapsule"


def from_dlpack(dlpack: Any) -> NDArray:
    """An NDArray sharing memory with ``dlpack``: a DLPack capsule, or any array with
    ``__dlpack__`` (NumPy, CuPy, PyTorch, JAX). Host memory becomes a ``cpu(0)`` array (through
    NumPy), CUDA memory a ``gpu(i)`` array (through CuPy).

    Raises:
        MXLiteGPUError: the data is on a GPU but CuPy or a usable GPU is missing.
        TypeError: ``dlpack`` is neither a capsule nor a DLPack-capable array.
    """
    from mxlite.base import MXLiteGPUError
    from mxlite.ndarray.ndarray import NDArray, ctx_of_raw

    if _is_capsule(dlpack):
        try:
            arr: Any = np.from_dlpack(_Capsule(dlpack, (_KDL_CPU, 0)))
        except (RuntimeError, BufferError, ValueError, TypeError):
            cp = backend.cupy_or_none()
            if cp is None:
                raise MXLiteGPUError(
                    "from_dlpack: the capsule does not hold host memory and no GPU is usable. "
                    + backend.gpu_remedy()
                ) from None
            arr = cp.from_dlpack(_Capsule(dlpack, (_KDL_CUDA, cp.cuda.Device().id)))
        return NDArray(arr, ctx_of_raw(arr))
    if not hasattr(dlpack, "__dlpack__"):
        raise TypeError(
            f"from_dlpack expects a DLPack capsule or an object with __dlpack__, got {type(dlpack)}"
        )
    device_type = int(dlpack.__dlpack_device__()[0]) if hasattr(dlpack, "__dlpack_device__") else 1
    if device_type in (_KDL_CUDA, _KDL_CUDA_MANAGED):
        cp = backend.cupy_or_none()
        if cp is None:
            raise MXLiteGPUError(
                "from_dlpack: the array lives in CUDA memory, which needs CuPy and a usable GPU. "
                + backend.gpu_remedy()
            )
        arr = cp.from_dlpack(dlpack)
    else:
        arr = np.from_dlpack(dlpack)
    return NDArray(arr, ctx_of_raw(arr))


def from_numpy(ndarray: np.ndarray, zero_copy: bool = True, array_cls: Any = None) -> NDArray:
    """An NDArray over a NumPy array: shares its memory when ``zero_copy`` (C-contiguous arrays
    only), else a copy.

    As in MXNet, ``zero_copy`` makes ``ndarray`` itself read-only (``flags.writeable`` False):
    the NDArray owns the memory from then on and writes go through it only.

    Args:
        ndarray: the NumPy array.
        zero_copy: share the memory instead of copying it.
        array_cls: the class of the result (``mx.nd.NDArray`` by default).

    Raises:
        TypeError: ``ndarray`` is not a numpy.ndarray.
        ValueError: ``zero_copy`` with an array that is not C-contiguous.
    """
    from mxlite.ndarray.ndarray import NDArray

    cls = NDArray if array_cls is None else array_cls
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(ndarray)}")
    if not zero_copy:
        return cls(np.array(ndarray, copy=True, order="C"))  # type: ignore[no-any-return]
    if not ndarray.flags.c_contiguous:
        raise ValueError("Only c-contiguous arrays are supported for zero-copy")
    shared = ndarray.view()  # keeps the write permission the array has now
    ndarray.flags.writeable = False
    return cls(shared)  # type: ignore[no-any-return]


def to_dlpack_for_read(data: NDArray) -> Any:
    """A DLPack capsule of ``data`` (waits for pending writes first)."""
    return data.to_dlpack_for_read()


def to_dlpack_for_write(data: NDArray) -> Any:
    """A DLPack capsule of ``data`` that may be written through."""
    return data.to_dlpack_for_write()
