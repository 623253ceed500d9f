"""Python operators and fluent methods of NDArray (``x + y``, ``x += 1``, ``x > 0``, ``x.sum()``).

Every operator forwards to :mod:`mxlite.ndarray.op`: ``binary`` for ``+ - * / % **`` and the
comparisons, ``inplace`` for the augmented assignments. ``-x`` is ``x * -1.0`` as in MXNet (so a
bool array gives int64). Unknown attributes are looked up in ``op.FLUENT`` (``x.abs()``,
``x.sum(axis=1)``, ``x.softmax()``, ...).
"""

from __future__ import annotations

from typing import Any

__all__ = ["OperatorMixin"]


class OperatorMixin:
    """Operators shared by ``mx.nd.NDArray`` and ``mx.np.ndarray``."""

    __slots__ = ()

    def _binary(self, other: Any, op: str, reverse: bool = False) -> Any:
        from mxlite.ndarray import op as ops

        return ops.binary(op, other, self) if reverse else ops.binary(op, self, other)

    def __add__(self, other: Any) -> Any:
        return self._binary(other, "add")

    def __radd__(self, other: Any) -> Any:
        return self._binary(other, "add", reverse=True)

    def __sub__(self, other: Any) -> Any:
        return self._binary(other, "sub")

    def __rsub__(self, other: Any) -> Any:
        return self._binary(other, "sub", reverse=True)

    def __mul__(self, other: Any) -> Any:
        return self._binary(other, "mul")

    def __rmul__(self, other: Any) -> Any:
        return self._binary(other, "mul", reverse=True)

    def __truediv__(self, other: Any) -> Any:
        return self._binary(other, "div")

    def __rtruediv__(self, other: Any) -> Any:
        return self._binary(other, "div", reverse=True)

    __div__ = __truediv__
    __rdiv__ = __rtruediv__

    def __mod__(self, other: Any) -> Any:
        return self._binary(other, "mod")

    def __rmod__(self, other: Any) -> Any:
        return self._binary(other, "mod", reverse=True)

    def __pow__(self, other: Any) -> Any:
        return self._binary(other, "pow")

    def __rpow__(self, other: Any) -> Any:
        return self._binary(other, "pow", reverse=True)

    def __matmul__(self, other: Any) -> Any:
        from mxlite.ndarray import op

        return op.dot(self, other)  # type: ignore[arg-type]

    def __neg__(self) -> Any:
        # MXNet computes -x as x * -1.0 (so a bool array gives int64, uint8 wraps around).
        return self._binary(-1.0, "mul")

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        from mxlite.ndarray import op

        return op.abs(self)

    def _inplace(self, other: Any, op: str) -> Any:
        from mxlite.ndarray import op as ops

        ops.inplace(op, self, other)  # type: ignore[arg-type]
        return self

    def __iadd__(self, other: Any) -> Any:
        return self._inplace(other, "add")

    def __isub__(self, other: Any) -> Any:
        return self._inplace(other, "sub")

    def __imul__(self, other: Any) -> Any:
        return self._inplace(other, "mul")

    def __itruediv__(self, other: Any) -> Any:
        return self._inplace(other, "div")

    __idiv__ = __itruediv__

    def __imod__(self, other: Any) -> Any:
        return self._inplace(other, "mod")

    def __ipow__(self, other: Any) -> Any:
        return self._inplace(other, "pow")

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self._binary(other, "equal")

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self._binary(other, "not_equal")

    def __gt__(self, other: Any) -> Any:
        return self._binary(other, "greater")

    def __ge__(self, other: Any) -> Any:
        return self._binary(other, "greater_equal")

    def __lt__(self, other: Any) -> Any:
        return self._binary(other, "lesser")

    def __le__(self, other: Any) -> Any:
        return self._binary(other, "lesser_equal")

    # ------------------------------------------------------------------ fluent methods
    def __getattr__(self, name: str) -> Any:
        # Fluent methods (x.abs(), x.sum(axis=1), x.exp(), ...) forward to mx.nd's functions.
        if name == "__cuda_array_interface__":  # the property raised: a host array
            raise AttributeError(
                "__cuda_array_interface__ is only defined for GPU arrays; this one is on "
                f"{self.context}"  # type: ignore[attr-defined]
            )
        if name.startswith("_"):
            raise AttributeError(name)
        from mxlite.ndarray import op

        fn = op.FLUENT.get(name)
        if fn is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

        def method(*args: Any, **kwargs: Any) -> Any:
            return fn(self, *args, **kwargs)

        method.__name__ = name
        return method
