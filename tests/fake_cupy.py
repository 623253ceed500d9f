"""A strict CuPy 14 stand-in on host memory, to run mxlite's GPU code paths where no GPU exists.

Used only by tests: ``MXLITE_FAKE_CUPY=1 pytest -m gpu ...`` (tests/conftest.py calls
:func:`install` before it probes for a GPU) or the ``install``/``uninstall`` pair from a test.
mxlite itself never looks at the variable: it imports ``cupy`` and finds this module instead.

The point is to fail where real CuPy fails, so host-only habits show up without a GPU:

* no implicit conversion to NumPy: ``np.asarray(x)``, ``np.array(x)``, ``float(np.float32(x))``
  paths through ``__array__`` raise TypeError, as CuPy does;
* kernels (ufuncs, ``cupy.*`` functions, operators) take device arrays, Python and NumPy scalars
  only; a ``numpy.ndarray`` operand (any ndim) raises ``TypeError: Unsupported type``;
* ``x[basic index] = numpy_array`` raises ``ValueError: non-scalar numpy.ndarray cannot be used
  for fill`` and ``cupy.copyto(x, numpy_array)`` raises ValueError, as in CuPy 14;
* reductions and scalar indexing return 0-d device arrays, never NumPy scalars;
* only names, methods and keyword arguments that CuPy 14.2 has are accepted
  (``tests/data/cupy_api.json``, generated from an installed CuPy; ``arr.ctypes``,
  ``arr.__array_interface__``, ``x.to_device`` ... raise AttributeError);
* every array remembers the device that was current when it was made; mixing devices in one
  operation raises ValueError (``FAKE_DEVICES`` devices, 1 by default).

Device work is asynchronous, as on a GPU (tests/fake_cupy_streams.py): kernels, ufuncs, copies
and fills are queued on the current stream and take effect only when that stream is synchronized,
an event recorded after them is waited on, or the host reads the array (``get()``, ``item()``...,
which synchronize the current stream of the array's device). New memory starts as 0xFF bytes (NaN).
So a missing event between two devices, or a read of a copy that has not run, gives wrong values
in a CPU test. ``cupy.cuda`` (devices, raw memory, runtime, RawModule) is tests/fake_cupy_cuda.py.

Kernels from ``cupy.RawModule`` run the host-emulated CUDA sources of tests/cuda_host_emu.py,
tests/cuda_emu_multi_tensor.py and tests/cuda_emu_optimizer.py. ``cupy.cuda.nccl`` is
tests/fake_nccl.py (collectives over mpi4py between the processes of an ``mpiexec`` job).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import math
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tests import fake_cupy_compute as compute
from tests import fake_cupy_cuda as fcuda
from tests import fake_cupy_streams as streams
from tests import fake_nccl as _fake_nccl
from tests.fake_cupy_cuda import CUDARuntimeError, Device, MemoryPointer, RawModule  # noqa: F401

API = json.loads((Path(__file__).parent / "data" / "cupy_api.json").read_text())
FAKE_DEVICES = 1
__version__ = "14.2.0"
# The probe of backend compiles kernels: names of missing CUDA pieces (fake_cupy_cuda.MISSING).
MISSING = fcuda.MISSING
# Names of ufuncs called with no device array (computed on the device anyway: a GPU's rounding).
SCALAR_ONLY_CALLS: list[str] = []


def _current() -> int:
    return streams.current_device()


def _device_of(args: Any) -> int | None:
    """The device of the fake arrays among ``args`` (None: none); ValueError when they differ."""
    devs = {a._dev for a in _walk(args) if isinstance(a, ndarray)}
    if len(devs) > 1:
        raise ValueError(f"arrays on different devices {sorted(devs)} in one operation")
    return devs.pop() if devs else None


def _walk(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _walk(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _walk(item)
    else:
        yield obj


# ------------------------------------------------------------------------- argument handling
def _unwrap(obj: Any, what: str) -> Any:
    """Fake arrays -> their host data; NumPy arrays -> TypeError (a kernel operand)."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, np.ndarray):
        raise TypeError(f"Unsupported type {type(obj)} (in {what}: NumPy array passed to CuPy)")
    if isinstance(obj, list):
        return [_unwrap(o, what) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_unwrap(o, what) for o in obj)
    return obj


