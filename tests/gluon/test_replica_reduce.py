"""Replica averages for reset_ctx and save: one pass for all Parameters, bitwise the reference.

The reference is the per-parameter path (``_replicas.reduce_mean``: ``add_n`` then ``/ k``, as
MXNet averages), computed before the call under test.
"""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite.gluon import ParameterDict, _replica_reduce, _replicas
from tests._support.oracle import run_oracle

CPU2 = [mx.cpu(0), mx.cpu(1)]
CPU3 = [mx.cpu(0), mx.cpu(1), mx.cpu(2)]


def _dict(ctx, dtypes=("float32",), n=6, seed=0, shapes=((3, 5), (7,), (2, 3, 4))):
    pd = ParameterDict("r_")
    for i in range(n):
        dtype = dtypes[i % len(dtypes)]
        init = "zeros" if dtype.startswith("int") else None
        pd.get(f"p{i}_weight", shape=shapes[i % len(shapes)], dtype=dtype, init=init)
    pd.initialize(mx.init.Uniform(), ctx=ctx)
    rng = np.random.default_rng(seed)
    for p in pd.values():  # replicas that differ, with values whose sums round
        for arr in p.list_data():
            vals = rng.standard_normal(arr.shape) * 3.3 + 0.1
            if arr._data.dtype.kind in "iu":
                vals = rng.integers(-50, 50, arr.shape)
            host = np.asarray(vals).astype(arr._data.dtype)
            arr._data[...] = mx.backend.to_ctx(host, arr.context)
    return pd


def _reference(pd):
    return {name: _replicas.reduce_mean(p.list_data()).asnumpy() for name, p in pd.items()}


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).tobytes(), a.dtype, a.shape


def _shares(a, b):
    return np.shares_memory(mx.backend.to_numpy(a._data), mx.backend.to_numpy(b._data))


DTYPES = ("float32", "float64", "float16", "bfloat16", "int32")


# ------------------------------------------------------------------------------ reset_ctx
@pytest.mark.parametrize("old", [CPU2, CPU3], ids=["k2", "k3"])
@pytest.mark.parametrize(
    "new", [[mx.cpu(2), mx.cpu(3)], [mx.cpu(1)], CPU3, [mx.cpu(0)]], ids=["2", "1", "3", "same"]
)
def test_reset_ctx_equals_reference_bitwise(old, new):
    pd = _dict(old, dtypes=DTYPES, n=10)
    expected = _reference(pd)
    pd.reset_ctx(new)
    for name, p in pd.items():
        assert p.list_ctx() == new
        arrays = p.list_data()
        for arr, ctx in zip(arrays, new):
            assert arr.context == ctx
            assert _bits(arr.asnumpy()) == _bits(expected[name])
        for i in range(len(arrays)):  # replicas are independent buffers
            for j in range(i + 1, len(arrays)):
                assert not _shares(arrays[i], arrays[j])
        assert all(float(g.asnumpy().astype(np.float64).sum()) == 0 for g in p.list_grad())


def test_reset_ctx_single_replica_moves_a_copy_or_the_buffer():
    pd = _dict([mx.cpu(0)])
    expected = _reference(pd)
    pd.reset_ctx([mx.cpu(1), mx.cpu(2)])
    for name, p in pd.items():
        a, b = p.list_data()
        assert _bits(a.asnumpy()) == _bits(expected[name]) == _bits(b.asnumpy())
        assert not _shares(a, b)


def test_reset_ctx_never_writes_arrays_a_caller_holds():
    pd = _dict(CPU2, n=3)
    p = pd["r_p0_weight"]
    held = p.data(mx.cpu(1))
    held_copy = held.asnumpy()
    view = p.data(mx.cpu(0))[1]  # a view of replica 0
    view_copy = view.asnumpy()
    expected = _reference(pd)
    pd.reset_ctx([mx.cpu(0), mx.cpu(1)])
    assert _bits(held.asnumpy()) == _bits(held_copy)
    assert _bits(view.asnumpy()) == _bits(view_copy)
    for name, q in pd.items():
        for arr in q.list_data():
            assert _bits(arr.asnumpy()) == _bits(expected[name])
            assert not _shares(arr, held)


