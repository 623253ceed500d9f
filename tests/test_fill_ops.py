"""Random and constant fills: Numba twins, CUDA source (host-emulated) and GPU against the NumPy reference.

Uniform draws and constants must match the reference bit for bit; normal draws to within 2 ulps of
the array's dtype. Outputs are poisoned with NaN first, so an element the kernels skip shows up.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mxlite import ops
from mxlite.base import DTYPE_NAME_TO_NP
from mxlite.ops import _cpu_primitives, _reference
from tests import cuda_host_emu

DTYPES = ["float16", "bfloat16", "float32", "float64"]
SHAPES = [(), (0,), (1,), (3,), (5, 7), (2, 3, 5), (4097,), (70001,)]
OFFSETS = [0, 1, 2, 3, 4, 2**33 + 1, 2**61 - 5]
KEY = (0x12345678, 0x9ABCDEF0)

needs_gxx = pytest.mark.skipif(
    not cuda_host_emu.available(), reason="g++ not on PATH: cannot emulate the CUDA source"
)


def _dt(name: str) -> np.dtype:
    return np.dtype(DTYPE_NAME_TO_NP.get(name, name))


def _poisoned(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    return np.full(shape, np.nan, dtype=_dt(dtype))


def _ref(
    kind: str, shape: tuple[int, ...], dtype: str, p0: float, p1: float, key=KEY, offset: int = 0
) -> np.ndarray:
    out = _poisoned(shape, dtype)
    (_reference.fill_uniform if kind == "uniform" else _reference.fill_normal)(
        out, p0, p1, key, offset
    )
    return out


def _bits(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr).view(f"u{arr.dtype.itemsize}")


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place between same-dtype float arrays (via ordered bit patterns)."""
    width = 8 * a.dtype.itemsize
    sign = np.uint64(1) << np.uint64(width - 1)

    def ordered(x: np.ndarray) -> np.ndarray:
        u = _bits(x).astype(np.uint64)
        mag = (u & ~sign).astype(np.int64)
        return np.where(u & sign, -mag, mag)

    return np.abs(ordered(a) - ordered(b))


def _assert_close_ulps(a: np.ndarray, b: np.ndarray, max_ulps: int) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.size:
        worst = int(_ulps(a, b).max())
        assert worst <= max_ulps, f"{worst} ulps apart (allowed {max_ulps})"


def _assert_all_written(arr: np.ndarray) -> None:
    assert not np.isnan(arr.astype(np.float64)).any(), "some elements were not written"


