"""Constructors and storage conversions of ``mx.nd.sparse`` (MXNet 1.9.1's names, defaults and
messages): ``row_sparse_array``, ``csr_matrix``, ``zeros``, ``empty``, ``array``,
``cast_storage``, and the component checks (``check_format``, file loading).

Dtype defaults follow MXNet's ``_prepare_default_dtype``: an NDArray or NumPy source keeps its
dtype, anything else (lists) gives float32; indices are always int64.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError, dtype_np
from mxlite.context import Context
from mxlite.ndarray._sparse_base import BaseSparseNDArray, CSRNDArray, RowSparseNDArray
from mxlite.ndarray.ndarray import NDArray, default_ctx

__all__ = [
    "row_sparse_array",
    "csr_matrix",
    "zeros",
    "empty",
    "array",
    "cast_storage",
    "dense_to_csr",
    "dense_to_rsp",
    "check_parts",
    "import_scipy_sparse",
]

_STYPES = ("default", "row_sparse", "csr")
_MSG_SCIPY = (
    "{what} needs SciPy, which is not installed. Install it with `pip install scipy` "
    "(or the mxlite[sparse] extra)."
)


def import_scipy_sparse(what: str) -> Any:
    """``scipy.sparse``, imported on first use.

    Raises:
        ImportError: SciPy is missing (the message names the extra to install).
    """
    try:
        import scipy.sparse as ss
    except ImportError as err:
        raise ImportError(_MSG_SCIPY.format(what=what)) from err
    return ss


def _is_scipy_sparse(obj: Any) -> bool:
    mod = type(obj).__module__
    return mod.startswith("scipy.sparse")


def _default_dtype(src: Any, dtype: Any) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype_np(dtype))
    if isinstance(src, NDArray):
        return np.dtype(src.dtype)
    if isinstance(src, np.ndarray):
        return src.dtype
    return np.dtype(np.float32)


def _raw_on(src: Any, ctx: Context, dtype: Any) -> Any:
    """``src`` (NDArray, NumPy/CuPy array, list) as a raw array on ``ctx`` in ``dtype``."""
    if isinstance(src, NDArray):
        raw = src._data
    elif backend.is_gpu_array(src):
        raw = src
    else:
        raw = np.asarray(src)
    return backend.to_ctx(raw, ctx).astype(dtype, copy=True)


def _shape_arg(shape: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in shape)


def _is_shape(arg: Any) -> bool:
    return isinstance(arg, tuple) and all(isinstance(d, (int, np.integer)) for d in arg)


# ---------------------------------------------------------------------- conversions
def dense_to_rsp(xp: Any, arr: Any) -> tuple[Any, Any]:
    """``(indices, values)`` of the rows of dense ``arr`` holding a nonzero."""
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    rows = xp.flatnonzero((flat != 0).any(axis=1)).astype(np.int64)
    return rows, arr[rows]


def dense_to_csr(xp: Any, arr: Any) -> tuple[Any, Any, Any]:
    """``(values, indices, indptr)`` of the nonzeros of 2-D dense ``arr`` in row order."""
    rows, cols = xp.nonzero(arr)
    counts = xp.bincount(rows, minlength=int(arr.shape[0])) if int(rows.size) else None
    indptr = xp.zeros(int(arr.shape[0]) + 1, dtype=np.int64)
    if counts is not None:
        xp.cumsum(counts, out=indptr[1:])
    return arr[rows, cols], cols.astype(np.int64), indptr


def cast_storage(data: NDArray, stype: str) -> NDArray:
    """``data`` in storage ``stype`` (always a new array).

    Raises:
        MXNetError: an unknown storage type.
        ValueError: row_sparse <-> csr (MXNet refuses it too), or a csr target from a non-2-D
            array.
    """
    if stype not in _STYPES:
        raise MXNetError(
            f"Invalid Input: '{stype}', valid values are: {{'csr', 'default', 'row_sparse'}}, "
            f'in operator cast_storage(name="", stype="{stype}")'
        )
    src = data.stype
    if src != "default" and stype != "default" and src != stype:
        raise ValueError(f"cast_storage from {src} to {stype} is not supported")
    if stype == src:
        return data.copy()
    if stype == "default":
        return NDArray(data._data, data.context)
    raw = data._data
    xp = backend.xp_of(raw)
    with backend.array_device_guard(raw):
        if stype == "row_sparse":
            idx, vals = dense_to_rsp(xp, raw)
            return RowSparseNDArray._make(vals, idx, data.shape, data.context)
        if raw.ndim != 2:
            raise ValueError(
                "To convert to a CSR, the NDArray should be 2 Dimensional. Current shape is "
                f"{data.shape}"
            )
        vals, idx, ptr = dense_to_csr(xp, raw)
    return CSRNDArray._make(vals, idx, data.shape, data.context, indptr=ptr)


# ---------------------------------------------------------------------- checks
def check_parts(
    stype: str, parts: Mapping[str, np.ndarray], shape: tuple[int, ...], full_check: bool = True
) -> None:
    """Check that host components form a valid ``stype`` array of ``shape``.

    Raises:
        MXNetError: a size mismatch, indices out of range, unsorted or repeated, or an indptr
            that does not start at 0, decrease, or end at the number of entries.
    """
    data, indices = parts["data"], parts["indices"]
    if stype == "row_sparse":
        if indices.ndim != 1 or data.shape[:1] != indices.shape or data.shape[1:] != shape[1:]:
            raise MXNetError(
                f"row_sparse: data of shape {data.shape} and indices of shape {indices.shape} "
                f"do not fit an array of shape {shape}: data must be (len(indices),) + "
                f"{shape[1:]}."
            )
        if full_check and indices.size:
            _check_sorted_in_range(indices, shape[0], "row_sparse indices", "rows")
        return
    indptr = parts["indptr"]
    if len(shape) != 2:
        raise MXNetError(f"csr: the shape must be 2-D, got {shape}")
    if indptr.shape != (shape[0] + 1,) or data.shape != indices.shape or data.ndim != 1:
        raise MXNetError(
            f"csr: indptr of shape {indptr.shape}, indices of shape {indices.shape} and data of "
            f"shape {data.shape} do not fit an array of shape {shape}: indptr must have "
            f"{shape[0] + 1} entries and indices as many as data."
        )
    if not full_check:
        return
    if int(indptr[0]) != 0 or int(indptr[-1]) != data.size or bool((np.diff(indptr) < 0).any()):
        raise MXNetError(
            "csr: indptr must start at 0, never decrease and end at the number of stored "
            f"entries ({data.size}); got {indptr[:8].tolist()}..."
        )
    if indices.size:
        if int(indices.min()) < 0 or int(indices.max()) >= shape[1]:
            raise MXNetError(f"csr: column indices must be in [0, {shape[1]})")
        same_row = np.repeat(np.arange(shape[0]), np.diff(indptr))
        steps = np.diff(indices)
        if bool(((steps <= 0) & (same_row[1:] == same_row[:-1])).any()):
            raise MXNetError("csr: column indices must be strictly increasing within each row")


def _check_sorted_in_range(indices: np.ndarray, bound: int, what: str, axis: str) -> None:
    if int(indices.min()) < 0 or int(indices.max()) >= bound:
        raise MXNetError(f"{what} must be in [0, {bound}) (the number of {axis})")
    if indices.size > 1 and bool((np.diff(indices) <= 0).any()):
        raise MXNetError(f"{what} must be strictly increasing (sorted, no repeats)")


# ---------------------------------------------------------------------- constructors
def row_sparse_array(
    arg1: Any, shape: Any = None, ctx: Context | None = None, dtype: Any = None
) -> RowSparseNDArray:
    """A RowSparseNDArray from ``(data, indices)``, a shape (all zeros), a dense array or another
    RowSparseNDArray.

    ``data`` of shape ``(k, d1, ...)`` holds the rows at ``indices`` (``(k,)``; unsorted indices
    are sorted with their rows). Without ``shape`` it is ``(max(indices) + 1, d1, ...)``.

    Raises:
        MXNetError: data and indices do not fit, or an index is outside ``[0, shape[0])``.
        ValueError: a repeated index.
    """
    ctx = default_ctx(ctx)
    if isinstance(arg1, RowSparseNDArray):
        out = arg1.copyto(ctx)
        return out.astype(dtype, copy=False) if dtype is not None else out  # type: ignore[return-value]
    if isinstance(arg1, tuple) and _is_shape(arg1) and arg1:
        return zeros("row_sparse", arg1, ctx, dtype)  # type: ignore[return-value]
    if isinstance(arg1, tuple):
        if len(arg1) != 2:
            raise ValueError(
                f"row_sparse_array: expected (data, indices), got a tuple of {len(arg1)} items"
            )
        data, idx = arg1
        dt = _default_dtype(data, dtype)
        values = _raw_on(data, ctx, dt)
        indices = _raw_on(idx, ctx, np.int64).reshape(-1)
        if values.ndim == 0 or int(values.shape[0]) != int(indices.size):
            raise MXNetError(
                f"row_sparse_array: data has {values.shape[0] if values.ndim else 0} rows but "
                f"indices has {indices.size} entries; pass one index per row of data."
            )
        if shape is None:
            nrows = int(indices.max()) + 1 if int(indices.size) else 0
            shape = (nrows,) + tuple(values.shape[1:])
        shape = _shape_arg(shape)
        xp = backend.xp_of(values)
        if int(indices.size) > 1 and not bool((indices[1:] > indices[:-1]).all()):
            order = xp.argsort(indices, kind="stable")
            indices, values = indices[order], values[order]
            if bool((indices[1:] == indices[:-1]).any()):
                raise ValueError("row_sparse_array: indices must not repeat")
        if tuple(values.shape[1:]) != shape[1:]:
            raise MXNetError(
                f"row_sparse_array: data rows of shape {tuple(values.shape[1:])} do not fit an "
                f"array of shape {shape}; each row must have shape {shape[1:]}."
            )
        if int(indices.size):
            _check_sorted_in_range(_host(indices), shape[0], "row_sparse indices", "rows")
        return RowSparseNDArray._make(values, indices, shape, ctx)
    if _is_scipy_sparse(arg1):
        raise ValueError(
            "Unexpected input type: RowSparseNDArray cannot be created from scipy.sparse"
        )
    dense = arg1 if isinstance(arg1, NDArray) else NDArray(np.asarray(arg1), ctx)
    dt = _default_dtype(arg1, dtype)
    src = NDArray(_raw_on(dense, ctx, dt), ctx)
    return cast_storage(src, "row_sparse")  # type: ignore[return-value]


def _host(arr: Any) -> np.ndarray:
    return arr.get() if backend.is_gpu_array(arr) else np.asarray(arr)


def csr_matrix(
    arg1: Any, shape: Any = None, ctx: Context | None = None, dtype: Any = None
) -> CSRNDArray:
    """A CSRNDArray from ``(data, indices, indptr)``, COO ``(data, (row, col))``, a shape (all
    zeros), a dense 2-D array, a ``scipy.sparse.csr_matrix`` or another CSRNDArray.

    Without ``shape``, components give ``(len(indptr) - 1, max(indices) + 1)``.

    Raises:
        MXNetError: the components do not form a valid CSR array (see ``check_format``).
        ValueError: a dense source that is not 2-D.
        TypeError: another scipy.sparse format.
    """
    ctx = default_ctx(ctx)
    if isinstance(arg1, CSRNDArray):
        out = arg1.copyto(ctx)
        return out.astype(dtype, copy=False) if dtype is not None else out  # type: ignore[return-value]
    if isinstance(arg1, tuple) and _is_shape(arg1) and len(arg1) == 2:
        return zeros("csr", arg1, ctx, dtype)  # type: ignore[return-value]
    if isinstance(arg1, tuple) and len(arg1) == 2 and isinstance(arg1[1], tuple):
        return _from_coo(arg1[0], arg1[1], shape, ctx, dtype)
    if isinstance(arg1, tuple):
        if len(arg1) != 3:
            raise ValueError(
                f"csr_matrix: expected (data, indices, indptr), got a tuple of {len(arg1)} items"
            )
        data, idx, ptr = arg1
        dt = _default_dtype(data, dtype)
        values = _raw_on(data, ctx, dt).reshape(-1)
        indices = _raw_on(idx, ctx, np.int64).reshape(-1)
        indptr = _raw_on(ptr, ctx, np.int64).reshape(-1)
        if shape is None:
            ncols = int(indices.max()) + 1 if int(indices.size) else 0
            shape = (int(indptr.size) - 1, ncols)
        shape = _shape_arg(shape)
        check_parts(
            "csr",
            {"data": _host(values), "indices": _host(indices), "indptr": _host(indptr)},
            shape,
        )
        return CSRNDArray._make(values, indices, shape, ctx, indptr=indptr)
    if _is_scipy_sparse(arg1):
        ss = import_scipy_sparse("csr_matrix(scipy matrix)")
        if not isinstance(arg1, (ss.csr_matrix, getattr(ss, "csr_array", ss.csr_matrix))):
            raise TypeError("source_array must be array like object")
        mat = arg1.copy()
        mat.sum_duplicates()
        mat.sort_indices()
        dt = np.dtype(dtype_np(dtype)) if dtype is not None else mat.dtype
        return csr_matrix((mat.data.astype(dt), mat.indices, mat.indptr), mat.shape, ctx, dt)
    dense = arg1 if isinstance(arg1, NDArray) else NDArray(np.asarray(arg1), ctx)
    dt = _default_dtype(arg1, dtype)
    src = NDArray(_raw_on(dense, ctx, dt), ctx)
    return cast_storage(src, "csr")  # type: ignore[return-value]


def _from_coo(data: Any, rc: tuple[Any, Any], shape: Any, ctx: Context, dtype: Any) -> CSRNDArray:
    """CSR from COO triplets: entries sorted by (row, col), repeats summed (as scipy does)."""
    vals = np.asarray(data.asnumpy() if isinstance(data, NDArray) else data).reshape(-1)
    rows = np.asarray(rc[0].asnumpy() if isinstance(rc[0], NDArray) else rc[0], np.int64).reshape(
        -1
    )
    cols = np.asarray(rc[1].asnumpy() if isinstance(rc[1], NDArray) else rc[1], np.int64).reshape(
        -1
    )
    if not vals.size == rows.size == cols.size:
        raise MXNetError("csr_matrix: data, row and col of a COO input must have one length")
    if shape is None:
        shape = (int(rows.max()) + 1 if rows.size else 0, int(cols.max()) + 1 if cols.size else 0)
    shape = _shape_arg(shape)
    if rows.size and (
        rows.min() < 0 or rows.max() >= shape[0] or cols.min() < 0 or cols.max() >= shape[1]
    ):
        raise MXNetError(f"csr_matrix: a COO entry lies outside the shape {shape}")
    key = rows * max(shape[1], 1) + cols
    uniq, inv = np.unique(key, return_inverse=True)
    summed = np.zeros(uniq.size, dtype=vals.dtype)
    np.add.at(summed, inv, vals)
    urows, ucols = uniq // max(shape[1], 1), uniq % max(shape[1], 1)
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(urows, minlength=shape[0]), out=indptr[1:])
    dt = np.dtype(dtype_np(dtype)) if dtype is not None else summed.dtype
    return csr_matrix((summed.astype(dt), ucols, indptr), shape, ctx, dt)


def zeros(
    stype: str, shape: Any, ctx: Context | None = None, dtype: Any = None, **kwargs: Any
) -> NDArray:
    """An all-zero array of storage ``stype`` (no stored entries), float32 by default.

    Raises:
        ValueError: an unknown storage type.
    """
    ctx = default_ctx(ctx)
    if stype == "default":
        from mxlite.ndarray import creation

        return creation.zeros(shape, ctx=ctx, dtype=dtype)
    shape = _shape_arg(shape if isinstance(shape, (tuple, list)) else (shape,))
    dt = np.dtype(dtype_np(dtype)) if dtype is not None else np.dtype(np.float32)
    xp = backend.get_xp(ctx)
    with backend.device_guard(ctx):
        idx = xp.zeros(0, dtype=np.int64)
        if stype == "row_sparse":
            vals = xp.zeros((0,) + shape[1:], dtype=dt)
            return RowSparseNDArray._make(vals, idx, shape, ctx)
        if stype == "csr":
            if len(shape) != 2:
                raise ValueError(f"csr arrays are 2-D; got shape {shape}")
            ptr = xp.zeros(shape[0] + 1, dtype=np.int64)
            return CSRNDArray._make(xp.zeros(0, dtype=dt), idx, shape, ctx, indptr=ptr)
    raise ValueError("unknown storage type" + str(stype))


def empty(stype: str, shape: Any, ctx: Context | None = None, dtype: Any = None) -> NDArray:
    """A sparse array with no stored entries (same as :func:`zeros`)."""
    return zeros(stype, shape, ctx, dtype)


def array(source_array: Any, ctx: Context | None = None, dtype: Any = None) -> BaseSparseNDArray:
    """A sparse copy of a sparse NDArray or a ``scipy.sparse.csr_matrix``.

    Raises:
        ValueError: ``source_array`` is dense (use ``mx.nd.array``).
    """
    if isinstance(source_array, RowSparseNDArray):
        return row_sparse_array(source_array, ctx=ctx, dtype=dtype)
    if isinstance(source_array, CSRNDArray):
        return csr_matrix(source_array, ctx=ctx, dtype=dtype)
    if _is_scipy_sparse(source_array):
        return csr_matrix(source_array, ctx=ctx, dtype=dtype)
    raise ValueError(
        "Please use mx.nd.array to create an NDArray with source_array of type ",
        type(source_array),
    )
