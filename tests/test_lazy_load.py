"""ParameterDict.load / load_parameters read .params files straight into the replicas."""

from __future__ import annotations

import os

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import CheckError, ParamFileError
from mxlite.gluon import ParameterDict, _lazy_load

DTYPES = ("float32", "float64", "float16", "bfloat16", "int32", "uint8", "bool")


def _source(tmp_path, seed=0, n=7, name="src.params"):
    rng = np.random.default_rng(seed)
    arrays = {}
    for i in range(n):
        dtype = mx.base.DTYPE_NAME_TO_NP[DTYPES[i % len(DTYPES)]]
        shape = [(3, 4), (5,), (2, 3, 2)][i % 3]
        vals = rng.standard_normal(shape) * 20
        arrays[f"p{i}_weight"] = np.asarray(vals).astype(dtype)
    path = str(tmp_path / name)
    mx.nd.save(path, {k: mx.nd.NDArray(v.copy()) for k, v in arrays.items()})
    return path, arrays


def _target(arrays, ctx, prefix=""):
    pd = ParameterDict(prefix)
    for name, arr in arrays.items():
        pd.get(name, shape=arr.shape, dtype=arr.dtype, init="zeros")
    pd.initialize(ctx=ctx)
    return pd


@pytest.mark.parametrize("ctx", [[mx.cpu(0)], [mx.cpu(0), mx.cpu(1)]], ids=["1", "2"])
def test_load_into_initialized_replicas_in_place(tmp_path, ctx):
    path, arrays = _source(tmp_path)
    pd = _target(arrays, ctx)
    buffers = {name: [id(a._data) for a in p.list_data()] for name, p in pd.items()}
    held = pd["p0_weight"].data(ctx[0])
    pd.load(path, ctx=ctx)
    for name, p in pd.items():
        assert [id(a._data) for a in p.list_data()] == buffers[name]  # read into the replicas
        for arr in p.list_data():
            assert arr.asnumpy().tobytes() == arrays[name].tobytes()
            assert arr.dtype == arrays[name].dtype
    assert held.asnumpy().tobytes() == arrays["p0_weight"].tobytes()  # as MXNet's set_data


def test_bool_bytes_are_normalized(tmp_path):
    path = str(tmp_path / "b.params")
    mx.nd.save(path, {"m_weight": mx.nd.NDArray(np.array([True, False, True]))})
    raw = bytearray(open(path, "rb").read())
    data_at = raw.index(bytes([1, 0, 1]))
    raw[data_at] = 7  # a byte other than 0/1
    open(path, "wb").write(bytes(raw))
    pd = ParameterDict()
    pd.get("m_weight", shape=(3,), dtype="bool", init="zeros")
    pd.initialize()
    pd.load(path)
    got = pd["m_weight"].data().asnumpy()
    assert got.view(np.uint8).tolist() == [1, 0, 1]


def test_uninitialized_cast_and_prefix_paths(tmp_path):
    path, arrays = _source(tmp_path, n=3)
    pd = ParameterDict("net_")
    pd.get("p0_weight", shape=(3, 4), dtype="float64")  # file has float32: cast
    pd.get("p1_weight", shape=(5,), dtype="float64")  # same dtype, not initialized
    pd.get("p2_weight", shape=(2, 3, 2), dtype="float16")
    pd.load(path, restore_prefix="net_", cast_dtype=True, ctx=[mx.cpu(1)])
    assert pd["net_p0_weight"].data().dtype == np.float64
    assert np.array_equal(
        pd["net_p0_weight"].data().asnumpy(), arrays["p0_weight"].astype(np.float64)
    )
    assert pd["net_p1_weight"].data().asnumpy().tobytes() == arrays["p1_weight"].tobytes()
    assert pd["net_p1_weight"].list_ctx() == [mx.cpu(1)]


def test_checks_run_before_any_byte_is_read(tmp_path):
    path, arrays = _source(tmp_path, n=3)
    pd = _target(arrays, [mx.cpu(0)])
    pd.get("extra_weight", shape=(9,), init="zeros")
    pd["extra_weight"].initialize()
    with pytest.raises(CheckError, match="extra_weight' is missing"):
        pd.load(path)
    for p in pd.values():
        assert not p.data().asnumpy().astype(np.float64).any()


def test_truncated_file_fails_before_any_change(tmp_path):
    path, arrays = _source(tmp_path, n=3)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) - 40])
    pd = _target(arrays, [mx.cpu(0)])
    with pytest.raises(ParamFileError, match="truncated or damaged|ended early"):
        pd.load(path)
    for p in pd.values():
        assert not p.data().asnumpy().astype(np.float64).any()


def test_reads_the_indexed_file_even_if_the_path_is_replaced(tmp_path, monkeypatch):
    path, arrays = _source(tmp_path, n=3)
    other, _ = _source(tmp_path, seed=9, n=3, name="other.params")
    pd = _target(arrays, [mx.cpu(0)])
    real = _lazy_load.apply_loads

    def swap_then_apply(plans):
        os.replace(other, path)  # an atomic save of another model lands in between
        return real(plans)

    monkeypatch.setattr(_lazy_load, "apply_loads", swap_then_apply)
    pd.load(path)
    for name, p in pd.items():
        assert p.data().asnumpy().tobytes() == arrays[name].tobytes()


def test_index_closes_its_file(tmp_path):
    path, _ = _source(tmp_path, n=2)
    index = _lazy_load.index_params(path)
    fd = next(iter(index.values())).handle.fd
    os.fstat(fd)
    _lazy_load.close(index)
    with pytest.raises(OSError):
        os.fstat(fd)


def test_other_formats_and_list_files_take_the_ordinary_path(tmp_path):
    path = str(tmp_path / "x.npz")
    mx.nd.save(path, {"w_weight": mx.nd.ones((2,))})
    assert _lazy_load.index_params(path) is None
    pd = ParameterDict()
    pd.get("w_weight", shape=(2,), init="zeros")
    pd.initialize()
    pd.load(path)
    assert pd["w_weight"].data().asnumpy().tolist() == [1.0, 1.0]
    lst = str(tmp_path / "l.params")
    mx.nd.save(lst, [mx.nd.ones((2,))])
    assert isinstance(_lazy_load.index_params(lst), list)
    with pytest.raises(ValueError, match="list of unnamed arrays"):
        pd.load(lst)


def test_block_load_parameters_structural_names(tmp_path):
    net = mx.gluon.nn.HybridSequential()
    with net.name_scope():
        net.add(mx.gluon.nn.Dense(3, in_units=2), mx.gluon.nn.Dense(1, in_units=3))
    net.initialize(mx.init.Xavier(), ctx=[mx.cpu(0), mx.cpu(1)])
    path = str(tmp_path / "net.params")
    net.save_parameters(path)
    expected = {k: v.asnumpy() for k, v in mx.nd.load(path).items()}
    for p in net.collect_params().values():
        for arr in p.list_data():
            arr[:] = 0
    net.load_parameters(path, ctx=[mx.cpu(0), mx.cpu(1)])
    for key, param in net._collect_params_with_prefix().items():
        for arr in param.list_data():
            assert arr.asnumpy().tobytes() == expected[key].tobytes()


@pytest.mark.gpu
def test_gpu_replicas_load_through_staging(tmp_path, gpu_ctx):
    path, arrays = _source(tmp_path)
    pd = _target(arrays, [gpu_ctx, mx.cpu(0)])
    pd.load(path, ctx=[gpu_ctx, mx.cpu(0)])
    for name, p in pd.items():
        for arr in p.list_data():
            assert arr.asnumpy().tobytes() == arrays[name].tobytes()
