"""NDArray: one NumPy (CPU) or CuPy (GPU) array and the Context it lives on.

Semantics follow MXNet 1.x's legacy ``mx.nd.NDArray``:

- ``x[i]`` and ``x[a:b]`` on the first axis are views that write through; any other indexing
  (steps, several axes, arrays) returns a copy.
- Reading one element gives shape ``(1,)`` (legacy) or ``()`` (numpy mode).
- Binary operations with a Python scalar keep the array's dtype (the scalar is cast first);
  two arrays of different dtypes are an error.
- ``dtype`` is the NumPy scalar type (``numpy.float32``), as in MXNet.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from mxlite import autograd, backend
from mxlite.base import MXNetError, dtype_np, numeric_types
from mxlite.context import Context, cpu, current_context

__all__ = ["NDArray", "wrap", "ctx_of_raw", "as_raw", "same_ctx", "result_class"]


def ctx_of_raw(arr: Any) -> Context:
    """The context a raw array lives on (cpu(0) for host arrays)."""
    if backend.is_gpu_array(arr):
        return Context("gpu", int(arr.device.id))
    return cpu(0)


def result_class(*arrays: Any) -> type[NDArray]:
    """The NDArray class results of an op on ``arrays`` get: the first NDArray input's class."""
    for arr in arrays:
        if isinstance(arr, NDArray):
            return type(arr)
    return NDArray


def wrap(arr: Any, ctx: Context | None = None, cls: type[NDArray] | None = None) -> NDArray:
    """Wrap a raw array (no copy) in ``cls`` (NDArray, or mx.np.ndarray in numpy mode)."""
    if cls is None:
        from mxlite.util import is_np_array

        if is_np_array():
            from mxlite.numpy.multiarray import ndarray as np_ndarray

            cls = np_ndarray
        else:
            cls = NDArray
    return cls(arr, ctx)


def same_ctx(op: str, *arrays: NDArray) -> Context:
    """The context an op on ``arrays`` runs on; all must share one device.

    CPU contexts all share host memory, so ``cpu(0)`` and ``cpu(1)`` mix freely (as in MXNet);
    a GPU array mixed with an array on another device is an error.
    """
    ctx = arrays[0].context
    raw0 = arrays[0]._data
    for other in arrays[1:]:
        if other.context == ctx:
            continue
        gpu_a, gpu_b = backend.is_gpu_array(raw0), backend.is_gpu_array(other._data)
        if gpu_a or gpu_b:
            raise MXNetError(
                f"{op}: inputs live on different devices ({ctx} and {other.context}). "
                "Copy them to one context first with .as_in_context(ctx) or .copyto(ctx)."
            )
    return ctx


def as_raw(value: Any, like: NDArray) -> Any:
    """``value`` as a raw array or scalar usable with ``like._data`` (same device)."""
    if isinstance(value, NDArray):
        if backend.is_gpu_array(value._data) != backend.is_gpu_array(like._data):
            raise MXNetError(
                f"Cannot combine an array on {value.context} with one on {like.context}. "
                "Copy one of them with .as_in_context(ctx) first."
            )
        return value._data
    if isinstance(value, np.ndarray) and backend.is_gpu_array(like._data):
        return backend.to_ctx(value, like.context)
    return value


def _is_view_key(key: Any) -> bool:
    """MXNet returns views only for an int or a unit-step slice on the first axis."""
    if isinstance(key, tuple):
        if len(key) != 1:
            return False
        key = key[0]
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return True
    return isinstance(key, slice) and key.step in (None, 1)


def _normalize_key(key: Any, like: NDArray) -> Any:
    if isinstance(key, NDArray):
        return key._data.astype(np.int64) if key._data.dtype.kind == "f" else key._data
    if isinstance(key, tuple):
        return tuple(_normalize_key(k, like) for k in key)
    return key


