"""kernels/multi_tensor.cu, host-emulated (g++), against mxlite.ops.multi_tensor's NumPy reference.

The kernels run on the CPU through tests/cuda_emu_multi_tensor.py: first directly on tables built
by :func:`mxlite.ops.multi_tensor.chunk_table` (byte ranges at every alignment, chunk boundaries
inside and between buffers, small and real block sizes), then end to end through the GPU branches
of ``ZeroPlan`` / ``AveragePlan`` and ``mxlite.ops._cuda`` with a fake CuPy whose kernels are the
emulated CUDA source.
"""

from __future__ import annotations

import numpy as np
import pytest

from mxlite import backend
from mxlite.ops import multi_tensor as mt
from tests import cuda_emu_multi_tensor as emu
from tests import cuda_host_emu

pytestmark = pytest.mark.skipif(
    not emu.available(), reason="g++ not on PATH: cannot emulate the CUDA source"
)

GUARD = 0xAB


def _addr(arr: np.ndarray) -> int:
    return int(arr.__array_interface__["data"][0])


def _byte_views(rng: np.random.Generator, count: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Views into one guard-filled buffer: every start offset mod 16, sizes around 16-byte words,
    a few guard bytes between neighbours."""
    sizes = [1, 2, 3, 15, 16, 17, 31, 32, 33, 47, 100, 255, 256, 257, 1000, 4099]
    plan = [(int(rng.integers(0, 16)), sizes[i % len(sizes)]) for i in range(count)]
    total = sum(lead + n + 5 for lead, n in plan) + 16
    buf = np.full(total, GUARD, np.uint8)
    views, pos = [], 0
    for lead, n in plan:
        pos += lead
        views.append(buf[pos : pos + n])
        pos += n + 5
    return buf, views


def _zero_reference(buf: np.ndarray, views: list[np.ndarray]) -> np.ndarray:
    """The NumPy semantics (every byte of every buffer 0, nothing else touched) on a copy."""
    expected = buf.copy()
    base = _addr(buf)
    for v in views:
        start = _addr(v) - base
        expected[start : start + v.nbytes] = 0
    return expected


@pytest.mark.parametrize("chunk", [1, 7, 16, 40, 64, 1000, mt.GPU_CHUNK_BYTES])
@pytest.mark.parametrize("block", [1, 3, 256])
def test_zero_bytes_any_alignment_and_chunking(chunk, block):
    rng = np.random.default_rng(chunk * 7 + block)
    buf, views = _byte_views(rng, 48)
    expected = _zero_reference(buf, views)
    nbytes = np.array([v.nbytes for v in views], dtype=np.int64)
    ptrs = np.array([_addr(v) for v in views], dtype=np.uint64)
    chunk_buf, chunk_begin = mt.chunk_table(nbytes, chunk)
    emu.misaligned_stores(reset=True)
    emu.zero_bytes(ptrs, nbytes, chunk_buf, chunk_begin, chunk, block=block)
    np.testing.assert_array_equal(buf, expected)  # zeroed exactly, guard bytes intact
    assert emu.misaligned_stores() == 0


def test_emulated_vector_store_check_is_live():
    """A 16-byte store off a 16-byte boundary is counted (it would fault on the GPU), so the
    zero counts above mean something; the kernel's head handling keeps its stores aligned."""
    buf = np.full(64, 9, np.uint8)
    aligned = (-_addr(buf)) % 16
    emu.misaligned_stores(reset=True)
    emu.probe_store(_addr(buf) + aligned)
    assert emu.misaligned_stores() == 0
    emu.probe_store(_addr(buf) + aligned + 4)
    assert emu.misaligned_stores() == 1
    assert not buf[aligned + 4 : aligned + 20].any()


def _reference_average(reps: list[np.ndarray]) -> np.ndarray:
    """mxlite.ops.multi_tensor's reference: sum in replica order in the buffer's dtype (float32
    for float16 on the GPU), divided by k, rounded once to the buffer dtype."""
    acc_dtype = np.float32 if reps[0].dtype == np.float16 else reps[0].dtype.type
    acc = reps[0].astype(acc_dtype)
    for rep in reps[1:]:
        acc = acc + rep.astype(acc_dtype)
    return (acc / acc_dtype(len(reps))).astype(reps[0].dtype)


def _average_tables(reps, outs, chunk):
    numel = np.array([o.size for o in outs], dtype=np.int64)
    in_ptrs = np.array([_addr(r) for rep in reps for r in rep], dtype=np.uint64)
    out_ptrs = np.array([_addr(o) for o in outs], dtype=np.uint64)
    chunk_buf, chunk_begin = mt.chunk_table(numel, chunk)
    return in_ptrs, out_ptrs, numel, chunk_buf, chunk_begin


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("chunk", [1, 5, 64, 4096])
def test_average_bitwise_against_reference(dtype, k, chunk):
    rng = np.random.default_rng(k * 100 + chunk)
    sizes = [1, 2, 3, 4, 5, 63, 64, 65, 200, 1031, 5000]
    reps = [[(rng.standard_normal(n) * 3).astype(dtype) for _ in range(k)] for n in sizes]
    expected = [_reference_average(r) for r in reps]
    outs = [np.full(n, np.nan, dtype) for n in sizes]
    outs[3] = reps[3][0]  # out aliases its first replica
    outs[7] = reps[7][k - 1]  # ... or its last
    emu.average(np.dtype(dtype).name, *_average_tables(reps, outs, chunk), chunk, k, block=7)
    for out, exp in zip(outs, expected):
        np.testing.assert_array_equal(out.view(np.uint8), exp.view(np.uint8))


def test_average_float16_rounds_once_from_float32():
    """Sums that float16 cannot hold (overflow, ties) are formed in float32 and rounded once."""
    big = np.array([60000.0, 60000.0, 1.0, 2049.0], np.float16)
    other = np.array([60000.0, -60000.0, 2.0**-11, 1.0], np.float16)
    reps, outs = [[big, other]], [np.zeros(4, np.float16)]
    emu.average("float16", *_average_tables(reps, outs, 64), 64, 2)
    np.testing.assert_array_equal(outs[0], _reference_average([big, other]))
    assert outs[0][0] == np.float16(60000.0)  # float16 accumulation would give inf


def test_average_float32_subnormals_flush_like_cupy_ftz():
    """CuPy builds RawModules with -ftz=true: float32 subnormals become 0 on the GPU (documented
    divergence from the NumPy/Numba host path; float64 keeps them)."""
    tiny32 = np.array([1e-40, -3e-39, 1e-30, 2e-38], np.float32)
    reps32, outs32 = [[tiny32, tiny32.copy()]], [np.ones(4, np.float32)]
    emu.average("float32", *_average_tables(reps32, outs32, 64), 64, 2)
    flushed = np.where(np.abs(tiny32) < np.finfo(np.float32).tiny, np.float32(0), tiny32)
    np.testing.assert_array_equal(outs32[0], _reference_average([flushed, flushed]))
    assert outs32[0][0] == 0 and _reference_average([tiny32, tiny32])[0] != 0
    tiny64 = np.array([1e-310, 3e-320], np.float64)
    reps64, outs64 = [[tiny64, tiny64.copy()]], [np.ones(2, np.float64)]
    emu.average("float64", *_average_tables(reps64, outs64, 64), 64, 2)
    np.testing.assert_array_equal(outs64[0], _reference_average([tiny64, tiny64]))


# ----------------------------------------------------- the GPU branches through a fake CuPy
@pytest.fixture
def fake_cp(monkeypatch):
    """CuPy replaced by host memory + the emulated kernels; mxlite.backend sees one GPU."""
    cp = cuda_host_emu.install_fake_cupy(monkeypatch)
    monkeypatch.setattr(cuda_host_emu, "EXTRA_LAUNCHERS", dict(cuda_host_emu.EXTRA_LAUNCHERS))
    emu.install()
    monkeypatch.setattr(backend, "_probe_cupy", lambda: (cp, 1, ""))
    emu.misaligned_stores(reset=True)
    yield cp
    assert emu.misaligned_stores() == 0


def _fake_views(cp, rng, count):
    """Fake-device arrays of several dtypes at byte offsets of one buffer, plus guard bytes."""
    dtypes = [np.float32, np.float16, np.float64, np.int8, np.uint8, np.int32]
    buf = cp.asarray(np.full(1 << 16, GUARD, np.uint8))
    views, pos = [], 0
    for i in range(count):
        dt = np.dtype(dtypes[i % len(dtypes)])
        n = int(rng.integers(1, 700))
        pos += int(rng.integers(0, 3)) * dt.itemsize + (-pos) % dt.itemsize
        views.append(buf[pos : pos + n * dt.itemsize].view(dt))
        pos += n * dt.itemsize + 3
    assert pos < buf.size
    return buf, views


@pytest.mark.parametrize("count", [3, 40])
def test_zero_plan_gpu_branch_end_to_end(fake_cp, count):
    rng = np.random.default_rng(count)
    buf, views = _fake_views(fake_cp, rng, count)
    strided = fake_cp.full((6, 5), 3.0, np.float32)[:, ::2]
    expected = _zero_reference(np.asarray(buf), [np.asarray(v) for v in views])
    plan = mt.ZeroPlan([*views, strided])
    assert plan._gpu and (plan._table is None) == (count <= mt._GPU_MEMSET_MAX_BUFFERS)
    plan()
    np.testing.assert_array_equal(np.asarray(buf), expected)
    assert not np.asarray(strided).any()
    for v in views:  # the cached plan serves the same buffers again
        v[...] = 1
    plan()
    np.testing.assert_array_equal(np.asarray(buf), expected)


def test_zero_plan_gpu_table_spans_chunks(fake_cp):
    big = [fake_cp.full(n, 7.0, np.float32) for n in (mt.GPU_CHUNK_BYTES // 4 + 3, 5, 70000)]
    small = [fake_cp.full(3, 1, np.int8) for _ in range(3)]
    plan = mt.ZeroPlan(big + small)
    addrs, nbytes, chunk_buf, chunk_begin, chunk = plan._table
    assert addrs.dtype == np.uint64 and nbytes.dtype == np.int64
    assert chunk_buf.dtype == np.int32 and chunk_begin.dtype == np.int64
    total = sum(a.nbytes for a in big + small)
    assert chunk == mt.gpu_chunk_bytes(total, 2) < mt.GPU_CHUNK_BYTES  # the fake GPU has 2 SMs
    sizes = [a.nbytes for a in big + small]
    assert int(chunk_buf.size) == sum(-(-n // chunk) for n in sizes) >= 2 * 2 * 8
    plan()
    assert all(not np.asarray(a).any() for a in big + small)


def test_gpu_chunks_fill_the_device_by_sm_count():
    """ResNet-50's parameters (161 buffers, 102 MB) on a 132-SM H100: a fixed 256 KiB chunk gave
    508 blocks, under half of one wave (8 blocks of 256 threads per SM); chunks sized by the SM
    count give at least two full waves, and small sets stop at the 16 KiB floor."""
    from bench import sets

    nbytes = np.array([int(np.prod(s)) * 4 for s in sets.s2().shapes], dtype=np.int64)
    wave = 132 * mt.GPU_BLOCKS_PER_SM
    assert len(mt.chunk_table(nbytes, mt.GPU_CHUNK_BYTES)[0]) == 508 < wave
    chunk = mt.gpu_chunk_bytes(int(nbytes.sum()), 132)
    assert chunk == 1 << 15 and len(mt.chunk_table(nbytes, chunk)[0]) >= 2 * wave
    assert mt.gpu_chunk_bytes(int(nbytes.sum()), 16) == mt.GPU_CHUNK_BYTES  # a small GPU
    assert mt.gpu_chunk_bytes(4096, 132) == mt.GPU_MIN_CHUNK_BYTES


def test_multi_zero_groups_by_device(fake_cp):
    host = [np.ones(10, np.float32)]
    dev = [fake_cp.full(10, 1.0, np.float32) for _ in range(6)]
    mt.multi_zero(host + dev)
    assert not host[0].any() and all(not np.asarray(d).any() for d in dev)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_average_plan_gpu_branch_end_to_end(fake_cp, dtype):
    rng = np.random.default_rng(3)
    k = 3
    chunk_elems = mt.GPU_CHUNK_BYTES // np.dtype(dtype).itemsize
    sizes = [1, 7, 300, chunk_elems + 5]
    reps_h = [[rng.standard_normal(n).astype(dtype) for _ in range(k)] for n in sizes]
    reps = [[fake_cp.asarray(r) for r in rep] for rep in reps_h]
    outs = [fake_cp.full(n, np.nan, dtype) for n in sizes]
    outs[1] = reps[1][0]  # in place into the first replica
    mt.multi_average(reps, outs)
    for out, rep in zip(outs, reps_h):
        np.testing.assert_array_equal(np.asarray(out), _reference_average(rep))


def test_average_plan_gpu_slow_family(fake_cp):
    """Integer and strided buffers take the per-buffer path on the device (NumPy semantics)."""
    ints = [fake_cp.asarray(np.array([1, 2, 7], np.int32)), fake_cp.asarray(np.array([2, 2, 0]))]
    ints[1] = ints[1].astype(np.int32)
    base = fake_cp.asarray(np.arange(12, dtype=np.float32))
    strided = [base[::2], base[1::2]]
    out_i = fake_cp.zeros(3, np.int32)
    out_s = fake_cp.zeros(6, np.float32)
    mt.multi_average([ints, strided], [out_i, out_s])
    np.testing.assert_array_equal(np.asarray(out_i), np.array([1, 2, 3], np.int32))
    np.testing.assert_array_equal(np.asarray(out_s), np.arange(0.5, 12, 2, dtype=np.float32))


def test_average_plan_gpu_launch_arguments(fake_cp, monkeypatch):
    """The launch gets device tables of the kernel's pointer types and one block per chunk."""
    from mxlite.ops import _cuda

    seen = []
    real = _cuda.multi_average

    def spy(family, in_addrs, out_addrs, numel, chunk_buf, chunk_begin, chunk, k):
        seen.append((family, in_addrs.dtype, out_addrs.dtype, numel.dtype, chunk_buf.dtype,
                     chunk_begin.dtype, chunk, k, type(in_addrs).__module__))  # fmt: skip
        real(family, in_addrs, out_addrs, numel, chunk_buf, chunk_begin, chunk, k)

    monkeypatch.setattr(_cuda, "multi_average", spy)
    reps = [[fake_cp.full(5, float(i), np.float32) for i in range(2)] for _ in range(3)]
    outs = [fake_cp.zeros(5, np.float32) for _ in range(3)]
    mt.multi_average(reps, outs)
    assert seen == [
        ("float32", np.uint64, np.uint64, np.int64, np.int32, np.int64,
         mt.GPU_MIN_CHUNK_BYTES // 4, 2, "cupy"),
    ]  # fmt: skip
    assert all((np.asarray(o) == 0.5).all() for o in outs)


def test_average_plan_refuses_mixed_devices_and_writes_nothing(fake_cp):
    """A host pointer in a device launch (or the reverse) would fault or read garbage: refused."""
    dev = [fake_cp.full(4, 2.0, np.float32) for _ in range(2)]
    host = [np.full(4, 4.0, np.float32) for _ in range(2)]
    out_dev, out_host = fake_cp.full(4, -1.0, np.float32), np.full(4, -1.0, np.float32)
    with pytest.raises(ValueError, match="must live on GPU 0.*move the replicas"):
        mt.multi_average([[dev[0], host[0]]], [out_dev])
    with pytest.raises(ValueError, match="must live on the host"):
        mt.multi_average([[host[0], dev[0]]], [out_host])
    assert (np.asarray(out_dev) == -1).all() and (out_host == -1).all()


def test_average_plan_mixed_dtypes_or_shapes_take_the_numpy_path():
    """Replicas whose dtype or shape differ from the output are never read as the output's type."""
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])  # float64 replicas
    out = np.zeros(3, np.float32)
    plan = mt.AveragePlan([[a, b]], [out])
    assert list(plan._groups) == ["slow"]
    plan()
    np.testing.assert_array_equal(out, ((a + b) / 2).astype(np.float32))
    row = np.array([[1.0, 3.0]], np.float32)
    out2 = np.zeros((2, 2), np.float32)
    mt.multi_average([[np.ones((2, 2), np.float32), row]], [out2])  # broadcast, as NumPy
    np.testing.assert_array_equal(out2, np.array([[1.0, 2.0], [1.0, 2.0]], np.float32))
