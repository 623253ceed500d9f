"""``mx.np.ndarray``: NDArray with NumPy semantics (placeholder; being built)."""

from __future__ import annotations

from mxlite.ndarray.ndarray import NDArray


class ndarray(NDArray):  # noqa: N801 - NumPy's name
    """An NDArray with NumPy semantics."""

    __slots__ = ()

    @staticmethod
    def _numpy_semantics() -> bool:
        return True