class NDArray:
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

    # ------------------------------------------------------------------ construction helpers
    def _new(self, arr: Any) -> NDArray:
        """An array of the same class and context as ``self`` wrapping ``arr``."""
        return type(self)(arr, self._ctx)

    @property
    def _xp(self) -> Any:
        return backend.xp_of(self._data)

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

    ctx = context

    @property
    def stype(self) -> str:
        """Storage type; mxlite stores every array densely (``'default'``)."""
        return "default"

    @property
    def T(self) -> NDArray:  # noqa: N802 - MXNet's name
        """Transpose (a copy, as in MXNet)."""
        return self.transpose()

    @property
    def grad(self) -> NDArray | None:
        """Gradient buffer attached with :meth:`attach_grad`, else None."""
        return self._grad

    @property
    def _fresh_grad(self) -> bool:
        """Whether backward wrote this variable's gradient since the flag was last cleared
        (the Trainer's stale-gradient check); False for arrays that are not variables."""
        return autograd.get_fresh_grad(self)

    @_fresh_grad.setter
    def _fresh_grad(self, state: bool) -> None:
        autograd.set_fresh_grad(self, state)

    @property
    def handle(self) -> Any:
        """The raw backing array (MXNet returns a C handle; here it is the numpy/cupy array)."""
        return self._data

    # ------------------------------------------------------------------ conversion
    def asnumpy(self) -> np.ndarray:
        """A NumPy copy of the values (synchronizes with the device)."""
        return np.array(backend.to_numpy(self._data), copy=True)

    def asscalar(self) -> Any:
        """The one element as a NumPy scalar.

        Raises:
            ValueError: the array has more (or fewer) than one element.
        """
        if self.size != 1:
            raise ValueError("The current array is not a scalar")
        return self.asnumpy().reshape(-1)[0]

    def item(self) -> Any:
        """The one element as a Python scalar."""
        return self.asscalar().item()

    def astype(self, dtype: Any, copy: bool = True) -> NDArray:
        """Cast to ``dtype``; returns ``self`` when ``copy=False`` and the dtype already matches."""
        target = dtype_np(dtype)
        if not copy and self._data.dtype == target:
            return self
        out = self._new(self._data.astype(target))
        autograd_record("cast", [self], out, dtype=target)
        return out

    def copy(self) -> NDArray:
        """A deep copy on the same context."""
        return self.copyto(self._ctx)

    def copyto(self, other: Context | NDArray) -> NDArray:
        """Copy the values to a context (new array) or into an existing NDArray (returned).

        Raises:
            ValueError: copying into an array of another shape.
        """
        if isinstance(other, NDArray):
            if other is self:
                return other
            if other.shape != self.shape:
                raise ValueError(
                    f"copyto: shape mismatch, source {self.shape} vs target {other.shape}."
                )
            src = backend.to_ctx(self._data, other.context)
            other._data[...] = src.astype(other._data.dtype, copy=False)
            return other
        if isinstance(other, Context):
            backend.check_ctx_usable(other)
            arr = backend.to_ctx(self._data, other, copy=True)
            return type(self)(arr, other)
        raise TypeError(f"copyto does not support type {type(other).__name__}")

    def as_in_context(self, context: Context) -> NDArray:
        """``self`` if it is on ``context`` already, else a copy there."""
        if self._ctx == context:
            return self
        return self.copyto(context)

    as_in_ctx = as_in_context

    def to_device(self, device: Context) -> NDArray:
        """Alias of :meth:`as_in_context`."""
        return self.as_in_context(device)

    def wait_to_read(self) -> None:
        """Block until pending writes to this array are done."""
        backend.synchronize(self._ctx if self._ctx.device_typeid == 2 else None)

    def wait_to_write(self) -> None:
        """Block until pending reads and writes of this array are done."""
        self.wait_to_read()

    def tolist(self) -> list[Any]:
        """Values as nested Python lists."""
        return self.asnumpy().tolist()

    # ------------------------------------------------------------------ interop
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if backend.is_gpu_array(self._data):
            raise TypeError(
                f"Implicit conversion of an array on {self._ctx} to a NumPy array is not allowed. "
                "Use .asnumpy() to copy it to the host explicitly."
            )
        arr = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return np.array(arr, copy=True) if copy else arr

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        return self._data.__dlpack_device__()

    def to_dlpack_for_read(self) -> Any:
        """A DLPack capsule sharing this array's memory."""
        return self._data.__dlpack__()

    to_dlpack_for_write = to_dlpack_for_read

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        if not backend.is_gpu_array(self._data):
            raise AttributeError(
                f"__cuda_array_interface__ is only defined for GPU arrays; this one is on {self._ctx}"
            )
        return self._data.__cuda_array_interface__

    # ------------------------------------------------------------------ python protocol
    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self) -> Iterator[NDArray]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        if self.size == 1:
            return bool(self.asnumpy().reshape(-1)[0])
        if self.size == 0:
            return False
        raise ValueError("The truth value of an NDArray with multiple elements is ambiguous.")

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self) -> Any:
        raise TypeError(
            "mxlite arrays are not picklable (mxlite never unpickles). "
            "Use mx.nd.save / mx.nd.load to store them."
        )

    def _shape_str(self) -> str:
        return "x".join(str(d) for d in self.shape)

    def __repr__(self) -> str:
        return f"\n{self.asnumpy()}\n<{type(self).__name__} {self._shape_str()} @{self._ctx}>"

    __str__ = __repr__

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, key: Any) -> NDArray:
        raw_key = _normalize_key(key, self)
        try:
            res = self._data[raw_key]
        except IndexError as err:
            raise IndexError(
                f"index {key!r} is out of bounds for an array of shape {self.shape}"
            ) from err
        if not _is_view_key(key):
            res = res.copy()
        if res.ndim == 0 and not self._numpy_semantics():
            res = res.reshape(1)
        out = self._new(res)
        autograd_record("getitem", [self], out, key=raw_key)
        return out

    def __setitem__(self, key: Any, value: Any) -> None:
        raw_key = _normalize_key(key, self)
        raw_val = as_raw(value, self)
        if isinstance(raw_val, (list, tuple)):
            raw_val = self._xp.asarray(raw_val, dtype=self._data.dtype)
        try:
            self._data[raw_key] = raw_val
        except ValueError as err:
            raise MXNetError(
                f"Cannot assign a value of shape {np.shape(raw_val)} to index {key!r} of an array "
                f"of shape {self.shape}: {err}"
            ) from err

    @staticmethod
    def _numpy_semantics() -> bool:
        return False

    # ------------------------------------------------------------------ shape ops
    def reshape(self, *shape: Any, **kwargs: Any) -> NDArray:
        """Reshape with MXNet's special values: 0 copies a dimension, -1 infers one.

        ``reverse=True`` matches the special values from the right.
        """
        if "shape" in kwargs:
            shape = kwargs.pop("shape")
        elif len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        reverse = bool(kwargs.pop("reverse", False))
        if kwargs:
            raise TypeError(f"reshape got unexpected arguments {sorted(kwargs)}")
        target = _infer_reshape(self.shape, tuple(int(s) for s in shape), reverse)
        out = self._new(self._data.reshape(target))
        autograd_record("reshape", [self], out, shape=target)
        return out

    def reshape_like(self, other: NDArray) -> NDArray:
        """Reshape to ``other``'s shape."""
        return self.reshape(other.shape)

    def transpose(self, axes: Sequence[int] | None = None) -> NDArray:
        """Permute axes (reverse them by default); returns a copy."""
        from mxlite.ndarray import op

        return op.transpose(self, axes=axes)

    def flatten(self) -> NDArray:
        """Collapse all axes but the first."""
        return self.reshape((self.shape[0], -1)) if self.ndim > 0 else self.reshape((1, 1))

    def expand_dims(self, axis: int) -> NDArray:
        """Insert an axis of size 1."""
        from mxlite.ndarray import op

        return op.expand_dims(self, axis=axis)

    def broadcast_to(self, shape: Sequence[int]) -> NDArray:
        """Broadcast to ``shape`` (a copy)."""
        from mxlite.ndarray import op

        return op.broadcast_to(self, shape=shape)

    # ------------------------------------------------------------------ autograd
    def attach_grad(self, grad_req: str = "write", stype: str | None = None) -> None:
        """Allocate a zeroed gradient buffer and mark this array as a variable to differentiate."""
        if stype not in (None, "default"):
            raise NotImplementedError(
                f"attach_grad(stype={stype!r}): only dense ('default') gradients are supported."
            )
        from mxlite import autograd as ag

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

    # ------------------------------------------------------------------ arithmetic
    def _binary(self, other: Any, op: str, reverse: bool = False) -> NDArray:
        from mxlite.ndarray import op as ops

        return ops.binary(op, other, self) if reverse else ops.binary(op, self, other)

    def __add__(self, other: Any) -> NDArray:
        return self._binary(other, "add")

    def __radd__(self, other: Any) -> NDArray:
        return self._binary(other, "add", reverse=True)

    def __sub__(self, other: Any) -> NDArray:
        return self._binary(other, "sub")

    def __rsub__(self, other: Any) -> NDArray:
        return self._binary(other, "sub", reverse=True)

    def __mul__(self, other: Any) -> NDArray:
        return self._binary(other, "mul")

    def __rmul__(self, other: Any) -> NDArray:
        return self._binary(other, "mul", reverse=True)

    def __truediv__(self, other: Any) -> NDArray:
        return self._binary(other, "div")

    def __rtruediv__(self, other: Any) -> NDArray:
        return self._binary(other, "div", reverse=True)

    __div__ = __truediv__
    __rdiv__ = __rtruediv__

    def __mod__(self, other: Any) -> NDArray:
        return self._binary(other, "mod")

    def __rmod__(self, other: Any) -> NDArray:
        return self._binary(other, "mod", reverse=True)

    def __pow__(self, other: Any) -> NDArray:
        return self._binary(other, "pow")

    def __rpow__(self, other: Any) -> NDArray:
        return self._binary(other, "pow", reverse=True)

    def __matmul__(self, other: NDArray) -> NDArray:
        from mxlite.ndarray import op

        return op.dot(self, other)

    def __neg__(self) -> NDArray:
        from mxlite.ndarray import op

        return op.negative(self)

    def __pos__(self) -> NDArray:
        return self

    def __abs__(self) -> NDArray:
        return self.abs()

    def _inplace(self, other: Any, op: str) -> NDArray:
        from mxlite.ndarray import op as ops

        ops.inplace(op, self, other)
        return self

    def __iadd__(self, other: Any) -> NDArray:
        return self._inplace(other, "add")

    def __isub__(self, other: Any) -> NDArray:
        return self._inplace(other, "sub")

    def __imul__(self, other: Any) -> NDArray:
        return self._inplace(other, "mul")

    def __itruediv__(self, other: Any) -> NDArray:
        return self._inplace(other, "div")

    __idiv__ = __itruediv__

    def __imod__(self, other: Any) -> NDArray:
        return self._inplace(other, "mod")

    def __ipow__(self, other: Any) -> NDArray:
        return self._inplace(other, "pow")

    def __eq__(self, other: Any) -> NDArray:  # type: ignore[override]
        return self._binary(other, "equal")

    def __ne__(self, other: Any) -> NDArray:  # type: ignore[override]
        return self._binary(other, "not_equal")

    def __gt__(self, other: Any) -> NDArray:
        return self._binary(other, "greater")

    def __ge__(self, other: Any) -> NDArray:
        return self._binary(other, "greater_equal")

    def __lt__(self, other: Any) -> NDArray:
        return self._binary(other, "lesser")

    def __le__(self, other: Any) -> NDArray:
        return self._binary(other, "lesser_equal")

    # ------------------------------------------------------------------ fluent methods
    def __getattr__(self, name: str) -> Any:
        # Fluent methods (x.abs(), x.sum(axis=1), x.exp(), ...) forward to mx.nd's functions.
        if name.startswith("_"):
            raise AttributeError(name)
        from mxlite.ndarray import op

        fn = op.FLUENT.get(name)
        if fn is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

        def method(*args: Any, **kwargs: Any) -> Any:
            return fn(self, *args, **kwargs)

        return method


