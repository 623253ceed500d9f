"""gluon.Block / HybridBlock and nn layers: naming, registration, forward, deferred init, hooks."""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite import gluon, nd
from mxlite.gluon import _naming, nn


@pytest.fixture(autouse=True)
def fresh_names():
    """Start every test with fresh top-level name counters (dense0, sequential0, ...)."""
    with _naming.fresh_names():
        yield


class Model(gluon.Block):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.dense0 = nn.Dense(3)
            self.dense1 = nn.Dense(4, in_units=3)
            self.seq = nn.Sequential()
            self.seq.add(nn.Dense(2), nn.Dense(2, activation="tanh"))

    def forward(self, x):
        return self.seq(self.dense1(self.dense0(x)))


class PrintInit(mx.init.Initializer):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def _init_weight(self, name, data):
        self.log.append((str(name), data.shape))


# ---------------------------------------------------------------------- naming
def test_top_level_counters():
    assert [nn.Dense(2).prefix for _ in range(2)] == ["dense0_", "dense1_"]
    seq = nn.Sequential()
    assert (seq.prefix, seq.name) == ("sequential0_", "sequential0")
    assert nn.Activation("relu").prefix == "relu0_"
    assert nn.HybridSequential().prefix == "hybridsequential0_"


def test_name_scope_prefixes():
    m = Model()
    assert (m.prefix, m.name) == ("model0_", "model0")
    assert m.dense0.prefix == "model0_dense0_"
    assert m.seq.prefix == "model0_sequential0_"
    # the Sequential's children were created in the Model's scope, not the Sequential's
    assert m.seq[0].prefix == "model0_dense2_"
    assert m.seq[1].act.prefix == "model0_dense3_tanh_"
    assert list(m.collect_params().keys())[:2] == ["model0_dense0_weight", "model0_dense0_bias"]
    m2 = Model(prefix="foo_")
    assert (m2.prefix, m2.dense0.prefix) == ("foo_", "foo_dense0_")
    # a new Model restarts its own scope counters
    assert Model().dense0.prefix == "model1_dense0_"


def test_empty_prefix_block():
    d = nn.Dense(3, prefix="")
    assert (d.prefix, d.name) == ("", "")
    assert list(d.params.keys()) == ["weight", "bias"]
    assert repr(d.params).startswith("(\n  Parameter weight (shape=(3, 0)")


def test_dense_activation_prefix():
    assert nn.Dense(3, activation="relu").act.prefix == "dense0_relu_"


# ---------------------------------------------------------------------- repr
def test_reprs():
    m = Model()
    assert repr(m) == (
        "Model(\n"
        "  (dense0): Dense(None -> 3, linear)\n"
        "  (dense1): Dense(3 -> 4, linear)\n"
        "  (seq): Sequential(\n"
        "    (0): Dense(None -> 2, linear)\n"
        "    (1): Dense(None -> 2, Activation(tanh))\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Activation("sigmoid")) == "Activation(sigmoid)"
    assert repr(nn.Sequential()) == "Sequential(\n\n)"


def test_collect_params_text_before_and_after_forward():
    net = nn.Sequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dense(10))
    before = (
        "sequential0_ (\n"
        "  Parameter dense0_weight (shape=(256, 0), dtype=float32)\n"
        "  Parameter dense0_bias (shape=(256,), dtype=float32)\n"
        "  Parameter dense1_weight (shape=(10, 0), dtype=float32)\n"
        "  Parameter dense1_bias (shape=(10,), dtype=float32)\n"
        ")"
    )
    assert repr(net.collect_params()) == before
    net.initialize()
    assert repr(net.collect_params()) == before
    net(nd.random.uniform(shape=(2, 20)))
    assert repr(net.collect_params()) == before.replace("(256, 0)", "(256, 20)").replace(
        "(10, 0)", "(10, 256)"
    )
    assert repr(net) == (
        "Sequential(\n  (0): Dense(20 -> 256, Activation(relu))\n  (1): Dense(256 -> 10, linear)\n)"
    )


