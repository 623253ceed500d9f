"""gluon.ParameterDict: get/merge/conflicts, constants, update, initialize, zero_grad, save/load."""

from __future__ import annotations

import os

import numpy as np
import pytest

import mxlite as mx
from mxlite import gluon, nd
from mxlite.gluon import ParameterDict
from mxlite.gluon.parameter import Constant, Parameter


def _filled(prefix="net_", ctx=None):
    pd = ParameterDict(prefix)
    pd.get("weight", shape=(2, 3), init=mx.init.Constant(1.5))
    pd.get("bias", shape=(2,))
    pd.initialize(ctx=ctx)
    return pd


# ---------------------------------------------------------------------- repr and mapping
def test_repr():
    pd = ParameterDict("pre_")
    pd.get("a", shape=(2, 3))
    pd.get_constant("k", [1, 2])
    assert repr(pd) == (
        "pre_ (\n"
        "  Parameter pre_a (shape=(2, 3), dtype=<class 'numpy.float32'>)\n"
        "  Constant pre_k (shape=(2,), dtype=<class 'numpy.float32'>)\n"
        ")"
    )
    assert repr(ParameterDict()) == "(\n\n)"


def test_mapping_protocol():
    pd = ParameterDict("p_")
    a = pd.get("a", shape=(1,))
    b = pd.get("b", shape=(1,))
    assert list(pd) == ["p_a", "p_b"]
    assert list(pd.keys()) == ["p_a", "p_b"]
    assert list(pd.values()) == [a, b]
    assert dict(pd.items()) == {"p_a": a, "p_b": b}
    assert pd["p_b"] is b and "p_a" in pd and pd.prefix == "p_"


# ---------------------------------------------------------------------- get
def test_get_creates_then_retrieves_and_merges_shapes():
    pd = ParameterDict("pre_")
    a = pd.get("a", shape=(2, 0), lr_mult=2.0)
    assert isinstance(a, Parameter) and a.name == "pre_a" and a.lr_mult == 2.0
    b = pd.get("a", shape=(0, 3))
    assert b is a and a.shape == (2, 3)
    assert pd.get("a", dtype="float32") is a  # dtype compared as numpy dtypes
    assert pd.get("a", init=mx.init.One()).init == mx.init.One()  # None attributes are set


@pytest.mark.parametrize(
    ("kwargs", "attr", "desired", "stored"),
    [
        ({"lr_mult": 3.0}, "lr_mult", "3.0", "2.0"),
        ({"shape": (5, 3)}, "shape", "(5, 3)", "(2, 3)"),
        ({"shape": (2, 3, 1)}, "shape", "(2, 3, 1)", "(2, 3)"),
        ({"dtype": "float16"}, "dtype", "float16", "<class 'numpy.float32'>"),
    ],
)
def test_get_attribute_conflicts(kwargs, attr, desired, stored):
    pd = ParameterDict("pre_")
    a = pd.get("a", shape=(2, 3), lr_mult=2.0)
    msg = (
        f"Cannot retrieve Parameter 'pre_a' because desired attribute does not match with stored "
        f"for attribute '{attr}': desired '{desired}' vs stored '{stored}'."
    )
    with pytest.raises(AssertionError) as info:
        pd.get("a", **kwargs)
    assert str(info.value) == msg
    assert (a.shape, a.lr_mult, a.dtype) == ((2, 3), 2.0, np.float32)


def test_get_conflict_changes_nothing_even_after_valid_keywords():
    pd = ParameterDict()
    a = pd.get("a", shape=(2, 0))
    with pytest.raises(AssertionError, match="'wd_mult'"):
        pd.get("a", shape=(2, 5), init=mx.init.One(), wd_mult=3.0)
    assert a.shape == (2, 0) and a.init is None


def test_get_from_shared():
    shared = ParameterDict("s_")
    w = shared.get("w", shape=(2,))
    pd = ParameterDict("s_", shared=shared)
    assert pd.get("w") is w
    assert list(pd.keys()) == ["s_w"]


