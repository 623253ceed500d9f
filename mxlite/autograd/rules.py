"""Gradient rules of the recorded ops, on raw numpy/cupy arrays.

A rule is ``rule(g, ins, out, attrs, needs) -> sequence`` with one entry per input: the gradient
of the loss with respect to that input (a raw array, or None when it gets none). ``g`` is the
gradient with respect to ``out``; ``ins`` are the op's raw inputs (scalars for constant inputs),
``attrs`` what the op recorded, and ``needs`` one bool per input telling whether that input's
gradient is wanted (rules with costly products, such as ``dot``, skip the unwanted ones; any
entry for an unwanted input is ignored). Rules may return a gradient still in the broadcast shape or in a
wider dtype; :func:`fit_to_input` sums it back to the input's shape and casts it.

Conventions follow MXNet 1.9.1 (settled with the oracle): ``maximum`` sends the gradient of a tie
to the left operand, ``max``/``min`` reductions give every tied element the full gradient,
``clip`` passes the gradient on the closed interval ``[a_min, a_max]``, ``abs``/``relu`` have zero
gradient at 0. One deliberate difference: ``prod``'s gradient is the product of the other elements
(exact at zeros), where MXNet divides the output by the input and returns NaN.

Register a rule for a new op with ``@register_grad("name")``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import backend

__all__ = ["GRAD_RULES", "INTO_RULES", "register_grad", "fit_to_input", "unbroadcast"]

Rule = Callable[[Any, tuple[Any, ...], Any, dict[str, Any], tuple[bool, ...]], Sequence[Any]]
GRAD_RULES: dict[str, Rule] = {}
INTO_RULES: set[str] = set()


def register_grad(*names: str, into: bool = False) -> Callable[[Rule], Rule]:
    """Decorator registering a gradient rule under one or more op names.

    ``into=True`` marks a rule that takes a sixth argument ``into``: per input a buffer of the
    input's shape and dtype (or None) that it may write that input's gradient into (and return)
    instead of allocating one; the tape passes the gradient buffers of variables that get only
    this gradient (see ``run_backward``).
    """

    def deco(fn: Rule) -> Rule:
        for name in names:
            GRAD_RULES[name] = fn
            if into:
                INTO_RULES.add(name)
        return fn

    return deco


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes broadcasting added or stretched, giving an array of ``shape``."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    elif lead < 0:  # a legacy (1,) result for a 0-d input, or similar size-preserving cases
        return g.reshape(shape)
    stretched = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


def fit_to_input(g: Any, inp: Any) -> Any:
    """``g`` reduced to the shape and cast to the dtype of the input it belongs to."""
    shape = tuple(np.shape(inp))
    g = unbroadcast(g, shape)
    dtype = getattr(inp, "dtype", None)
    if dtype is not None and g.dtype != dtype:
        g = g.astype(dtype)
    return g


def _xp(arr: Any) -> Any:
    return backend.xp_of(arr)


# ---------------------------------------------------------------------- binary, array-array
@register_grad("add")
def _add(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return g, g


@register_grad("sub")
def _sub(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return g, -g


@register_grad("mul")
def _mul(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    return (g * b if needs[0] else None), (g * a if needs[1] else None)


@register_grad("div")
def _div(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    return (g / b if needs[0] else None), (-g * a / (b * b) if needs[1] else None)


@register_grad("mod")
def _mod(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    return g, -g * _xp(g).floor(a / b)


@register_grad("pow")
def _pow(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    xp = _xp(g)
    return g * b * a ** (b - 1), g * out * xp.log(a)


@register_grad("maximum")
def _maximum(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    left = a >= b
    return g * left, g * ~left


@register_grad("minimum")
def _minimum(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    left = a <= b
    return g * left, g * ~left


@register_grad(
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "lesser",
    "lesser_equal",
    "equal_scalar",
    "not_equal_scalar",
    "greater_scalar",
    "greater_equal_scalar",
    "lesser_scalar",
    "lesser_equal_scalar",
    "sign",
    "floor",
    "ceil",
    "round",
    "rint",
    "fix",
    "trunc",
)
def _zero(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return tuple(_xp(g).zeros_like(x) if hasattr(x, "shape") else None for x in ins)


# ---------------------------------------------------------------------- binary, array-scalar
@register_grad("add_scalar")
def _add_scalar(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (g,)


@register_grad("sub_scalar")
def _sub_scalar(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (-g if attrs["reverse"] else g,)


@register_grad("mul_scalar")
def _mul_scalar(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (g * attrs["scalar"],)


@register_grad("div_scalar")
def _div_scalar(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    (a,) = ins
    s = attrs["scalar"]
    if attrs["reverse"]:  # s / a
        return (-g * s / (a * a),)
    return (g / s,)


@register_grad("mod_scalar")
def _mod_scalar(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    (a,) = ins
    if attrs["reverse"]:  # s % a
        return (-g * _xp(g).floor(attrs["scalar"] / a),)
    return (g,)


@register_grad("pow_scalar")
def _pow_scalar(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    (a,) = ins
    s = attrs["scalar"]
    if attrs["reverse"]:  # s ** a
        return (g * out * float(np.log(s)),)
    return (g * s * a ** (s - 1),)


@register_grad("maximum_scalar")
def _maximum_scalar(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (g * (ins[0] >= attrs["scalar"]),)


@register_grad("minimum_scalar")
def _minimum_scalar(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (g * (ins[0] <= attrs["scalar"]),)


# ---------------------------------------------------------------------- unary math
def _unary(name: str, fn: Callable[[Any, Any, Any, Any], Any]) -> None:
    def rule(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
        return (fn(_xp(g), g, ins[0], out),)

    rule.__name__ = f"_grad_{name}"
    GRAD_RULES[name] = rule


# MXNet's conventions at special values: abs' gradient is 0 at NaN, relu's is NaN there (its
# output is NaN; nd.Activation's relu gives 0, see the FullyConnected rule), rsqrt's is
# -0.5 / (a * sqrt(a)) (so -inf at -0).
_unary("abs", lambda xp, g, a, y: g * ((a > 0).astype(g.dtype) - (a < 0).astype(g.dtype)))
_unary("negative", lambda xp, g, a, y: -g)
_unary("sqrt", lambda xp, g, a, y: g * 0.5 / y)
_unary("rsqrt", lambda xp, g, a, y: g * (-0.5 / (a * xp.sqrt(a))))
_unary("square", lambda xp, g, a, y: g * 2 * a)
_unary("exp", lambda xp, g, a, y: g * y)
_unary("log", lambda xp, g, a, y: g / a)
_unary("reciprocal", lambda xp, g, a, y: -g * y * y)
_unary("relu", lambda xp, g, a, y: g * xp.sign(y))
_unary("Activation_relu", lambda xp, g, a, y: g * (a > 0))
_unary("sigmoid", lambda xp, g, a, y: g * y * (1 - y))
_unary("tanh", lambda xp, g, a, y: g * (1 - y * y))
_unary("softrelu", lambda xp, g, a, y: g * -xp.expm1(-y))
_unary("softsign", lambda xp, g, a, y: g / xp.square(1 + xp.abs(a)))
_unary("sin", lambda xp, g, a, y: g * xp.cos(a))
_unary("cos", lambda xp, g, a, y: -g * xp.sin(a))
_unary("log2", lambda xp, g, a, y: g / (a * float(np.log(2.0))))
_unary("log10", lambda xp, g, a, y: g / (a * float(np.log(10.0))))
_unary("tan", lambda xp, g, a, y: g * (1 + y * y))
_unary("cbrt", lambda xp, g, a, y: g / (3 * y * y))
_unary("log1p", lambda xp, g, a, y: g / (1 + a))
_unary("expm1", lambda xp, g, a, y: g * (y + 1))
_unary("cast", lambda xp, g, a, y: g.astype(a.dtype))
_unary("identity", lambda xp, g, a, y: g)


@register_grad("clip")
def _clip(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    # MXNet passes the gradient unless the input is strictly outside (so at NaN too)
    return (g * ~((a < attrs["a_min"]) | (a > attrs["a_max"])),)


@register_grad("copyto")
def _copyto(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """A copy across contexts: the gradient goes back to the source array's device."""
    return (backend.to_ctx(g, attrs["src_ctx"]),)


