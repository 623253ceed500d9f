"""Optimizer updates from row_sparse gradients (MXNet 1.9.1's sparse kernels, checked bitwise
against it in tests/optimizer/test_sparse_optimizer_oracle.py).

A dense weight updated from a RowSparseNDArray gradient ``g`` (rows ``idx``):

* **lazy** (``lazy_update=True``, SGD and Adam; always for AdaGrad and GroupAdaGrad): only the
  rows ``idx`` of the weight and of its states change. The rows are gathered, run through the
  family's dense single-tensor rule (MXNet's sparse kernels evaluate the same expression per
  row), and scattered back: work and temporaries are proportional to the touched rows.
* **standard** (``lazy_update=False``): every row is updated as if ``g`` were dense (weight decay
  and momentum decay reach every row), with MXNet's sparse-kernel rounding:
  SGD without momentum ``w = (1 - lr*wd)*w - (lr*rescale)*g`` (``sgd_update``), SGD with
  momentum the multi-SGD rule, Adam ``var = b2*var + (1 - b2)*(g'*g')`` with
  ``g' = g*rescale + w*wd``.
* optimizers without a sparse kernel in MXNet (NAG, RMSProp, Signum, Ftrl with a dense weight,
  ...) get the standard update through their own rule with the gradient made dense, as MXNet's
  storage fallback does.
* a **row_sparse weight** (a kvstore's value of a ``stype='row_sparse'`` Parameter, handed over
  as a RowSparseNDArray holding every row, see :func:`mxlite.kvstore._sparse.weight_view`)
  is updated through its values as the dense weight above, except that Ftrl is lazy too (MXNet's
  ``ftrl_update`` has a sparse kernel for row_sparse weights only).

AdaGrad's sparse kernel has no weight decay (MXNet raises; so does mxlite), GroupAdaGrad none at
all. Everything runs on the weight's array module (NumPy or CuPy): fancy-indexed gathers and
scatters over the ``k`` touched rows, no per-row Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError
from mxlite.ndarray.ndarray import NDArray
from mxlite.optimizer._common import clip_inplace, kernel_clip, py_clip, scalar

__all__ = ["is_sparse", "update", "update_multi"]

_MSG_ADAGRAD_WD = (
    "Operator not implemented: operator = _sparse_adagrad_update with wd={wd}: MXNet's sparse "
    "AdaGrad has no weight decay. Use wd=0 (or wd_mult 0 for this parameter), or a dense "
    "gradient."
)


def is_sparse(grad: Any) -> bool:
    """Whether ``grad`` is a sparse NDArray (cheap attribute test)."""
    return getattr(grad, "stype", "default") != "default"


def _family(opt: Any, rules: dict[str, Any]) -> str:
    for cls in type(opt).__mro__:
        if cls.__name__ in rules and cls.__module__.startswith("mxlite.optimizer"):
            return cls.__name__
    return ""


def update(opt: Any, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
    """One update of ``weight`` (dense, or a row_sparse weight holding every row) from sparse
    or dense ``grad`` with ``state`` (see the module docstring).

    Raises:
        MXNetError: AdaGrad with weight decay, a gradient of another shape, or a row_sparse
            weight missing rows.
    """
    if grad.shape != weight.shape:
        raise MXNetError(
            f"{type(opt).__name__}.update: gradient of shape {grad.shape} for a weight of shape "
            f"{weight.shape}; they must match."
        )
    rules = _RULES
    if weight.stype != "default":
        weight, rules = _weight_values(weight), _RSP_WEIGHT_RULES
    rule = rules.get(_family(opt, rules))
    mp = bool(getattr(opt, "multi_precision", False) and weight.dtype == np.float16)
    if rule is None or mp or grad.stype != "row_sparse":
        _standard(opt, index, weight, grad, state)
        return
    with backend.array_device_guard(weight._data):
        rule(opt, index, weight._data, grad, state)


def update_multi(
    opt: Any, indices: Sequence[Any], weights: Sequence[NDArray], grads: Sequence[NDArray],
    states: Sequence[Any],
) -> None:  # fmt: skip
    """:func:`update` for each sparse gradient, the optimizer's own path for the dense ones
    (in the given order)."""
    for idx, w, g, s in zip(indices, weights, grads, states):
        if is_sparse(g) or is_sparse(w):
            update(opt, idx, w, g, s)
        else:
            opt.update_multi_precision(idx, w, g, s)


def _weight_values(weight: Any) -> NDArray:
    """A row_sparse weight holding every row as a dense NDArray sharing its values.

    Raises:
        MXNetError: some rows are missing (as MXNet's sparse update kernels require them all).
    """
    if int(weight._indices.size) != weight.shape[0]:
        raise MXNetError(
            f"Updates of RowSparse weights are only implemented for RowSparse weights with all "
            f"rows containing non-zeros. Expects weights.data.shape[0] "
            f"({int(weight._indices.size)}) == weights.shape[0] ({weight.shape[0]})."
        )
    return NDArray(weight._values, weight.context)


def _standard(opt: Any, index: Any, weight: NDArray, grad: NDArray, state: Any) -> None:
    """The optimizer's own (dense) rule with the gradient made dense (storage fallback)."""
    if grad.stype != "default":
        grad = NDArray(backend.to_ctx(grad._data, weight.context), weight.context)
    opt.update_multi_precision(index, weight, grad, state)


def _rows(grad: Any, w: Any) -> tuple[Any, Any]:
    """The gradient's row ids and rows on ``w``'s device, in ``w``'s dtype."""
    idx = backend.to_ctx(grad._indices, grad.context)
    vals = grad._values
    if backend.is_gpu_array(w) != backend.is_gpu_array(vals):
        raise MXNetError("the gradient and the weight live on different kinds of device")
    return idx, vals.astype(w.dtype, copy=False)


def _lazy(idx: Any, arrays: Sequence[Any | None], step: Callable[..., None]) -> None:
    """Gather rows ``idx`` of each array (None stays None), run ``step`` on the gathered
    copies, scatter them back."""
    rows = [None if a is None else a[idx] for a in arrays]
    step(*rows)
    for a, r in zip(arrays, rows):
        if a is not None:
            a[idx] = r


def _dense_grad(xp: Any, grad: Any, like: Any) -> Any:
    out = xp.zeros(like.shape, dtype=like.dtype)
    if int(grad._indices.size):
        out[grad._indices] = grad._values.astype(like.dtype, copy=False)
    return out


def _state(s: Any) -> Any:
    return None if s is None else s._data


# ---------------------------------------------------------------------- rules
def _sgd(opt: Any, index: Any, w: Any, grad: Any, state: Any) -> None:
    from mxlite.optimizer.sgd import _single_tensor_nag, _single_tensor_sgd

    lr, wd = opt._step_scalars(index)
    kw = {"rescale_grad": opt.rescale_grad, "clip_gradient": kernel_clip(opt.clip_gradient)}
    mom = _state(state) if opt.momentum > 0 else None
    idx, vals = _rows(grad, w)
    xp = backend.xp_of(w)
    if not opt.lazy_update:
        g = _dense_grad(xp, grad, w)
        if mom is None:  # sgd_update's standard update: (1 - lr*wd)*w - lr*g on every row
            _single_tensor_nag(w, g, None, None, lr, wd, momentum=0.0, **kw)
        else:
            _single_tensor_sgd(w, g, mom, None, lr, wd, momentum=opt.momentum, **kw)
        return
    if mom is None:
        _lazy(
            idx,
            [w],
            lambda wr: _single_tensor_nag(wr, vals, None, None, lr, wd, momentum=0.0, **kw),
        )
    else:
        _lazy(
            idx,
            [w, mom],
            lambda wr, mr: _single_tensor_sgd(
                wr, vals, mr, None, lr, wd, momentum=opt.momentum, **kw
            ),
        )


def _adam(opt: Any, index: Any, w: Any, grad: Any, state: Any) -> None:
    from mxlite.optimizer.adam import _single_tensor_adam

    lr, wd = opt._step_scalars(index)
    kw = opt._kernel_kwargs()
    mean, var = state[0]._data, state[1]._data
    idx, vals = _rows(grad, w)
    if not opt.lazy_update:
        _adam_squared(w, _dense_grad(backend.xp_of(w), grad, w), mean, var, lr, wd, kw)
    elif kw["clip_gradient"] >= 0:  # the lazy kernel squares the clipped gradient first
        _lazy(idx, [w, mean, var], lambda wr, mr, vr: _adam_squared(wr, vals, mr, vr, lr, wd, kw))
    else:
        _lazy(
            idx,
            [w, mean, var],
            lambda wr, mr, vr: _single_tensor_adam(wr, vals, mr, vr, None, lr, wd, **kw),
        )


def _adam_squared(
    w: Any, grad: Any, mean: Any, var: Any, lr: float, wd: float, kw: dict[str, float]
) -> None:
    """Adam with ``var = b2*var + (1 - b2)*(g*g)`` (MXNet's standard sparse kernel, and its lazy
    kernel with clipping), ``g = clip(grad*rescale + w*wd)``."""
    xp = backend.xp_of(w)
    one = w.dtype.type(1.0)
    b1, b2 = scalar(w, kw["beta1"]), scalar(w, kw["beta2"])
    g = xp.multiply(grad, scalar(w, kw["rescale_grad"]))
    g += xp.multiply(w, scalar(w, wd))
    clip_inplace(xp, g, kw["clip_gradient"])
    mean *= b1
    mean += xp.multiply(g, one - b1)
    var *= b2
    var += xp.multiply(xp.multiply(g, g), one - b2)
    denom = xp.sqrt(var)
    denom += scalar(w, kw["epsilon"])
    step = xp.multiply(mean, scalar(w, lr))
    step /= denom
    w -= step


def _adagrad(opt: Any, index: Any, w: Any, grad: Any, state: Any) -> None:
    lr, wd = opt._step_scalars(index)
    if wd != 0:
        raise MXNetError(_MSG_ADAGRAD_WD.format(wd=wd))
    _adagrad_rows(opt, lr, w, grad, state, per_row=False)


def _group_adagrad(opt: Any, index: Any, w: Any, grad: Any, state: Any) -> None:
    lr, wd = opt._step_scalars(index)
    opt._check_no_wd(wd)
    _adagrad_rows(opt, lr, w, grad, state, per_row=True)


def _adagrad_rows(opt: Any, lr: float, w: Any, grad: Any, state: Any, per_row: bool) -> None:
    """AdaGrad's (``per_row``: GroupAdaGrad's) kernel on the gradient's rows::

    g = clip(rescale * grad); h += g*g (per_row: its row mean)
    w -= (g / sqrt(h + eps)) * lr        (per_row: lr * g / sqrt(h + eps))
    """
    idx, vals = _rows(grad, w)
    xp = backend.xp_of(w)

    def step(wr: Any, hr: Any) -> None:
        g = xp.multiply(vals, scalar(wr, opt.rescale_grad))
        if opt.clip_gradient:
            g = py_clip(xp, g, -opt.clip_gradient, opt.clip_gradient)
        eps = scalar(hr, opt.float_stable_eps)
        if per_row:
            hr += xp.square(g).mean(axis=1, keepdims=True)
            wr -= scalar(wr, lr) * g / xp.sqrt(hr + eps)
        else:
            hr += xp.square(g)
            wr -= (g / xp.sqrt(hr + eps)) * scalar(wr, lr)

    _lazy(idx, [w, state._data], step)


def _ftrl(opt: Any, index: Any, w: Any, grad: Any, state: Any) -> None:
    """Ftrl on the gradient's rows (its kernel for row_sparse weights, same expression)."""
    from mxlite.ndarray._update_rules import single_tensor_ftrl

    opt._update_count(index)
    wd = opt._get_wd(index)
    lr = opt._get_lr(index)
    idx, vals = _rows(grad, w)
    kw = {"lamda1": opt.lamda1, "beta": opt.beta, "rescale_grad": opt.rescale_grad,
          "clip_gradient": kernel_clip(opt.clip_gradient)}  # fmt: skip
    _lazy(
        idx,
        [w, state[0]._data, state[1]._data],
        lambda wr, zr, nr: single_tensor_ftrl(wr, vals, zr, nr, lr, wd, **kw),
    )


_RULES: dict[str, Callable[..., None]] = {
    "SGD": _sgd,
    "Adam": _adam,
    "AdaGrad": _adagrad,
    "GroupAdaGrad": _group_adagrad,
}
_RSP_WEIGHT_RULES = {**_RULES, "Ftrl": _ftrl}