def test_unheld_replica_buffers_are_recycled():
    pd = _dict(CPU2, n=2)
    p = pd["r_p0_weight"]
    owners = [id(a._data) for a in p.list_data()]
    assert _replica_reduce.exclusive(p._data) == [True, True]
    pd.reset_ctx([mx.cpu(2), mx.cpu(3)])
    assert sorted(id(a._data) for a in p.list_data()) == sorted(owners)


def test_exclusive_sees_every_holder():
    pd = _dict(CPU2, n=1)
    p = pd["r_p0_weight"]
    assert _replica_reduce.exclusive(p._data) == [True, True]
    held = p.data(mx.cpu(0))
    assert _replica_reduce.exclusive(p._data) == [False, True]
    del held
    raw_view = p.data(mx.cpu(1))._data[1:]
    assert _replica_reduce.exclusive(p._data) == [True, False]
    del raw_view
    assert _replica_reduce.exclusive(p._data) == [True, True]


def test_reset_ctx_refuses_uninitialized_and_moves_nothing():
    pd = _dict(CPU2, n=2)
    pd.get("late_weight", shape=(2, 2))
    before = {name: [a.asnumpy() for a in p.list_data()] for name, p in pd.items() if p._data}
    with pytest.raises(ValueError, match="Cannot reset context for Parameter 'r_late_weight'"):
        pd.reset_ctx(mx.cpu(3))
    for name, arrays in before.items():
        assert pd[name].list_ctx() == CPU2
        for arr, old in zip(pd[name].list_data(), arrays):
            assert _bits(arr.asnumpy()) == _bits(old)


def test_reset_ctx_keeps_deferred_parameters_deferred():
    pd = ParameterDict("d_")
    pd.get("w_weight", shape=(0, 3), allow_deferred_init=True)
    pd.get("v_weight", shape=(2, 3))
    pd.initialize(ctx=CPU2)
    pd.reset_ctx([mx.cpu(4)])
    assert pd["d_w_weight"].list_ctx() == [mx.cpu(4)]
    assert pd["d_v_weight"].list_ctx() == [mx.cpu(4)]


def test_parameter_reset_ctx_equals_reference():
    pd = _dict(CPU3, n=1)
    p = pd["r_p0_weight"]
    expected = _replicas.reduce_mean(p.list_data()).asnumpy()
    p.reset_ctx(mx.cpu(5))
    assert _bits(p.data().asnumpy()) == _bits(expected)


# ------------------------------------------------------------------------------ save
@pytest.mark.parametrize("ctx", [[mx.cpu(0)], [mx.cpu(1)], CPU2, CPU3], ids=["1", "cpu1", "2", "3"])
def test_save_writes_the_reference_file(tmp_path, ctx):
    pd = _dict(ctx, dtypes=DTYPES, n=10)
    expected = _reference(pd)
    path, ref_path = str(tmp_path / "a.params"), str(tmp_path / "ref.params")
    pd.save(path, strip_prefix="r_")
    mx.nd.save(ref_path, {k[2:]: mx.nd.NDArray(v.copy()) for k, v in expected.items()})
    with open(path, "rb") as f, open(ref_path, "rb") as g:
        assert f.read() == g.read()
    for p in pd.values():  # saving changes nothing
        assert p.list_ctx() == ctx


def test_block_save_parameters_averages(tmp_path):
    net = mx.gluon.nn.Dense(3, in_units=4)
    net.initialize(ctx=CPU2)
    net.weight.data(mx.cpu(1))[:] = 1.0
    expected = _replicas.reduce_mean(net.weight.list_data()).asnumpy()
    path = str(tmp_path / "n.params")
    net.save_parameters(path)
    loaded = mx.nd.load(path)
    assert _bits(loaded["weight"].asnumpy()) == _bits(expected)


