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

Kernels from ``cupy.RawModule`` run the host-emulated CUDA sources of tests/cuda_host_emu.py,
tests/cuda_emu_multi_tensor.py and tests/cuda_emu_optimizer.py. ``cupy.cuda.nccl`` is
tests/fake_nccl.py (collectives over mpi4py between the processes of an ``mpiexec`` job).
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import json
import sys
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np

from tests import fake_nccl as _fake_nccl

API = json.loads((Path(__file__).parent / "data" / "cupy_api.json").read_text())
FAKE_DEVICES = 1
_STATE = threading.local()
__version__ = "14.2.0"


def _current() -> int:
    return getattr(_STATE, "device", 0)


# ------------------------------------------------------------------------------------ devices
class Device:
    """``cupy.cuda.Device``: a context manager that makes a device current (thread-local)."""

    def __init__(self, device: Any = None) -> None:
        self.id = _current() if device is None else int(device)
        if not 0 <= self.id < FAKE_DEVICES:
            raise RuntimeError(f"CUDARuntimeError: cudaErrorInvalidDevice: device {self.id}")
        self.attributes = {"MultiProcessorCount": 4}
        self.compute_capability = "90"
        self._saved: list[int] = []

    def __enter__(self) -> Device:
        self._saved.append(_current())
        _STATE.device = self.id
        return self

    def __exit__(self, *exc: Any) -> None:
        _STATE.device = self._saved.pop()

    def use(self) -> None:
        _STATE.device = self.id

    def synchronize(self) -> None:
        return None

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("cuda", self.id))

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class MemoryPointer:
    """``arr.data``: the raw address (host memory here) and the device it belongs to."""

    def __init__(self, ptr: int, device_id: int) -> None:
        self.ptr = ptr
        self.device_id = device_id

    def memset_async(self, value: int, size: int, stream: Any = None) -> None:
        ctypes.memset(self.ptr, value, size)


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
        self._a = np.empty(shape, dtype=dtype, order=order)
        self._dev = _current()

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
        return MemoryPointer(int(self._a.__array_interface__["data"][0]), self._dev)

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

    # -- conversions CuPy refuses or makes explicit
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly."
        )

    def get(self, stream: Any = None, order: str = "C", out: Any = None, blocking: bool = True):  # noqa: ANN201
        if out is not None:
            if not isinstance(out, np.ndarray):
                raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr: Any, stream: Any = None) -> None:
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self.shape or arr.dtype != self.dtype:
            raise ValueError("Shape or dtype mismatch in ndarray.set")
        self._a[...] = arr

    def item(self) -> Any:
        return self._a.item()

    def tolist(self) -> Any:
        return self._a.tolist()

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __format__(self, spec: str) -> str:
        return format(self._a, spec)

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
        return _wrap(np.array(self._a, order=order, copy=True))  # on the current device

    def astype(self, dtype: Any, order: str = "K", casting: Any = None, subok: Any = None,
               copy: bool = True) -> ndarray:  # fmt: skip
        _check_device(self._dev, "astype")
        out = self._a.astype(dtype, order=order, casting=casting or "unsafe", copy=copy)
        return self if out is self._a else _wrap(out, self._dev)

    def view(self, dtype: Any = None, type: Any = None) -> ndarray:  # noqa: A002
        return _wrap(self._a.view() if dtype is None else self._a.view(dtype), self._dev)

    def fill(self, value: Any) -> None:
        self._a.fill(_fill_value(value))

    def __getitem__(self, key: Any) -> ndarray:
        _device_of((self, key))
        return _wrap(self._a[_index(key)], self._dev)

    def __setitem__(self, key: Any, value: Any) -> None:
        idx = _index(key)
        parts = idx if isinstance(idx, tuple) else (idx,)
        if isinstance(value, ndarray):
            _device_of((self, value))
            self._a[idx] = value._a
        elif any(isinstance(k, (np.ndarray, list)) for k in parts):
            self._a[idx] = value  # advanced assignment: CuPy uploads the values
        else:
            self._a[idx] = _fill_value(value)  # basic indexing: CuPy fills the view

    def __getattr__(self, name: str) -> Any:
        spec = API["ndarray"].get(name)
        if spec is None or spec["kind"] != "method" or name.startswith("_"):
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")

        def method(*args: Any, **kwargs: Any) -> Any:
            _bind(API["ndarray"], name, args, kwargs)
            dev = _device_of((self, args, kwargs))
            if name not in _VIEW_METHODS:  # these make views (no kernel, any current device)
                _check_device(dev, f"ndarray.{name}")
            out = getattr(self._a, name)(*_unwrap(args, name), **_unwrap_kw(kwargs, name))
            return _wrap(out, self._dev)

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
        return value._a[()]
    if not isinstance(value, (bool, int, float, complex, np.generic)):
        raise TypeError(f"Unsupported type {type(value)}")
    return value


