"""How built-in initializers write: in place, on the array's own device, from counter-based streams.

Every built-in random draw goes through :func:`random_fill` with a stream chosen by
:func:`stream_key`: for a named array the key is ``mxlite.random.param_key(name, salt)`` with the
salt built from the shape, the dtype and the initializer's fingerprint (class + arguments), and the
offset is 0. So a parameter's initial value is a pure function of (global seed, name, shape,
dtype, initializer, and how many times that name was initialized since the seed): the same on
cpu(0), cpu(1) or a GPU, for every replica, whatever the order in which *different* parameters
are initialized; initializing a name again (``force_reinit``, a second Parameter of that name)
draws fresh values, as in MXNet. An array without a name (``InitDesc('')``) takes an ad-hoc draw
that advances the global counter.

A *fill plan* (:class:`FillPlan`) is what a built-in init method would do, as data: ``uniform``
``(low, high)``, ``normal`` ``(loc, scale)`` or ``constant`` ``(value,)`` plus the stream key.
Methods that can say so register a planner with :func:`register_plan`; ``init_many`` batches plans
into multi-tensor fills, and the single-array path executes the very same plan, so both paths give
the same bits. A subclass that overrides a method loses that method's planner (the lookup is by
function object) and is called normally.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from mxlite import backend, random
from mxlite.base import MXNetError
from mxlite.context import Context

__all__ = [
    "FillPlan",
    "register_plan",
    "plan_for",
    "has_plan",
    "execute",
    "stream_key",
    "raw_of",
    "ctx_of",
    "write",
    "constant",
    "is_real_scalar",
    "random_fill",
    "bilinear_weights",
    "random_int8",
    "FILL_DTYPES",
    "dtype_name",
]

FILL_DTYPES = frozenset({"float16", "float32", "float64", "bfloat16"})

_MSG_BAD_DTYPE = (
    "Cannot draw random values into an array of dtype {dtype} (initializing {name}): "
    "Output type must be float16, float32, float64 (or bfloat16). "
    "Create the parameter with a floating-point dtype."
)


class FillPlan(NamedTuple):
    """One fill of a whole array (immutable; a NamedTuple because thousands are made per
    ``initialize()`` and a frozen dataclass costs twice as much to build).

    Attributes:
        kind: ``'uniform'`` (params ``(low, high)``), ``'normal'`` (``(loc, scale)``) or
            ``'constant'`` (``(value,)``).
        params: the distribution parameters, as the single-array call would pass them.
        key: the stream key (random kinds only).
        offset: the first stream element (random kinds only).
    """

    kind: str
    params: tuple[Any, ...]
    key: tuple[int, int] | None = None
    offset: int = 0


_PLANNERS: dict[Any, str] = {}


def register_plan(method: Callable[..., Any], planner: str) -> None:
    """Declare that ``method`` (an ``_init_*`` function) does exactly what the method named
    ``planner`` returns (a :class:`FillPlan`), so it may be batched."""
    _PLANNERS[method] = planner


def plan_for(target: Any, method: str, desc: Any, arr: Any) -> FillPlan | None:
    """The plan for ``getattr(target, method)(desc, arr)``, or None when it must be called."""
    planner = _PLANNERS.get(getattr(type(target), method, None))
    if planner is None:
        return None
    plan: FillPlan | None = getattr(target, planner)(desc, arr)
    return plan


def has_plan(target: Any, method: str) -> bool:
    """Whether ``getattr(target, method)`` is a built-in method with a fill plan."""
    return getattr(type(target), method, None) in _PLANNERS


def raw_of(arr: Any) -> Any:
    """The raw numpy/cupy array behind an NDArray (a raw array is returned as is)."""
    return getattr(arr, "_data", arr)


def ctx_of(arr: Any) -> Context:
    """The context of an NDArray or raw array."""
    ctx = getattr(arr, "_ctx", None)
    if isinstance(ctx, Context):
        return ctx
    from mxlite.ndarray.ndarray import ctx_of_raw

    return ctx_of_raw(raw_of(arr))


_DTYPE_NAMES: dict[Any, str] = {}
# encoded stream salts by (shape, dtype name, initializer fingerprint): thousands of parameters of
# a few shapes are keyed per initialize()
_SALTS: dict[tuple[Any, str, str], bytes] = {}
_SALTS_MAX = 4096
_SALT_FINGERPRINT_MAX = 1024


def dtype_name(dtype: Any) -> str:
    """``np.dtype(dtype).name``, cached per dtype object (NumPy computes the name in Python,
    which costs microseconds: too much when thousands of parameters are initialized)."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = np.dtype(dtype).name
    return name


