"""``pickle`` / ``copy.deepcopy`` of NDArrays and ``mx.np.ndarray``: MXNet's reduce tuple and
state bytes (checked byte for byte against MXNet 1.9.1), pickles read across the two libraries
(with a ``find_class`` that maps the module names), GPU arrays loading on the host where no GPU
is usable (fake CuPy), updater states and multiprocessing."""

from __future__ import annotations

import copy
import io
import multiprocessing
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError, ParamFileError
from tests._support.oracle import run_oracle_json

# The same arrays in both libraries.
ARRAYS = [
    "mx.nd.array([[1, 2, 3], [4, 5, 6]])",
    "mx.nd.arange(6, dtype='float64').reshape((3, 2))",
    "mx.nd.array([1, -2], dtype='int32')",
    "mx.nd.array([1, 200], dtype='uint8')",
    "mx.nd.array([0.5, 1.5], dtype='float16')",
    "mx.nd.array([1, -3], dtype='int64')",
    "mx.nd.array([1, -3], dtype='int8')",
    "mx.nd.ones((2,), ctx=mx.cpu(1))",
    "mx.nd.ones((2,), ctx=mx.cpu_pinned(0))",
    "mx.np.array([1.0, 2.0])",
]

_ORACLE = """
import copy, pickle, os
ARRAYS = {arrays!r}
class Remap(pickle.Unpickler):
    def find_class(self, module, name):
        return super().find_class(module.replace("mxlite", "mxnet", 1), name)
def desc(x):
    return [type(x).__name__, list(x.shape), str(x.dtype), str(x.context), x.asnumpy().tolist()]
out = {{"states": [], "mine": [], "theirs": [], "deepcopy": []}}
for i, code in enumerate(ARRAYS):
    x = eval(code)
    out["states"].append(bytes(x.__getstate__()["handle"]).hex())
    out["mine"].append(desc(x))
    with open("mx_%d.pkl" % i, "wb") as f:
        pickle.dump(x, f, protocol=2)
    with open("ml_%d.pkl" % i, "rb") as f:
        out["theirs"].append(desc(Remap(f).load()))
    out["deepcopy"].append(desc(copy.deepcopy(x)))
# a legacy 0-d array: MXNet writes it, but cannot load it back (mxlite can)
out["nd_scalar_state"] = bytes(mx.nd.array(5).__getstate__()["handle"]).hex()
with mx.util.np_shape(True):
    out["np_state"] = bytes(mx.np.array([[1.0], [2.0]]).__getstate__()["handle"]).hex()
    out["np_scalar_state"] = bytes(mx.np.array(3.0).__getstate__()["handle"]).hex()
x = mx.nd.ones((2,))
x.attach_grad()
y = copy.deepcopy(x)
y[:] = 5
out["deepcopy_grad"] = [y.grad is None, x.asnumpy().tolist(), type(x.__reduce__()[1]).__name__,
                        x.__reduce__()[1], type(x.__getstate__()["handle"]).__name__]
print(json.dumps(out))
"""


