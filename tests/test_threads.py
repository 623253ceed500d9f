"""The process's thread policy (mxlite._threads): one count for the BLAS and Numba pools, that
follows the cores other processes leave free, and that user settings override."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import mxlite as mx
from mxlite import _threads


def _run(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter (environment variables only apply at start-up) and
    return the JSON it prints last."""
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    full_env.pop("NUMBA_THREADING_LAYER", None)
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


_PROBE = """
    import json
    import mxlite as mx
    from mxlite import nd, _threads
    from threadpoolctl import threadpool_info
    mx.util.set_num_threads({fixed})
    params = mx.gluon.ParameterDict()
    params.get("w", shape=(300, 300))
    params.initialize(ctx=mx.cpu())                    # a Numba launch (which loads SciPy's BLAS)
    nd.dot(nd.ones((64, 64)), nd.ones((64, 64))).wait_to_read()   # a BLAS call under the policy
    import numba
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    print(json.dumps({{"policy": mx.util.thread_policy(), "blas": blas,
                      "numba_layer": numba.config.THREADING_LAYER,
                      "numba_threads": numba.get_num_threads()}}))
"""


def test_fixed_count_reaches_blas_and_numba() -> None:
    got = _run(_PROBE.format(fixed=1))
    assert got["policy"]["mode"] == "fixed"
    assert got["policy"]["threads"] == 1
    assert got["blas"] and set(got["blas"]) == {1}
    assert got["numba_threads"] == 1
    assert got["numba_layer"] == "workqueue"


def test_blas_environment_variable_wins_over_the_policy() -> None:
    got = _run(_PROBE.format(fixed=2), OPENBLAS_NUM_THREADS="1", NUMBA_THREADING_LAYER="omp")
    assert got["policy"]["blas"] == "left to the environment"
    assert set(got["blas"]) == {1}  # the policy's 2 did not override the user's 1
    assert got["numba_layer"] == "omp"  # the user's threading layer is kept


def test_numba_cap_from_the_environment_wins() -> None:
    got = _run(_PROBE.format(fixed=2), NUMBA_NUM_THREADS="1")
    assert got["policy"]["numba_cap"] == 1
    assert got["numba_threads"] == 1


def test_adaptive_off_uses_every_usable_core() -> None:
    got = _run(_PROBE.format(fixed=None), MXLITE_ADAPTIVE_THREADS="0")
    assert got["policy"]["mode"] == "all cores"
    assert got["policy"]["threads"] == got["policy"]["usable_cores"]


@pytest.mark.parametrize(
    ("others_ticks", "own_ticks", "expected"),
    [
        (0, 0, 4),  # a quiet machine: every core
        (0, 380, 4),  # our own threads never count against us
        (100, 100, 3),  # another process busy on one core of four
        (390, 0, 1),  # others keep all but 0.1 core busy
        (15, 0, 4),  # background noise (0.15 core) leaves the count alone
        (30, 0, 3),  # 0.3 core busy: that core is shared, leave it
    ],
)
def test_sampling_counts_the_cores_others_leave_free(
    monkeypatch, others_ticks: int, own_ticks: int, expected: int
) -> None:
    """Four CPUs, 100 ticks each in the interval: others' busy ticks are the total busy ticks
    minus our own."""
    policy = _threads._Policy()
    policy.cores = 4
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    samples = iter(
        [(1000, 10000, 50.0), (1000 + others_ticks + own_ticks, 10400, 50.0 + own_ticks)]
    )

    def stat():
        busy, total, _own = next(state)
        return busy, total

    state = iter(list(samples))
    own = iter([50.0, 50.0 + own_ticks])
    monkeypatch.setattr(_threads, "_read_proc_stat", stat)
    monkeypatch.setattr(_threads, "_own_ticks", lambda hz: next(own))
    policy.sample(0.0)
    policy.sample(1.0)
    assert policy.current == expected


def test_sampling_without_proc_stat_falls_back_to_every_core(monkeypatch) -> None:
    policy = _threads._Policy()
    monkeypatch.setattr(_threads, "_read_proc_stat", lambda: None)
    policy.sample(0.0)
    assert not policy.adaptive
    assert policy.threads() == policy.cores


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_num_threads_rejects_bad_counts_and_keeps_the_policy(bad) -> None:
    before = _threads._POLICY.fixed
    with pytest.raises(ValueError, match="positive int or None"):
        mx.util.set_num_threads(bad)
    assert _threads._POLICY.fixed == before


def test_set_num_threads_round_trip() -> None:
    try:
        mx.util.set_num_threads(1)
        assert mx.util.get_num_threads() == 1
        assert mx.util.thread_policy()["mode"] == "fixed"
    finally:
        mx.util.set_num_threads(None)
    assert mx.util.thread_policy()["mode"] in ("adaptive", "all cores")


def test_parallel_kernels_from_several_threads_do_not_abort() -> None:
    """Numba's workqueue layer aborts the process when two threads run parallel kernels at once;
    mxlite serializes its parallel launches (fills, zeroing, optimizer steps)."""
    code = """
    import json, threading
    import numpy as np
    import mxlite as mx
    mx.util.set_num_threads(2)
    errors = []
    def work(seed):
        try:
            for i in range(15):
                params = mx.gluon.ParameterDict(prefix=f"t{seed}_{i}_")
                params.get("w", shape=(1024, 1024))           # 4 MB fills: parallel kernels
                params.get("v", shape=(2048, 1024))
                params.initialize(mx.init.Uniform(), ctx=mx.cpu())
                params.zero_grad()
                trainer = mx.gluon.Trainer(params, "sgd", {"learning_rate": 0.1, "momentum": 0.9})
                for p in params.values():
                    p.grad()[:] = 1.0
                trainer.step(1, ignore_stale_grad=True)
        except Exception as err:  # noqa: BLE001
            errors.append(repr(err))
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps({"errors": errors}))
    """
    got = _run(code)
    assert got == {"errors": []}
