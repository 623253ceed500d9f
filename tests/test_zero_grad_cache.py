"""ParameterDict.zero_grad: cached one-launch-per-device plans, rebuilt only when gradients change."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import mxlite as mx
from mxlite import _epoch
from mxlite.base import MXNetError
from mxlite.gluon import ParameterDict, _grad_cache, nn
from mxlite.ops.multi_tensor import ZeroPlan


def _dict(n=4, ctx=None, dtypes=("float32",), shape=(3, 5)):
    pd = ParameterDict("t_")
    for i in range(n):
        pd.get(f"p{i}_weight", shape=shape, dtype=dtypes[i % len(dtypes)])
    pd.initialize(mx.init.Uniform(), ctx=ctx)
    return pd


def _poison(pd, value=np.nan):
    for p in pd.values():
        if p._grad is None:
            continue
        for g in p.list_grad():
            raw = g._data
            if raw.dtype.kind == "f" or raw.dtype.name == "bfloat16":
                raw[...] = value
            else:
                raw[...] = 7


def _all_zero_bits(pd):
    for p in pd.values():
        if p._grad is None:
            continue
        for g in p.list_grad():
            raw = np.ascontiguousarray(mx.backend.to_numpy(g._data))
            if raw.view(np.uint8).any():
                return False
    return True


class _BuildSpy:
    def __init__(self, monkeypatch):
        self.count = 0
        real = _grad_cache.build

        def spy(params):
            self.count += 1
            return real(params)

        monkeypatch.setattr(_grad_cache, "build", spy)


# ------------------------------------------------------------------------------ reuse
def test_plan_reused_while_nothing_changes(monkeypatch):
    pd = _dict()
    spy = _BuildSpy(monkeypatch)
    _poison(pd)
    pd.zero_grad()
    first = pd._zero_cache[0]
    assert spy.count == 1 and _all_zero_bits(pd)
    for _ in range(3):
        _poison(pd, 1.5)
        pd.zero_grad()
        assert _all_zero_bits(pd)
    assert spy.count == 1
    assert pd._zero_cache[0] is first


def test_unchanged_call_does_constant_python_work():
    """The cached path does the same Python calls for 3 and for 300 Parameters."""

    def calls(pd):
        pd.zero_grad()  # build the cache
        count = [0]

        def prof(frame, event, arg):
            if event == "call":
                count[0] += 1

        sys.setprofile(prof)
        try:
            pd.zero_grad()
        finally:
            sys.setprofile(None)
        return count[0]

    small, large = _dict(3, shape=(2,)), _dict(300, shape=(2,))
    assert calls(small) == calls(large) <= 12


def test_fresh_dicts_over_the_same_parameters_share_the_plan(monkeypatch):
    net = nn.Sequential()
    with net.name_scope():
        net.add(nn.Dense(4, in_units=3), nn.Dense(2, in_units=4))
    net.initialize()
    spy = _BuildSpy(monkeypatch)
    net.collect_params().zero_grad()
    net.collect_params().zero_grad()  # a new dict each time, as in MXNet
    assert spy.count == 1
    _poison(net.collect_params())
    net.collect_params().zero_grad()
    assert _all_zero_bits(net.collect_params()) and spy.count == 1


# ------------------------------------------------------------------------------ invalidation
@pytest.mark.parametrize(
    "change",
    [
        "force_reinit",
        "reset_ctx",
        "grad_req_null",
        "grad_req_add",
        "cast",
        "add_param",
        "load_uninitialized",
    ],
)
def test_plan_rebuilt_after_gradients_change(monkeypatch, change, tmp_path):
    pd = _dict(3)
    pd.zero_grad()
    old = pd._zero_cache[0]
    spy = _BuildSpy(monkeypatch)
    p0 = pd["t_p0_weight"]
    if change == "force_reinit":
        pd.initialize(mx.init.Xavier(), force_reinit=True)
    elif change == "reset_ctx":
        pd.reset_ctx([mx.cpu(1), mx.cpu(2)])
    elif change == "grad_req_null":
        p0.grad_req = "null"
    elif change == "grad_req_add":
        p0.grad_req = "null"
        p0.grad_req = "add"
    elif change == "cast":
        pd["t_p1_weight"].cast("float64")
    elif change == "add_param":
        pd.get("extra_weight", shape=(2, 2))
        pd["t_extra_weight"].initialize()
    elif change == "load_uninitialized":
        path = str(tmp_path / "p.params")
        pd.save(path)
        pd.get("late_weight", shape=(3, 5))
        src = ParameterDict("t_")
        src.get("late_weight", shape=(3, 5)).initialize()
        src.save(str(tmp_path / "late.params"))
        pd.load(str(tmp_path / "late.params"), allow_missing=True)
    assert not old.current and old.plans == ()  # stale plans release their buffers at once
    _poison(pd)
    pd.zero_grad()
    assert spy.count == 1
    assert _all_zero_bits(pd)
    if change == "grad_req_null":
        assert p0._grad is None


def test_stale_plan_never_touches_replaced_buffers():
    pd = _dict(2)
    pd.zero_grad()
    old_grads = [g._data for g in pd["t_p0_weight"].list_grad()]
    pd.initialize(force_reinit=True)
    for raw in old_grads:
        raw[...] = 5.0
    pd.zero_grad()
    assert all((raw == 5.0).all() for raw in old_grads)
    assert _all_zero_bits(pd)


# ------------------------------------------------------------------------------ dtypes, contexts
def test_mixed_float_dtypes_one_plan_per_host(monkeypatch):
    pd = _dict(8, ctx=[mx.cpu(0), mx.cpu(1)], dtypes=("float16", "float32", "float64", "bfloat16"))
    calls = []
    real = ZeroPlan.__call__

    def spy(self):
        calls.append(len(self._arrays))
        return real(self)

    monkeypatch.setattr(ZeroPlan, "__call__", spy)
    _poison(pd)
    pd.zero_grad()
    assert calls == [16]
    assert _all_zero_bits(pd)


def test_large_set_goes_through_the_table(monkeypatch):
    # Big enough for a chunk table (not the small-set fill loop), with a buffer split in chunks.
    pd = ParameterDict()
    pd.get("a_weight", shape=(700, 1000))
    for i in range(40):
        pd.get(f"b{i}_weight", shape=(33, 17), dtype="float16" if i % 2 else "float32")
    pd.initialize()
    _poison(pd)
    pd.zero_grad()
    assert pd._zero_cache[0].plans[0]._table is not None
    assert _all_zero_bits(pd)


def test_integer_gradients_refused_in_legacy_mode_nothing_zeroed():
    pd = ParameterDict()
    pd.get("f_weight", shape=(2, 2))
    pd.get("i_weight", shape=(2, 2), dtype="int32", init="zeros")
    pd.initialize()
    _poison(pd)
    with pytest.raises(MXNetError, match="only support floating point types, not int32"):
        pd.zero_grad()
    assert np.isnan(pd["f_weight"].grad().asnumpy()).all()
    assert (pd["i_weight"].grad().asnumpy() == 7).all()


def test_integer_gradients_zeroed_in_numpy_mode():
    pd = ParameterDict()
    pd.get("f_weight", shape=(2, 2))
    pd.get("i_weight", shape=(2, 2), dtype="int32", init="zeros")
    pd.initialize()
    _poison(pd)
    with mx.util.np_array(True), mx.util.np_shape(True):
        pd.zero_grad()
    assert _all_zero_bits(pd)


def test_parameters_without_gradients_are_skipped():
    pd = ParameterDict()
    pd.get("a_weight", shape=(2,), grad_req="null")
    pd.get("b_weight", shape=(0, 3), allow_deferred_init=True)
    pd.get_constant("c", [1.0, 2.0])
    pd.initialize()
    pd.zero_grad()  # nothing to zero: no error, no plan
    assert pd._zero_cache[0].plans == ()


def test_reset_arrays_still_works_uncached():
    a = mx.nd.ones((3, 4))
    b = mx.nd.ones((5,), dtype="float64")
    mx.nd.reset_arrays(a, b, num_arrays=2)
    assert a.asnumpy().sum() == 0 and b.asnumpy().sum() == 0


@pytest.mark.gpu
def test_gpu_and_mixed_contexts(gpu_ctx):
    pd = _dict(6, ctx=[gpu_ctx, mx.cpu(0)], dtypes=("float16", "float32", "float64"))
    _poison(pd)
    pd.zero_grad()
    assert len(pd._zero_cache[0].plans) == 2  # one per device
    assert _all_zero_bits(pd)
    big = _dict(30, ctx=[gpu_ctx], shape=(129, 257))
    _poison(big)
    big.zero_grad()
    big.zero_grad()
    assert big._zero_cache[0].plans[0]._table is not None
    assert _all_zero_bits(big)


# ------------------------------------------------------------------------------ threads
def _run_threads(targets: list) -> None:
    """Run ``targets`` in threads at a 10 us switch interval (restored afterwards)."""
    import threading

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=target) for target in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(old)
    assert not any(t.is_alive() for t in threads)


def _race(steps: int, fresh_dicts: bool) -> tuple[list[int], list[BaseException]]:
    """One thread zeroes its dict's gradients (grad_req='add') while another keeps (re)allocating
    gradient buffers of other Parameters; returns the steps whose zero_grad left a gradient
    non-zero, and what either thread raised."""
    import threading

    pd = ParameterDict("race_")
    for i in range(8):
        pd.get(f"p{i}_weight", shape=(4, 3), grad_req="add")
    pd.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    grads = [g._data for p in pd.values() for g in p.list_grad()]
    missed: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def zeroer() -> None:
        try:
            for step in range(steps):
                for raw in grads:
                    raw[...] = 1.0
                if fresh_dicts:  # a fresh dict each time, as net.collect_params() gives
                    fresh = ParameterDict("race_")
                    fresh.update(pd)
                    fresh.zero_grad()
                else:
                    pd.zero_grad()
                if any(raw.any() for raw in grads):
                    missed.append(step)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)
        finally:
            done.set()

    def allocator() -> None:
        try:
            other = ParameterDict("other_")
            for i in range(4):
                other.get(f"q{i}_weight", shape=(2, 2))
            other.initialize()
            q0 = other["other_q0_weight"]
            while not done.is_set():
                for _ in range(20):  # each change reallocates (or drops) q0's gradient buffer
                    q0.grad_req = "null"
                    q0.grad_req = "write"
                other.zero_grad()  # builds a plan: caches are registered while others drop
                other.initialize(force_reinit=True)
        except BaseException as err:  # noqa: BLE001
            errors.append(err)
            done.set()

    _run_threads([zeroer, allocator])
    return missed, errors


@pytest.mark.slow
@pytest.mark.parametrize("fresh_dicts", [False, True], ids=["held", "collect_params"])
def test_zero_grad_is_thread_safe_while_other_buffers_change(fresh_dicts: bool) -> None:
    missed, errors = _race(20000, fresh_dicts)
    assert not errors, errors
    assert not missed, f"zero_grad left gradients non-zero at {len(missed)} steps: {missed[:10]}"


@pytest.mark.slow
def test_threads_that_build_and_invalidate_plans_at_once_never_fail() -> None:
    """Four threads each toggle a gradient (dropping every cached plan) and rebuild their own
    plan: the registry of live plans is changed by one while another walks it."""
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            pd = ParameterDict(f"w{k}_")
            for i in range(6):
                pd.get(f"p{i}_weight", shape=(2, 2))
            pd.initialize()
            p0 = pd[f"w{k}_p0_weight"]
            for _ in range(4000):
                p0.grad_req = "null"
                p0.grad_req = "write"
                _poison(pd)
                pd.zero_grad()
                if not _all_zero_bits(pd):
                    raise AssertionError("zero_grad left a gradient non-zero")
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    _run_threads([lambda k=k: worker(k) for k in range(4)])
    assert not errors, errors[:3]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks")
def test_forked_child_rebuilds_plans_even_if_the_lock_was_held() -> None:
    pd = _dict(2)
    with _grad_cache._LOCK:  # another thread of the parent holds it at the fork
        pid = os.fork()
        if pid == 0:  # the child: an invalidation and a rebuild need the lock
            code = 1  # (no kernel runs here: OpenMP refuses to run in a forked child)
            try:
                _epoch.BUFFERS.bump()
                cache, plans = _grad_cache.lookup(tuple(pd.values()))
                code = 0 if cache.current and len(plans) == 1 else 2
            finally:
                os._exit(code)
    import signal
    import time

    deadline = time.monotonic() + 60
    done, status = os.waitpid(pid, os.WNOHANG)
    while not done and time.monotonic() < deadline:
        time.sleep(0.05)
        done, status = os.waitpid(pid, os.WNOHANG)
    if not done:  # deadlocked on the lock it inherited
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done and os.waitstatus_to_exitcode(status) == 0
