"""Higher-order gradients: ``autograd.grad(..., create_graph=True)`` runs the backward pass with
NDArray ops that are themselves recorded, so the gradients it returns can be differentiated again
(gradient penalties, Hessian-vector products).

The first-order tape (:mod:`mxlite.autograd_tape`) runs its rules on raw arrays, which is what
makes ``backward()`` fast. Here each op's gradient is written again with NDArray ops
(:data:`GRAPH_RULES`): every raw input the node kept is re-attached to its parent's graph node,
its output to the node itself, and the rule's result joins the same graph. Covered: the
elementwise arithmetic and unary math, reductions (sum, mean), ``dot``, ``FullyConnected``, the
softmaxes, reshape/broadcast/cast. MXNet 1.9.1 covers fewer (unary math and FullyConnected);
an op outside the table raises an ``MXNetError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import autograd_tape as tape
from mxlite.base import MXNetError
from mxlite.ndarray import op
from mxlite.ndarray.ndarray import NDArray, ctx_of_raw

__all__ = ["GRAPH_RULES", "run_backward_recorded"]

GraphRule = Callable[[NDArray, list[Any], NDArray, dict[str, Any], tuple[bool, ...]], Sequence[Any]]
GRAPH_RULES: dict[str, GraphRule] = {}

_MSG_NO_RULE = (
    "Operator {op} does not support higher-order gradients in mxlite (autograd.grad with "
    "create_graph=True records the backward pass of: {ops}). Compute this part outside the "
    "differentiated graph, or differentiate once."
)


def _rule(*names: str) -> Callable[[GraphRule], GraphRule]:
    def deco(fn: GraphRule) -> GraphRule:
        for name in names:
            GRAPH_RULES[name] = fn
        return fn

    return deco


def _linked(raw: Any, node: Any) -> Any:
    """``raw`` as an NDArray that belongs to ``node``'s graph (a constant when ``node`` is None;
    scalars stay scalars)."""
    if not hasattr(raw, "shape"):
        return raw
    arr = NDArray(raw, ctx_of_raw(raw))
    arr._ag_node = node
    return arr


def _fit(g: NDArray, shape: tuple[int, ...], dtype: Any) -> NDArray:
    """``g`` summed back to ``shape`` (over broadcast axes) and cast to ``dtype``, recorded."""
    if g.shape != shape:
        lead = g.ndim - len(shape)
        if lead > 0:
            g = op.sum(g, axis=tuple(range(lead)))
        stretched = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
        if stretched:
            g = op.sum(g, axis=stretched, keepdims=True)
        if g.shape != shape:
            g = g.reshape(shape)
    if g._data.dtype != dtype:
        g = g.astype(dtype)
    return g


def run_backward_recorded(
    heads: list[NDArray], head_grads: list[Any], targets: list[Any], train: bool
) -> dict[Any, NDArray]:
    """:func:`mxlite.autograd_tape.run_backward` for ``targets`` (variable nodes), computed with
    recorded NDArray ops: returns {variable node: gradient NDArray in the graph}.

    Raises:
        MXNetError: an op on the way has no entry in :data:`GRAPH_RULES`, or the graph was freed.
    """
    head_nodes = tape.head_nodes_of(heads)
    grads: dict[Any, list[Any]] = {}
    for head, node, hg in zip(heads, head_nodes, head_grads):
        g = op.ones_like(head) if hg is None else hg
        if not isinstance(g, NDArray):
            g = NDArray(np.asarray(g, dtype=head._data.dtype), head._ctx)
        _add(grads, node, 0, g.reshape(head.shape) if g.shape != head.shape else g)
    order, needs = tape.plan_backward(head_nodes, targets)
    result: dict[Any, NDArray] = {}
    prev_record, prev_train = tape.set_recording(True), tape.set_training(train)
    try:
        for node in reversed(order):
            slots = grads.pop(node, None)
            if not needs[node]:
                continue
            if type(node) is tape.VarNode:
                if slots is not None:
                    result[node] = slots[0]
                continue
            if slots is None:
                continue
            rule = GRAPH_RULES.get(node.op) if isinstance(node, tape.RuleNode) else None
            if rule is None:
                raise MXNetError(
                    _MSG_NO_RULE.format(op=node.op, ops=", ".join(sorted(GRAPH_RULES)))
                )
            wanted = tuple(p is not None and needs[p[0]] for p in node.parents)
            ins = [
                _linked(raw, None if p is None else p[0]) for raw, p in zip(node.ins, node.parents)
            ]
            out = _linked(node.out, node)
            for parent, want, g, raw in zip(
                node.parents, wanted, rule(slots[0], ins, out, node.attrs, wanted), node.ins
            ):
                if want and g is not None:
                    _add(grads, parent[0], parent[1], _fit(g, tuple(raw.shape), raw.dtype))
    finally:
        tape.set_recording(prev_record)
        tape.set_training(prev_train)
    return result


def _add(store: dict[Any, list[Any]], node: Any, slot: int, g: NDArray) -> None:
    slots = store.get(node)
    if slots is None:
        slots = store[node] = [None] * node.n_out
    slots[slot] = g if slots[slot] is None else slots[slot] + g


# ---------------------------------------------------------------------- arithmetic
@_rule("add")
def _g_add(g: NDArray, ins: list[Any], out: NDArray, attrs: dict, needs: tuple) -> Sequence[Any]:
    return g, g


@_rule("sub")
def _g_sub(g: NDArray, ins: list[Any], out: NDArray, attrs: dict, needs: tuple) -> Sequence[Any]:
    return g, -g


@_rule("mul")
def _g_mul(g: NDArray, ins: list[Any], out: NDArray, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    return (g * b if needs[0] else None), (g * a if needs[1] else None)


@_rule("div")
def _g_div(g: NDArray, ins: list[Any], out: NDArray, attrs: dict, needs: tuple) -> Sequence[Any]:
    a, b = ins
    return (g / b if needs[0] else None), (-g * a / (b * b) if needs[1] else None)


@_rule("add_scalar")
def _g_add_scalar(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    return (g,)


@_rule("sub_scalar")
def _g_sub_scalar(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    return (-g if attrs["reverse"] else g,)


@_rule("mul_scalar")
def _g_mul_scalar(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    return (g * attrs["scalar"],)


@_rule("div_scalar")
def _g_div_scalar(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    (a,) = ins
    s = attrs["scalar"]
    return ((-g * s) / (a * a),) if attrs["reverse"] else (g / s,)


@_rule("pow_scalar")
def _g_pow_scalar(g: NDArray, ins: list[Any], out: NDArray, attrs: dict, needs: tuple) -> Sequence:
    (a,) = ins
    s = attrs["scalar"]
    if attrs["reverse"]:  # s ** a
        return (g * out * float(np.log(s)),)
    return (g * s * a ** (s - 1),)


# ---------------------------------------------------------------------- unary math
def _unary(name: str, fn: Callable[[NDArray, NDArray, NDArray], NDArray]) -> None:
    def rule(g: NDArray, ins: list[Any], out: NDArray, attrs: dict, needs: tuple) -> Sequence:
        return (fn(g, ins[0], out),)

    rule.__name__ = f"_graph_grad_{name}"
    GRAPH_RULES[name] = rule


_unary("negative", lambda g, a, y: -g)
_unary("identity", lambda g, a, y: g)
_unary("exp", lambda g, a, y: g * y)
_unary("expm1", lambda g, a, y: g * (y + 1.0))
_unary("log", lambda g, a, y: g / a)
_unary("log1p", lambda g, a, y: g / (a + 1.0))
_unary("sqrt", lambda g, a, y: g * 0.5 / y)
_unary("square", lambda g, a, y: g * 2.0 * a)
_unary("reciprocal", lambda g, a, y: -g * y * y)
_unary("sin", lambda g, a, y: g * op.cos(a))
_unary("cos", lambda g, a, y: -g * op.sin(a))
_unary("tanh", lambda g, a, y: g * (1.0 - y * y))
_unary("sigmoid", lambda g, a, y: g * y * (1.0 - y))
_unary("relu", lambda g, a, y: g * op.sign(y))
_unary("Activation_relu", lambda g, a, y: g * (a > 0.0))
_unary("abs", lambda g, a, y: g * op.sign(a))
_unary("cast", lambda g, a, y: g.astype(a._data.dtype))


@_rule("maximum_scalar")
def _g_maximum_scalar(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    return (g * (ins[0] >= attrs["scalar"]),)


@_rule("minimum_scalar")
def _g_minimum_scalar(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    return (g * (ins[0] <= attrs["scalar"]),)


# ---------------------------------------------------------------------- reductions and shape
def _expand(g: NDArray, shape: tuple[int, ...], axes: Any) -> NDArray:
    kept = tuple(1 if axes is None or i in axes else d for i, d in enumerate(shape))
    return g.reshape(kept).broadcast_to(shape)


@_rule("sum")
def _g_sum(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    a = ins[0]
    return (_expand(g, a.shape, attrs.get("axis")),)


@_rule("mean")
def _g_mean(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    a = ins[0]
    axes = attrs.get("axis")
    dims = a.shape if axes is None else [a.shape[i] for i in axes]
    n = max(int(np.prod(dims, dtype=np.int64)), 1)
    return (_expand(g, a.shape, axes) / float(n),)


@_rule("reshape")
def _g_reshape(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    return (g.reshape(ins[0].shape),)


@_rule("broadcast_to")
def _g_broadcast_to(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    return (_fit(g, ins[0].shape, ins[0]._data.dtype),)


# ---------------------------------------------------------------------- linear algebra
@_rule("dot")
def _g_dot(g: NDArray, ins: list[Any], out: Any, attrs: dict, needs: tuple) -> Sequence:
    a, b = ins
    if a.ndim != 2 or b.ndim != 2:
        raise MXNetError(_MSG_NO_RULE.format(op="dot (other than 2-d x 2-d)", ops="2-d dot"))
    ta, tb = attrs.get("transpose_a", False), attrs.get("transpose_b", False)
    g_a = g_b = None
    if needs[0]:
        g_a = (
            op.dot(b, g, transpose_a=tb, transpose_b=True)
            if ta
            else op.dot(g, b, transpose_b=not tb)
        )
    if needs[1]:
        g_b = (
            op.dot(g, a, transpose_a=True, transpose_b=ta)
            if tb
            else op.dot(a, g, transpose_a=not ta)
        )
    return g_a, g_b


@_rule("FullyConnected")
def _g_fully_connected(
    g: NDArray, ins: list[Any], out: NDArray, attrs: dict, needs: tuple
) -> Sequence:
    x, w = ins[0], ins[1]
    if attrs.get("act") == "relu":
        g = g * (out > 0.0)
    g2 = g.reshape((-1, w.shape[0])) if g.ndim != 2 else g
    x2 = x.reshape(tuple(attrs["x2"].shape)) if x.shape != tuple(attrs["x2"].shape) else x
    g_x = op.dot(g2, w).reshape(x.shape) if needs[0] else None
    g_w = op.dot(g2, x2, transpose_a=True) if needs[1] else None
    if len(ins) < 3:
        return g_x, g_w
    return g_x, g_w, (op.sum(g2, axis=0) if needs[2] else None)


@_rule("softmax")
def _g_softmax(g: NDArray, ins: list[Any], out: NDArray, attrs: dict, needs: tuple) -> Sequence:
    axis = attrs.get("axis", -1)
    temp = attrs.get("temperature") or 1.0
    dot = op.sum(g * out, axis=axis, keepdims=True)
    return (out * (g - dot) / temp,)


@_rule("log_softmax")
def _g_log_softmax(g: NDArray, ins: list[Any], out: NDArray, attrs: dict, needs: tuple) -> Sequence:
    axis = attrs.get("axis", -1)
    temp = attrs.get("temperature") or 1.0
    return ((g - op.exp(out) * op.sum(g, axis=axis, keepdims=True)) / temp,)
