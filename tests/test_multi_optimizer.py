"""Fused multi-tensor SGD / NAG / Adam (mxlite.ops.multi_optimizer) against the single-tensor path.

The NumPy single-tensor functions of ``mxlite.optimizer`` define the results; the Numba twins,
the CUDA source (run on the host by ``tests/cuda_emu_optimizer.py``) and, on a GPU, the CUDA
kernels must reproduce them bit for bit, per dtype, on random inputs, over several steps.
"""

from __future__ import annotations

import gc
import re
import zlib

import numpy as np
import pytest

from mxlite.ops import _cuda
from mxlite.ops import multi_optimizer as mo
from mxlite.optimizer.adam import _single_tensor_adam
from mxlite.optimizer.sgd import _single_tensor_nag, _single_tensor_sgd
from tests import cuda_emu_optimizer as emu
from tests.conftest import requires_gpu

needs_gxx = pytest.mark.skipif(
    not emu.available(), reason="g++ not on PATH: cannot emulate the CUDA source"
)

SHAPES = [(1,), (3,), (5, 7), (64, 64), (33,), (0,), (2, 1, 3), (mo.CPU_CHUNK + 3,), (1027,)]
KINDS = ["float32", "float64", "float16", "float16mp"]
RULES = ["sgd", "sgd_plain", "nag", "nag_plain", "adam"]
MOMENTUM, BETA1, BETA2, EPS, RESCALE = 0.9, 0.9, 0.999, 1e-8, 0.7


def _make(kind: str, shapes: list, rng: np.random.Generator) -> dict:
    """Random weights, gradients, states and master copies for ``kind``."""
    mp = kind == "float16mp"
    wdt = np.float16 if mp else np.dtype(kind)
    sdt = np.float32 if mp else wdt
    w = [rng.standard_normal(s).astype(wdt) for s in shapes]
    return {
        "w": w,
        "g": [(rng.standard_normal(s) * 3).astype(wdt) for s in shapes],
        "s0": [rng.standard_normal(s).astype(sdt) for s in shapes],
        "s1": [np.abs(rng.standard_normal(s)).astype(sdt) for s in shapes],
        "w32": [x.astype(np.float32) for x in w] if mp else None,
    }


def _copy(data: dict) -> dict:
    return {k: None if v is None else [a.copy() for a in v] for k, v in data.items()}


def _single(rule: str, d: dict, lrs: list, wds: list, clip: float | None) -> None:
    """The reference: the optimizer package's NumPy single-tensor functions, one tensor at a time."""
    kw = {"rescale_grad": RESCALE, "clip_gradient": -1.0 if clip is None else clip}
    for i in range(len(d["w"])):
        w32 = None if d["w32"] is None else d["w32"][i]
        mom = None if rule.endswith("plain") else d["s0"][i]
        if rule.startswith("sgd"):
            _single_tensor_sgd(
                d["w"][i], d["g"][i], mom, w32, lrs[i], wds[i], momentum=MOMENTUM, **kw
            )
        elif rule.startswith("nag"):
            _single_tensor_nag(
                d["w"][i], d["g"][i], mom, w32, lrs[i], wds[i], momentum=MOMENTUM, **kw
            )
        else:
            _single_tensor_adam(
                d["w"][i], d["g"][i], d["s0"][i], d["s1"][i], w32, lrs[i], wds[i],
                beta1=BETA1, beta2=BETA2, epsilon=EPS, **kw,
            )  # fmt: skip


def _fused(rule: str, d: dict, lrs: list, wds: list, clip: float | None) -> None:
    moms = None if rule.endswith("plain") else d["s0"]
    if rule.startswith("sgd"):
        mo.multi_sgd_update(d["w"], d["g"], moms, lrs, wds, MOMENTUM, RESCALE, clip, d["w32"])
    elif rule.startswith("nag"):
        mo.multi_nag_update(d["w"], d["g"], moms, lrs, wds, MOMENTUM, RESCALE, clip, d["w32"])
    else:
        mo.multi_adam_update(
            d["w"], d["g"], d["s0"], d["s1"], lrs, wds, BETA1, BETA2, EPS, RESCALE, clip, d["w32"]
        )


