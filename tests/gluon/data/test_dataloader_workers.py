"""DataLoader workers (processes and threads): same batches as the main process, worker deaths
reported at once (never a hang), exceptions with their type, timeouts, prefetching, abandoned
and concurrent epochs, restarts, clean shutdown, and how batches cross the process boundary."""

from __future__ import annotations

import collections
import gc
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite.gluon import data as gdata
from mxlite.gluon.data import _wire
from mxlite.gluon.data._workers import DataLoaderWorkerError, RemoteTraceback

PARENT = os.getpid()
Pair = collections.namedtuple("Pair", ["data", "meta"])
KINDS = [pytest.param(False, id="processes"), pytest.param(True, id="threads")]


def in_worker_process() -> bool:
    return os.getpid() != PARENT


class Squares(gdata.Dataset):
    """Sample i is ``(float32 [i, i*i], i)``; ``action`` runs in a worker process at ``bad``."""

    def __init__(self, n: int = 10, bad: int = -1, action: Any = None) -> None:
        self.n, self.bad, self.action = n, bad, action

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        if i == self.bad and in_worker_process():
            self.action()
        return np.array([i, i * i], dtype=np.float32), i


class SampleError(Exception):
    pass


def raise_sample_error() -> None:
    raise SampleError("sample 5 is broken")


class _Fixed(gdata.Sampler):
    def __init__(self, order: list[int]) -> None:
        self.order = order

    def __iter__(self) -> Any:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


def as_lists(batches: list[Any]) -> list[Any]:
    return [[x.asnumpy().tolist() for x in b] for b in batches]


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("thread_pool", KINDS)
def test_workers_give_the_main_process_batches_in_sampler_order(thread_pool: bool) -> None:
    ds = Squares(11)
    order = [7, 2, 9, 0, 4, 10, 1, 3, 8, 5, 6]
    for lb in ("keep", "discard", "rollover"):
        sampler = gdata.BatchSampler(_Fixed(order), 3, lb)
        ref_loader = gdata.DataLoader(ds, batch_sampler=sampler)
        expected = [as_lists(list(ref_loader)) for _ in range(3)]
        sampler = gdata.BatchSampler(_Fixed(order), 3, lb)
        loader = gdata.DataLoader(ds, batch_sampler=sampler, num_workers=2, thread_pool=thread_pool)
        got = [list(loader) for _ in range(3)]
        assert [as_lists(epoch) for epoch in got] == expected, lb
        batch = got[0][0]
        assert [x.context for x in batch] == [mx.Context("cpu_shared", 0)] * 2
        assert [np.dtype(x.dtype) for x in batch] == [np.float32, np.int64]


@pytest.mark.parametrize("thread_pool", KINDS)
def test_custom_batches_of_any_structure_come_back_whole(thread_pool: bool) -> None:
    def batchify(samples: list[Any]) -> Any:
        data = mx.nd.array(np.stack([s[0] for s in samples]))
        return {
            "pair": Pair(data, [int(s[1]) for s in samples]),
            "raw": np.array([s[1] for s in samples], dtype=np.int16),
            "np_front": mx.np.array(np.arange(3.0)),
            "text": "ok",
        }

    loader = gdata.DataLoader(
        Squares(4), batch_size=2, batchify_fn=batchify, num_workers=1, thread_pool=thread_pool
    )
    first = next(iter(loader))
    assert isinstance(first["pair"], Pair)
    assert type(first["pair"].data) is mx.nd.NDArray
    assert first["pair"].data.asnumpy().tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert first["pair"].data.context == mx.cpu(0)
    assert first["pair"].meta == [0, 1]
    assert first["raw"].dtype == np.int16 and first["raw"].tolist() == [0, 1]
    assert isinstance(first["np_front"], mx.np.ndarray)
    assert first["text"] == "ok"
    # Arrays that crossed from a process are writable and own their memory.
    first["pair"].data[:] = 7
    assert first["pair"].data.asnumpy().tolist() == [[7.0, 7.0], [7.0, 7.0]]