def stream_key(desc: Any, target: Any, arr: Any, check: bool = True) -> tuple[tuple[int, int], int]:
    """``(key, offset)`` of the stream that initializes ``arr`` for ``desc`` with ``target``.

    The key is a pure function of (seed, name, shape, dtype, initializer); an empty name means an
    ad-hoc draw from the global counter.

    Raises:
        MXNetError: ``check`` and ``arr`` is not of a floating-point dtype (checked before any
            counter moves).
    """
    raw = raw_of(arr)
    dname = dtype_name(raw.dtype)
    if check and dname not in FILL_DTYPES:
        raise MXNetError(_MSG_BAD_DTYPE.format(dtype=dname, name=str(desc) or "an unnamed array"))
    name = getattr(desc, "_stream_name", None) or str(desc)
    if not name:
        key, offset = random.next_adhoc(int(raw.size))
        return (int(key[0]), int(key[1])), int(offset)
    fingerprint = (
        target._fingerprint() if hasattr(target, "_fingerprint") else type(target).__name__
    )
    # NumPy and CuPy shapes are tuples of Python ints: str() gives e.g. "(64, 64)", the salt's
    # exact text (other array types are normalized to that form)
    shape = raw.shape if isinstance(raw, np.ndarray) or backend.is_gpu_array(raw) else None
    if shape is None:
        shape = tuple(int(d) for d in raw.shape)
    salt_key = (shape, dname, fingerprint)
    salt = _SALTS.get(salt_key)
    if salt is None:
        salt = random.encode_salt(f"{shape}|{dname}|{fingerprint}")
        if len(fingerprint) <= _SALT_FINGERPRINT_MAX:  # never keep huge array arguments alive
            if len(_SALTS) >= _SALTS_MAX:
                _SALTS.clear()
            _SALTS[salt_key] = salt
    draw = getattr(desc, "_draw", None)
    if draw is None:
        draw = random.next_draw(name)
        if type(desc) is not str:  # a plain str name draws anew at every call
            desc._draw = draw  # every replica of this initialization takes the same stream
    if draw:  # the first initialization of a name keeps the stream it always had
        salt = salt + random.encode_salt(f"draw {draw}")
    return random.salted_param_key(name, salt), 0


def _check_float(raw: Any, desc: Any) -> None:
    dtype = dtype_name(raw.dtype)
    if dtype not in FILL_DTYPES:
        raise MXNetError(_MSG_BAD_DTYPE.format(dtype=dtype, name=str(desc) or "an unnamed array"))


def random_fill(
    arr: Any, kind: str, p0: float, p1: float, key: tuple[int, int], offset: int, desc: Any = ""
) -> None:
    """Fill ``arr`` in place on its device with ``kind`` (``'uniform'``/``'normal'``) draws.

    Raises:
        MXNetError: ``arr`` is not of a floating-point dtype.
    """
    from mxlite import ops

    raw = raw_of(arr)
    _check_float(raw, desc)
    if raw.size == 0:
        return
    fill = ops.fill_uniform if kind == "uniform" else ops.fill_normal
    with backend.device_guard(ctx_of(arr)):
        fill(raw, p0, p1, key, offset)  # any strides: views are written in place


