"""MXNet 1.9.1's single-tensor optimizer operators: ``mx.nd.sgd_update``, ``adam_update``, ...

Each operator writes the updated weight into ``out`` (pass ``out=weight`` for the usual in-place
update; without ``out`` a new array is returned and the weight is left alone) and updates its
states (momentum, mean, ...) in place, as MXNet does. Scalars reach the kernels exactly as
MXNet's parameter parser reads them (:mod:`mxlite.ndarray._kernel_params`), so results match
MXNet bit for bit on float16/32/64 (``lr`` of a float64 weight is a float32 value, as in MXNet).

SGD, NAG and Adam (and their ``mp_`` multi-precision forms) run on the fused multi-tensor
kernels of :mod:`mxlite.ops.multi_optimizer`, whose numerics are those of MXNet's kernels:

* ``sgd_update``: ``w = (1 - lr * wd) * w - lr * clip(rescale_grad * grad)``
* ``sgd_mom_update``: ``mom = momentum * mom - (lr * wd) * w - lr * clip(rescale_grad * grad)``;
  ``w = w + mom``
* ``nag_mom_update``: ``mom = momentum * mom``; ``w' = w - mom + (momentum + 1) * (mom - lr *
  (clip(rescale_grad * grad) + wd * w))``; ``mom = mom - lr * (clip(...) + wd * w)`` where ``w``
  is the *new* weight when ``out`` is the weight (MXNet's kernel runs in place) and the old one
  otherwise.
* ``adam_update``: ``g = clip(rescale_grad * grad + wd * w)``; ``mean = beta1 * mean + (1 -
  beta1) * g``; ``var = beta2 * var + (1 - beta2) * g * g``; ``w = w - lr * mean / (sqrt(var) +
  epsilon)`` (no bias correction: the caller folds it into ``lr``).

``mp_*`` forms take float16 weights (any float dtype is accepted, as in MXNet) with float32
master copies ``weight32`` (and float32 states): the math runs on the master copy, which is
updated in place, and the weight receives its rounded value. ``clip_gradient < 0`` disables
clipping; ``clip_gradient = 0`` clips to zero (MXNet's ``>= 0`` test).

The RMSProp, Ftrl, FTML and Signum operators are in :mod:`mxlite.ndarray.op_update_rules`, the
LAMB and LARS ones in :mod:`mxlite.ndarray.op_lamb`, the multi-tensor ones in
:mod:`mxlite.ndarray.op_multi_optimizer`; this module's :data:`SPECS`, :func:`prepare` and
:func:`weight_target` serve them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.ndarray import _update_rules as rules
from mxlite.ndarray._kernel_params import REQUIRED, ParamSpec
from mxlite.ndarray._update_checks import (
    arrays_of,
    check_real,
    check_shapes,
    check_types,
    new_or_out,
    same_buffer,
    staged,
)
from mxlite.ndarray.ndarray import NDArray, on_device, out_ctx
from mxlite.ops import multi_optimizer

__all__ = [
    "sgd_update",
    "sgd_mom_update",
    "mp_sgd_update",
    "mp_sgd_mom_update",
    "nag_mom_update",
    "mp_nag_mom_update",
    "adam_update",
]

F16, F32 = np.dtype(np.float16), np.dtype(np.float32)
Raw = Any

LR = ("float", REQUIRED)
COMMON = {"wd": ("float", 0.0), "rescale_grad": ("float", 1.0), "clip_gradient": ("float", -1.0)}
_LAZY = {"lazy_update": ("boolean", True)}
_SGD_FIELDS = {"lr": LR, **COMMON, **_LAZY}
MOM_FIELDS = {"lr": LR, "momentum": ("float", 0.0), **COMMON}
_SPECS = {
    "sgd_update": _SGD_FIELDS,
    "mp_sgd_update": _SGD_FIELDS,
    "sgd_mom_update": {**MOM_FIELDS, **_LAZY},
    "mp_sgd_mom_update": {**MOM_FIELDS, **_LAZY},
    "nag_mom_update": MOM_FIELDS,
    "mp_nag_mom_update": MOM_FIELDS,
    "adam_update": {
        "lr": LR, "beta1": ("float", 0.9), "beta2": ("float", 0.999),
        "epsilon": ("float", 1e-8), **COMMON, **_LAZY,
    },
}  # fmt: skip
SPECS = {op: ParamSpec(op, fields) for op, fields in _SPECS.items()}


# ------------------------------------------------------------------------------ helpers
def prepare(
    op: str, named: list[tuple[str, Any]], out: Any, float32: tuple[str, ...] = ()
) -> list[NDArray]:
    """Check an operator's inputs as MXNet's shape and type inference do; return them.

    ``float32`` names the inputs that must be float32 (master copies, multi-precision states);
    the others and ``out`` must have the first input's shape and dtype.
    """
    arrays = arrays_of(op, named)
    indexed = list(enumerate(arrays))
    check_shapes(op, indexed, [out])
    plain = [(i, a) for i, a in indexed if named[i][0] not in float32]
    typed32 = [(named[i][0], a) for i, a in indexed if named[i][0] in float32]
    check_types(op, plain, [out], typed32)
    check_real(op, arrays[0])
    return arrays


def weight_target(weight: NDArray, out: NDArray | None) -> NDArray:
    """The array an update writes: ``out`` holding a copy of the weight (the weight itself when
    ``out`` is it), or a new copy of the weight."""
    if out is None:
        return type(weight)(weight._data.copy(), out_ctx(weight.context))
    if not same_buffer(out._data, weight._data):
        out._data[...] = weight._data
    return out


def _fused(
    fn: Callable[..., None],
    weight: NDArray,
    grad: NDArray,
    states: list[NDArray | None],
    weight32: NDArray | None,
    out: NDArray | None,
    p: dict[str, Any],
    params: tuple[float, ...],
) -> NDArray:
    """One fused launch of ``fn`` (a :mod:`mxlite.ops.multi_optimizer` update) on one tensor:
    on the weight (copied into ``out`` first), or on the master copy ``weight32``."""
    lists = [None if s is None else [s._data] for s in states]

    def launch(w: Any, g: Any, masters: Any, *slots: Any) -> None:
        fn(
            w, g, *slots, [p["lr"]], [p["wd"]], *params, p["rescale_grad"], p[_clip_key(p)],
            weights32=masters,
        )  # fmt: skip

    if weight32 is None:
        result = weight_target(weight, out)
        staged(launch, [result._data], [grad._data], None, *lists)
        return result
    result = new_or_out(weight, out)
    if weight._data.dtype == F16:  # the float16 kernel with float32 master copies
        staged(launch, [result._data], [grad._data], [weight32._data], *lists)
    else:  # MXNet's mp kernels accept any weight dtype: run the float32 kernel on the master
        staged(launch, [weight32._data], [grad._data.astype(F32)], None, *lists)
        result._data[...] = weight32._data.astype(result._data.dtype)
    return result


def _clip_key(p: dict[str, Any]) -> str:
    return "clip_gradient" if "clip_gradient" in p else "clip_grad"


def given(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments as a dict (for :meth:`ParamSpec.parse`)."""
    return kwargs