@pytest.mark.oracle
def test_save_of_cpu_replicas_loads_in_mxnet_as_the_average(tmp_path):
    pd = _dict(CPU2, dtypes=("float32", "float64", "float16"), n=6)
    expected = _reference(pd)
    path = str(tmp_path / "r.params")
    pd.save(path)
    out = run_oracle(
        f"""
import mxnet as mx
d = mx.nd.load({path!r})
for k in sorted(d):
    a = d[k].asnumpy()
    print(k, a.dtype, a.shape, a.tobytes().hex())
"""
    )
    lines = [line.split() for line in out.strip().splitlines()]
    assert [line[0] for line in lines] == sorted(expected)
    for name, dtype, *_shape, hexdata in lines:
        assert dtype == expected[name].dtype.name
        assert bytes.fromhex(hexdata) == np.ascontiguousarray(expected[name]).tobytes()


# ------------------------------------------------------------------------------ GPU
@pytest.mark.gpu
def test_gpu_reset_ctx_and_save_match_reference(gpu_ctx, tmp_path):
    for old, new in (
        ([gpu_ctx, mx.cpu(0)], [mx.cpu(1)]),
        ([mx.cpu(0), gpu_ctx], [gpu_ctx, mx.cpu(2)]),
        ([gpu_ctx], [mx.cpu(0), gpu_ctx]),
        (CPU2, [gpu_ctx]),
    ):
        pd = _dict(old, dtypes=("float32", "float64", "int32"), n=9)
        expected = _reference(pd)
        path = str(tmp_path / "g.params")
        pd.save(path)
        loaded = mx.nd.load(path)
        for name, ref in expected.items():
            assert _bits(loaded[name].asnumpy()) == _bits(ref)
        pd.reset_ctx(new)
        for name, p in pd.items():
            for arr, ctx in zip(p.list_data(), new):
                assert arr.context == ctx
                assert _bits(arr.asnumpy()) == _bits(expected[name])


@pytest.mark.gpu
def test_gpu_float16_average_sums_in_float32_and_rounds_once(gpu_ctx):
    pd = _dict([gpu_ctx, mx.cpu(0), mx.cpu(1)], dtypes=("float16",), n=3)
    expected = {}
    for name, p in pd.items():
        acc = None
        for arr in p.list_data():
            part = arr.asnumpy().astype(np.float32)
            acc = part if acc is None else acc + part
        expected[name] = (acc / np.float32(3)).astype(np.float16)
    reference = _reference(pd)  # add_n rounds after every addition: within 2 ulps of the above
    pd.reset_ctx(mx.cpu(0))
    for name, p in pd.items():
        got = p.data().asnumpy()
        assert got.tobytes() == expected[name].tobytes()
        ulps = np.abs(got.astype(np.float32) - reference[name].astype(np.float32)) / np.spacing(
            np.abs(got).astype(np.float16)
        ).astype(np.float32)
        assert ulps.max() <= 2


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_average_plan_writes_every_output_even_aliasing_replicas(k, dtype):
    from mxlite.ops import AveragePlan

    rng = np.random.default_rng(k)
    sizes = [1, 2047, 2048, 2049, 70_000, 300_001]  # spans and 1 MiB chunks, partial ends
    reps = [[(rng.standard_normal(n) * 7).astype(dtype) for _ in range(k)] for n in sizes]
    expected = []
    for r in reps:
        acc = r[0].copy()
        for x in r[1:]:
            acc += x
        expected.append(acc / dtype(k))
    extra = [np.full(len(r[0]), np.nan, dtype) for r in reps]
    outs = [[r[-1], e, *r[:-1]] for r, e in zip(reps, extra)]  # every replica is an output
    AveragePlan(reps, outs)()
    for exp, out in zip(expected, outs):
        for o in out:
            assert o.tobytes() == exp.tobytes()