# ---------------------------------------------------------------------- registration
def test_collect_params_select_and_unregistered_container_warning():
    m = Model()
    assert list(m.collect_params(".*weight").keys()) == [
        "model0_dense0_weight",
        "model0_dense1_weight",
        "model0_dense2_weight",
        "model0_dense3_weight",
    ]

    class Foo(gluon.Block):
        def __init__(self):
            super().__init__()
            self.lst = [nn.Dense(2)]
            self.w = self.params.get("w", shape=(2, 2))
            self.c = self.params.get_constant("c", [1.0])

    f = Foo()
    with pytest.warns(UserWarning, match='"Foo.lst" is an unregistered container with Blocks'):
        keys = list(f.collect_params().keys())
    assert keys == ["foo0_w", "foo0_c"]
    assert list(f._reg_params) == ["w", "c"]
    with pytest.raises(TypeError, match="Changing attribute type for w from"):
        f.w = nn.Dense(2)
    with pytest.raises(AssertionError, match="Overriding Parameter attribute w is not allowed"):
        f.w = f.params.get("w2", shape=(2,))
    assert f.w.name == "foo0_w"


def test_register_child_and_children_order():
    b = gluon.Block()
    d1, d2 = nn.Dense(1), nn.Dense(2)
    b.register_child(d1)
    b.register_child(d2, "second")
    assert list(b._children.items()) == [("0", d1), ("second", d2)]
    assert list(b.collect_params().keys()) == [
        "dense0_weight",
        "dense0_bias",
        "dense1_weight",
        "dense1_bias",
    ]


def test_sequential_indexing_slices_len():
    seq = nn.Sequential()
    layers = [nn.Dense(3), nn.Activation("tanh"), nn.Dense(4)]
    seq.add(*layers)
    assert len(seq) == 3
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    part = seq[1:]
    assert isinstance(part, nn.Sequential) and len(part) == 2
    assert part[0] is layers[1] and part.prefix == seq.prefix
    hs = nn.HybridSequential()
    hs.add(nn.Dense(2), nn.Dense(2))
    assert isinstance(hs[:1], nn.HybridSequential) and len(hs[:1]) == 1


def test_hybrid_sequential_rejects_plain_blocks():
    hs = nn.HybridSequential()
    with pytest.raises(ValueError, match="Children of HybridBlock must also be HybridBlock, but"):
        hs.add(nn.Sequential())
    assert len(hs) == 0


def test_hybridize_is_a_recorded_no_op():
    hs = nn.HybridSequential()
    hs.add(nn.Dense(3, in_units=2, activation="relu"), nn.Dense(1, in_units=3))
    hs.initialize(init=mx.init.Xavier())
    x = nd.random.uniform(shape=(4, 2))
    before = hs(x).asnumpy()
    hs.hybridize(static_alloc=True)
    assert hs._active and hs[0]._active and ("static_alloc", True) in hs._flags
    np.testing.assert_array_equal(hs(x).asnumpy(), before)
    seq = nn.Sequential()
    seq.add(nn.Dense(2))
    with pytest.warns(
        UserWarning, match="All children of this Sequential layer 'sequential0_' are HybridBlocks"
    ):
        seq.hybridize()


# ---------------------------------------------------------------------- Dense numerics
@pytest.mark.parametrize("act", [None, "relu", "tanh", "sigmoid"])
def test_dense_forward_matches_numpy(act):
    d = nn.Dense(4, activation=act, in_units=6)
    d.initialize(init=mx.init.Normal(1.0))
    d.bias.set_data(nd.array([0.5, -0.5, 1.0, -1.0]))
    x = nd.random.normal(shape=(3, 2, 3))
    w, b = d.weight.data().asnumpy(), d.bias.data().asnumpy()
    ref = x.asnumpy().reshape(3, 6) @ w.T + b
    ref = {
        None: ref,
        "relu": np.maximum(ref, 0),
        "tanh": np.tanh(ref),
        "sigmoid": 1 / (1 + np.exp(-ref)),
    }[act]
    np.testing.assert_allclose(d(x).asnumpy(), ref, rtol=1e-5, atol=1e-6)