def _emulated(rule: str, d: dict, lrs: list, wds: list, clip: float | None, vec: bool) -> None:
    c = -1.0 if clip is None else clip
    if rule == "adam":
        arrays = (d["w"], d["g"], d["s0"], d["s1"], d["w32"])
        emu.run(mo.ADAM, arrays, lrs, wds, RESCALE, c, (BETA1, BETA2, EPS), vec=vec)
        return
    arrays = (d["w"], d["g"], None if rule.endswith("plain") else d["s0"], None, d["w32"])
    emu.run(
        mo.SGD if rule.startswith("sgd") else mo.NAG,
        arrays,
        lrs,
        wds,
        RESCALE,
        c,
        (MOMENTUM,),
        vec=vec,
    )


def _assert_same(expected: dict, got: dict) -> None:
    for key in ("w", "s0", "s1", "w32"):
        if expected[key] is None:
            continue
        for i, (e, g) in enumerate(zip(expected[key], got[key])):
            assert e.dtype == g.dtype and e.shape == g.shape
            np.testing.assert_array_equal(g, e, err_msg=f"{key}[{i}] differs")
            # bitwise, NaNs included
            assert np.array_equal(e.view(np.uint8), g.view(np.uint8)) or np.isnan(e).any(), (
                f"{key}[{i}] bits"
            )


def _schedule(step: int, n: int, rng: np.random.Generator) -> tuple[list, list]:
    """Per-tensor rates that change every step (a schedule with lr_mult / wd_mult)."""
    lr_mult = rng.uniform(0.1, 2.0, n)
    wd_mult = rng.choice([0.0, 1.0, 0.5], n)
    base = 0.1 * 0.8**step
    return [float(base * m) for m in lr_mult], [float(1e-2 * m) for m in wd_mult]


# ---------------------------------------------------------------------------------- Numba twins
@pytest.mark.parametrize("driver", ["parallel", "serial"])
@pytest.mark.parametrize("clip", [None, 0.3])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("kind", KINDS)
def test_numba_twin_matches_single_path_bitwise(kind, rule, clip, driver, monkeypatch):
    monkeypatch.setattr(mo, "CPU_SERIAL_BELOW", 0 if driver == "parallel" else 1 << 62)
    rng = np.random.default_rng(zlib.crc32(repr((kind, rule, clip)).encode()))
    ref = _make(kind, SHAPES, rng)
    got = _copy(ref)
    for step in range(3):  # the second and third steps reuse the cached plan
        lrs, wds = _schedule(step, len(SHAPES), rng)
        _single(rule, ref, lrs, wds, clip)
        if got["w32"] is not None:  # the float16 weight is output-only: poison it
            for w in got["w"]:
                w[...] = np.nan
        _fused(rule, got, lrs, wds, clip)
        _assert_same(ref, got)


@pytest.mark.parametrize("rule", RULES)
def test_mixed_dtypes_in_one_call_group_into_launches(rule):
    rng = np.random.default_rng(7)
    parts = [_make(k, SHAPES[:5], rng) for k in ("float32", "float64", "float16")]
    ref = {k: [a for p in parts for a in p[k]] for k in ("w", "g", "s0", "s1")}
    ref["w32"] = None
    got = _copy(ref)
    lrs, wds = _schedule(0, len(ref["w"]), rng)
    _single(rule, ref, lrs, wds, 0.5)
    mo.clear_plan_cache()
    _fused(rule, got, lrs, wds, 0.5)
    _assert_same(ref, got)
    (plan,) = mo._PLANS.values()
    assert sorted(launch.kind for _, launch in plan.launches) == ["float16", "float32", "float64"]


