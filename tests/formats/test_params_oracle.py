"""Live differential tests against real MXNet 1.9.1: files mxlite writes load in MXNet (and MXNet
re-saves them byte for byte), files MXNet writes load in mxlite, and bad input fails alike.

One oracle process serves the whole module (see the ``oracle_report`` fixture)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import util
from mxlite.base import DTYPE_NAME_TO_NP
from mxlite.ndarray import serialization
from mxlite.ndarray.ndarray import NDArray
from mxlite.numpy.multiarray import ndarray as np_ndarray
from tests._support.oracle import run_oracle_json

pytestmark = pytest.mark.oracle

DTYPES = ["float32", "float64", "float16", "uint8", "int8", "int32", "int64", "bool", "bfloat16"]


def _random(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    dt = np.dtype(DTYPE_NAME_TO_NP[dtype])
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
    return (rng.standard_normal(shape) * 100).astype(dt)


def _mxlite_contents() -> dict[str, tuple[str, Any]]:
    """file name -> (mode, list or dict of raw numpy arrays) that mxlite will save."""
    rng = np.random.default_rng(2024)
    shapes = [(3,), (2, 3), (1, 2, 1, 2), (4, 1), (2, 2, 2), (5,), (1,), (3, 2), (1, 1, 1, 1, 1, 2)]
    nd_list = [_random(rng, dt, shp) for dt, shp in zip(DTYPES, shapes)]
    nd_dict = {f"layer{i}.{dt}_ü": _random(rng, dt, (2, i + 1)) for i, dt in enumerate(DTYPES)}
    nd_dict["empty"] = np.zeros((0,), np.float32)
    np_list = [_random(rng, dt, ()) for dt in DTYPES]
    np_list += [np.zeros((2, 0, 3), np.int64), np.zeros((0,), DTYPE_NAME_TO_NP["bfloat16"])]
    np_dict = {"w": _random(rng, "float32", (3, 3)), "scalar": np.array(1.5, np.float64)}
    return {
        "nd_list.params": ("nd", nd_list),
        "nd_dict.params": ("nd", nd_dict),
        "nd_single.params": ("nd", _random(rng, "int32", (2, 2))),
        "nd_empty.params": ("nd", []),
        "np_list.params": ("np", np_list),
        "np_dict.params": ("np", np_dict),
    }


def _wrap(content: Any, cls: type) -> Any:
    if isinstance(content, dict):
        return {k: cls(v) for k, v in content.items()}
    if isinstance(content, list):
        return [cls(v) for v in content]
    return cls(content)


_ORACLE_SCRIPT = r"""
import os, sys
from mxnet import npx
BF16 = np.dtype([('bfloat16', np.uint16)])

def name_of(dt):
    return 'bfloat16' if np.dtype(dt) == BF16 else np.dtype(dt).name

def describe(loaded):
    def one(a):
        return {'dtype': name_of(a.dtype), 'shape': list(a.shape),
                'hex': np.ascontiguousarray(a.asnumpy()).tobytes().hex()}
    if isinstance(loaded, dict):
        return {'kind': 'dict', 'names': list(loaded), 'arrays': [one(v) for v in loaded.values()]}
    return {'kind': 'list', 'names': [], 'arrays': [one(v) for v in loaded]}

report = {'read': {}, 'written': {}, 'errors': {}}
# 1. load what mxlite wrote, then save it again and compare the bytes
for fname, mode in FILES.items():
    if mode == 'np':
        npx.set_np()
        loaded = npx.load(fname)
        npx.save(fname + '.again', loaded)
        npx.reset_np()
    else:
        loaded = mx.nd.load(fname)
        mx.nd.save(fname + '.again', loaded)
    entry = describe(loaded)
    entry['resaved_identical'] = open(fname, 'rb').read() == open(fname + '.again', 'rb').read()
    report['read'][fname] = entry