# ------------------------------------------------------------------------ Numba twin == reference
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_uniform_twin_bitwise(dtype, shape):
    for offset in (0, 3, 2**33 + 1):
        out = _poisoned(shape, dtype)
        assert ops.fill_uniform(out, -0.07, 0.07, KEY, offset) is out
        _assert_all_written(out)
        np.testing.assert_array_equal(
            _bits(out), _bits(_ref("uniform", shape, dtype, -0.07, 0.07, offset=offset))
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_normal_twin_within_2_ulps(dtype, shape):
    for offset in (0, 1, 2**33 + 2):
        out = _poisoned(shape, dtype)
        ops.fill_normal(out, 0.25, 1.5, KEY, offset)
        _assert_all_written(out)
        ref = _ref("normal", shape, dtype, 0.25, 1.5, offset=offset)
        if dtype == "float64":
            np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-14)
        else:
            _assert_close_ulps(out, ref, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset", OFFSETS)
def test_offsets_twin_bitwise(dtype, offset):
    out = _poisoned((37,), dtype)
    ops.fill_uniform(out, 1.0, 2.5, (7, 11), offset)
    np.testing.assert_array_equal(
        _bits(out), _bits(_ref("uniform", (37,), dtype, 1.0, 2.5, (7, 11), offset))
    )


def test_random_shapes_offsets_and_keys():
    rng = np.random.default_rng(123)
    for _ in range(40):
        dtype = DTYPES[int(rng.integers(len(DTYPES)))]
        shape = tuple(int(d) for d in rng.integers(1, 9, size=int(rng.integers(0, 4))))
        key = (int(rng.integers(2**32)), int(rng.integers(2**32)))
        offset = int(rng.integers(0, 2**40))
        low, high = sorted(float(x) for x in rng.normal(size=2) * 10)
        out = _poisoned(shape, dtype)
        ops.fill_uniform(out, low, high, key, offset)
        np.testing.assert_array_equal(
            _bits(out), _bits(_ref("uniform", shape, dtype, low, high, key, offset))
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_and_misaligned_views_write_only_their_elements(dtype):
    base = _poisoned((101, 3), dtype)
    view = base[:, 1]  # not contiguous
    ops.fill_uniform(view, 0.0, 1.0, KEY, 5)
    _assert_all_written(view)
    assert (
        np.isnan(base[:, 0].astype(np.float64)).all()
        and np.isnan(base[:, 2].astype(np.float64)).all()
    )
    np.testing.assert_array_equal(
        _bits(view), _bits(_ref("uniform", (101,), dtype, 0.0, 1.0, offset=5))
    )
    buf = _poisoned((4098,), dtype)
    ops.fill_normal(buf[1:-1], 0.0, 1.0, KEY)  # starts one element past an aligned address
    assert np.isnan(buf[[0, -1]].astype(np.float64)).all()
    _assert_all_written(buf[1:-1])
    ref = _ref("normal", (4096,), dtype, 0.0, 1.0)
    if dtype == "float64":
        np.testing.assert_allclose(buf[1:-1], ref, rtol=1e-13, atol=1e-14)
    else:
        _assert_close_ulps(buf[1:-1], ref, 2)
    rev = _poisoned((50,), dtype)[::-1]
    ops.fill_uniform(rev, -1.0, 1.0, KEY)
    np.testing.assert_array_equal(_bits(rev), _bits(_ref("uniform", (50,), dtype, -1.0, 1.0)))


def test_large_fill_uses_parallel_path_and_matches():
    out = _poisoned((1 << 18,), "float32")
    ops.fill_uniform(out, -3.0, 3.0, KEY, 6)
    np.testing.assert_array_equal(out, _ref("uniform", out.shape, "float32", -3.0, 3.0, offset=6))
    out64 = _poisoned((1 << 17,), "float64")
    ops.fill_normal(out64, 0.0, 2.0, KEY, 2)
    np.testing.assert_allclose(
        out64, _ref("normal", out64.shape, "float64", 0.0, 2.0, offset=2), rtol=1e-13, atol=1e-14
    )


# ------------------------------------------------------------------------------ stream structure
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_value_depends_only_on_key_and_index(dtype, kind):
    fill = ops.fill_uniform if kind == "uniform" else ops.fill_normal
    whole = _poisoned((1000,), dtype)
    fill(whole, 0.0, 1.0, KEY, 0)
    for start, length in [(37, 101), (1, 3), (998, 2), (4, 400)]:
        part = _poisoned((length,), dtype)
        fill(part, 0.0, 1.0, KEY, start)
        np.testing.assert_array_equal(_bits(part), _bits(whole[start : start + length]))
    grid = _poisoned((10, 100), dtype)
    fill(grid, 0.0, 1.0, KEY, 0)
    np.testing.assert_array_equal(_bits(grid.reshape(-1)), _bits(whole))


def test_different_keys_give_independent_streams():
    draws = {}
    for key in [(0, 0), (1, 0), (0, 1), (2**32 - 1, 0), KEY, (KEY[1], KEY[0])]:
        out = np.empty(4096, np.float32)
        ops.fill_uniform(out, 0.0, 1.0, key)
        draws[key] = out
    keys = list(draws)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            same = np.mean(draws[a] == draws[b])
            assert same < 0.01, (a, b, same)
            assert abs(np.corrcoef(draws[a], draws[b])[0, 1]) < 0.06, (a, b)


def test_float64_uniform_uses_53_bits():
    out = np.empty(10000, np.float64)
    ops.fill_uniform(out, 0.0, 1.0, KEY)
    on_float32_grid = np.mean(out * 2.0**24 == np.floor(out * 2.0**24))
    assert on_float32_grid < 0.01
    as32 = np.empty(10000, np.float32)
    ops.fill_uniform(as32, 0.0, 1.0, KEY)
    # plane 0 supplies the high bits of float64 draws: they agree with float32 to 2**-24
    assert np.max(np.abs(out - as32.astype(np.float64))) < 2.0**-23


# ------------------------------------------------------------------------------------ statistics
def _ks_statistic(sorted_x: np.ndarray, cdf: np.ndarray) -> float:
    n = sorted_x.size
    upper = np.arange(1, n + 1) / n - cdf
    lower = cdf - np.arange(0, n) / n
    return float(max(upper.max(), lower.max()))


def test_uniform_statistics():
    n = 1 << 20
    out = np.empty(n, np.float32)
    ops.fill_uniform(out, -2.0, 3.0, (42, 4242))
    assert out.min() >= -2.0 and out.max() <= 3.0
    sd = 5.0 / math.sqrt(12.0)
    assert abs(out.mean() - 0.5) < 5 * sd / math.sqrt(n)
    assert abs(out.std() - sd) < 0.005 * sd
    x = np.sort(out.astype(np.float64))
    assert _ks_statistic(x, (x + 2.0) / 5.0) < 1.95 / math.sqrt(n)  # KS 0.1% critical value
    lanes = out[: n - n % 4].reshape(-1, 4)
    corr = np.corrcoef(lanes.T)
    assert np.max(np.abs(corr - np.eye(4))) < 0.01
    counts = np.bincount(((out + 2.0) / 5.0 * 100).astype(np.int64).clip(0, 99), minlength=100)
    chi2 = float(np.sum((counts - n / 100) ** 2 / (n / 100)))
    assert chi2 < 160  # 99 degrees of freedom: p < 1e-4 above this


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_statistics(dtype):
    n = 1 << 20
    out = np.empty(n, _dt(dtype))
    ops.fill_normal(out, 1.5, 2.0, (7, 77))
    assert abs(out.mean() - 1.5) < 5 * 2.0 / math.sqrt(n)
    assert abs(out.std() - 2.0) < 0.005 * 2.0
    z = (np.sort(out.astype(np.float64))[:: 1 << 4] - 1.5) / 2.0
    cdf = 0.5 * np.array([math.erfc(-v / math.sqrt(2.0)) for v in z])
    assert _ks_statistic(z, cdf) < 1.95 / math.sqrt(z.size)
    standardized = (out.astype(np.float64) - 1.5) / 2.0
    assert abs(np.mean(standardized**3)) < 0.02 and abs(np.mean(standardized**4) - 3.0) < 0.05
    assert 4.0 < np.abs(standardized).max() < 7.0
    pairs = standardized[: n - n % 2].reshape(-1, 2)  # Box-Muller's cos/sin partners
    assert abs(np.corrcoef(pairs.T)[0, 1]) < 0.01


def test_16bit_statistics_and_rounding():
    for dtype in ("float16", "bfloat16"):
        out = np.empty(1 << 16, _dt(dtype))
        ops.fill_uniform(out, 0.0, 1.0, KEY)
        f = out.astype(np.float32)
        assert 0.0 <= f.min() and f.max() <= 1.0 and abs(f.mean() - 0.5) < 0.01
        as32 = np.empty(1 << 16, np.float32)
        ops.fill_uniform(as32, 0.0, 1.0, KEY)
        np.testing.assert_array_equal(_bits(out), _bits(as32.astype(_dt(dtype))))


def test_half_conversions_match_numpy_and_ml_dtypes():
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2**32, size=1 << 20, dtype=np.uint64).astype(np.uint32)
    edge = np.array(
        [0, 0x80000000, 0x7F800000, 0xFF800000, 0x33000000, 0x33000001, 0x33800000, 0x387FE000, 0x387FF000,
         0x38800000, 0x38801000, 0x38803000, 0x477FE000, 0x477FEFFF, 0x477FF000, 0x47800000, 0x7F7FFFFF,
         0x00000001, 0x3F800000, 0x3F801000, 0x3F803000, 0x3F808000, 0x3F818000, 0x7F7F8000, 0x7F7F7FFF],
        dtype=np.uint32,
    )  # fmt: skip
    values = np.concatenate([bits, edge]).view(np.float32)
    values = values[~np.isnan(values)]
    for kind, dtype in ((0, np.dtype(np.float16)), (1, _dt("bfloat16"))):
        got = np.empty(values.size, np.uint16)
        _cpu_primitives.half_bits(values, kind, got)
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(got, values.astype(dtype).view(np.uint16))
    nan = np.array([np.nan, -np.nan], np.float32)
    for kind, dtype in ((0, np.dtype(np.float16)), (1, _dt("bfloat16"))):
        got = np.empty(2, np.uint16)
        _cpu_primitives.half_bits(nan, kind, got)
        assert np.isnan(got.view(dtype).astype(np.float32)).all()


# --------------------------------------------------------------------------------- multi-tensor
def _mixed_arrays() -> tuple[list[np.ndarray], list[int], list[tuple[int, int]]]:
    specs = [
        ("float32", (64, 64)), ("float32", (0,)), ("float64", (3,)), ("float16", (4097,)), ("bfloat16", (5, 7)),
        ("float32", (70001,)), ("float32", ()), ("float64", (9000,)), ("float32", (1,)), ("float16", (2,)),
    ]  # fmt: skip
    arrs = [_poisoned(shape, dtype) for dtype, shape in specs]
    arrs.append(_poisoned((40, 3), "float32")[:, 1])  # non-contiguous rides along
    offsets = [0, 0, 5, 2, 7, 2**35 + 3, 1, 0, 4, 9, 3]
    keys = [(i * 7919, 2**32 - 1 - i) for i in range(len(arrs))]
    return arrs, offsets, keys


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_multi_equals_per_tensor_bitwise(kind):
    arrs, offsets, keys = _mixed_arrays()
    p0s = [-0.1 * (i + 1) for i in range(len(arrs))]
    p1s = [0.2 * (i + 1) for i in range(len(arrs))]
    multi = ops.multi_fill_uniform if kind == "uniform" else ops.multi_fill_normal
    single = ops.fill_uniform if kind == "uniform" else ops.fill_normal
    assert multi(arrs, p0s, p1s, keys, offsets) is None
    for i, arr in enumerate(arrs):
        _assert_all_written(arr)
        one = _poisoned(arr.shape, arr.dtype.name)
        single(one, p0s[i], p1s[i], keys[i], offsets[i])
        np.testing.assert_array_equal(_bits(arr), _bits(one), err_msg=f"array {i}")
    regrouped, _, _ = _mixed_arrays()
    multi(regrouped[:4], p0s[:4], p1s[:4], keys[:4], offsets[:4])
    multi(regrouped[4:], p0s[4:], p1s[4:], keys[4:], offsets[4:])
    for a, b in zip(arrs, regrouped):
        np.testing.assert_array_equal(_bits(a), _bits(b))


def test_multi_offsets_default_to_zero_and_match_reference():
    arrs = [_poisoned((n,), "float32") for n in (5, 4096, 4099)]
    keys = [(1, 2), (3, 4), (5, 6)]
    ops.multi_fill_uniform(arrs, [0.0] * 3, [1.0] * 3, keys)
    for arr, key in zip(arrs, keys):
        np.testing.assert_array_equal(arr, _ref("uniform", arr.shape, "float32", 0.0, 1.0, key))


def test_multi_many_small_tensors():
    arrs = [_poisoned((64, 64), "float32") for _ in range(300)]
    keys = [(i, 99) for i in range(300)]
    ops.multi_fill_normal(arrs, [0.0] * 300, [0.02] * 300, keys)
    for arr, key in zip(arrs[::37], keys[::37]):
        _assert_close_ulps(arr, _ref("normal", arr.shape, "float32", 0.0, 0.02, key), 2)


# -------------------------------------------------------------------------------------- constant
@pytest.mark.parametrize(
    "dtype,value",
    [("float32", 0.0), ("float32", 1.0), ("float64", -2.5), ("float16", 0.1), ("bfloat16", 3.3), ("int8", -3),
     ("int64", 2**40), ("uint16", 7), ("bool", True), ("int32", 2.9)],
)  # fmt: skip
def test_fill_constant(dtype, value):
    out = np.zeros((3, 5), _dt(dtype))
    strided = np.zeros((10, 2), _dt(dtype))
    assert ops.fill_constant(out, value) is out
    ops.fill_constant(strided[:, 0], value)
    expected = np.array(value, dtype=_dt(dtype))
    np.testing.assert_array_equal(_bits(out), _bits(np.full((3, 5), expected)))
    np.testing.assert_array_equal(_bits(strided[:, 0]), _bits(np.full(10, expected)))
    assert not strided[:, 1].any()


def test_multi_fill_constant():
    arrs = [
        np.zeros(n, dt)
        for n, dt in [(3, np.float32), (0, np.float32), (100, np.float16), (7, np.int64)]
    ]
    values = [1.0, 2.0, -0.5, 9]
    ops.multi_fill_constant(arrs, values)
    for arr, value in zip(arrs, values):
        np.testing.assert_array_equal(arr, np.full(arr.shape, value, arr.dtype))


# ---------------------------------------------------------------------------------- bad arguments
def _unchanged(arr: np.ndarray, before: np.ndarray) -> None:
    np.testing.assert_array_equal(_bits(arr), _bits(before))


BAD_RANDOM = [
    ({"arr": np.zeros(4, np.int32)}, TypeError, "dtype int32"),
    ({"arr": [0.0, 1.0]}, TypeError, "expected a numpy.ndarray"),
    ({"key": (1,)}, ValueError, "key must be a pair"),
    ({"key": (-1, 0)}, ValueError, "key must be a pair"),
    ({"key": (2**32, 0)}, ValueError, "key must be a pair"),
    ({"key": (1.5, 2)}, ValueError, "key must be a pair"),
    ({"key": "ab"}, ValueError, "key must be a pair"),
    ({"offset": -1}, ValueError, "offset must be an integer >= 0"),
    ({"offset": 1.5}, ValueError, "offset must be an integer >= 0"),
    ({"offset": 2**62}, ValueError, "offset + size <= 2**62"),
    ({"p0": float("nan")}, ValueError, "must be a finite real number"),
    ({"p1": float("inf")}, ValueError, "must be a finite real number"),
    ({"p0": "0"}, TypeError, "must be a finite real number"),
    ({"p1": None}, TypeError, "must be a finite real number"),
]


@pytest.mark.parametrize("fill", [ops.fill_uniform, ops.fill_normal], ids=["uniform", "normal"])
@pytest.mark.parametrize("bad,exc,fragment", BAD_RANDOM)
def test_bad_random_arguments_raise_and_write_nothing(fill, bad, exc, fragment):
    args = {"arr": _poisoned((4,), "float32"), "p0": 0.0, "p1": 1.0, "key": KEY, "offset": 0}
    args.update(bad)
    arr = args["arr"]
    before = np.array(arr, copy=True)
    with pytest.raises(exc, match=fragment.replace("*", r"\*").replace("+", r"\+")) as info:
        fill(args["arr"], args["p0"], args["p1"], args["key"], args["offset"])
    assert fill.__name__ in str(info.value)
    _unchanged(np.asarray(arr), before)


def test_read_only_array_is_refused():
    arr = _poisoned((8,), "float32")
    arr.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.fill_uniform(arr, 0.0, 1.0, KEY)
    with pytest.raises(ValueError, match="read-only"):
        ops.fill_constant(arr, 1.0)
    assert np.isnan(arr).all()


def test_multi_checks_everything_before_writing():
    good = [_poisoned((5,), "float32"), _poisoned((6,), "float32")]
    with pytest.raises(ValueError, match="got 2 arrays but 1 lows"):
        ops.multi_fill_uniform(good, [0.0], [1.0, 1.0], [KEY, KEY])
    with pytest.raises(ValueError, match="got 2 arrays but 3 offsets"):
        ops.multi_fill_normal(good, [0.0, 0.0], [1.0, 1.0], [KEY, KEY], [0, 0, 0])
    bad_last = [*good, np.zeros(3, np.int32)]
    with pytest.raises(TypeError, match=r"multi_fill_uniform \(array 2\).*dtype int32"):
        ops.multi_fill_uniform(bad_last, [0.0] * 3, [1.0] * 3, [KEY] * 3)
    with pytest.raises(ValueError, match="key must be a pair"):
        ops.multi_fill_normal(good, [0.0, 0.0], [1.0, 1.0], [KEY, (1, 2, 3)])
    with pytest.raises(ValueError, match="offset"):
        ops.multi_fill_uniform(good, [0.0, 0.0], [1.0, 1.0], [KEY, KEY], [0, -4])
    for arr in good:
        assert np.isnan(arr).all()


@pytest.mark.parametrize(
    "dtype,value,exc,fragment",
    [
        ("float32", "a", TypeError, "value must be a real scalar"),
        ("float32", [1.0, 2.0], TypeError, "value must be a real scalar"),
        ("float32", 1 + 2j, TypeError, "value must be a real scalar"),
        ("uint8", 300, OverflowError, "out of bounds"),
        ("int32", float("nan"), ValueError, "NaN"),
    ],
)
def test_bad_constant_raises_and_writes_nothing(dtype, value, exc, fragment):
    arr = np.full(6, 5, _dt(dtype))
    with pytest.raises(exc, match=fragment):
        ops.fill_constant(arr, value)
    with pytest.raises(exc, match=fragment):
        ops.multi_fill_constant([np.full(6, 5, _dt(dtype)), arr], [1, value])
    np.testing.assert_array_equal(arr, np.full(6, 5, _dt(dtype)))


# ----------------------------------------------------------------- CUDA source, emulated on host
@needs_gxx
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_source_uniform_bitwise_host_emulation(dtype):
    for n in (1, 2, 3, 5, 37, 1000):
        for offset in (0, 1, 2, 3, 6, 2**33 + 1):
            for lead in (0, 1):  # lead=1: misaligned start, takes the scalar-store branch
                buf = _poisoned((n + lead,), dtype)
                out = buf[lead:]
                cuda_host_emu.fill(out, "uniform", -0.5, 2.0, KEY, offset, grid=3)
                _assert_all_written(out)
                expected = _ref("uniform", (n,), dtype, -0.5, 1.5, offset=offset)
                np.testing.assert_array_equal(
                    _bits(out), _bits(expected), err_msg=f"n={n} offset={offset}"
                )


@needs_gxx
def test_cuda_source_flushes_float32_subnormals_like_cupy_ftz():
    """CuPy compiles with -ftz=true: a float32 draw below 2**-126 is 0 on the GPU while the CPU
    keeps the subnormal (mxlite/ops/README.md, "where bitwise identity stops"); float64 keeps
    subnormals on both."""
    tiny = float(np.finfo(np.float32).tiny)
    out = _poisoned((1000,), "float32")
    cuda_host_emu.fill(out, "uniform", 0.0, 4 * tiny, KEY, 5, grid=3)
    ref = _ref("uniform", (1000,), "float32", 0.0, 4 * tiny, offset=5)
    sub = np.abs(ref) < tiny
    assert 0 < sub.sum() < ref.size and (ref[sub] != 0).any()
    np.testing.assert_array_equal(_bits(out), _bits(np.where(sub, np.float32(0), ref)))
    out = _poisoned((999,), "float32")
    cuda_host_emu.fill(out, "normal", 0.0, tiny / 8, KEY, 2, grid=2)  # every draw subnormal
    assert (_bits(np.abs(out)) == 0).all()
    assert (_ref("normal", (999,), "float32", 0.0, tiny / 8, offset=2) != 0).any()
    out64 = _poisoned((64,), "float64")
    cuda_host_emu.fill(out64, "uniform", 0.0, 1e-310, KEY, 0, grid=1)
    np.testing.assert_array_equal(out64, _ref("uniform", (64,), "float64", 0.0, 1e-310))


@needs_gxx
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_source_normal_host_emulation(dtype):
    for n, offset in [(1, 0), (5, 1), (37, 3), (4096, 2), (999, 2**33 + 1)]:
        out = _poisoned((n,), dtype)
        cuda_host_emu.fill(out, "normal", 0.5, 2.0, KEY, offset, grid=2)
        _assert_all_written(out)
        ref = _ref("normal", (n,), dtype, 0.5, 2.0, offset=offset)
        if dtype == "float64":
            np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-14)
        else:
            _assert_close_ulps(out, ref, 2)


