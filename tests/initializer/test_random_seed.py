"""mx.random: seeding, parameter stream keys, and the ad-hoc stream's counter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import mxlite as mx
from mxlite import ops, random
from tests._support.oracle import run_oracle

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _restore_seed():
    """Every test starts from seed 0 with a fresh ad-hoc stream, and leaves it so."""
    random.seed(0)
    yield
    random.seed(0)


# ------------------------------------------------------------------------------------------ seed
def test_seed_makes_parameter_keys_reproducible():
    random.seed(128)
    first = [random.param_key(name) for name in ("dense0_weight", "dense0_bias", "conv1_weight")]
    random.seed(7)
    other = [random.param_key(name) for name in ("dense0_weight", "dense0_bias", "conv1_weight")]
    random.seed(128)
    again = [random.param_key(name) for name in ("dense0_weight", "dense0_bias", "conv1_weight")]
    assert first == again
    assert all(a != b for a, b in zip(first, other))
    assert len(set(first)) == 3
    assert random.get_seed() == 128


def test_seed_makes_fills_reproducible():
    def draw() -> np.ndarray:
        out = np.empty(1000, np.float32)
        ops.fill_normal(out, 0.0, 1.0, random.param_key("w", "(1000,)|float32|Normal"))
        return out

    random.seed(3)
    a = draw()
    b = draw()
    random.seed(4)
    c = draw()
    np.testing.assert_array_equal(a, b)
    assert np.mean(a == c) < 0.01


def test_seed_is_a_c_int_like_mxnet():
    random.seed(2**32)
    wrapped = random.param_key("w")
    random.seed(0)
    assert random.param_key("w") == wrapped and random.get_seed() == 0
    random.seed(-1)
    minus_one = random.param_key("w")
    random.seed(2**32 - 1)
    assert random.param_key("w") == minus_one and random.get_seed() == -1
    random.seed(np.int64(5))
    assert random.get_seed() == 5
    random.seed(True)
    assert random.get_seed() == 1


@pytest.mark.parametrize("bad", ["a", 1.5, None, np.float32(2.0), [1]])
def test_seed_rejects_non_int_with_mxnets_message(bad):
    random.seed(11)
    random.next_adhoc(8)
    key = random.param_key("w")
    with pytest.raises(ValueError, match="^seed_state must be int$"):
        random.seed(bad)
    assert random.get_seed() == 11 and random.param_key("w") == key and random.adhoc_offset() == 8


def test_seed_with_a_context_sets_the_one_global_seed():
    random.seed(5)
    expected = random.param_key("w")
    for ctx in (mx.cpu(0), mx.cpu(3), mx.gpu(1), "cpu", "gpu"):
        random.seed(9)
        random.seed(5, ctx=ctx)
        assert random.param_key("w") == expected
        assert random.get_seed() == 5


@pytest.mark.parametrize("bad_ctx", ["foo", 3, None])
def test_seed_rejects_unknown_context_like_mxnet(bad_ctx):
    random.seed(6)
    with pytest.raises(KeyError, match="is not a context"):
        random.seed(1, ctx=bad_ctx)
    assert random.get_seed() == 6


def test_unseeded_process_is_deterministic_and_seed_zero():
    code = "from mxlite import random; print(random.get_seed(), random.param_key('w'), random.next_adhoc(3))"
    outs = {_run_python(code, hashseed) for hashseed in ("1", "2")}
    assert len(outs) == 1
    assert outs.pop().startswith("0 ")


# ------------------------------------------------------------------------------------- param_key
def test_param_key_shape_and_range():
    for name in ("w", "", "ünïcode_weight", "x" * 10000):
        key = random.param_key(name)
        assert isinstance(key, tuple) and len(key) == 2
        assert all(isinstance(k, int) and 0 <= k < 2**32 for k in key)


def test_param_key_depends_on_name_salt_and_seed():
    keys = {
        random.param_key("dense0_weight"),
        random.param_key("dense0_bias"),
        random.param_key("dense0_weight", "(2, 3)|float32|Uniform"),
        random.param_key("dense0_weight", "(3, 2)|float32|Uniform"),
        random.param_key("dense0_weight", "(2, 3)|float16|Uniform"),
        random.param_key("dense0_weight", "(2, 3)|float32|Normal"),
        random.param_key("dense0_weightx"),
        random.param_key("dense0_weigh", "t"),  # length prefixes keep (name, salt) unambiguous
        random.param_key("dense0_weight", "\x00"),
    }
    assert len(keys) == 9


def test_param_key_golden_values():
    """Pinned: changing the key derivation silently would change every model's initial values."""
    random.seed(0)
    assert random.param_key("dense0_weight") == (2265742833, 3426593571)
    assert random.param_key("dense0_weight", "(2, 3)|float32|Uniform") == (3816321134, 2520774184)
    assert random.adhoc_key() == (4045535197, 2605729739)
    random.seed(42)
    assert random.param_key("dense0_weight") == (1711591608, 699594222)


def test_stream_layout_golden_values():
    """Pinned first values of a stream: the Philox layout and float formulas are a file format."""
    out = np.empty(6, np.float32)
    ops.fill_uniform(out, -0.07, 0.07, (1, 2))
    assert out.view(np.uint32).tolist() == [
        3179878233,
        1012820048,
        3175561551,
        1030687394,
        3163802606,
        1021412924,
    ]
    normal = np.empty(4, np.float32)
    ops.fill_normal(normal, 0.0, 1.0, (1, 2))
    np.testing.assert_allclose(
        normal,
        [-2.267637252807617, -1.5822972059249878, 1.6804604530334473, -0.9675585031509399],
        rtol=3e-7,
    )


