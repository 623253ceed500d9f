"""Autograd: record operations on NDArrays and differentiate them (``mx.autograd``).

A compact dynamic tape (:mod:`mxlite.autograd.tape`) with one gradient rule per op
(:mod:`mxlite.autograd.rules`). Inside :func:`record`, ops whose inputs belong to a graph get a
node; :func:`backward` propagates from the heads and hands the sums to the variables:
``grad_req='write'`` overwrites the gradient buffer, ``'add'`` adds to it, ``'null'`` leaves it
alone. A variable used several times (tied parameters) receives the sum of all its uses. Without
``retain_graph`` the graph is freed afterwards; differentiating through it again is an error, as
in MXNet.

This module sits below :mod:`mxlite.ndarray` and works on raw numpy/cupy arrays; it only touches
the NDArray attributes ``_data``, ``_ctx``, ``_grad``, ``_grad_req`` and ``_ag_node``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from mxlite import backend
from mxlite.autograd.rules import fit_to_input
from mxlite.autograd.tape import (
    FunctionNode,
    VarNode,
    check_assignable,
    get_fresh_grad,
    is_recording,
    is_training,
    live_node,
    parents_of,
    record_op,
    run_backward,
    set_fresh_grad,
    set_recording,
    set_training,
)
from mxlite.base import MXNetError
from mxlite.ops.row_sparse import RowSparseGrad, store_grad

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
    "NDArray",  # noqa: F822 - module __getattr__ below
    "array",  # noqa: F822
]


def __getattr__(name: str) -> Any:
    """``NDArray`` and ``array``, which MXNet's autograd module exposes (``from mxnet.autograd
    import *`` brings them), from :mod:`mxlite.ndarray` (loaded on first use: it sits above)."""
    if name in ("NDArray", "array"):
        from mxlite import ndarray

        return getattr(ndarray, name)
    raise AttributeError(f"module 'mxlite.autograd' has no attribute {name!r}")


GRAD_REQS = ("write", "add", "null")


# ---------------------------------------------------------------------- recording scopes


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
        var._ag_node = VarNode(buf, req)
        var._grad = buf
        var._grad_req = req


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
    result = run_backward(heads, head_grads, None, retain_graph, train_mode, write_buffers=True)
    for node, g in result.items():
        node.fresh = True
        if node.grad.stype != "default" or type(g) is RowSparseGrad:
            store_grad(node.grad, g, node.grad_req)  # row_sparse gradients (mx.nd.sparse)
            continue
        buf = node.grad._data
        if g is buf:  # the rule wrote it in place
            continue
        with backend.array_device_guard(buf):
            if g is None:
                if node.grad_req == "write":
                    buf[...] = 0
            elif node.grad_req == "write":
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

    With ``create_graph=True`` the backward pass is recorded (see
    :mod:`mxlite.ndarray._higher_order`), so the returned gradients can be differentiated again;
    ``retain_graph`` then defaults to True.

    Raises:
        MXNetError: a variable was not marked with ``attach_grad``, or the heads do not depend on
            it; with ``create_graph``, an op on the way whose backward cannot be recorded.
    """
    if retain_graph is None:
        retain_graph = create_graph
    heads, head_grads = _parse_heads(heads, head_grads)
    variables = _as_list(variables)
    if not variables:
        raise ValueError("autograd.grad: variables cannot be an empty list.")
    var_nodes = []
    for i, var in enumerate(variables):
        node = live_node(var)
        if not isinstance(node, VarNode):
            raise MXNetError(
                f"Cannot differentiate with respect to the {i + 1}-th variable because it does "
                "not require gradient. Call attach_grad() on it before recording."
            )
        var_nodes.append(node)
    if create_graph:
        # The backward pass itself recorded, with NDArray ops (mxlite.ndarray sits above us).
        from mxlite.ndarray._higher_order import run_backward_recorded

        recorded = run_backward_recorded(heads, head_grads, var_nodes, train_mode)
        return [
            g if g._data.dtype == var._data.dtype else g.astype(var._data.dtype)
            for var, g in zip(variables, _reached(var_nodes, recorded))
        ]
    result = run_backward(heads, head_grads, var_nodes, retain_graph, train_mode)
    out = []
    for var, g in zip(variables, _reached(var_nodes, result)):
        if type(g) is RowSparseGrad:  # returned dense, as the variable
            g = g.dense()
        with backend.array_device_guard(var._data):
            raw = backend.xp_of(var._data).zeros_like(var._data) if g is None else g
            out.append(type(var)(raw.astype(var._data.dtype, copy=False), var._ctx))
    return out


def _reached(var_nodes: list[Any], result: dict[Any, Any]) -> list[Any]:
    """The gradient of each variable node in ``result``.

    Raises:
        MXNetError: a variable is unreachable from the heads.
    """
    out = []
    for i, node in enumerate(var_nodes):
        if node not in result:
            raise MXNetError(
                f"Cannot differentiate with respect to the {i + 1}-th variable because it is "
                "unreachable from the outputs."
            )
        out.append(result[node])
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
        parents = parents_of(inputs)
        if parents is None:
            return outputs
        fn_node = FunctionNode(
            type(self).__name__, parents, self._make_backward(inputs, outs), len(outs)
        )
        for i, out in enumerate(outs):
            out._ag_node = FunctionNode("_function_output", [(fn_node, i)], _pass_through)
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