def test_special_values_follow_numpy():
    # inf/NaN gradients, 0/0 in Adam (epsilon 0, zero variance), float16 overflow
    g = np.array([np.inf, -np.inf, np.nan, 0.0, 1e30, -1e-30])
    w = np.array([1.0, 2.0, 3.0, 0.0, 6e4, 5.0])
    for rule, dt in [
        ("adam", np.float32),
        ("sgd", np.float32),
        ("nag", np.float16),
        ("adam", np.float16),
    ]:
        with np.errstate(all="ignore"):
            ref = {
                "w": [w.astype(dt)],
                "g": [g.astype(dt)],
                "s0": [np.zeros(6, dt)],
                "s1": [np.zeros(6, dt)],
            }
            ref["w32"] = None
            got = _copy(ref)
            if rule == "adam":
                _single_tensor_adam(
                    *(ref[k][0] for k in ("w", "g", "s0", "s1")), None, 0.5, 0.0,
                    beta1=BETA1, beta2=BETA2, epsilon=0.0, rescale_grad=1.0, clip_gradient=-1.0,
                )  # fmt: skip
                mo.multi_adam_update(
                    got["w"],
                    got["g"],
                    got["s0"],
                    got["s1"],
                    [0.5],
                    [0.0],
                    BETA1,
                    BETA2,
                    0.0,
                    1.0,
                    None,
                )
            else:
                _single(rule, ref, [0.5], [0.1], None)
                _fused(rule, got, [0.5], [0.1], None)
        _assert_same(ref, got)
        assert np.isnan(got["w"][0]).any()


def test_clip_gradient_semantics():
    rng = np.random.default_rng(3)
    for clip, single_clip in [
        (None, -1.0),
        (-2.0, -1.0),
        (float("inf"), -1.0),
        (0.0, 0.0),
        (0.25, 0.25),
    ]:
        ref = _make("float32", [(50,)], rng)
        got = _copy(ref)
        _single("sgd", ref, [0.1], [0.01], single_clip)
        _fused("sgd", got, [0.1], [0.01], clip)
        _assert_same(ref, got)


# --------------------------------------------------------------------- CUDA source, on the host
@needs_gxx
@pytest.mark.parametrize("vec", [False, True])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_source_matches_single_path_bitwise(kind, rule, vec):
    rng = np.random.default_rng(zlib.crc32(repr((kind, rule, vec)).encode()))
    shapes = [(1,), (3,), (5, 7), (33,), (0,), (130,), (257,)]
    ref = _make(kind, shapes, rng)
    got = _copy(ref)
    for step, clip in enumerate([None, 0.3]):
        lrs, wds = _schedule(step, len(shapes), rng)
        _single(rule, ref, lrs, wds, clip)
        if got["w32"] is not None:
            for w in got["w"]:
                w[...] = np.nan
        _emulated(rule, got, lrs, wds, clip, vec)
        _assert_same(ref, got)