@pytest.mark.parametrize(
    "name,salt,fragment",
    [
        (3, "", "name must be a str"),
        (None, "", "name must be a str"),
        ("w", 5, "salt must be a str"),
    ],
)
def test_param_key_rejects_non_strings(name, salt, fragment):
    with pytest.raises(TypeError, match=fragment):
        random.param_key(name, salt)


def _run_python(code: str, hashseed: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = hashseed
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_param_key_is_stable_across_processes():
    """Not Python's hash(): the same key under different PYTHONHASHSEEDs and in this process."""
    code = (
        "import json; from mxlite import random; random.seed(1234); "
        "print(json.dumps([random.param_key(n, s) for n, s in "
        "[('dense0_weight', ''), ('b', '(4,)|float32|Zero'), ('ü', 'x')]]))"
    )
    outs = [json.loads(_run_python(code, seed)) for seed in ("0", "1", "random")]
    assert outs[0] == outs[1] == outs[2]
    random.seed(1234)
    here = [
        list(random.param_key(n, s))
        for n, s in [("dense0_weight", ""), ("b", "(4,)|float32|Zero"), ("ü", "x")]
    ]
    assert outs[0] == here


# ------------------------------------------------------------------------------- ad-hoc stream
def test_adhoc_counter_advances_by_whole_blocks():
    key0, off0 = random.next_adhoc(5)
    key1, off1 = random.next_adhoc(3)
    key2, off2 = random.next_adhoc(0)
    key3, off3 = random.next_adhoc(4)
    assert (off0, off1, off2, off3) == (0, 8, 12, 12)
    assert random.adhoc_offset() == 16
    assert key0 == key1 == key2 == key3 == random.adhoc_key()


def test_adhoc_draws_never_overlap_and_restart_on_seed():
    random.seed(21)
    sizes = [5, 1, 4, 7, 100]
    draws = []
    for n in sizes:
        key, offset = random.next_adhoc(n)
        out = np.empty(n, np.float32)
        ops.fill_uniform(out, 0.0, 1.0, key, offset)
        draws.append(out)
    flat = np.concatenate(draws)
    assert np.unique(flat).size == flat.size
    random.seed(21)
    key, offset = random.next_adhoc(5)
    again = np.empty(5, np.float32)
    ops.fill_uniform(again, 0.0, 1.0, key, offset)
    np.testing.assert_array_equal(again, draws[0])
    random.seed(22)
    assert random.adhoc_offset() == 0 and random.adhoc_key() != key


def test_adhoc_stream_is_independent_of_parameter_streams():
    random.seed(0)
    assert random.adhoc_key() not in {random.param_key(n) for n in ("", "adhoc", "w")}


@pytest.mark.parametrize("bad", [-1, 1.5, "3", None, True])
def test_next_adhoc_rejects_bad_counts(bad):
    random.next_adhoc(4)
    with pytest.raises(ValueError, match="n_elements must be an int >= 0"):
        random.next_adhoc(bad)
    assert random.adhoc_offset() == 4


def test_next_adhoc_exhaustion_raises():
    random.next_adhoc(2**62 - 8)
    with pytest.raises(mx.MXNetError, match="exhausted"):
        random.next_adhoc(9)
    assert random.adhoc_offset() == 2**62 - 8
    assert random.next_adhoc(8)[1] == 2**62 - 8


def test_next_adhoc_is_thread_safe():
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [random.next_adhoc(3)[1] for _ in range(500)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(0, 4 * 4000, 4))


# --------------------------------------------------------------------------------------- facade
def test_mx_random_exposes_nd_random_functions():
    assert mx.random.seed is random.seed
    nd_random = mx.nd.random
    for name in ("uniform", "normal"):
        if hasattr(nd_random, name):
            assert getattr(mx.random, name) is getattr(nd_random, name)
    with pytest.raises(AttributeError, match="no attribute 'not_a_sampler'"):
        _ = mx.random.not_a_sampler


# ---------------------------------------------------------------------------------------- oracle
@pytest.mark.oracle
def test_seed_semantics_match_mxnet():
    out = run_oracle(
        """
        res = {}
        for bad in ['a', 1.5, None]:
            try:
                mx.random.seed(bad)
            except Exception as e:
                res[repr(bad)] = [type(e).__name__, str(e)]
        try:
            mx.random.seed(1, ctx='foo')
        except Exception as e:
            res['ctx'] = type(e).__name__
        mx.random.seed(2**32)
        a = mx.nd.random.uniform(shape=4).asnumpy().tolist()
        mx.random.seed(0)
        b = mx.nd.random.uniform(shape=4).asnumpy().tolist()
        res['wraps'] = a == b
        print(json.dumps(res))
        """
    )
    res = json.loads(out)
    for bad in ["a", 1.5, None]:
        with pytest.raises(ValueError) as info:
            random.seed(bad)
        assert res[repr(bad)] == ["ValueError", str(info.value)]
    assert res["ctx"] == "KeyError"
    assert res["wraps"] is True  # and ours wraps the same way (test_seed_is_a_c_int_like_mxnet)