# ---------------------------------------------------------------------- constants, update
def test_get_constant():
    pd = ParameterDict("x_")
    with pytest.raises(KeyError, match="No constant named 'x_k'. Please specify value"):
        pd.get_constant("k")
    k = pd.get_constant("k", [1, 2])
    assert isinstance(k, Constant) and pd.get_constant("k") is k
    assert pd.get_constant("k", nd.array([1, 2])) is k
    with pytest.raises(
        AssertionError, match="Constant 'x_k' already exists but it's value doesn't match new value"
    ):
        pd.get_constant("k", [1, 3])
    with pytest.raises(AssertionError, match="doesn't match"):
        pd.get_constant("k", [1, 2, 3])
    pd.get("w", shape=(2,))
    with pytest.raises(
        AssertionError, match="Parameter 'x_w' already exists but it is not a constant."
    ):
        pd.get_constant("w", [1, 3])


def test_update():
    pd, other = ParameterDict("x_"), ParameterDict("x_")
    pd.get("w", shape=(2,))
    other.get("w", shape=(2,))
    other.get("v", shape=(2,))
    with pytest.raises(AssertionError, match="different Parameters with the same name 'x_w'"):
        pd.update(other)
    assert list(pd.keys()) == ["x_w"]  # nothing copied
    third = ParameterDict()
    third.update(other)
    assert third["x_v"] is other["x_v"]


# ---------------------------------------------------------------------- initialize
def test_initialize_uses_default_and_own_init():
    pd = _filled()
    np.testing.assert_array_equal(pd["net_weight"].data().asnumpy(), np.full((2, 3), 1.5))
    # as in MXNet, the default initializer is passed as '__init__', so a bias is drawn too
    bias = pd["net_bias"].data().asnumpy()
    assert np.all(np.abs(bias) <= 0.07) and np.any(bias != 0)
    with pytest.warns(UserWarning, match="already initialized"):
        pd.initialize()
    pd.initialize(init=mx.init.One(), force_reinit=True)
    np.testing.assert_array_equal(pd["net_weight"].data().asnumpy(), np.full((2, 3), 1.5))
    np.testing.assert_array_equal(pd["net_bias"].data().asnumpy(), np.ones(2))


def test_initialize_batches_built_in_fills(monkeypatch):
    calls = []
    real = mx.initializer.init_many

    def spy(init, descs, arrays):
        calls.append([str(d) for d in descs])
        return real(init, descs, arrays)

    monkeypatch.setattr(mx.initializer, "init_many", spy)
    pd = ParameterDict("b_")
    for i in range(4):
        pd.get(f"w{i}_weight", shape=(3, 2))
    pd.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    assert len(calls) == 1  # one batch for the whole dict, every replica included
    assert calls[0] == [f"b_w{i}_weight" for i in range(4) for _ in range(2)]


def test_initialize_verbose_does_not_change_shared_default(caplog):
    pd = ParameterDict("v_")
    pd.get("weight", shape=(2,))
    with caplog.at_level("INFO"):
        pd.initialize(verbose=True)
    assert "v_weight" in caplog.text
    assert not gluon.parameter.DEFAULT_INIT._verbose


def test_initialize_deferred_and_list_ctx():
    pd = ParameterDict()
    pd.get("d", shape=(0, 2), allow_deferred_init=True)
    pd.get("e", shape=(2,))
    pd.initialize(ctx=[mx.cpu(1), mx.cpu(0)])
    assert pd["d"]._deferred_init and pd["e"]._data is not None
    assert sorted(str(c) for c in pd.list_ctx()) == ["cpu(0)", "cpu(1)"]


# ---------------------------------------------------------------------- zero_grad, reset_ctx, setattr
def test_zero_grad_one_launch_for_the_host(monkeypatch):
    # cpu(0) and cpu(1) share the host: their gradients are zeroed by one cached plan.
    pd = ParameterDict()
    for name in ("a", "b", "c"):
        pd.get(name, shape=(2,))
    pd.get("n", shape=(2,), grad_req="null")
    pd.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    for p in pd.values():
        if p.grad_req != "null":
            for g in p.list_grad():
                g[:] = 3
    from mxlite.ops.multi_tensor import ZeroPlan

    calls = []
    real = ZeroPlan.__call__

    def spy(self):
        calls.append(len(self._arrays))
        return real(self)

    monkeypatch.setattr(ZeroPlan, "__call__", spy)
    pd.zero_grad()
    assert calls == [6]
    for name in ("a", "b", "c"):
        assert all(float(g.asnumpy().sum()) == 0.0 for g in pd[name].list_grad())