def execute(plan: FillPlan, arr: Any, desc: Any = "") -> None:
    """Carry out ``plan`` on one array."""
    if plan.kind == "constant":
        constant(arr, plan.params[0])
        return
    if plan.key is None:  # pragma: no cover - planners always set keys for random kinds
        raise MXNetError(f"internal: random fill plan without a stream key for {desc}")
    random_fill(arr, plan.kind, plan.params[0], plan.params[1], plan.key, plan.offset, desc)


def is_real_scalar(value: Any) -> bool:
    """True for int/float/bool scalars (Python or NumPy), which ``ops.fill_constant`` takes."""
    return isinstance(value, (numbers.Real, np.generic)) and not isinstance(
        value, (complex, np.complexfloating)
    )


def constant(arr: Any, value: Any) -> None:
    """Set every element of ``arr`` to the scalar ``value`` (converted to its dtype)."""
    from mxlite import ops

    raw = raw_of(arr)
    if raw.size == 0:
        return
    with backend.device_guard(ctx_of(arr)):
        if is_real_scalar(value):
            ops.fill_constant(raw, value)
        else:
            raw[...] = value


def write(arr: Any, value: Any) -> None:
    """``arr[:] = value`` for array-like values (lists, numpy/cupy arrays, NDArrays anywhere).

    Raises:
        ValueError: ``value`` cannot be broadcast to ``arr``'s shape.
    """
    raw = raw_of(arr)
    ctx = ctx_of(arr)
    src = raw_of(value)
    with backend.device_guard(ctx):
        xp = backend.xp_of(raw)
        if isinstance(src, (list, tuple)) or np.isscalar(src):
            src = np.asarray(src)
        src = backend.to_ctx(src, ctx) if backend.xp_of(src) is not xp else src
        try:
            xp.broadcast_to(src, raw.shape)
        except ValueError as err:
            raise ValueError(
                f"operands could not be broadcast together: a value of shape {tuple(src.shape)} cannot "
                f"initialize an array of shape {tuple(raw.shape)}. Give a scalar or a value whose shape "
                "broadcasts to the parameter's shape."
            ) from err
        raw[...] = src.astype(raw.dtype, copy=False)


def bilinear_weights(arr: Any) -> Any:
    """MXNet's bilinear upsampling kernel for ``arr``'s shape, as float32 on ``arr``'s device.

    For flat index ``i``: ``x = i % shape[3]``, ``y = (i // shape[3]) % shape[2]``,
    ``f = ceil(shape[3] / 2)``, ``c = (2f - 1 - f % 2) / (2f)``,
    ``w = (1 - |x / f - c|) * (1 - |y / f - c|)`` (float64, rounded to float32 once).

    Raises:
        InitShapeError: ``arr`` has fewer than 4 dimensions.
    """
    from mxlite.initializers.base import InitShapeError

    shape = tuple(int(d) for d in raw_of(arr).shape)
    if len(shape) < 4:
        raise InitShapeError(
            f"Bilinear initializer needs a 4-D weight (out_channels, in_channels, height, width); got shape {shape}"
        )
    raw = raw_of(arr)
    with backend.device_guard(ctx_of(arr)):
        xp = backend.xp_of(raw)
        idx = xp.arange(raw.size, dtype=xp.int64)
        f = float(np.ceil(shape[3] / 2.0))
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        x = (idx % shape[3]).astype(xp.float64)
        y = ((idx // shape[3]) % shape[2]).astype(xp.float64)
        weight = (1 - xp.abs(x / f - c)) * (1 - xp.abs(y / f - c))
        return weight.astype(xp.float32).reshape(shape)


def random_int8(desc: Any, arr: Any, target: Any) -> int:
    """One integer in [-127, 127), drawn from ``desc``'s stream (MXNet broadcasts a single draw)."""
    key, offset = stream_key(desc, target, arr)
    one = np.empty((1,), dtype=np.float64)
    from mxlite import ops

    ops.fill_uniform(one, 0.0, 1.0, key, offset)
    return int(np.floor(-127.0 + 254.0 * float(one[0])))