@needs_gxx
@pytest.mark.parametrize("rule", RULES)
def test_cuda_source_flushes_float32_subnormals_like_cupy_ftz(rule):
    """CuPy compiles with -ftz=true: float32 subnormal inputs read as 0 on the GPU and subnormal
    results are stored as 0, where the CPU keeps them (mxlite/ops/README.md). Elements 0 and 1
    have only subnormal inputs (all 0 on the GPU), elements 2 and 3 only normal ones (bitwise
    the CPU's); float64 keeps subnormals on both."""
    tiny = np.finfo(np.float32).tiny
    ref = {
        "w": [np.array([tiny / 4, -tiny / 2, 1.0, 0.5], np.float32)],
        "g": [np.array([tiny / 8, 0.0, 0.25, -0.5], np.float32)],
        "s0": [np.array([tiny / 2, -tiny / 4, 0.3, -0.1], np.float32)],
        "s1": [np.array([tiny / 2, tiny / 4, 0.3, 0.1], np.float32)],
        "w32": None,
    }
    gpu = _copy(ref)
    _single(rule, ref, [0.5], [0.0], None)
    _emulated(rule, gpu, [0.5], [0.0], None, vec=True)
    states = {"adam": ("s0", "s1"), "sgd": ("s0",), "nag": ("s0",)}.get(rule, ())
    for key in ("w", *states):
        got, cpu = gpu[key][0], ref[key][0]
        np.testing.assert_array_equal(got[:2], [0, 0], err_msg=key)
        np.testing.assert_array_equal(got[2:].view(np.uint32), cpu[2:].view(np.uint32))
        assert not (np.abs(got[got != 0]) < tiny).any(), (key, got)
    assert (ref["w"][0][:2] != 0).any()  # the CPU keeps the subnormals
    w64 = {"w": [np.array([1e-310, 2.0])], "g": [np.array([1e-311, 0.0])], "w32": None}
    w64.update(s0=[np.array([1e-312, 0.0])], s1=[np.array([1e-310, 1.0])])
    got64 = _copy(w64)
    _single(rule, w64, [0.5], [0.0], None)
    _emulated(rule, got64, [0.5], [0.0], None, vec=False)
    _assert_same(w64, got64)


@needs_gxx
@pytest.mark.parametrize("rule", ["sgd", "nag_plain", "adam"])
@pytest.mark.parametrize("kind", KINDS)
def test_gpu_launch_passes_what_the_kernel_expects(kind, rule, monkeypatch):
    """The GPU branch of a launch (tables, coefficient upload, argument list) driving the CUDA
    source on the host through a stand-in for CuPy."""
    from mxlite import backend

    monkeypatch.setattr(backend, "cupy_or_none", lambda: emu.FakeCupy)
    monkeypatch.setattr(_cuda, "get_kernel", lambda filename, name: emu.fake_kernel(name))
    rng = np.random.default_rng(zlib.crc32(repr((kind, rule)).encode()))
    shapes = [(3,), (mo.GPU_CHUNK + 5,), (40, 2)]
    ref = _make(kind, shapes, rng)
    got = _copy(ref)
    family = {"sgd": mo.SGD, "nag_plain": mo.NAG, "adam": mo.ADAM}[rule]
    s0 = None if rule == "nag_plain" else got["s0"]
    arrays = (got["w"], got["g"], s0, got["s1"] if rule == "adam" else None, got["w32"])
    params = (BETA1, BETA2, EPS) if rule == "adam" else (MOMENTUM,)
    launches = []
    for nstate, cpu_launch in mo._Plan(arrays).launches:
        rows, sizes = cpu_launch.tables[0].reshape(-1, 5), cpu_launch.tables[1]
        launch = mo._Launch(cpu_launch.kind, ("gpu", 0), list(cpu_launch.positions), rows, sizes)
        assert launch.vec == 1 and launch.chunk == mo.GPU_CHUNK
        launches.append((nstate, launch))
    lrs, wds = _schedule(0, len(shapes), rng)
    for step_lrs in (lrs, lrs, [2 * x for x in lrs]):  # step 2 reuses the uploaded coefficients
        _single(rule, ref, step_lrs, wds, 0.3)
        for nstate, launch in launches:
            lr = np.asarray(step_lrs)[launch.positions]
            wd = np.asarray(wds)[launch.positions]
            coef, glob = mo.launch_scalars(
                family, nstate, launch.kind, lr, wd, RESCALE, 0.3, params
            )
            launch.run(family, nstate, coef, glob, True)
        _assert_same(ref, got)


def test_vector_path_only_for_aligned_buffers():
    buf = np.zeros(80, np.float32)
    aligned = [buf[:32], buf[32:64]]
    shifted = [buf[1:33], buf[33:65]]
    plan = mo._Plan((aligned, [a.copy() for a in aligned], None, None, None))
    assert buf.ctypes.data % 16 != 0 or plan.launches[0][1].vec == 1
    plan = mo._Plan((shifted, [a.copy() for a in shifted], None, None, None))
    assert plan.launches[0][1].vec == 0


