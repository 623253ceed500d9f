"""Updater: states per index and per context, get_states/set_states (pickle-free), bad input."""

from __future__ import annotations

import math
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import util
from mxlite.base import ParamFileError
from mxlite.numpy.multiarray import ndarray as np_ndarray
from mxlite.optimizer import _states_format
from tests._support.optimizer_helpers import flat_states
from tests._support.oracle import run_oracle


def _problem(seed: int = 0, ctx: Any = None) -> tuple[list[Any], list[list[Any]]]:
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2)]
    weights = [mx.nd.array(rng.normal(size=s), ctx=ctx) for s in shapes]
    grads = [[mx.nd.array(rng.normal(size=s), ctx=ctx) for s in shapes] for _ in range(4)]
    return weights, grads


def _make(name: str) -> mx.optimizer.Optimizer:
    sched = mx.lr_scheduler.FactorScheduler(step=1, factor=0.9, base_lr=0.05)
    kwargs: dict[str, Any] = {
        "lr_scheduler": sched,
        "wd": 0.01,
        "param_idx2name": {0: "w_weight", 1: "b_bias"},
    }
    if name in ("sgd", "nag"):
        kwargs["momentum"] = 0.9
    return mx.optimizer.create(name, **kwargs)


@pytest.mark.parametrize(
    "name", ["sgd", "nag", "adam", "rmsprop", "nadam", "ftrl", "dcasgd", "adadelta"]
)
def test_round_trip_with_optimizer_continues_identically(name: str) -> None:
    weights_a, grads = _problem()
    weights_b = [w.copy() for w in weights_a]
    upd_a = mx.optimizer.get_updater(_make(name))
    for step in grads[:2]:
        upd_a([0, 1, 2], [g.copy() for g in step], weights_a)
    blob = upd_a.get_states(dump_optimizer=True)
    assert isinstance(blob, bytes) and blob.startswith(_states_format.MAGIC)
    for wa, wb in zip(weights_a, weights_b):
        wb[:] = wa
    upd_b = mx.optimizer.get_updater(mx.optimizer.Test())
    upd_b.set_states(blob)
    opt_a, opt_b = upd_a.optimizer, upd_b.optimizer
    assert type(opt_b) is type(opt_a) and opt_b is not opt_a
    assert opt_b.num_update == opt_a.num_update == 2
    assert opt_b._index_update_count == {0: 2, 1: 2, 2: 2}
    assert opt_b._index_update_count is opt_b._all_index_update_counts[0]
    assert type(opt_b.lr_scheduler) is mx.lr_scheduler.FactorScheduler
    assert vars(opt_b.lr_scheduler) == vars(opt_a.lr_scheduler)
    assert opt_b.idx2name == {0: "w_weight", 1: "b_bias"} and opt_b.wd_mult == opt_a.wd_mult
    assert opt_b.param_dict == {}
    assert set(upd_b.states) == {0, 1, 2} and upd_b.states_synced == {0: False, 1: False, 2: False}
    for idx in range(3):
        for a, b in zip(flat_states(upd_a.states[idx]), flat_states(upd_b.states[idx])):
            np.testing.assert_array_equal(a, b)
    for step in grads[2:]:
        upd_a([0, 1, 2], [g.copy() for g in step], weights_a)
        upd_b([0, 1, 2], [g.copy() for g in step], weights_b)
    for wa, wb in zip(weights_a, weights_b):
        np.testing.assert_array_equal(wa.asnumpy(), wb.asnumpy())


def test_states_without_optimizer_keep_the_current_optimizer() -> None:
    weights, grads = _problem()
    upd = mx.optimizer.get_updater(_make("adam"))
    upd([0, 1, 2], grads[0], weights)
    blob = upd.get_states()
    other = mx.optimizer.Adam(learning_rate=0.5)
    upd2 = mx.optimizer.get_updater(other)
    upd2.set_states(blob)
    assert upd2.optimizer is other and other.num_update == 0
    assert isinstance(upd2.states[1], tuple) and len(upd2.states[1]) == 2


def test_loaded_states_move_to_the_weights_context() -> None:
    weights, grads = _problem()
    upd = mx.optimizer.get_updater(mx.optimizer.SGD(momentum=0.9, multi_precision=True))
    w16 = mx.nd.array([1.0, 2.0], dtype="float16")
    upd([0, 5], [grads[0][1][:2].astype("float16"), grads[0][0]], [w16, weights[0]])
    upd2 = mx.optimizer.get_updater(mx.optimizer.SGD(momentum=0.9, multi_precision=True))
    upd2.set_states(upd.get_states())
    assert isinstance(upd2.states[0], tuple) and upd2.states[0][1].dtype == np.float32
    w16_b = mx.nd.array([1.0, 2.0], dtype="float16", ctx=mx.cpu(1))
    w_b = weights[0].copyto(mx.cpu(1))
    upd2(
        [0, 5],
        [mx.nd.ones((2,), dtype="float16", ctx=mx.cpu(1)), mx.nd.ones((3, 4), ctx=mx.cpu(1))],
        [w16_b, w_b],
    )
    assert upd2.states_synced == {0: True, 5: True}
    assert upd2.states[0][0].context == mx.cpu(1) and upd2.states[5].context == mx.cpu(1)
    assert 1 in upd2.optimizer._all_index_update_counts


