"""Multi-tensor zero and replica average: Numba/CUDA paths against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite.ops import multi_tensor as mt
from tests.conftest import requires_gpu

DTYPES = [np.float16, np.float32, np.float64, np.int32, np.uint8]


def _poisoned(shapes, dtype, rng):
    return [(rng.standard_normal(s) * 100 + 1).astype(dtype) for s in shapes]


def _reference_average(reps):
    acc = reps[0].copy()
    for rep in reps[1:]:
        acc += rep
    return acc / acc.dtype.type(len(reps))


def test_chunk_table_covers_every_unit_once():
    sizes = [0, 1, 5, 16, 17, 100]
    chunk_buf, chunk_begin = mt.chunk_table(sizes, 8)
    covered = {i: np.zeros(s, dtype=int) for i, s in enumerate(sizes)}
    for b, start in zip(chunk_buf, chunk_begin):
        covered[b][start : start + 8] += 1
    assert all((c == 1).all() for c in covered.values())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count", [1, 3, 300])
def test_zero_plan_zeroes_every_element(dtype, count):
    rng = np.random.default_rng(count)
    shapes = [tuple(rng.integers(1, 40, size=rng.integers(1, 4))) for _ in range(count)]
    arrs = _poisoned(shapes, dtype, rng)
    arrs.append(np.ones((3, 4), dtype)[:, ::2])  # a strided view
    plan = mt.ZeroPlan(arrs)
    plan()
    assert all((a == 0).all() for a in arrs)
    for a in arrs:  # the plan is reusable on the same buffers
        a[...] = 7
    plan()
    assert all((a == 0).all() for a in arrs)


def test_zero_plan_large_buffers_use_the_kernel_path():
    arrs = [np.full(1 << 18, 3.0, np.float32) for _ in range(4)] + [np.full(5, 1, np.int8)]
    plan = mt.ZeroPlan(arrs)
    assert plan._table is not None
    plan()
    assert all((a == 0).all() for a in arrs)


@pytest.mark.parametrize("threads", [1, 2])
def test_zero_plan_thread_choice_and_every_byte_zeroed(threads):
    import numba

    if numba.config.NUMBA_NUM_THREADS < threads:
        pytest.skip(f"Numba has fewer than {threads} threads here")
    # 9 MB over odd sizes: chunks end mid-buffer and the last one is short
    sizes = [(1 << 20) + 3, 5, (3 << 20) - 1, 1 << 22, 77]
    big = [np.full(n, 0xAB, np.uint8) for n in sizes]
    mx.util.set_num_threads(threads)
    try:
        plan = mt.ZeroPlan(big)
        assert plan.runs_parallel() is (threads > 1)
        plan()
        small = mt.ZeroPlan([np.ones(1 << 18, np.float32) for _ in range(4)])  # 4 MB: one thread
        assert not small.runs_parallel()
    finally:
        mx.util.set_num_threads(None)
    assert all(not a.any() for a in big)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_average_matches_reference_bitwise(dtype, k):
    rng = np.random.default_rng(k)
    shapes = [(int(rng.integers(1, 50)), int(rng.integers(1, 9))) for _ in range(60)] + [(1 << 19,)]
    reps = [[rng.standard_normal(s).astype(dtype) for _ in range(k)] for s in shapes]
    outs = [np.full(s, np.nan, dtype) for s in shapes]
    mt.multi_average(reps, outs)
    for out, rep in zip(outs, reps):
        np.testing.assert_array_equal(out, _reference_average(rep))


def test_average_in_place_into_first_replica():
    rng = np.random.default_rng(0)
    reps = [[rng.standard_normal(100).astype(np.float32) for _ in range(2)] for _ in range(10)]
    expected = [_reference_average(r) for r in reps]
    mt.multi_average(reps, [r[0] for r in reps])
    for r, e in zip(reps, expected):
        np.testing.assert_array_equal(r[0], e)


def test_average_rejects_ragged_replica_counts():
    a = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="same number of replicas"):
        mt.AveragePlan([[a, a], [a]], [a, a])
    with pytest.raises(ValueError, match="replica lists but"):
        mt.AveragePlan([[a]], [a, a])


@requires_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("count", [2, 300])
def test_gpu_zero_and_average_match_reference(count):
    import cupy as cp

    rng = np.random.default_rng(count)
    shapes = [(int(rng.integers(1, 2000)),) for _ in range(count)] + [(1 << 20,)]
    arrs = [cp.asarray(a) for a in _poisoned(shapes, np.float32, rng)]
    mt.multi_zero(arrs)
    assert all(int(cp.count_nonzero(a)) == 0 for a in arrs)
    for dtype in (np.float32, np.float64, np.float16):
        reps_h = [[rng.standard_normal(s).astype(dtype) for _ in range(4)] for s in shapes]
        reps = [[cp.asarray(r) for r in rep] for rep in reps_h]
        outs = [cp.full(s, cp.nan, dtype) for s in shapes]
        mt.multi_average(reps, outs)
        for out, rep in zip(outs, reps_h):
            acc_dtype = np.float32 if dtype == np.float16 else dtype  # fp16 sums in float
            ref = _reference_average([r.astype(acc_dtype) for r in rep]).astype(dtype)
            np.testing.assert_array_equal(out.get(), ref)
