"""Random initializers: MXNet's formulas (by statistics), reproducible counter-based streams, init_many."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import init
from mxlite.initializer import InitDesc, init_many, replica_safe
from tests.conftest import GPU_SKIP_REASON, HAS_GPU


def _fresh(shape: tuple[int, ...], ctx: mx.Context | None = None, dtype: str = "float32") -> Any:
    if 0 in shape:  # legacy shape semantics cannot create empty arrays; wrap one directly
        return mx.nd.NDArray(np.zeros(shape, dtype=dtype), ctx or mx.cpu())
    return mx.nd.zeros(shape, ctx=ctx, dtype=dtype)


def _draw(
    initializer: Any,
    name: str,
    shape: tuple[int, ...],
    ctx: mx.Context | None = None,
    dtype: str = "float32",
) -> np.ndarray:
    a = _fresh(shape, ctx, dtype)
    initializer(InitDesc(name), a)
    return a.asnumpy()


@pytest.fixture(autouse=True)
def _seeded() -> None:
    mx.random.seed(1234)


# ------------------------------------------------------------------------------ formulas
def test_uniform_bounds_and_moments(ctx: mx.Context) -> None:
    v = _draw(init.Uniform(0.3), "u_weight", (400, 250), ctx)
    assert v.dtype == np.float32
    assert v.min() >= np.float32(-0.3) and v.max() <= np.float32(0.3)
    assert v.min() < -0.299 and v.max() > 0.299
    assert abs(v.mean()) < 0.003
    assert v.std() == pytest.approx(0.3 / math.sqrt(3), rel=0.01)


def test_uniform_default_scale_is_0_07() -> None:
    v = _draw(init.Uniform(), "u_weight", (100, 100))
    assert v.max() <= np.float32(0.07) and v.max() > 0.0699 and v.min() < -0.0699


def test_normal_moments(ctx: mx.Context) -> None:
    v = _draw(init.Normal(0.5), "n_weight", (500, 200), ctx)
    assert abs(v.mean()) < 0.005
    assert v.std() == pytest.approx(0.5, rel=0.01)
    assert np.mean(np.abs(v) < 0.5) == pytest.approx(0.6827, abs=0.01)


def _fans(shape: tuple[int, ...]) -> tuple[float, float]:
    rf = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
    return shape[1] * rf, shape[0] * rf


@pytest.mark.parametrize("factor_type", ["avg", "in", "out"])
@pytest.mark.parametrize("rnd_type", ["uniform", "gaussian"])
@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
def test_xavier_every_rnd_and_factor_type(
    rnd_type: str, factor_type: str, shape: tuple[int, ...]
) -> None:
    magnitude = 2.5
    v = _draw(init.Xavier(rnd_type, factor_type, magnitude), "x_weight", shape)
    fan_in, fan_out = _fans(shape)
    n = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[factor_type]
    scale = math.sqrt(magnitude / n)
    if rnd_type == "uniform":
        assert v.max() <= np.float32(scale) and v.min() >= np.float32(-scale)
        assert v.max() > 0.995 * scale and v.min() < -0.995 * scale
        assert v.std() == pytest.approx(scale / math.sqrt(3), rel=0.02)
    else:
        assert v.std() == pytest.approx(scale, rel=0.02)
        assert np.abs(v).max() > 3 * scale  # a normal, not a bounded, distribution


@pytest.mark.parametrize("factor_type", ["avg", "in", "out"])
def test_msraprelu_std(factor_type: str) -> None:
    slope = 0.1
    shape = (128, 64, 3, 3)
    v = _draw(init.MSRAPrelu(factor_type, slope), "m_weight", shape)
    fan_in, fan_out = _fans(shape)
    n = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[factor_type]
    assert v.std() == pytest.approx(math.sqrt(2.0 / (1 + slope**2) / n), rel=0.02)


def test_shared_fan_and_scale_helpers() -> None:
    assert init.compute_fans((8, 4, 3, 3)) == (36.0, 72.0)
    assert init.variance_scale(3.0, "avg", 36.0, 72.0) == math.sqrt(3.0 / 54.0)
    assert init.variance_scale(2.0, "in", 36.0, 72.0) == math.sqrt(2.0 / 36.0)
    with pytest.raises(ValueError, match="Incorrect factor type"):
        init.variance_scale(2.0, "fan", 1.0, 1.0)


@pytest.mark.parametrize("rand_type", ["uniform", "normal"])
@pytest.mark.parametrize("shape", [(20, 30), (30, 20), (6, 2, 2, 2), (16, 16)])
def test_orthogonal_is_scaled_orthogonal(
    ctx: mx.Context, rand_type: str, shape: tuple[int, ...]
) -> None:
    scale = 1.5
    v = (
        _draw(init.Orthogonal(scale, rand_type), "o_weight", shape, ctx)
        .reshape(shape[0], -1)
        .astype(np.float64)
    )
    rows, cols = v.shape
    gram = v @ v.T if rows <= cols else v.T @ v
    np.testing.assert_allclose(gram, scale**2 * np.eye(min(rows, cols)), atol=1e-4)


def test_orthogonal_default_scale() -> None:
    v = _draw(init.Orthogonal(), "o_weight", (10, 10)).astype(np.float64)
    np.testing.assert_allclose(v @ v.T, 1.414**2 * np.eye(10), atol=1e-4)


@pytest.mark.parametrize("dtype", ["float16", "float64", "bfloat16"])
def test_random_fills_in_other_float_dtypes(dtype: str) -> None:
    a = _fresh((200, 100), dtype=dtype)
    init.Uniform(0.5)(InitDesc("d_weight"), a)
    v = a.asnumpy().astype(np.float64)
    assert str(a.asnumpy().dtype) == dtype
    assert (
        v.min() >= -0.5
        and v.max() <= 0.5
        and v.std() == pytest.approx(0.5 / math.sqrt(3), rel=0.03)
    )
    b = _fresh((200, 100), dtype=dtype)
    init.Xavier("gaussian")(InitDesc("d_weight"), b)
    assert b.asnumpy().astype(np.float64).std() == pytest.approx(math.sqrt(3.0 / 150.0), rel=0.03)


def test_random_initializers_leave_numpy_rng_alone() -> None:
    np.random.seed(7)
    state = np.random.get_state()[1].copy()
    for ini in (init.Uniform(), init.Normal(), init.Xavier(), init.MSRAPrelu(), init.Orthogonal()):
        _draw(ini, "w_weight", (8, 8))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_view_is_filled_in_place_with_the_same_values() -> None:
    whole = _fresh((6, 8))
    view = mx.nd.NDArray(whole._data[:, 1::2])
    mx.random.seed(4)
    init.Uniform(1.0)(InitDesc("v_weight"), view)
    assert np.all(whole.asnumpy()[:, 0::2] == 0)
    mx.random.seed(4)
    np.testing.assert_array_equal(
        whole.asnumpy()[:, 1::2], _draw(init.Uniform(1.0), "v_weight", (6, 4))
    )


# ------------------------------------------------------------------------------ reproducibility
_RANDOM_INITS = [
    init.Uniform(0.2),
    init.Normal(0.3),
    init.Xavier(),
    init.Xavier("gaussian", "in", 2),
    init.MSRAPrelu(),
    init.Orthogonal(),
]


@pytest.mark.parametrize("ini", _RANDOM_INITS, ids=lambda i: i.dumps())
def test_same_seed_name_shape_gives_the_same_bits(ini: Any) -> None:
    mx.random.seed(99)
    first = _draw(ini, "dense0_weight", (12, 7))
    _draw(ini, "dense1_weight", (12, 7))  # other draws in between do not matter
    mx.nd.random.uniform(shape=(5,))
    mx.random.seed(99)
    again = _draw(ini, "dense0_weight", (12, 7))
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("ini", _RANDOM_INITS, ids=lambda i: i.dumps())
def test_name_seed_shape_and_initializer_change_the_values(ini: Any) -> None:
    mx.random.seed(5)
    base = _draw(ini, "dense0_weight", (12, 7))
    assert not np.array_equal(base, _draw(ini, "dense9_weight", (12, 7)))
    assert not np.array_equal(base.ravel()[:70], _draw(ini, "dense0_weight", (7, 12)).ravel()[:70])
    mx.random.seed(6)
    assert not np.array_equal(base, _draw(ini, "dense0_weight", (12, 7)))


@pytest.mark.parametrize("ini", _RANDOM_INITS, ids=lambda i: i.dumps())
def test_initializing_a_name_again_draws_fresh_values_and_a_seed_repeats_them(ini: Any) -> None:
    """As in MXNet, a second initialization of the same name gives new values; the k-th
    initialization of a name since a seed is reproducible whatever happened in between."""
    mx.random.seed(21)
    first = _draw(ini, "r_weight", (8, 6))
    second = _draw(ini, "r_weight", (8, 6))
    assert not np.array_equal(first, second)
    mx.random.seed(21)
    _draw(ini, "other_weight", (8, 6))  # other names in between do not matter
    np.testing.assert_array_equal(_draw(ini, "r_weight", (8, 6)), first)
    np.testing.assert_array_equal(_draw(ini, "r_weight", (8, 6)), second)


def test_initialization_order_does_not_matter() -> None:
    mx.random.seed(3)
    a1 = _draw(init.Uniform(), "a_weight", (5, 5))
    b1 = _draw(init.Normal(), "b_weight", (5, 5))
    mx.random.seed(3)
    b2 = _draw(init.Normal(), "b_weight", (5, 5))
    a2 = _draw(init.Uniform(), "a_weight", (5, 5))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)


@pytest.mark.parametrize("ini", _RANDOM_INITS[:5], ids=lambda i: i.dumps())
def test_every_cpu_context_gets_the_same_bits(ini: Any) -> None:
    mx.random.seed(12)
    on_cpu0 = _draw(ini, "p_weight", (9, 11), mx.cpu(0))
    mx.random.seed(12)
    np.testing.assert_array_equal(on_cpu0, _draw(ini, "p_weight", (9, 11), mx.cpu(1)))


def test_unnamed_desc_draws_ad_hoc() -> None:
    def adhoc() -> np.ndarray:
        a = _fresh((4, 4))
        init.Uniform()._init_weight(InitDesc(""), a)  # an empty name cannot dispatch by suffix
        return a.asnumpy()

    mx.random.seed(8)
    first, second = adhoc(), adhoc()
    assert not np.array_equal(first, second)
    mx.random.seed(8)
    np.testing.assert_array_equal(adhoc(), first)


def test_attr_override_draws_from_the_named_stream() -> None:
    a = _fresh((6, 6))
    mx.random.seed(13)
    init.Zero()(InitDesc("q_bias", {"__init__": init.Xavier().dumps()}), a)
    b = _fresh((6, 6))
    mx.random.seed(13)
    init.Xavier()._init_weight(InitDesc("q_bias"), b)
    np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


# ------------------------------------------------------------------------------ init_many
class _UserInit(init.Initializer):
    """A user subclass drawing from the global ad-hoc counter."""

    def _init_weight(self, name: Any, arr: Any) -> None:
        arr[:] = mx.nd.random.uniform(-1, 1, shape=arr.shape, ctx=arr.context)


class _UserUniform(init.Uniform):
    """A subclass overriding the built-in method: must be called, not batched."""

    def _init_weight(self, name: Any, arr: Any) -> None:
        super()._init_weight(name, arr)
        arr[:] = arr * 2


def _workload() -> tuple[list[Any], list[tuple[int, ...]], list[str]]:
    attrs: list[Any] = [
        None,
        None,
        init.Normal(2.0),
        "zeros",
        init.Xavier("gaussian", "out"),
        init.MSRAPrelu(),
        init.Constant(4.5),
        _UserInit(),
        init.Orthogonal(),
        init.Bilinear(),
        None,
        _UserUniform(0.5),
        init.LSTMBias(),
        init.One(),
        init.Uniform(1.0),
    ]
    shapes = [
        (8, 5),
        (8,),
        (6, 3),
        (6,),
        (4, 4, 3, 3),
        (10, 7),
        (3, 3),
        (5, 5),
        (6, 6),
        (1, 1, 4, 4),
        (4,),
        (7, 2),
        (8,),
        (3, 2),
        (0, 4),
    ]
    names = [
        "d0_weight",
        "d0_bias",
        "d1_weight",
        "d1_bias",
        "c0_weight",
        "c1_weight",
        "k_weight",
        "u_weight",
        "o_weight",
        "up_weight",
        "bn_gamma",
        "uu_weight",
        "lstm_bias",
        "one_weight",
        "empty_weight",
    ]
    return attrs, shapes, names


def _descs(attrs: list[Any], names: list[str]) -> list[Any]:
    return [InitDesc(n, {"__init__": a} if a is not None else {}) for n, a in zip(names, attrs)]


@pytest.mark.parametrize(
    "default", [init.Uniform(), init.Xavier(), init.Normal(0.1)], ids=lambda i: i.dumps()
)
def test_init_many_is_bitwise_the_per_array_loop(default: Any) -> None:
    attrs, shapes, names = _workload()
    ctxs = [mx.cpu(0), mx.cpu(1)]
    loop = []
    mx.random.seed(11)
    for i, (desc, shape) in enumerate(zip(_descs(attrs, names), shapes)):
        a = _fresh(shape, ctxs[i % 2])
        default(desc, a)
        loop.append(a.asnumpy())
    mx.random.seed(11)
    arrays = [_fresh(shape, ctxs[i % 2]) for i, shape in enumerate(shapes)]
    init_many(default, _descs(attrs, names), arrays)
    for name, got, want in zip(names, arrays, loop):
        np.testing.assert_array_equal(got.asnumpy(), want, err_msg=name)
    assert np.all(arrays[1].asnumpy() == 0) and np.all(arrays[10].asnumpy() == 1)


def test_init_many_uses_one_multi_tensor_launch_per_context_and_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mxlite import ops

    calls: list[tuple[str, int]] = []
    for kind in ("uniform", "normal", "constant"):
        real = getattr(ops, f"multi_fill_{kind}")

        def spy(arrs: Any, *args: Any, _real: Any = real, _kind: str = kind) -> None:
            calls.append((_kind, len(arrs)))
            _real(arrs, *args)

        monkeypatch.setattr(ops, f"multi_fill_{kind}", spy)
    names = [f"l{i}_weight" for i in range(6)] + [f"l{i}_bias" for i in range(6)]
    arrays = [_fresh((4, 3)) for _ in range(6)] + [_fresh((4,)) for _ in range(6)]
    init_many(init.Uniform(), [InitDesc(n) for n in names], arrays)
    assert sorted(calls) == [("constant", 6), ("uniform", 6)]


def test_init_many_length_mismatch_writes_nothing() -> None:
    a = mx.nd.ones((2, 2))
    with pytest.raises(ValueError, match="one descriptor per array"):
        init_many(init.Zero(), [InitDesc("a_weight"), InitDesc("b_weight")], [a])
    np.testing.assert_array_equal(a.asnumpy(), np.ones((2, 2)))


def test_init_many_error_keeps_earlier_arrays_like_the_loop() -> None:
    arrays = [_fresh((3, 3)), mx.nd.full((3,), 7.0), mx.nd.full((3, 3), 7.0)]
    descs = [InitDesc("a_weight"), InitDesc("b_weight"), InitDesc("c_weight")]
    with pytest.raises(ValueError, match="requires at least 2D"):
        init_many(init.Xavier(), descs, arrays)
    assert np.any(arrays[0].asnumpy() != 0)  # filled before the failure, as a loop would
    np.testing.assert_array_equal(arrays[1].asnumpy(), np.full((3,), 7.0))
    np.testing.assert_array_equal(arrays[2].asnumpy(), np.full((3, 3), 7.0))


def test_init_many_sets_global_init_and_accepts_names() -> None:
    d = InitDesc("w_weight")
    a = _fresh((2, 2))
    init_many("ones", [d], [a])
    assert isinstance(d.global_init, init.One) and np.all(a.asnumpy() == 1)


def test_replica_safe() -> None:
    assert replica_safe(init.Uniform(), InitDesc("w_weight"), None)
    assert replica_safe(init.Uniform(), InitDesc("w_bias"), None)
    assert replica_safe(init.Zero(), InitDesc("w", {"__init__": "xavier"}), None)
    assert not replica_safe(init.Uniform(), InitDesc(""), None)
    assert not replica_safe(init.Orthogonal(), InitDesc("w_weight"), None)
    assert not replica_safe(_UserUniform(), InitDesc("w_weight"), None)
    assert not replica_safe(init.Mixed([".*"], [init.One()]), InitDesc("w_weight"), None)
    d = InitDesc("w_weight")
    replica_safe(init.One(), d, None)
    assert d.global_init is None  # no side effects


# ------------------------------------------------------------------------------ GPU
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason=GPU_SKIP_REASON)
def test_gpu_uniform_is_bit_identical_and_normal_within_2_ulps() -> None:
    for ini in (init.Uniform(0.3), init.Xavier(), init.Constant(0.25)):
        mx.random.seed(53)
        g = _draw(ini, "g_weight", (33, 17), mx.gpu(0))
        mx.random.seed(53)
        np.testing.assert_array_equal(g, _draw(ini, "g_weight", (33, 17), mx.cpu(0)))
    for ini in (init.Normal(0.3), init.MSRAPrelu(), init.Xavier("gaussian")):
        mx.random.seed(54)
        g = _draw(ini, "g_weight", (33, 17), mx.gpu(0))
        mx.random.seed(54)
        c = _draw(ini, "g_weight", (33, 17), mx.cpu(0))
        np.testing.assert_array_max_ulp(g, c, maxulp=2)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason=GPU_SKIP_REASON)
def test_gpu_init_many_matches_cpu_loop() -> None:
    attrs, shapes, names = _workload()
    keep = [i for i, a in enumerate(attrs) if not isinstance(a, (_UserInit, init.Orthogonal))]
    descs = [d for i, d in enumerate(_descs(attrs, names)) if i in keep]
    shapes = [s for i, s in enumerate(shapes) if i in keep]
    gpu_arrays = [_fresh(s, mx.gpu(0)) for s in shapes]
    mx.random.seed(55)
    init_many(init.Uniform(), descs, gpu_arrays)
    mx.random.seed(55)  # the CPU loop draws the same (first) stream of every name
    for desc, shape, got in zip(descs, shapes, gpu_arrays):
        want = _fresh(shape, mx.cpu(0))
        init.Uniform()(InitDesc(str(desc), desc.attrs), want)
        np.testing.assert_array_max_ulp(got.asnumpy(), want.asnumpy(), maxulp=2)
    assert gpu_arrays[0].context == mx.gpu(0)
