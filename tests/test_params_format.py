"""MXNet's .params format at the NumPy level: goldens written by MXNet 1.9.1 load exactly, and
mxlite writes byte-identical files for the same content."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from mxlite.base import DTYPE_NAME_TO_NP, ParamFileError
from mxlite.ndarray import params_format as pf
from tests.params_golden import (
    HAND_BUILT,
    MANIFEST,
    assert_same_arrays,
    expected_container,
    golden_bytes,
)

# A GPU image may have pytest only: skip (not fail collection) without hypothesis.
hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
given, settings = hypothesis.given, hypothesis.settings

GOLDENS = sorted(MANIFEST)
WRITABLE_GOLDENS = sorted(set(MANIFEST) - (HAND_BUILT - {"v2_gpu1_device.params"}))


def test_manifest_covers_every_dtype_and_both_modes() -> None:
    dtypes = {e["dtype"] for info in MANIFEST.values() for e in info.get("entries", [])}
    assert dtypes >= set(pf.NAME_TO_TYPE_FLAG)
    assert {info["mode"] for info in MANIFEST.values()} == {"nd", "np"}
    shapes = [tuple(e["shape"]) for info in MANIFEST.values() for e in info.get("entries", [])]
    assert () in shapes and any(0 in s for s in shapes) and max(map(len, shapes)) >= 6


@pytest.mark.parametrize("fname", GOLDENS)
def test_golden_loads_exactly(fname: str) -> None:
    got = pf.read_params(golden_bytes(fname), fname)
    assert_same_arrays(got, expected_container(fname))


@pytest.mark.parametrize("fname", GOLDENS)
def test_golden_loads_in_its_own_mode_only(fname: str) -> None:
    info = MANIFEST[fname]
    data = golden_bytes(fname)
    assert_same_arrays(
        pf.read_params(data, fname, np_shape=info["mode"] == "np"), expected_container(fname)
    )
    if info["entries"]:
        with pytest.raises(ParamFileError, match="is_np_shape") as err:
            pf.read_params(data, fname, np_shape=info["mode"] != "np")
        assert fname in str(err.value)


@pytest.mark.parametrize("fname", WRITABLE_GOLDENS)
def test_write_is_byte_identical_to_mxnet(fname: str) -> None:
    info = MANIFEST[fname]
    content = expected_container(fname)
    devices = [(2, 1)] if fname == "v2_gpu1_device.params" else None
    out = pf.dumps_params(content, np_magic=info["mode"] == "np", devices=devices)
    assert out == golden_bytes(fname)


def test_read_from_file_object_gives_writable_contiguous_native_arrays(tmp_path) -> None:
    path = tmp_path / "x.params"
    path.write_bytes(golden_bytes("nd_dtypes_list.params"))
    with open(path, "rb") as f:
        got = pf.read_params(f, str(path))
    assert_same_arrays(got, expected_container("nd_dtypes_list.params"))
    for arr in got:
        assert arr.flags.c_contiguous and arr.flags.writeable and arr.dtype.isnative
        arr[...] = arr  # writable in place


def test_file_object_positioned_after_start(tmp_path) -> None:
    buf = io.BytesIO(b"JUNK" + golden_bytes("nd_single.params"))
    buf.read(4)
    assert_same_arrays(pf.read_params(buf), expected_container("nd_single.params"))


def test_v2_zero_d_is_read_as_scalar_but_uninitialized_is_rejected() -> None:
    # MXNet writes 0-d arrays outside np-shape mode as ndim 0 followed by device, dtype and data.
    scalar = pf.dumps_params([np.array(5.0, np.float32)], np_magic=False)
    assert scalar == golden_bytes("nd_scalar.params")
    (got,) = pf.read_params(scalar)
    assert got.shape == () and got == 5.0
    # An uninitialized NDArray is written as ndim 0 and nothing else.
    none_rec = struct.pack("<Iii", pf.V2_MAGIC, 0, 0)
    data = struct.pack("<QQQ", 0x112, 0, 1) + none_rec + struct.pack("<Q", 0)
    with pytest.raises(ParamFileError, match="uninitialized"):
        pf.read_params(data, "none.params")


@pytest.mark.parametrize("np_magic", [False, True])
def test_magic_and_device_fields(np_magic: bool) -> None:
    data = pf.dumps_params({"w": np.ones((2, 3), np.float16)}, np_magic, devices=[(3, 4)])
    header, reserved, count, magic, stype, ndim = struct.unpack_from("<QQQIii", data)
    assert (header, reserved, count) == (0x112, 0, 1)
    assert magic == (0xF993FACA if np_magic else 0xF993FAC9)
    assert (stype, ndim) == (0, 2)
    dims = struct.unpack_from("<qq", data, 36)
    dev_type, dev_id, flag = struct.unpack_from("<iii", data, 52)
    assert dims == (2, 3) and (dev_type, dev_id) == (3, 4) and flag == 2
    assert data.endswith(struct.pack("<QQ", 1, 1) + b"w")


def test_big_endian_and_strided_inputs_are_written_as_mxnet_would() -> None:
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    want = pf.dumps_params([base[:, ::2].copy()], np_magic=False)
    assert pf.dumps_params([base[:, ::2]], np_magic=False) == want
    assert pf.dumps_params([base[:, ::2].astype(">f4")], np_magic=False) == want


@pytest.mark.parametrize(
    ("arrays", "exc", "fragment"),
    [
        ([np.ones(2, np.int16)], TypeError, "int16"),
        ([np.ones(2, np.complex64)], TypeError, "cannot hold"),
        ([np.array(["a"])], TypeError, "cannot hold"),
        ({1: np.ones(2)}, TypeError, "names must be str"),
        ({"a\x00b": np.ones(2)}, ValueError, "NUL"),
    ],
)
def test_write_rejects_what_mxnet_cannot_store(arrays, exc, fragment) -> None:
    with pytest.raises(exc, match=fragment):
        pf.dumps_params(arrays, np_magic=False)


def test_devices_must_match_arrays() -> None:
    with pytest.raises(ValueError, match="2 devices for 1 arrays"):
        pf.dumps_params([np.ones(1)], False, devices=[(1, 0), (1, 0)])


def test_duplicate_names_last_wins_like_mxnet() -> None:
    one = pf.dumps_params({"a": np.ones(1, np.float32)}, False)
    two = pf.dumps_params({"a": np.zeros(1, np.float32)}, False)
    rec1, rec2 = one[24:-17], two[24:-17]
    data = struct.pack("<QQQ", 0x112, 0, 2) + rec1 + rec2 + struct.pack("<QQ", 2, 1) + b"a"
    data += struct.pack("<Q", 1) + b"a"
    got = pf.read_params(data)
    assert list(got) == ["a"] and got["a"][0] == 0.0


def test_trailing_bytes_are_ignored_like_mxnet() -> None:
    data = golden_bytes("nd_single.params") + b"trailing"
    assert_same_arrays(pf.read_params(data), expected_container("nd_single.params"))


def test_bool_bytes_other_than_zero_one_are_normalized() -> None:
    data = bytearray(pf.dumps_params([np.array([True, False, True])], np_magic=False))
    data[-8 - 3] = 7  # the first bool byte (before the 8-byte name count)
    (got,) = pf.read_params(bytes(data))
    assert got.view(np.uint8).tolist() == [1, 0, 1]


def test_sniff_format() -> None:
    assert pf.sniff_format(golden_bytes("nd_single.params")[:16]) == "params"
    assert pf.sniff_format(b"PK\x03\x04" + b"\0" * 12) == "npz"
    assert pf.sniff_format(struct.pack("<Q", 40) + b'{"a"') == "safetensors"


_DTYPES = sorted(pf.NAME_TO_TYPE_FLAG)


@st.composite
def _arrays(draw, np_magic: bool) -> np.ndarray:
    name = draw(st.sampled_from(_DTYPES))
    dtype = np.dtype(DTYPE_NAME_TO_NP[name])
    min_dims = 0 if np_magic else 1
    shape = tuple(draw(st.lists(st.integers(0, 3), min_size=min_dims, max_size=5)))
    count = int(np.prod(shape, dtype=np.int64))
    raw = draw(st.binary(min_size=count * dtype.itemsize, max_size=count * dtype.itemsize))
    arr = np.frombuffer(raw, dtype=np.uint8).view(dtype).reshape(shape).copy()
    if dtype == np.bool_:
        arr = arr.view(np.uint8) % 2 == 1
    return arr


@settings(max_examples=60, deadline=None)
@given(data=st.data(), np_magic=st.booleans(), as_dict=st.booleans())
def test_round_trip_property(data, np_magic: bool, as_dict: bool) -> None:
    arrays = data.draw(st.lists(_arrays(np_magic), max_size=4))
    if as_dict:
        names = data.draw(
            st.lists(
                st.text(min_size=1, max_size=8).filter(lambda s: "\x00" not in s),
                min_size=len(arrays),
                max_size=len(arrays),
                unique=True,
            )
        )
        content: list | dict = dict(zip(names, arrays))
    else:
        content = arrays
    blob = pf.dumps_params(content, np_magic)
    got = pf.read_params(blob, np_shape=np_magic)
    if as_dict and not arrays:
        content = []  # MXNet: an empty dict loads back as []
    assert_same_arrays(got, content)
    assert pf.dumps_params(got, np_magic) == blob
