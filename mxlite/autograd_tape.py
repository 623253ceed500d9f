"""The tape under :mod:`mxlite.autograd`: recording state, graph nodes and the backward pass.

While recording is on, every differentiable op hands its inputs and its output to
:func:`record_op`; when at least one input is part of a graph (a variable marked by
``mark_variables`` / ``NDArray.attach_grad``, or the output of a recorded op), the output gets a
node that remembers the op, references to its raw input and output arrays (not copies, as in
MXNet: writing into them after recording changes the gradient) and its parents' nodes.

:func:`run_backward` walks the nodes reachable from the heads in reverse creation order (a node
is always created after its parents, so that is a topological order), applies each op's gradient
rule from :mod:`mxlite.autograd_rules` (with the GPU of the gradients it receives current, so the
gradients of arrays on gpu(1) are computed and allocated there) and returns the summed gradient of
every variable that needs one. Without ``retain_graph`` the visited op nodes are freed afterwards; differentiating
through them again is an error, as in MXNet.

Works on raw numpy/cupy arrays; it only touches the NDArray attributes ``_data``, ``_ctx`` and
``_ag_node``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import _threads, backend
from mxlite.autograd_rules import GRAD_RULES, INTO_RULES, MULTI_GRAD_RULES, fit_to_input
from mxlite.base import MXNetError

__all__ = [
    "is_recording",
    "is_training",
    "set_recording",
    "set_training",
    "record_op",
    "record_multi_op",
    "check_assignable",
    "get_fresh_grad",
    "set_fresh_grad",
    "variables_generation",
    "variable_nodes",
    "all_fresh",
    "clear_fresh",
    "live_node",
    "parents_of",
    "run_backward",
    "plan_backward",
    "head_nodes_of",
    "VarNode",
    "OpNode",
    "RuleNode",
    "FunctionNode",
    "MultiRuleNode",
    "SlotNode",
    "MSG_NOT_IN_GRAPH",
]

MSG_NOT_IN_GRAPH = (
    "Cannot differentiate node because it is not in a computational graph. You need to set "
    "is_recording to true or use autograd.record() to save computational graphs for backward. "
    "If you want to differentiate the same graph twice, you need to pass retain_graph=True to "
    "backward."
)
_MSG_NO_VARIABLES = (
    "There are no inputs in computation graph that require gradients. Call attach_grad() "
    "(grad_req 'write' or 'add') on the arrays to differentiate before recording."
)
_MSG_NO_RULE = (
    "Operator {op} is non-differentiable because it didn't register FGradient attribute. "
    "Compute it outside autograd.record() or under autograd.pause()."
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


# ---------------------------------------------------------------------- graph nodes
_SEQ = itertools.count()


class _VariableCount:
    """How many variables (VarNodes) were ever made, for callers that cache variables' nodes."""

    __slots__ = ("made",)

    def __init__(self) -> None:
        self.made = 0


_VARIABLES = _VariableCount()


class VarNode:
    """A variable: the leaf whose gradient lands in ``grad`` (an NDArray) per ``grad_req``.

    ``fresh`` is set by :func:`backward` when it writes the gradient and cleared by the Trainer
    after an update (its stale-gradient check).
    """

    __slots__ = ("seq", "grad", "grad_req", "freed", "fresh")
    n_out = 1

    def __init__(self, grad: Any, grad_req: str) -> None:
        _VARIABLES.made += 1
        self.seq = next(_SEQ)
        self.grad = grad
        self.grad_req = grad_req
        self.freed = False
        self.fresh = False