class _Remap(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(module.replace("mxnet", "mxlite", 1), name)


def _desc(x: Any) -> list[Any]:
    return [type(x).__name__, list(x.shape), str(x.dtype), str(x.context), x.asnumpy().tolist()]


@pytest.mark.oracle
def test_pickles_match_mxnet_and_load_both_ways(tmp_path: Path) -> None:
    scope = {"mx": mx, "np": np}
    mine = [eval(code, scope) for code in ARRAYS]  # noqa: S307 - our own test source
    for i, x in enumerate(mine):
        (tmp_path / f"ml_{i}.pkl").write_bytes(pickle.dumps(x, protocol=2))
    ref = run_oracle_json(_ORACLE.format(arrays=ARRAYS), cwd=tmp_path)
    for i, x in enumerate(mine):
        assert bytes(x.__getstate__()["handle"]).hex() == ref["states"][i], ARRAYS[i]
        # MXNet read our pickle as the array it made itself (MXNet puts every host array on
        # cpu(0) when it loads it, as mxlite does).
        assert ref["theirs"][i] == ref["deepcopy"][i], ARRAYS[i]
        with open(tmp_path / f"mx_{i}.pkl", "rb") as f:
            theirs = _Remap(f).load()
        assert _desc(theirs) == ref["deepcopy"][i], ARRAYS[i]
        assert _desc(copy.deepcopy(x)) == ref["deepcopy"][i], ARRAYS[i]
        assert _desc(pickle.loads(pickle.dumps(x))) == ref["deepcopy"][i], ARRAYS[i]
    scalar = mx.nd.array(5)
    assert bytes(scalar.__getstate__()["handle"]).hex() == ref["nd_scalar_state"]
    back = copy.deepcopy(scalar)
    assert back.shape == () and back.asnumpy().tolist() == 5.0
    with mx.util.np_shape(True):
        assert bytes(mx.np.array([[1.0], [2.0]]).__getstate__()["handle"]).hex() == ref["np_state"]
        assert bytes(mx.np.array(3.0).__getstate__()["handle"]).hex() == ref["np_scalar_state"]
    x = mx.nd.ones((2,))
    x.attach_grad()
    y = copy.deepcopy(x)
    y[:] = 5
    reduced = x.__reduce__()
    assert [
        y.grad is None,
        x.asnumpy().tolist(),
        type(reduced[1]).__name__,
        list(reduced[1]),
        type(x.__getstate__()["handle"]).__name__,
    ] == ref["deepcopy_grad"]


def test_deepcopy_is_independent_and_keeps_class(ctx: mx.Context) -> None:
    x = mx.nd.arange(6, ctx=ctx).reshape((2, 3))
    y = copy.deepcopy(x)
    y[:] = 0
    assert x.asnumpy().ravel().tolist() == [0, 1, 2, 3, 4, 5]
    n = copy.deepcopy(x.as_np_ndarray())
    assert isinstance(n, mx.np.ndarray) and n.shape == (2, 3)
    nested = copy.deepcopy({"w": [x, x]})
    assert nested["w"][0] is nested["w"][1]  # the memo keeps shared arrays shared


def test_every_protocol_round_trips() -> None:
    x = mx.nd.array([[1.5, -2], [3, 4]], dtype="float64")
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        y = pickle.loads(pickle.dumps(x, protocol=proto))
        assert y.dtype is np.float64 and y.asnumpy().tolist() == x.asnumpy().tolist()


def test_gpu_pickle_loads_on_cpu_without_gpu(fake_gpu: Any) -> None:
    from tests._support import fake_cupy

    x = mx.nd.array([[1, 2], [3, 4]], ctx=mx.gpu(0))
    blob = pickle.dumps(x)
    state = x.__getstate__()["handle"]
    assert state[20:28] == bytes.fromhex("0200000000000000")  # saved from gpu(0)
    same = pickle.loads(blob)
    assert same.context == mx.gpu(0) and same.asnumpy().tolist() == [[1, 2], [3, 4]]
    fake_cupy.install(devices=0)
    try:
        moved = pickle.loads(blob)
    finally:
        fake_cupy.install(devices=1)
    assert moved.context == mx.cpu(0) and type(moved._data) is np.ndarray
    assert moved.asnumpy().tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    ("state", "error", "fragment"),
    [
        ({"handle": b"\x00" * 3}, ParamFileError, "truncated"),
        ({"handle": 3}, MXNetError, "handle of type int"),
        ([1, 2], MXNetError, "expected MXNet's state"),
    ],
)
def test_bad_state_raises(state: Any, error: type[Exception], fragment: str) -> None:
    x = mx.nd.ones((2,))
    with pytest.raises(error, match=fragment):
        x.__setstate__(state)


def test_trailing_bytes_refused() -> None:
    handle = bytes(mx.nd.ones((2,)).__getstate__()["handle"]) + b"x"
    with pytest.raises(ParamFileError, match="1 bytes follow"):
        mx.nd.ones((1,)).__setstate__({"handle": handle})


def test_empty_handle_round_trips() -> None:
    x = mx.nd.NDArray(None)
    assert x.__getstate__() == {"handle": None}
    y = pickle.loads(pickle.dumps(x))
    assert y._data is None


def test_updater_states_and_optimizer_pickle() -> None:
    net = mx.gluon.nn.Dense(3, in_units=2)
    net.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    trainer = mx.gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.1})
    x = mx.nd.ones((4, 2))
    for ctx in (mx.cpu(0), mx.cpu(1)):
        with mx.autograd.record():
            loss = net(x.as_in_context(ctx)).sum()
        loss.backward()
    trainer.step(4)
    states = trainer._updaters[0].states
    back = pickle.loads(pickle.dumps(states))
    assert sorted(back) == sorted(states)
    for key, value in states.items():
        flat_mine = value if isinstance(value, (list, tuple)) else [value]
        flat_back = back[key] if isinstance(back[key], (list, tuple)) else [back[key]]
        for a, b in zip(flat_mine, flat_back):
            np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    # The optimizer pickles without its param_dict, as MXNet's (the Trainer sets it again).
    opt = pickle.loads(pickle.dumps(trainer._optimizer))
    assert type(opt) is type(trainer._optimizer) and opt.lr == 0.1 and opt.param_dict == {}
    # The states file itself stays pickle-free: its own format, never unpickled.
    blob = trainer._updaters[0].get_states(dump_optimizer=False)
    assert not blob.startswith(b"\x80")


def _double(x: mx.nd.NDArray) -> mx.nd.NDArray:
    return x * 2


def test_multiprocessing_sends_arrays() -> None:
    with multiprocessing.get_context("fork").Pool(1) as pool:
        out = pool.map(_double, [mx.nd.arange(3), mx.nd.ones((2, 2), dtype="int32")])
    assert out[0].asnumpy().tolist() == [0, 2, 4]
    assert out[1].dtype is np.int32 and out[1].asnumpy().tolist() == [[2, 2], [2, 2]]


def test_pickle_io_stream() -> None:
    buf = io.BytesIO()
    pickle.dump([mx.nd.ones(2), mx.np.zeros((1, 2))], buf)
    buf.seek(0)
    a, b = pickle.load(buf)
    assert isinstance(b, mx.np.ndarray) and a.asnumpy().tolist() == [1, 1]