# 2. files MXNet writes for mxlite to load
rng = np.random.RandomState(99)
def rnd(dt, shape):
    if dt == 'bool':
        return mx.nd.array(rng.randint(0, 2, shape).astype(bool), dtype='bool')
    if dt == 'bfloat16':
        return mx.nd.amp_cast(mx.nd.array(rng.randn(*shape) * 10, dtype='float32'), dtype=BF16)
    if np.dtype(dt).kind in 'iu':
        return mx.nd.array(rng.randint(-100 if np.dtype(dt).kind == 'i' else 0, 100, shape), dtype=dt)
    return mx.nd.array(rng.randn(*shape) * 10, dtype=dt)
DT = ['float32', 'float64', 'float16', 'uint8', 'int8', 'int32', 'int64', 'bool', 'bfloat16']
mx.nd.save('mx_list.params', [rnd(dt, (2, i + 1)) for i, dt in enumerate(DT)])
mx.nd.save('mx_dict.params', {'p%d.%s' % (i, dt): rnd(dt, (i + 1, 1, 2)) for i, dt in enumerate(DT)})
npx.set_np()
npx.save('mx_np.params', {'s': mx.np.array(2.0), 'z': mx.np.zeros((0, 2)),
                          'b': rnd('bfloat16', (3,)).as_np_ndarray(), 'i': mx.np.array([1, 2], dtype='int64')})
npx.reset_np()
for fname in ['mx_list.params', 'mx_dict.params']:
    report['written'][fname] = dict(describe(mx.nd.load(fname)), mode='nd')
npx.set_np()
report['written']['mx_np.params'] = dict(describe(npx.load('mx_np.params')), mode='np')
npx.reset_np()

# 3. how bad input fails
def err(fn):
    try:
        fn()
    except Exception as e:
        return [type(e).__name__, str(e).split('\n')[-1][:300]]
    return None
x = mx.nd.ones(2)
report['errors'] = {
    'save_ints': err(lambda: mx.nd.save('e.params', [1, 2])),
    'save_mixed': err(lambda: mx.nd.save('e.params', [x, np.ones(2)])),
    'save_numpy': err(lambda: mx.nd.save('e.params', np.ones(2))),
    'save_tuple': err(lambda: mx.nd.save('e.params', (x,))),
    'save_int_key': err(lambda: mx.nd.save('e.params', {1: x})),
    'save_bad_value': err(lambda: mx.nd.save('e.params', {'a': 1})),
    'load_int_fname': err(lambda: mx.nd.load(3)),
    'frombuffer_int': err(lambda: mx.nd.load_frombuffer(123)),
    'npx_save_legacy_mode': err(lambda: npx.save('e.params', [x])),
    'npx_load_legacy_mode': err(lambda: npx.load('mx_list.params')),
}
npx.set_np()
report['errors']['save_np_array'] = err(lambda: mx.nd.save('e.params', [mx.np.ones(2)]))
report['errors']['npx_save_legacy_array'] = err(lambda: npx.save('e.params', [x]))
report['errors']['npx_save_tuple'] = err(lambda: npx.save('e.params', (mx.np.ones(2),)))
npx.reset_np()
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def oracle_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    workdir = tmp_path_factory.mktemp("oracle_params")
    contents = _mxlite_contents()
    for fname, (mode, content) in contents.items():
        path = str(workdir / fname)
        if mode == "np":
            util.set_np()
            try:
                serialization.npx_save(path, _wrap(content, np_ndarray))
            finally:
                util.reset_np()
        else:
            serialization.save(path, _wrap(content, NDArray))
    files = {fname: mode for fname, (mode, _) in contents.items()}
    script = f"FILES = {json.dumps(files)}\n" + _ORACLE_SCRIPT
    report = run_oracle_json(script, cwd=workdir)
    return workdir, contents, report


def _as_list_of_raw(content: Any) -> tuple[str, list[str], list[np.ndarray]]:
    if isinstance(content, dict):
        return "dict", list(content), list(content.values())
    if isinstance(content, list):
        return "list", [], content
    return "list", [], [content]


