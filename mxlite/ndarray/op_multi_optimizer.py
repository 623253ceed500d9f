"""MXNet 1.9.1's multi-tensor SGD operators and the finiteness checks of mixed-precision training.

* ``multi_sgd_update(w0, g0, w1, g1, ..., lrs=, wds=, num_weights=, out=)`` and its ``_mom_``,
  ``mp_`` and ``preloaded_`` forms: MXNet's multi-SGD rule on every tensor::

      mom = momentum * mom - (lr * wd) * w - lr * clip(rescale_grad * grad);  w = w + mom

  (no momentum state: ``mom`` starts at 0 and is not kept). ``lrs``/``wds`` are tuples, or, for
  ``preloaded_``, two float32 NDArrays passed after the tensors. ``out`` (required, one array per
  tensor; usually the weights) receives the new weights and is returned; momenta (float32 for
  ``mp_``) and master copies ``weight32`` are updated in place. (With float32 weights the
  ``mp_`` forms compute on the weights and leave ``weight32`` alone, as MXNet's kernel does.)
* ``all_finite(data)`` / ``multi_all_finite(*data, num_arrays=)``: a float32 array of shape
  (1,) holding 1.0 when every value (converted to float32) is finite, else 0.0; with
  ``init_output=False`` a finite input leaves ``out`` as it was.

The updates run on the fused kernels of :mod:`mxlite.ops.multi_optimizer` (one launch per
call), bit for bit MXNet's kernels; ``preloaded_`` with float16 or float64 weights and no master
copies keeps MXNet's float32 rates (``lr * wd`` rounded to float32 before it meets the weight)
in a NumPy/CuPy loop instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError
from mxlite.ndarray._kernel_params import REQUIRED, ParamSpec, float_tuple
from mxlite.ndarray._update_checks import (
    arrays_of,
    check_groups,
    check_real,
    outs_of,
    staged,
)
from mxlite.ndarray.ndarray import NDArray, on_device, out_ctx
from mxlite.ndarray.op_optimizer import given, weight_target
from mxlite.ops import multi_optimizer

__all__ = [
    "multi_sgd_update",
    "multi_sgd_mom_update",
    "multi_mp_sgd_update",
    "multi_mp_sgd_mom_update",
    "preloaded_multi_sgd_update",
    "preloaded_multi_sgd_mom_update",
    "preloaded_multi_mp_sgd_update",
    "preloaded_multi_mp_sgd_mom_update",
    "all_finite",
    "multi_all_finite",
]

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
Raw = Any

_TAIL = {
    "rescale_grad": ("float", 1.0),
    "clip_gradient": ("float", -1.0),
    "num_weights": ("int", 1),
}
_RATES = {"lrs": ("tuple of <float>", REQUIRED), "wds": ("tuple of <float>", REQUIRED)}
_MOMENTUM = {"momentum": ("float", 0.0)}

_MSG_COUNT = "Operator {op} expects {n} inputs, but got {m} instead."
_MSG_RATES = (
    "Number of {what} is inconsistent with num_weights parameter passed. Expected number of "
    "{what}: {n}, and got {m}"
)


class _Layout:
    """One multi-SGD operator: inputs per weight (stride), its state names, its fields."""

    def __init__(self, op: str, names: tuple[str, ...], preloaded: bool) -> None:
        self.op = op
        self.names = names
        self.stride = len(names)
        self.preloaded = preloaded
        self.mom = "mom" in names
        self.mp = "weight32" in names
        fields = {} if preloaded else dict(_RATES)
        fields.update(_MOMENTUM if self.mom else {})
        fields.update(_TAIL)
        self.spec = ParamSpec(op, fields)


_LAYOUTS = {
    (mom, mp, pre): _Layout(
        ("preloaded_" if pre else "") + "multi_" + ("mp_" if mp else "") + "sgd_"
        + ("mom_" if mom else "") + "update",
        ("weight", "grad") + (("mom",) if mom else ()) + (("weight32",) if mp else ()),
        pre,
    )
    for mom in (False, True)
    for mp in (False, True)
    for pre in (False, True)
}  # fmt: skip


def _checked(
    lay: _Layout, data: Sequence[Any], p: dict[str, Any], out: Any
) -> tuple[list[list[NDArray]], list[NDArray], np.ndarray, np.ndarray]:
    """Check a call; return the per-weight groups, the outputs, and the float32 rates and decays
    (held in float64)."""
    op, n = lay.op, p["num_weights"]
    expected = lay.stride * n + (2 if lay.preloaded else 0)
    if len(data) != expected:
        raise MXNetError(_MSG_COUNT.format(op=op, n=expected, m=len(data)))
    named = [(f"{lay.names[k % lay.stride]}_{k // lay.stride}", a) for k, a in enumerate(data)]
    if lay.preloaded:
        named[-2:] = [("lrs", data[-2]), ("wds", data[-1])]
    arrays = arrays_of(op, named)
    if lay.preloaded:
        lrs, wds = _preloaded_rates(op, arrays[-2], arrays[-1], n)
    else:
        lrs, wds = float_tuple(p["lrs"]), float_tuple(p["wds"])
        for what, values in (("learning rates", lrs), ("weight decays", wds)):
            if len(values) != n:
                raise MXNetError(_MSG_RATES.format(what=what, n=n, m=len(values)))
    groups = [arrays[i * lay.stride : (i + 1) * lay.stride] for i in range(n)]
    outs = outs_of(op, out, n)
    float32 = ("mom", "weight32") if lay.mp else ()
    check_groups(op, groups, lay.names, outs, float32, uniform=not (lay.mp or lay.preloaded))
    return groups, outs, lrs, wds


def _preloaded_rates(op: str, lrs: NDArray, wds: NDArray, n: int) -> tuple[Any, Any]:
    """The ``lrs``/``wds`` NDArrays of a ``preloaded_`` call as float64 host vectors."""
    for what, arr in (("learning rates", lrs), ("weight decays", wds)):
        if arr.size != n:
            raise MXNetError(_MSG_RATES.format(what=what, n=n, m=arr.size))
        if arr._data.dtype != F32:
            raise MXNetError(
                f"Type inconsistent, Provided = {arr._data.dtype.name}, inferred type = "
                f"float32: {op} takes float32 {what}."
            )
    host = [backend.to_numpy(a._data).reshape(-1).astype(F64) for a in (lrs, wds)]
    return host[0], host[1]


def _run(lay: _Layout, data: Sequence[Any], out: Any, kwargs: dict[str, Any]) -> Any:
    p = lay.spec.parse(kwargs)
    groups, outs, lrs, wds = _checked(lay, data, p, out)
    dtype = groups[0][0]._data.dtype
    moms = [g[2]._data for g in groups] if lay.mom else None
    if lay.preloaded and not lay.mp and dtype != F32:
        _preloaded_wide(groups, outs, moms, lrs, wds, p)
        return out
    mom = p["momentum"] if lay.mom else 0.0

    def launch(w: Any, g: Any, masters: Any, m: Any) -> None:
        multi_optimizer.multi_sgd_update(
            w, g, m, lrs, wds, mom, p["rescale_grad"], p["clip_gradient"], weights32=masters
        )

    grads = [g[1]._data for g in groups]
    if not lay.mp or dtype == F32:  # float32: MXNet's compute type is the weight's, no master
        targets = [weight_target(g[0], o)._data for g, o in zip(groups, outs)]
        staged(launch, targets, grads, None, moms)
    elif dtype == F16:
        staged(launch, [o._data for o in outs], grads, [g[-1]._data for g in groups], moms)
    else:  # any other weight dtype: the float32 kernel on the master copies
        masters = [g[-1]._data for g in groups]
        staged(launch, masters, [a.astype(F32) for a in grads], None, moms)
        for o, m in zip(outs, masters):
            o._data[...] = m.astype(o._data.dtype)
    return out


def _preloaded_wide(
    groups: list[list[NDArray]],
    outs: list[NDArray],
    moms: list[Raw] | None,
    lrs: np.ndarray,
    wds: np.ndarray,
    p: dict[str, Any],
) -> None:
    """``preloaded_multi_sgd(_mom)_update`` on float16 or float64 weights: the kernel's rates
    stay float32 (``lr * wd`` is a float32 product) while every other operation rounds to the
    weight's dtype (a float16 result of ``float * half`` is rounded to half, as mshadow does)."""
    dt = groups[0][0]._data.dtype
    wide = F32 if dt == F16 else F64

    def r(x: Any) -> Any:  # round to the weight's dtype, keep computing wide
        return x.astype(dt).astype(wide) if dt == F16 else x

    rescale, clip = r(wide.type(dt.type(p["rescale_grad"]))), dt.type(p["clip_gradient"])
    momentum = r(wide.type(dt.type(p.get("momentum", 0.0))))
    for i, group in enumerate(groups):
        weight, grad = group[0]._data, group[1]._data
        xp = backend.xp_of(weight)
        lr = F32.type(lrs[i])
        lr_wd = wide.type(F32.type(lr * F32.type(wds[i])))
        w, g = weight.astype(wide), grad.astype(wide)
        if clip >= 0:
            step = r(xp.clip(r(g * rescale), -wide.type(clip), wide.type(clip)) * wide.type(lr))
        else:
            step = r(g * r(wide.type(lr) * rescale))
        mom = r(xp.subtract(r(momentum * moms[i].astype(wide)) if moms else 0.0, r(w * lr_wd)))
        mom = r(mom - step)
        if moms:
            moms[i][...] = mom
        outs[i]._data[...] = r(w + mom).astype(dt)