def test_cuda_kernel_names_are_registered_with_the_loader():
    assert set(mo.CUDA_KERNELS) == set(_cuda._NAME_EXPRESSIONS["multi_optimizer.cu"])
    source = _cuda.kernel_source("multi_optimizer.cu")
    assert "multi_optimizer_step" in source and "__fmul_rn" in source


# ----------------------------------------------------------------------------------- plan cache
def _cached_plans() -> list:
    mo._lookup(("no such key",))  # purges plans whose arrays were collected
    return list(mo._PLANS.values())


def test_plan_is_cached_and_dropped_with_its_arrays():
    mo.clear_plan_cache()
    rng = np.random.default_rng(1)
    d = _make("float32", [(10,), (20,)], rng)
    _fused("sgd", d, [0.1, 0.1], [0.0, 0.0], None)
    (plan,) = _cached_plans()
    _fused("sgd", d, [0.2, 0.1], [0.0, 0.0], None)
    assert _cached_plans() == [plan]
    assert mo.supported(d["w"], d["g"], [d["s0"]])  # answered from the cache
    other = {**d, "s0": [a.copy() for a in d["s0"]]}
    _fused("sgd", other, [0.1, 0.1], [0.0, 0.0], None)
    assert len(_cached_plans()) == 2  # other momentum buffers: another plan
    del other
    gc.collect()
    assert _cached_plans() == [plan]  # its momentum buffers are gone: plan dropped
    del d, plan
    gc.collect()
    assert _cached_plans() == []  # every plan referred to a collected array


def test_recycled_array_ids_never_reach_a_stale_plan():
    rng = np.random.default_rng(2)
    for _ in range(30):  # fresh arrays each round: CPython reuses the ids of the collected ones
        shapes = [(int(rng.integers(1, 300)),) for _ in range(3)]
        ref = _make("float32", shapes, rng)
        got = _copy(ref)
        lrs, wds = _schedule(0, 3, rng)
        _single("adam", ref, lrs, wds, None)
        _fused("adam", got, lrs, wds, None)
        _assert_same(ref, got)
    assert len(_cached_plans()) <= 1


# ------------------------------------------------------------------------------------ bad input
def _bad_cases():
    f32 = np.float32
    return [
        ("grads length", lambda d: d["g"].pop(), ValueError, "got 3 weights but 2 grads"),
        ("grad dtype", lambda d: d["g"].__setitem__(2, d["g"][2].astype(np.float64)), TypeError, "grads[2] has dtype float64"),
        ("state shape", lambda d: d["s0"].__setitem__(2, np.zeros(5, f32)), ValueError, "moms[2] has shape (5,)"),
        ("strided", lambda d: d["w"].__setitem__(2, np.zeros((4, 8), f32)[:, ::2]), ValueError, "weights[2] is not C-contiguous"),
        ("read-only", lambda d: d["w"][2].setflags(write=False), ValueError, "weights[2] is read-only"),
        ("int weight", lambda d: d["w"].__setitem__(2, np.zeros(4, np.int32)), TypeError, "supports float16, float32"),
        ("not array", lambda d: d["g"].__setitem__(2, [1.0, 2.0, 3.0, 4.0]), TypeError, "grads[2] must be a numpy.ndarray"),
        ("master on float32", lambda d: d.__setitem__("w32", [None, None, np.zeros(4, f32)]), TypeError, "float16 weights only"),
        ("lrs length", lambda d: d["lrs"].pop(), ValueError, "got 3 weights but 2 lrs"),
        ("lr type", lambda d: d["lrs"].__setitem__(1, "0.1"), TypeError, "lrs must be a real number"),
    ]  # fmt: skip


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda c: c[0])
def test_bad_input_raises_and_writes_nothing(case):
    _, spoil, exc, fragment = case
    mo.clear_plan_cache()
    rng = np.random.default_rng(5)
    d = _make("float32", [(4,), (4,), (4,)], rng)
    d["lrs"], d["wds"] = [0.1] * 3, [0.0] * 3
    spoil(d)
    before = [a.copy() for key in ("w", "s0") for a in d[key]]
    with pytest.raises(exc, match=re.escape(fragment)):
        mo.multi_sgd_update(d["w"], d["g"], d["s0"], d["lrs"], d["wds"], 0.9, 1.0, None, d["w32"])
    after = [a for key in ("w", "s0") for a in d[key]]
    assert all(np.array_equal(b, a) for b, a in zip(before, after))
    arrays_ok = mo.supported(d["w"], d["g"], [d["s0"]], d["w32"])
    assert arrays_ok == ("lrs" in fragment)  # supported() checks the arrays only