def test_dense_no_flatten_no_bias():
    d = nn.Dense(2, flatten=False, use_bias=False)
    assert d.bias is None and list(d.params.keys()) == ["dense0_weight"]
    d.initialize(init=mx.init.One())
    out = d(nd.ones((3, 4, 5)))
    assert out.shape == (3, 4, 2) and d.weight.shape == (2, 5)
    np.testing.assert_array_equal(out.asnumpy(), np.full((3, 4, 2), 5.0))


def test_dense_dtype():
    d = nn.Dense(2, in_units=3, dtype="float64")
    d.initialize()
    assert d.weight.data().dtype is np.float64 and d.bias.dtype == "float64"


# ---------------------------------------------------------------------- deferred initialization
def test_print_init_runs_once_at_first_forward_in_order():
    log = []
    net = nn.Sequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dense(10))
    net.initialize(init=PrintInit(log))
    assert log == []
    with pytest.raises(gluon.DeferredInitializationError):
        net[0].weight.data()
    x = nd.random.uniform(shape=(2, 20))
    net(x)
    assert log == [("dense0_weight", (256, 20)), ("dense1_weight", (10, 256))]
    net(x)
    assert len(log) == 2
    net.initialize(init=PrintInit(log), force_reinit=True)
    assert log[2:] == [("dense0_weight", (256, 20)), ("dense1_weight", (10, 256))]


def test_in_units_initializes_at_once():
    log = []
    net = nn.Sequential()
    net.add(nn.Dense(256, in_units=20, activation="relu"), nn.Dense(10, in_units=256))
    net.initialize(init=PrintInit(log))
    assert log == [("dense0_weight", (256, 20)), ("dense1_weight", (10, 256))]


def test_tied_parameters_share_objects():
    net = nn.Sequential()
    shared = nn.Dense(8, activation="relu")
    net.add(
        nn.Dense(8, activation="relu"),
        shared,
        nn.Dense(8, activation="relu", params=shared.params),
        nn.Dense(10),
    )
    net.initialize()
    net(nd.random.uniform(shape=(2, 20)))
    assert net[1].weight is net[2].weight and net[1].bias is net[2].bias
    net[1].weight.data()[0, 0] = 100
    assert float(net[2].weight.data().asnumpy()[0, 0]) == 100.0
    assert len(net.collect_params().keys()) == 6


def test_tied_parameters_with_conflicting_shape():
    shared = nn.Dense(8, in_units=4)
    other = nn.Dense(8, params=shared.params)
    other.initialize()
    assert other(nd.ones((2, 4))).shape == (2, 8)
    fresh = nn.Dense(8)
    tied = nn.Dense(8, params=fresh.params)
    fresh.initialize()
    fresh(nd.ones((1, 4)))
    with pytest.raises(mx.base.MXNetError):
        tied(nd.ones((1, 5)))  # the weight is (8, 4): the product fails


