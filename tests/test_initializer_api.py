"""Initializer API beyond the differential scenario: mxlite's extensions, bad input, device handling."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import mxlite as mx
from mxlite import init
from mxlite.base import CheckError, MXNetError
from mxlite.initializer import InitDesc, InitShapeError


def _zeros(
    shape: tuple[int, ...], ctx: mx.Context | None = None, dtype: str = "float32"
) -> mx.nd.NDArray:
    return mx.nd.zeros(shape, ctx=ctx, dtype=dtype)


def test_mx_init_and_mx_initializer_are_one_module() -> None:
    assert mx.init is mx.initializer
    assert mx.init.Xavier is init.Xavier


def test_default_arguments_match_mxnet() -> None:
    assert init.Uniform().scale == 0.07
    assert init.Normal().sigma == 0.01
    o = init.Orthogonal()
    assert (o.scale, o.rand_type) == (1.414, "uniform")
    x = init.Xavier()
    assert (x.rnd_type, x.factor_type, x.magnitude) == ("uniform", "avg", 3.0)
    m = init.MSRAPrelu()
    assert (m.rnd_type, m.factor_type, m.magnitude) == ("gaussian", "avg", 2.0 / 1.0625)
    assert init.LSTMBias().forget_bias == 1.0
    f = init.FusedRNN(None, 4, 1, "lstm")
    assert (f._bidirectional, f._forget_bias) == (False, 1.0)


def test_dumps_round_trips_through_create() -> None:
    for original in [
        init.Uniform(0.2),
        init.Normal(3),
        init.Xavier("gaussian", "in", 2.5),
        init.MSRAPrelu("out", 0.1),
        init.Orthogonal(0.5, "normal"),
        init.Constant(4.5),
        init.LSTMBias(0.3),
        init.Zero(),
        init.Bilinear(),
    ]:
        again = init.create(original.dumps())
        assert type(again) is type(original)
        assert again.dumps() == original.dumps()
        assert again == original


def test_fused_rnn_accepts_an_init_dumps_string() -> None:
    # MXNet 1.9.1 raises KeyError here (its registry is keyed by class); mxlite resolves the name.
    f = init.FusedRNN('["normal", {"sigma": 0.1}]', 3, 1, "rnn_tanh")
    assert isinstance(f._init, init.Normal) and f._init.sigma == 0.1
    assert json.loads(f.dumps())[1]["init"] == '["normal", {"sigma": 0.1}]'


def test_create_accepts_a_class_and_load_mixed_instances() -> None:
    x = init.create(init.Xavier, magnitude=2)
    assert isinstance(x, init.Xavier) and x.magnitude == 2.0
    mixed = init.Mixed([".*"], [init.One()])
    assert init.create(mixed) is mixed
    load = init.Load({"a": _zeros((1,))})
    assert init.create(load) is load


def test_create_without_initializer_raises_type_error() -> None:
    with pytest.raises(TypeError, match="needs an initializer"):
        init.create()


def test_create_json_with_extra_arguments_is_rejected() -> None:
    with pytest.raises(AssertionError, match="no extra arguments"):
        init.create('["uniform", {}]', 3)


def test_register_rejects_non_initializers_and_warns_on_override() -> None:
    with pytest.raises(CheckError, match="Can only register subclass of Initializer"):
        init.register(dict)

    class Dup1(init.Initializer):
        pass

    class Dup2(init.Initializer):
        pass

    try:
        init.alias("dup_test_name")(Dup1)
        with pytest.warns(UserWarning, match="is.*overriding existing initializer"):
            init.alias("dup_test_name")(Dup2)
        assert isinstance(init.create("DUP_TEST_NAME"), Dup2)
    finally:
        from mxlite.initializers import base

        base._REGISTRY.pop("dup_test_name", None)


def test_initdesc_is_a_picklable_str() -> None:
    import pickle

    d = InitDesc("w_weight", {"k": "v"}, init.One())
    e = pickle.loads(pickle.dumps(d))
    assert e == "w_weight" and e.attrs == {"k": "v"} and isinstance(e.global_init, init.One)


def test_initializers_are_unhashable_like_mxnet() -> None:
    with pytest.raises(TypeError):
        hash(init.Uniform())


def test_constant_array_value_is_copied_across_contexts(ctx: mx.Context) -> None:
    value = mx.nd.array([1.0, 2.0, 3.0])  # lives on cpu(0)
    a = _zeros((2, 3), ctx)
    init.Constant(value)(InitDesc("w_weight"), a)
    np.testing.assert_array_equal(a.asnumpy(), [[1, 2, 3], [1, 2, 3]])
    assert a.context == ctx


def test_constant_bad_shape_changes_nothing() -> None:
    a = mx.nd.ones((2, 3))
    with pytest.raises(ValueError, match="could not be broadcast"):
        init.Constant([1.0, 2.0])(InitDesc("w_weight"), a)
    np.testing.assert_array_equal(a.asnumpy(), np.ones((2, 3)))


def test_constant_dumps_numpy_scalars_and_lists() -> None:
    # MXNet raises TypeError/AttributeError for these; mxlite writes plain JSON.
    assert init.Constant(np.float32(2.5)).dumps() == '["constant", {"value": 2.5}]'
    assert init.Constant([1, 2]).dumps() == '["constant", {"value": [1, 2]}]'
    assert init.Constant(mx.nd.array([1, 2])) == init.Constant([1.0, 2.0])


@pytest.mark.parametrize(
    ("make", "shape", "exc", "fragment"),
    [
        (lambda: init.Xavier(), (4,), ValueError, "requires at least 2D"),
        (lambda: init.MSRAPrelu(), (4,), ValueError, "requires at least 2D"),
        (lambda: init.Xavier(factor_type="sum"), (4, 4), ValueError, "Incorrect factor type"),
        (lambda: init.Xavier(rnd_type="beta"), (4, 4), ValueError, "Unknown random type"),
        (lambda: init.Orthogonal(), (4,), MXNetError, "at least 2-D"),
        (lambda: init.Orthogonal(rand_type="beta"), (4, 4), ValueError, "Unknown rand_type"),
        (lambda: init.Bilinear(), (4, 4), IndexError, "4-D"),
        (lambda: init.Uniform(), (4, 4), MXNetError, "Output type must be float16"),
        (lambda: init.Initializer(), (4, 4), NotImplementedError, "Must override it"),
    ],
)
def test_bad_input_raises_and_leaves_the_array_alone(make, shape, exc, fragment) -> None:  # type: ignore[no-untyped-def]
    dtype = "int32" if fragment.startswith("Output type") else "float32"
    a = mx.nd.full(shape, 7, dtype=dtype)
    with pytest.raises(exc, match=fragment):
        make()(InitDesc("w_weight"), a)
    np.testing.assert_array_equal(a.asnumpy(), np.full(shape, 7))


def test_init_shape_error_is_value_and_index_error() -> None:
    assert issubclass(InitShapeError, ValueError) and issubclass(InitShapeError, IndexError)
    assert issubclass(InitShapeError, MXNetError)


def test_fused_rnn_unknown_mode_and_bad_size() -> None:
    a = mx.nd.full((10,), 3.0)
    with pytest.raises(ValueError, match="Unknown FusedRNN mode 'lstmx'"):
        init.FusedRNN(init.One(), 2, 1, "lstmx")(InitDesc("p_weight"), a)
    with pytest.raises(AssertionError, match="Invalid parameters size"):
        init.FusedRNN(init.One(), 2, 1, "lstm")(InitDesc("p_weight"), a)
    np.testing.assert_array_equal(a.asnumpy(), np.full((10,), 3.0))


def test_fused_rnn_layout_matches_mxnet_names() -> None:
    layout = init.fused_rnn_layout((3 + 2 + 2) * 2 * 3 * 2, 2, 1, "gru", True)
    names = [name for name, _, _ in layout]
    assert names[:6] == [
        "l0_i2h_r_weight",
        "l0_i2h_z_weight",
        "l0_i2h_o_weight",
        "l0_h2h_r_weight",
        "l0_h2h_z_weight",
        "l0_h2h_o_weight",
    ]
    assert names[6] == "r0_i2h_r_weight" and names[-1] == "r0_h2h_o_bias"
    assert layout[0][2] == (2, 3) and layout[3][2] == (2, 2)


def test_fused_rnn_forget_bias_on_a_gpu_or_cpu_context(ctx: mx.Context) -> None:
    n = (3 + 2 + 2) * 2 * 4
    a = _zeros((n,), ctx)
    init.Zero()(
        InitDesc(
            "lstm_parameters", {"__init__": init.FusedRNN(init.One(), 2, 1, "lstm", False, 2.5)}
        ),
        a,
    )
    got = a.asnumpy()
    assert got[:40].tolist() == [1.0] * 40  # 4 gates x (2x3 i2h + 2x2 h2h)
    assert got[40:].tolist() == [0, 0, 2.5, 2.5, 0, 0, 0, 0, 0, 0, 2.5, 2.5, 0, 0, 0, 0]


def test_bilinear_and_lstmbias_on_every_context(ctx: mx.Context) -> None:
    a = _zeros((1, 1, 4, 4), ctx)
    init.Bilinear()(InitDesc("up_weight"), a)
    row = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(a.asnumpy()[0, 0], np.outer(row, row), rtol=0, atol=0)
    b = _zeros((8,), ctx)
    init.LSTMBias(0.5)(InitDesc("c_weight"), b)
    assert b.asnumpy().tolist() == [0, 0, 0.5, 0.5, 0, 0, 0, 0]


def test_writes_through_a_non_contiguous_view() -> None:
    base = mx.nd.zeros((4, 6))
    view = mx.nd.NDArray(base._data[:, ::2])
    init.Constant(3.0)(InitDesc("v_weight"), view)
    init.Bilinear()  # unrelated construction must not touch anything
    expected = np.zeros((4, 6))
    expected[:, ::2] = 3.0
    np.testing.assert_array_equal(base.asnumpy(), expected)


def test_verbose_uses_logging_info(caplog: pytest.LogCaptureFixture) -> None:
    c = init.One().set_verbosity(True)
    with caplog.at_level(logging.INFO):
        c(InitDesc("fc_weight"), _zeros((2, 2)))
        c(InitDesc("fc_bias"), _zeros((2,)))
    assert [r.getMessage() for r in caplog.records] == [
        "Initialized fc_weight as weight: 1.0",
        "Initialized fc_bias as bias: 0.0",
    ]


def test_user_subclass_from_the_tutorial(capsys: pytest.CaptureFixture[str]) -> None:
    class MyInit(init.Initializer):
        def _init_weight(self, name, data):  # type: ignore[no-untyped-def]
            print("Init", name, data.shape)
            data[:] = mx.nd.random.uniform(low=-10, high=10, shape=data.shape)
            data *= data.abs() >= 5

    class PrintInit(init.Initializer):
        def _init_weight(self, name, data):  # type: ignore[no-untyped-def]
            print("Init", name, data.shape)

    a = _zeros((8, 4))
    MyInit()(InitDesc("dense0_weight"), a)
    PrintInit()(InitDesc("dense1_weight"), _zeros((1, 8)))
    assert capsys.readouterr().out == "Init dense0_weight (8, 4)\nInit dense1_weight (1, 8)\n"
    v = a.asnumpy()
    assert np.all((v == 0) | ((np.abs(v) >= 5) & (np.abs(v) <= 10)))
    assert np.any(v != 0)


@pytest.mark.oracle
def test_load_reads_a_params_file_written_by_mxnet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.oracle import run_oracle

    run_oracle(
        "mx.nd.save('p.params', {'arg:fc_weight': mx.nd.array([[1, 2], [3, 4]]),"
        " 'aux:bn_moving_mean': mx.nd.array([5, 6])})",
        cwd=tmp_path,
    )
    ld = init.Load(str(tmp_path / "p.params"), default_init=init.Constant(9))
    assert sorted(ld.param) == ["bn_moving_mean", "fc_weight"]
    w = _zeros((2, 2))
    ld(InitDesc("fc_weight"), w)
    m = _zeros((2,))
    ld(InitDesc("bn_moving_mean"), m)
    other = _zeros((3,))
    ld(InitDesc("fc_bias"), other)
    assert w.asnumpy().tolist() == [[1, 2], [3, 4]]
    assert m.asnumpy().tolist() == [5, 6]
    assert other.asnumpy().tolist() == [0, 0, 0]  # Constant(9) only sets weights; bias -> 0


def test_load_through_create_and_on_another_context(ctx: mx.Context) -> None:
    ld = init.Load({"arg:w_weight": mx.nd.array([1.0, 2.0])})
    a = _zeros((2,), ctx)
    init.create(ld)(InitDesc("w_weight"), a)
    assert a.asnumpy().tolist() == [1.0, 2.0] and a.context == ctx


def test_fused_rnn_pieces_draw_from_their_own_streams() -> None:
    mx.random.seed(21)
    n = (3 + 2 + 2) * 2 * 4
    fused = init.FusedRNN(init.Uniform(1.0), 2, 1, "lstm")
    a = _zeros((n,))
    init.Zero()(InitDesc("lstm0_parameters", {"__init__": fused}), a)
    again = _zeros((n,))
    init.Zero()(InitDesc("lstm0_parameters", {"__init__": fused}), again)
    assert not np.array_equal(a.asnumpy()[:40], again.asnumpy()[:40])  # a second draw: new values
    mx.random.seed(21)
    b = _zeros((n,))
    init.Zero()(InitDesc("lstm0_parameters", {"__init__": fused}), b)
    c = _zeros((n,))
    init.Zero()(InitDesc("lstm1_parameters", {"__init__": fused}), c)
    np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())  # reproducible from the seed
    assert not np.array_equal(a.asnumpy()[:40], c.asnumpy()[:40])  # another parameter, other values
    w = a.asnumpy()[:40]
    assert len(np.unique(w)) == 40  # no two gate pieces share a stream
    assert a.asnumpy()[40:].tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]


def test_mixed_and_load_work_as_a_per_parameter_init() -> None:
    mixed = init.Mixed(["w_", ".*"], [init.One(), init.Constant(3)])
    a = _zeros((2,))
    init.Uniform()(InitDesc("w_weight", {"__init__": mixed}), a)
    b = _zeros((2,))
    init.Uniform()(InitDesc("v_weight", {"__init__": mixed}), b)
    assert a.asnumpy().tolist() == [1, 1] and b.asnumpy().tolist() == [3, 3]