@needs_gxx
@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_cuda_source_multi_table_host_emulation(kind):
    sizes = [1, 4096, 4097, 3, 9000, 70000]
    offsets = [0, 2, 0, 7, 1, 2**35 + 3]
    for dtype in ("float32", "float16"):
        arrs = [_poisoned((n,), dtype) for n in sizes]
        keys = [(i + 1, 1000 - i) for i in range(len(sizes))]
        p0s = [0.1 * i for i in range(len(sizes))]
        p1s = [1.0 + i for i in range(len(sizes))]
        cuda_host_emu.multi_fill(arrs, kind, p0s, p1s, keys, offsets, grid=4)
        for i, arr in enumerate(arrs):
            _assert_all_written(arr)
            high = p0s[i] + p1s[i] if kind == "uniform" else p1s[i]
            ref = _ref(kind, arr.shape, dtype, p0s[i], high, keys[i], offsets[i])
            if kind == "uniform":
                np.testing.assert_array_equal(_bits(arr), _bits(ref), err_msg=f"{dtype} array {i}")
            else:
                _assert_close_ulps(arr, ref, 2)


@needs_gxx
def test_cuda_source_constant_patterns_host_emulation():
    for dtype, value in [("float32", 0.25), ("float16", -3.5), ("int8", -2), ("float64", 1e-3), ("uint16", 7),
                         ("bfloat16", 1.7), ("int64", -(2**40))]:  # fmt: skip
        for n in (1, 3, 8, 17, 100, 1000):
            for lead in (0, 1, 3):
                buf = np.zeros(n + lead + 2, _dt(dtype))
                cuda_host_emu.fill_pattern(buf[lead : lead + n], value, grid=2)
                np.testing.assert_array_equal(
                    _bits(buf[lead : lead + n]), _bits(np.full(n, value, _dt(dtype)))
                )
                assert not buf[:lead].any() and not buf[lead + n :].any()
    arrs = [np.zeros(n, np.float32) for n in (1, 16385, 100000)] + [np.zeros(33, np.float16)[1:]]
    values = [1.0, 2.0, 3.0, -1.5]
    cuda_host_emu.multi_fill_pattern(arrs, values, grid=3)
    for arr, value in zip(arrs, values):
        np.testing.assert_array_equal(arr, np.full(arr.shape, value, arr.dtype))