_VIEW_METHODS = {"reshape", "ravel", "squeeze", "transpose", "swapaxes", "diagonal", "tolist"}


def _unwrap_kw(kwargs: dict[str, Any], what: str) -> dict[str, Any]:
    return {k: _unwrap(v, what) for k, v in kwargs.items()}


def _index(key: Any) -> Any:
    """An index with device arrays as host arrays; NumPy arrays and lists are allowed (CuPy
    uploads them)."""
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, tuple):
        return tuple(k._a if isinstance(k, ndarray) else k for k in key)
    return key


def _ufunc_call(ufunc: Any, method: str, inputs: Any, kwargs: dict[str, Any]) -> Any:
    dev = _device_of((inputs, kwargs.get("out")))
    _check_device(dev, ufunc.__name__)
    args = _unwrap(tuple(inputs), f"cupy.{ufunc.__name__}")
    for a in args:
        if not isinstance(a, (np.ndarray, np.generic, bool, int, float, complex)):
            raise TypeError(f"Unsupported type {type(a)}")
    kw = _unwrap_kw(kwargs, ufunc.__name__)
    if "out" in kw and not isinstance(kw["out"], tuple):
        kw["out"] = (kw["out"],)
    out = getattr(ufunc, method)(*args, **kw)
    if "out" in kwargs:
        outs = kwargs["out"] if isinstance(kwargs["out"], tuple) else (kwargs["out"],)
        return outs[0] if len(outs) == 1 else outs
    return _wrap(out, dev)


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
             "common_type", "get_array_module"}  # fmt: skip


def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, *, blocking: bool = False) -> ndarray:  # fmt: skip
    if isinstance(obj, ndarray):
        if obj._dev != _current():
            return _wrap(np.array(obj._a, dtype=dtype, order=order, ndmin=ndmin, copy=True))
        out = np.array(obj._a, dtype=dtype, order=order, ndmin=ndmin, copy=copy or None)
        return obj if out is obj._a else _wrap(out)
    if isinstance(obj, (list, tuple)) and any(isinstance(o, ndarray) for o in _walk(obj)):
        obj = _unwrap(obj, "cupy.array")
    return _wrap(np.array(obj, dtype=dtype, order=order, ndmin=ndmin, copy=True))


def asarray(a: Any, dtype: Any = None, order: Any = None, *, copy: Any = None,
            blocking: bool = False) -> ndarray:  # fmt: skip
    if copy is False and not isinstance(a, ndarray):
        raise ValueError("Unable to avoid copy while creating an array from given object.")
    return array(a, dtype=dtype, copy=bool(copy), order=order or "K")


asanyarray = asarray


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, *,
            blocking: bool = True) -> np.ndarray:  # fmt: skip
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
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
    if isinstance(src, ndarray) and src._dev != dst._dev:
        if where is not None or src.shape != dst.shape:
            raise ValueError("copyto between devices supports same-shape arrays only")
        np.copyto(dst._a, src._a, casting=casting)
        return
    _check_device(_device_of((dst, src, where)), "copyto")
    np.copyto(dst._a, _unwrap(src, "copyto"), casting=casting,
              where=True if where is None else _unwrap(where, "copyto"))  # fmt: skip


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
        out = getattr(host, name)(*_unwrap(args, name), **_unwrap_kw(kwargs, name))
        return _wrap(out)

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
class _Stream:
    null: _Stream

    def __init__(self, null: bool = False, non_blocking: bool = False, ptds: bool = False) -> None:
        self.ptr = 0

    def synchronize(self) -> None:
        return None

    def use(self) -> _Stream:
        return self

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


_Stream.null = _Stream()


class _Event:
    def __init__(self, block: bool = False, disable_timing: bool = False,
                 interprocess: bool = False) -> None:  # fmt: skip
        self.done = True

    def record(self, stream: Any = None) -> None:
        return None

    def synchronize(self) -> None:
        return None

    def query(self) -> bool:
        return True


class _Pinned(bytearray):
    """``cupy.cuda.alloc_pinned_memory``: exports the buffer protocol and has ``ptr``."""

    @property
    def ptr(self) -> int:
        return ctypes.addressof(ctypes.c_char.from_buffer(self))


class CUDARuntimeError(RuntimeError):
    pass


def _memcpy(dst: int, src: int, size: int, kind: int, stream: int = 0) -> None:
    ctypes.memmove(dst, src, size)


runtime = types.SimpleNamespace(
    getDeviceCount=lambda: FAKE_DEVICES,
    getDevice=_current,
    setDevice=lambda d: Device(d).use(),
    deviceSynchronize=lambda: None,
    memsetAsync=lambda ptr, value, size, stream: ctypes.memset(ptr, value, size),
    memcpyAsync=_memcpy,
    memcpy=lambda dst, src, size, kind: _memcpy(dst, src, size, kind),
    memGetInfo=lambda: (60 << 30, 80 << 30),
    CUDARuntimeError=CUDARuntimeError,
    memcpyHostToHost=0,
    memcpyHostToDevice=1,
    memcpyDeviceToHost=2,
    memcpyDeviceToDevice=3,
    memcpyDefault=4,
    is_hip=False,
)