@pytest.mark.parametrize("fname", sorted(_mxlite_contents()))
def test_mxnet_loads_what_mxlite_writes(oracle_report, fname: str) -> None:
    _, contents, report = oracle_report
    got = report["read"][fname]
    kind, names, arrays = _as_list_of_raw(contents[fname][1])
    assert got["kind"] == kind and got["names"] == names
    assert len(got["arrays"]) == len(arrays)
    for rep, arr in zip(got["arrays"], arrays):
        assert rep["dtype"] == arr.dtype.name
        assert rep["shape"] == list(arr.shape)
        assert bytes.fromhex(rep["hex"]) == np.ascontiguousarray(arr).tobytes()


@pytest.mark.parametrize("fname", sorted(_mxlite_contents()))
def test_mxnet_resaves_mxlite_files_byte_for_byte(oracle_report, fname: str) -> None:
    assert oracle_report[2]["read"][fname]["resaved_identical"] is True


@pytest.mark.parametrize("fname", ["mx_list.params", "mx_dict.params", "mx_np.params"])
def test_mxlite_loads_what_mxnet_writes(oracle_report, fname: str) -> None:
    workdir, _, report = oracle_report
    want = report["written"][fname]
    path = str(workdir / fname)
    if want["mode"] == "np":
        util.set_np()
        try:
            loaded = serialization.npx_load(path)
        finally:
            util.reset_np()
        cls: type = np_ndarray
    else:
        loaded = serialization.load(path)
        cls = NDArray
    kind, names, arrays = _as_list_of_raw(loaded)
    assert kind == want["kind"] and names == want["names"]
    for rep, arr in zip(want["arrays"], arrays, strict=True):
        assert type(arr) is cls and arr.context == mx.cpu(0)
        raw = arr.asnumpy()
        assert raw.dtype.name == rep["dtype"] and list(raw.shape) == rep["shape"]
        assert np.ascontiguousarray(raw).tobytes() == bytes.fromhex(rep["hex"])


def _mxlite_errors(workdir: Path) -> dict[str, list[str] | None]:
    def err(fn: Any) -> list[str] | None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - we record whatever is raised
            return [type(e).__name__, str(e)]
        return None

    x = mx.nd.ones((2,))
    target = str(workdir / "e.params")
    out = {
        "save_ints": err(lambda: serialization.save(target, [1, 2])),
        "save_mixed": err(lambda: serialization.save(target, [x, np.ones(2)])),
        "save_numpy": err(lambda: serialization.save(target, np.ones(2))),
        "save_tuple": err(lambda: serialization.save(target, (x,))),
        "save_int_key": err(lambda: serialization.save(target, {1: x})),
        "save_bad_value": err(lambda: serialization.save(target, {"a": 1})),
        "load_int_fname": err(lambda: serialization.load(3)),
        "frombuffer_int": err(lambda: serialization.load_frombuffer(123)),
        "npx_save_legacy_mode": err(lambda: serialization.npx_save(target, [x])),
        "npx_load_legacy_mode": err(lambda: serialization.npx_load(target)),
    }
    util.set_np()
    try:
        npx = np_ndarray(np.ones(2, np.float32))
        out["save_np_array"] = err(lambda: serialization.save(target, [npx]))
        out["npx_save_legacy_array"] = err(lambda: serialization.npx_save(target, [x]))
        out["npx_save_tuple"] = err(lambda: serialization.npx_save(target, (npx,)))
    finally:
        util.reset_np()
    return out


# Where mxlite's message deliberately differs, the part that must still match MXNet's.
_SAME_PREFIX = {"save_np_array": "cannot save mxnet.numpy.ndarray using mxnet.ndarray.save;"}


def test_bad_input_fails_like_mxnet(oracle_report) -> None:
    workdir, _, report = oracle_report
    ours = _mxlite_errors(workdir)
    assert set(ours) == set(report["errors"])
    for case, theirs in report["errors"].items():
        mine = ours[case]
        assert theirs is not None and mine is not None, case
        assert mine[0] == theirs[0], (case, mine, theirs)
        if case in _SAME_PREFIX:
            assert mine[1].startswith(_SAME_PREFIX[case]) and theirs[1].startswith(
                _SAME_PREFIX[case]
            )
        else:
            assert mine[1] == theirs[1], (case, mine, theirs)
