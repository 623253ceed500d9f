"""MXNet 1.9.1's LAMB and LARS operators: ``mx.nd.lamb_update_phase1/2`` (and ``mp_``),
``mx.nd.multi_lars``, ``mx.nd.multi_sum_sq``, ``mx.nd.contrib.multi_(mp_)lamb_update``.

LAMB (You et al., arXiv:1904.00962) in two phases: phase 1 updates the moments in place and
returns the step direction ``g`` (into ``out`` when given); phase 2 writes ``weight - lr' * g``
with the trust ratio ``lr' = lr * r1 / r2`` (``r1`` the weight's norm, clipped to
``[lower_bound, upper_bound]``; ``r2`` the norm of ``g``; ``lr`` alone when either is 0).
``multi_(mp_)lamb_update`` does both for up to 45 tensors, with its own norms (sums of squares).
``multi_lars`` turns per-layer learning rates into LARS rates from sums of squares. Formulas and
MXNet's arithmetic details are in :mod:`mxlite.ndarray._lamb_rules`; the results equal MXNet's
CPU operators bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite.base import MXNetError
from mxlite.ndarray import _lamb_rules
from mxlite.ndarray._kernel_params import REQUIRED, ParamSpec, float_tuple, int_tuple
from mxlite.ndarray._update_checks import (
    arrays_of,
    check_groups,
    check_real,
    check_shapes,
    check_types,
    new_or_out,
    outs_of,
)
from mxlite.ndarray.ndarray import NDArray, on_device, out_ctx
from mxlite.ndarray.op_optimizer import given, prepare

__all__ = [
    "lamb_update_phase1",
    "lamb_update_phase2",
    "mp_lamb_update_phase1",
    "mp_lamb_update_phase2",
    "multi_lars",
    "multi_sum_sq",
]
# multi_lamb_update and multi_mp_lamb_update are mx.nd.contrib's (mxlite.ndarray.contrib)

F16, F32 = np.dtype(np.float16), np.dtype(np.float32)
_MAX_LAMB_TENSORS = 45

_PHASE1 = {
    "beta1": ("float", 0.9), "beta2": ("float", 0.999), "epsilon": ("float", 1e-6),
    "t": ("int", REQUIRED), "bias_correction": ("boolean", True), "wd": ("float", REQUIRED),
    "rescale_grad": ("float", 1.0), "clip_gradient": ("float", -1.0),
}  # fmt: skip
_PHASE2 = {
    "lr": ("float", REQUIRED),
    "lower_bound": ("float", -1.0),
    "upper_bound": ("float", -1.0),
}
_MULTI = {
    "learning_rates": ("tuple of <float>", REQUIRED), "beta1": ("float", 0.9),
    "beta2": ("float", 0.999), "epsilon": ("float", 1e-6), "wds": ("tuple of <float>", REQUIRED),
    "rescale_grad": ("float", 1.0), "lower_bound": ("float", -1.0),
    "upper_bound": ("float", -1.0), "clip_gradient": ("float", -1.0),
    "bias_correction": ("boolean", True), "step_count": ("tuple of <int>", REQUIRED),
    "num_tensors": ("int", 1),
}  # fmt: skip
SPECS = {
    "lamb_update_phase1": ParamSpec("lamb_update_phase1", _PHASE1),
    "mp_lamb_update_phase1": ParamSpec("mp_lamb_update_phase1", _PHASE1),
    "lamb_update_phase2": ParamSpec("lamb_update_phase2", _PHASE2),
    "mp_lamb_update_phase2": ParamSpec("mp_lamb_update_phase2", _PHASE2),
    "multi_lars": ParamSpec(
        "multi_lars",
        {"eta": ("float", REQUIRED), "eps": ("float", REQUIRED), "rescale_grad": ("float", 1.0)},
    ),
    "multi_sum_sq": ParamSpec("multi_sum_sq", {"num_arrays": ("int", REQUIRED)}),
    "_multi_lamb_update": ParamSpec("_multi_lamb_update", _MULTI),
    "_multi_mp_lamb_update": ParamSpec("_multi_mp_lamb_update", _MULTI),
}

_MSG_TYPE16 = (
    "Type inconsistent, Provided = {got}, inferred type = float16: {op} takes float16 weights "
    "and gradients (use lamb_update_phase1 for other dtypes)."
)
_MSG_NDIM = (
    "total no. of dimensions for weights and g must match ({op}: weight {w}, {name} {g}); pass "
    "arrays of the weight's shape."
)
_MSG_DIM = (
    "weight and g dimension size mismatch at {i}-th index ({op}: weight {w}, {name} {g}); pass "
    "arrays of the weight's shape."
)
_MSG_NORM = "{name} shape incorrect: {op} needs {name} of shape (1,) (a norm), got {shape}."
_MSG_OUT_SHAPE = "Shape inconsistent, Provided = {got}, inferred shape={want} ({op}'s out=)."
_MSG_COUNT = "Operator {op} expects {n} inputs, but got {m} instead."
_MSG_UNIFORM = (
    "This layer requires uniform type. Expected '{want}' v.s. given '{got}' at 'array_{i}' "
    "({op}); cast the arrays to one dtype first."
)
_MSG_LARS_F32 = "MultiLARS only support float (float32 arrays); got {dtype}."
_MSG_TOO_MANY = (
    "Invalid number of tensors, the maximum value is 45, and got {n}. Update at most 45 tensors "
    "per {op} call (the LAMB optimizer chunks by aggregate_num)."
)
_MSG_RATES = (
    "Number of {what} is inconsistent with num_tensors parameter passed. Expected number of "
    "{what}: {n}, and got {m}"
)
_MSG_STEPS = (
    "Number of step counts is inconsistent with num_tensors.Expected number of step counts: "
    "{n}, and got {m}"
)


# ------------------------------------------------------------------------------ phase 1 and 2
@on_device
def lamb_update_phase1(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    mean: NDArray | None = None,
    var: NDArray | None = None,
    beta1: float | None = None,
    beta2: float | None = None,
    epsilon: float | None = None,
    t: int | None = None,
    bias_correction: bool | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """LAMB phase 1: update ``mean``/``var`` in place, return ``g`` (weight's shape and dtype).

    Args:
        weight, grad, mean, var: NDArrays of one shape and float dtype.
        t: the update count (required); wd: weight decay (required); beta1 (0.9), beta2
            (0.999), epsilon (1e-6), bias_correction (True), rescale_grad (1), clip_gradient
            (-1: none).
        out: where ``g`` goes (a new array when None).
    """
    p = SPECS["lamb_update_phase1"].parse(
        given(beta1=beta1, beta2=beta2, epsilon=epsilon, t=t, bias_correction=bias_correction,
              wd=wd, rescale_grad=rescale_grad, clip_gradient=clip_gradient, **kwargs)
    )  # fmt: skip
    named = [("weight", weight), ("grad", grad), ("mean", mean), ("var", var)]
    w, g, m, v = prepare("lamb_update_phase1", named, out)
    return _phase1(w, g, m, v, None, out, p)


@on_device
def mp_lamb_update_phase1(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    mean: NDArray | None = None,
    var: NDArray | None = None,
    weight32: NDArray | None = None,
    beta1: float | None = None,
    beta2: float | None = None,
    epsilon: float | None = None,
    t: int | None = None,
    bias_correction: bool | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """:func:`lamb_update_phase1` for float16 ``weight``/``grad`` with float32 ``mean``, ``var``
    and master copy ``weight32``; returns a float32 ``g``."""
    op = "mp_lamb_update_phase1"
    p = SPECS[op].parse(
        given(beta1=beta1, beta2=beta2, epsilon=epsilon, t=t, bias_correction=bias_correction,
              wd=wd, rescale_grad=rescale_grad, clip_gradient=clip_gradient, **kwargs)
    )  # fmt: skip
    named = [("weight", weight), ("grad", grad), ("mean", mean), ("var", var)]
    arrays = arrays_of(op, [*named, ("weight32", weight32)])
    check_shapes(op, list(enumerate(arrays)), [out])
    for arr in arrays[:2]:
        if arr._data.dtype != F16:
            raise MXNetError(_MSG_TYPE16.format(got=arr._data.dtype.name, op=op))
    typed32 = [("mean", arrays[2]), ("var", arrays[3]), ("weight32", arrays[4])]
    check_types(op, [(2, arrays[2])], [out], typed32)  # out is float32 too
    w, g, m, v, w32 = arrays
    return _phase1(w, g, m, v, w32, out, p)


def _phase1(
    w: NDArray,
    g: NDArray,
    m: NDArray,
    v: NDArray,
    w32: NDArray | None,
    out: NDArray | None,
    p: dict[str, Any],
) -> NDArray:
    with np.errstate(all="ignore"):
        raw = _lamb_rules.lamb_phase1(
            w._data, g._data, m._data, v._data, None if w32 is None else w32._data, **p
        )
    if out is None:
        return type(w)(raw, out_ctx(w.context))
    out._data[...] = raw
    return out


def _check_phase2(op: str, arrays: list[NDArray], out: NDArray | None) -> None:
    """``LambUpdatePhaseTwoShape``: ``g`` (and ``weight32``) shaped as the weight, ``r1`` and
    ``r2`` with a first dimension of 1, ``out`` of the weight's shape."""
    weight = arrays[0]
    others = [("g", arrays[1])] + ([("weight32", arrays[4])] if len(arrays) > 4 else [])
    for name, arr in others:
        if arr.ndim != weight.ndim:
            raise MXNetError(_MSG_NDIM.format(op=op, w=weight.shape, name=name, g=arr.shape))
        for i, (a, b) in enumerate(zip(weight.shape, arr.shape)):
            if a != b:
                raise MXNetError(
                    _MSG_DIM.format(i=i, op=op, w=weight.shape, name=name, g=arr.shape)
                )
    for name, arr in (("r1", arrays[2]), ("r2", arrays[3])):
        if arr.ndim == 0 or arr.shape[0] != 1:
            raise MXNetError(_MSG_NORM.format(name=name, op=op, shape=arr.shape))
    if out is not None and out.shape != weight.shape:
        want = "[" + ",".join(map(str, weight.shape)) + "]"
        got = "[" + ",".join(map(str, out.shape)) + "]"
        raise MXNetError(_MSG_OUT_SHAPE.format(got=got, want=want, op=op))


def _phase2(
    op: str,
    named: list[tuple[str, Any]],
    out: NDArray | None,
    p: dict[str, Any],
) -> NDArray:
    arrays = arrays_of(op, named)
    _check_phase2(op, arrays, out)
    if len(arrays) > 4:  # mp: g, r1, r2, weight32 are float32; weight and out alike
        typed32 = [(n, a) for (n, _), a in zip(named[1:], arrays[1:])]
        check_types(op, [(0, arrays[0])], [out], typed32)
    else:
        check_types(op, list(enumerate(arrays)), [out])
    check_real(op, arrays[0])
    result = new_or_out(arrays[0], out)
    master = arrays[4]._data if len(arrays) > 4 else None
    w, g, r1, r2 = (a._data for a in arrays[:4])
    with np.errstate(all="ignore"):
        _lamb_rules.lamb_phase2(w, g, r1, r2, master, result._data, **p)
    return result


@on_device
def lamb_update_phase2(
    weight: NDArray | None = None,
    g: NDArray | None = None,
    r1: NDArray | None = None,
    r2: NDArray | None = None,
    lr: float | None = None,
    lower_bound: float | None = None,
    upper_bound: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """LAMB phase 2: ``out = weight - lr' * g`` with the trust ratio of ``r1`` (the weight's
    norm, shape (1,)) and ``r2`` (``g``'s norm). ``lr`` is required; bounds below 0 are off."""
    p = SPECS["lamb_update_phase2"].parse(
        given(lr=lr, lower_bound=lower_bound, upper_bound=upper_bound, **kwargs)
    )
    named = [("weight", weight), ("g", g), ("r1", r1), ("r2", r2)]
    return _phase2("lamb_update_phase2", named, out, p)


@on_device
def mp_lamb_update_phase2(
    weight: NDArray | None = None,
    g: NDArray | None = None,
    r1: NDArray | None = None,
    r2: NDArray | None = None,
    weight32: NDArray | None = None,
    lr: float | None = None,
    lower_bound: float | None = None,
    upper_bound: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """:func:`lamb_update_phase2` from the float32 master copy: ``out = weight32 - lr' * g`` in
    the weight's dtype. As in MXNet 1.9.1, ``weight32`` itself is *not* updated."""
    p = SPECS["mp_lamb_update_phase2"].parse(
        given(lr=lr, lower_bound=lower_bound, upper_bound=upper_bound, **kwargs)
    )
    named = [("weight", weight), ("g", g), ("r1", r1), ("r2", r2), ("weight32", weight32)]
    return _phase2("mp_lamb_update_phase2", named, out, p)


# ------------------------------------------------------------------------------ LARS, sums
@on_device
def multi_lars(
    lrs: NDArray | None = None,
    weights_sum_sq: NDArray | None = None,
    grads_sum_sq: NDArray | None = None,
    wds: NDArray | None = None,
    eta: float | None = None,
    eps: float | None = None,
    rescale_grad: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """LARS rates from sums of squares (float32 vectors of one shape)::

        out = lrs * eta * sqrt(w) / (sqrt(g) * rescale_grad + wds * sqrt(w) + eps)
              where sqrt(w) > 0 and g > 0, else lrs

    ``eta`` and ``eps`` are required; ``out`` may be ``lrs`` itself.
    """
    op = "multi_lars"
    p = SPECS[op].parse(given(eta=eta, eps=eps, rescale_grad=rescale_grad, **kwargs))
    named = [("lrs", lrs), ("weights_sum_sq", weights_sum_sq), ("grads_sum_sq", grads_sum_sq)]
    arrays = arrays_of(op, [*named, ("wds", wds)])
    check_shapes(op, list(enumerate(arrays)), [out])
    check_types(op, list(enumerate(arrays)), [out])
    if arrays[0]._data.dtype != F32:
        raise MXNetError(_MSG_LARS_F32.format(dtype=arrays[0]._data.dtype.name))
    new = _lamb_rules.lars_rates(*(a._data for a in arrays), **p)
    result = new_or_out(arrays[0], out)
    result._data[...] = new
    return result


@on_device
def multi_sum_sq(
    *data: NDArray, num_arrays: int | None = None, out: NDArray | None = None, **kwargs: Any
) -> NDArray:
    """The sum of squares of each array, as a float32 vector of ``num_arrays`` (required)
    values; accumulated in float32 in index order, as MXNet's CPU operator."""
    op = "multi_sum_sq"
    kwargs.pop("name", None)
    p = SPECS[op].parse(given(num_arrays=num_arrays, **kwargs))
    if len(data) != p["num_arrays"]:
        raise MXNetError(_MSG_COUNT.format(op=op, n=p["num_arrays"], m=len(data)))
    arrays = arrays_of(op, [(f"array_{i}", a) for i, a in enumerate(data)])
    want = arrays[0]._data.dtype
    for i, arr in enumerate(arrays):
        if arr._data.dtype != want:
            got = arr._data.dtype.name
            raise MXNetError(_MSG_UNIFORM.format(want=want.name, got=got, i=i, op=op))
    check_real(op, arrays[0])
    if out is not None and out.shape != (len(arrays),):
        got = "[" + ",".join(map(str, out.shape)) + "]"
        raise MXNetError(_MSG_OUT_SHAPE.format(got=got, want=f"[{len(arrays)}]", op=op))
    xp = arrays[0]._xp
    values = xp.stack([xp.asarray(_lamb_rules.sum_sq(a._data)) for a in arrays]).astype(F32)
    if out is None:
        return type(arrays[0])(values, out_ctx(arrays[0].context))
    out._data[...] = values
    return out


# ------------------------------------------------------------------------------ multi LAMB
def _multi_lamb(
    op: str,
    lists: list[tuple[str, Sequence[Any]]],
    step_count: Any,
    lrs: Any,
    wds: Any,
    out: Any,
    num_tensors: int,
    kwargs: dict[str, Any],
) -> Any:
    mp = len(lists) == 5
    n = num_tensors or len(lists[0][1])
    p = SPECS[op].parse(
        given(learning_rates=lrs, wds=wds, step_count=step_count, num_tensors=n, **kwargs)
    )
    flat = [
        (f"{name}_{i}", items[i] if i < len(items) else None)
        for i in range(n)
        for name, items in lists
    ]
    stride = len(lists)
    if max(len(items) for _, items in lists) > n:
        raise MXNetError(_MSG_COUNT.format(op=op, n=stride * n, m=sum(len(x) for _, x in lists)))
    arrays = arrays_of(op, flat)
    if n > _MAX_LAMB_TENSORS:
        raise MXNetError(_MSG_TOO_MANY.format(n=n, op=op))
    rates, decays, steps = (
        float_tuple(p["learning_rates"]),
        float_tuple(p["wds"]),
        int_tuple(p["step_count"]),
    )
    for what, values in (("learning rates", rates), ("weight decays", decays)):
        if len(values) != n:
            raise MXNetError(_MSG_RATES.format(what=what, n=n, m=len(values)))
    if len(steps) != n:
        raise MXNetError(_MSG_STEPS.format(n=n, m=len(steps)))
    outs = outs_of(op, out, n)
    groups = [arrays[i * stride : (i + 1) * stride] for i in range(n)]
    names = [name for name, _ in lists]
    check_groups(op, groups, names, outs, ("mean", "var", "weight32") if mp else (), not mp)
    with np.errstate(all="ignore"):
        _lamb_rules.multi_lamb(
            [g[0]._data for g in groups], [g[1]._data for g in groups],
            [g[2]._data for g in groups], [g[3]._data for g in groups],
            [g[4]._data for g in groups] if mp else None, [o._data for o in outs],
            lrs=rates, wds=decays, step_count=steps, beta1=p["beta1"], beta2=p["beta2"],
            epsilon=p["epsilon"], rescale_grad=p["rescale_grad"],
            lower_bound=p["lower_bound"], upper_bound=p["upper_bound"],
            clip_gradient=p["clip_gradient"], bias_correction=p["bias_correction"],
        )  # fmt: skip
    return out


@on_device
def multi_lamb_update(
    weights: Sequence[NDArray],
    grads: Sequence[NDArray],
    mean: Sequence[NDArray],
    var: Sequence[NDArray],
    step_count: Sequence[int],
    lrs: Sequence[float],
    wds: Sequence[float],
    out: Any = None,
    num_tensors: int = 0,
    **kwargs: Any,
) -> Any:
    """LAMB on up to 45 tensors of one dtype (``mx.nd.contrib.multi_lamb_update``): moments in
    place, new weights into ``out`` (required; usually ``out=weights``), which is returned.

    Args:
        weights, grads, mean, var: lists of NDArrays, one per tensor.
        step_count, lrs, wds: per-tensor update counts, learning rates and weight decays.
        num_tensors: the number of tensors (0: ``len(weights)``).
        **kwargs: beta1 (0.9), beta2 (0.999), epsilon (1e-6), rescale_grad (1), lower_bound,
            upper_bound, clip_gradient (-1: off), bias_correction (True).
    """
    lists = [("weight", weights), ("grad", grads), ("mean", mean), ("var", var)]
    return _multi_lamb("_multi_lamb_update", lists, step_count, lrs, wds, out, num_tensors, kwargs)


@on_device
def multi_mp_lamb_update(
    weights: Sequence[NDArray],
    grads: Sequence[NDArray],
    mean: Sequence[NDArray],
    var: Sequence[NDArray],
    weights32: Sequence[NDArray],
    step_count: Sequence[int],
    lrs: Sequence[float],
    wds: Sequence[float],
    out: Any = None,
    num_tensors: int = 0,
    **kwargs: Any,
) -> Any:
    """:func:`multi_lamb_update` with float32 ``mean``, ``var`` and master copies ``weights32``
    (updated in place); the trust ratio's weight norm is that of the (float16) weights."""
    lists = [
        ("weight", weights), ("grad", grads), ("mean", mean), ("var", var),
        ("weight32", weights32),
    ]  # fmt: skip
    return _multi_lamb(
        "_multi_mp_lamb_update", lists, step_count, lrs, wds, out, num_tensors, kwargs
    )
