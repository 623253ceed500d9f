"""NDArray: one NumPy (CPU) or CuPy (GPU) array and the Context it lives on.

Semantics follow MXNet 1.9.1's legacy ``mx.nd.NDArray`` (checked against it, see
tests/ndarray/test_ndarray_oracle.py):

- Indexing returns a view when the selected elements are contiguous (``x[1]``, ``x[1:3]``,
  ``x[0, 1:3]``), else a copy; one element reads as shape ``(1,)`` (``()`` in numpy mode).
- Operators follow :mod:`mxlite.ndarray._dtype_rules`: legacy arrays need equal dtypes, a scalar is
  cast to the array's dtype; comparisons give 0/1 in the input dtype (bool in numpy mode).
- ``dtype`` is the NumPy scalar type (``numpy.float32``); numpy-mode arrays report ``np.dtype``.
- Ops may mix ``cpu(i)``, ``cpu(j)``, ``cpu_pinned`` and ``cpu_shared`` arrays (all host memory);
  the result lives on the first input's context (``cpu(k)`` for pinned/shared inputs). Mixing a
  GPU array with a CPU one is an MXNetError, as in MXNet.
- Every op runs with its first input's GPU current (:func:`on_device`), so results, temporaries
  and gradients of arrays on ``gpu(1)`` are made on ``gpu(1)``; the caller's current CUDA device
  is the same afterwards. Arrays on another GPU are copied to that device first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from mxlite import autograd, backend
from mxlite.base import MXNetError, dtype_np, numeric_types
from mxlite.context import Context, cpu, current_context
from mxlite.ndarray import _indexing, _interop, _pickling, _reshape
from mxlite.ndarray._operators import OperatorMixin

__all__ = [
    "NDArray",
    "wrap",
    "ctx_of_raw",
    "as_raw",
    "same_ctx",
    "out_ctx",
    "result_class",
    "autograd_record",
    "default_ctx",
    "is_scalar",
    "on_device",
    "on_device_of_first",
    "first_raw",
]

_F = TypeVar("_F", bound=Callable[..., Any])

# Names MXNet code imports from ``mxnet.ndarray.ndarray``.
py_slice = slice
_STORAGE_TYPE_STR_TO_ID = {"undefined": -1, "default": 0, "row_sparse": 1, "csr": 2}
_STORAGE_TYPE_ID_TO_STR = {v: k for k, v in _STORAGE_TYPE_STR_TO_ID.items()}


def ctx_of_raw(arr: Any) -> Context:
    """The context a raw array lives on (cpu(0) for host arrays)."""
    if backend.is_gpu_array(arr):
        return Context("gpu", int(arr.device.id))
    return cpu(0)


def result_class(*arrays: Any) -> type[NDArray]:
    """The class results of an op on ``arrays`` get: the first NDArray input's class."""
    for arr in arrays:
        if isinstance(arr, NDArray):
            return type(arr)
    return NDArray


def wrap(arr: Any, ctx: Context | None = None, cls: type[NDArray] | None = None) -> NDArray:
    """Wrap a raw array (no copy) in ``cls``; by default the front-end class of the current mode
    (``mx.np.ndarray`` under ``npx.set_np()``, else NDArray)."""
    if cls is None:
        from mxlite.util import is_np_array

        if is_np_array():
            from mxlite.numpy.multiarray import ndarray as np_ndarray

            cls = np_ndarray
        else:
            cls = NDArray
    return cls(arr, ctx)


def out_ctx(ctx: Context) -> Context:
    """Where an op's result lives given its first input's context: pinned and shared host
    contexts give ``cpu(id)``, as in MXNet."""
    if ctx.device_typeid in (3, 5):
        return Context("cpu", ctx.device_id)
    return ctx


def same_ctx(op: str, *arrays: NDArray) -> Context:
    """The context an op on ``arrays`` runs on (the first one's).

    Host contexts mix freely (as in MXNet, which compares device *kinds*); GPU arrays on other
    GPUs are copied to the first one's device by :func:`as_raw`.

    Raises:
        MXNetError: a GPU array is mixed with a host array.
    """
    ctx = arrays[0].context
    gpu0 = backend.is_gpu_array(arrays[0]._data)
    for i, other in enumerate(arrays[1:], start=2):
        if backend.is_gpu_array(other._data) != gpu0:
            raise MXNetError(
                f"Operator {op} require all inputs live on the same context. But the first "
                f"argument is on {ctx} while the {i}-th argument is on {other.context}. Copy them "
                "to one context first with .as_in_context(ctx) or .copyto(ctx)."
            )
    return ctx