# ---------------------------------------------------------------------- reductions
def _expand(g: Any, in_shape: tuple[int, ...], axes: tuple[int, ...] | None) -> Any:
    """``g`` of a reduction reshaped to keepdims form and broadcast back to ``in_shape``."""
    xp = _xp(g)
    kept = tuple(1 if axes is None or i in axes else d for i, d in enumerate(in_shape))
    return xp.broadcast_to(g.reshape(kept), in_shape)


def _reduced_count(in_shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    dims = in_shape if axes is None else [in_shape[i] for i in axes]
    return int(np.prod(dims, dtype=np.int64))


@register_grad("sum")
def _sum(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    return (_expand(g, a.shape, attrs.get("axis")),)


@register_grad("mean")
def _mean(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    axes = attrs.get("axis")
    n = max(_reduced_count(a.shape, axes), 1)
    return (_expand(g, a.shape, axes) / n,)


@register_grad("nansum")
def _nansum(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    return (_expand(g, a.shape, attrs.get("axis")) * ~_xp(g).isnan(a),)


@register_grad("max", "min")
def _extremum(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    axes = attrs.get("axis")
    hit = a == _expand(out, a.shape, axes)
    return (_expand(g, a.shape, axes) * hit,)


@register_grad("prod")
def _prod(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    xp = _xp(g)
    axes = attrs.get("axis")
    red = tuple(range(a.ndim)) if axes is None else tuple(axes)
    keep = tuple(i for i in range(a.ndim) if i not in red)
    perm = keep + red
    t = xp.transpose(a, perm)
    flat = t.reshape(t.shape[: len(keep)] + (-1,))
    ones = xp.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
    left = xp.concatenate([ones, xp.cumprod(flat[..., :-1], axis=-1)], axis=-1)
    rev = flat[..., ::-1]
    right = xp.concatenate([ones, xp.cumprod(rev[..., :-1], axis=-1)], axis=-1)[..., ::-1]
    others = (left * right).reshape(t.shape)
    others = xp.transpose(others, tuple(np.argsort(perm)))
    return (_expand(g, a.shape, axes) * others,)


@register_grad("norm")
def _norm(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    xp = _xp(g)
    axes = attrs.get("axis")
    ge = _expand(g, a.shape, axes)
    if attrs.get("ord", 2) == 1:
        return (ge * xp.sign(a),)
    return (ge * a / _expand(out, a.shape, axes),)


# ---------------------------------------------------------------------- linear algebra
def _rev(x: Any) -> Any:
    return x.T if x.ndim > 1 else x


def _matmul_grads(
    xp: Any, g: Any, a: Any, b: Any, ta: bool, tb: bool, needs: tuple
) -> tuple[Any, Any]:
    """Gradients of ``op(a) @ op(b)`` (``op`` transposes the last two axes where ``ta``/``tb``)
    with respect to ``a`` and ``b``, one matrix product each, skipping the unneeded ones. Works
    on 2-d matrices and stacks of them; the products read transposed views, so BLAS sees the
    operands in place (no copies)."""

    def t(x: Any) -> Any:
        return x.swapaxes(-1, -2)

    g_a = g_b = None
    if needs[0]:
        # d/da of a @ b is g @ b.T; with a transposed, its transpose b @ g.T.
        if ta:
            g_a = xp.matmul(t(b) if tb else b, t(g))
        else:
            g_a = xp.matmul(g, b if tb else t(b))
    if needs[1]:
        if tb:
            g_b = xp.matmul(t(g), t(a) if ta else a)
        else:
            g_b = xp.matmul(a if ta else t(a), g)
    return g_a, g_b


@register_grad("dot")
def _dot(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    xp = _xp(g)
    ta, tb = attrs.get("transpose_a", False), attrs.get("transpose_b", False)
    if a.ndim == 2 and b.ndim == 2:
        return _matmul_grads(xp, g, a, b, ta, tb, needs)
    lhs = _rev(a) if ta else a
    rhs = _rev(b) if tb else b
    if lhs.ndim == 0 or rhs.ndim == 0:
        return g * rhs, g * lhs
    g = g.reshape(lhs.shape[:-1] + rhs.shape[1:])
    g_lhs = g_rhs = None
    if needs[0]:
        g_lhs = xp.tensordot(
            g, rhs, axes=(list(range(lhs.ndim - 1, g.ndim)), list(range(1, rhs.ndim)))
        )
        g_lhs = _rev(g_lhs) if ta else g_lhs
    if needs[1]:
        g_rhs = xp.tensordot(lhs, g, axes=(list(range(lhs.ndim - 1)), list(range(lhs.ndim - 1))))
        g_rhs = _rev(g_rhs) if tb else g_rhs
    return g_lhs, g_rhs


@register_grad("batch_dot")
def _batch_dot(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    ta, tb = attrs.get("transpose_a", False), attrs.get("transpose_b", False)
    return _matmul_grads(_xp(g), g, a, b, ta, tb, needs)


@register_grad("FullyConnected", into=True)
def _fully_connected(
    g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple, into: tuple | None = None
) -> Sequence[Any]:
    """``out = x2 @ w.T (+ bias)`` with ``x2`` the input as a matrix (``attrs['x2']``, a view);
    ``attrs['act']`` 'relu' when the op applied a ReLU to that sum (``out`` is then the ReLU's
    output, and ``g`` passes where it is positive). The weight's and bias's gradients go into
    ``into``'s buffers where given."""
    xp = _xp(g)
    x, w = ins[0], ins[1]
    if attrs.get("act") == "relu":
        g = g * (out > 0)
    g2 = g.reshape(-1, w.shape[0]) if g.ndim != 2 else g
    x2 = attrs["x2"]
    dst = into if into is not None else (None, None, None)
    g_x = xp.matmul(g2, w).reshape(x.shape) if needs[0] else None
    g_w = xp.matmul(g2.T, x2, out=dst[1]) if needs[1] else None
    if len(ins) < 3:
        return g_x, g_w
    g_b = g2.sum(axis=0, out=dst[2]) if needs[2] else None
    return g_x, g_w, g_b


@register_grad("softmax")
def _softmax(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    axis = attrs.get("axis", -1)
    temp = attrs.get("temperature") or 1.0
    dot = (g * out).sum(axis=axis, keepdims=True)
    return (out * (g - dot) / temp,)


@register_grad("log_softmax")
def _log_softmax(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    axis = attrs.get("axis", -1)
    temp = attrs.get("temperature") or 1.0
    xp = _xp(g)
    return ((g - xp.exp(out) * g.sum(axis=axis, keepdims=True)) / temp,)


# ---------------------------------------------------------------------- indexing and shape
@register_grad("pick")
def _pick(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    xp = _xp(g)
    ax = attrs["axis"]
    idx = xp.expand_dims(attrs["index"], ax)
    if not attrs.get("keepdims", False):
        g = xp.expand_dims(g.reshape(idx.shape[:ax] + idx.shape[ax + 1 :]), ax)
    classes = xp.arange(a.shape[ax]).reshape((-1,) + (1,) * (a.ndim - ax - 1))
    return (xp.where(classes == idx, g, xp.zeros((), dtype=g.dtype)),)


@register_grad("_sparse_softmax_ce")
def _sparse_softmax_ce(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """Gradient of ``-log_softmax(pred)[i, index[i]]``: ``g * exp(logp)``, minus ``g`` at the
    label (the same operations, in the same order, as ``pick`` then ``log_softmax``'s rules)."""
    xp = _xp(g)
    g_col = g.reshape(-1, 1)
    grad = xp.exp(attrs["logp"]) * g_col
    rows = xp.arange(grad.shape[0])
    grad[rows, attrs["index"]] -= g
    return (grad,)


@register_grad("transpose")
def _transpose(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    axes = attrs.get("axes")
    xp = _xp(g)
    if not axes:
        return (xp.transpose(g),)
    return (xp.transpose(g, tuple(int(i) for i in np.argsort(axes))),)


@register_grad("reshape")
def _reshape(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (g.reshape(ins[0].shape),)


@register_grad("broadcast_to", "broadcast_like")
def _broadcast_to(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (unbroadcast(g, ins[0].shape),) + (None,) * (len(ins) - 1)


@register_grad("concat")
def _concat(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    xp = _xp(g)
    dim = attrs.get("dim", 1) % g.ndim
    bounds = np.cumsum([x.shape[dim] for x in ins])[:-1]
    return tuple(xp.split(g, [int(b) for b in bounds], axis=dim))


@register_grad("stack")
def _stack(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    xp = _xp(g)
    moved = xp.moveaxis(g, attrs.get("axis", 0), 0)
    return tuple(moved[i] for i in range(len(ins)))


@register_grad("add_n")
def _add_n(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (g,) * len(ins)


@register_grad("where")
def _where(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    xp = _xp(g)
    cond = attrs["condition"]
    zero = xp.zeros((), dtype=g.dtype)
    return xp.where(cond, g, zero), xp.where(cond, zero, g)


def _scatter_into(arr: Any, key: Any, g: Any) -> Any:
    """``arr[key] += g``, adding repeated advanced indices once per occurrence."""
    xp = _xp(arr)
    g = g.reshape(arr[key].shape)
    keys = key if isinstance(key, tuple) else (key,)
    advanced = any(hasattr(k, "shape") and k.dtype != bool for k in keys) or any(
        isinstance(k, list) for k in keys
    )
    if not advanced:
        arr[key] += g
    elif backend.is_gpu_array(arr):
        import cupyx  # noqa: PLC0415 - GPU only

        cupyx.scatter_add(arr, key, g)
    else:
        xp.add.at(arr, key, g)
    return arr


@register_grad("getitem")
def _getitem(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    return (_scatter_into(_xp(g).zeros(a.shape, dtype=g.dtype), attrs["key"], g),)


@register_grad("slice_axis")
def _slice_axis(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a = ins[0]
    key: list[Any] = [slice(None)] * a.ndim
    key[attrs["axis"]] = slice(attrs["begin"], attrs["end"])
    return (_scatter_into(_xp(g).zeros(a.shape, dtype=g.dtype), tuple(key), g),)


# ---------------------------------------------------------------------- layers and operators
# (issue 12: indexing, sorting, slicing, layout, activations, dropout, normalization, linalg)
MultiRule = Callable[
    [list[Any], tuple[Any, ...], tuple[Any, ...], dict[str, Any], tuple[bool, ...]], Sequence[Any]
]
MULTI_GRAD_RULES: dict[str, MultiRule] = {}


def register_multi_grad(*names: str) -> Callable[[MultiRule], MultiRule]:
    """Decorator registering the rule of an op with several outputs (``record_multi_op``):
    ``rule(grads, ins, outs, attrs, needs)`` where ``grads`` holds one gradient per output slot,
    None for outputs that received none."""

    def deco(fn: MultiRule) -> MultiRule:
        for name in names:
            MULTI_GRAD_RULES[name] = fn
        return fn

    return deco


def _zeros_of(g: Any, shape: tuple[int, ...]) -> Any:
    return _xp(g).zeros(shape, dtype=g.dtype)


@register_grad("take")
def _take(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """Scatter-add back along ``axis`` at the effective indices (repeats add up)."""
    key = (slice(None),) * attrs["axis"] + (attrs["index"],)
    return (_scatter_into(_zeros_of(g, ins[0].shape), key, g),)


@register_grad("gather_nd")
def _gather_nd(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (_scatter_into(_zeros_of(g, ins[0].shape), attrs["index"], g),)


@register_grad("scatter_nd")
def _scatter_nd(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (g[attrs["index"]],)


@register_grad("sort_indices")
def _sort_indices(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """Indices and masks of topk/argsort: a zero gradient, as MXNet's."""
    return (_zeros_of(g, ins[0].shape),)


def _unsort(g: Any, a: Any, attrs: dict) -> Any:
    """The gradient of the values taken from ``a`` at ``attrs['order']`` (the first ``k`` of a
    sorting permutation along ``attrs['axis']``; of the flattened ``a`` when ``attrs['flat']``),
    written back to their positions; zero elsewhere."""
    xp = _xp(g)
    ax, order = attrs["axis"], attrs["order"]
    shape = (a.size,) if attrs.get("flat") else tuple(a.shape)
    order2 = xp.moveaxis(order, ax, -1)
    k = order2.shape[-1]
    rows = order2.reshape(-1, k)
    g2 = xp.moveaxis(g.reshape(order.shape), ax, -1).reshape(-1, k)
    moved_shape = tuple(np.moveaxis(np.empty(shape, dtype=np.int8), ax, -1).shape)
    grad = xp.zeros((rows.shape[0], shape[ax]), dtype=g.dtype)
    grad[xp.arange(rows.shape[0]).reshape(-1, 1), rows] = g2
    return xp.moveaxis(grad.reshape(moved_shape), -1, ax).reshape(a.shape)


@register_grad("sort_values")
def _sort_values(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (_unsort(g, ins[0], attrs),)


@register_multi_grad("topk_both")
def _topk_both(grads: list, ins: tuple, outs: tuple, attrs: dict, needs: tuple) -> Sequence[Any]:
    """Only the values (slot 0) carry a gradient; the indices' is zero."""
    g = grads[0]
    if g is None:
        return (_zeros_of(grads[1], ins[0].shape).astype(ins[0].dtype),)
    return (_unsort(g, ins[0], attrs),)


@register_multi_grad("split")
def _split(grads: list, ins: tuple, outs: tuple, attrs: dict, needs: tuple) -> Sequence[Any]:
    """The parts' gradients joined along ``axis`` (zeros for parts that received none)."""
    a = ins[0]
    live = next(g for g in grads if g is not None)
    xp = _xp(live)
    ax, bounds = attrs["axis"], attrs["bounds"]
    pieces = []
    for g, lo, hi in zip(grads, bounds[:-1], bounds[1:]):
        shape = a.shape[:ax] + (hi - lo,) + a.shape[ax + 1 :]
        pieces.append(xp.zeros(shape, dtype=live.dtype) if g is None else g.reshape(shape))
    return (xp.concatenate(pieces, axis=ax),)


@register_grad("tile")
def _tile(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """Sum over the repetitions: ``g`` viewed as ``(r0, d0, r1, d1, ...)``."""
    reps, in_shape = attrs["reps"], attrs["in_shape"]
    split_shape = [v for pair in zip(reps, in_shape) for v in pair]
    summed = g.reshape(split_shape).sum(axis=tuple(range(0, 2 * len(reps), 2)))
    return (summed.reshape(ins[0].shape),)


@register_grad("repeat")
def _repeat(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, r, ax = ins[0], attrs["repeats"], attrs["axis"]
    if ax is None:
        return (g.reshape(-1, r).sum(axis=1).reshape(a.shape) if r else _zeros_of(g, a.shape),)
    if r == 0:
        return (_zeros_of(g, a.shape),)
    split = a.shape[: ax + 1] + (r,) + a.shape[ax + 1 :]
    return (g.reshape(split).sum(axis=ax + 1),)


@register_grad("flip")
def _flip(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    axes = attrs["axis"]
    return (_xp(g).flip(g, axis=axes) if axes else g,)


@register_grad("pad")
def _pad(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """Per padded axis, each output position adds its gradient to the input position it copied
    (``numpy.pad`` of ``arange`` gives that map for edge/reflect/symmetric; constant cells
    have none). maximum/minimum padding is not differentiable here."""
    mode = attrs["mode"]
    if mode not in ("constant", "edge", "reflect", "symmetric"):
        raise NotImplementedError(
            f"pad: the gradient of mode={mode!r} is not supported; use 'constant', 'edge', "
            "'reflect' or 'symmetric', or pad outside autograd.record()."
        )
    xp = _xp(g)
    a = ins[0]
    for ax, (b, e) in enumerate(attrs["widths"]):
        if b == 0 and e == 0:
            continue
        n = a.shape[ax]
        grow = (max(b, 0), max(e, 0))
        if mode == "constant":
            src = np.pad(np.arange(n), grow, mode="constant", constant_values=-1)
        else:
            src = np.pad(np.arange(n), grow, mode=mode)
        src = src[-min(b, 0) : len(src) + min(e, 0)]
        keep = np.nonzero(src >= 0)[0]
        moved = xp.moveaxis(g, ax, 0)
        acc = xp.zeros((n,) + moved.shape[1:], dtype=g.dtype)
        _scatter_into(acc, xp.asarray(src[keep]), moved[xp.asarray(keep)])
        g = xp.moveaxis(acc, 0, ax)
    return (g,)


def _diagonal_index(rows: int, cols: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of diagonal ``k`` of a ``rows x cols`` matrix."""
    n = max(0, min(rows, cols - k) if k >= 0 else min(rows + k, cols))
    i = np.arange(n)
    return (i, i + k) if k >= 0 else (i - k, i)


@register_grad("diag")
def _diag(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    xp = _xp(g)
    k = attrs["k"]
    if attrs["make"]:  # a vector made into a matrix: read its diagonal back
        r, c = _diagonal_index(g.shape[0], g.shape[1], k)
        return (g[xp.asarray(r), xp.asarray(c)],)
    a = ins[0]
    a1, a2 = attrs["axis1"], attrs["axis2"]
    grad = xp.zeros(a.shape, dtype=g.dtype)
    view = xp.moveaxis(grad, (a1, a2), (-2, -1))
    r, c = _diagonal_index(a.shape[a1], a.shape[a2], k)
    view[..., xp.asarray(r), xp.asarray(c)] = g
    return (grad,)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946


@register_grad("leaky_relu")
def _leaky_relu(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """leaky: 1 or slope; elu: 1 or slope*e^x; selu: lambda or lambda*alpha*e^x (the x <= 0
    branch at 0, as MXNet); gelu: Phi(x) + x*phi(x)."""
    xp = _xp(g)
    a = ins[0]
    dt = a.dtype.type
    act, slope = attrs["act"], attrs["slope"]
    # float32 leaky/elu: MXNet's oneDNN kernels take the x > 0 branch at NaN (x <= 0 fails).
    pos = xp.logical_not(a <= 0) if a.dtype == np.float32 and act != "selu" else a > 0
    if act == "leaky":
        return (g * xp.where(pos, dt(1), dt(slope)),)
    if act == "elu":
        return (g * xp.where(pos, dt(1), xp.exp(a) * dt(slope)),)
    if act == "selu":
        alpha, lam = dt(np.float32(_SELU_ALPHA)), dt(np.float32(_SELU_LAMBDA))
        return (g * (xp.where(pos, dt(1), xp.exp(a) * alpha) * lam),)
    pdf = xp.exp(a * a * dt(-0.5)) * dt(1 / np.sqrt(2 * np.pi))
    return (g * (attrs["cdf"] + a * pdf),)


@register_grad("prelu")
def _prelu(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """d/dx: 1 or gamma; d/dgamma: x where x <= 0, summed to gamma's aligned shape."""
    xp = _xp(g)
    a, gamma = ins
    gs = gamma.reshape(attrs["gshape"]).astype(a.dtype, copy=False)
    pos = a > 0
    g_x = g * xp.where(pos, a.dtype.type(1), gs) if needs[0] else None
    g_gamma = None
    if needs[1]:
        g_gamma = unbroadcast(g * xp.where(pos, a.dtype.type(0), a), attrs["gshape"])
        g_gamma = g_gamma.reshape(gamma.shape)
    return g_x, g_gamma


@register_grad("Dropout")
def _dropout(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (g * attrs["mask"],)


@register_grad("L2Normalization")
def _l2_normalization(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """``(g - y * sum(g * y)) / norm`` over the normalized axes."""
    norm = attrs["norm"]
    y = out.astype(norm.dtype, copy=False)
    gw = g.astype(norm.dtype, copy=False)
    return ((gw - y * (gw * y).sum(axis=attrs["axes"], keepdims=True)) / norm,)


@register_grad("SequenceMask")
def _sequence_mask(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    return (g * attrs["keep"],)


@register_grad("linalg_gemm2", "linalg_gemm")
def _linalg_gemm(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """``alpha * op(A) @ op(B) (+ beta * C)``: the product's gradients scaled by ``alpha``,
    ``C``'s by ``beta``."""
    a, b = ins[0], ins[1]
    alpha = g.dtype.type(attrs.get("alpha", 1.0))
    ta, tb = attrs.get("transpose_a", False), attrs.get("transpose_b", False)
    g_a, g_b = _matmul_grads(_xp(g), g * alpha, a, b, ta, tb, needs)
    if len(ins) == 2:
        return g_a, g_b
    return g_a, g_b, (g * g.dtype.type(attrs.get("beta", 1.0)) if needs[2] else None)


@register_grad("multinomial_logp")
def _multinomial_logp(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """``d log p[k] / d p = 1 / p[k]`` at each drawn category ``k``, added over the draws."""
    xp = _xp(g)
    p = ins[0]
    idx = attrs["index"]
    g_flat = g.reshape(idx.shape) / xp.take_along_axis(p, idx, axis=-1)
    grad = xp.zeros(p.shape, dtype=g_flat.dtype)
    rows = grad.reshape(-1, p.shape[-1])
    r = xp.arange(rows.shape[0]).reshape(-1, 1)
    _scatter_into(
        rows,
        (xp.broadcast_to(r, idx.reshape(-1, idx.shape[-1]).shape), idx.reshape(-1, idx.shape[-1])),
        g_flat.reshape(-1, idx.shape[-1]),
    )
    return (grad,)


# -------------------------------------------------------- convolution, pooling, normalization
@register_grad("Convolution", "Deconvolution")
def _convolution(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """Data, weight and bias gradients of (transposed) convolution, by mxlite.ops.conv."""
    from mxlite.ops import conv  # noqa: PLC0415 - ops load with their first use

    dx, dw, db = conv.backward(
        attrs["transposed"], g, ins[0], ins[1], attrs["win"], attrs["groups"],
        attrs["channels_last"], needs, attrs.get("saved"),
    )  # fmt: skip
    return (dx, dw, db)[: len(ins)]


@register_grad("Pooling")
def _pooling(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    from mxlite.ops import conv, pool  # noqa: PLC0415

    x, y = ins[0], out
    last = attrs["channels_last"]
    if last:
        g, x, y = conv.to_channels_first(g), conv.to_channels_first(x), conv.to_channels_first(y)
    index = attrs.get("index")
    dx = pool.backward(conv.as5d(g), conv.as5d(x), conv.as5d(y), attrs["spec"], index)
    dx = dx.reshape(x.shape)
    return (conv.to_channels_last(dx) if last else dx,)


@register_grad("BatchNorm")
def _batch_norm(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """Batch statistics pass their gradient into dx; a predict-mode forward differentiated in
    training mode uses that formula with the moving statistics (as MXNet)."""
    from mxlite.autograd import tape as autograd_tape  # noqa: PLC0415 - the tape imports this
    from mxlite.ops import norm  # noqa: PLC0415

    x, gamma = ins[0], ins[1]
    mode = attrs["mode"]
    batch = mode == "batch" or (mode == "infer" and autograd_tape.is_training())
    view = (int(np.prod(x.shape[: attrs["axis"]])), x.shape[attrs["axis"]], -1)
    eff = _xp(g).ones_like(gamma) if attrs["fix_gamma"] else gamma
    dx, dgamma, dbeta = norm.bn_backward(
        g.reshape(view), x.reshape(view), eff, attrs["mean"], attrs["invstd"], batch, needs,
        attrs.get("allreduce") if mode == "batch" else None,
        out.reshape(view) if attrs["relu"] else None,
    )  # fmt: skip
    if dgamma is not None and attrs["fix_gamma"]:
        dgamma = _xp(g).zeros_like(gamma)
    return (None if dx is None else dx.reshape(x.shape)), dgamma, dbeta


@register_grad("RowNorm")
def _row_norm(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """LayerNorm / InstanceNorm / GroupNorm: rows normalized, then an affine per ``param_view``."""
    from mxlite.ops import norm  # noqa: PLC0415

    xp = _xp(g)
    layout, view = attrs["layout"], attrs["param_view"]
    xhat, gamma = attrs["xhat"], ins[1]
    if layout["axis"] is not None:
        g = xp.moveaxis(g, layout["axis"], -1)
    g3 = g.reshape(layout["grouped"]).astype(xhat.dtype, copy=False)
    x3 = xhat.reshape(g3.shape)
    axes = tuple(i for i, d in enumerate(view) if d == 1)
    dgamma = (g3 * x3).sum(axis=axes) if needs[1] else None
    dbeta = g3.sum(axis=axes) if needs[2] else None
    dx = None
    if needs[0]:
        gxhat = (g3 * gamma.reshape(view).astype(g3.dtype)).reshape(xhat.shape)
        dx = norm.rows_backward(gxhat, xhat, attrs["invstd"]).reshape(layout["moved_shape"])
        if layout["axis"] is not None:
            dx = xp.moveaxis(dx, -1, layout["axis"])
    return dx, dgamma, dbeta


@register_grad("UpSampling")
def _upsampling(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """Nearest upsampling: each input's gradient sums the blocks its pixels were copied to."""
    grads = []
    start = 0
    for x, (fy, fx) in zip(ins, attrs["factors"]):
        n, c, h, w = x.shape
        part = g if attrs["mode"] == "sum" else g[:, start : start + c]
        start += c
        grads.append(part.reshape(n, c, h, fy, w, fx).sum(axis=(3, 5)))
    return tuple(grads)


# ---------------------------------------------------------------------- conformance sweep
# (issue 11): the elementwise functions of mxlite.ndarray.op_compat.
_unary("sinh", lambda xp, g, a, y: g * xp.cosh(a))
_unary("cosh", lambda xp, g, a, y: g * xp.sinh(a))
_unary("arcsin", lambda xp, g, a, y: g / xp.sqrt(1 - a * a))
_unary("arccos", lambda xp, g, a, y: -g / xp.sqrt(1 - a * a))
_unary("arctan", lambda xp, g, a, y: g / (1 + a * a))
_unary("arcsinh", lambda xp, g, a, y: g / xp.sqrt(a * a + 1))
_unary("arccosh", lambda xp, g, a, y: g / xp.sqrt(a * a - 1))
_unary("arctanh", lambda xp, g, a, y: g / (1 - a * a))
_unary("degrees", lambda xp, g, a, y: g * float(180 / np.pi))
_unary("radians", lambda xp, g, a, y: g * float(np.pi / 180))
_unary("rcbrt", lambda xp, g, a, y: -g * y / (3 * a))


# ---------------------------------------------------------------------- sparse (issue 15)
@register_grad("_embedding_row_sparse")
def _embedding_row_sparse(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """``Embedding(sparse_grad=True)``: the weight's gradient as merged rows (a
    :class:`~mxlite.ops.row_sparse.RowSparseGrad`): the output gradients of repeated indices
    added, only the rows looked up present."""
    from mxlite.ops import row_sparse

    weight = ins[0]
    dim = int(weight.shape[1])
    uniq, summed = row_sparse.merge_rows(_xp(g), attrs["index"].reshape(-1), g.reshape(-1, dim))
    return (row_sparse.RowSparseGrad(uniq, summed.astype(weight.dtype, copy=False), weight.shape),)


@register_grad("_sparse_dot_csr_lhs")
def _sparse_dot_csr_lhs(g: Any, ins: tuple, out: Any, attrs: dict, needs: tuple) -> Sequence[Any]:
    """``out = dot(csr, W)`` (flags ``transpose_a``/``transpose_b``): ``dW = dot(csr.T, g)``,
    row_sparse when ``attrs['sparse_grad']`` (only the csr's columns), else dense."""
    from mxlite.ops import row_sparse

    vals, idx, ptr, rows, shape = attrs["csr"]
    w = ins[0]
    if attrs["transpose_a"]:  # out = csr.T @ W  ->  dW = csr @ g
        grad = row_sparse.csr_dot_raw(vals, idx, ptr, rows, shape[0], g)
        return ((grad.T if attrs["transpose_b"] else grad).astype(w.dtype, copy=False),)
    uniq, summed = row_sparse.csr_t_dot_raw(vals, idx, rows, g)
    summed = summed.astype(w.dtype, copy=False)
    if attrs["transpose_b"]:  # out = csr @ W.T  ->  dW = (csr.T @ g).T
        dense = row_sparse.densify(_xp(g), uniq, summed, (shape[1], int(g.shape[1])), w.dtype)
        return (dense.T.copy(),)
    if attrs["sparse_grad"]:
        return (row_sparse.RowSparseGrad(uniq, summed, w.shape),)
    return (row_sparse.densify(_xp(g), uniq, summed, tuple(w.shape), w.dtype),)