def test_reset_ctx_and_setattr():
    pd = _filled(ctx=[mx.cpu(0), mx.cpu(1)])
    pd.reset_ctx(mx.cpu(2))
    assert pd.list_ctx() == [mx.cpu(2)]
    pd.setattr("grad_req", "null")
    assert all(p.grad_req == "null" and p._grad is None for p in pd.values())
    pd.setattr("lr_mult", 0.5)
    assert [p.lr_mult for p in pd.values()] == [0.5, 0.5]


# ---------------------------------------------------------------------- save and load
def test_save_load_round_trip(tmp_path):
    pd = _filled()
    pd["net_bias"].set_data(nd.array([1.0, 2.0]))
    fname = str(tmp_path / "p.params")
    pd.save(fname, strip_prefix="net_")
    assert sorted(nd.load(fname).keys()) == ["bias", "weight"]
    fresh = ParameterDict("net_")
    fresh.get("weight", shape=(2, 0))
    fresh.get("bias", shape=(2,))
    fresh.load(fname, ctx=[mx.cpu(0), mx.cpu(1)], restore_prefix="net_")
    assert fresh["net_weight"].shape == (2, 3)
    assert fresh["net_weight"].list_ctx() == [mx.cpu(0), mx.cpu(1)]
    np.testing.assert_array_equal(fresh["net_bias"].data(mx.cpu(1)).asnumpy(), [1.0, 2.0])


def test_save_bad_strip_prefix_writes_nothing(tmp_path):
    pd = _filled()
    fname = tmp_path / "x.params"
    with pytest.raises(
        ValueError,
        match="Prefix 'zzz' is to be striped before saving, but Parameter's name 'net_weight' does not start with 'zzz'",
    ):
        pd.save(str(fname), strip_prefix="zzz")
    assert not fname.exists()


def test_load_errors_change_nothing(tmp_path):
    pd = _filled()
    fname = str(tmp_path / "p.params")
    nd.save(fname, {"net_weight": nd.zeros((2, 3)), "extra": nd.zeros((1,))})
    with pytest.raises(
        AssertionError,
        match="Parameter 'net_bias' is missing in file: .*p.params, which contains parameters: 'net_weight', 'extra'",
    ):
        pd.load(fname)
    with pytest.raises(
        AssertionError,
        match="Parameter 'extra' loaded from file: .* is not present in ParameterDict, choices are: 'net_weight', 'net_bias'. Set ignore_extra to True",
    ):
        pd.load(fname, allow_missing=True)
    with pytest.raises(
        AssertionError,
        match="restore_prefix is 'zz' but Parameters name 'net_weight' does not start with 'zz'",
    ):
        pd.load(fname, restore_prefix="zz")
    np.testing.assert_array_equal(pd["net_weight"].data().asnumpy(), np.full((2, 3), 1.5))
    pd.load(fname, allow_missing=True, ignore_extra=True)
    np.testing.assert_array_equal(pd["net_weight"].data().asnumpy(), np.zeros((2, 3)))


def test_load_dict_checks_every_entry_before_loading():
    pd = _filled()
    bad = {"arg:net_weight": nd.zeros((2, 3)), "aux:net_bias": nd.zeros((5,))}
    with pytest.raises(AssertionError, match=r"shape incompatible expected \(2,\) vs saved \(5,\)"):
        pd.load_dict(bad)
    np.testing.assert_array_equal(pd["net_weight"].data().asnumpy(), np.full((2, 3), 1.5))
    pd.load_dict({"arg:net_weight": nd.zeros((2, 3)), "aux:net_bias": nd.ones((2,))})
    np.testing.assert_array_equal(pd["net_bias"].data().asnumpy(), np.ones(2))
    with pytest.raises(AssertionError, match="Parameter 'net_weight' is missing in param_dict"):
        pd.load_dict({})


def test_load_dict_cast_dtype():
    pd = _filled()
    half = {"net_weight": nd.ones((2, 3), dtype="float16"), "net_bias": nd.ones((2,))}
    with pytest.raises(AssertionError, match="dtype incompatible"):
        pd.load_dict(half)
    pd.load_dict(half, cast_dtype=True)
    assert pd["net_weight"].data().dtype is np.float32
    pd.load_dict(half, cast_dtype=True, dtype_source="saved")
    assert pd["net_weight"].data().dtype is np.float16 and pd["net_weight"].dtype is np.float16


def test_save_then_load_empty_dict(tmp_path):
    fname = str(tmp_path / "empty.params")
    ParameterDict().save(fname)
    assert os.path.getsize(fname) > 0
    ParameterDict().load(fname)  # nothing to load, no error