def _multi(lay: _Layout) -> Callable[..., Any]:
    def op(*data: NDArray, out: Any = None, **kwargs: Any) -> Any:
        kwargs.pop("name", None)
        with np.errstate(all="ignore"):
            return _run(lay, data, out, kwargs)

    op.__name__ = op.__qualname__ = lay.op
    return on_device(op)


multi_sgd_update = _multi(_LAYOUTS[False, False, False])
multi_sgd_mom_update = _multi(_LAYOUTS[True, False, False])
multi_mp_sgd_update = _multi(_LAYOUTS[False, True, False])
multi_mp_sgd_mom_update = _multi(_LAYOUTS[True, True, False])
preloaded_multi_sgd_update = _multi(_LAYOUTS[False, False, True])
preloaded_multi_sgd_mom_update = _multi(_LAYOUTS[True, False, True])
preloaded_multi_mp_sgd_update = _multi(_LAYOUTS[False, True, True])
preloaded_multi_mp_sgd_mom_update = _multi(_LAYOUTS[True, True, True])
for _fn, _doc in (
    (multi_sgd_update, "(w0, g0, w1, g1, ..., lrs=, wds=, num_weights=, out=)"),
    (multi_sgd_mom_update, "(w0, g0, mom0, ..., lrs=, wds=, momentum=, num_weights=, out=)"),
    (multi_mp_sgd_update, "(w0, g0, weight32_0, ..., lrs=, wds=, num_weights=, out=)"),
    (
        multi_mp_sgd_mom_update,
        "(w0, g0, mom0, weight32_0, ..., lrs=, wds=, momentum=, num_weights=, out=)",
    ),
    (preloaded_multi_sgd_update, "(w0, g0, ..., lrs, wds, num_weights=, out=)"),
    (
        preloaded_multi_sgd_mom_update,
        "(w0, g0, mom0, ..., lrs, wds, momentum=, num_weights=, out=)",
    ),
    (preloaded_multi_mp_sgd_update, "(w0, g0, weight32_0, ..., lrs, wds, num_weights=, out=)"),
    (
        preloaded_multi_mp_sgd_mom_update,
        "(w0, g0, mom0, weight32_0, ..., lrs, wds, momentum=, num_weights=, out=)",
    ),
):
    _fn.__doc__ = (
        f"``{_fn.__name__}{_doc}``: MXNet's multi-SGD step on ``num_weights`` tensors (see the "
        "module docstring); returns ``out``. Also ``rescale_grad`` (1), ``clip_gradient`` (-1)."
    )


