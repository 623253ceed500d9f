"""Argument checks and ``out=`` handling shared by the ``mx.nd.*_update`` operators.

The checks run before anything is written and raise MXNet 1.9.1's errors: a missing input
("Operator sgd_update expects 2 inputs, but got 1 instead."), a non-NDArray (MXNet asserts:
:class:`~mxlite.base.CheckError`), shape and dtype inference failures ("Incompatible attr in
node  at 1-th input: expected [2,3], got [3,2]"), the multi-precision inputs that must be
float32 ("Type inconsistent, Provided = float16, inferred type = float32") and non-float
weights ("This operation only support floating point types, not int32").

``out=`` follows MXNet: the operator writes its result into ``out`` (the weight itself for an
in-place update) or into a new array; the states (momentum, mean, ...) are always updated in
place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import CheckError, MXNetError
from mxlite.ndarray.ndarray import NDArray, out_ctx, same_ctx

__all__ = [
    "arrays_of",
    "check_shapes",
    "check_types",
    "check_real",
    "check_groups",
    "outs_of",
    "new_or_out",
    "same_buffer",
    "staged",
]

_MSG_COUNT = (
    "Operator {op} expects {n} inputs, but got {m} instead. Pass {names} (NDArrays, in this order)."
)
_MSG_NOT_ND = "Argument {name} must have NDArray type, but got {got!r}"
_MSG_ATTR = (
    "Incompatible attr in node  at {i}-th {where}: expected {want}, got {got}. Every array of "
    "{op} must match the weight's {what}."
)
_MSG_TYPE = (
    "Type inconsistent, Provided = {got}, inferred type = {want}: {op} needs {name} in {want}."
)
_MSG_NO_OUT = (
    "shape must have a valid ndim: {op} writes the updated weights into out=; pass "
    "out=[weight_0, weight_1, ...] (one NDArray per weight, here {n})."
)
_MSG_OUTS = (
    "Operator {op} expects {n} (all) or {n} (visible only) outputs, but got {m} instead. Pass "
    "one out array per weight."
)
_MSG_MIXED = (
    "{op}: weight_{i} is {got} but weight_0 is {want}; one call updates weights of one dtype "
    "(MXNet would read them as {want}). Group the weights by dtype."
)
_MSG_REAL = (
    "This operation only support floating point types, not {dtype} ({op}). Cast the arrays "
    "with .astype('float32') first."
)


def arrays_of(op: str, named: Sequence[tuple[str, Any]]) -> list[NDArray]:
    """The input arrays, checked: all present, all NDArrays, all on one device kind.

    Raises:
        MXNetError: an input is missing, or GPU and host arrays are mixed.
        CheckError: an input is not an NDArray.
    """
    present = [value for _, value in named if value is not None]
    if len(present) != len(named):
        names = ", ".join(name for name, _ in named)
        raise MXNetError(_MSG_COUNT.format(op=op, n=len(named), m=len(present), names=names))
    for name, value in named:
        if not isinstance(value, NDArray):
            raise CheckError(_MSG_NOT_ND.format(name=name, got=value))
    same_ctx(op, *present)
    return present


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def check_shapes(op: str, inputs: Sequence[tuple[int, NDArray]], outs: Sequence[Any]) -> None:
    """MXNet's ``ElemwiseShape``: every input (given with its input index) and output has the
    first input's shape.

    Raises:
        MXNetError: the first array whose shape differs.
    """
    want = inputs[0][1].shape
    items = [("input", i, a) for i, a in inputs] + [("output", i, a) for i, a in enumerate(outs)]
    for where, i, arr in items:
        if arr is not None and arr.shape != want:
            raise MXNetError(
                _MSG_ATTR.format(
                    i=i,
                    where=where,
                    want=_shape_text(want),
                    got=_shape_text(arr.shape),
                    op=op,
                    what="shape",
                )  # fmt: skip
            )


def check_types(
    op: str,
    inputs: Sequence[tuple[int, NDArray]],
    outs: Sequence[Any],
    float32: Sequence[tuple[str, NDArray]] = (),
) -> None:
    """MXNet's type inference: the ``float32`` arrays (master copies, multi-precision states)
    must be float32; every other input and output has the first input's dtype.

    Raises:
        MXNetError: the first array of another dtype.
    """
    for name, arr in float32:
        if arr._data.dtype != np.float32:
            got = arr._data.dtype.name
            raise MXNetError(_MSG_TYPE.format(got=got, want="float32", op=op, name=name))
    want = inputs[0][1]._data.dtype
    groups = (("input", list(inputs)), ("output", list(enumerate(outs))))
    for where, items in groups:
        for i, arr in items:
            if arr is not None and arr._data.dtype != want:
                raise MXNetError(
                    _MSG_ATTR.format(
                        i=i,
                        where=where,
                        want=want.name,
                        got=arr._data.dtype.name,
                        op=op,
                        what="dtype",
                    )  # fmt: skip
                )


def check_real(op: str, arr: NDArray) -> None:
    """Raise MXNet's error for a weight that is not float16, float32 or float64."""
    if arr._data.dtype.kind != "f" or arr._data.dtype.itemsize > 8:
        raise MXNetError(_MSG_REAL.format(dtype=arr._data.dtype.name, op=op))


