"""``mx.nd.random``: draws from mxlite's counter-based global stream: uniform, normal, randn,
randint, shuffle and multinomial.

Every draw takes the next span of the ad-hoc Philox stream (:func:`mxlite.random.next_adhoc`),
so a seeded sequence of calls gives the same numbers on every device; the numbers differ from
MXNet's own generator, the distributions do not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from mxlite import backend
from mxlite.base import CheckError, MXNetError
from mxlite.context import Context
from mxlite.ndarray import creation
from mxlite.ndarray._op_args import out_dtype
from mxlite.ndarray.ndarray import NDArray, autograd_record

__all__ = ["uniform", "normal", "randn", "randint", "shuffle", "multinomial"]


def _target(shape: Any, dtype: Any, ctx: Context | None, out: NDArray | None) -> NDArray:
    if out is not None:
        return out
    shp = (shape,) if isinstance(shape, int) else tuple(shape or (1,))
    return creation.make("empty", shp, ctx, dtype, NDArray)


def _draw(
    fill: str,
    p0: float,
    p1: float,
    shape: Any,
    dtype: Any,
    ctx: Context | None,
    out: NDArray | None,
) -> NDArray:
    """Fill a new array (or ``out``) with ``ops.<fill>`` from the next span of the ad-hoc stream."""
    import mxlite.random as counter_rng
    from mxlite import ops

    res = _target(shape, dtype, ctx, out)
    key, offset = counter_rng.next_adhoc(res.size)
    getattr(ops, fill)(res._data, p0, p1, key, offset)
    return res


_MSG_UNIFORM_RANGE = (
    "low must be less or equal to high in uniform distribution (low={low}, high={high})"
)
_MSG_MIXED_PARAMS = (
    "Distribution parameters must all have the same type, but got both {a} and {b}. Pass "
    "NDArrays for every parameter (one distribution per element) or scalars for all."
)


def _per_element(*params: Any) -> bool:
    """Whether the distribution parameters are NDArrays (one distribution per element).

    Raises:
        CheckError: NDArrays mixed with scalars.
    """
    kinds = [isinstance(p, NDArray) for p in params]
    if all(kinds):
        return True
    if any(kinds):
        a, b = (type(p) for p in params[:2])
        raise CheckError(_MSG_MIXED_PARAMS.format(a=a, b=b))
    return False


def uniform(
    low: float | NDArray = 0.0,
    high: float | NDArray = 1.0,
    shape: int | Sequence[int] | None = None,
    dtype: Any = None,
    ctx: Context | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Draw from U[low, high) on ``ctx`` (or into ``out``); advances the global counter.

    NDArray ``low`` and ``high`` give one distribution per element
    (:func:`mxlite.ndarray.random_aliases.sample_uniform`), as in MXNet.

    Raises:
        MXNetError: ``low > high``.
        CheckError: NDArray and scalar parameters mixed (an AssertionError too, as MXNet's).
    """
    if _per_element(low, high):
        from mxlite.ndarray.random_aliases import sample_uniform

        return sample_uniform(cast(NDArray, low), cast(NDArray, high), shape, dtype, out)
    lo, hi = cast(float, low), cast(float, high)
    if lo > hi:
        raise MXNetError(_MSG_UNIFORM_RANGE.format(low=lo, high=hi))
    return _draw("fill_uniform", lo, hi, shape, dtype, ctx, out)