def _wrap(obj: Any, dev: int | None = None) -> Any:
    dev = _current() if dev is None else dev
    if isinstance(obj, np.ndarray):
        out = ndarray.__new__(ndarray)
        out._a, out._dev = obj, dev
        return out
    if isinstance(obj, np.generic):
        return _wrap(np.asarray(obj), dev)
    if isinstance(obj, tuple):
        return tuple(_wrap(o, dev) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o, dev) for o in obj]
    return obj


def _bind(table: dict[str, Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """TypeError unless CuPy 14.2's ``name`` takes these arguments."""
    spec = table.get(name, {}).get("params")
    if spec is None:
        return
    params = [
        inspect.Parameter(
            pname, inspect._ParameterKind(kind), default=None if has_default else inspect._empty
        )
        for pname, kind, has_default in spec
    ]
    try:
        inspect.Signature(params).bind(*args, **kwargs)
    except TypeError as err:
        raise TypeError(f"cupy.{name}(): {err} (CuPy 14.2 signature)") from None


def _check_device(dev: int | None, what: str) -> None:
    if dev is not None and dev != _current():
        raise ValueError(
            f"{what}: the array resides on device {dev}, the current device is {_current()}"
        )


def _snapshot(obj: Any) -> Any:
    """Host data as the device will see it: copied now (CuPy uploads pageable memory at the call)."""
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, list):
        return [_snapshot(o) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_snapshot(o) for o in obj)
    return obj


# -------------------------------------------------------------------------------- the array
class Flags:
    """``cupy.ndarray.flags``: only the three flags CuPy has (no ``writeable``, ``aligned``)."""

    def __init__(self, flags: Any) -> None:
        self.c_contiguous = bool(flags.c_contiguous)
        self.f_contiguous = bool(flags.f_contiguous)
        self.owndata = bool(flags.owndata)
        self.forc = self.c_contiguous or self.f_contiguous
        self.fnc = self.f_contiguous and not self.c_contiguous

    def __getitem__(self, name: str) -> bool:
        key = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous",
               "OWNDATA": "owndata"}.get(name)  # fmt: skip
        if key is None:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return bool(getattr(self, key))