# ------------------------------------------------------------------------------ SGD, NAG, Adam
@on_device
def sgd_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    lr: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    lazy_update: bool | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """SGD step: ``out = (1 - lr * wd) * weight - lr * clip(rescale_grad * grad)``.

    Args:
        weight, grad: NDArrays of one shape and float dtype.
        lr: learning rate (required); wd: weight decay (0); rescale_grad: gradient scale (1);
        clip_gradient: clip bound (-1: none); lazy_update: accepted (mxlite is dense).
        out: where the new weight goes (``out=weight`` updates in place).

    Returns:
        ``out``, or a new array.

    Raises:
        MXNetError: missing ``lr`` or inputs, unknown arguments, shape/dtype mismatch.
    """
    p = SPECS["sgd_update"].parse(
        given(lr=lr, wd=wd, rescale_grad=rescale_grad, clip_gradient=clip_gradient,
               lazy_update=lazy_update, **kwargs)
    )  # fmt: skip
    w, g = prepare("sgd_update", [("weight", weight), ("grad", grad)], out)
    return _fused(multi_optimizer.multi_nag_update, w, g, [None], None, out, p, (0.0,))


@on_device
def sgd_mom_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    mom: NDArray | None = None,
    lr: float | None = None,
    momentum: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    lazy_update: bool | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """SGD with momentum: ``mom = momentum * mom - (lr * wd) * weight - lr * clip(rescale_grad *
    grad)`` (in place), ``out = weight + mom``. Arguments as :func:`sgd_update`, plus ``mom``
    (weight's shape and dtype) and ``momentum`` (0)."""
    p = SPECS["sgd_mom_update"].parse(
        given(lr=lr, momentum=momentum, wd=wd, rescale_grad=rescale_grad,
               clip_gradient=clip_gradient, lazy_update=lazy_update, **kwargs)
    )  # fmt: skip
    named = [("weight", weight), ("grad", grad), ("mom", mom)]
    w, g, m = prepare("sgd_mom_update", named, out)
    return _fused(multi_optimizer.multi_sgd_update, w, g, [m], None, out, p, (p["momentum"],))


@on_device
def mp_sgd_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    weight32: NDArray | None = None,
    lr: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    lazy_update: bool | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """:func:`sgd_update` on the float32 master copy ``weight32`` (updated in place); ``out``
    receives it in the weight's dtype."""
    p = SPECS["mp_sgd_update"].parse(
        given(lr=lr, wd=wd, rescale_grad=rescale_grad, clip_gradient=clip_gradient,
               lazy_update=lazy_update, **kwargs)
    )  # fmt: skip
    named = [("weight", weight), ("grad", grad), ("weight32", weight32)]
    w, g, w32 = prepare("mp_sgd_update", named, out, ("weight32",))
    return _fused(multi_optimizer.multi_nag_update, w, g, [None], w32, out, p, (0.0,))


