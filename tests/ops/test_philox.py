"""Philox4x32-10 against Random123's known answers, on every backend that can run here."""

from __future__ import annotations

import numpy as np
import pytest

from mxlite import ops
from mxlite.ops import _reference
from mxlite.ops._numba import fill as _cpu
from tests._support import cuda_host_emu

# (counter, key, expected output) from Random123's kat_vectors for philox4x32_10.
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    (
        [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
        [0xA4093822, 0x299F31D0],
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
    ),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
]
KAT_CTR = np.array([c for c, _, _ in KAT], dtype=np.uint32)
KAT_KEY = np.array([k for _, k, _ in KAT], dtype=np.uint32)
KAT_OUT = np.array([o for _, _, o in KAT], dtype=np.uint32)

needs_gxx = pytest.mark.skipif(
    not cuda_host_emu.available(), reason="g++ not on PATH: cannot emulate the CUDA source"
)


def _random_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 2**32, size=(n, 4), dtype=np.uint64).astype(np.uint32),
        rng.integers(0, 2**32, size=(n, 2), dtype=np.uint64).astype(np.uint32),
    )


@pytest.mark.parametrize(
    "impl",
    [_reference.philox4x32, _cpu.philox4x32, ops.philox4x32],
    ids=["reference", "numba", "ops"],
)
def test_known_answers(impl):
    out = impl(KAT_CTR, KAT_KEY)
    assert out.dtype == np.uint32
    np.testing.assert_array_equal(out, KAT_OUT)


@pytest.mark.parametrize(
    "impl", [_reference.philox4x32, _cpu.philox4x32], ids=["reference", "numba"]
)
def test_known_answers_one_row_at_a_time(impl):
    for ctr, key, expected in KAT:
        np.testing.assert_array_equal(
            impl(np.array(ctr, np.uint32), np.array(key, np.uint32)), expected
        )


def test_key_broadcasts_over_counters():
    ctr, _ = _random_rows(7, 1)
    key = np.array([0xA4093822, 0x299F31D0], dtype=np.uint32)
    shared = _cpu.philox4x32(ctr.reshape(7, 1, 4), key)
    assert shared.shape == (7, 1, 4)
    per_row = _cpu.philox4x32(ctr, np.tile(key, (7, 1)))
    np.testing.assert_array_equal(shared.reshape(7, 4), per_row)


def test_numba_matches_reference_on_random_rows():
    ctr, key = _random_rows(2000, 2)
    np.testing.assert_array_equal(_cpu.philox4x32(ctr, key), _reference.philox4x32(ctr, key))


def test_every_word_and_round_matters():
    """Flipping one bit of any counter or key word changes about half of the output bits."""
    base = _reference.philox4x32(KAT_CTR[1], KAT_KEY[1])
    for word in range(6):
        ctr, key = KAT_CTR[1].copy(), KAT_KEY[1].copy()
        if word < 4:
            ctr[word] ^= np.uint32(1)
        else:
            key[word - 4] ^= np.uint32(1)
        flipped = np.unpackbits((_reference.philox4x32(ctr, key) ^ base).view(np.uint8)).sum()
        assert 32 <= flipped <= 96, (word, flipped)


@needs_gxx
def test_cuda_source_known_answers_host_emulation():
    """kernels/philox.cuh, compiled by g++ against a CUDA shim, gives Random123's answers."""
    np.testing.assert_array_equal(cuda_host_emu.philox(KAT_CTR, KAT_KEY), KAT_OUT)
    ctr, key = _random_rows(500, 3)
    np.testing.assert_array_equal(cuda_host_emu.philox(ctr, key), _reference.philox4x32(ctr, key))


def _device_body(cp) -> None:
    out = ops.philox4x32(cp.asarray(KAT_CTR), cp.asarray(KAT_KEY))
    assert type(out).__module__.startswith("cupy")
    np.testing.assert_array_equal(cp.asnumpy(out), KAT_OUT)
    ctr, key = _random_rows(5000, 4)
    got = ops.philox4x32(cp.asarray(ctr.reshape(50, 100, 4)), cp.asarray(key[0]))  # broadcast key
    assert got.shape == (50, 100, 4)
    np.testing.assert_array_equal(
        cp.asnumpy(got).reshape(-1, 4), _reference.philox4x32(ctr, key[0])
    )


@pytest.mark.gpu
def test_known_answers_gpu(gpu_ctx):
    import cupy as cp

    with cp.cuda.Device(gpu_ctx.device_id):
        _device_body(cp)


@needs_gxx
def test_known_answers_through_cuda_module_host_emulation(monkeypatch):
    """mxlite/ops/_cuda.py's philox4x32 end to end, on a fake CuPy running the emulated kernel."""
    _device_body(cuda_host_emu.install_fake_cupy(monkeypatch))