# -------------------------------------------------------------------------------------------- GPU
# The same bodies run on a real GPU (marked gpu) and, everywhere g++ exists, against a fake CuPy
# whose kernels are the host-emulated CUDA source: that runs mxlite/ops/_cuda.py end to end.
GPU_DTYPES = ["float16", "float32", "float64"]  # CuPy has no bfloat16 arrays


def _gpu_uniform_normal_body(cp, dtype: str) -> None:
    for shape in SHAPES:
        for offset in (0, 3, 2**33 + 1):
            out = cp.full(shape, cp.nan, dtype=_dt(dtype))
            assert ops.fill_uniform(out, -0.07, 0.07, KEY, offset) is out
            got = cp.asnumpy(out)
            _assert_all_written(got)
            ref = _ref("uniform", shape, dtype, -0.07, 0.07, offset=offset)
            np.testing.assert_array_equal(_bits(got), _bits(ref))
            cpu = _poisoned(shape, dtype)
            ops.fill_uniform(cpu, -0.07, 0.07, KEY, offset)
            np.testing.assert_array_equal(_bits(got), _bits(cpu))  # CPU and GPU bit-identical
            out = cp.full(shape, cp.nan, dtype=_dt(dtype))
            ops.fill_normal(out, 0.0, 1.0, KEY, offset)
            got = cp.asnumpy(out)
            _assert_all_written(got)
            ref = _ref("normal", shape, dtype, 0.0, 1.0, offset=offset)
            if dtype == "float64":
                np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-14)
            else:
                _assert_close_ulps(got, ref, 2)