def test_counts_are_kept_per_device() -> None:
    opt = mx.optimizer.SGD(learning_rate=0.1)
    upd0, upd1 = mx.optimizer.get_updater(opt), mx.optimizer.get_updater(opt)
    w0, w1 = mx.nd.ones((2,), ctx=mx.cpu(0)), mx.nd.ones((2,), ctx=mx.cpu(1))
    for _ in range(2):
        upd0([3], [mx.nd.ones((2,))], [w0])
        upd1([3], [mx.nd.ones((2,), ctx=mx.cpu(1))], [w1])
    assert opt._all_index_update_counts == {0: {3: 2}, 1: {3: 2}}
    assert opt.num_update == 2
    np.testing.assert_array_equal(w0.asnumpy(), w1.asnumpy())


def test_single_index_call_and_bytes_keys() -> None:
    upd = mx.optimizer.get_updater(mx.optimizer.SGD(learning_rate=0.5))
    w = mx.nd.array([1.0, 1.0])
    upd(b"fc_weight", mx.nd.array([1.0, -1.0]), w)
    np.testing.assert_allclose(w.asnumpy(), [0.5, 1.5])
    assert list(upd.states) == ["fc_weight"]
    blob = upd.get_states(dump_optimizer=True)
    upd2 = mx.optimizer.get_updater(mx.optimizer.SGD())
    upd2.set_states(blob)
    assert list(upd2.states) == ["fc_weight"] and upd2.optimizer._index_update_count == {
        "fc_weight": 1
    }


def test_length_mismatch_is_rejected_before_any_change() -> None:
    opt = mx.optimizer.SGD(learning_rate=0.5)
    upd = mx.optimizer.get_updater(opt)
    w = mx.nd.array([1.0, 1.0])
    with pytest.raises(ValueError, match="got 2 indices, 1 gradients and 1 weights"):
        upd([0, 1], [mx.nd.ones((2,))], [w])
    assert upd.states == {} and opt.num_update == 0
    np.testing.assert_array_equal(w.asnumpy(), [1.0, 1.0])


def test_numpy_mode_arrays() -> None:
    w = np_ndarray(np.array([1.0, 2.0], dtype=np.float32))
    g = np_ndarray(np.array([1.0, 1.0], dtype=np.float32))
    upd = mx.optimizer.get_updater(mx.optimizer.SGD(learning_rate=0.5))
    with pytest.raises(ValueError, match="Converting np.ndarray to mx.nd.NDArray is not allowed"):
        upd(0, g, w)
    np.testing.assert_array_equal(w.asnumpy(), [1.0, 2.0])
    prev = util.is_np_array()
    util.set_np()
    try:
        upd_np = mx.optimizer.get_updater(mx.optimizer.SGD(learning_rate=0.5, momentum=0.5))
    finally:
        if not prev:
            util.reset_np()
    upd_np(0, g, w)
    np.testing.assert_allclose(w.asnumpy(), [0.5, 1.5])  # updated in place through the view
    assert type(upd_np.states[0]) is mx.nd.NDArray  # states are classic arrays, as in MXNet


# ---------------------------------------------------------------------- format and bad input
class _HalvingScheduler(mx.lr_scheduler.LRScheduler):
    def __call__(self, num_update: int) -> float:
        return self.base_lr / 2**num_update


def test_format_round_trips_nested_values_and_custom_scheduler() -> None:
    opt = mx.optimizer.SGD(lr_scheduler=_HalvingScheduler(base_lr=1.0), rescale_grad=math.inf)
    opt.extra = {"t": (1, 2.5, None, True, "x"), "nan": math.nan, 7: [1, {"k": (None,)}]}
    states = {
        0: (
            mx.nd.array([[1.0, 2.0]]),
            None,
            (mx.nd.array([3], dtype="int32"), mx.nd.array([True], dtype="bool")),
        ),
        "name": [mx.nd.array([0.5], dtype="float16"), mx.nd.NDArray(np.zeros((0, 3), np.float32))],
    }
    loaded, opt2 = _states_format.loads(_states_format.dumps(states, opt))
    assert isinstance(opt2, mx.optimizer.SGD) and isinstance(opt2.lr_scheduler, _HalvingScheduler)
    assert opt2.learning_rate == 1.0 and opt2.rescale_grad == math.inf
    assert opt2.extra["t"] == (1, 2.5, None, True, "x") and math.isnan(opt2.extra["nan"])
    assert opt2.extra[7] == [1, {"k": (None,)}]
    first = loaded[0]
    assert isinstance(first, tuple) and first[1] is None and isinstance(first[2], tuple)
    assert (
        first[0].shape == (1, 2) and first[2][0].dtype == np.int32 and first[2][1].dtype == np.bool_
    )
    assert loaded["name"][0].dtype == np.float16 and loaded["name"][1].shape == (0, 3)
    assert loaded["name"][0].context == mx.cpu(0)