def test_adam_needs_both_states_and_real_betas():
    d = _make("float32", [(4,)], np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"means\[0\] and vars\[0\] must both be arrays"):
        mo.multi_adam_update(
            d["w"], d["g"], d["s0"], [None], [0.1], [0.0], 0.9, 0.999, 1e-8, 1.0, None
        )
    with pytest.raises(TypeError, match="beta1 must be a real number"):
        mo.multi_adam_update(
            d["w"], d["g"], d["s0"], d["s1"], [0.1], [0.0], "0.9", 0.999, 1e-8, 1.0, None
        )
    with pytest.raises(ValueError, match=r"vars\[0\] has shape \(3,\)"):
        mo.multi_adam_update(
            d["w"],
            d["g"],
            d["s0"],
            [np.zeros(3, np.float32)],
            [0.1],
            [0.0],
            0.9,
            0.999,
            1e-8,
            1.0,
            None,
        )


def test_supported_accepts_what_the_update_accepts():
    d = _make("float16mp", [(4,), (3, 3)], np.random.default_rng(0))
    assert mo.supported(d["w"], d["g"], [d["s0"], d["s1"]], d["w32"])
    assert mo.supported(d["w"], d["g"], [], None)
    assert not mo.supported(d["w"], d["g"], [d["s0"]], None)  # float32 states for float16 weights


@pytest.mark.parametrize("rule", ["sgd", "nag_plain", "adam"])
def test_prepared_plan_gives_the_same_bits_as_a_plain_call(rule):
    rng = np.random.default_rng(9)
    data = _make("float16mp", SHAPES, rng)
    plain, prepared = _copy(data), _copy(data)
    if rule == "adam":
        states = [prepared["s0"], prepared["s1"]]
    else:
        states = [None if rule.endswith("plain") else prepared["s0"]]
    plan = mo.prepare(prepared["w"], prepared["g"], states, prepared["w32"])
    assert plan.full_states == (rule == "adam")
    for step in range(3):
        lrs, wds = _schedule(step, len(SHAPES), rng)
        _fused(rule, plain, lrs, wds, 0.5)
        args = (np.asarray(lrs), np.asarray(wds))  # float64 arrays are taken as they are
        if rule == "adam":
            mo.multi_adam_update(
                prepared["w"], prepared["g"], prepared["s0"], prepared["s1"], *args,
                BETA1, BETA2, EPS, RESCALE, 0.5, prepared["w32"], plan=plan,
            )  # fmt: skip
        elif rule == "sgd":
            mo.multi_sgd_update(
                prepared["w"], prepared["g"], prepared["s0"], *args, MOMENTUM, RESCALE, 0.5,
                prepared["w32"], plan=plan,
            )  # fmt: skip
        else:
            mo.multi_nag_update(
                prepared["w"], prepared["g"], None, *args, MOMENTUM, RESCALE, 0.5,
                prepared["w32"], plan=plan,
            )  # fmt: skip
    _assert_same(plain, prepared)