def _gpu_views_multi_constant_body(cp, dtypes: list[str]) -> None:
    base = cp.full((101, 3), cp.nan, dtype=cp.float32)
    ops.fill_uniform(base[:, 1], 0.0, 1.0, KEY, 5)
    host = cp.asnumpy(base)
    assert np.isnan(host[:, [0, 2]]).all()
    np.testing.assert_array_equal(
        host[:, 1], _ref("uniform", (101,), "float32", 0.0, 1.0, offset=5)
    )
    for dtype in dtypes:
        mis = cp.full(4099, cp.nan, dtype=_dt(dtype))
        ops.fill_uniform(mis[1:-2], 0.0, 1.0, KEY)  # misaligned start: scalar-store branch
        got = cp.asnumpy(mis)
        np.testing.assert_array_equal(
            _bits(got[1:-2]), _bits(_ref("uniform", (4096,), dtype, 0.0, 1.0))
        )
        assert np.isnan(got[[0, -2, -1]].astype(np.float64)).all()

    arrs_cpu, offsets, keys = _mixed_arrays()
    keep = [i for i, a in enumerate(arrs_cpu) if a.dtype.name in dtypes]
    arrs_cpu = [arrs_cpu[i] for i in keep]
    offsets = [offsets[i] for i in keep]
    keys = [keys[i] for i in keep]
    arrs_gpu = [cp.asarray(a) for a in arrs_cpu]
    arrs_gpu[-1] = cp.full((40, 3), cp.nan, dtype=cp.float32)[:, 1]  # non-contiguous rides along
    p0s = [0.1 * i for i in range(len(keep))]
    p1s = [1.0 + i for i in range(len(keep))]
    for multi in (ops.multi_fill_uniform, ops.multi_fill_normal):
        multi(arrs_gpu, p0s, p1s, keys, offsets)
        multi(arrs_cpu, p0s, p1s, keys, offsets)
        for i, (a, b) in enumerate(zip(arrs_gpu, arrs_cpu)):
            got = cp.asnumpy(a)
            _assert_all_written(got)
            if multi is ops.multi_fill_uniform:
                np.testing.assert_array_equal(_bits(got), _bits(b), err_msg=f"array {i}")
            elif b.dtype == np.float64:
                np.testing.assert_allclose(got, b, rtol=1e-13, atol=1e-14)
            else:
                _assert_close_ulps(got, b, 2)

    for dtype, value in [("float32", 1.0), ("float16", 0.1), ("int8", -3), ("float64", 0.0), ("int64", -1),
                         ("float32", 2.5)]:  # fmt: skip
        out = cp.zeros(1001, dtype=_dt(dtype))
        assert ops.fill_constant(out[1:], value) is not None
        got = cp.asnumpy(out)
        np.testing.assert_array_equal(_bits(got[1:]), _bits(np.full(1000, value, _dt(dtype))))
        assert not got[:1].any()
    strided = cp.zeros((50, 2), dtype=cp.float32)
    ops.fill_constant(strided[:, 0], 3.0)
    got = cp.asnumpy(strided)
    assert (got[:, 0] == 3.0).all() and not got[:, 1].any()
    many = [cp.zeros(n, dtype=cp.float32) for n in (1, 4097, 70000)] + [
        cp.zeros(9, dtype=cp.float16)[1:]
    ]
    ops.multi_fill_constant(many, [1.0, -2.0, 0.5, 7.0])
    for arr, value in zip(many, (1.0, -2.0, 0.5, 7.0)):
        host = cp.asnumpy(arr)
        np.testing.assert_array_equal(host, np.full(host.shape, value, host.dtype))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", GPU_DTYPES)