def as_raw(value: NDArray, like: NDArray) -> Any:
    """``value``'s raw array on ``like``'s device (a peer copy for another GPU)."""
    raw = value._data
    if type(raw) is np.ndarray and type(like._data) is np.ndarray:
        return raw
    if backend.is_gpu_array(raw):
        if not backend.is_gpu_array(like._data):
            raise MXNetError(
                f"Cannot combine an array on {value.context} with one on {like.context}. "
                "Copy one of them with .as_in_context(ctx) first."
            )
        if raw.device.id != like._data.device.id:
            raw = backend.to_ctx(raw, like.context)
    elif backend.is_gpu_array(like._data):
        raise MXNetError(
            f"Cannot combine an array on {value.context} with one on {like.context}. "
            "Copy one of them with .as_in_context(ctx) first."
        )
    return raw


def first_raw(args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """The raw array of the first NDArray among ``args`` (looking one level into lists and
    tuples, as ``concat``/``mx.np.stack`` take them), then among ``kwargs``; None if there is none."""
    for a in args:
        if isinstance(a, NDArray):
            return a._data
        if type(a) in (list, tuple) and a and isinstance(a[0], NDArray):
            return a[0]._data
    for a in kwargs.values():
        if isinstance(a, NDArray):
            return a._data
    return None


def on_device(fn: _F) -> _F:
    """Decorator for NDArray ops: ``fn`` runs with the GPU of its first NDArray argument current.

    CuPy computes and allocates on the current device, so an op on arrays living on gpu(1) must
    make gpu(1) current (see :func:`mxlite.backend.array_device_guard`). The first NDArray decides,
    as it decides the result's context (:func:`same_ctx`); for a host array the only cost is one
    type check, and nested ops on the same GPU do not switch devices again.
    """

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        raw = first_raw(args, kwargs)
        if raw is None or type(raw) is np.ndarray:
            return fn(*args, **kwargs)
        with backend.array_device_guard(raw):
            return fn(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def on_device_of_first(fn: _F) -> _F:
    """:func:`on_device` for hot ops whose first argument is always an NDArray: one type check
    on host arrays, no search through the arguments."""

    @functools.wraps(fn)
    def guarded(x: Any, *args: Any, **kwargs: Any) -> Any:
        raw = x._data
        if type(raw) is np.ndarray:
            return fn(x, *args, **kwargs)
        with backend.array_device_guard(raw):
            return fn(x, *args, **kwargs)

    return guarded  # type: ignore[return-value]


class NDArray(OperatorMixin):
    """An n-dimensional array on one context.

    Args:
        data: a raw ``numpy.ndarray`` or ``cupy.ndarray``; it is wrapped, not copied.
        ctx: the context to report; defaults to the device of ``data`` (cpu(0) for host arrays).
    """

    __slots__ = ("_data", "_ctx", "_grad", "_grad_req", "_ag_node", "__weakref__")
    __array_priority__ = 1000.0

    def __init__(self, data: Any, ctx: Context | None = None) -> None:
        self._data = data
        self._ctx = ctx if ctx is not None else ctx_of_raw(data)
        self._grad: NDArray | None = None
        self._grad_req = "null"
        self._ag_node: Any = None

    def _new(self, arr: Any) -> NDArray:
        """An array of the same class and context as ``self`` wrapping ``arr``."""
        return type(self)(arr, self._ctx)

    @property
    def _xp(self) -> Any:
        return backend.xp_of(self._data)

    @staticmethod
    def _numpy_semantics() -> bool:
        return False

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        """Tuple of dimension sizes."""
        return tuple(int(d) for d in self._data.shape)

    @property
    def dtype(self) -> Any:
        """Element type as the NumPy scalar type (``numpy.float32``), like MXNet."""
        return self._data.dtype.type

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(self._data.size)

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return int(self._data.ndim)

    @property
    def context(self) -> Context:
        """The context this array lives on."""
        return self._ctx

    @property
    def ctx(self) -> Context:
        """Alias of :attr:`context`."""
        return self._ctx

    @property
    def stype(self) -> str:
        """Storage type: ``'default'`` (dense); sparse arrays (``mx.nd.sparse``) override it."""
        return "default"

    def tostype(self, stype: str) -> NDArray:
        """The values in storage ``stype`` (``'default'``, ``'row_sparse'``, ``'csr'``; a copy).

        Raises:
            MXNetError: an unknown storage type.
            ValueError: ``'csr'`` for an array that is not 2-D.
        """
        from mxlite.ndarray import _sparse_build

        return _sparse_build.cast_storage(self, stype)

    @property
    def writable(self) -> bool:
        """Whether the array may be written (always True in mxlite)."""
        return True

    @property
    def T(self) -> NDArray:  # noqa: N802 - MXNet's name
        """Transpose (a copy, as in MXNet)."""
        return self.transpose()

    @property
    def grad(self) -> NDArray | None:
        """Gradient buffer attached with :meth:`attach_grad`, else None."""
        return self._grad

    @property
    def _fresh_grad(self) -> int:
        """Whether backward wrote this variable's gradient since the flag was last cleared
        (the Trainer's stale-gradient check), as MXNet's int 1 or 0; 0 for arrays that are not
        variables."""
        return int(autograd.get_fresh_grad(self))

    @_fresh_grad.setter
    def _fresh_grad(self, state: bool) -> None:
        autograd.set_fresh_grad(self, state)

    @property
    def handle(self) -> Any:
        """The raw backing array (MXNet returns a C handle; here it is the numpy/cupy array)."""
        return self._data

    # ------------------------------------------------------------------ conversion
    def asnumpy(self) -> np.ndarray:
        """A NumPy copy of the values (synchronizes with the device): one transfer for a GPU
        array (``.get()`` returns a fresh host array), one copy for a host array."""
        raw = self._data
        if type(raw) is not np.ndarray and backend.is_gpu_array(raw):
            return raw.get()  # type: ignore[no-any-return]
        return np.array(raw, copy=True)

    def asscalar(self) -> Any:
        """The one element as a NumPy scalar.

        Raises:
            ValueError: the array does not hold exactly one element.
        """
        if self.size != 1:
            raise ValueError("The current array is not a scalar")
        return self.asnumpy().reshape(-1)[0]

    def item(self) -> Any:
        """The one element as a Python scalar."""
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self.asnumpy().reshape(-1)[0].item()

    def tolist(self) -> Any:
        """Values as nested Python lists."""
        return self.asnumpy().tolist()

    @on_device
    def astype(self, dtype: Any, copy: bool = True) -> NDArray:
        """Cast to ``dtype``; returns ``self`` when ``copy=False`` and the dtype already matches."""
        target = dtype_np(dtype)
        if not copy and self._data.dtype == target:
            return self
        with np.errstate(all="ignore"):
            out = type(self)(self._data.astype(target), out_ctx(self._ctx))
        autograd_record("cast", [self], out, dtype=target)
        return out

    def copy(self) -> NDArray:
        """A deep copy on the same context."""
        return self.copyto(self._ctx)

    def copyto(self, other: Context | NDArray) -> NDArray:
        """Copy the values to a context (new array) or into an existing NDArray (returned).

        Raises:
            MXNetError: copying into an array of another shape, or (while recording) into an
                array that is part of the graph.
            TypeError: ``other`` is neither a Context nor an NDArray.
            MXLiteGPUError: ``other`` is a GPU context that cannot hold data here.
        """
        if isinstance(other, NDArray):
            if other is self:
                return other
            if other.shape != self.shape:
                raise MXNetError(
                    f"copyto: shape mismatch, source {self.shape} vs target {other.shape}. "
                    "Reshape one of them first."
                )
            autograd.check_assignable(other)
            if other.stype != "default":  # a sparse target takes the values in its storage
                other[:] = self
                return other
            dst = other._data
            src = backend.to_ctx(self._data, other.context)
            with np.errstate(all="ignore"), backend.array_device_guard(dst):
                dst[...] = src.astype(dst.dtype, copy=False)
            return other
        if isinstance(other, Context):
            backend.check_ctx_usable(other)
            arr = backend.to_ctx(self._data, other, copy=True)
            out = type(self)(arr, other)
            autograd_record("copyto", [self], out, src_ctx=self._ctx)
            return out
        raise TypeError(f"copyto does not support type {type(other)}")

    def as_in_context(self, context: Context) -> NDArray:
        """``self`` if it is on ``context`` already, else a copy there."""
        if self._ctx == context:
            return self
        return self.copyto(context)

    def as_in_ctx(self, ctx: Context) -> NDArray:
        """Alias of :meth:`as_in_context`."""
        return self.as_in_context(ctx)

    def as_np_ndarray(self) -> NDArray:
        """The same memory as an ``mx.np.ndarray`` (in the same autograd graph, as in MXNet,
        where both share one handle)."""
        from mxlite.numpy.multiarray import ndarray as np_ndarray

        out = np_ndarray(self._data, self._ctx)
        out._ag_node = self._ag_node
        return out

    def as_nd_ndarray(self) -> NDArray:
        """The same memory as a legacy ``mx.nd.NDArray`` (in the same autograd graph)."""
        out = NDArray(self._data, self._ctx)
        out._ag_node = self._ag_node
        return out

    def wait_to_read(self) -> None:
        """Block until pending writes to this array are done."""
        backend.synchronize(self._ctx if self._ctx.is_gpu else None)

    def wait_to_write(self) -> None:
        """Block until pending reads and writes of this array are done."""
        self.wait_to_read()

    # ------------------------------------------------------------------ interop
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return _interop.to_host_array(self, dtype, copy)

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        return tuple(self._data.__dlpack_device__())  # type: ignore[return-value]

    def to_dlpack_for_read(self) -> Any:
        """A DLPack capsule sharing this array's memory."""
        self.wait_to_read()
        return self._data.__dlpack__()

    def to_dlpack_for_write(self) -> Any:
        """A DLPack capsule sharing this array's memory (writes go through)."""
        self.wait_to_write()
        return self._data.__dlpack__()

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return _interop.cuda_array_interface(self)

    # ------------------------------------------------------------------ python protocol
    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self) -> Iterator[NDArray]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        if self.size == 0:
            return self._empty_truth()
        if self.size == 1:
            return bool(self.asnumpy().reshape(-1)[0])
        raise ValueError(
            f"The truth value of an {self._kind_name()} with multiple elements is ambiguous."
        )

    def _empty_truth(self) -> bool:
        return False

    def _kind_name(self) -> str:
        return "NDArray"

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self) -> Any:
        """Pickle (and ``copy.deepcopy``) as MXNet does: ``(cls, (None,), state)`` with the
        state of :mod:`mxlite.ndarray._pickling` (the array's binary record)."""
        return type(self), (None,), self.__getstate__()

    def __getstate__(self) -> dict[str, Any]:
        """``{'handle': bytearray}``: the array's record in MXNet's binary format."""
        return _pickling.getstate(self)

    def __setstate__(self, state: Any) -> None:
        """Restore from :meth:`__getstate__`'s state (or MXNet's)."""
        _pickling.setstate(self, state)

    def __repr__(self) -> str:
        shape = "x".join(str(d) for d in self.shape)
        return f"\n{self.asnumpy()}\n<{type(self).__name__} {shape} @{self._ctx}>"

    def __str__(self) -> str:
        return self.__repr__()

    # ------------------------------------------------------------------ indexing
    @on_device
    def __getitem__(self, key: Any) -> NDArray:
        return _indexing.getitem(self, key)

    @on_device
    def __setitem__(self, key: Any, value: Any) -> None:
        _indexing.setitem(self, key, value)

    # ------------------------------------------------------------------ shape ops
    def reshape(self, *shape: Any, **kwargs: Any) -> NDArray:
        """Reshape (a view) with MXNet's codes 0, -1, -2, -3, -4 (see ``_reshape``).

        ``reverse=True`` matches the codes from the right.

        Raises:
            TypeError: unknown keyword arguments.
            MXNetError: invalid codes, or a target larger than the input.
            ValueError: a target with fewer elements than the input.
        """
        unknown = [k for k in kwargs if k not in ("shape", "reverse")]
        if unknown:
            raise TypeError(
                f"Got unknown keywords in reshape: {', '.join(unknown)}. "
                "Accepted keyword arguments are 'shape' and 'reverse'."
            )
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        elif not shape:
            shape = kwargs.get("shape")  # type: ignore[assignment]
            if not shape:
                raise TypeError("reshape: a shape must be provided")
        spec = tuple(int(s) for s in shape)
        target = _reshape.legacy_target_shape(self.shape, spec, bool(kwargs.get("reverse")))
        return self._reshaped(target)

    @on_device
    def _reshaped(self, target: tuple[int, ...], copy: bool = False) -> NDArray:
        """``self`` in shape ``target``: a view, or a fresh copy when ``copy`` (what MXNet's
        operators ``flatten``/``squeeze``/``expand_dims`` give)."""
        raw = self._data.reshape(target)
        out = self._new(raw.copy() if copy else raw)
        autograd_record("reshape", [self], out, shape=target)
        return out

    def reshape_like(self, rhs: NDArray) -> NDArray:
        """Reshape to ``rhs``'s shape (MXNet's argument name)."""
        if rhs.size != self.size:
            raise ValueError(f"Cannot reshape array of size {self.size} into shape {rhs.shape}")
        return self._reshaped(tuple(rhs.shape))

    def transpose(self, *axes: Any, **kwargs: Any) -> NDArray:
        """Permute axes (reverse them by default); returns a copy."""
        from mxlite.ndarray import op

        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = tuple(axes[0]) if axes[0] is not None else ()
        ax = kwargs.get("axes", axes or None)
        return op.transpose(self, axes=ax)

    def flatten(self, inplace: bool = False) -> NDArray:
        """Collapse all axes but the first: ``(d0, d1, ..., dk) -> (d0, d1*...*dk)`` (a 1-d
        input becomes ``(n, 1)``, like MXNet).

        Args:
            inplace: return a view sharing this array's memory; by default a copy, as in MXNet.
        """
        from mxlite.ndarray import op_shape

        return self._reshaped(op_shape.flat_shape(self.shape), copy=not inplace)

    def expand_dims(self, axis: int, inplace: bool = False) -> NDArray:
        """Insert an axis of size 1 at ``axis`` (in ``[-ndim-1, ndim]``).

        Args:
            inplace: return a view sharing this array's memory; by default a copy, as in MXNet.

        Raises:
            MXNetError: ``axis`` out of range (a :class:`~mxlite.base.CheckError`, also an
                AssertionError as MXNet's, when ``inplace``).
        """
        from mxlite.ndarray import op_shape

        return op_shape.expand_dims(self, axis=axis, _inplace=inplace)

    def squeeze(self, axis: Any = None, inplace: bool = False) -> NDArray:
        """Drop axes of size 1 (all of them by default; a legacy result stays at least 1-d).

        Args:
            axis: an int or a tuple of ints naming axes of size 1.
            inplace: return a view sharing this array's memory; by default a copy, as in MXNet.

        Raises:
            MXNetError: an axis out of range, repeated, or not of size 1 (a
                :class:`~mxlite.base.CheckError`, also an AssertionError as MXNet's, when
                ``inplace``).
        """
        from mxlite.ndarray import op_shape

        return op_shape.squeeze(self, axis=axis, _inplace=inplace)

    def broadcast_to(self, shape: Sequence[int]) -> NDArray:
        """Broadcast to ``shape`` (a copy)."""
        from mxlite.ndarray import op

        return op.broadcast_to(self, shape=shape)

    def broadcast_like(self, other: NDArray) -> NDArray:
        """Broadcast to ``other``'s shape (a copy); as MXNet's method, it takes no axes (use
        ``mx.nd.broadcast_like(x, other, lhs_axes=..., rhs_axes=...)`` for those)."""
        return self.broadcast_to(other.shape)

    # ------------------------------------------------------------------ autograd
    @on_device
    def attach_grad(self, grad_req: str = "write", stype: str | None = None) -> None:
        """Allocate a zeroed gradient buffer and mark this array as a variable to differentiate."""
        from mxlite import autograd as ag

        if stype not in (None, "default"):
            from mxlite.ndarray import _sparse_build

            grad = _sparse_build.zeros(stype, self.shape, self._ctx, self.dtype)
        else:
            grad = self._new(self._xp.zeros_like(self._data))
        ag.mark_variables([self], [grad], grad_reqs=grad_req)

    def backward(
        self, out_grad: NDArray | None = None, retain_graph: bool = False, train_mode: bool = True
    ) -> None:
        """Compute the gradients of this array with respect to the marked variables."""
        from mxlite import autograd as ag

        ag.backward([self], [out_grad] if out_grad is not None else None, retain_graph, train_mode)

    def detach(self) -> NDArray:
        """The same values, cut from the autograd graph (shares memory)."""
        return self._new(self._data)


def autograd_record(op: str, inputs: list[NDArray], out: NDArray, **attrs: Any) -> None:
    """Hand one finished op to the autograd tape when recording."""
    if autograd.is_recording():
        autograd.record_op(op, inputs, out, attrs)


def default_ctx(ctx: Context | None) -> Context:
    """``ctx`` or the current context."""
    return ctx if ctx is not None else current_context()


def is_scalar(value: Any) -> bool:
    """True for Python and NumPy scalars (MXNet's ``numeric_types``), not arrays or strings."""
    return isinstance(value, numeric_types) and not isinstance(value, (np.ndarray, np.str_))
