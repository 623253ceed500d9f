"""Autograd semantics: recording state, grad_req, graph lifetime, head gradients, errors."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, nd
from mxlite.base import MXNetError


def _var(values: Any, ctx: mx.Context, grad_req: str = "write") -> Any:
    x = nd.array(values, ctx=ctx)
    x.attach_grad(grad_req)
    return x


# ---------------------------------------------------------------------- recording state
def test_default_state_is_off() -> None:
    assert autograd.is_recording() is False
    assert autograd.is_training() is False


def test_record_pause_nesting_and_flags() -> None:
    seen = []
    with autograd.record():
        seen.append(("record", autograd.is_recording(), autograd.is_training()))
        with autograd.pause():
            seen.append(("pause", autograd.is_recording(), autograd.is_training()))
            with autograd.train_mode():
                seen.append(("pause/train", autograd.is_recording(), autograd.is_training()))
            seen.append(("pause again", autograd.is_recording(), autograd.is_training()))
        with autograd.predict_mode():
            seen.append(("predict", autograd.is_recording(), autograd.is_training()))
        seen.append(("record again", autograd.is_recording(), autograd.is_training()))
    with autograd.record(train_mode=False):
        seen.append(("record(False)", autograd.is_recording(), autograd.is_training()))
    with autograd.train_mode():
        seen.append(("train_mode", autograd.is_recording(), autograd.is_training()))
    with autograd.pause(train_mode=True):
        seen.append(("pause(True)", autograd.is_recording(), autograd.is_training()))
    seen.append(("after", autograd.is_recording(), autograd.is_training()))
    # The oracle (MXNet 1.9.1) prints exactly these flags for the same nesting.
    assert seen == [
        ("record", True, True),
        ("pause", False, False),
        ("pause/train", False, True),
        ("pause again", False, False),
        ("predict", True, False),
        ("record again", True, True),
        ("record(False)", True, False),
        ("train_mode", False, True),
        ("pause(True)", False, True),
        ("after", False, False),
    ]


def test_scope_restores_state_after_exception() -> None:
    with pytest.raises(KeyError):
        with autograd.record():
            raise KeyError("boom")
    assert autograd.is_recording() is False
    assert autograd.is_training() is False


def test_set_recording_and_training_return_previous() -> None:
    assert autograd.set_recording(True) is False
    assert autograd.is_recording() is True
    assert autograd.set_recording(False) is True
    assert autograd.set_training(True) is False
    assert autograd.set_training(False) is True
    assert autograd.is_training() is False


def test_state_is_thread_local() -> None:
    seen: list[tuple[bool, bool]] = []

    def worker() -> None:
        seen.append((autograd.is_recording(), autograd.is_training()))

    with autograd.record():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert autograd.is_recording()
    assert seen == [(False, False)]


def test_mx_autograd_is_this_module() -> None:
    assert mx.autograd is autograd


# ---------------------------------------------------------------------- grad_req
def test_write_overwrites(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0, 3.0], ctx)
    for _ in range(2):
        with autograd.record():
            y = x * x
        y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [2.0, 4.0, 6.0])


def test_add_accumulates_until_zeroed(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0, 3.0], ctx, "add")
    for _ in range(2):
        with autograd.record():
            y = x * x
        y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [4.0, 8.0, 12.0])
    x.grad[:] = 0
    with autograd.record():
        y = x * 3
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [3.0, 3.0, 3.0])


def test_null_gets_no_gradient(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx, "null")
    w = _var([3.0, 4.0], ctx)
    assert x.grad is not None  # MXNet allocates the buffer anyway
    x.grad[:] = 7.0
    with autograd.record():
        y = x * w
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [7.0, 7.0])
    np.testing.assert_array_equal(w.grad.asnumpy(), [1.0, 2.0])


def test_only_null_variables_is_an_error(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx, "null")
    with autograd.record():
        y = x * x
    with pytest.raises(MXNetError, match="no inputs in computation graph that require gradients"):
        y.backward()


def test_grad_buffer_identity_is_kept(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    buf = x.grad
    raw = buf._data
    with autograd.record():
        y = x * x
    y.backward()
    assert x.grad is buf and x.grad._data is raw


def test_variable_used_twice_accumulates_both_uses(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0, 3.0], ctx)
    with autograd.record():
        y = x * x + x
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [3.0, 5.0, 7.0])


def test_tied_weight_gets_sum_of_both_layers(ctx: mx.Context) -> None:
    """One weight array used by two dense layers: the gradient is the sum of both uses."""
    rng = np.random.default_rng(0)
    w_np = rng.standard_normal((3, 3))
    x_np = rng.standard_normal((2, 3))
    w = _var(w_np, ctx)
    x = nd.array(x_np, ctx=ctx)
    with autograd.record():
        h = nd.FullyConnected(x, w, no_bias=True, num_hidden=3)
        out = nd.FullyConnected(h, w, no_bias=True, num_hidden=3).sum()
    out.backward()
    # out = sum(x W^T W^T); d/dW = (ones^T x W^T)^T-ish, computed directly in float64:
    ones = np.ones((2, 3))
    h_np = x_np @ w_np.T
    expected = ones.T @ h_np + (ones @ w_np).T @ x_np
    assert x.grad is None
    np.testing.assert_allclose(w.grad.asnumpy(), expected, rtol=1e-5, atol=1e-5)


def test_variable_backward_on_itself_gives_ones(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0, 3.0], ctx)
    x.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [1.0, 1.0, 1.0])


def test_reattach_after_recording_leaves_new_buffer_zero(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    old = x.grad
    with autograd.record():
        y = x * 2
    x.attach_grad()
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [0.0, 0.0])
    np.testing.assert_array_equal(old.asnumpy(), [2.0, 2.0])


def test_attach_grad_inside_record(ctx: mx.Context) -> None:
    with autograd.record():
        x = _var([1.0, 2.0], ctx)
        y = x * 2
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [2.0, 2.0])


def test_bad_grad_req_changes_nothing(ctx: mx.Context) -> None:
    x = nd.array([1.0, 2.0], ctx=ctx)
    with pytest.raises(KeyError, match="foo"):
        x.attach_grad("foo")
    assert x.grad is None and x._ag_node is None


def test_mark_variables_lists_and_checks(ctx: mx.Context) -> None:
    a, b = nd.array([1.0], ctx=ctx), nd.array([2.0], ctx=ctx)
    ga, gb = nd.zeros((1,), ctx=ctx), nd.zeros((1,), ctx=ctx)
    with pytest.raises(ValueError, match="2 variables but 1 gradients"):
        autograd.mark_variables([a, b], [ga])
    with pytest.raises(KeyError, match="bogus"):
        autograd.mark_variables([a, b], [ga, gb], ["write", "bogus"])
    assert a.grad is None and b.grad is None
    autograd.mark_variables([a, b], [ga, gb], ["write", "add"])
    assert a.grad is ga and b.grad is gb and b._grad_req == "add"
    with autograd.record():
        y = a * b
    y.backward()
    assert ga.asnumpy().tolist() == [2.0] and gb.asnumpy().tolist() == [1.0]


# ---------------------------------------------------------------------- graph lifetime
_NOT_IN_GRAPH = "Cannot differentiate node because it is not in a computational graph"


def test_backward_twice_without_retain_graph_fails(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    with autograd.record():
        y = x * x
    y.backward()
    with pytest.raises(MXNetError, match=_NOT_IN_GRAPH):
        y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [2.0, 4.0])


def test_retain_graph_allows_second_backward(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx, "add")
    with autograd.record():
        y = x * x
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [4.0, 8.0])
    with pytest.raises(MXNetError, match="retain_graph=True"):
        y.backward()


def test_intermediate_of_freed_graph_is_not_differentiable(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    with autograd.record():
        h = x * 3
        y = h * h
    y.backward()
    with pytest.raises(MXNetError, match=_NOT_IN_GRAPH):
        h.backward()


def test_freed_output_is_a_constant_in_new_graphs(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    with autograd.record():
        h = x * 3
    h.backward()
    with autograd.record():
        y = h * x
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [3.0, 6.0])


def test_backward_without_record_fails(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    y = x * 2
    with pytest.raises(MXNetError, match=_NOT_IN_GRAPH):
        y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [0.0, 0.0])


def test_graph_without_variables_is_not_recorded(ctx: mx.Context) -> None:
    with autograd.record():
        y = nd.ones((3,), ctx=ctx) * 2
    assert y._ag_node is None
    with pytest.raises(MXNetError, match=_NOT_IN_GRAPH):
        y.backward()


def test_backward_inside_record_works(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    with autograd.record():
        y = x * 3
        y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [3.0, 3.0])


def test_pause_inside_record_is_not_recorded(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    with autograd.record():
        with autograd.pause():
            c = x * 10
        y = x * c
    assert c._ag_node is None
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [10.0, 20.0])


def test_inputs_are_referenced_not_copied(ctx: mx.Context) -> None:
    """MXNet keeps references: writing into an input after recording changes the gradient."""
    x = _var([1.0, 2.0, 3.0], ctx)
    with autograd.record():
        h = x * 2
        y = h * h
    h[:] = 0
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [0.0, 0.0, 0.0])


# ---------------------------------------------------------------------- detach
@pytest.mark.parametrize(
    "cut", [lambda a: a.detach(), nd.stop_gradient, nd.BlockGrad], ids=["detach", "stop", "block"]
)
def test_detached_branch_gets_no_gradient(cut: Any, ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    with autograd.record():
        y = x * cut(x)
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [1.0, 2.0])


def test_detach_shares_memory(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    d = x.detach()
    assert d._ag_node is None
    d[:] = 5.0
    np.testing.assert_array_equal(x.asnumpy(), [5.0, 5.0])


# ---------------------------------------------------------------------- head gradients
def test_explicit_head_gradient(ctx: mx.Context) -> None:
    x = _var([[1.0, 2.0, 3.0]], ctx)
    with autograd.record():
        y = x * x
    y.backward(nd.array([[1.0, 0.0, 2.0]], ctx=ctx))
    np.testing.assert_array_equal(x.grad.asnumpy(), [[2.0, 0.0, 12.0]])


def test_head_gradient_of_wrong_size_is_rejected(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0, 3.0], ctx)
    with autograd.record():
        y = x * x
    with pytest.raises(MXNetError, match="head gradient of shape"):
        y.backward(nd.array([1.0, 2.0], ctx=ctx))
    np.testing.assert_array_equal(x.grad.asnumpy(), [0.0, 0.0, 0.0])


def test_multiple_heads_with_mixed_head_grads(ctx: mx.Context) -> None:
    a = _var([1.0, 2.0], ctx)
    with autograd.record():
        h1 = a * 3
        h2 = a * a
    autograd.backward([h1, h2])
    np.testing.assert_array_equal(a.grad.asnumpy(), [5.0, 7.0])
    with autograd.record():
        h1 = a * 3
        h2 = a * a
    autograd.backward([h1, h2], [None, nd.array([2.0, 2.0], ctx=ctx)])
    np.testing.assert_array_equal(a.grad.asnumpy(), [7.0, 11.0])


def test_head_grads_length_mismatch(ctx: mx.Context) -> None:
    a = _var([1.0, 2.0], ctx)
    with autograd.record():
        h = a * 3
    with pytest.raises(AssertionError, match="same length"):
        autograd.backward([h], [None, None])
    with pytest.raises(ValueError, match="same length"):
        autograd.backward([h], [None, None])
    np.testing.assert_array_equal(a.grad.asnumpy(), [0.0, 0.0])


def test_backward_train_mode_flag_is_visible_during_backward(ctx: mx.Context) -> None:
    seen = []

    class Probe(autograd.Function):
        def forward(self, x: Any) -> Any:
            return x * 1.0

        def backward(self, dy: Any) -> Any:
            seen.append((autograd.is_recording(), autograd.is_training()))
            return dy

    x = _var([1.0], ctx)
    for mode in (True, False):
        with autograd.record():
            y = Probe()(x)
        y.backward(train_mode=mode)
    assert seen == [(False, True), (False, False)]


# ---------------------------------------------------------------------- autograd.grad
def test_grad_returns_new_arrays_and_keeps_buffers(ctx: mx.Context) -> None:
    a = _var([1.0, 2.0], ctx)
    a.grad[:] = 9.0
    with autograd.record():
        h = a * a * 3
    (g,) = autograd.grad(h, a)
    np.testing.assert_array_equal(g.asnumpy(), [6.0, 12.0])
    np.testing.assert_array_equal(a.grad.asnumpy(), [9.0, 9.0])
    assert g.context == a.context


def test_grad_errors(ctx: mx.Context) -> None:
    a = _var([1.0, 2.0], ctx)
    c = _var([1.0, 2.0], ctx)
    b = nd.array([1.0, 2.0], ctx=ctx)
    with autograd.record():
        h = a * 3
    with pytest.raises(MXNetError, match="1-th variable because it does not require gradient"):
        autograd.grad(h, [b], retain_graph=True)
    with pytest.raises(MXNetError, match="2-th variable because it is unreachable"):
        autograd.grad(h, [a, c], retain_graph=True)
    (g_a,) = autograd.grad(h, [a], create_graph=True)  # a recorded backward pass
    np.testing.assert_array_equal(g_a.asnumpy(), [3.0, 3.0])
    with pytest.raises(ValueError, match="empty"):
        autograd.grad(h, [])
    (g,) = autograd.grad(h, [a])
    np.testing.assert_array_equal(g.asnumpy(), [3.0, 3.0])


def test_get_symbol_is_not_supported(ctx: mx.Context) -> None:
    with pytest.raises(NotImplementedError, match="Symbol"):
        autograd.get_symbol(nd.ones((1,), ctx=ctx))


# ---------------------------------------------------------------------- custom Function
class _Sigmoid(autograd.Function):
    def forward(self, x: Any) -> Any:
        y = 1 / (1 + nd.exp(-x))
        self.save_for_backward(y)
        return y

    def backward(self, dy: Any) -> Any:
        (y,) = self.saved_tensors
        return dy * y * (1 - y)


def test_custom_function(ctx: mx.Context) -> None:
    x = _var([0.0, 1.0], ctx)
    with autograd.record():
        y = _Sigmoid()(x) * 2
    y.backward()
    s = 1 / (1 + np.exp(-np.array([0.0, 1.0])))
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * s * (1 - s), rtol=1e-6)


def test_custom_function_multi_output_and_errors(ctx: mx.Context) -> None:
    class Split(autograd.Function):
        def forward(self, x: Any) -> Any:
            return x * 2, x * 3

        def backward(self, d1: Any, d2: Any) -> Any:
            return d1 * 2 + d2 * 3

    x = _var([1.0, 2.0], ctx)
    with autograd.record():
        p, q = Split()(x)
        y = p + q * q
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [2 + 18 * 1.0, 2 + 18 * 2.0])

    f = _Sigmoid()
    f(x)
    with pytest.raises(MXNetError, match="only be called once"):
        f(x)

    class Bad(autograd.Function):
        def forward(self, x: Any) -> Any:
            return x * 1

        def backward(self, dy: Any) -> Any:
            return dy, dy

    with autograd.record():
        y = Bad()(x)
    with pytest.raises(MXNetError, match="Expecting 1 got 2"):
        y.backward()


def test_non_differentiable_op_reports_its_name(ctx: mx.Context) -> None:
    x = _var([1.0], ctx)
    out = nd.ones((1,), ctx=ctx)
    with autograd.record():
        autograd.record_op("my_custom_op", [x], out, {})
    with pytest.raises(MXNetError, match="my_custom_op is non-differentiable"):
        out.backward()


# ---------------------------------------------------------------------- in-place writes
def test_inplace_on_graph_array_inside_record_fails(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    with autograd.record():
        y = x * 2
        with pytest.raises(MXNetError, match="Assigning to NDArrays that are already in a"):
            y += 1
        with pytest.raises(MXNetError, match="inplace operations like"):
            x *= 2
    np.testing.assert_array_equal(x.asnumpy(), [1.0, 2.0])
    np.testing.assert_array_equal(y.asnumpy(), [2.0, 4.0])


def test_inplace_allowed_on_plain_arrays_and_after_backward(ctx: mx.Context) -> None:
    x = _var([1.0, 2.0], ctx)
    z = nd.ones((2,), ctx=ctx)
    with autograd.record():
        z += 1
        y = x * z
    y.backward()
    y += 1  # the graph is freed: y is an ordinary array again
    np.testing.assert_array_equal(y.asnumpy(), [3.0, 5.0])
    np.testing.assert_array_equal(x.grad.asnumpy(), [2.0, 2.0])
    x += 1  # outside record, even variables may be updated (an optimizer step)
    np.testing.assert_array_equal(x.asnumpy(), [2.0, 3.0])


# ---------------------------------------------------------------------- fresh-gradient flag
def test_fresh_grad_flag_follows_mxnet(ctx: mx.Context) -> None:
    a, b, d = _var([1.0, 2.0], ctx), _var([1.0, 2.0], ctx), _var([1.0, 2.0], ctx)
    c = _var([1.0, 2.0], ctx, "null")
    plain = nd.array([1.0, 2.0], ctx=ctx)
    assert not a._fresh_grad and not plain._fresh_grad
    with autograd.record():
        y = a * b * c
    y.backward()
    # written (write/add) variables are fresh; 'null' and unreachable ones are not
    assert [a._fresh_grad, b._fresh_grad, c._fresh_grad, d._fresh_grad] == [
        True,
        True,
        False,
        False,
    ]
    a._fresh_grad = False
    assert not a._fresh_grad
    with autograd.record():
        y = a * b
    autograd.grad(y, [a])  # grad() leaves the flags alone
    assert not a._fresh_grad
    b.attach_grad()
    assert not b._fresh_grad
    with pytest.raises(MXNetError, match="not been marked as a variable"):
        plain._fresh_grad = True
    assert not plain._fresh_grad