def normal(
    loc: float | NDArray = 0.0,
    scale: float | NDArray = 1.0,
    shape: int | Sequence[int] | None = None,
    dtype: Any = None,
    ctx: Context | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Draw from N(loc, scale**2) on ``ctx`` (or into ``out``); advances the global counter.

    NDArray ``loc`` and ``scale`` give one distribution per element
    (:func:`mxlite.ndarray.random_aliases.sample_normal`), as in MXNet.

    Raises:
        CheckError: NDArray and scalar parameters mixed (an AssertionError too, as MXNet's).
    """
    if _per_element(loc, scale):
        from mxlite.ndarray.random_aliases import sample_normal

        return sample_normal(cast(NDArray, loc), cast(NDArray, scale), shape, dtype, out)
    return _draw("fill_normal", cast(float, loc), cast(float, scale), shape, dtype, ctx, out)


def randn(
    *shape: int,
    loc: float = 0.0,
    scale: float = 1.0,
    dtype: Any = None,
    ctx: Context | None = None,
    **kwargs: Any,
) -> NDArray:
    """Standard normal draws of the given shape."""
    return normal(loc, scale, shape, dtype, ctx)


_RANDINT_DTYPES = ("int32", "int64")
_MULTINOMIAL_DTYPES = ("float16", "float32", "float64", "int32", "uint8")
_MSG_RANGE = (
    "randint: low must be less than high, got low={low}, high={high} (the draws are integers "
    "in [low, high))."
)
_MSG_BOUND = "randint: Invalid Parameter format for {name} expect long but value='{value}'"


def uniform_raw(shape: tuple[int, ...], ctx: Context | None) -> Any:
    """Raw float64 draws from ``[0, 1)`` of ``shape`` on ``ctx``, from the ad-hoc stream (the
    same numbers on every device for the same seed and call sequence)."""
    import mxlite.random as counter_rng
    from mxlite import ops

    res = creation.make("empty", shape, ctx, "float64", NDArray)
    key, offset = counter_rng.next_adhoc(res.size)
    ops.fill_uniform(res._data, 0.0, 1.0, key, offset)
    return res._data


def _int_bound(name: str, value: Any) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise MXNetError(_MSG_BOUND.format(name=name, value=value))
    return int(value)


def randint(
    low: int,
    high: int,
    shape: int | Sequence[int] | None = None,
    dtype: Any = None,
    ctx: Context | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Integers drawn uniformly from ``[low, high)``; int32 by default (``dtype``: int32 or
    int64); advances the global counter.

    Raises:
        MXNetError: non-integer bounds, ``low >= high`` (MXNet 1.9.1 crashes on ``low ==
            high``), or another dtype.
    """
    lo, hi = _int_bound("low", low), _int_bound("high", high)
    if lo >= hi:
        raise MXNetError(_MSG_RANGE.format(low=lo, high=hi))
    dt = out_dtype("_random_randint", "int32" if dtype is None else dtype, _RANDINT_DTYPES)
    target = _target(shape, dt, ctx, out)
    u = uniform_raw(target.shape, target.context)
    xp = target._xp
    with backend.array_device_guard(target._data):
        vals = xp.floor(u * float(hi - lo)) + float(lo)
        target._data[...] = xp.minimum(vals, float(hi - 1)).astype(target._data.dtype)
    return target


def shuffle(data: NDArray, **kwargs: Any) -> NDArray:
    """A copy of ``data`` with its first axis randomly permuted (``data`` is not changed);
    advances the global counter."""
    order = permutation_raw(data.shape[0] if data.ndim else 1, data)
    with backend.array_device_guard(data._data):
        res = data._data[order] if data.ndim else data._data.copy()
    return type(data)(res, data.context)


def permutation_raw(n: int, like: NDArray) -> Any:
    """A random permutation of ``range(n)`` (int64, on ``like``'s device): the stable order of
    ``n`` uniform draws."""
    keys = uniform_raw((n,), like.context)
    xp = like._xp
    with backend.array_device_guard(keys):
        return xp.argsort(keys, kind="stable") if xp is np else xp.argsort(keys)


def multinomial(
    data: NDArray,
    shape: int | Sequence[int] | None = None,
    get_prob: bool = False,
    out: NDArray | None = None,
    dtype: Any = "int32",
    **kwargs: Any,
) -> Any:
    """Category indices drawn from the distributions along ``data``'s last axis.

    Output shape ``data.shape[:-1] + shape`` (``shape`` draws per distribution; one when None).
    A draw ``u`` gives the first category whose cumulative probability exceeds ``u`` (the last
    one if none does, as MXNet). With ``get_prob`` the log-probabilities of the drawn
    categories come too, ``[samples, log_probs]``; their gradient reaches ``data`` (for
    REINFORCE-style estimators).

    Raises:
        MXNetError: an unknown ``dtype``.
    """
    dt = out_dtype("_sample_multinomial", dtype, _MULTINOMIAL_DTYPES)
    extra = () if shape is None else ((shape,) if isinstance(shape, int) else tuple(shape))
    xp, p = data._xp, data._data
    batch = p.shape[:-1]
    if not batch and not extra and not data._numpy_semantics():
        extra = (1,)  # one draw from a single distribution: shape (1,), as MXNet's legacy arrays
    draws = max(int(np.prod(extra, dtype=np.int64)), 1)
    u = uniform_raw(batch + (draws,), data.context)
    with backend.array_device_guard(p):
        cdf = xp.cumsum(p.astype(np.float64), axis=-1)
        hits = (xp.expand_dims(cdf, -2) <= xp.expand_dims(u, -1)).sum(axis=-1)
        idx = xp.minimum(hits, p.shape[-1] - 1).reshape(batch + extra)
        samples = type(data)(idx.astype(dt), data.context)
        if out is not None:
            out._data[...] = samples._data.astype(out._data.dtype)
            samples = out
        if not get_prob:
            return samples
        flat_idx = idx.reshape(batch + (-1,))
        chosen = xp.take_along_axis(p, flat_idx, axis=-1)
        with np.errstate(all="ignore"):
            logp = xp.log(chosen).reshape(batch + extra).astype(p.dtype)
    log_probs = type(data)(logp, data.context)
    autograd_record("multinomial_logp", [data], log_probs, index=flat_idx)
    return [samples, log_probs]
