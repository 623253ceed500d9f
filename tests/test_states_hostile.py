"""Damaged and hostile optimizer-state files, through every path that loads them:
``Updater.set_states``, ``Trainer.load_states`` (updaters on the contexts, or the kvstore's), and
``KVStore.load_optimizer_states``. Each is refused with ParamFileError naming the entry, memory
stays within a small multiple of the file's size, and the working optimizer and states are
untouched: a later step gives exactly what it gives without the failed load."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.base import ParamFileError
from tests.memory import peak_bytes

TWO = [mx.cpu(0), mx.cpu(1)]
SHAPES = [(3, 4), (4,), (2, 2)]


# ------------------------------------------------------------------------------ helpers
def _params(prefix: str = "") -> list[gluon.Parameter]:
    params = []
    for i, shape in enumerate(SHAPES):
        p = gluon.Parameter(f"{prefix}p{i}_weight", shape=shape)
        p.initialize(mx.init.Constant(0.5 + i), ctx=TWO)
        params.append(p)
    return params


def _backward(params: list[gluon.Parameter], step: int) -> None:
    for j, ctx in enumerate(TWO):
        with autograd.record():
            loss = sum(
                ((p.data(ctx) * (1.0 + 0.25 * i + 0.5 * j + step)) ** 2).sum()
                for i, p in enumerate(params)
            )
        loss.backward()


def _trainer(opt: str, uok: bool) -> tuple[gluon.Trainer, list[gluon.Parameter]]:
    params = _params()
    kwargs: dict[str, Any] = {"learning_rate": 0.01, "wd": 0.001}
    if opt in ("sgd", "nag"):
        kwargs["momentum"] = 0.9
    if opt == "sgd":
        kwargs["lr_scheduler"] = mx.lr_scheduler.FactorScheduler(step=1, factor=0.9, base_lr=0.01)
        del kwargs["learning_rate"]
    t = gluon.Trainer(params, opt, kwargs, kvstore="local", update_on_kvstore=uok)
    _backward(params, 0)
    t.step(1)
    return t, params


def _weights(params: list[gluon.Parameter]) -> list[bytes]:
    return [arr.asnumpy().tobytes() for p in params for arr in p.list_data()]


def _split(blob: bytes) -> tuple[dict[str, Any], bytes]:
    head_len = struct.unpack("<Q", blob[16:24])[0]
    return json.loads(blob[24 : 24 + head_len]), blob[24 + head_len :]


def _join(header: dict[str, Any], payload: bytes) -> bytes:
    head = json.dumps(header).encode()
    return b"MXLITE-OPTSTATE\n" + struct.pack("<Q", len(head)) + head + payload


def _attrs(header: dict[str, Any]) -> list[list[Any]]:
    return header["optimizer"]["attrs"]["dict"]


def _set_attr(name: str, value: Any) -> Callable[[dict[str, Any], bytes], bytes]:
    def edit(header: dict[str, Any], payload: bytes) -> bytes:
        pairs = _attrs(header)
        for pair in pairs:
            if pair[0] == name:
                pair[1] = value
                return payload
        pairs.append([name, value])
        return payload

    return edit


def _drop_attr(name: str) -> Callable[[dict[str, Any], bytes], bytes]:
    def edit(header: dict[str, Any], payload: bytes) -> bytes:
        header["optimizer"]["attrs"]["dict"] = [p for p in _attrs(header) if p[0] != name]
        return payload

    return edit


def _set_sched_attr(name: str, value: Any) -> Callable[[dict[str, Any], bytes], bytes]:
    def edit(header: dict[str, Any], payload: bytes) -> bytes:
        sched = next(p[1] for p in _attrs(header) if p[0] == "lr_scheduler")
        for pair in sched["attrs"]["dict"]:
            if pair[0] == name:
                pair[1] = value
        return payload

    return edit


def _edit_header(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any], bytes], bytes]:
    def edit(header: dict[str, Any], payload: bytes) -> bytes:
        fn(header)
        return payload

    return edit


def _array_entry(i: int, **changes: Any) -> Callable[[dict[str, Any], bytes], bytes]:
    return _edit_header(lambda h: h["arrays"][i].update(changes))


# (label, optimizer, edit, message fragment)
CASES: list[tuple[str, str, Callable[[dict[str, Any], bytes], bytes], str]] = [
    ("attrs are an empty dict", "adam", _edit_header(lambda h: h["optimizer"].update(attrs={"dict": []})), "is missing"),
    ("lr is a string", "adam", _set_attr("lr", "x"), "'lr'"),
    ("lr is an object", "adam", _set_attr("lr", {"dict": []}), "'lr'"),
    ("lr is None without a scheduler", "adam", _set_attr("lr", None), "'lr'"),
    ("wd is a list", "adam", _set_attr("wd", {"list": [1]}), "'wd'"),
    ("rescale_grad is a bool", "adam", _set_attr("rescale_grad", True), "'rescale_grad'"),
    ("clip_gradient is a string", "adam", _set_attr("clip_gradient", "x"), "'clip_gradient'"),
    ("beta1 missing", "adam", _drop_attr("beta1"), "'beta1'"),
    ("beta1 is a list", "adam", _set_attr("beta1", {"list": []}), "'beta1'"),
    ("epsilon is None", "adam", _set_attr("epsilon", None), "'epsilon'"),
    ("aggregate_num negative", "adam", _set_attr("aggregate_num", -2), "'aggregate_num'"),
    ("scheduler warmup_steps negative", "sgd", _set_sched_attr("warmup_steps", -1), "'warmup_steps'"),
    ("lazy_update is an int", "adam", _set_attr("lazy_update", 3), "'lazy_update'"),
    ("momentum is a string", "sgd", _set_attr("momentum", "0.9"), "'momentum'"),
    ("lr_mult is a list", "adam", _set_attr("lr_mult", {"list": []}), "'lr_mult'"),
    ("lr_mult value a string", "adam", _set_attr("lr_mult", {"dict": [[0, "x"]]}), "'lr_mult'"),
    ("wd_mult key a list", "adam", _set_attr("wd_mult", {"dict": [[{"tuple": [{"list": []}]}, 1.0]]}), "'wd_mult'"),
    ("idx2name value an int", "adam", _set_attr("idx2name", {"dict": [[0, 5]]}), "'idx2name'"),
    ("num_update negative", "adam", _set_attr("num_update", -1), "'num_update'"),
    ("num_update a float", "adam", _set_attr("num_update", 2.5), "'num_update'"),
    ("aggregate_num a string", "adam", _set_attr("aggregate_num", "4"), "'aggregate_num'"),
    ("multi_precision an int", "adam", _set_attr("multi_precision", 1), "'multi_precision'"),
    ("count table not a dict", "adam", _set_attr("_all_index_update_counts", {"dict": [[0, "x"]]}), "'_all_index_update_counts'"),
    ("negative count", "adam", _set_attr("_all_index_update_counts", {"dict": [[0, {"dict": [[0, -3]]}]]}), "'_all_index_update_counts'"),
    ("count alias to a list", "adam", _set_attr("_index_update_count", {"dict": [["__count_table__", {"list": []}]]}), "'_index_update_count'"),
    ("scheduler base_lr a string", "sgd", _set_sched_attr("base_lr", "x"), "'base_lr'"),
    ("scheduler warmup_mode unknown", "sgd", _set_sched_attr("warmup_mode", "zigzag"), "'warmup_mode'"),
    ("scheduler step a string", "sgd", _set_sched_attr("step", "1"), "'step'"),
    ("scheduler is an optimizer", "sgd", _set_attr("lr_scheduler", {"optimizer": "sgd", "attrs": {"dict": []}}), "'lr_scheduler'"),
    ("state is a string", "adam", _edit_header(lambda h: h["states"]["dict"][0].__setitem__(1, "junk")), "state"),
    ("state key a float", "adam", _edit_header(lambda h: h["states"]["dict"][0].__setitem__(0, 0.5)), "state"),
    ("array dims over 64", "adam", _array_entry(0, shape=[1] * 65, nbytes=4), "array entry 0"),
    ("array dims over 32", "adam", _array_entry(0, shape=[1] * 33, nbytes=4), "array entry 0"),
    ("array zero-size huge dims", "adam", _array_entry(0, shape=[0, 2**40, 2**40], nbytes=0), "array entry 0"),
    ("array shape a string", "adam", _array_entry(0, shape="12"), "array entry 0"),
    ("array shape of bools", "adam", _array_entry(0, shape=[True, True]), "array entry 0"),
    ("array dtype a list", "adam", _array_entry(0, dtype=["float32"]), "array entry 0"),
    ("array offset out of order", "adam", _array_entry(1, offset=0), "array entry 1"),
    ("array nbytes negative", "adam", _array_entry(0, nbytes=-4), "array entry 0"),
]  # fmt: skip

PATHS = ["Updater.set_states", "Trainer.load_states", "Trainer.load_states on kvstore", "KVStore"]


def _load(path: str, t: gluon.Trainer, blob: bytes, tmp_path: Any) -> None:
    fname = str(tmp_path / "bad.states")
    with open(fname, "wb") as f:
        f.write(blob)
    if path == "Updater.set_states":
        t._updaters[0].set_states(blob)
    elif path == "KVStore":
        t._kvstore.load_optimizer_states(fname)
    else:
        t.load_states(fname)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("label", "opt", "edit", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_damaged_states_change_nothing(
    tmp_path: Any, path: str, label: str, opt: str, edit: Any, fragment: str
) -> None:
    uok = path in ("Trainer.load_states on kvstore", "KVStore")
    t, params = _trainer(opt, uok)
    twin, twin_params = _trainer(opt, uok)
    good = str(tmp_path / "good.states")
    t.save_states(good)
    header, payload = _split(open(good, "rb").read())
    payload = edit(header, payload)
    blob = _join(header, payload)
    optimizer, lr = t.optimizer, t.learning_rate
    states = [u.states for u in t._updaters] if not uok else [t._kvstore._updater.states]
    with pytest.raises(ParamFileError) as err:
        _load(path, t, blob, tmp_path)
    assert fragment in str(err.value), str(err.value)
    assert t.optimizer is optimizer and t.learning_rate == lr
    now = [u.states for u in t._updaters] if not uok else [t._kvstore._updater.states]
    assert all(a is b for a, b in zip(now, states, strict=True))
    for step in (1, 2):  # the working optimizer steps exactly as one that never saw the file
        _backward(params, step)
        t.step(1)
        _backward(twin_params, step)
        twin.step(1)
    assert _weights(params) == _weights(twin_params)


def test_round_trip_still_loads_through_every_path(tmp_path: Any) -> None:
    for path in PATHS:
        uok = path in ("Trainer.load_states on kvstore", "KVStore")
        t, params = _trainer("adam", uok)
        good = str(tmp_path / "good.states")
        t.save_states(good)
        blob = open(good, "rb").read()
        twin, twin_params = _trainer("adam", uok)
        _load(path, twin, blob, tmp_path)
        for step in (1, 2):
            _backward(params, step)
            t.step(1)
            _backward(twin_params, step)
            twin.step(1)
        assert _weights(params) == _weights(twin_params), path


# ------------------------------------------------------------------------------ memory
def _peak(fn: Callable[[], Any]) -> int:
    return peak_bytes(fn, (ParamFileError,))


def _overlapping_file(copies: int, span: int) -> bytes:
    """``copies`` array entries that all name the same ``span`` bytes of the payload."""
    t, _ = _trainer("sgd", False)
    header, _ = _split(t._updaters[0].get_states(dump_optimizer=True))
    n = span // 4
    header["arrays"] = [
        {"dtype": "float32", "shape": [n], "offset": 0, "nbytes": span} for _ in range(copies)
    ]
    header["states"] = {"dict": [[i, {"nd": i}] for i in range(copies)]}
    return _join(header, b"\0" * span)


@pytest.mark.parametrize("path", PATHS)
def test_overlapping_arrays_cost_no_memory_beyond_the_file(tmp_path: Any, path: str) -> None:
    blob = _overlapping_file(copies=400, span=64 << 10)  # 64 KiB named 400 times: 25 MiB
    uok = path in ("Trainer.load_states on kvstore", "KVStore")
    t, _ = _trainer("sgd", uok)
    fname = str(tmp_path / "bad.states")
    with open(fname, "wb") as f:
        f.write(blob)
    with pytest.raises(ParamFileError, match="array entry 1"):
        _load(path, t, blob, tmp_path)
    peak = _peak(lambda: _load(path, t, blob, tmp_path))
    assert peak < 4 * len(blob) + (256 << 10), (peak, len(blob))


@pytest.mark.parametrize("path", PATHS)
def test_valid_states_load_within_a_small_multiple_of_the_file(tmp_path: Any, path: str) -> None:
    uok = path in ("Trainer.load_states on kvstore", "KVStore")
    params = [gluon.Parameter(f"big{i}_weight", shape=(64, 256)) for i in range(8)]
    for p in params:
        p.initialize(ctx=TWO)
    t = gluon.Trainer(params, "adam", {"learning_rate": 0.01}, update_on_kvstore=uok)
    for j, ctx in enumerate(TWO):
        with autograd.record():
            loss = sum((p.data(ctx) * (1 + j)).sum() for p in params)
        loss.backward()
    t.step(1)
    fname = str(tmp_path / "s.states")
    t.save_states(fname)
    blob = open(fname, "rb").read()
    assert len(blob) > 1 << 20  # Adam: two (64, 256) float32 states per weight
    peak = _peak(lambda: _load(path, t, blob, tmp_path))
    # the file's bytes, one decoded copy per updater (two contexts) and slack
    assert peak < 4 * len(blob), (peak, len(blob))
    assert np.isfinite(t.learning_rate)