class OpNode:
    """A recorded op with ``n_out`` output slots.

    ``parents[i]`` is ``(node, slot)`` for an input in the graph, else None. :meth:`run` maps the
    list of output-slot gradients (raw arrays, None for slots that got none) and ``needs`` (one
    bool per input: does that input's gradient reach a variable?) to one raw gradient (or None)
    per input.
    """

    __slots__ = ("seq", "op", "parents", "n_out", "freed")

    def __init__(self, op: str, parents: list[tuple[Any, int] | None], n_out: int = 1) -> None:
        self.seq = next(_SEQ)
        self.op = op
        self.parents = parents
        self.n_out = n_out
        self.freed = False

    # Whether :meth:`run` can write an input's gradient into a given buffer (``into``).
    writes_into = False

    def run(
        self, grads: list[Any], needs: tuple[bool, ...], into: tuple[Any, ...] | None = None
    ) -> Sequence[Any]:
        """The inputs' gradients from the outputs' (see the class docstring). ``into``, for
        nodes that :attr:`writes_into`, holds per input a buffer of the input's shape and dtype
        to write its gradient into (returned as that gradient), or None."""
        raise NotImplementedError

    def free(self) -> None:
        """Drop the graph edges and every array the node kept for its gradient."""
        self.freed = True
        self.parents = []


class RuleNode(OpNode):
    """An op of :data:`mxlite.autograd_rules.GRAD_RULES`: keeps the raw inputs, output and attrs
    its rule reads (references, not copies, as in MXNet)."""

    __slots__ = ("rule", "ins", "out", "attrs", "writes_into")

    def __init__(
        self,
        op: str,
        parents: list[tuple[Any, int] | None],
        rule: Any,
        ins: tuple[Any, ...],
        out: Any,
        attrs: dict[str, Any],
    ) -> None:
        super().__init__(op, parents)
        self.rule = rule
        self.ins = ins
        self.out = out
        self.attrs = attrs
        self.writes_into = op in INTO_RULES

    def run(
        self, grads: list[Any], needs: tuple[bool, ...], into: tuple[Any, ...] | None = None
    ) -> Sequence[Any]:
        rule = self.rule
        if rule is None:
            raise MXNetError(_MSG_NO_RULE.format(op=self.op))
        if into is None:
            in_grads = rule(grads[0], self.ins, self.out, self.attrs, needs)
        else:
            in_grads = rule(grads[0], self.ins, self.out, self.attrs, needs, into)
        out: list[Any] = []
        for ig, raw, need in zip(in_grads, self.ins, needs):
            if ig is None or not need:
                out.append(None)
            elif ig.shape == raw.shape and ig.dtype == raw.dtype:
                out.append(ig)
            else:
                out.append(fit_to_input(ig, raw))
        return out

    def free(self) -> None:
        super().free()
        self.ins = ()
        self.out = None
        self.attrs = {}


class FunctionNode(OpNode):
    """A node whose gradient comes from a Python callable ``fn(grads) -> per-input gradients``
    (``autograd.Function``)."""

    __slots__ = ("fn",)

    def __init__(
        self,
        op: str,
        parents: list[tuple[Any, int] | None],
        fn: Callable[[list[Any]], Sequence[Any]],
        n_out: int = 1,
    ) -> None:
        super().__init__(op, parents, n_out)
        self.fn = fn

    def run(
        self, grads: list[Any], needs: tuple[bool, ...], into: tuple[Any, ...] | None = None
    ) -> Sequence[Any]:
        return self.fn(grads)

    def free(self) -> None:
        super().free()
        self.fn = _freed_backward


class MultiRuleNode(OpNode):
    """A built-in op with several outputs (``split``, ``topk(ret_typ='both')``, ...): one node
    with ``n_out`` slots whose rule, from :data:`mxlite.autograd_rules.MULTI_GRAD_RULES`, maps
    the list of slot gradients (None for outputs that received none) to per-input gradients.

    Each output array holds a :class:`SlotNode` pointing at its slot, so the tape's edges stay
    ``(node, slot)`` pairs and single-output ops keep their direct nodes.
    """

    __slots__ = ("rule", "ins", "outs", "attrs")

    def __init__(
        self,
        op: str,
        parents: list[tuple[Any, int] | None],
        rule: Any,
        ins: tuple[Any, ...],
        outs: tuple[Any, ...],
        attrs: dict[str, Any],
    ) -> None:
        super().__init__(op, parents, len(outs))
        self.rule = rule
        self.ins = ins
        self.outs = outs
        self.attrs = attrs

    def run(
        self, grads: list[Any], needs: tuple[bool, ...], into: tuple[Any, ...] | None = None
    ) -> Sequence[Any]:
        if self.rule is None:
            raise MXNetError(_MSG_NO_RULE.format(op=self.op))
        in_grads = self.rule(grads, self.ins, self.outs, self.attrs, needs)
        return [
            None if ig is None or not need else fit_to_input(ig, raw)
            for ig, raw, need in zip(in_grads, self.ins, needs)
        ]

    def free(self) -> None:
        super().free()
        self.ins = ()
        self.outs = ()
        self.attrs = {}