@on_device
def mp_sgd_mom_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    mom: NDArray | None = None,
    weight32: NDArray | None = None,
    lr: float | None = None,
    momentum: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    lazy_update: bool | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """:func:`sgd_mom_update` on the float32 master copy ``weight32`` with a float32 ``mom``
    (both updated in place); ``out`` receives the weight in its dtype."""
    p = SPECS["mp_sgd_mom_update"].parse(
        given(lr=lr, momentum=momentum, wd=wd, rescale_grad=rescale_grad,
               clip_gradient=clip_gradient, lazy_update=lazy_update, **kwargs)
    )  # fmt: skip
    named = [("weight", weight), ("grad", grad), ("mom", mom), ("weight32", weight32)]
    w, g, m, w32 = prepare("mp_sgd_mom_update", named, out, ("mom", "weight32"))
    return _fused(multi_optimizer.multi_sgd_update, w, g, [m], w32, out, p, (p["momentum"],))


def _nag_apart(target: Raw, weight: Raw, grad: Raw, mom: Raw, p: dict[str, Any]) -> None:
    """``nag_mom_update`` into an ``out`` other than the weight: MXNet's kernel then reads the
    old weight for the momentum, which becomes the inner term of the weight's update."""
    xp = backend.xp_of(weight)
    t = weight.dtype.type
    term = xp.multiply(grad, t(p["rescale_grad"]))
    rules.clip_inplace(xp, term, p["clip_gradient"])
    mom *= t(p["momentum"])
    term += xp.multiply(weight, t(p["wd"]))
    term *= t(p["lr"])
    inner = xp.subtract(mom, term)
    new = xp.subtract(weight, mom)
    new += xp.multiply(inner, t(p["momentum"]) + t(1.0))
    target[...] = new
    mom[...] = inner


@on_device
def nag_mom_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    mom: NDArray | None = None,
    lr: float | None = None,
    momentum: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """Nesterov momentum step (formula in the module docstring); ``mom`` updated in place.
    Arguments as :func:`sgd_mom_update` (no ``lazy_update``)."""
    p = SPECS["nag_mom_update"].parse(
        given(lr=lr, momentum=momentum, wd=wd, rescale_grad=rescale_grad,
               clip_gradient=clip_gradient, **kwargs)
    )  # fmt: skip
    named = [("weight", weight), ("grad", grad), ("mom", mom)]
    w, g, m = prepare("nag_mom_update", named, out)
    if out is not None and same_buffer(out._data, w._data):
        return _fused(multi_optimizer.multi_nag_update, w, g, [m], None, out, p, (p["momentum"],))
    result = new_or_out(w, out)
    with np.errstate(all="ignore"):
        _nag_apart(result._data, w._data, g._data, m._data, p)
    return result


@on_device
def mp_nag_mom_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    mom: NDArray | None = None,
    weight32: NDArray | None = None,
    lr: float | None = None,
    momentum: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """:func:`nag_mom_update` on the float32 master copy ``weight32`` with a float32 ``mom``
    (both updated in place; the momentum reads the new master weight)."""
    p = SPECS["mp_nag_mom_update"].parse(
        given(lr=lr, momentum=momentum, wd=wd, rescale_grad=rescale_grad,
               clip_gradient=clip_gradient, **kwargs)
    )  # fmt: skip
    named = [("weight", weight), ("grad", grad), ("mom", mom), ("weight32", weight32)]
    w, g, m, w32 = prepare("mp_nag_mom_update", named, out, ("mom", "weight32"))
    return _fused(multi_optimizer.multi_nag_update, w, g, [m], w32, out, p, (p["momentum"],))


@on_device
def adam_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    mean: NDArray | None = None,
    var: NDArray | None = None,
    lr: float | None = None,
    beta1: float | None = None,
    beta2: float | None = None,
    epsilon: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    lazy_update: bool | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """Adam step without bias correction (formula in the module docstring); ``mean`` and ``var``
    updated in place. Defaults: beta1 0.9, beta2 0.999, epsilon 1e-8, wd 0, rescale_grad 1,
    clip_gradient -1."""
    p = SPECS["adam_update"].parse(
        given(lr=lr, beta1=beta1, beta2=beta2, epsilon=epsilon, wd=wd,
               rescale_grad=rescale_grad, clip_gradient=clip_gradient, lazy_update=lazy_update,
               **kwargs)
    )  # fmt: skip
    named = [("weight", weight), ("grad", grad), ("mean", mean), ("var", var)]
    w, g, m, v = prepare("adam_update", named, out)
    params = (p["beta1"], p["beta2"], p["epsilon"])
    return _fused(multi_optimizer.multi_adam_update, w, g, [m, v], None, out, p, params)
