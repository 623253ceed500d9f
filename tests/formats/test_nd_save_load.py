"""The public save/load API: mx.nd.save / mx.nd.load / load_frombuffer and npx.save / npx.load."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

import mxlite as mx
from mxlite import util
from mxlite.base import DTYPE_NAME_TO_NP, MXNetError, ParamFileError
from mxlite.ndarray import serialization
from mxlite.ndarray.ndarray import NDArray
from mxlite.numpy.multiarray import ndarray as np_ndarray
from tests._support.params_golden import (
    GOLDEN_DIR,
    MANIFEST,
    assert_same_arrays,
    expected_container,
    golden_bytes,
)


@pytest.fixture
def np_mode():
    util.set_np()
    try:
        yield
    finally:
        util.reset_np()


def _raw(loaded):
    if isinstance(loaded, dict):
        return {k: v.asnumpy() for k, v in loaded.items()}
    return [v.asnumpy() for v in loaded]


@pytest.mark.parametrize(
    "fname", sorted(f for f, i in MANIFEST.items() if i["mode"] == "nd" and i["mxnet_loads"])
)
def test_nd_load_goldens(fname: str) -> None:
    loaded = mx.nd.load(str(GOLDEN_DIR / fname))
    values = loaded.values() if isinstance(loaded, dict) else loaded
    assert all(type(v) is NDArray and v.context == mx.cpu(0) for v in values)
    assert_same_arrays(_raw(loaded), expected_container(fname))


@pytest.mark.parametrize("fname", sorted(f for f, i in MANIFEST.items() if i["mode"] == "np"))
def test_npx_load_goldens(fname: str, np_mode) -> None:
    loaded = serialization.npx_load(str(GOLDEN_DIR / fname))
    values = loaded.values() if isinstance(loaded, dict) else loaded
    assert all(type(v) is np_ndarray for v in values)
    assert_same_arrays(_raw(loaded), expected_container(fname))
    # mx.nd.load in numpy mode also loads V3 files, but returns legacy NDArrays (as MXNet does).
    legacy = mx.nd.load(str(GOLDEN_DIR / fname))
    values = legacy.values() if isinstance(legacy, dict) else legacy
    assert all(type(v) is NDArray for v in values)


def test_numpy_shape_mode_must_match_like_mxnet(np_mode) -> None:
    with pytest.raises(ParamFileError, match="is_np_shape") as err:
        mx.nd.load(str(GOLDEN_DIR / "nd_single.params"))
    assert "nd_single.params" in str(err.value)
    util.reset_np()
    with pytest.raises(MXNetError, match="is_np_shape"):
        mx.nd.load(str(GOLDEN_DIR / "np_single.params"))
    # Gluon-style fallback: scope np shape off to read a legacy file.
    util.set_np()
    with util.np_shape(False), util.np_array(False):
        assert mx.nd.load(str(GOLDEN_DIR / "nd_single.params"))[0].shape == (2, 2)


def test_save_writes_what_mxnet_writes(tmp_path: Path) -> None:
    target = tmp_path / "x.params"
    mx.nd.save(str(target), NDArray(expected_container("nd_single.params")[0]))
    assert target.read_bytes() == golden_bytes("nd_single.params")
    content = {k: NDArray(v) for k, v in expected_container("nd_dict.params").items()}
    mx.nd.save(str(target), content)
    assert target.read_bytes() == golden_bytes("nd_dict.params")


def test_nd_save_in_np_mode_writes_v3(tmp_path: Path, np_mode) -> None:
    target = tmp_path / "x.params"
    mx.nd.save(str(target), [NDArray(np.array([1.0, 2.0], np.float32))])
    assert target.read_bytes() == golden_bytes("np_mode_nd_save.params")


def test_npx_save_writes_what_mxnet_writes(tmp_path: Path, np_mode) -> None:
    target = tmp_path / "x.params"
    content = expected_container("np_list.params")
    serialization.npx_save(str(target), [np_ndarray(a) for a in content])
    assert target.read_bytes() == golden_bytes("np_list.params")


def test_zero_d_outside_np_mode_warns_and_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "s.params"
    with pytest.warns(UserWarning, match="MXNet 1.9.1 itself cannot") as rec:
        mx.nd.save(str(target), [NDArray(np.array(5.0, np.float32))])
    assert rec[0].filename == __file__  # points at the caller
    assert target.read_bytes() == golden_bytes("nd_scalar.params")
    (back,) = mx.nd.load(str(target))
    assert back.shape == () and back.asnumpy() == 5.0


@pytest.mark.parametrize("ext", [".params", ".safetensors", ".npz", ".bin"])
@pytest.mark.parametrize("container", ["list", "dict", "single"])
def test_round_trip_every_format(tmp_path: Path, ext: str, container: str) -> None:
    arrays = [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array([1, -2], np.int64),
        np.array([1.5, 2.5], DTYPE_NAME_TO_NP["bfloat16"]),
        np.array([True, False]),
    ]
    if container == "dict":
        data = {f"p{i}": NDArray(a) for i, a in enumerate(arrays)}
        want = {f"p{i}": a for i, a in enumerate(arrays)}
    elif container == "list":
        data, want = [NDArray(a) for a in arrays], arrays
    else:
        data, want = NDArray(arrays[0]), [arrays[0]]
    target = tmp_path / f"model{ext}"
    mx.nd.save(str(target), data)
    loaded = _raw(mx.nd.load(str(target)))
    if ext == ".safetensors" and container == "dict":
        # safetensors orders tensors by dtype size then name (as the reference writer does)
        loaded, want = dict(sorted(loaded.items())), dict(sorted(want.items()))
    assert_same_arrays(loaded, want)
    if ext == ".safetensors":
        assert target.read_bytes()[8:9] == b"{"
    elif ext == ".npz":
        assert target.read_bytes()[:2] == b"PK"
    else:
        assert target.read_bytes()[:8] == struct.pack("<Q", 0x112)


def test_format_argument_overrides_extension(tmp_path: Path) -> None:
    target = tmp_path / "weights.params"
    mx.nd.save(str(target), {"a": mx.nd.ones((2,))}, format="safetensors")
    with pytest.raises(ParamFileError, match="format='safetensors'"):
        mx.nd.load(str(target))
    assert mx.nd.load(str(target), format="safetensors")["a"].asnumpy().tolist() == [1.0, 1.0]
    mx.nd.save(str(target), {"a": mx.nd.ones((2,))}, format="mxnet")
    assert mx.nd.load(str(target), format="params")["a"].shape == (2,)
    with pytest.raises(ValueError, match="Unknown format 'pickle'"):
        mx.nd.save(str(target), [mx.nd.ones((1,))], format="pickle")


def test_pathlike_and_ctx(tmp_path: Path) -> None:
    target = tmp_path / "p.params"
    mx.nd.save(target, [mx.nd.ones((3,))])
    (back,) = mx.nd.load(target, ctx=mx.cpu(1))
    assert back.context == mx.cpu(1)
    with pytest.raises(TypeError, match="ctx must be a Context"):
        mx.nd.load(target, ctx="gpu")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.params"
    with pytest.raises(FileNotFoundError) as err:
        mx.nd.load(str(missing))
    assert isinstance(err.value, MXNetError) and str(missing) in str(err.value)
    with pytest.raises(MXNetError, match="does the directory exist"):
        mx.nd.save(str(tmp_path / "no_dir" / "x.params"), [mx.nd.ones((1,))])
    assert list(tmp_path.iterdir()) == []


def test_damaged_file_error_names_path(tmp_path: Path) -> None:
    target = tmp_path / "broken.params"
    target.write_bytes(golden_bytes("nd_dict.params")[:100])
    with pytest.raises(ParamFileError) as err:
        mx.nd.load(str(target))
    assert str(target) in str(err.value) and "truncated" in str(err.value)


@pytest.mark.parametrize(
    ("data", "exc", "fragment"),
    [
        ([1, 2], TypeError, "save only accept dict str->NDArray or list of NDArray"),
        ({1: "x"}, TypeError, "save only accept dict"),
        ((1,), ValueError, "data needs to either be a NDArray"),
        (np.ones(2), ValueError, "data needs to either be a NDArray"),
    ],
)
def test_bad_save_input_writes_nothing(tmp_path: Path, data, exc, fragment) -> None:
    target = tmp_path / "x.params"
    with pytest.raises(exc, match=fragment):
        mx.nd.save(str(target), data)
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"previous")
    with pytest.raises(exc):
        mx.nd.save(str(target), data)
    assert target.read_bytes() == b"previous"


def test_empty_dict_loads_as_empty_list_like_mxnet(tmp_path: Path) -> None:
    target = tmp_path / "e.params"
    mx.nd.save(str(target), {})
    assert mx.nd.load(str(target)) == []
    assert target.read_bytes() == golden_bytes("nd_empty_dict.params")


def test_load_frombuffer_sniffs_every_format(tmp_path: Path) -> None:
    assert_same_arrays(
        _raw(mx.nd.load_frombuffer(golden_bytes("nd_dict.params"))),
        expected_container("nd_dict.params"),
    )
    for ext in (".safetensors", ".npz"):
        target = tmp_path / f"m{ext}"
        mx.nd.save(str(target), {"w": mx.nd.ones((2, 2))})
        got = mx.nd.load_frombuffer(bytearray(target.read_bytes()))
        assert got["w"].asnumpy().tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(TypeError, match="buf required to be a string or bytes"):
        mx.nd.load_frombuffer(123)
    with pytest.raises(ParamFileError, match="<buffer>"):
        mx.nd.load_frombuffer(b"abc")


def test_device_in_file_is_ignored() -> None:
    loaded = mx.nd.load(str(GOLDEN_DIR / "v2_gpu1_device.params"))
    assert loaded["on_gpu1"].context == mx.cpu(0)
    assert loaded["on_gpu1"].asnumpy().tolist() == [3, -4]


def test_no_pickle_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    def boom(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    for ext in (".params", ".safetensors", ".npz"):
        target = tmp_path / f"m{ext}"
        mx.nd.save(str(target), {"w": mx.nd.ones((2,))})
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert mx.nd.load(str(target))["w"].shape == (2,)


@pytest.mark.gpu
def test_gpu_arrays_save_their_device_and_load_onto_ctx(tmp_path: Path, gpu_ctx) -> None:
    target = tmp_path / "g.params"
    x = mx.nd.array(np.arange(4, dtype=np.float32), ctx=gpu_ctx)
    mx.nd.save(str(target), {"x": x})
    raw = target.read_bytes()
    dev_type, dev_id = struct.unpack_from("<ii", raw, 24 + 12 + 8)
    assert (dev_type, dev_id) == (2, gpu_ctx.device_id)
    back = mx.nd.load(str(target), ctx=gpu_ctx)["x"]
    assert back.context == gpu_ctx and back.asnumpy().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert mx.nd.load(str(target))["x"].context == mx.cpu(0)
    for ext in (".safetensors", ".npz"):
        mx.nd.save(str(tmp_path / f"g{ext}"), [x])
        assert mx.nd.load(str(tmp_path / f"g{ext}"), ctx=gpu_ctx)[0].asnumpy().tolist() == [
            0,
            1,
            2,
            3,
        ]