class SlotNode(OpNode):
    """The node of one output of a :class:`MultiRuleNode`: hands its gradient to that slot."""

    __slots__ = ()

    def run(
        self, grads: list[Any], needs: tuple[bool, ...], into: tuple[Any, ...] | None = None
    ) -> Sequence[Any]:
        return (grads[0],)


def _freed_backward(grads: list[Any]) -> Sequence[Any]:
    raise MXNetError(MSG_NOT_IN_GRAPH)


def live_node(arr: Any) -> Any:
    node = getattr(arr, "_ag_node", None)
    if node is None or node.freed:
        return None
    return node


def parents_of(inputs: Sequence[Any]) -> list[tuple[Any, int] | None] | None:
    """Parent entries of ``inputs``; None when no input is part of a graph (nothing to record)."""
    parents: list[tuple[Any, int] | None] | None = None
    for i, x in enumerate(inputs):
        node = getattr(x, "_ag_node", None)
        if node is not None and not node.freed:
            if parents is None:
                parents = [None] * len(inputs)
            parents[i] = (node, 0)
    return parents


def record_op(op: str, inputs: Sequence[Any], output: Any, attrs: dict[str, Any]) -> None:
    """Record one finished op (called by the NDArray ops while :func:`is_recording`).

    Args:
        op: the op name a rule in :data:`mxlite.autograd_rules.GRAD_RULES` is registered under.
        inputs: the op's array inputs (NDArrays; scalars and raw arrays count as constants).
        output: the NDArray the op produced; it receives the node.
        attrs: what the gradient rule needs besides the inputs and output (axis, scalar, ...).
    """
    parents = parents_of(inputs)
    if parents is None:
        return
    raws = tuple([getattr(x, "_data", x) for x in inputs])
    output._ag_node = RuleNode(op, parents, GRAD_RULES.get(op), raws, output._data, attrs)


def record_multi_op(
    op: str, inputs: Sequence[Any], outputs: Sequence[Any], attrs: dict[str, Any]
) -> None:
    """Record one finished op with several outputs (:func:`record_op` for ``split``, ``topk``
    with ``ret_typ='both'``, ...): one :class:`MultiRuleNode` whose rule receives the gradient
    of every output slot, and a :class:`SlotNode` on each output.

    Args:
        op: the op name a rule in :data:`mxlite.autograd_rules.MULTI_GRAD_RULES` is registered
            under (an op without one fails at backward, naming the op).
        inputs: the op's array inputs (NDArrays; anything else counts as a constant).
        outputs: the NDArrays the op produced, in slot order.
        attrs: what the rule needs besides the inputs and outputs.
    """
    parents = parents_of(inputs)
    if parents is None:
        return
    raws = tuple([getattr(x, "_data", x) for x in inputs])
    node = MultiRuleNode(
        op, parents, MULTI_GRAD_RULES.get(op), raws, tuple(o._data for o in outputs), attrs
    )
    for slot, out in enumerate(outputs):
        out._ag_node = SlotNode(op, [(node, slot)])


def check_assignable(target: Any) -> None:
    """Raise when writing into ``target`` in place would corrupt a graph being recorded.

    Raises:
        MXNetError: recording is on and ``target`` is a variable or a recorded op's output.
    """
    if _STATE.recording and live_node(target) is not None:
        raise MXNetError(_MSG_ASSIGN)