class ndarray:  # noqa: N801 - CuPy's name
    """A device array: host data ``_a`` plus the device ``_dev`` it was made on."""

    __slots__ = ("_a", "_dev", "__weakref__")
    __array_priority__ = 100
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None,
                 order: str = "C") -> None:  # fmt: skip
        self._a = streams.alloc(shape, dtype, order)
        self._dev = _current()
        streams.touch(self._dev)

    # -- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    ndim = property(lambda self: self._a.ndim)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: Flags(self._a.flags))
    T = property(lambda self: _wrap(self._a.T, self._dev))
    mT = property(lambda self: _wrap(self._a.mT, self._dev))
    real = property(lambda self: _wrap(self._a.real, self._dev))
    imag = property(lambda self: _wrap(self._a.imag, self._dev))
    base = property(lambda self: None if self._a.base is None else _wrap(self._a.base, self._dev))

    @property
    def device(self) -> Device:
        return Device(self._dev)

    @property
    def data(self) -> MemoryPointer:
        return MemoryPointer(self._a, self._dev)

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        iface = self._a.__array_interface__
        return {
            "shape": iface["shape"],
            "typestr": iface["typestr"],
            "descr": iface["descr"],
            "data": iface["data"],
            "strides": None if self._a.flags.c_contiguous else self._a.strides,
            "version": 3,
            "stream": 1,
        }

    def _host(self) -> np.ndarray:
        """The values once the current stream of this array's device has run (a host read)."""
        streams.current_queue(self._dev).run_all()
        return self._a

    # -- conversions CuPy refuses or makes explicit
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly."
        )

    def get(self, stream: Any = None, order: str = "C", out: Any = None, blocking: bool = True):  # noqa: ANN201
        if out is not None and not isinstance(out, np.ndarray):
            raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
        q = streams.queue_for(stream, self._dev)
        if not blocking:  # the copy is queued; the host buffer is valid after a sync
            target = out if out is not None else np.empty(self.shape, self.dtype, order=order)
            src = self._a
            q.push(lambda: np.copyto(target, src))
            return target
        q.run_all()
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr: Any, stream: Any = None) -> None:
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self.shape or arr.dtype != self.dtype:
            raise ValueError("Shape or dtype mismatch in ndarray.set")
        dst, src = self._a, arr.copy()
        streams.queue_for(stream, self._dev).push(lambda: np.copyto(dst, src))

    def item(self) -> Any:
        return self._host().item()

    def tolist(self) -> Any:
        return self._host().tolist()

    def __float__(self) -> float:
        return float(self._host())

    def __int__(self) -> int:
        return int(self._host())

    def __complex__(self) -> complex:
        return complex(self._host())

    def __bool__(self) -> bool:
        return bool(self._host())

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return repr(self._host())

    def __str__(self) -> str:
        return str(self._host())

    def __format__(self, spec: str) -> str:
        return format(self._host(), spec)

    def __copy__(self) -> ndarray:
        return self.copy()

    def __deepcopy__(self, memo: Any) -> ndarray:
        return self.copy()

    def __dlpack__(self, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
                   copy: Any = None) -> Any:  # fmt: skip
        return PyCapsule(self)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (2, self._dev)  # kDLCUDA

    # -- methods
    def copy(self, order: str = "C") -> ndarray:
        """A copy on the current device (a peer copy queued there for another device's array,
        not ordered after the source device's streams)."""
        src = self._a
        return compute.compute(lambda: np.array(src, order=order, copy=True), _current(), {})

    def astype(self, dtype: Any, order: str = "K", casting: Any = None, subok: Any = None,
               copy: bool = True) -> ndarray:  # fmt: skip
        _check_device(self._dev, "astype")
        src = self._a
        if not copy and np.dtype(dtype) == src.dtype and _has_order(src, order):
            return self
        return compute.compute(
            lambda: src.astype(dtype, order=order, casting=casting or "unsafe", copy=True),
            self._dev,
            {},
        )

    def view(self, dtype: Any = None, type: Any = None) -> ndarray:  # noqa: A002
        return _wrap(self._a.view() if dtype is None else self._a.view(dtype), self._dev)

    def fill(self, value: Any) -> None:
        dst = self._a
        if isinstance(value, ndarray):
            if value.shape != ():
                raise ValueError("non-scalar cupy.ndarray cannot be used for fill")
            src = value._a
            streams.current_queue(self._dev).push(lambda: dst.fill(src[()]))
            return
        v = _fill_value(value)
        streams.current_queue(self._dev).push(lambda: dst.fill(v))

    def __getitem__(self, key: Any) -> ndarray:
        _device_of((self, key))
        idx = _index(key)
        src = self._a
        return compute.compute(
            lambda: src[idx],
            self._dev,
            compute.inputs_of(self),
            sync=_device_mask(key),
            queue=streams.current_queue(self._dev),
        )

    def __setitem__(self, key: Any, value: Any) -> None:
        if _device_mask(key):
            streams.current_queue(self._dev).run_all()  # the target's size depends on the mask
        idx = _index(key)
        parts = idx if isinstance(idx, tuple) else (idx,)
        dst = self._a
        _check_assignable(dst, key, value)
        if isinstance(value, ndarray):
            _device_of((self, value))
            src = value._a
            fn = functools.partial(dst.__setitem__, idx, src)
        elif any(isinstance(k, (np.ndarray, list)) for k in parts):
            fn = functools.partial(dst.__setitem__, idx, _snapshot(value))  # CuPy uploads them
        else:
            fn = functools.partial(dst.__setitem__, idx, _fill_value(value))  # a fill of the view
        streams.current_queue(self._dev).push(fn)

    def __getattr__(self, name: str) -> Any:
        spec = API["ndarray"].get(name)
        if spec is None or spec["kind"] != "method" or name.startswith("_"):
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")

        def method(*args: Any, **kwargs: Any) -> Any:
            _bind(API["ndarray"], name, args, kwargs)
            dev = _device_of((self, args, kwargs))
            if name not in _VIEW_METHODS:  # these make views (no kernel, any current device)
                _check_device(dev, f"ndarray.{name}")
            host, a, k = self._a, _unwrap(args, name), _unwrap_kw(kwargs, name)
            q = streams.current_queue(self._dev)
            if name in _INPLACE_METHODS or kwargs.get("out") is not None:
                q.push(lambda: getattr(host, name)(*a, **k))
                return kwargs.get("out")
            return compute.compute(
                lambda: getattr(host, name)(*a, **k),
                self._dev,
                compute.inputs_of(self, args, kwargs),
                sync=name in _SYNC,
                queue=q,
            )

        return method

    # -- NumPy protocols: run CuPy's implementation, refusing NumPy arrays
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if not isinstance(API["module"].get(ufunc.__name__), dict):
            return NotImplemented
        return _ufunc_call(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        table = "linalg" if func.__module__ == "numpy.linalg" else "module"
        if func.__name__ not in API[table]:
            return NotImplemented
        target = linalg if table == "linalg" else sys.modules[__name__]
        return getattr(target, func.__name__)(*args, **kwargs)


def _fill_value(value: Any) -> Any:
    """What ``cupy.ndarray.fill`` accepts: scalars, 0-d arrays; a non-scalar NumPy array raises
    ValueError and any other object TypeError (the fill kernel's scalar conversion)."""
    if isinstance(value, np.ndarray):
        if value.shape != ():
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        return value.item()
    if isinstance(value, ndarray):
        if value.shape != ():
            raise ValueError("non-scalar cupy.ndarray cannot be used for fill")
        return value._host()[()]
    if not isinstance(value, (bool, int, float, complex, np.generic)):
        raise TypeError(f"Unsupported type {type(value)}")
    return value


_VIEW_METHODS = {"reshape", "ravel", "squeeze", "transpose", "swapaxes", "diagonal", "tolist"}
_INPLACE_METHODS = {"sort", "partition", "put"}
# Results whose shape depends on device data (CuPy synchronizes), and host reads.
_SYNC = {
    "argwhere", "compress", "extract", "flatnonzero", "nonzero", "trim_zeros", "unique",
    "unique_all", "unique_counts", "unique_inverse", "unique_values", "intersect1d", "setdiff1d",
    "setxor1d", "union1d", "bincount", "roots", "repeat", "save", "savetxt", "savez",
    "savez_compressed", "array2string", "array_repr", "array_str", "tofile", "dump", "dumps",
    "tobytes", "tolist", "item",
}  # fmt: skip
_INPLACE_FUNCTIONS = {"put", "place", "putmask", "fill_diagonal", "put_along_axis"}


def _unwrap_kw(kwargs: dict[str, Any], what: str) -> dict[str, Any]:
    return {k: _unwrap(v, what) for k, v in kwargs.items()}


def _index(key: Any) -> Any:
    """An index with device arrays as host buffers (read when the kernel runs) and NumPy arrays
    and lists copied (CuPy uploads them at the call)."""
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, tuple):
        return tuple(k._a if isinstance(k, ndarray) else _snapshot(k) for k in key)
    return _snapshot(key)


