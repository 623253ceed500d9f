"""Hostile parameter files through every path that loads them (``nd.load``, ``npx.load``,
``nd.load_frombuffer``, ``ParameterDict.load``, ``Block.load_parameters``): always
ParamFileError naming the file, no Parameter changed, and memory within a small multiple of
the file's size, also for files of very many tiny arrays."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import ParamFileError
from mxlite.gluon import ParameterDict, nn
from mxlite.ndarray import safetensors_format
from tests.memory import peak_bytes
from tests.params_golden import golden_bytes
from tests.test_params_hostile import HOSTILE, NPZ_HOSTILE, ST_HOSTILE, _mutate

# A GPU image may have pytest only: skip (not fail collection) without hypothesis.
hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
HealthCheck, given, settings = hypothesis.HealthCheck, hypothesis.given, hypothesis.settings

PATHS = ["nd.load", "npx.load", "load_frombuffer", "ParameterDict.load", "load_parameters"]
_EXT = {"params": ".params", "safetensors": ".safetensors", "npz": ".npz"}


def _target() -> ParameterDict:
    pd = ParameterDict()
    pd.get("w", shape=(2,), init="zeros")
    pd.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    return pd


def _net() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Dense(2, in_units=2))
    net.initialize(mx.init.Zero(), ctx=[mx.cpu(0), mx.cpu(1)])
    return net


def _zeros(params: Any) -> bool:
    return all(not a.asnumpy().any() for p in params.values() for a in p.list_data())


def _load(path: str, fname: str, blob: bytes) -> Any:
    """Load ``fname`` (holding ``blob``) through ``path``; returns what must stay unchanged."""
    if path == "nd.load":
        mx.nd.load(fname)
    elif path == "npx.load":
        with mx.util.np_array(True), mx.util.np_shape(True):
            mx.npx.load(fname)
    elif path == "load_frombuffer":
        mx.nd.load_frombuffer(blob)
    elif path == "ParameterDict.load":
        pd = _target()
        try:
            pd.load(fname)
        finally:
            assert _zeros(pd)
    else:
        net = _net()
        try:
            net.load_parameters(fname)
        finally:
            assert _zeros(net.collect_params())


def _cases() -> list[tuple[str, str, bytes, str]]:
    cases = [("params", label, data, frag) for label, data, frag in HOSTILE]
    cases += [("safetensors", label, data, frag) for label, data, frag in ST_HOSTILE]
    cases += [("npz", label, data, frag) for label, data, frag in NPZ_HOSTILE]
    return cases


CASES = _cases()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("fmt", "label", "data", "fragment"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_hostile_file_through_every_path(
    tmp_path: Path, path: str, fmt: str, label: str, data: bytes, fragment: str
) -> None:
    fname = str(tmp_path / f"evil{_EXT[fmt]}")
    with open(fname, "wb") as f:
        f.write(data)
    if path == "load_frombuffer" and fmt != "params" and data[:2] != b"PK":
        pytest.skip("a buffer's format is sniffed; these bytes do not look like the format")
    with pytest.raises(ParamFileError) as err:
        _load(path, fname, data)
    msg = str(err.value)
    where = "<buffer>" if path == "load_frombuffer" else fname
    assert where in msg, msg
    mode = "np shape semantics" in msg  # nd/npx.load check each array's V2/V3 magic first
    if path != "load_frombuffer" and not (mode and path in ("nd.load", "npx.load")):
        assert fragment in msg, msg


def test_valid_files_still_load_through_every_path(tmp_path: Path) -> None:
    src = _net()
    for p in src.collect_params().values():
        p.set_data(mx.nd.ones(p.shape))
    for fmt, ext in _EXT.items():
        fname = str(tmp_path / f"ok{ext}")
        src.save_parameters(fname) if fmt == "params" else mx.nd.save(
            fname, {k: v.data() for k, v in src._collect_params_with_prefix().items()}
        )
        net = _net()
        net.load_parameters(fname)
        assert all(a.asnumpy().all() for p in net.collect_params().values() for a in p.list_data())


_SEEDS = [golden_bytes(n) for n in ("nd_dict.params", "np_list.params", "nd_dtypes_list.params")]


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.integers(0, len(_SEEDS) - 1))
def test_fuzz_parameter_dict_load(tmp_path_factory: Any, data: Any, which: int) -> None:
    """Damaged files through the lazy index of ParameterDict.load: a clean load or
    ParamFileError, memory bounded by the file."""
    blob = _mutate(data, _SEEDS[which])
    fname = str(tmp_path_factory.mktemp("fuzz") / "fuzz.params")
    with open(fname, "wb") as f:
        f.write(blob)

    def run() -> None:
        pd = ParameterDict()
        try:
            pd.load(fname, allow_missing=True, ignore_extra=True)
        except (ParamFileError, ValueError) as err:  # ValueError: a file saved from a list
            assert isinstance(err, ParamFileError) or "list of unnamed arrays" in str(err)

    assert peak_bytes(run) < (1 << 20) + 8 * len(blob)


# ------------------------------------------------------------------------------ many tiny arrays
def _tiny_list_params(path: Path, n: int) -> None:
    """``n`` legacy 0-d uint8 records of 17 bytes: the smallest record a .params file holds."""
    rec = struct.pack("<Iiii", 0, 1, 0, 3) + b"\x07"
    path.write_bytes(struct.pack("<QQQ", 0x112, 0, n) + rec * n + struct.pack("<Q", 0))


N_TINY = 6000


def test_nd_load_of_many_tiny_records(tmp_path: Path) -> None:
    """Each record becomes an NDArray over a NumPy array (about 190 bytes of objects): for
    17-byte records that is the floor, about 11x the file."""
    path = tmp_path / "tiny.params"
    _tiny_list_params(path, N_TINY)
    size = path.stat().st_size
    with mx.util.np_shape(False):
        peak = peak_bytes(lambda: mx.nd.load(str(path)))
        got = mx.nd.load(str(path))
    assert len(got) == N_TINY and got[0].asnumpy().item() == 7
    assert peak < 12.5 * size, peak / size


def _tiny_dict(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "tiny_dict.params"
    mx.nd.save(str(path), {f"p{i}_weight": mx.nd.full((1,), i) for i in range(n)})
    return path


def test_parameter_dict_load_of_many_tiny_arrays(tmp_path: Path) -> None:
    n = N_TINY // 2
    path = _tiny_dict(tmp_path, n)
    size = path.stat().st_size
    pd = ParameterDict()
    for i in range(n):
        pd.get(f"p{i}_weight", shape=(1,), grad_req="null")
    pd.initialize()
    peak = peak_bytes(lambda: pd.load(str(path)))
    assert pd[f"p{n - 1}_weight"].data().asnumpy().tolist() == [n - 1]
    assert peak < 10 * size, peak / size  # was 25x


def test_safetensors_load_of_many_zero_size_tensors(tmp_path: Path) -> None:
    n = N_TINY
    path = tmp_path / "zero.safetensors"
    with open(path, "wb") as f:
        safetensors_format.write_safetensors(
            f, {f"t{i}": np.zeros((0,), np.float32) for i in range(n)}
        )
    size = path.stat().st_size
    peak = peak_bytes(lambda: mx.nd.load(str(path)))
    assert len(mx.nd.load(str(path))) == n
    assert peak < 11 * size, peak / size  # was 17x


def test_staging_of_a_large_file_is_bounded_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.params"
    arrays = {f"p{i}_weight": mx.nd.ones((256, 256)) for i in range(8)}
    mx.nd.save(str(path), arrays)
    size = os.path.getsize(path)
    pd = ParameterDict()
    for name in arrays:
        pd.get(name, shape=(256, 256))
    pd.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    peak = peak_bytes(lambda: pd.load(str(path)))
    assert peak < 1.2 * size, peak / size  # the staging buffer and little else
    assert all(a.asnumpy().all() for p in pd.values() for a in p.list_data())
