"""gluon.Parameter and gluon.Constant: attributes, initialization, replica lookup, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite import gluon, nd
from mxlite.base import CheckError, MXNetError
from mxlite.gluon.parameter import Constant, DeferredInitializationError, Parameter


def _param(name="w", shape=(2, 3), ctx=None, init=None, **kwargs):
    p = Parameter(name, shape=shape, **kwargs)
    p.initialize(init=init or mx.init.One(), ctx=ctx)
    return p


# ---------------------------------------------------------------------- construction and repr
def test_repr_keeps_dtype_as_given():
    assert repr(Parameter("w", shape=(2, 3))) == (
        "Parameter w (shape=(2, 3), dtype=<class 'numpy.float32'>)"
    )
    assert repr(Parameter("b", shape=4, dtype="float16")) == (
        "Parameter b (shape=(4,), dtype=float16)"
    )
    assert repr(Parameter("n")) == "Parameter n (shape=None, dtype=<class 'numpy.float32'>)"


def test_defaults():
    p = Parameter("w")
    assert (p.grad_req, p.lr_mult, p.wd_mult, p.init, p.shape) == ("write", 1.0, 1.0, None, None)
    assert p.dtype is np.float32
    assert p._stype == "default" and p._grad_stype == "default"


@pytest.mark.parametrize("what", ["stype", "grad_stype"])
def test_invalid_stype_is_refused(what):
    with pytest.raises(AssertionError, match=f"{what} for Parameter 's' must be one of"):
        Parameter("s", **{what: "foo"})


@pytest.mark.parametrize("what", ["stype", "grad_stype"])
def test_sparse_storage_initializes_row_sparse_buffers(what):
    p = Parameter("s", shape=(2, 2), init=mx.init.One(), **{what: "row_sparse"})
    p.initialize()
    stored = p._data[0] if what == "stype" else p._grad[0]
    assert stored.stype == "row_sparse"
    if what == "stype":
        assert stored.asnumpy().tolist() == [[1.0, 1.0], [1.0, 1.0]]
    else:
        assert stored.indices.asnumpy().tolist() == []


def test_sparse_data_access_messages():
    p = Parameter("s", shape=(2, 2), stype="row_sparse")
    with pytest.raises(RuntimeError, match="Please use row_sparse_data"):
        p.data()
    q = Parameter("d", shape=(2, 2))
    with pytest.raises(RuntimeError, match="Please use data\\(\\) instead"):
        q.row_sparse_data(nd.array([0]))


def test_unknown_dtype_is_refused():
    with pytest.raises(TypeError):
        Parameter("w", dtype="not-a-dtype")


# ---------------------------------------------------------------------- grad_req
def test_grad_req_validation():
    p = Parameter("w", shape=(2,))
    with pytest.raises(AssertionError, match="grad_req must be one of 'write', 'add', or 'null'"):
        p.grad_req = "foo"
    assert p.grad_req == "write"


def test_grad_req_null_drops_and_restores_gradients():
    p = _param()
    g = p.grad()
    assert g.shape == (2, 3) and float(g.asnumpy().sum()) == 0.0
    data_before = p.data()
    p.grad_req = "null"
    assert p._grad is None
    with pytest.raises(RuntimeError, match="because grad_req='null'"):
        p.grad()
    with pytest.raises(RuntimeError, match="because grad_req='null'"):
        p.list_grad()
    # the data is detached (a new array object over the same memory)
    assert p.data() is not data_before
    np.testing.assert_array_equal(p.data().asnumpy(), data_before.asnumpy())
    p.grad_req = "add"
    assert p.grad().shape == (2, 3)
    assert p.grad_req == "add"


def test_grad_req_null_at_construction_and_not_differentiable():
    p = _param(grad_req="null")
    with pytest.raises(RuntimeError, match="grad_req='null'"):
        p.grad()
    q = Parameter("q", shape=(2,), differentiable=False)
    assert q.grad_req == "null"
    q.grad_req = "write"
    assert q.grad_req == "null"


# ---------------------------------------------------------------------- shape
def test_shape_merging_setter():
    p = Parameter("w", shape=(0, 3))
    assert p.shape == (0, 3)
    p.shape = (4, 3)
    assert p.shape == (4, 3)


@pytest.mark.parametrize("new", [(3, 3, 1), (5, 3), (4,)])
def test_shape_conflict_raises_and_keeps_shape(new):
    p = Parameter("w", shape=(4, 3))
    with pytest.raises(AssertionError, match=r"Expected shape .* is incompatible with given shape"):
        p.shape = new
    assert p.shape == (4, 3)


def test_shape_np_mode_shows_minus_one():
    p = Parameter("w", shape=(0, 3))
    mx.util.set_np()
    try:
        assert p.shape == (-1, 3)
        assert repr(p).startswith("Parameter w (shape=(-1, 3)")
    finally:
        mx.util.reset_np()
    assert p.shape == (0, 3)


# ---------------------------------------------------------------------- dtype and cast
def test_cast_converts_data_and_grad():
    p = _param()
    p.cast("float16")
    assert p.dtype == "float16"
    assert p.data().dtype is np.float16 and p.grad().dtype is np.float16
    p.dtype = "float64"
    assert p.data().dtype is np.float64 and p.grad().dtype is np.float64
    np.testing.assert_array_equal(p.data().asnumpy(), np.ones((2, 3)))


def test_cast_before_initialize_sets_dtype():
    p = Parameter("w", shape=(2,))
    p.cast("float64")
    p.initialize(init=mx.init.One())
    assert p.data().dtype is np.float64


# ---------------------------------------------------------------------- initialize
def test_data_before_initialize_message():
    p = Parameter("w", shape=(2,))
    with pytest.raises(RuntimeError, match="Parameter 'w' has not been initialized. Note that"):
        p.data()
    with pytest.raises(RuntimeError, match="has not been initialized"):
        p.list_ctx()


def test_initialize_twice_warns_and_keeps_values():
    p = _param()
    p.data()[:] = 5
    with pytest.warns(UserWarning, match="Parameter 'w' is already initialized, ignoring"):
        p.initialize(init=mx.init.Zero())
    assert float(p.data().asnumpy()[0, 0]) == 5.0
    p.initialize(init=mx.init.Zero(), force_reinit=True)
    assert float(p.data().asnumpy().sum()) == 0.0


def test_initialize_invalid_shape_without_deferral():
    p = Parameter("q2", shape=(0, 3))
    with pytest.raises(
        ValueError,
        match=r"Cannot initialize Parameter 'q2' because it has invalid shape: \(0, 3\)\.",
    ):
        p.initialize()
    assert p._data is None and not p._deferred_init


def test_init_precedence():
    p = Parameter("w", shape=(2,), init=mx.init.Constant(3.0))
    p.initialize(default_init=mx.init.One())
    assert p.data().asnumpy().tolist() == [3.0, 3.0]
    p.initialize(init=mx.init.Constant(7.0), force_reinit=True)
    assert p.data().asnumpy().tolist() == [7.0, 7.0]
    q = Parameter("q_weight", shape=(2,))
    q.initialize(default_init=mx.init.One())
    assert q.data().asnumpy().tolist() == [1.0, 1.0]


def test_default_init_is_uniform_007():
    p = Parameter("big_weight", shape=(200, 50))
    p.initialize()
    vals = p.data().asnumpy()
    assert vals.min() >= -0.07 and vals.max() <= 0.07
    assert vals.std() > 0.03  # really random, not constant


def test_user_initializer_failure_changes_nothing():
    class Boom(mx.init.Initializer):
        def _init_weight(self, name, arr):
            raise RuntimeError("boom")

    p = _param()
    with pytest.raises(RuntimeError, match="boom"):
        p.initialize(init=Boom(), force_reinit=True)
    np.testing.assert_array_equal(p.data().asnumpy(), np.ones((2, 3)))


# ---------------------------------------------------------------------- deferred initialization
def test_deferred_initialization_flow():
    p = Parameter("d_weight", shape=(0, 2), allow_deferred_init=True)
    p.initialize(init=mx.init.One(), ctx=[mx.cpu(0), mx.cpu(1)])
    assert p.list_ctx() == [mx.cpu(0), mx.cpu(1)]
    with pytest.raises(
        DeferredInitializationError,
        match="Parameter 'd_weight' has not been initialized yet because initialization was deferred",
    ):
        p.data()
    assert isinstance(DeferredInitializationError("x"), MXNetError)
    assert gluon.parameter.DeferredInitializationError is DeferredInitializationError
    with pytest.raises(
        AssertionError, match="Cannot initialize Parameter 'd_weight' because it has invalid shape"
    ):
        p._finish_deferred_init()
    assert p._deferred_init  # still waiting
    p.shape = (3, 2)
    p._finish_deferred_init()
    assert not p._deferred_init
    assert [a.shape for a in p.list_data()] == [(3, 2), (3, 2)]
    np.testing.assert_array_equal(p.data(mx.cpu(1)).asnumpy(), np.ones((3, 2)))


def test_set_data_kept_until_deferred_init_finishes():
    p = Parameter("d", shape=(0, 2), allow_deferred_init=True)
    p.initialize()
    p.set_data(nd.full((3, 2), 4.0))
    assert p.shape == (3, 2)
    assert p._data is None
    p._finish_deferred_init()
    np.testing.assert_array_equal(p.data().asnumpy(), np.full((3, 2), 4.0))


def test_set_data_errors_change_nothing():
    p = Parameter("e", shape=(0, 2), allow_deferred_init=True)
    with pytest.raises(AssertionError, match="Parameter 'e' has not been initialized"):
        p.set_data(nd.ones((3, 2)))
    assert p.shape == (0, 2)  # MXNet would have set (3, 2) before failing
    q = _param()
    with pytest.raises(AssertionError, match="incompatible"):
        q.set_data(nd.ones((4, 4)))
    np.testing.assert_array_equal(q.data().asnumpy(), np.ones((2, 3)))


def test_set_data_on_every_replica_and_from_numpy():
    p = _param(ctx=[mx.cpu(0), mx.cpu(1)])
    p.set_data(nd.full((2, 3), 2.5))
    for arr in p.list_data():
        np.testing.assert_array_equal(arr.asnumpy(), np.full((2, 3), 2.5))
    p.set_data(np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(p.data(mx.cpu(1)).asnumpy(), np.arange(6).reshape(2, 3))
    assert p.data().dtype is np.float32


# ---------------------------------------------------------------------- replica lookup
def test_wrong_context_message():
    p = _param(ctx=[mx.cpu(0), mx.cpu(1)])
    with pytest.raises(
        RuntimeError,
        match=r"Parameter 'w' was not initialized on context gpu\(0\)\. It was only initialized on \[cpu\(0\), cpu\(1\)\]\.",
    ):
        p.data(mx.gpu(0))
    with pytest.raises(RuntimeError, match=r"not initialized on context cpu\(2\)"):
        p.grad(mx.cpu(2))


def test_data_picks_current_context_replica():
    p = _param(ctx=[mx.cpu(0), mx.cpu(1)])
    assert p.data().context == mx.cpu(0)
    with mx.cpu(1):
        assert p.data() is p.list_data()[1]
        assert p.grad() is p.list_grad()[1]
    with mx.cpu(3), pytest.raises(RuntimeError, match="cpu\\(3\\)"):
        p.data()


def test_single_replica_ignores_current_context():
    p = _param(ctx=mx.cpu(1))
    with mx.cpu(0):
        assert p.data().context == mx.cpu(1)
    with pytest.raises(RuntimeError):
        p.data(mx.cpu(0))


def test_ctx_argument_validation():
    p = Parameter("w", shape=(2,))
    with pytest.raises(TypeError, match="ctx must be a Context"):
        p.initialize(ctx=["cpu"])
    with pytest.raises(ValueError, match="empty list"):
        p.initialize(ctx=[])
    assert p._data is None


# ---------------------------------------------------------------------- reset_ctx, zero_grad
def test_reset_ctx_averages_replicas():
    p = _param(ctx=[mx.cpu(0), mx.cpu(1)])
    p.list_data()[0][:] = 1
    p.list_data()[1][:] = 3
    p.reset_ctx(mx.cpu(2))
    assert p.list_ctx() == [mx.cpu(2)]
    np.testing.assert_array_equal(p.data().asnumpy(), np.full((2, 3), 2.0))
    assert p.data().context == mx.cpu(2)
    assert p.grad().context == mx.cpu(2)
    with pytest.raises(RuntimeError, match=r"It was only initialized on \[cpu\(2\)\]"):
        p.data(mx.cpu(0))


def test_reset_ctx_deferred_and_uninitialized():
    p = Parameter("d", shape=(0, 2), allow_deferred_init=True)
    p.initialize()
    p.reset_ctx([mx.cpu(1)])
    assert p.list_ctx() == [mx.cpu(1)]
    q = Parameter("e", shape=(2,))
    with pytest.raises(
        ValueError,
        match="Cannot reset context for Parameter 'e' because it has not been initialized.",
    ):
        q.reset_ctx(mx.cpu(1))


def test_zero_grad():
    p = _param(ctx=[mx.cpu(0), mx.cpu(1)])
    for g in p.list_grad():
        g[:] = 7
    p.zero_grad()
    assert all(float(g.asnumpy().sum()) == 0.0 for g in p.list_grad())
    Parameter("u", shape=(2,)).zero_grad()  # uninitialized: no-op


def test_var_is_not_available():
    with pytest.raises(NotImplementedError, match="no symbolic API"):
        Parameter("w", shape=(2,)).var()


# ---------------------------------------------------------------------- _load_init
def test_load_init_fills_unknown_dims_and_initializes():
    p = Parameter("w", shape=(0, 3))
    p._load_init(nd.ones((2, 3)), None)
    assert p.shape == (2, 3) and p.list_ctx() == [mx.cpu(0)]
    np.testing.assert_array_equal(p.data().asnumpy(), np.ones((2, 3)))


def test_load_init_shape_and_dtype_errors_change_nothing():
    p = _param()
    with pytest.raises(
        AssertionError, match=r"shape incompatible expected \(2, 3\) vs saved \(3, 3\)"
    ):
        p._load_init(nd.zeros((3, 3)), None)
    with pytest.raises(AssertionError, match="dtype incompatible expected .* Set cast_dtype=True"):
        p._load_init(nd.zeros((2, 3), dtype="float16"), None)
    with pytest.raises(
        AssertionError,
        match=r"Failed to load Parameter 'w' on \[cpu\(1\)\] because it was previous initialized on \[cpu\(0\)\]\.",
    ):
        p._load_init(nd.zeros((2, 3)), mx.cpu(1))
    np.testing.assert_array_equal(p.data().asnumpy(), np.ones((2, 3)))


def test_load_init_cast_dtype():
    p = _param()
    p._load_init(nd.full((2, 3), 2.0, dtype="float16"), None, cast_dtype=True)
    assert p.data().dtype is np.float32 and p.dtype is np.float32
    np.testing.assert_array_equal(p.data().asnumpy(), np.full((2, 3), 2.0))
    p._load_init(nd.full((2, 3), 3.0, dtype="float16"), None, cast_dtype=True, dtype_source="saved")
    assert p.data().dtype is np.float16 and p.dtype is np.float16
    assert p.grad().dtype is np.float16


def test_load_init_deferred_uses_deferred_contexts():
    p = Parameter("d", shape=(0, 2), allow_deferred_init=True)
    p.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    with pytest.raises(AssertionError, match="Failed to load Parameter 'd'"):
        p._load_init(nd.ones((4, 2)), mx.cpu(5))
    p._load_init(nd.ones((4, 2)), None)
    assert p.list_ctx() == [mx.cpu(0), mx.cpu(1)] and not p._deferred_init
    assert p.shape == (4, 2)


# ---------------------------------------------------------------------- Constant
def test_constant():
    c = Constant("c", [[1, 2], [3, 4]])
    assert repr(c) == "Constant c (shape=(2, 2), dtype=<class 'numpy.float32'>)"
    assert c.grad_req == "null"
    assert c.init.startswith("Constant_c_")
    with pytest.warns(
        UserWarning,
        match='Constant parameter "c" does not support grad_req other than "null", and new value "write" is ignored.',
    ):
        c.grad_req = "write"
    assert c.grad_req == "null"
    c.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    for arr in c.list_data():
        np.testing.assert_array_equal(arr.asnumpy(), [[1, 2], [3, 4]])
    with pytest.raises(
        RuntimeError, match="Cannot get gradient array for Parameter 'c' because grad_req='null'"
    ):
        c.grad()
    c.set_data(nd.zeros((2, 2)))
    assert float(c.data().asnumpy().sum()) == 0.0


def test_constant_from_ndarray_keeps_dtype():
    c = Constant("k", nd.array([1, 2], dtype="int32"))
    assert c.dtype is np.int32
    c.initialize()
    assert c.data().dtype is np.int32
    assert c.data().asnumpy().tolist() == [1, 2]


def test_constant_no_warning_for_null():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Constant("z", [0.0]).grad_req = "null"


def test_check_error_is_assertion_and_mxnet_error():
    assert issubclass(CheckError, AssertionError) and issubclass(CheckError, MXNetError)


# ---------------------------------------------------------------------- gluon.utils helpers
def test_shape_is_known_legacy_and_numpy_mode():
    from mxlite.gluon.utils import shape_is_known

    assert not shape_is_known(None)
    assert shape_is_known((2, 3)) and not shape_is_known((2, 0))
    assert not shape_is_known(())  # legacy: () means unknown rank
    with pytest.raises(
        AssertionError, match="shape dimension size cannot be less than 0, while received -1"
    ):
        shape_is_known((2, -1))
    mx.npx.set_np()
    try:
        assert shape_is_known(()) and shape_is_known((2, 0)) and not shape_is_known((2, -1))
    finally:
        mx.npx.reset_np()


def test_brief_print_list_and_indent():
    from mxlite.gluon.utils import _brief_print_list, _indent

    assert _brief_print_list(["a", "b"]) == "'a', 'b'"
    # three from the head, four from the tail (MXNet's -limit // 2)
    assert _brief_print_list(list("abcdefghij")) == "'a', 'b', 'c', ..., 'g', 'h', 'i', 'j'"
    assert _indent("one", 2) == "one"
    assert _indent("one\ntwo\nthree", 2) == "one\n  two\n  three"