def _has_order(arr: np.ndarray, order: str) -> bool:
    """Whether ``arr`` already has the memory order ``order`` asks for."""
    if order == "C":
        return bool(arr.flags.c_contiguous)
    if order == "F":
        return bool(arr.flags.f_contiguous)
    return True


def _check_assignable(dst: np.ndarray, key: Any, value: Any) -> None:
    """Raise now (as CuPy does at the call) when ``dst[key] = value`` cannot work: a bad index or
    a value that does not broadcast to the target. Device index arrays count by shape only."""
    parts = key if isinstance(key, tuple) else (key,)
    probe_key = tuple(
        k._a if isinstance(k, ndarray) and k.dtype == np.bool_
        else np.zeros(k.shape, k.dtype) if isinstance(k, ndarray)
        else k
        for k in parts
    )  # fmt: skip
    probe = np.broadcast_to(np.zeros((), dst.dtype), dst.shape)
    target = probe[probe_key if isinstance(key, tuple) else probe_key[0]].shape
    shape = tuple(np.shape(value._a if isinstance(value, ndarray) else value))
    while len(shape) > len(target) and shape[0] == 1:
        shape = shape[1:]
    try:
        np.broadcast_to(np.zeros(shape, np.bool_), target)
    except ValueError:
        raise ValueError(
            f"could not broadcast input array from shape {shape} into shape {target}"
        ) from None