def test_gpu_uniform_bitwise_and_normal_2_ulps(gpu_ctx, dtype):
    import cupy as cp

    with cp.cuda.Device(gpu_ctx.device_id):
        _gpu_uniform_normal_body(cp, dtype)


@pytest.mark.gpu
def test_gpu_views_multi_and_constant(gpu_ctx):
    import cupy as cp

    with cp.cuda.Device(gpu_ctx.device_id):
        _gpu_views_multi_constant_body(cp, GPU_DTYPES)


@pytest.fixture
def fake_cupy(monkeypatch):
    """CuPy replaced by host memory + the emulated kernels, with _cuda's caches emptied."""
    if not cuda_host_emu.available():
        pytest.skip("g++ not on PATH: cannot emulate the CUDA source")
    return cuda_host_emu.install_fake_cupy(monkeypatch)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_module_end_to_end_host_emulation(fake_cupy, dtype):
    _gpu_uniform_normal_body(fake_cupy, dtype)


def test_cuda_module_views_multi_constant_host_emulation(fake_cupy):
    _gpu_views_multi_constant_body(fake_cupy, DTYPES)


def test_cuda_module_compiles_each_file_once_per_device(fake_cupy):
    from mxlite.ops import _cuda

    for _ in range(3):
        ops.fill_uniform(fake_cupy.zeros(10, dtype=np.float32), 0.0, 1.0, KEY)
        ops.fill_normal(fake_cupy.zeros(10, dtype=np.float16), 0.0, 1.0, KEY)
    assert list(_cuda._MODULES) == [(0, "init_fill.cu")]
    assert {name for _, _, name in _cuda._FUNCTIONS} == {
        "fill_uniform<float>",
        "fill_normal<mxlite::half_bits>",
    }