def get_fresh_grad(arr: Any) -> bool:
    """Whether :func:`backward` wrote ``arr``'s gradient since the flag was last cleared.

    False for arrays that are not variables (as MXNet's ``NDArray._fresh_grad``).
    """
    node = getattr(arr, "_ag_node", None)
    return isinstance(node, VarNode) and node.fresh


def set_fresh_grad(arr: Any, state: bool) -> None:
    """Set or clear ``arr``'s fresh-gradient flag (``NDArray._fresh_grad = state``).

    Raises:
        MXNetError: ``arr`` was not marked as a variable (no ``attach_grad``).
    """
    node = getattr(arr, "_ag_node", None)
    if not isinstance(node, VarNode):
        raise MXNetError(
            "NDArray has not been marked as a variable and does not have gradient state. "
            "Call attach_grad() (or initialize the Parameter) first."
        )
    node.fresh = bool(state)


def variables_generation() -> int:
    """A number that changes whenever an array is (re)marked as a variable (``attach_grad``,
    ``mark_variables``): nodes returned by :func:`variable_nodes` stay the arrays' nodes while
    it is unchanged."""
    return _VARIABLES.made


def variable_nodes(arrays: Sequence[Any]) -> list[VarNode] | None:
    """The variable nodes of ``arrays`` (for the batched fresh-gradient calls below), or None
    when one of them is not a variable."""
    nodes = [getattr(arr, "_ag_node", None) for arr in arrays]
    return nodes if all(type(node) is VarNode for node in nodes) else None  # type: ignore[return-value]


def all_fresh(nodes: Sequence[VarNode]) -> bool:
    """Whether every variable's gradient is fresh (``get_fresh_grad`` of each, in one pass)."""
    for node in nodes:
        if not node.fresh:
            return False
    return True


def clear_fresh(nodes: Sequence[VarNode]) -> None:
    """Clear every variable's fresh-gradient flag (``set_fresh_grad(arr, False)`` of each)."""
    for node in nodes:
        node.fresh = False


# ---------------------------------------------------------------------- backward pass
def _head_gradient(head: Any, hg: Any) -> Any:
    with backend.array_device_guard(head._data):
        return _head_gradient_on_device(head, hg)


def _head_gradient_on_device(head: Any, hg: Any) -> Any:
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
        slots = store[node] = [None] * node.n_out
    if slots[slot] is None:
        slots[slot] = g
    elif type(g) is np.ndarray:
        slots[slot] = slots[slot] + g
    else:
        with backend.array_device_guard(g):
            slots[slot] = slots[slot] + g


def _reachable(head_nodes: list[Any]) -> list[Any]:
    """Every node reachable from ``head_nodes``, in creation order (a topological order).

    Raises:
        MXNetError: a reachable op node was freed by an earlier backward.
    """
    seen: dict[int, Any] = {}
    stack = list(head_nodes)
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        key = id(node)
        if key in seen:
            continue
        if node.freed:
            raise MXNetError(MSG_NOT_IN_GRAPH)
        seen[key] = node
        if type(node) is not VarNode:
            for parent in node.parents:
                if parent is not None:
                    push(parent[0])
    return sorted(seen.values(), key=_by_seq)


def _by_seq(node: Any) -> int:
    return node.seq


def _direct_buffers(order: list[Any], needs: dict[Any, bool], heads: list[Any]) -> set[Any]:
    """The 'write' variables that receive exactly one gradient in this pass: a rule may write
    that gradient straight into the variable's buffer (as MXNet's kWriteTo does)."""
    edges: dict[Any, int] = {}
    for node in order:
        if type(node) is not VarNode and needs[node]:
            for parent in node.parents:
                if parent is not None and type(parent[0]) is VarNode:
                    edges[parent[0]] = edges.get(parent[0], 0) + 1
    for node in heads:
        if type(node) is VarNode:
            edges[node] = edges.get(node, 0) + 1
    return {var for var, n in edges.items() if n == 1 and var.grad_req == "write"}


