"""Parametric activations and dropout of ``mx.nd``: LeakyReLU (``leaky``, ``prelu``, ``elu``,
``selu``, ``gelu``) and Dropout.

Each is one op with one autograd node: ``leaky_relu`` (attrs ``act``, ``slope``; the rule reads
the input), ``prelu`` (two inputs, the data and ``gamma``; attr ``gshape``: ``gamma``'s shape
aligned to the data as MXNet aligns it) and ``Dropout`` (attr ``mask``: the kept elements
scaled by ``1 / (1 - p)``, in the data's dtype).

Dropout masks come from mxlite's counter-based ad-hoc stream (:func:`mxlite.random.next_adhoc`,
uniform float32 draws ``u``, an element is kept where ``u >= p``): after ``mx.random.seed(s)``
the same sequence of calls drops the same elements on every device. MXNet's masks come from its
own generator, so they differ from MXNet's bit for bit; the drop rate, scaling and ``axes``
sharing are MXNet's. ``p = 1`` drops everything (MXNet 1.9.1 returns NaN there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import autograd
from mxlite.base import MXNetError
from mxlite.ndarray._op_args import accepts_out, check_choice, check_float, shape_text
from mxlite.ndarray.ndarray import NDArray, as_raw, autograd_record, on_device, out_ctx, same_ctx

__all__ = ["LeakyReLU", "Dropout", "SELU_ALPHA", "SELU_LAMBDA"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946

_ACT_TYPES = ("elu", "gelu", "leaky", "prelu", "rrelu", "selu")
_MSG_GAMMA = (
    "LeakyReLU: Operator LeakyReLU expects 2 inputs, but got 1 instead: act_type='prelu' needs "
    "gamma=<NDArray of slopes>."
)
_MSG_GAMMA_SHAPE = (
    "LeakyReLU: Cannot broadcast gamma to data. gamma: {gamma}, data: {data}; gamma must match "
    "the data's axis 1 (or axis 0 of a 2-d input with as many rows), or have size 1."
)
_MSG_RRELU = (
    "LeakyReLU(act_type='rrelu') is not supported by mxlite; use 'leaky' with a fixed slope "
    "or 'prelu' with a learned one."
)
_MSG_P = (
    "Dropout: value {p} for Parameter p exceed bound [0,1] (p is the fraction of the input "
    "that gets dropped)."
)
_MSG_AXES = "Dropout: axes index = {axis} must be in range [0, {ndim})"


def gamma_shape(gamma: tuple[int, ...], data: tuple[int, ...]) -> tuple[int, ...]:
    """``gamma``'s shape aligned to ``data`` as MXNet's ``expand_shape``: scanning from the
    last axis, a gamma dimension may only land on axis 0 or 1, where it equals the data's or
    is 1; the other axes get 1.

    Raises:
        MXNetError: gamma cannot be placed that way.
    """
    result = [1] * len(data)
    s = len(gamma) - 1
    for i in range(len(data) - 1, -1, -1):
        if s >= 0 and i <= 1 and (data[i] == gamma[s] or gamma[s] == 1):
            result[i] = gamma[s]
            s -= 1
    if s != -1:
        raise MXNetError(_MSG_GAMMA_SHAPE.format(gamma=shape_text(gamma), data=shape_text(data)))
    return tuple(result)


def param32(value: float) -> float:
    """``value`` rounded to float32: MXNet keeps the float parameters of its operators (slope,
    SELU's constants) in float32, also for float64 data."""
    return float(np.float32(value))


def _elementwise(xp: Any, a: Any, act: str, slope: float) -> Any:
    """The activation ``act`` (leaky, elu or selu) on the raw float array ``a``, in its dtype.

    float32 ELU is ``slope * (exp(x) - 1)`` as MXNet's oneDNN kernel computes it (so ``-0.0``
    gives ``+0.0`` and small inputs round as there); other dtypes use ``expm1``.
    """
    dt = a.dtype.type
    if act == "leaky":
        return xp.where(a > 0, a, a * dt(slope))
    if act == "elu":
        em1 = xp.exp(a) - dt(1) if a.dtype == np.float32 else xp.expm1(a)
        return xp.where(a > 0, a, em1 * dt(slope))
    neg = xp.expm1(a) * dt(param32(SELU_ALPHA))  # selu
    return xp.where(a > 0, a, neg) * dt(param32(SELU_LAMBDA))


def gelu_cdf(a: Any) -> Any:
    """``Phi(a) = 0.5 * (1 + erf(a / sqrt(2)))``, the standard normal CDF, in ``a``'s dtype."""
    from mxlite.ops.special import erf  # noqa: PLC0415 - Numba/CuPy on first use

    dt = a.dtype.type
    return (dt(0.5) * (dt(1) + erf(a * dt(1 / np.sqrt(2.0))))).astype(a.dtype, copy=False)


@accepts_out
@on_device
def LeakyReLU(  # noqa: N802 - MXNet's name
    data: NDArray,
    gamma: NDArray | None = None,
    act_type: str = "leaky",
    slope: float = 0.25,
    lower_bound: float = 0.125,
    upper_bound: float = 0.334,
    **kwargs: Any,
) -> NDArray:
    """Leaky rectifiers and their relatives, elementwise:

    * ``leaky``: ``x if x > 0 else slope * x``;
    * ``prelu``: ``x if x > 0 else gamma * x`` (``gamma`` broadcast along axis 1, see
      :func:`gamma_shape`);
    * ``elu``: ``x if x > 0 else slope * (exp(x) - 1)``;
    * ``selu``: ``lambda * (x if x > 0 else alpha * (exp(x) - 1))`` with SELU's constants;
    * ``gelu``: ``x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))`` (exact, as MXNet).

    NaN inputs give NaN. The gradient at 0 (and -0) is that of the ``x <= 0`` branch; at NaN it
    is the ``x > 0`` branch's 1 for float32 ``leaky``/``elu`` (MXNet's oneDNN kernels), else the
    other branch's (``slope`` for ``leaky``, NaN for ``elu``), as MXNet 1.9.1. ``slope`` and
    SELU's constants are rounded to float32, as MXNet stores them.

    Raises:
        MXNetError: unknown ``act_type``, a non-float input, or ``prelu`` without a fitting
            ``gamma``.
        NotImplementedError: ``act_type='rrelu'``.
    """
    check_choice("LeakyReLU", "act_type", act_type, _ACT_TYPES)
    check_float("LeakyReLU", data._data)
    xp, a = data._xp, data._data
    if act_type == "rrelu":
        raise NotImplementedError(_MSG_RRELU)
    if act_type == "prelu":
        if gamma is None:
            raise MXNetError(_MSG_GAMMA)
        ctx = same_ctx("LeakyReLU", data, gamma)
        gshape = gamma_shape(gamma.shape, data.shape)
        g = as_raw(gamma, data).reshape(gshape).astype(a.dtype, copy=False)
        result = type(data)(xp.where(a > 0, a, a * g), out_ctx(ctx))
        autograd_record("prelu", [data, gamma], result, gshape=gshape)
        return result
    work = a.astype(np.float32) if a.dtype == np.float16 else a  # float16: computed in float32
    with np.errstate(all="ignore"):
        if act_type == "gelu":
            cdf = gelu_cdf(work)
            res = (work * cdf).astype(a.dtype, copy=False)
        else:
            cdf = None
            res = _elementwise(xp, work, act_type, param32(slope)).astype(a.dtype, copy=False)
    result = type(data)(res, out_ctx(data.context))
    autograd_record("leaky_relu", [data], result, act=act_type, slope=param32(slope), cdf=cdf)
    return result


def _dropout_mask(
    xp: Any, shape: tuple[int, ...], axes: Sequence[int], p: float, dtype: np.dtype
) -> Any:
    """Kept elements as ``1 / (1 - p)``, dropped ones as 0, of ``shape`` with the ``axes``
    collapsed to 1 (shared along them), drawn from the ad-hoc stream."""
    import mxlite.random as counter_rng  # noqa: PLC0415
    from mxlite import ops  # noqa: PLC0415

    mask_shape = tuple(1 if i in axes else d for i, d in enumerate(shape))
    u = xp.empty(mask_shape, dtype=np.float32)
    key, offset = counter_rng.next_adhoc(int(u.size))
    ops.fill_uniform(u, 0.0, 1.0, key, offset)
    if p >= 1.0:
        return xp.zeros(mask_shape, dtype=dtype)
    keep = u >= np.float32(p)
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))


