"""Distributed stores on real worker processes started with ``mpiexec`` (the ``dist`` extra).

* every store method, on 1, 2 and 3 workers (odd sizes, several buckets), bitwise against the
  single-process 'device' store given all the workers' values;
* Trainer steps: 2 workers x 2 contexts, 4 x 1 and 3 x 2 give bitwise the weights of one
  process with 4 (6) contexts, for update_on_kvstore True and False;
* the same scenario under MXNet 1.9.1's ps-lite dist_sync and under mxlite;
* faults: a killed, a hung, a raising and a departed worker end the job with a non-zero status
  and a message, within the time limit; workers that disagree on keys/shapes/dtypes are told so;
* the NCCL path (dist_device_sync) on tests/fake_cupy.py, in one process and in two.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import HAS_GPU, requires_gpu
from tests.dist_harness import records, run_mxnet_workers, run_workers

SLOW = pytest.mark.slow


def _check_all(status: int, output: str, workers: int) -> dict[int, dict]:
    assert status == 0, output[-4000:]
    found = records(output)
    assert sorted(found) == list(range(workers)), output[-4000:]
    return found


# ------------------------------------------------------------------ store methods
@pytest.mark.parametrize(
    ("workers", "kvtype", "bucket_mb"),
    [
        pytest.param(None, "dist_sync", None, id="1-worker"),
        pytest.param(2, "dist_sync", None, id="2-workers"),
        pytest.param(3, "dist_device_sync", "0.0005", id="3-workers-small-buckets", marks=SLOW),
    ],
)
def test_every_store_method_matches_the_device_store(
    workers: int | None, kvtype: str, bucket_mb: str | None, tmp_path: Path
) -> None:
    env = {"MXLITE_DIST_BUCKET_MB": bucket_mb} if bucket_mb else {}
    status, out, _ = run_workers(workers, "store_methods.py", kvtype, cwd=tmp_path, env=env)
    found = _check_all(status, out, workers or 1)
    counts = {r["checks"] for r in found.values()}
    assert len(counts) == 1 and counts.pop() > 80
    assert all(r["failures"] == [] for r in found.values())


# ------------------------------------------------------------------ Trainer layouts
def _weights(prefix: Path, workers: int) -> list[dict[str, np.ndarray]]:
    return [dict(np.load(f"{prefix}.rank{r}.npz")) for r in range(workers)]


def _assert_bitwise(got: dict[str, np.ndarray], want: dict[str, np.ndarray], what: str) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].dtype == want[name].dtype and got[name].shape == want[name].shape
        assert got[name].tobytes() == want[name].tobytes(), f"{what}: {name} differs"


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_trainer_weights_do_not_depend_on_the_process_layout(
    optimizer: str, tmp_path: Path
) -> None:
    total = 4 if optimizer == "sgd" else 6
    layouts = [(2, 2), (4, 1)] if optimizer == "sgd" else [(3, 2)]
    args = ["--optimizer", optimizer]
    status, out, _ = run_workers(
        None, "train_steps.py", "--contexts", str(total), "--out", str(tmp_path / "ref"), *args,
        cwd=tmp_path,
    )  # fmt: skip
    assert status == 0, out
    (ref,) = _weights(tmp_path / "ref", 1)
    for name in [n for n in ref if n.startswith("local_")]:  # update_on_kvstore False == True
        assert ref[name].tobytes() == ref["kv_" + name[6:]].tobytes()
    for workers, contexts in layouts:
        prefix = tmp_path / f"w{workers}x{contexts}"
        status, out, _ = run_workers(
            workers, "train_steps.py", "--kvstore", "dist_sync", "--contexts", str(contexts),
            "--out", str(prefix), "--states", *args, cwd=tmp_path,
        )  # fmt: skip
        assert status == 0, out[-4000:]
        for rank, got in enumerate(_weights(prefix, workers)):
            _assert_bitwise(got, ref, f"{workers} workers x {contexts} contexts, rank {rank}")
        for mode in ("kv", "local"):  # Trainer.save_states on every worker: the same states
            states = [Path(f"{prefix}.{mode}.rank{r}.states").read_bytes() for r in range(workers)]
            assert len(states[0]) > 100 and all(s == states[0] for s in states[1:])


# ------------------------------------------------------------------ MXNet 1.9.1 dist_sync
@pytest.mark.oracle
@pytest.mark.slow
@pytest.mark.parametrize("part", ["store", "kv"])
def test_dist_sync_scenario_matches_mxnet_ps_lite(part: str, tmp_path: Path) -> None:
    want = run_mxnet_workers(2, "scenario.py", "mxnet", part, cwd=tmp_path)
    status, out, _ = run_workers(2, "scenario.py", "mxlite", part, cwd=tmp_path)
    got = _check_all(status, out, 2)
    assert sorted(want) == [0, 1]
    for rank in (0, 1):
        g, w = got[rank], want[rank]
        assert sorted(g) == sorted(w)
        for a, b in zip(g.pop("trainer", []), w.pop("trainer", [])):
            np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6, atol=1e-7)
        assert g == w  # rank, size, init/push/pushpull sums, compression, error types + messages


# ------------------------------------------------------------------ faults
LIMIT_S = 4.0  # the collective time limit the fault tests run under
SLACK_S = 30.0  # process start-up and teardown on a loaded 2-core machine


@pytest.mark.slow
def test_a_killed_worker_ends_the_job_quickly(tmp_path: Path) -> None:
    status, out, seconds = run_workers(3, "faults.py", "kill", "1", str(LIMIT_S), cwd=tmp_path)
    assert status not in (0, -9), out
    assert seconds < LIMIT_S + SLACK_S
    assert "finished" not in out
    # MPICH's mpiexec sees the death at once, ends the others and names the dead process
    assert "signal 9" in out or "EXIT CODE: 9" in out, out


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["stop", "exit"])
def test_a_hung_or_departed_worker_trips_the_time_limit(mode: str, tmp_path: Path) -> None:
    status, out, seconds = run_workers(2, "faults.py", mode, "1", str(LIMIT_S), cwd=tmp_path)
    assert status == 124, out
    assert LIMIT_S <= seconds < LIMIT_S + SLACK_S
    assert "finished" not in out
    assert "mxlite dist: rank 0 of 2 waited" in out and "in pushpull" in out, out
    assert "a worker has died, raised, hangs, or left the training loop early" in out
    assert "(limit 4 s, MXLITE_DIST_TIMEOUT)" in out and "raise MXLITE_DIST_TIMEOUT" in out


@pytest.mark.slow
def test_a_raising_worker_ends_the_job_without_waiting(tmp_path: Path) -> None:
    # a long limit: the abort must not wait for it
    status, out, seconds = run_workers(3, "faults.py", "raise", "2", "600", cwd=tmp_path)
    assert status == 1, out
    assert seconds < SLACK_S
    assert "RuntimeError: worker 2 failed on purpose" in out
    assert "mxlite dist: rank 2 of 3 stopped on an uncaught RuntimeError" in out
    assert "finished" not in out


def test_workers_that_disagree_are_told_which_key_and_ranks(tmp_path: Path) -> None:
    status, out, _ = run_workers(3, "mismatch.py", cwd=tmp_path)
    found = _check_all(status, out, 3)
    for rank, rec in found.items():
        kind, msg = rec["init"]
        assert kind == "MXNetError"
        assert "key 'w': shape (3, 4) float32 on the host on ranks [0, 2]; " in msg
        assert "shape (4, 4) float32 on the host on rank 1" in msg
        assert "key 'b' is given on ranks [0, 1] but not on rank 2" in msg
        assert rec["init_stored"] == []  # nothing was half-initialized
        kind, msg = rec["push"]
        assert kind == "MXNetError" and "shape (3, 4) float64 on the host on rank 2" in msg
        kind, msg = rec["own"]
        assert kind == "MXNetError" and "key 'nobody' has not been inited" in msg
        if rank != 1:
            assert msg.startswith("kvstore dist_sync push failed on rank 1 (")
        assert rec["after"] == [6.0, 6.0]  # the store still works: 1 + 2 + 3


# ------------------------------------------------------------------ NCCL (fake CuPy)
@pytest.mark.parametrize("workers", [None, 3], ids=["1-worker", "3-workers"])
def test_nccl_calls_are_fused_with_the_right_buffers_and_streams(
    workers: int | None, tmp_path: Path
) -> None:
    status, out, _ = run_workers(workers, "nccl_calls.py", cwd=tmp_path)
    found = _check_all(status, out, workers or 1)
    assert all(r["failures"] == [] for r in found.values()), out
    # per pushpull and dtype: groupStart, W-1 sends, W-1 receives, groupEnd (none of them with
    # one worker), allGather
    w = workers or 1
    per_dtype = 2 * (w - 1) + 2 + 1 if w > 1 else 1
    assert {r["calls"] for r in found.values()} == {2 * 2 * per_dtype}


@pytest.mark.slow
def test_nccl_path_matches_the_host_path_on_fake_gpus(tmp_path: Path) -> None:
    status, out, _ = run_workers(
        None, "train_steps.py", "--contexts", "4", "--out", str(tmp_path / "ref"), cwd=tmp_path
    )
    assert status == 0, out
    (ref,) = _weights(tmp_path / "ref", 1)
    status, out, _ = run_workers(
        2, "train_steps.py", "--kvstore", "dist_device_sync", "--contexts", "2", "--gpu",
        "--fake-gpu", "--out", str(tmp_path / "gpu"), cwd=tmp_path,
    )  # fmt: skip
    assert status == 0, out[-4000:]
    for rank, got in enumerate(_weights(tmp_path / "gpu", 2)):
        _assert_bitwise(got, ref, f"fake GPUs, rank {rank}")
    status, out, _ = run_workers(
        None, "store_methods.py", "dist_device_sync", "fake-gpu", cwd=tmp_path
    )
    found = _check_all(status, out, 1)
    assert found[0]["failures"] == []


@pytest.mark.gpu
@requires_gpu
def test_nccl_on_one_real_gpu_matches_the_cpu(tmp_path: Path) -> None:
    assert HAS_GPU
    pytest.importorskip("mpi4py", reason="the dist extra is needed: pip install 'mxlite[dist]'")
    nccl = pytest.importorskip("cupy.cuda.nccl", reason="CuPy without NCCL")
    if not getattr(nccl, "available", False):
        pytest.skip("CuPy cannot load NCCL on this host")
    status, out, _ = run_workers(
        None, "train_steps.py", "--kvstore", "dist_sync", "--contexts", "1", "--out",
        str(tmp_path / "cpu"), cwd=tmp_path,
    )  # fmt: skip
    assert status == 0, out
    fake = ["--fake-gpu"] if os.environ.get("MXLITE_FAKE_CUPY") == "1" else []
    status, out, _ = run_workers(
        None, "train_steps.py", "--kvstore", "dist_device_sync", "--contexts", "1", "--gpu",
        "--out", str(tmp_path / "gpu"), *fake, cwd=tmp_path,
    )  # fmt: skip
    assert status == 0, out
    (cpu,) = _weights(tmp_path / "cpu", 1)
    (gpu,) = _weights(tmp_path / "gpu", 1)
    for name in cpu:
        np.testing.assert_allclose(gpu[name], cpu[name], rtol=1e-5, atol=1e-6)
