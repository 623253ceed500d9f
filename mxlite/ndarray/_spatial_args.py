"""Argument checks shared by the spatial operators (Convolution, Deconvolution, Pooling).

Messages follow MXNet 1.9.1's wording (checked with the oracle) and add what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite.base import MXNetError
from mxlite.ndarray.ndarray import NDArray

__all__ = [
    "shape_arg",
    "per_dim",
    "check_layout",
    "check_data_ndim",
    "channels_last",
    "check_float_inputs",
    "op_signature",
]

_LAYOUTS_CONV = ("NCDHW", "NCHW", "NCW", "NDHWC", "NHWC")
_LAYOUTS_POOL = ("NCDHW", "NCHW", "NCW", "NDHWC", "NHWC", "NWC")
_DATA_DIMS = {1: "3D in batch-num_filter-x", 2: "4D in batch-num_filter-y-x",
              3: "5D in batch-num_filter-depth-y-x"}  # fmt: skip


def op_signature(op: str, **attrs: Any) -> str:
    """``Op(key="value", ...)`` as MXNet prints an operator in its errors."""
    shown = ", ".join(f'{k}="{v}"' for k, v in attrs.items() if v is not None)
    return f'{op}(name="", {shown})'


def shape_arg(value: Any, name: str, op: str) -> tuple[int, ...]:
    """A ``Shape(tuple)`` argument (an int is a 1-tuple; None or ``()`` is empty).

    Raises:
        MXNetError: not integers.
    """
    if value is None:
        return ()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),)
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise MXNetError(
            f"{op}: invalid {name} {value!r}; expected a tuple of integers such as (3, 3)."
        ) from None
    return out


def per_dim(value: tuple[int, ...], name: str, kernel: tuple[int, ...], default: int, op: str,
            positive: bool) -> tuple[int, ...]:  # fmt: skip
    """``value`` checked against the kernel's number of dimensions (``default`` when empty).

    Raises:
        MXNetError: another length than the kernel, or (``positive``) an entry below 1.
    """
    if not value:
        return (default,) * len(kernel)
    if len(value) != len(kernel):
        what = {"stride": "Stride", "dilate": "Dilate", "pad": "Pad", "adj": "Adj"}.get(name, name)
        raise MXNetError(
            f"{op}: {what} must have the same number of dimensions with kernel_size, but "
            f"kernel_size is set to {list(kernel)} while {name} is {list(value)}."
        )
    if positive and any(v < 1 for v in value):
        raise MXNetError(f"{op}: incorrect {name} size: {list(value)}; every entry must be >= 1.")
    if not positive and any(v < 0 for v in value):
        raise MXNetError(f"{op}: incorrect {name} size: {list(value)}; entries must be >= 0.")
    return value


def check_layout(layout: str | None, op: str, pooling: bool, attrs: dict[str, Any]) -> None:
    """Raise MXNet's error for a layout string it does not know.

    Raises:
        MXNetError: ``layout`` is not one of MXNet's values for ``op``.
    """
    valid = _LAYOUTS_POOL if pooling else _LAYOUTS_CONV
    if layout is None or layout in valid:
        return
    values = ", ".join(["None"] + [f"'{v}'" for v in valid])
    raise MXNetError(
        f"Invalid Input: '{layout}', valid values are: {{{values}}}, in operator "
        f"{op_signature(op, layout=layout, **attrs)}"
    )


def check_data_ndim(data: NDArray, nd: int, op: str) -> None:
    """Raise MXNet's error when ``data`` does not have ``nd + 2`` dimensions.

    Raises:
        MXNetError: another number of dimensions.
    """
    if data.ndim != nd + 2:
        raise MXNetError(
            f"{op}: Check failed: dshp.ndim() == {nd + 2}U ({data.ndim} vs. {nd + 2}) : Input "
            f"data should be {_DATA_DIMS[nd]}; got data of shape {data.shape} for a kernel of "
            f"{nd} dimension{'s' if nd > 1 else ''}."
        )


def channels_last(layout: str | None) -> bool:
    """Whether ``layout`` puts the channels last (NWC, NHWC, NDHWC)."""
    return layout is not None and layout.endswith("C")


def check_float_inputs(op: str, named: Sequence[tuple[str, Any]]) -> None:
    """MXNet's uniform-type check: every array has the first one's dtype.

    Raises:
        MXNetError: another dtype.
    """
    first = named[0][1].dtype
    for name, arr in named[1:]:
        if arr is not None and arr.dtype != first:
            raise MXNetError(
                f"{op}: This layer requires uniform type. Expected '{first.name}' v.s. given "
                f"'{arr.dtype.name}' at '{name}'. Cast the inputs to one dtype with .astype()."
            )