def _device_mask(key: Any) -> bool:
    """Whether ``key`` holds a boolean device array (the result's size depends on its values)."""
    parts = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, ndarray) and k.dtype == np.bool_ for k in parts)


def _ufunc_call(ufunc: Any, method: str, inputs: Any, kwargs: dict[str, Any]) -> Any:
    dev = _device_of((inputs, kwargs.get("out")))
    _check_device(dev, ufunc.__name__)
    args = _unwrap(tuple(inputs), f"cupy.{ufunc.__name__}")
    for a in args:
        if not isinstance(a, (np.ndarray, np.generic, bool, int, float, complex)):
            raise TypeError(f"Unsupported type {type(a)}")
    if ufunc.__name__ == "matmul" and "cublas" in MISSING:
        raise RuntimeError(fcuda.NO_CUBLAS)
    if dev is None and kwargs.get("out") is None:
        SCALAR_ONLY_CALLS.append(ufunc.__name__)
    kw = _unwrap_kw(kwargs, ufunc.__name__)
    if "out" in kw and not isinstance(kw["out"], tuple):
        kw["out"] = (kw["out"],)
    here = _current() if dev is None else dev
    if method == "__call__" and ufunc.signature is None:
        return compute.ufunc_call(ufunc, args, kw, kwargs.get("out"), here)
    q = streams.current_queue()
    if method == "at" or kwargs.get("out") is not None:
        q.push(lambda: getattr(ufunc, method)(*args, **kw))
        return kwargs.get("out")
    return compute.compute(
        lambda: getattr(ufunc, method)(*args, **kw), here, compute.inputs_of(inputs, kwargs)
    )


def _binary(name: str, reflected: bool = False, inplace: bool = False) -> Any:
    uf = getattr(np, name)

    def op(self: ndarray, other: Any) -> Any:
        if isinstance(other, np.ndarray):
            raise TypeError(f"Unsupported type {type(other)} (operator on a CuPy array)")
        if not isinstance(other, (ndarray, np.generic, bool, int, float, complex)):
            return NotImplemented
        if inplace:
            return _ufunc_call(uf, "__call__", (self, other), {"out": self})
        return _ufunc_call(uf, "__call__", (other, self) if reflected else (self, other), {})

    return op


for _py, _np_name in {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
    "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor", "lshift": "left_shift",
    "rshift": "right_shift",
}.items():  # fmt: skip
    setattr(ndarray, f"__{_py}__", _binary(_np_name))
    setattr(ndarray, f"__r{_py}__", _binary(_np_name, reflected=True))
    if _py != "matmul":
        setattr(ndarray, f"__i{_py}__", _binary(_np_name, inplace=True))
for _py, _np_name in {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                      "gt": "greater", "ge": "greater_equal"}.items():  # fmt: skip
    setattr(ndarray, f"__{_py}__", _binary(_np_name))
for _py, _np_name in {"neg": "negative", "pos": "positive", "abs": "absolute",
                      "invert": "invert"}.items():  # fmt: skip
    setattr(ndarray, f"__{_py}__", functools.partialmethod(
        lambda self, _n: _ufunc_call(getattr(np, _n), "__call__", (self,), {}), _np_name))  # fmt: skip
ndarray.__module__ = "cupy"


# --------------------------------------------------------------------------- module functions
# Functions that take host data (uploads) or return no array.
_HOST_IN = {"array", "asarray", "asanyarray", "asnumpy", "get_array_module"}
_NO_ARRAY = {"result_type", "can_cast", "promote_types", "finfo", "iinfo", "issubdtype",
             "min_scalar_type", "isscalar", "ndim", "shape", "size", "broadcast_shapes",
             "common_type", "get_array_module", "may_share_memory", "shares_memory"}  # fmt: skip
_UNINITIALIZED = {"empty", "empty_like"}


