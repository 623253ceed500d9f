"""Autograd: record operations on NDArrays and differentiate them (``mx.autograd``).

A compact dynamic tape. While :func:`record` is on, every differentiable op hands its inputs and
its output to :func:`record_op`; when at least one input is part of a graph (a variable marked by
:func:`mark_variables` / ``NDArray.attach_grad``, or the output of a recorded op), the output gets a
node that remembers the op, references to its raw input and output arrays (not copies, as in
MXNet: writing into them after recording changes the gradient) and its parents' nodes.

:func:`backward` walks the nodes reachable from the heads in reverse creation order (a node is
always created after its parents, so that is a topological order), applies each op's gradient rule
from :mod:`mxlite.autograd_rules` and hands the sums to the variables: ``grad_req='write'``
overwrites the gradient buffer, ``'add'`` adds to it, ``'null'`` leaves it alone. A variable used
several times (tied parameters) receives the sum of all its uses. Without ``retain_graph`` the
visited op nodes are freed afterwards; differentiating through them again is an error, as in MXNet.

This module sits below :mod:`mxlite.ndarray` and works on raw numpy/cupy arrays; it only touches
the NDArray attributes ``_data``, ``_ctx``, ``_grad``, ``_grad_req`` and ``_ag_node``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.autograd_rules import GRAD_RULES, fit_to_input
from mxlite.base import MXNetError

__all__ = [
    "record",
    "pause",
    "train_mode",
    "predict_mode",
    "is_recording",
    "is_training",
    "set_recording",
    "set_training",
    "mark_variables",
    "backward",
    "grad",
    "get_symbol",
    "record_op",
    "check_assignable",
    "get_fresh_grad",
    "set_fresh_grad",
    "Function",
]

GRAD_REQS = ("write", "add", "null")

_MSG_NOT_IN_GRAPH = (
    "Cannot differentiate node because it is not in a computational graph. You need to set "
    "is_recording to true or use autograd.record() to save computational graphs for backward. "
    "If you want to differentiate the same graph twice, you need to pass retain_graph=True to "
    "backward."
)
_MSG_NO_VARIABLES = (
    "There are no inputs in computation graph that require gradients. Call attach_grad() "
    "(grad_req 'write' or 'add') on the arrays to differentiate before recording."
)
_MSG_ASSIGN = (
    "Assigning to NDArrays that are already in a computational graph will cause undefined "
    "behavior when evaluating gradients. Please call backward first to clear the graph or do this "
    "out side of a record section. Also note that you cannot use inplace operations like +=, *=, "
    "relu(x, out=x), y[idx]=x, etc inside a record section."
)


# ---------------------------------------------------------------------- thread-local state
class _State(threading.local):
    def __init__(self) -> None:
        self.recording = False
        self.training = False


_STATE = _State()


def is_recording() -> bool:
    """Whether operations are being recorded for differentiation (in this thread)."""
    return _STATE.recording


def is_training() -> bool:
    """Whether layers run in training mode (Dropout active, BatchNorm uses batch statistics)."""
    return _STATE.training


def set_recording(is_recording: bool) -> bool:  # noqa: A002 - MXNet's argument name
    """Turn recording on or off; returns the previous state."""
    prev = _STATE.recording
    _STATE.recording = bool(is_recording)
    return prev


def set_training(train_mode: bool) -> bool:
    """Turn training mode on or off; returns the previous state."""
    prev = _STATE.training
    _STATE.training = bool(train_mode)
    return prev


class _RecordingStateScope:
    """``with`` scope that sets recording and/or training (None leaves it) and restores both."""

    def __init__(self, is_record: bool | None, train_mode: bool | None) -> None:
        self._enter_record = is_record
        self._enter_train = train_mode
        self._prev_record: bool | None = None
        self._prev_train: bool | None = None

    def __enter__(self) -> None:
        if self._enter_record is not None:
            self._prev_record = set_recording(self._enter_record)
        if self._enter_train is not None:
            self._prev_train = set_training(self._enter_train)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._prev_record is not None:
            set_recording(self._prev_record)
        if self._prev_train is not None:
            set_training(self._prev_train)


def record(train_mode: bool = True) -> _RecordingStateScope:  # noqa: A002
    """Scope that records operations for :func:`backward`; training mode on by default.

    Example::

        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
    """
    return _RecordingStateScope(True, train_mode)


def pause(train_mode: bool = False) -> _RecordingStateScope:  # noqa: A002
    """Scope that stops recording (and, by default, training mode) inside :func:`record`."""
    return _RecordingStateScope(False, train_mode)


def train_mode() -> _RecordingStateScope:
    """Scope that turns training mode on without changing recording."""
    return _RecordingStateScope(None, True)


def predict_mode() -> _RecordingStateScope:
    """Scope that turns training mode off without changing recording."""
    return _RecordingStateScope(None, False)


# ---------------------------------------------------------------------- graph nodes
_SEQ = itertools.count()


class _VarNode:
    """A variable: the leaf whose gradient lands in ``grad`` (an NDArray) per ``grad_req``.

    ``fresh`` is set by :func:`backward` when it writes the gradient and cleared by the Trainer
    after an update (its stale-gradient check).
    """

    __slots__ = ("seq", "grad", "grad_req", "freed", "fresh")

    def __init__(self, grad: Any, grad_req: str) -> None:
        self.seq = next(_SEQ)
        self.grad = grad
        self.grad_req = grad_req
        self.freed = False
        self.fresh = False


class _OpNode:
    """A recorded op with ``n_out`` output slots.

    ``parents[i]`` is ``(node, slot)`` for an input in the graph, else None. ``backward_fn`` maps
    the list of output-slot gradients (raw arrays, None for slots that got none) to one raw
    gradient (or None) per input.
    """

    __slots__ = ("seq", "op", "parents", "n_out", "backward_fn", "freed")

    def __init__(
        self,
        op: str,
        parents: list[tuple[Any, int] | None],
        backward_fn: Callable[[list[Any]], Sequence[Any]],
        n_out: int = 1,
    ) -> None:
        self.seq = next(_SEQ)
        self.op = op
        self.parents = parents
        self.backward_fn = backward_fn
        self.n_out = n_out
        self.freed = False

    def free(self) -> None:
        self.freed = True
        self.parents = []
        self.backward_fn = _freed_backward


def _freed_backward(grads: list[Any]) -> Sequence[Any]:
    raise MXNetError(_MSG_NOT_IN_GRAPH)


def _live_node(arr: Any) -> Any:
    node = getattr(arr, "_ag_node", None)
    if node is None or node.freed:
        return None
    return node


def _parents_of(inputs: Sequence[Any]) -> list[tuple[Any, int] | None] | None:
    """Parent entries of ``inputs``; None when no input is part of a graph (nothing to record)."""
    parents: list[tuple[Any, int] | None] = []
    found = False
    for x in inputs:
        node = _live_node(x)
        parents.append((node, 0) if node is not None else None)
        found = found or node is not None
    return parents if found else None


def record_op(op: str, inputs: Sequence[Any], output: Any, attrs: dict[str, Any]) -> None:
    """Record one finished op (called by the NDArray ops while :func:`is_recording`).

    Args:
        op: the op name a rule in :data:`mxlite.autograd_rules.GRAD_RULES` is registered under.
        inputs: the op's array inputs (NDArrays; scalars and raw arrays count as constants).
        output: the NDArray the op produced; it receives the node.
        attrs: what the gradient rule needs besides the inputs and output (axis, scalar, ...).
    """
    parents = _parents_of(inputs)
    if parents is None:
        return
    raws = tuple(getattr(x, "_data", x) for x in inputs)
    out_raw = output._data
    rule = GRAD_RULES.get(op)

    def backward_fn(grads: list[Any]) -> Sequence[Any]:
        if rule is None:
            raise MXNetError(
                f"Operator {op} is non-differentiable because it didn't register FGradient "
                "attribute. Compute it outside autograd.record() or under autograd.pause()."
            )
        g = grads[0]
        in_grads = rule(g, raws, out_raw, attrs)
        return [
            None if ig is None or parent is None else fit_to_input(ig, raw)
            for ig, raw, parent in zip(in_grads, raws, parents)
        ]

    output._ag_node = _OpNode(op, parents, backward_fn)


def check_assignable(target: Any) -> None:
    """Raise when writing into ``target`` in place would corrupt a graph being recorded.

    Raises:
        MXNetError: recording is on and ``target`` is a variable or a recorded op's output.
    """
    if _STATE.recording and _live_node(target) is not None:
        raise MXNetError(_MSG_ASSIGN)


# ---------------------------------------------------------------------- variables
def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def mark_variables(
    variables: Any, gradients: Any, grad_reqs: str | Sequence[str] = "write"
) -> None:
    """Mark arrays as variables to differentiate, with the buffers their gradients go to.

    Args:
        variables: an NDArray or a list of them.
        gradients: the gradient buffer(s), one per variable, of the same shape.
        grad_reqs: 'write', 'add' or 'null', or one of them per variable.

    Raises:
        ValueError: the lists differ in length.
        KeyError: an unknown grad_req.
    """
    variables, gradients = _as_list(variables), _as_list(gradients)
    if len(variables) != len(gradients):
        raise ValueError(
            f"mark_variables: got {len(variables)} variables but {len(gradients)} gradients; "
            "pass one gradient buffer per variable."
        )
    reqs = [grad_reqs] * len(variables) if isinstance(grad_reqs, str) else list(grad_reqs)
    if len(reqs) != len(variables):
        raise ValueError(
            f"mark_variables: got {len(variables)} variables but {len(reqs)} grad_reqs."
        )
    for req in reqs:
        if req not in GRAD_REQS:
            raise KeyError(f"grad_req {req!r} is not one of {GRAD_REQS}")
    for var, buf, req in zip(variables, gradients, reqs):
        var._ag_node = _VarNode(buf, req)
        var._grad = buf
        var._grad_req = req


def get_fresh_grad(arr: Any) -> bool:
    """Whether :func:`backward` wrote ``arr``'s gradient since the flag was last cleared.

    False for arrays that are not variables (as MXNet's ``NDArray._fresh_grad``).
    """
    node = getattr(arr, "_ag_node", None)
    return isinstance(node, _VarNode) and node.fresh


def set_fresh_grad(arr: Any, state: bool) -> None:
    """Set or clear ``arr``'s fresh-gradient flag (``NDArray._fresh_grad = state``).

    Raises:
        MXNetError: ``arr`` was not marked as a variable (no ``attach_grad``).
    """
    node = getattr(arr, "_ag_node", None)
    if not isinstance(node, _VarNode):
        raise MXNetError(
            "NDArray has not been marked as a variable and does not have gradient state. "
            "Call attach_grad() (or initialize the Parameter) first."
        )
    node.fresh = bool(state)


# ---------------------------------------------------------------------- backward pass
def _parse_heads(heads: Any, head_grads: Any) -> tuple[list[Any], list[Any]]:
    heads = _as_list(heads)
    if head_grads is None:
        return heads, [None] * len(heads)
    head_grads = _as_list(head_grads)
    if len(heads) != len(head_grads):
        raise _LengthError("heads and head_grads must be lists of the same length")
    return heads, head_grads


class _LengthError(ValueError, AssertionError):
    """Mismatched list lengths (MXNet raises AssertionError here; this is both)."""


def _head_gradient(head: Any, hg: Any) -> Any:
    arr = head._data
    xp = backend.xp_of(arr)
    if hg is None:
        return xp.ones_like(arr)
    raw = getattr(hg, "_data", hg)
    if backend.is_gpu_array(raw) != backend.is_gpu_array(arr) or (
        backend.is_gpu_array(raw) and raw.device.id != arr.device.id
    ):
        raw = backend.to_ctx(raw, head._ctx)
    raw = xp.asarray(raw)
    if raw.shape != arr.shape:
        if raw.size != arr.size:
            raise MXNetError(
                f"backward: head gradient of shape {tuple(raw.shape)} does not match the head of "
                f"shape {tuple(arr.shape)}; pass out_grad with the head's shape."
            )
        raw = raw.reshape(arr.shape)
    return raw.astype(arr.dtype, copy=False)


def _accumulate(store: dict[Any, list[Any]], node: Any, slot: int, g: Any) -> None:
    slots = store.get(node)
    if slots is None:
        slots = store[node] = [None] * (node.n_out if isinstance(node, _OpNode) else 1)
    slots[slot] = g if slots[slot] is None else slots[slot] + g


def _run(
    heads: list[Any],
    head_grads: list[Any],
    targets: list[Any] | None,
    retain_graph: bool,
    train: bool,
) -> dict[Any, Any]:
    """Propagate from ``heads``; returns {variable node: summed raw gradient} for the needed ones.

    ``targets`` None means every reachable variable whose grad_req is not 'null'.
    """
    grads: dict[Any, list[Any]] = {}
    head_nodes = []
    for head, hg in zip(heads, head_grads):
        node = _live_node(head)
        if node is None:
            raise MXNetError(_MSG_NOT_IN_GRAPH)
        head_nodes.append(node)
        _accumulate(grads, node, 0, _head_gradient(head, hg))
    # Every node reachable from the heads.
    seen: dict[int, Any] = {}
    stack = list(head_nodes)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        if node.freed:
            raise MXNetError(_MSG_NOT_IN_GRAPH)
        seen[id(node)] = node
        if isinstance(node, _OpNode):
            stack.extend(p[0] for p in node.parents if p is not None)
    order = sorted(seen.values(), key=lambda n: n.seq)
    target_ids = None if targets is None else {id(t) for t in targets}
    needs: dict[int, bool] = {}
    for node in order:
        if isinstance(node, _VarNode):
            needs[id(node)] = (
                node.grad_req != "null" if target_ids is None else id(node) in target_ids
            )
        else:
            needs[id(node)] = any(p is not None and needs[id(p[0])] for p in node.parents)
    if not any(needs[id(n)] for n in head_nodes):
        if targets is None:
            raise MXNetError(_MSG_NO_VARIABLES)
    result: dict[Any, Any] = {}
    prev_record, prev_train = set_recording(False), set_training(train)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for node in reversed(order):
                slots = grads.pop(node, None)
                if not needs[id(node)]:
                    continue
                if isinstance(node, _VarNode):
                    result[node] = None if slots is None else slots[0]
                    continue
                if slots is None:
                    continue
                in_grads = node.backward_fn(slots)
                for parent, g in zip(node.parents, in_grads):
                    if parent is not None and g is not None and needs[id(parent[0])]:
                        _accumulate(grads, parent[0], parent[1], g)
    finally:
        set_recording(prev_record)
        set_training(prev_train)
    if not retain_graph:
        for node in order:
            if isinstance(node, _OpNode):
                node.free()
    return result


def backward(
    heads: Any, head_grads: Any = None, retain_graph: bool = False, train_mode: bool = True
) -> None:
    """Compute the gradients of ``heads`` with respect to the marked variables.

    Each reachable variable's buffer is overwritten ('write') or added to ('add'); 'null'
    variables are skipped. ``head_grads`` default to ones.

    Raises:
        MXNetError: a head is not part of a recorded graph (or its graph was freed by an earlier
            backward without ``retain_graph=True``), or no variable in the graph needs a gradient.
    """
    heads, head_grads = _parse_heads(heads, head_grads)
    result = _run(heads, head_grads, None, retain_graph, train_mode)
    for node, g in result.items():
        node.fresh = True
        buf = node.grad._data
        if g is None:
            if node.grad_req == "write":
                buf[...] = 0
            continue
        if node.grad_req == "write":
            buf[...] = g
        else:
            buf += g.astype(buf.dtype, copy=False)


def grad(
    heads: Any,
    variables: Any,
    head_grads: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    train_mode: bool = True,
) -> list[Any]:
    """Gradients of ``heads`` with respect to ``variables``, returned as new arrays.

    The variables' own gradient buffers are left untouched.

    Raises:
        NotImplementedError: ``create_graph=True`` (higher-order gradients are not supported).
        MXNetError: a variable was not marked with ``attach_grad``, or the heads do not depend on it.
    """
    if create_graph:
        raise NotImplementedError(
            "autograd.grad(create_graph=True): mxlite does not record the backward pass, so "
            "higher-order gradients are not supported."
        )
    if retain_graph is None:
        retain_graph = create_graph
    heads, head_grads = _parse_heads(heads, head_grads)
    variables = _as_list(variables)
    if not variables:
        raise ValueError("autograd.grad: variables cannot be an empty list.")
    var_nodes = []
    for i, var in enumerate(variables):
        node = _live_node(var)
        if not isinstance(node, _VarNode):
            raise MXNetError(
                f"Cannot differentiate with respect to the {i + 1}-th variable because it does "
                "not require gradient. Call attach_grad() on it before recording."
            )
        var_nodes.append(node)
    result = _run(heads, head_grads, var_nodes, retain_graph, train_mode)
    out = []
    for i, (var, node) in enumerate(zip(variables, var_nodes)):
        if node not in result:
            raise MXNetError(
                f"Cannot differentiate with respect to the {i + 1}-th variable because it is "
                "unreachable from the outputs."
            )
        g = result[node]
        raw = backend.xp_of(var._data).zeros_like(var._data) if g is None else g
        out.append(type(var)(raw.astype(var._data.dtype, copy=False), var._ctx))
    return out


def get_symbol(x: Any) -> Any:
    """MXNet returns the recorded graph as a Symbol; mxlite has no symbolic API.

    Raises:
        NotImplementedError: always.
    """
    raise NotImplementedError(
        "autograd.get_symbol: mxlite has no Symbol API; the recorded graph cannot be exported."
    )


# ---------------------------------------------------------------------- custom functions
class Function:
    """A user-defined differentiable function (``forward`` and ``backward`` on NDArrays).

    Example::

        class Sigmoid(mx.autograd.Function):
            def forward(self, x):
                y = 1 / (1 + mx.nd.exp(-x))
                self.save_for_backward(y)
                return y

            def backward(self, dy):
                (y,) = self.saved_tensors
                return dy * y * (1 - y)

    Each instance may be called once. ``forward`` runs with recording paused; ``backward`` gets
    one gradient per output and returns one per input.
    """

    def __init__(self) -> None:
        self._used = False
        self.saved_tensors: tuple[Any, ...] = ()

    def save_for_backward(self, *args: Any) -> None:
        """Keep arrays for :meth:`backward` in ``self.saved_tensors``."""
        self.saved_tensors = args

    def __call__(self, *inputs: Any) -> Any:
        if self._used:
            raise MXNetError(
                "Each Function instance can only be called once. Please create another instance."
            )
        self._used = True
        prev = set_recording(False)
        try:
            outputs = self.forward(*inputs)
        finally:
            set_recording(prev)
        if not prev:
            return outputs
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        parents = _parents_of(inputs)
        if parents is None:
            return outputs
        fn_node = _OpNode(
            type(self).__name__, parents, self._make_backward(inputs, outs), len(outs)
        )
        for i, out in enumerate(outs):
            out._ag_node = _OpNode("_function_output", [(fn_node, i)], _pass_through)
        return outputs

    def _make_backward(
        self, inputs: Sequence[Any], outs: list[Any]
    ) -> Callable[[list[Any]], Sequence[Any]]:
        out_info = [(type(o), o._ctx, o._data) for o in outs]
        name = type(self).__name__

        def backward_fn(grads: list[Any]) -> Sequence[Any]:
            ograds = [
                cls(backend.xp_of(raw).zeros_like(raw) if g is None else g, ctx)
                for (cls, ctx, raw), g in zip(out_info, grads)
            ]
            rets = self.backward(*ograds)
            rets = list(rets) if isinstance(rets, (list, tuple)) else [rets]
            if len(rets) != len(inputs):
                raise MXNetError(
                    f"{name}.backward must return exactly the same number of NDArrays as the "
                    f"number of NDArrays arguments to forward. Expecting {len(inputs)} got "
                    f"{len(rets)}"
                )
            result = []
            for ret, inp in zip(rets, inputs):
                if not hasattr(ret, "_data"):
                    raise MXNetError(
                        f"autograd.Function.backward must return NDArrays, not {type(ret)}"
                    )
                raw_in = getattr(inp, "_data", None)
                result.append(ret._data if raw_in is None else fit_to_input(ret._data, raw_in))
            return result

        return backward_fn

    def forward(self, *inputs: Any) -> Any:
        """Compute the outputs from NDArray inputs (override)."""
        raise NotImplementedError

    def backward(self, *output_grads: Any) -> Any:
        """Gradients for the inputs from the outputs' gradients (override)."""
        raise NotImplementedError


def _pass_through(grads: list[Any]) -> Sequence[Any]:
    return [grads[0]]
