"""The sparse array classes of ``mx.nd.sparse``: :class:`RowSparseNDArray` and
:class:`CSRNDArray` (MXNet 1.9.1's ``mxnet/ndarray/sparse.py``).

Storage (raw NumPy arrays on the host, CuPy arrays on a GPU, all on the array's context):

* row_sparse, shape ``(N, d1, ...)``: ``_indices`` int64 ``(k,)`` strictly increasing row ids and
  ``_values`` ``(k, d1, ...)`` those rows; every other row is zero.
* csr, shape ``(M, N)``: ``_values`` ``(nnz,)``, ``_indices`` int64 ``(nnz,)`` column ids
  (increasing within a row) and ``_indptr`` int64 ``(M + 1,)``: row ``i`` holds the entries
  ``indptr[i]:indptr[i+1]``.

Dense operators given a sparse array fall back to dense storage, as MXNet's storage fallback
does: ``_data`` (the dense raw array every NDArray op reads) is computed from the components on
demand, and a dense op's result is a dense :class:`~mxlite.ndarray.NDArray` (constructing a
sparse class from one raw array gives a dense array). The operators MXNet keeps sparse
(elementwise add/sub/mul with its output storage rules, scalar mul/div, negation) live in
:mod:`mxlite.ndarray._sparse_ops`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError, dtype_np
from mxlite.context import Context
from mxlite.ndarray.ndarray import NDArray
from mxlite.ops import row_sparse

__all__ = ["BaseSparseNDArray", "RowSparseNDArray", "CSRNDArray", "NotSupportedForSparseNDArray"]

_SPARSE_BINARY = frozenset(("add", "sub", "mul", "div"))
_MSG_RSP_GETITEM = "RowSparseNDArray only supports [:] for __getitem__"
_MSG_RSP_INT = "__getitem__ with int key is not implemented for RowSparseNDArray yet"
_MSG_CSR_SLICE = "CSRNDArray only supports continuous slicing on axis 0"


class NotSupportedForSparseNDArray(MXNetError):
    """A dense-only NDArray method was called on a sparse array (MXNet's exception)."""

    def __init__(self, function: Any, alias: Any, *args: Any) -> None:
        name = getattr(function, "__name__", str(function))
        types = ", ".join(str(type(a)) for a in args)
        super().__init__(
            f"Function {name} with arguments ({types}) is not supported for SparseNDArray and "
            "only available in NDArray. Convert with .tostype('default') first."
        )


def _full_slice(key: Any) -> bool:
    return isinstance(key, slice) and key.start is None and key.stop is None and key.step is None


class BaseSparseNDArray(NDArray):
    """The common part of the sparse arrays: components, context, dense fallback."""

    __slots__ = ("_values", "_indices", "_sshape")
    _stype = "undefined"
    _values: Any
    _indices: Any
    _sshape: tuple[int, ...]

    def __new__(cls, data: Any = None, ctx: Context | None = None) -> Any:
        # A dense op on a sparse input wraps its raw result with ``type(x)(raw, ctx)``: MXNet's
        # storage fallback makes that result dense.
        return NDArray(data, ctx)

    @classmethod
    def _make(
        cls, values: Any, indices: Any, shape: tuple[int, ...], ctx: Context, **aux: Any
    ) -> Any:
        """A sparse array from its raw components (no copy, no check)."""
        obj: Any = object.__new__(cls)
        obj._values = values
        obj._indices = indices
        obj._sshape = tuple(int(d) for d in shape)
        obj._ctx = ctx
        obj._grad = None
        obj._grad_req = "null"
        obj._ag_node = None
        obj._init_aux(**aux)
        return obj

    def _init_aux(self, **aux: Any) -> None:
        pass

    # ------------------------------------------------------------------ dense fallback
    @property  # type: ignore[override]
    def _data(self) -> Any:
        """The dense raw array (computed on demand: MXNet's storage fallback). On the host it
        is read-only, so a dense op writing into a sparse array in place (``out=``) fails
        instead of writing into a temporary."""
        arr = self._dense_raw()
        if type(arr) is np.ndarray:
            arr.flags.writeable = False
        return arr

    @_data.setter
    def _data(self, arr: Any) -> None:
        self._assign_dense(arr)

    def _dense_raw(self) -> Any:
        raise NotImplementedError

    def _assign_dense(self, arr: Any) -> None:
        raise NotImplementedError

    @property
    def _xp(self) -> Any:
        return backend.xp_of(self._values)

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        """Tuple of dimension sizes."""
        return self._sshape

    @property
    def dtype(self) -> Any:
        """Element type (NumPy scalar type)."""
        return self._values.dtype.type

    @property
    def size(self) -> int:
        """Not available for sparse arrays (MXNet raises NotImplementedError)."""
        raise NotImplementedError()

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self._sshape)

    @property
    def stype(self) -> str:
        """Storage type: ``'row_sparse'`` or ``'csr'``."""
        return self._stype

    @property
    def indices(self) -> NDArray:
        """The int64 indices component (a dense NDArray copy)."""
        return NDArray(self._indices.copy(), self._ctx)

    @property
    def data(self) -> NDArray:
        """The values component (a dense NDArray copy)."""
        return NDArray(self._values.copy(), self._ctx)

    @property
    def _num_aux(self) -> int:
        return 1

    @property
    def _aux_types(self) -> list[Any]:
        return [np.int64] * self._num_aux

    # ------------------------------------------------------------------ printing, protocol
    def __repr__(self) -> str:
        shape = "x".join(str(d) for d in self._sshape)
        return f"\n<{type(self).__name__} {shape} @{self._ctx}>"

    def __str__(self) -> str:
        return self.__repr__()

    def __len__(self) -> int:
        return self._sshape[0]

    def __bool__(self) -> bool:
        if int(np.prod(self._sshape)) == 1:
            return bool(self.asnumpy().reshape(-1)[0])
        raise ValueError("The truth value of an NDArray with multiple elements is ambiguous.")

    def __iter__(self) -> Any:
        raise NotSupportedForSparseNDArray(self.__iter__, None)

    def reshape(self, *shape: Any, **kwargs: Any) -> NDArray:
        """Not supported for sparse arrays (as MXNet).

        Raises:
            NotSupportedForSparseNDArray: always.
        """
        raise NotSupportedForSparseNDArray(self.reshape, None, *shape)

    def wait_to_read(self) -> None:
        """Block until pending writes are done."""
        backend.synchronize(self._ctx if self._ctx.device_typeid == 2 else None)

    # ------------------------------------------------------------------ conversion
    def asnumpy(self) -> np.ndarray:
        """A dense NumPy copy of the values."""
        raw = self._dense_raw()
        return raw.get() if backend.is_gpu_array(raw) else raw  # type: ignore[no-any-return]

    def tostype(self, stype: str) -> NDArray:
        """The same values in storage ``stype`` (a copy; row_sparse <-> csr is refused, as in
        MXNet).

        Raises:
            ValueError: row_sparse to csr or csr to row_sparse.
            MXNetError: an unknown storage type.
        """
        from mxlite.ndarray import _sparse_build

        return _sparse_build.cast_storage(self, stype)

    def astype(self, dtype: Any, copy: bool = True) -> NDArray:
        """The same storage with values cast to ``dtype``."""
        target = dtype_np(dtype)
        if not copy and self._values.dtype == target:
            return self
        return self._with(self._values.astype(target))

    def copy(self) -> NDArray:
        """A deep copy on the same context."""
        return self.copyto(self._ctx)

    def _with(self, values: Any, ctx: Context | None = None) -> Any:
        """A copy of this array's structure (indices copied) holding ``values``."""
        raise NotImplementedError

    def _moved(self, ctx: Context) -> Any:
        raise NotImplementedError

    def copyto(self, other: Context | NDArray) -> NDArray:
        """Copy to a context (a new sparse array there) or into an array: a sparse array of the
        same storage type takes the components, a dense one the dense values.

        Raises:
            TypeError: ``other`` is a sparse array of another storage type, or not an array or
                a Context.
            MXNetError: shapes differ.
        """
        if isinstance(other, Context):
            backend.check_ctx_usable(other)
            return self._moved(other)
        if isinstance(other, NDArray):
            if other is self:
                return other
            if other.shape != self.shape:
                raise MXNetError(
                    f"copyto: shape mismatch, source {self.shape} vs target {other.shape}. "
                    "Copy between arrays of one shape."
                )
            if other.stype == "default":
                dst = other._data
                with backend.array_device_guard(dst):
                    dst[...] = backend.to_ctx(self._dense_raw(), other.context).astype(dst.dtype)
                return other
            if other.stype != self.stype:
                raise TypeError(f"copyto does not support destination NDArray stype {other.stype}")
            moved = self._moved(other.context)
            other._take_parts(moved.astype(other.dtype, copy=False))
            return other
        raise TypeError(f"copyto does not support type {type(other)}")

    def _take_parts(self, src: Any) -> None:
        raise NotImplementedError

    def _clear(self) -> None:
        """Drop every stored entry (all zeros; ``zeros_like(x, out=x)``)."""
        raise NotImplementedError

    def as_in_context(self, context: Context) -> NDArray:
        """``self`` if already on ``context``, else a copy there."""
        if self._ctx == context:
            return self
        return self.copyto(context)

    def check_format(self, full_check: bool = True) -> None:
        """Check the components' consistency (sizes, sortedness, bounds).

        Raises:
            MXNetError: the components do not form a valid array of this storage type.
        """
        from mxlite.ndarray import _sparse_build

        _sparse_build.check_parts(self.stype, self._host_parts(), self._sshape, full_check)

    def _host_parts(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    # ------------------------------------------------------------------ sparse operators
    # ``+ - * /`` (and their in-place forms) follow MXNet's storage rules in _sparse_ops; the
    # other operators of OperatorMixin fall back to dense storage.
    def _binary(self, other: Any, op: str, reverse: bool = False) -> Any:
        if op not in _SPARSE_BINARY:
            return super()._binary(other, op, reverse)
        from mxlite.ndarray import _sparse_ops

        return (
            _sparse_ops.binary(op, other, self) if reverse else _sparse_ops.binary(op, self, other)
        )

    def _inplace(self, other: Any, op: str) -> Any:
        result = self._binary(other, op)
        if result.stype == self.stype:
            self._take_parts(result.astype(self.dtype, copy=False))
        else:
            self._assign_dense(result._data.astype(self._values.dtype, copy=False))
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        if not _full_slice(key):
            raise TypeError(f"{type(self).__name__} only supports [:] for assignment")
        if isinstance(value, NDArray):
            if value is self:
                return
            if value.shape != self.shape:
                raise MXNetError(
                    f"{type(self).__name__}[:] = value: shape mismatch, value {value.shape} vs "
                    f"{self.shape}."
                )
            if value.stype == self.stype:
                value.copyto(self)
                return
            dense = backend.to_ctx(value._data, self._ctx)
        else:
            xp = self._xp
            dense = xp.full(self._sshape, value, dtype=self._values.dtype)
        self._assign_dense(dense.astype(self._values.dtype, copy=False))


class RowSparseNDArray(BaseSparseNDArray):
    """Rows of an ``(N, ...)`` array stored as ``indices`` + ``data`` (the other rows are 0).

    Made by :func:`mxlite.ndarray.sparse.row_sparse_array`, ``sparse.zeros('row_sparse', ...)``
    or ``x.tostype('row_sparse')``; gradients of embeddings (``sparse_grad=True``) have it.
    """

    __slots__ = ()
    _stype = "row_sparse"

    def _dense_raw(self) -> Any:
        with backend.array_device_guard(self._values):
            return row_sparse.densify(
                self._xp, self._indices, self._values, self._sshape, self._values.dtype
            )

    def _assign_dense(self, arr: Any) -> None:
        xp = backend.xp_of(arr)
        flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
        rows = xp.flatnonzero((flat != 0).any(axis=1)).astype(np.int64)
        self._set_rows(rows, arr[rows])

    def _set_rows(self, indices: Any, values: Any) -> None:
        """Install new components (sorted unique ``indices``; ``values=None``: no rows)."""
        if values is None:
            values = self._xp.zeros((0,) + self._sshape[1:], dtype=self._values.dtype)
        self._indices = indices
        self._values = values

    def _take_parts(self, src: Any) -> None:
        self._set_rows(src._indices.copy(), src._values.copy())

    def _clear(self) -> None:
        self._set_rows(self._xp.zeros(0, dtype=np.int64), None)

    def _with(self, values: Any, ctx: Context | None = None) -> Any:
        return RowSparseNDArray._make(values, self._indices.copy(), self._sshape, ctx or self._ctx)

    def _moved(self, ctx: Context) -> Any:
        return RowSparseNDArray._make(
            backend.to_ctx(self._values, ctx, copy=True),
            backend.to_ctx(self._indices, ctx, copy=True),
            self._sshape,
            ctx,
        )

    def _host_parts(self) -> dict[str, np.ndarray]:
        return {"indices": _host(self._indices), "data": _host(self._values)}

    def __getitem__(self, key: Any) -> Any:
        if _full_slice(key):
            return self
        # MXNet raises a plain Exception here.
        if isinstance(key, int):
            raise Exception(_MSG_RSP_INT)  # noqa: TRY002
        raise Exception(_MSG_RSP_GETITEM)  # noqa: TRY002

    def retain(self, *args: Any, **kwargs: Any) -> RowSparseNDArray:
        """Only the rows whose ids are in ``indices`` (see :func:`sparse.retain`)."""
        from mxlite.ndarray import _sparse_ops

        return _sparse_ops.retain(self, *args, **kwargs)


class CSRNDArray(BaseSparseNDArray):
    """A 2-D array in compressed sparse row format (``data``, ``indices``, ``indptr``).

    Made by :func:`mxlite.ndarray.sparse.csr_matrix` (from components, COO, dense arrays or a
    ``scipy.sparse.csr_matrix``) or ``x.tostype('csr')``.
    """

    __slots__ = ("_indptr",)
    _stype = "csr"
    _indptr: Any

    def _init_aux(self, indptr: Any = None, **aux: Any) -> None:
        self._indptr = indptr

    @property
    def indptr(self) -> NDArray:
        """The int64 row-pointer component (a dense NDArray copy)."""
        return NDArray(self._indptr.copy(), self._ctx)

    @property
    def _num_aux(self) -> int:
        return 2

    def _row_ids(self) -> Any:
        """The row of every stored entry, ``(nnz,)`` int64."""
        xp = self._xp
        counts = xp.diff(self._indptr)
        return xp.repeat(xp.arange(self._sshape[0], dtype=np.int64), counts)

    def _dense_raw(self) -> Any:
        xp = self._xp
        with backend.array_device_guard(self._values):
            out = xp.zeros(self._sshape, dtype=self._values.dtype)
            if int(self._values.size):
                out[self._row_ids(), self._indices] = self._values
        return out

    def _assign_dense(self, arr: Any) -> None:
        from mxlite.ndarray import _sparse_build

        values, indices, indptr = _sparse_build.dense_to_csr(backend.xp_of(arr), arr)
        self._values, self._indices, self._indptr = values, indices, indptr

    def _take_parts(self, src: Any) -> None:
        self._values = src._values.copy()
        self._indices = src._indices.copy()
        self._indptr = src._indptr.copy()

    def _clear(self) -> None:
        xp = self._xp
        self._values = xp.zeros(0, dtype=self._values.dtype)
        self._indices = xp.zeros(0, dtype=np.int64)
        self._indptr = xp.zeros(self._sshape[0] + 1, dtype=np.int64)

    def _with(self, values: Any, ctx: Context | None = None) -> Any:
        return CSRNDArray._make(
            values, self._indices.copy(), self._sshape, ctx or self._ctx, indptr=self._indptr.copy()
        )

    def _moved(self, ctx: Context) -> Any:
        return CSRNDArray._make(
            backend.to_ctx(self._values, ctx, copy=True),
            backend.to_ctx(self._indices, ctx, copy=True),
            self._sshape,
            ctx,
            indptr=backend.to_ctx(self._indptr, ctx, copy=True),
        )

    def _host_parts(self) -> dict[str, np.ndarray]:
        return {
            "indptr": _host(self._indptr),
            "indices": _host(self._indices),
            "data": _host(self._values),
        }

    def __getitem__(self, key: Any) -> Any:
        rows = self._sshape[0]
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            k = int(key)
            if k < -rows or k >= rows:
                raise IndexError(f"index {k} is out of bounds for axis 0 with size {rows}")
            start = k + rows if k < 0 else k
            stop = start + 1
        elif isinstance(key, slice):
            if key.step not in (None, 1):
                raise ValueError(_MSG_CSR_SLICE)
            start, stop, _ = key.indices(rows)
            stop = max(stop, start)
        else:
            raise ValueError(_MSG_CSR_SLICE)
        lo, hi = int(self._indptr[start]), int(self._indptr[stop])
        return CSRNDArray._make(
            self._values[lo:hi].copy(),
            self._indices[lo:hi].copy(),
            (stop - start, self._sshape[1]),
            self._ctx,
            indptr=self._indptr[start : stop + 1] - lo,
        )

    def asscipy(self) -> Any:
        """A ``scipy.sparse.csr_matrix`` copy (needs SciPy).

        Raises:
            ImportError: SciPy is not installed.
        """
        from mxlite.ndarray._sparse_build import import_scipy_sparse

        ss = import_scipy_sparse("CSRNDArray.asscipy()")
        parts = self._host_parts()
        return ss.csr_matrix((parts["data"], parts["indices"], parts["indptr"]), shape=self._sshape)


def _host(arr: Any) -> np.ndarray:
    return arr.get() if backend.is_gpu_array(arr) else np.asarray(arr)