def _into(node: Any, direct: set[Any]) -> tuple[Any, ...] | None:
    """Per input of ``node``, the gradient buffer its gradient may be written into, or None."""
    into = []
    found = False
    for parent, raw in zip(node.parents, node.ins):
        buf = None
        if parent is not None and parent[0] in direct:
            cand = parent[0].grad._data
            if (
                cand.shape == raw.shape
                and cand.dtype == raw.dtype
                and type(cand) is type(raw)
                and cand.flags.c_contiguous
            ):
                buf = cand
                found = True
        into.append(buf)
    return tuple(into) if found else None


def head_nodes_of(heads: list[Any]) -> list[Any]:
    """The graph nodes of ``heads``.

    Raises:
        MXNetError: a head is not part of a live graph.
    """
    nodes = []
    for head in heads:
        node = live_node(head)
        if node is None:
            raise MXNetError(MSG_NOT_IN_GRAPH)
        nodes.append(node)
    return nodes


def plan_backward(
    head_nodes: list[Any], targets: list[Any] | None
) -> tuple[list[Any], dict[Any, bool]]:
    """The nodes a backward pass from ``head_nodes`` visits (creation order) and, per node,
    whether a gradient flowing into it reaches a needed variable (``targets``, or every reachable
    variable whose grad_req is not 'null').

    Raises:
        MXNetError: a reachable node was freed, or (``targets`` None) no variable needs a gradient.
    """
    order = _reachable(head_nodes)
    target_ids = None if targets is None else {id(t) for t in targets}
    needs: dict[Any, bool] = {}
    for node in order:
        if type(node) is VarNode:
            needs[node] = node.grad_req != "null" if target_ids is None else id(node) in target_ids
        else:
            needs[node] = any(p is not None and needs[p[0]] for p in node.parents)
    if targets is None and not any(needs[n] for n in head_nodes):
        raise MXNetError(_MSG_NO_VARIABLES)
    return order, needs


def run_backward(
    heads: list[Any],
    head_grads: list[Any],
    targets: list[Any] | None,
    retain_graph: bool,
    train: bool,
    write_buffers: bool = False,
) -> dict[Any, Any]:
    """Propagate from ``heads``; returns {variable node: summed raw gradient} for the needed ones.

    ``targets`` None means every reachable variable whose grad_req is not 'null'. Each op's rule
    is told which of its inputs lead to a needed variable and computes only those gradients.
    With ``write_buffers`` (``backward``, not ``grad``), a rule that can writes the gradient of a
    'write' variable that gets exactly one gradient straight into the variable's buffer, and
    returns that buffer as the gradient (the caller then has nothing to copy).
    """
    _threads.host_threads()  # the backward's products follow the thread policy
    grads: dict[Any, list[Any]] = {}
    head_nodes = head_nodes_of(heads)
    for head, node, hg in zip(heads, head_nodes, head_grads):
        _accumulate(grads, node, 0, _head_gradient(head, hg))
    order, needs = plan_backward(head_nodes, targets)
    direct = _direct_buffers(order, needs, head_nodes) if write_buffers else set()
    result: dict[Any, Any] = {}
    prev_record, prev_train = set_recording(False), set_training(train)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for node in reversed(order):
                slots = grads.pop(node, None)
                if not needs[node]:
                    continue
                if type(node) is VarNode:
                    result[node] = None if slots is None else slots[0]
                    continue
                if slots is None:
                    continue
                parents = node.parents
                wanted = tuple([p is not None and needs[p[0]] for p in parents])
                into = _into(node, direct) if direct and node.writes_into else None
                # The rule runs on the device of the gradients it receives (the op's output's).
                live = next(g for g in slots if g is not None)
                if type(live) is np.ndarray:
                    in_grads = node.run(slots, wanted, into)
                else:
                    with backend.array_device_guard(live):
                        in_grads = node.run(slots, wanted, into)
                for parent, want, g in zip(parents, wanted, in_grads):
                    if want and g is not None:
                        _accumulate(grads, parent[0], parent[1], g)
    finally:
        set_recording(prev_record)
        set_training(prev_train)
    if not retain_graph:
        for node in order:
            if type(node) is not VarNode:
                node.free()
    return result