# ------------------------------------------------------------------------------ all_finite
_FINITE = ParamSpec("all_finite", {"init_output": ("boolean", True)})
_MULTI_FINITE = ParamSpec(
    "multi_all_finite", {"num_arrays": ("int", 1), "init_output": ("boolean", True)}
)


_MSG_FINITE_TYPES = (
    "TBlob.get_with_shape: data type do not match specified type.Expected: {got} v.s. given "
    "{want} ({op} reads every array as array_0's dtype; check arrays of one dtype per call)."
)


def _finite_flag(arrays: list[NDArray], init: bool, out: NDArray | None, op: str) -> NDArray:
    check_real(op, arrays[0])
    want = arrays[0]._data.dtype
    for arr in arrays:
        if arr._data.dtype != want:
            got = arr._data.dtype.name
            raise MXNetError(_MSG_FINITE_TYPES.format(got=got, want=want.name, op=op))
    first = arrays[0]
    xp = first._xp
    with np.errstate(all="ignore"):
        ok = all(bool(xp.isfinite(a._data.astype(F32)).all()) for a in arrays)
    if out is None:
        out = type(first)(xp.ones((1,), dtype=F32), out_ctx(first.context))
    elif init:
        out._data[...] = 1.0
    if not ok:
        out._data[...] = 0.0
    return out


@on_device
def all_finite(
    data: NDArray | None = None,
    init_output: bool | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """1.0 (float32, shape (1,)) when every value of ``data`` is finite as a float32, else 0.0.

    With ``init_output=False`` and an ``out``, a finite ``data`` leaves ``out`` unchanged (a
    running check over several arrays); a new output starts at 1.0.
    """
    p = _FINITE.parse(given(init_output=init_output, **kwargs))
    (arr,) = arrays_of("all_finite", [("data", data)])
    return _finite_flag([arr], p["init_output"], out, "all_finite")


@on_device
def multi_all_finite(*data: NDArray, out: NDArray | None = None, **kwargs: Any) -> NDArray:
    """:func:`all_finite` over ``num_arrays`` (default 1) arrays at once."""
    kwargs.pop("name", None)
    p = _MULTI_FINITE.parse(kwargs)
    if len(data) != p["num_arrays"]:
        raise MXNetError(_MSG_COUNT.format(op="multi_all_finite", n=p["num_arrays"], m=len(data)))
    arrays = arrays_of("multi_all_finite", [(f"array_{i}", a) for i, a in enumerate(data)])
    return _finite_flag(arrays, p["init_output"], out, "multi_all_finite")