@accepts_out
@on_device
def Dropout(  # noqa: N802 - MXNet's name
    data: NDArray,
    p: float = 0.5,
    mode: str = "training",
    axes: Sequence[int] = (),
    cudnn_off: bool = False,
    **kwargs: Any,
) -> NDArray:
    """Zero a fraction ``p`` of the elements and scale the others by ``1 / (1 - p)``.

    Active in training mode (``autograd.record()`` or ``autograd.train_mode()``) or with
    ``mode='always'``; otherwise a copy of ``data``. ``axes`` lists axes along which one mask
    value is shared (e.g. ``axes=(1,)`` drops whole rows of a ``(batch, features)`` input).

    Raises:
        MXNetError: ``p`` outside ``[0, 1]``, unknown ``mode``, an axis out of range, or a
            non-float input.
    """
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise MXNetError(_MSG_P.format(p=p))
    check_choice("Dropout", "mode", mode, ("always", "training"))
    check_float("Dropout", data._data)
    ndim = data.ndim
    for ax in axes:
        if not 0 <= int(ax) < ndim:
            raise MXNetError(_MSG_AXES.format(axis=ax, ndim=ndim))
    xp, a = data._xp, data._data
    if p == 0.0 or (mode == "training" and not autograd.is_training()):
        result = type(data)(a.copy(), out_ctx(data.context))
        autograd_record("identity", [data], result)
        return result
    mask = _dropout_mask(xp, data.shape, [int(ax) for ax in axes], p, a.dtype)
    result = type(data)(a * mask, out_ctx(data.context))
    autograd_record("Dropout", [data], result, mask=mask)
    return result