def autograd_record(op: str, inputs: list[NDArray], out: NDArray, **attrs: Any) -> None:
    """Hand one finished op to the autograd tape when recording."""
    if autograd.is_recording():
        autograd.record_op(op, inputs, out, attrs)


def _infer_reshape(src: tuple[int, ...], shape: tuple[int, ...], reverse: bool) -> tuple[int, ...]:
    """Resolve MXNet's reshape codes 0 (copy this dim) and -1 (infer) against ``src``."""
    if reverse:
        return tuple(reversed(_infer_reshape(tuple(reversed(src)), tuple(reversed(shape)), False)))
    out: list[int] = []
    infer_at = -1
    for i, dim in enumerate(shape):
        if dim == 0:
            if i >= len(src):
                raise MXNetError(
                    f"reshape: code 0 at position {i} has no matching input dim in {src}"
                )
            out.append(src[i])
        elif dim == -1:
            if infer_at >= 0:
                raise MXNetError(f"reshape: more than one -1 in target shape {shape}")
            infer_at = len(out)
            out.append(1)
        elif dim < -1:
            raise MXNetError(f"reshape: unsupported special value {dim} in {shape}")
        else:
            out.append(dim)
    total = int(np.prod(src, dtype=np.int64))
    known = int(np.prod(out, dtype=np.int64))
    if infer_at >= 0:
        if known == 0 or total % known:
            raise MXNetError(
                f"reshape: cannot infer the -1 dimension of {shape} from input shape {src}"
            )
        out[infer_at] = total // known
    elif known != total:
        raise MXNetError(
            f"reshape: target shape {tuple(out)} has {known} elements but the input {src} has {total}"
        )
    return tuple(out)


def default_ctx(ctx: Context | None) -> Context:
    """``ctx`` or the current context."""
    return ctx if ctx is not None else current_context()


def is_scalar(value: Any) -> bool:
    """True for Python and NumPy scalars (not arrays)."""
    return isinstance(value, numeric_types) and not isinstance(value, np.ndarray)
