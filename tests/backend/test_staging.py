"""mxlite.backend.staging: batched device<->host copies through reused pinned chunks.

Without a GPU the logic runs against a fake CuPy whose asynchronous copies really are deferred:
``memcpyAsync`` only queues the copy, and it happens when an event recorded after it (or the
stream) is synchronized. Reading a chunk before its event completed, or overwriting a chunk whose
copies are still queued, therefore gives wrong bytes here as it would on a GPU. The GPU-marked
tests run the same bodies on real CuPy.
"""

from __future__ import annotations

import ctypes
import types

import numpy as np
import pytest

from mxlite import backend
from mxlite.backend import staging
from tests._support import cuda_host_emu


class _Queue:
    def __init__(self) -> None:
        self.ops: list = []
        self.done = 0

    def run_to(self, n: int) -> None:
        while self.done < n:
            self.ops[self.done]()
            self.done += 1


class _Pinned(bytearray):
    @property
    def ptr(self) -> int:
        return ctypes.addressof((ctypes.c_char * len(self)).from_buffer(self))


def _install_async(cp, queue: _Queue) -> None:
    stream = types.SimpleNamespace(ptr=7, synchronize=lambda: queue.run_to(len(queue.ops)))

    class Event:
        def __init__(self, block=False, disable_timing=False):
            self.mark = None

        def record(self, s=None):
            self.mark = len(queue.ops)

        def synchronize(self):
            queue.run_to(self.mark)

    def memcpy_async(dst, src, n, kind, stream_ptr):
        assert stream_ptr == 7 and kind in (1, 2)
        queue.ops.append(lambda: ctypes.memmove(dst, src, n))

    cp.cuda.alloc_pinned_memory = lambda n: _Pinned(n)
    cp.cuda.runtime = types.SimpleNamespace(memcpyAsync=memcpy_async)
    cp.cuda.Event = Event
    cp.cuda.get_current_stream = lambda: stream
    cp.copyto = np.copyto


@pytest.fixture
def fake(monkeypatch):
    cp = cuda_host_emu.install_fake_cupy(monkeypatch)
    queue = _Queue()
    _install_async(cp, queue)
    monkeypatch.setattr(backend, "_probe_cupy", lambda: (cp, 1, ""))
    monkeypatch.setattr(staging, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(staging, "_POOL", staging._Pool())
    return cp, queue


def _arrays(rng, cp):
    out = []
    for i, (shape, dtype) in enumerate(
        [
            ((3, 5), np.float32),
            ((1000,), np.float64),  # 8000 bytes: spans chunks
            ((0,), np.float32),
            ((7,), np.float16),
            ((33, 100), np.float32),  # 13200 bytes: more than three chunks
            ((5,), np.int32),
            ((2, 3, 4), np.uint8),
        ]
    ):
        host = (rng.standard_normal(shape) * 100).astype(dtype)
        out.append((host, cp.asarray(host)))
    return out


def test_to_host_through_small_chunks(fake):
    cp, queue = fake
    rng = np.random.default_rng(1)
    pairs = _arrays(rng, cp)
    got = staging.to_host([dev for _, dev in pairs])
    for (host, _), out in zip(pairs, got):
        assert type(out) is np.ndarray and out.flags.c_contiguous
        assert out.dtype == host.dtype and out.shape == host.shape
        assert out.tobytes() == host.tobytes()
    assert queue.done == len(queue.ops)  # everything it queued was waited for


def test_to_host_strided_source(fake):
    cp, _ = fake
    base = cp.asarray(np.arange(60, dtype=np.float32).reshape(6, 10))
    (out,) = staging.to_host([base[:, ::3]])
    assert np.array_equal(out, np.arange(60, dtype=np.float32).reshape(6, 10)[:, ::3])


def test_to_device_into_reads_hosts_before_returning(fake):
    cp, queue = fake
    rng = np.random.default_rng(2)
    pairs = _arrays(rng, cp)
    hosts = [host.copy() for host, _ in pairs]
    dests = [cp.empty(h.shape, h.dtype) for h in hosts]
    staging.to_device_into(hosts, dests)
    for h in hosts:  # the caller may reuse its buffers at once
        h[...] = 0
    queue.run_to(len(queue.ops))  # the stream catches up
    for (orig, _), dst in zip(pairs, dests):
        assert np.asarray(dst).tobytes() == orig.tobytes()


def test_back_to_back_batches_reuse_the_chunks_safely(fake):
    cp, queue = fake
    rng = np.random.default_rng(3)
    for round_ in range(4):
        pairs = _arrays(rng, cp)
        dests = [cp.empty(h.shape, h.dtype) for h, _ in pairs]
        staging.to_device_into([h for h, _ in pairs], dests)
        back = staging.to_host(dests)
        for (h, _), out in zip(pairs, back):
            assert out.tobytes() == h.tobytes(), round_


def test_bad_input_copies_nothing(fake):
    cp, queue = fake
    host = np.ones((3,), np.float32)
    dst = cp.zeros((3,), np.float32)
    with pytest.raises(ValueError, match="cast or reshape first"):
        staging.to_device_into([host, host], [dst, cp.zeros((4,), np.float32)])
    with pytest.raises(ValueError, match="2 host arrays but 1 destinations"):
        staging.to_device_into([host, host], [dst])
    with pytest.raises(TypeError, match="not a cupy.ndarray"):
        staging.to_device_into([host], [np.zeros(3, np.float32)])
    with pytest.raises(TypeError, match="entry 0 is a ndarray"):
        staging.to_host([np.zeros(3)])
    assert queue.ops == []
    assert not np.asarray(dst).any()


def test_release_drops_the_chunks(fake):
    cp, _ = fake
    staging.to_host([cp.asarray(np.ones(10))])
    assert staging._POOL.slots
    staging.release()
    assert staging._POOL.slots == []


@pytest.mark.gpu
def test_gpu_round_trip_many_arrays(gpu_ctx):
    import cupy as cp

    rng = np.random.default_rng(4)
    hosts = [
        (rng.standard_normal(n) * 10).astype(dt)
        for n, dt in [(1, np.float32), (5_000_001, np.float32), (17, np.float16), (3, np.int64)]
        * 40
    ]
    dests = [cp.empty(h.shape, h.dtype) for h in hosts]
    staging.to_device_into(hosts, dests)
    back = staging.to_host(dests)
    for h, d, b in zip(hosts, dests, back):
        assert b.tobytes() == h.tobytes()
        assert cp.asnumpy(d).tobytes() == h.tobytes()
    strided = cp.arange(100, dtype=cp.float32).reshape(10, 10)[:, ::2]
    assert np.array_equal(staging.to_host([strided])[0], cp.asnumpy(strided))