def test_launch_scalars_are_reused_only_for_identical_bits():
    d = _make("float32", [(4,), (5,)], np.random.default_rng(4))
    launch = mo.prepare(d["w"], d["g"], [d["s0"]], None)._plan.launches[0][1]
    lrs, wds = np.array([0.1, 0.2]), np.array([0.0, 0.01])
    first = launch.scalars(mo.SGD, 1, lrs, wds, 0.5, -1.0, (0.9,))
    assert launch.scalars(mo.SGD, 1, lrs.copy(), wds.copy(), 0.5, -1.0, (0.9,))[0] is first[0]
    changed = [
        launch.scalars(mo.SGD, 1, lrs, np.array([-0.0, 0.01]), 0.5, -1.0, (0.9,)),  # -0.0
        launch.scalars(mo.SGD, 1, lrs, wds, 0.25, -1.0, (0.9,)),
        launch.scalars(mo.SGD, 1, lrs, wds, 0.25, 1.0, (0.9,)),
        launch.scalars(mo.SGD, 1, lrs, wds, 0.25, 1.0, (0.8,)),
        launch.scalars(mo.NAG, 1, lrs, wds, 0.25, 1.0, (0.8,)),
    ]
    for coef, glob in changed:
        assert coef is not first[0]
    expected = mo.launch_scalars(
        mo.SGD, 1, "float32", lrs, np.array([-0.0, 0.01]), 0.5, -1.0, (0.9,)
    )
    assert changed[0][0].tobytes() == expected[0].tobytes() != first[0].tobytes()


def test_prepared_plan_refuses_other_lists_and_writes_nothing():
    d = _make("float32", [(4,), (5,)], np.random.default_rng(2))
    plan = mo.prepare(d["w"], d["g"], [d["s0"]], None)
    before = [a.copy() for a in d["w"] + d["s0"]]
    with pytest.raises(ValueError, match="plan= was prepared for other array lists"):
        mo.multi_sgd_update(
            list(d["w"]), d["g"], d["s0"], [0.1, 0.1], [0.0, 0.0], 0.9, 1.0, None, plan=plan
        )
    with pytest.raises(ValueError, match="plan= was prepared for other array lists"):
        mo.multi_sgd_update(d["w"], d["g"], None, [0.1, 0.1], [0.0, 0.0], 0.9, 1.0, None, plan=plan)
    with pytest.raises(ValueError, match=r"means\[0\] and vars\[0\] must both be arrays"):
        mo.multi_adam_update(
            d["w"], d["g"], [None, None], d["s1"], [0.1] * 2, [0.0] * 2, 0.9, 0.999, 1e-8, 1.0,
            None, plan=plan,
        )  # fmt: skip
    assert all(np.array_equal(b, a) for b, a in zip(before, d["w"] + d["s0"]))
    with pytest.raises(ValueError, match=r"moms\[1\] has shape|states\[1\] has shape"):
        mo.prepare(d["w"], d["g"], [[d["s0"][0], np.zeros(3, np.float32)]], None)


# ------------------------------------------------------------------------------------------ GPU
@requires_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_kernel_matches_single_path_bitwise(kind, rule, gpu_ctx):
    import cupy as cp

    rng = np.random.default_rng(11)
    shapes = [*SHAPES, (mo.GPU_CHUNK * 2 + 5,)]
    host = _make(kind, shapes, rng)
    to_dev = lambda d: {k: None if v is None else [cp.asarray(a) for a in v] for k, v in d.items()}  # noqa: E731
    ref, got = to_dev(host), to_dev(host)
    for step, clip in enumerate([None, 0.3, None]):
        lrs, wds = _schedule(step, len(shapes), rng)
        _single(rule, ref, lrs, wds, clip)
        _fused(rule, got, lrs, wds, clip)
    back = lambda d: {k: None if v is None else [cp.asnumpy(a) for a in v] for k, v in d.items()}  # noqa: E731
    _assert_same(back(ref), back(got))
