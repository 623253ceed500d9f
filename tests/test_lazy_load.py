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
    fd = next(iter(index.values())).index.fd
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


# ------------------------------------------------------------------------------ all or nothing
def _record(shape: tuple[int, ...], flag: int = 0, data: bytes = b"") -> bytes:
    """One V2 array record of a .params file (cpu(0))."""
    import struct

    head = struct.pack("<Iii", 0xF993FAC9, 0, len(shape)) + struct.pack(f"<{len(shape)}q", *shape)
    return head + struct.pack("<iii", 1, 0, flag) + data


def _params_file(path, records: list[tuple[str, bytes]]) -> None:
    import struct

    out = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(r for _, r in records)
    out += struct.pack("<Q", len(records))
    for name, _ in records:
        out += struct.pack("<Q", len(name)) + name.encode()
    with open(path, "wb") as f:
        f.write(out)


def _all_zero(pd) -> bool:
    """Whether every initialized replica is still all zeros (nothing was loaded)."""
    return all(
        not arr.asnumpy().astype(np.float64).any()
        for p in pd.values()
        if p._data is not None
        for arr in p.list_data()
    )


@pytest.mark.parametrize("how", ["ParameterDict.load", "load_parameters"])
def test_zero_size_array_with_huge_dims_fails_before_any_change(tmp_path, how):
    """(0, 2**40, 2**40) holds no bytes but is beyond NumPy's limits: refused while indexing,
    with the normal reader's message, before the first Parameter is written."""
    path = str(tmp_path / "huge.params")
    ones = np.ones((4, 3), np.float32).tobytes()
    names = ("a_weight", "b_weight") if how == "ParameterDict.load" else ("0.weight", "1.weight")
    _params_file(
        path, [(names[0], _record((4, 3), 0, ones)), (names[1], _record((0, 2**40, 2**40)))]
    )
    with pytest.raises(ParamFileError, match="too large for NumPy") as ref:
        mx.nd.load(path)
    if how == "ParameterDict.load":
        target = ParameterDict()
        target.get("a_weight", shape=(4, 3), init="zeros")
        target.get("b_weight", shape=(0, 0, 0), allow_deferred_init=True)
        target["a_weight"].initialize(ctx=[mx.cpu(0), mx.cpu(1)])
        with pytest.raises(ParamFileError, match="too large for NumPy") as err:
            target.load(path)
    else:
        net = mx.gluon.nn.Sequential()
        net.add(mx.gluon.nn.Dense(4, in_units=3, use_bias=False))
        net.initialize(mx.init.Zero(), ctx=[mx.cpu(0), mx.cpu(1)])
        target = net.collect_params()
        with pytest.raises(ParamFileError, match="too large for NumPy") as err:
            net.load_parameters(path, ctx=[mx.cpu(0), mx.cpu(1)], ignore_extra=True)
    assert path in str(err.value) and "array 1" in str(err.value) and "array 1" in str(ref.value)
    assert _all_zero(target)


def _rewrite_in_place(path: str, data: bytes) -> None:
    """What `cp other path` does: the same inode truncated and written again (later mtime)."""
    before = os.stat(path)
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert os.stat(path).st_ino == before.st_ino


@pytest.mark.parametrize("change", ["truncated", "other model", "grown"])
def test_file_rewritten_in_place_between_indexing_and_reading(tmp_path, monkeypatch, change):
    path, arrays = _source(tmp_path, n=6)
    other, _ = _source(tmp_path, seed=9, n=6, name="other.params")
    data = open(path, "rb").read()
    new = {
        "truncated": data[: len(data) // 2],
        "other model": open(other, "rb").read(),
        "grown": data + b"\0" * 64,
    }[change]
    pd = _target(arrays, [mx.cpu(0), mx.cpu(1)])
    real = _lazy_load.apply_loads

    def rewrite_then_apply(plans):
        _rewrite_in_place(path, new)  # another program rewrites the file after it was indexed
        return real(plans)

    monkeypatch.setattr(_lazy_load, "apply_loads", rewrite_then_apply)
    with pytest.raises(ParamFileError) as err:
        pd.load(path)
    msg = str(err.value)
    assert path in msg and "changed" in msg and "no Parameter was changed" in msg, msg
    assert _all_zero(pd)


def test_file_truncated_while_its_arrays_are_read(tmp_path, monkeypatch):
    path, arrays = _source(tmp_path, n=6)
    pd = _target(arrays, [mx.cpu(0), mx.cpu(1)])
    real = os.preadv
    calls = [0]

    def cut_after_first_read(fd, buffers, offset, *args):
        calls[0] += 1
        n = real(fd, buffers, offset, *args)
        if calls[0] == 1:
            os.truncate(path, offset + n)  # a writer truncates the file while we read it
        return n

    monkeypatch.setattr(os, "preadv", cut_after_first_read)
    with pytest.raises(ParamFileError) as err:
        pd.load(path)
    assert path in str(err.value) and "no Parameter was changed" in str(err.value)
    assert _all_zero(pd)
    assert calls[0] >= 1


def test_cast_on_load_reads_through_the_same_checks(tmp_path, monkeypatch):
    path, arrays = _source(tmp_path, n=3)
    pd = ParameterDict()
    pd.get("p0_weight", shape=(3, 4), dtype="float64", init="zeros")  # file: float32, cast
    pd.get("p1_weight", shape=(5,), dtype="float64", init="zeros")
    pd.get("p2_weight", shape=(2, 3, 2), dtype="float16", init="zeros")
    pd.initialize()
    data = open(path, "rb").read()
    real = _lazy_load.apply_loads

    def truncate_then_apply(plans):
        _rewrite_in_place(path, data[:-30])
        return real(plans)

    monkeypatch.setattr(_lazy_load, "apply_loads", truncate_then_apply)
    with pytest.raises(ParamFileError, match="changed"):
        pd.load(path, cast_dtype=True)
    assert _all_zero(pd)