def test_unsupported_attribute_names_itself() -> None:
    opt = mx.optimizer.SGD()
    opt.cache = {1, 2}
    upd = mx.optimizer.get_updater(opt)
    assert upd.get_states().startswith(_states_format.MAGIC)  # the optimizer is not needed
    with pytest.raises(TypeError, match=r"optimizer\.SGD\['cache'\] is a set"):
        upd.get_states(dump_optimizer=True)


def test_unregistered_optimizer_cannot_be_dumped() -> None:
    class Local(mx.optimizer.SGD):
        pass

    with pytest.raises(TypeError, match="Local: it is not registered"):
        mx.optimizer.get_updater(Local()).get_states(dump_optimizer=True)


def _assert_rejected(blob: Any, exc: type[BaseException], fragment: str) -> None:
    opt = mx.optimizer.SGD()
    upd = mx.optimizer.get_updater(opt)
    w = mx.nd.ones((2,))
    upd(0, mx.nd.ones((2,)), w)
    states_before = upd.states
    with pytest.raises(exc, match=fragment):
        upd.set_states(blob)
    assert upd.states is states_before and upd.optimizer is opt and upd.states_synced == {0: True}


def test_pickled_states_are_refused() -> None:
    _assert_rejected(pickle.dumps({0: None}), ParamFileError, "never unpickles")
    _assert_rejected(pickle.dumps(({0: None}, None), protocol=0), ParamFileError, "pickle")


def test_damaged_states_are_refused() -> None:
    good = mx.optimizer.get_updater(mx.optimizer.SGD(momentum=0.9))
    good(0, mx.nd.ones((4,)), mx.nd.ones((4,)))
    blob = good.get_states(dump_optimizer=True)
    _assert_rejected(b"hello world", ParamFileError, "wrong magic")
    _assert_rejected(blob[:-3], ParamFileError, "truncated")
    _assert_rejected(blob[:20], ParamFileError, "header length is truncated")
    head_len = struct.unpack("<Q", blob[16:24])[0]
    _assert_rejected(
        blob[:24] + b"{" * head_len + blob[24 + head_len :], ParamFileError, "not valid JSON"
    )
    renamed = blob.replace(b'"optimizer":"sgd"', b'"optimizer":"zzz"')
    _assert_rejected(renamed, ParamFileError, "optimizer 'zzz', which is not registered")
    newer = blob.replace(b'"version":1', b'"version":9')
    _assert_rejected(newer, ParamFileError, "version 9 are not supported")
    _assert_rejected("not bytes", TypeError, "expects the bytes")


@pytest.mark.oracle
def test_real_mxnet_states_file_is_refused_clearly(tmp_path: Path) -> None:
    run_oracle(
        """
        opt = mx.optimizer.SGD(momentum=0.9)
        upd = mx.optimizer.get_updater(opt)
        upd(0, mx.nd.ones((3,)), mx.nd.ones((3,)))
        open('mxnet.states', 'wb').write(upd.get_states(dump_optimizer=True))
        """,
        cwd=tmp_path,
    )
    blob = (tmp_path / "mxnet.states").read_bytes()
    _assert_rejected(blob, ParamFileError, "real MXNet's Trainer.save_states")


def test_count_key_selects_the_update_count_table() -> None:
    opt = mx.optimizer.Adam(learning_rate=0.1)
    first, second = mx.optimizer.get_updater(opt), mx.optimizer.get_updater(opt)
    second.count_key = (3, 0)
    w0, w1 = mx.nd.ones((2,)), mx.nd.ones((2,))
    for _ in range(2):
        first([0, 1], [mx.nd.ones((2,))] * 2, [w0, mx.nd.ones((2,))])
        second([0, 1], [mx.nd.ones((2,))] * 2, [w1, mx.nd.ones((2,))])
    # both weights live on cpu(0): without count_key they would share table 0 and count to 4
    assert opt._all_index_update_counts == {0: {0: 2, 1: 2}, (3, 0): {0: 2, 1: 2}}
    assert opt.num_update == 2 and np.array_equal(w0.asnumpy(), w1.asnumpy())