@pytest.mark.parametrize(
    "action, words",
    [
        pytest.param(lambda: os._exit(3), "exited unexpectedly with exit code 3", id="os._exit"),
        pytest.param(
            lambda: os.kill(os.getpid(), signal.SIGKILL),
            "was killed by signal SIGKILL (9)",
            id="SIGKILL",
        ),
    ],
)
def test_a_worker_that_dies_is_reported_at_once(action: Any, words: str) -> None:
    loader = gdata.DataLoader(Squares(10, bad=5, action=action), batch_size=2, num_workers=2)
    pids = loader._worker_pool.pids
    start = time.monotonic()
    with pytest.raises(DataLoaderWorkerError) as info:
        list(loader)
    assert time.monotonic() - start < 60  # not the 120 s timeout
    message = str(info.value)
    assert words in message
    assert "while loading batch 2 (sample indices [4, 5])" in message
    assert "num_workers=0" in message
    # The pool was shut down: no worker is left behind.
    assert all(pid_gone(pid) for pid in pids)
    assert loader._worker_pool.broken


def test_iterating_again_after_a_death_starts_new_workers(tmp_path: Path) -> None:
    flag = tmp_path / "died-once"

    def die_once() -> None:
        if not flag.exists():
            flag.write_text("x")
            os._exit(4)

    loader = gdata.DataLoader(Squares(6, bad=3, action=die_once), batch_size=2, num_workers=2)
    old_pids = loader._worker_pool.pids
    with pytest.raises(DataLoaderWorkerError, match="exit code 4"):
        list(loader)
    batches = list(loader)
    assert as_lists(batches) == as_lists(list(gdata.DataLoader(Squares(6), batch_size=2)))
    assert set(loader._worker_pool.pids).isdisjoint(old_pids)


@pytest.mark.parametrize("thread_pool", KINDS)
def test_worker_exceptions_keep_their_type_and_message(thread_pool: bool) -> None:
    ds = Squares(10, bad=5, action=raise_sample_error)
    if thread_pool:  # threads run in this process: fail on every call instead
        ds = gdata.SimpleDataset([0, 1]).transform(lambda i: raise_sample_error())
    loader = gdata.DataLoader(ds, batch_size=2, num_workers=2, thread_pool=thread_pool)
    with pytest.raises(SampleError, match="sample 5 is broken") as info:
        list(loader)
    if not thread_pool:
        cause = info.value.__cause__
        assert isinstance(cause, RemoteTraceback)
        assert "raise_sample_error" in str(cause) and "Traceback" in str(cause)
        # The pool survives a Python exception: the next epoch works up to the bad sample.
        it = iter(loader)
        assert next(it)[1].asnumpy().tolist() == [0, 1]


def test_unpicklable_exceptions_and_batches_are_reported() -> None:
    class Local(Exception):  # defined in a function: cannot be pickled
        pass

    def raise_local() -> None:
        raise Local("local failure")

    loader = gdata.DataLoader(Squares(4, bad=1, action=raise_local), batch_size=2, num_workers=1)
    with pytest.raises(RuntimeError, match="Local: local failure"):
        list(loader)
    loader = gdata.DataLoader(
        Squares(4), batch_size=2, num_workers=1, batchify_fn=lambda s: lambda: None
    )
    with pytest.raises(Exception, match="(?i)pickle"):
        list(loader)