class _Pool:
    def free_all_blocks(self, stream: Any = None) -> None:
        return None

    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0


_POOL = _Pool()


def get_default_memory_pool() -> _Pool:
    return _POOL


def get_default_pinned_memory_pool() -> _Pool:
    return _POOL


class _RawKernel:
    def __init__(self, name: str, launch: Any, as_subclass: bool) -> None:
        self.name, self._launch, self._as_subclass = name, launch, as_subclass

    def __call__(self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...], *,
                 shared_mem: int = 0, stream: Any = None,
                 enable_cooperative_groups: bool = False) -> None:  # fmt: skip
        from tests import cuda_host_emu

        _check_device(_device_of(args), f"kernel {self.name}")
        host: list[Any] = []
        for a in args:
            if isinstance(a, ndarray):
                host.append(a._a.view(cuda_host_emu.FakeArray) if self._as_subclass else a._a)
            elif isinstance(a, (np.generic, bool, int, float)):
                host.append(a)
            else:
                raise TypeError(f"Unsupported type {type(a)} (kernel {self.name} argument)")
        self._launch(tuple(grid), tuple(block), tuple(host))


class RawModule:
    """``cupy.RawModule`` over the host-emulated kernels/*.cu (keyword-only, as in CuPy 14)."""

    def __init__(self, *, code: str | None = None, path: str | None = None, options: tuple = (),
                 backend: str = "nvrtc", translate_cucomplex: bool = False,
                 enable_cooperative_groups: bool = False, name_expressions: Any = None,
                 jitify: bool = False) -> None:  # fmt: skip
        from tests import cuda_host_emu

        if code is None:
            raise TypeError("fake RawModule needs code=")
        self.code = code
        self.options = tuple(options)
        self.name_expressions = tuple(name_expressions or ())
        self._emu = cuda_host_emu._RawModule(code, self.options, self.name_expressions)

    def get_function(self, name: str) -> _RawKernel:
        from tests import cuda_emu_multi_tensor, cuda_emu_optimizer

        if "<" in name and name not in self.name_expressions:
            raise KeyError(f"{name} is not among the RawModule's name_expressions")
        if name.startswith("multi_optimizer_step"):
            return _RawKernel(name, cuda_emu_optimizer.fake_kernel(name), False)
        if name == "multi_zero_bytes" or name.startswith("multi_average<"):
            return _RawKernel(name, cuda_emu_multi_tensor.launcher(name), False)
        return _RawKernel(name, self._emu.get_function(name), True)


cuda = types.ModuleType("cupy.cuda")
cuda.Device = Device  # type: ignore[attr-defined]
cuda.Stream = _Stream  # type: ignore[attr-defined]
cuda.Event = _Event  # type: ignore[attr-defined]
cuda.MemoryPointer = MemoryPointer  # type: ignore[attr-defined]
cuda.runtime = runtime  # type: ignore[attr-defined]
cuda.get_current_stream = lambda device_id=-1: _Stream.null  # type: ignore[attr-defined]
cuda.alloc_pinned_memory = lambda size: _Pinned(int(size))  # type: ignore[attr-defined]
cuda.is_available = lambda: True  # type: ignore[attr-defined]
cuda.nccl = _fake_nccl  # type: ignore[attr-defined]


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
        vals = value._a if isinstance(value, ndarray) else np.asarray(value, dtype=a.dtype)
        op.at(a._a, _index(slices), vals)

    return scatter


cupyx = types.ModuleType("cupyx")
cupyx.scatter_add = _scatter(np.add)  # type: ignore[attr-defined]
cupyx.scatter_max = _scatter(np.maximum)  # type: ignore[attr-defined]
cupyx.scatter_min = _scatter(np.minimum)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------- installing
_SAVED: dict[str, Any] = {}
_SUBMODULES = {"cupy.cuda": cuda, "cupy.cuda.runtime": runtime, "cupy.linalg": linalg,
               "cupy.testing": testing, "cupyx": cupyx,
               "cupy.cuda.nccl": _fake_nccl}  # fmt: skip


def install(devices: int = 1) -> Any:
    """Make ``import cupy`` give this module with ``devices`` fake GPUs; mxlite's caches reset."""
    global FAKE_DEVICES
    FAKE_DEVICES = devices
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
    _reset_mxlite()


def _reset_mxlite() -> None:
    from mxlite import backend
    from mxlite.ops import _cuda

    backend._probe_cupy.cache_clear()
    _cuda._MODULES.clear()
    _cuda._FUNCTIONS.clear()
    _cuda._SM_COUNT.clear()