def same_buffer(a: Any, b: Any) -> bool:
    """Whether two raw arrays start at the same address (an in-place update of the same data)."""
    if backend.is_gpu_array(a) != backend.is_gpu_array(b):
        return False
    if backend.is_gpu_array(a):
        return bool(a.data.ptr == b.data.ptr)
    return bool(a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def new_or_out(like: NDArray, out: NDArray | None, dtype: Any = None) -> NDArray:
    """``out``, or a new uninitialized array shaped like ``like`` (``dtype`` or like's) on its
    context, as the result of an operator."""
    if out is not None:
        return out
    xp = like._xp
    arr = xp.empty(like._data.shape, dtype=like._data.dtype if dtype is None else dtype)
    return type(like)(arr, out_ctx(like.context))


def staged(call: Callable[..., None], *lists: Sequence[Any] | None) -> None:
    """``call(*lists)`` for the fused kernels, which need C-contiguous writeable arrays: other
    arrays go through contiguous copies that are written back afterwards."""
    copies: list[tuple[Any, Any]] = []

    def fit(arr: Any) -> Any:
        if arr is None or (arr.flags.c_contiguous and _writeable(arr)):
            return arr
        tmp = backend.xp_of(arr).ascontiguousarray(arr)
        copies.append((arr, tmp))
        return tmp

    call(*(None if items is None else [fit(a) for a in items] for items in lists))
    for arr, tmp in copies:
        if _writeable(arr):
            arr[...] = tmp


def _writeable(arr: Any) -> bool:
    return bool(getattr(arr.flags, "writeable", True))


def outs_of(op: str, out: Any, n: int) -> list[NDArray]:
    """The ``out`` of a multi-tensor operator as a list of ``n`` arrays.

    Raises:
        MXNetError: ``out`` is missing (MXNet fails with "shape must have a valid ndim") or
            holds another number of arrays.
    """
    if out is None:
        raise MXNetError(_MSG_NO_OUT.format(op=op, n=n))
    outs = [out] if isinstance(out, NDArray) else list(out)
    if len(outs) != n:
        raise MXNetError(_MSG_OUTS.format(op=op, n=n, m=len(outs)))
    return outs


def check_groups(
    op: str,
    groups: Sequence[Sequence[NDArray]],
    names: Sequence[str],
    outs: Sequence[NDArray],
    float32: Sequence[str] = (),
    uniform: bool = False,
) -> None:
    """Shape and type inference of a multi-tensor operator whose inputs come in groups of
    ``names`` per weight: shapes and types agree within each group (indices counted within the
    group, as MXNet reports them), the ``float32`` names are float32, every weight has the first
    weight's dtype, and with ``uniform`` every input and output has it (``ElemwiseType<-1, -1>``).

    Raises:
        MXNetError: the first disagreement, or a weight that is not float16/32/64.
    """
    for i, group in enumerate(groups):
        check_shapes(op, list(enumerate(group)), [outs[i]])
    if uniform:
        flat = [a for group in groups for a in group]
        check_types(op, list(enumerate(flat)), outs)
    want = groups[0][0]._data.dtype
    for i, group in enumerate(groups):
        plain = [(j, a) for j, a in enumerate(group) if names[j] not in float32]
        typed32 = [(f"{names[j]}_{i}", a) for j, a in enumerate(group) if names[j] in float32]
        check_types(op, plain, [outs[i]], typed32)
        if group[0]._data.dtype != want:
            got = group[0]._data.dtype.name
            raise MXNetError(_MSG_MIXED.format(op=op, i=i, got=got, want=want.name))
    check_real(op, groups[0][0])