def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, *, blocking: bool = False) -> ndarray:  # fmt: skip
    if isinstance(obj, ndarray):
        src = obj._a
        if obj._dev != _current():
            # a peer copy queued on the current device's stream, which does not wait for the
            # source device's streams (CuPy on NVIDIA GPUs)
            return compute.compute(
                lambda: np.array(src, dtype=dtype, order=order, ndmin=ndmin, copy=True),
                _current(),
                {},
            )
        return compute.compute(
            lambda: np.array(src, dtype=dtype, order=order, ndmin=ndmin, copy=copy or None),
            _current(),
            compute.inputs_of(obj),
        )
    if isinstance(obj, (list, tuple)) and any(isinstance(o, ndarray) for o in _walk(obj)):
        parts = _unwrap(obj, "cupy.array")
        return compute.compute(
            lambda: np.array(parts, dtype=dtype, order=order, ndmin=ndmin, copy=True),
            _current(),
            {},
        )
    host = np.array(obj, dtype=dtype, order=order, ndmin=ndmin, copy=True)  # uploaded now
    dst = streams.alloc_like(host)
    streams.current_queue().push(lambda: np.copyto(dst, host))
    streams.touch(_current())
    return _wrap(dst)


def asarray(a: Any, dtype: Any = None, order: Any = None, *, copy: Any = None,
            blocking: bool = False) -> ndarray:  # fmt: skip
    if copy is False and not isinstance(a, ndarray):
        raise ValueError("Unable to avoid copy while creating an array from given object.")
    return array(a, dtype=dtype, copy=bool(copy), order=order or "K")


asanyarray = asarray


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, *,
            blocking: bool = True) -> np.ndarray:  # fmt: skip
    if isinstance(a, ndarray):
        return a.get(stream=stream, order=order, out=out, blocking=blocking)
    return np.asarray(a, order=order)


def get_array_module(*args: Any) -> Any:
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else np


def copyto(dst: Any, src: Any, casting: str = "same_kind", where: Any = None) -> None:
    if not isinstance(dst, ndarray):
        raise TypeError(f"copyto: dst must be cupy.ndarray, got {type(dst)}")
    if isinstance(src, np.ndarray):
        if src.size != 1:
            raise ValueError("non-scalar numpy.ndarray cannot be used for copyto")
        src = src.reshape(())[()]
    q = streams.current_queue()
    d = dst._a
    if isinstance(src, ndarray) and src._dev != dst._dev:
        if where is not None or src.shape != dst.shape:
            raise ValueError("copyto between devices supports same-shape arrays only")
        if not np.can_cast(src.dtype, dst.dtype, casting=casting):
            raise TypeError(f"Cannot cast {src.dtype} to {dst.dtype} in {casting} casting mode")
        s = src._a  # a memcpy on the current stream, not ordered after the source's streams
        q.push(lambda: np.copyto(d, s, casting=casting))
        return
    _check_device(_device_of((dst, src, where)), "copyto")
    s, w = _unwrap(src, "copyto"), True if where is None else _unwrap(where, "copyto")
    np.broadcast_shapes(np.shape(s), d.shape)  # shape errors at the call, as CuPy raises them
    if isinstance(s, np.ndarray) and not np.can_cast(s.dtype, d.dtype, casting=casting):
        raise TypeError(f"Cannot cast {s.dtype} to {d.dtype} in {casting} casting mode")
    q.push(lambda: np.copyto(d, s, casting=casting, where=w))


class PyCapsule:
    """Stands for a DLPack capsule of fake device memory (named so that type-name checks for
    ``PyCapsule`` see one); NumPy cannot import it, as it cannot import CUDA memory."""

    def __init__(self, arr: ndarray) -> None:
        self.arr = arr


def from_dlpack(array: Any, *, device: Any = None, copy: Any = None) -> ndarray:  # noqa: A002
    if isinstance(array, PyCapsule):
        return array.arr.view()
    if not hasattr(array, "__dlpack__"):
        raise TypeError(f"from_dlpack: {type(array)} does not implement __dlpack__")
    kind = int(array.__dlpack_device__()[0]) if hasattr(array, "__dlpack_device__") else 2
    if kind not in (2, 13):  # kDLCUDA, kDLCUDAManaged
        raise BufferError(f"from_dlpack: device type {kind} is not CUDA memory")
    cap = array.__dlpack__(stream=None)
    if not isinstance(cap, PyCapsule):
        raise TypeError("fake CuPy can only import fake device memory through DLPack")
    return cap.arr.view()