class Slow(gdata.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> int:
        time.sleep(1.0)
        return i


@pytest.mark.parametrize("thread_pool", KINDS)
def test_timeout_raises_multiprocessing_timeout_error(thread_pool: bool) -> None:
    loader = gdata.DataLoader(
        Slow(), batch_size=2, num_workers=1, timeout=0.2, thread_pool=thread_pool
    )
    with pytest.raises(multiprocessing.TimeoutError, match="Worker timed out after 0.2 seconds"):
        list(loader)
    with pytest.raises(mx.base.CheckError, match="timeout must be positive, given -1"):
        gdata.DataLoader(Slow(), batch_size=2, timeout=-1)


def test_prefetch_requests_batches_ahead_as_mxnet() -> None:
    loader = gdata.DataLoader(Squares(10), batch_size=1, num_workers=2, prefetch=3)
    it = loader._prefetch_iter()
    assert it._sent == 3 and len(it) == 10
    next(it)
    assert it._sent == 4
    loader = gdata.DataLoader(Squares(10), batch_size=1, num_workers=2)
    assert loader._prefetch == 4 and loader._prefetch_iter()._sent == 4
    loader = gdata.DataLoader(Squares(10), batch_size=1, num_workers=2, prefetch=0)
    it = loader._prefetch_iter()
    assert it._sent == 0
    assert next(it)[1].asnumpy().tolist() == [0] and it._sent == 1


@pytest.mark.parametrize("thread_pool", KINDS)
def test_abandoned_and_interleaved_epochs(thread_pool: bool) -> None:
    ds = Squares(9)
    expected = as_lists(list(gdata.DataLoader(ds, batch_size=2)))
    loader = gdata.DataLoader(ds, batch_size=2, num_workers=2, thread_pool=thread_pool)
    for _ in range(3):  # break out early, several times
        for i, _batch in enumerate(loader):
            if i == 1:
                break
    gc.collect()
    assert as_lists(list(loader)) == expected
    it1, it2 = iter(loader), iter(loader)
    got1, got2 = [], []
    for a, b in zip(it1, it2):
        got1.append(a)
        got2.append(b)
    assert as_lists(got1) == expected and as_lists(got2) == expected
    gc.collect()
    if not thread_pool:
        pool = loader._worker_pool
        pool.get(pool.submit([0], 0), 30)  # collect whatever abandoned epochs left behind
        assert not pool._done and not pool._forgotten


def test_workers_stop_when_the_loader_goes_away() -> None:
    loader = gdata.DataLoader(Squares(4), batch_size=2, num_workers=2)
    pids = loader._worker_pool.pids
    assert not any(pid_gone(pid) for pid in pids)
    del loader
    gc.collect()
    assert all(pid_gone(pid) for pid in pids)


@pytest.mark.parametrize("thread_pool", KINDS)
def test_pinned_batches_from_workers(thread_pool: bool) -> None:
    loader = gdata.DataLoader(
        Squares(4),
        batch_size=2,
        num_workers=1,
        pin_memory=True,
        pin_device_id=1,
        thread_pool=thread_pool,
    )
    batches = list(loader)
    assert all(x.context == mx.cpu_pinned(1) for b in batches for x in b)
    assert as_lists(batches) == as_lists(list(gdata.DataLoader(Squares(4), batch_size=2)))


@pytest.mark.parametrize("thread_pool", KINDS)
def test_numpy_mode_reaches_the_workers(thread_pool: bool) -> None:
    mx.npx.set_np()
    try:
        loader = gdata.DataLoader(Squares(4), batch_size=2, num_workers=1, thread_pool=thread_pool)
        data, label = next(iter(loader))
    finally:
        mx.util.reset_np()
    assert isinstance(data, mx.np.ndarray) and isinstance(label, mx.np.ndarray)
    assert data.shape == (2, 2)


def test_wire_round_trip_keeps_classes_contexts_and_values() -> None:
    nd = mx.nd.array([[1, 2], [3, 4]], ctx=mx.cpu(1), dtype="int32")
    batch = {"a": [nd, (mx.np.array([1.5]), 3)], "b": np.arange(3)}
    back = _wire.from_wire(_wire.to_wire(batch))
    assert back["a"][0].context == mx.cpu(1)
    assert back["a"][0].asnumpy().tolist() == [[1, 2], [3, 4]]
    assert np.dtype(back["a"][0].dtype) == np.int32
    assert isinstance(back["a"][1], tuple) and isinstance(back["a"][1][0], mx.np.ndarray)
    assert back["b"].tolist() == [0, 1, 2]
    receiver, sender = multiprocessing.Pipe(duplex=False)
    try:
        _wire.send_message(sender, (7, "ok", None), _wire.to_wire(batch))
        header, body = _wire.recv_message(receiver)
    finally:
        sender.close()
        receiver.close()
    assert header == (7, "ok", None)
    out = _wire.from_wire(body)
    assert out["a"][0].asnumpy().tolist() == [[1, 2], [3, 4]]
    out["a"][0][:] = 0  # received buffers are writable
    assert nd.asnumpy().tolist() == [[1, 2], [3, 4]]