def test_custom_hybrid_block_and_infer_shape_requirement():
    class Scale(gluon.HybridBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            with self.name_scope():
                self.alpha = self.params.get("alpha", shape=(1,), init=mx.init.Constant(3.0))

        def hybrid_forward(self, F, x, alpha):
            assert F is mx.nd
            return F.broadcast_mul(x, alpha)

    s = Scale()
    s.initialize()
    np.testing.assert_array_equal(s(nd.ones((2, 2))).asnumpy(), np.full((2, 2), 3.0))

    class Lazy(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.w = self.params.get("w", shape=(0,), allow_deferred_init=True)

        def hybrid_forward(self, F, x, w):
            return x * w

    lazy = Lazy()
    lazy.initialize()
    with pytest.raises(
        ValueError,
        match="Deferred initialization failed because shape cannot be inferred. Lazy has Parameters of unknown shape \\(lazy0_w\\)",
    ):
        lazy(nd.ones((2,)))
    with pytest.raises(ValueError, match="there must be one NDArray"):
        s(3.0)


# ---------------------------------------------------------------------- hooks, apply, cast, summary
def test_hooks_apply_cast():
    d = nn.Dense(2, in_units=2)
    d.initialize()
    calls = []
    pre = d.register_forward_pre_hook(lambda blk, args: calls.append(("pre", blk, len(args))))
    post = d.register_forward_hook(lambda blk, args, out: calls.append(("post", out.shape)))
    d(nd.ones((1, 2)))
    assert calls == [("pre", d, 1), ("post", (1, 2))]
    pre.detach()
    with post:
        d(nd.ones((1, 2)))
    d(nd.ones((1, 2)))
    assert calls[2:] == [("post", (1, 2))]
    seen = []
    seq = nn.Sequential()
    seq.add(d)
    assert seq.apply(lambda b: seen.append(b.name)) is seq
    assert seen == ["dense0", "sequential0"]
    seq.cast("float16")
    assert d.weight.data().dtype is np.float16 and d.weight.dtype == "float16"


def test_summary(capsys):
    net = nn.Sequential()
    net.add(nn.Dense(4, in_units=3, activation="relu"), nn.Dense(2))
    net.initialize()
    net.summary(nd.ones((5, 3)))
    out = capsys.readouterr().out.splitlines()
    assert (
        out[1] == "        Layer (type)                                Output Shape         Param #"
    )
    assert (
        out[3] == "               Input                                      (5, 3)               0"
    )
    assert out[4].split() == ["Activation-1", "(5,", "4)", "0"]
    assert out[5].split() == ["Dense-2", "(5,", "4)", "16"]
    assert out[6].split() == ["Dense-3", "(5,", "2)", "10"]
    assert "   Total params: 26" in out and "Unique parameters in model: 26" in out
    with pytest.warns(UserWarning, match="Consider using HybridSequential"):
        net.hybridize()
    with pytest.raises(AssertionError, match="must not be hybridized to print summary"):
        net.summary(nd.ones((5, 3)))


# ---------------------------------------------------------------------- save_parameters / load_parameters
def _model_with_values():
    m = Model()
    m.initialize()
    m(nd.ones((2, 7)))
    return m


def test_save_load_parameters_round_trip(tmp_path):
    m = _model_with_values()
    fname = str(tmp_path / "m.params")
    m.save_parameters(fname)
    assert sorted(nd.load(fname).keys()) == sorted(
        ["dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"]
        + [f"seq.{i}.{k}" for i in (0, 1) for k in ("weight", "bias")]
    )
    m2 = Model()
    m2.load_parameters(fname, ctx=[mx.cpu(1)])
    assert m2.dense0.weight.list_ctx() == [mx.cpu(1)] and m2.dense0.weight.shape == (3, 7)
    x = nd.random.uniform(shape=(2, 7))
    np.testing.assert_allclose(m2(x.copyto(mx.cpu(1))).asnumpy(), m(x).asnumpy(), rtol=1e-6)


def test_load_parameters_errors_change_nothing(tmp_path):
    m = _model_with_values()
    fname = str(tmp_path / "m.params")
    m.save_parameters(fname)
    n = nn.Sequential()
    n.add(nn.Dense(3))
    n.initialize(init=mx.init.One())
    n(nd.ones((1, 2)))
    with pytest.raises(
        AssertionError,
        match=r"Parameter '0.weight' is missing in file '.*m.params', which contains parameters: 'dense0.weight', 'dense0.bias', 'dense1.weight', \.\.\., 'seq.0.weight'",
    ):
        n.load_parameters(fname)
    with pytest.raises(
        ValueError,
        match="Parameter 'dense0.weight' loaded from file '.*' is not present in ParameterDict, which contains parameters '0.weight', '0.bias'. Set ignore_extra=True",
    ):
        n.load_parameters(fname, allow_missing=True)
    np.testing.assert_array_equal(n[0].weight.data().asnumpy(), np.ones((3, 2)))
    with pytest.raises(
        AssertionError, match=r"Failed to load Parameter 'model0_dense0_weight' on \[cpu\(1\)\]"
    ):
        m.load_parameters(fname, ctx=mx.cpu(1))
    bad = str(tmp_path / "bad.params")
    nd.save(bad, {"dense0.weight": nd.zeros((3, 7)), "dense0.bias": nd.zeros((9,))})
    before = m.dense0.weight.data().asnumpy()
    with pytest.raises(AssertionError, match="shape incompatible"):
        m.load_parameters(bad, allow_missing=True)
    np.testing.assert_array_equal(m.dense0.weight.data().asnumpy(), before)  # not half-loaded


def test_deduplicate_and_shared_parameters(tmp_path):
    net = nn.Sequential()
    shared = nn.Dense(2, in_units=2)
    net.add(shared, nn.Dense(2, in_units=2, params=shared.params))
    net.initialize()
    full, dedup = str(tmp_path / "full.params"), str(tmp_path / "dedup.params")
    net.save_parameters(full)
    net.save_parameters(dedup, deduplicate=True)
    assert len(nd.load(full)) == 4 and len(nd.load(dedup)) == 2
    other = nn.Sequential()
    o_shared = nn.Dense(2, in_units=2)
    other.add(o_shared, nn.Dense(2, in_units=2, params=o_shared.params))
    other.load_parameters(dedup)  # every shared parameter is found under one of its names
    np.testing.assert_array_equal(other[1].weight.data().asnumpy(), net[0].weight.data().asnumpy())


def test_load_parameters_cast_dtype_and_prefixed_files(tmp_path):
    m = _model_with_values()
    fname = str(tmp_path / "p.params")
    with pytest.warns(UserWarning, match="save_params is deprecated"):
        m.save_params(fname)
    assert "dense0_weight" in nd.load(fname)
    m2 = Model(prefix="model0_")
    m2.load_parameters(fname)  # prefixed names: loaded by name with the block's prefix restored
    np.testing.assert_array_equal(
        m2.dense1.weight.data().asnumpy(), m.dense1.weight.data().asnumpy()
    )
    half = str(tmp_path / "h.params")
    m.cast("float16")
    m.save_parameters(half)
    m3 = Model()
    with pytest.raises(AssertionError, match="dtype incompatible"):
        m3.load_parameters(half)
    m3.load_parameters(half, cast_dtype=True)
    assert m3.dense0.weight.data().dtype is np.float32
    m3.load_parameters(half, cast_dtype=True, dtype_source="saved")
    assert m3.dense0.weight.data().dtype is np.float16


# ---------------------------------------------------------------------- numpy mode
def test_numpy_mode_forward_and_text():
    from mxlite.numpy.multiarray import ndarray as np_ndarray

    mx.util.set_np()
    try:
        net = nn.Sequential()
        net.add(nn.Dense(8, activation="relu"), nn.Dense(1))
        assert "Parameter dense0_weight (shape=(8, -1), dtype=float32)" in repr(
            net.collect_params()
        )
        assert repr(net[0]) == "Dense(-1 -> 8, Activation(relu))"
        net.initialize()
        x = np_ndarray(nd.random.uniform(shape=(2, 4))._data)
        out = net(x)
        assert out.shape == (2, 1) and isinstance(out, np_ndarray)
        assert isinstance(net[0].weight.data(), np_ndarray)
        assert isinstance(net[0].weight.grad(), np_ndarray)
        assert net[1].weight.shape == (1, 8)
    finally:
        mx.util.reset_np()


def test_numpy_mode_save_load_parameters(tmp_path):
    from mxlite.numpy.multiarray import ndarray as np_ndarray

    legacy = nn.Dense(2, in_units=3)
    legacy.initialize()
    legacy_file = str(tmp_path / "legacy.params")
    legacy.save_parameters(legacy_file)
    mx.util.set_np()
    try:
        net = nn.Dense(2, in_units=3)
        net.initialize()
        np_file = str(tmp_path / "np.params")
        net.save_parameters(np_file)
        net.collect_params().save(str(tmp_path / "pd.params"))  # MXNet fails here; mxlite does not
        net.load_parameters(legacy_file)
        assert isinstance(net.weight.data(), np_ndarray)
        np.testing.assert_array_equal(net.weight.data().asnumpy(), legacy.weight.data().asnumpy())
    finally:
        mx.util.reset_np()
    legacy.load_parameters(np_file)


def test_hook_handle_attaches_once():
    from collections import OrderedDict

    from mxlite.gluon.utils import HookHandle

    hooks: OrderedDict = OrderedDict()
    handle = HookHandle()
    handle.attach(hooks, print)
    with pytest.raises(AssertionError, match="The same handle cannot be attached twice."):
        handle.attach(hooks, len)
    assert list(hooks.values()) == [print]
    handle.detach()
    handle.detach()  # detaching twice is harmless
    assert not hooks