def _function(table: dict[str, Any], name: str, host: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        _bind(table, name, args, kwargs)
        if name in _NO_ARRAY:
            return getattr(host, name)(*_unwrap_lenient(args), **_unwrap_lenient(kwargs))
        dev = _device_of((args, kwargs))
        _check_device(dev, f"cupy.{name}")
        if name in ("dot", "matmul", "tensordot", "inner", "vdot") and "cublas" in MISSING:
            raise RuntimeError(fcuda.NO_CUBLAS)
        a, k = _unwrap(args, name), _unwrap_kw(kwargs, name)
        fn = getattr(host, name)
        if name in _UNINITIALIZED:  # allocation only: the memory holds whatever it held
            streams.touch(_current())
            return _wrap(streams.alloc_like(np.asarray(fn(*a, **k))))
        if name in _INPLACE_FUNCTIONS or kwargs.get("out") is not None:
            streams.current_queue().push(lambda: fn(*a, **k))
            return kwargs.get("out")
        sync = name in _SYNC or (name == "where" and len(args) + len(kwargs) == 1)
        found = compute.inputs_of(args, kwargs)
        return compute.compute(lambda: fn(*a, **k), _current(), found, sync=sync)

    call.__name__ = name
    return call


def _unwrap_lenient(obj: Any) -> Any:
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, dict):
        return {k: _unwrap_lenient(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap_lenient(o) for o in obj)
    return obj


def __getattr__(name: str) -> Any:  # module-level: every other public CuPy 14.2 name
    spec = API["module"].get(name)
    if spec is None:
        raise AttributeError(f"module 'cupy' has no attribute '{name}'")
    if spec["kind"] in ("type", "constant"):
        return getattr(np, name)
    if spec["kind"] == "ufunc":
        uf = getattr(np, name)
        wrapper = types.SimpleNamespace(
            __name__=name, nin=uf.nin, nout=uf.nout,
            reduce=lambda *a, **k: _ufunc_call(uf, "reduce", a, k),
            accumulate=lambda *a, **k: _ufunc_call(uf, "accumulate", a, k),
            outer=lambda *a, **k: _ufunc_call(uf, "outer", a, k),
            at=lambda *a, **k: _ufunc_call(uf, "at", a, k),
        )  # fmt: skip
        return _Ufunc(uf, wrapper)
    if spec["kind"] == "function" and hasattr(np, name):
        return _function(API["module"], name, np)
    raise NotImplementedError(f"fake CuPy does not implement cupy.{name}")


class _Ufunc:
    def __init__(self, uf: Any, ns: Any) -> None:
        self._uf, self._ns = uf, ns
        self.__name__ = uf.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _ufunc_call(self._uf, "__call__", args, kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ns, name)


linalg = types.ModuleType("cupy.linalg")
for _name in API["linalg"]:
    if hasattr(np.linalg, _name) and API["linalg"][_name]["kind"] == "function":
        setattr(linalg, _name, _function(API["linalg"], _name, np.linalg))


# ------------------------------------------------------------------------ cupy.cuda and friends
cuda = fcuda.make_module()
cuda.nccl = _fake_nccl  # type: ignore[attr-defined]
runtime = fcuda.runtime
_Pinned = fcuda.Pinned  # (tests check for it by this name)


def get_default_memory_pool() -> fcuda.Pool:
    return fcuda.POOL


def get_default_pinned_memory_pool() -> fcuda.Pool:
    return fcuda.POOL


def _host_of(x: Any) -> Any:
    return x.get() if isinstance(x, ndarray) else x


testing = types.ModuleType("cupy.testing")
for _name in API["testing"]:
    if _name.startswith("assert_") and hasattr(np.testing, _name):
        setattr(testing, _name, functools.wraps(getattr(np.testing, _name))(
            lambda *a, _f=getattr(np.testing, _name), **k: _f(*map(_host_of, a), **k)))  # fmt: skip


def _scatter(op: Any) -> Any:
    def scatter(a: Any, slices: Any, value: Any) -> None:
        if not isinstance(a, ndarray):
            raise TypeError(f"cupyx scatter: a must be cupy.ndarray, got {type(a)}")
        _check_device(_device_of((a, slices, value)), "cupyx scatter")
        vals = value._a if isinstance(value, ndarray) else np.array(value, dtype=a.dtype)
        dst, idx = a._a, _index(slices)
        streams.current_queue().push(lambda: op.at(dst, idx, vals))

    return scatter


cupyx = types.ModuleType("cupyx")
cupyx.scatter_add = _scatter(np.add)  # type: ignore[attr-defined]
cupyx.scatter_max = _scatter(np.maximum)  # type: ignore[attr-defined]
cupyx.scatter_min = _scatter(np.minimum)  # type: ignore[attr-defined]

compute.WRAP = _wrap
compute.IS_FAKE = lambda obj: isinstance(obj, ndarray)


def _special_erf(x: Any) -> Any:
    """``cupyx.scipy.special.erf``: a CuPy float array in, one of its dtype out, same device."""
    if not isinstance(x, ndarray):
        raise TypeError(f"cupyx.scipy.special.erf: expected cupy.ndarray, got {type(x)}")
    vals = np.vectorize(math.erf, otypes=[np.float64])(x._a).astype(x._a.dtype)
    return _wrap(vals, _device_of((x,)))


cupyx_scipy = types.ModuleType("cupyx.scipy")
cupyx_special = types.ModuleType("cupyx.scipy.special")
cupyx_special.erf = _special_erf  # type: ignore[attr-defined]
cupyx_scipy.special = cupyx_special  # type: ignore[attr-defined]
cupyx.scipy = cupyx_scipy  # type: ignore[attr-defined]
cupyx.__path__ = []  # type: ignore[attr-defined] - a package, so `from cupyx.scipy import ...` works


# --------------------------------------------------------------------------------- installing
_SAVED: dict[str, Any] = {}
_SUBMODULES = {"cupy.cuda": cuda, "cupy.cuda.runtime": runtime, "cupy.linalg": linalg,
               "cupy.testing": testing, "cupyx": cupyx, "cupyx.scipy": cupyx_scipy,
               "cupyx.scipy.special": cupyx_special, "cupy.cuda.nccl": _fake_nccl}  # fmt: skip


def install(devices: int = 1, missing: tuple[str, ...] = ()) -> Any:
    """Make ``import cupy`` give this module with ``devices`` fake GPUs (and the CUDA pieces in
    ``missing`` absent, see :data:`MISSING`); the queues and mxlite's caches start fresh."""
    global FAKE_DEVICES
    FAKE_DEVICES = fcuda.FAKE_DEVICES = devices
    MISSING.clear()
    MISSING.update(missing)
    streams.reset()
    SCALAR_ONLY_CALLS.clear()
    me = sys.modules[__name__]
    for name, mod in {"cupy": me, **_SUBMODULES}.items():
        _SAVED.setdefault(name, sys.modules.get(name))
        sys.modules[name] = mod  # type: ignore[assignment]
    _reset_mxlite()
    return me


def uninstall() -> None:
    """Undo :func:`install`."""
    for name, mod in _SAVED.items():
        if mod is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = mod
    _SAVED.clear()
    MISSING.clear()
    streams.reset()
    _reset_mxlite()


@contextlib.contextmanager
def installed(devices: int = 1, missing: tuple[str, ...] = ()) -> Iterator[Any]:
    """:func:`install` for a block; then the state before it comes back (the session's fake under
    ``MXLITE_FAKE_CUPY=1``, with its device count, else no fake at all)."""
    was_installed = sys.modules.get("cupy") is sys.modules[__name__]
    before = FAKE_DEVICES
    try:
        yield install(devices=devices, missing=missing)
    finally:
        if was_installed:
            install(devices=before)
        else:
            uninstall()


def synchronize_all() -> None:
    """Run every queue of every device (the end of a test that leaves work queued)."""
    for dev in range(FAKE_DEVICES):
        streams.synchronize_device(dev)


def _reset_mxlite() -> None:
    from mxlite import backend
    from mxlite.ops import _cuda

    backend._probe_cupy.cache_clear()
    backend._USED_GPUS.clear()
    _cuda._MODULES.clear()
    _cuda._FUNCTIONS.clear()
    _cuda._SM_COUNT.clear()
