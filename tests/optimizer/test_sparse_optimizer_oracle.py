"""Optimizer updates from row_sparse gradients against MXNet 1.9.1, bitwise: weights and states
after each of four steps, lazy and standard (scenarios in tests/_support/sparse_optim_cases.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError
from tests._support.oracle import run_oracle_json
from tests._support.sparse_cases import run_here
from tests._support.sparse_optim_cases import SCRIPT

sp = mx.nd.sparse


def _ours() -> dict[str, Any]:
    return run_here(SCRIPT)  # type: ignore[no-any-return]


@pytest.mark.oracle
def test_sparse_updates_match_mxnet_bitwise() -> None:
    ours, ref = _ours(), run_oracle_json(SCRIPT)
    assert ours.keys() == ref.keys() and len(ref) >= 24
    for key, trace in ref.items():
        if isinstance(trace, dict):  # MXNet refuses: AdaGrad with weight decay
            assert ours[key]["error"] == trace["error"] == "MXNetError", key
            assert "Operator not implemented" in ours[key]["msg"], key
            continue
        assert ours[key] == trace, key


def _rsp(rows: list[int], n: int = 6, ctx: mx.Context = mx.cpu()) -> Any:
    vals = np.arange(1, 1 + len(rows) * 3, dtype=np.float32).reshape(len(rows), 3)
    return sp.row_sparse_array((vals, rows), shape=(n, 3), ctx=ctx)


@pytest.mark.parametrize(
    ("name", "kw"),
    [("sgd", {"momentum": 0.9}), ("adam", {}), ("adagrad", {"wd": 0.0}),
     ("groupadagrad", {"wd": 0.0}), ("sgd", {})],
)  # fmt: skip
def test_lazy_updates_touch_only_the_gradient_rows(ctx: mx.Context, name: str, kw: dict) -> None:
    opt = mx.optimizer.create(name, learning_rate=0.1, **kw)
    w = mx.nd.ones((6, 3), ctx=ctx)
    state = opt.create_state_multi_precision(0, w)
    opt.update_multi_precision(0, w, _rsp([1, 4], ctx=ctx), state)
    changed = np.flatnonzero((w.asnumpy() != 1).any(axis=1)).tolist()
    assert changed == [1, 4]
    states = state if isinstance(state, (tuple, list)) else [state]
    for s in states:
        if s is not None:
            touched = np.flatnonzero((s.asnumpy() != 0).any(axis=1)).tolist()
            assert touched == [1, 4], name


def test_standard_update_reaches_every_row() -> None:
    opt = mx.optimizer.create("sgd", learning_rate=0.1, wd=0.1, lazy_update=False)
    w = mx.nd.ones((6, 3))
    opt.update(0, w, _rsp([2]), None)
    assert (w.asnumpy()[[0, 1, 3, 4, 5]] == np.float32(1 - 0.1 * 0.1)).all()


def test_updater_mixes_dense_and_sparse_gradients() -> None:
    opt = mx.optimizer.create("adam", learning_rate=0.1)
    upd = mx.optimizer.get_updater(opt)
    w1, w2 = mx.nd.ones((6, 3)), mx.nd.ones((6, 3))
    upd([0, 1], [_rsp([3]), _rsp([3]).tostype("default")], [w1, w2])
    assert w1.asnumpy()[3].tolist() == w2.asnumpy()[3].tolist()
    assert (w1.asnumpy()[[0, 1, 2, 4, 5]] == 1).all()
    assert opt._index_update_count == {0: 1, 1: 1}


def test_bad_sparse_updates_raise_and_change_nothing() -> None:
    opt = mx.optimizer.create("adagrad", learning_rate=0.1, wd=0.01)
    w = mx.nd.ones((6, 3))
    state = opt.create_state(0, w)
    with pytest.raises(MXNetError, match="no weight decay"):
        opt.update(0, w, _rsp([1]), state)
    assert (w.asnumpy() == 1).all() and (state.asnumpy() == 0).all()
    sgd = mx.optimizer.create("sgd")
    with pytest.raises(MXNetError, match="must match"):
        sgd.update(0, w, _rsp([1], n=7), None)
    assert (w.asnumpy() == 1).all()
    group = mx.optimizer.create("groupadagrad", wd=0.1)
    with pytest.raises(AssertionError, match="Weight decay is not supported"):
        group.update(0, w, _rsp([1]), group.create_state(0, w))
    assert (w.asnumpy() == 1).all()


def test_float16_multi_precision_takes_the_standard_path() -> None:
    opt = mx.optimizer.create("sgd", learning_rate=0.5, multi_precision=True, momentum=0.9)
    w = mx.nd.ones((6, 3), dtype="float16")
    state = opt.create_state_multi_precision(0, w)
    g = _rsp([2]).astype("float16")
    opt.update_multi_precision(0, w, g, state)
    dense = mx.nd.ones((6, 3), dtype="float16")
    ref_state = opt.create_state_multi_precision(1, dense)
    opt.update_multi_precision(1, dense, g.tostype("default"), ref_state)
    assert w.asnumpy().tolist() == dense.asnumpy().tolist()
