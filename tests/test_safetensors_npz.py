"""safetensors and npz: our pure-Python reader/writer against the `safetensors` package and NumPy,
both directions, every dtype mxlite supports."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from mxlite.base import DTYPE_NAME_TO_NP, ParamFileError
from mxlite.ndarray import npz_format, safetensors_format
from tests.params_golden import assert_same_arrays

# A GPU image may have pytest only: skip (not fail collection) without safetensors.
safetensors = pytest.importorskip("safetensors")
st_load = pytest.importorskip("safetensors.numpy").load
st_save = pytest.importorskip("safetensors.numpy").save

BF16 = np.dtype(DTYPE_NAME_TO_NP["bfloat16"])


def _sample(with_bf16: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    out = {
        "f32": rng.standard_normal((2, 3)).astype(np.float32),
        "f64": np.array([np.nan, -0.0, np.inf]),
        "f16": np.array([[65504, -6e-8]], np.float16),
        "u8": np.array([0, 255], np.uint8),
        "i8": np.array([-128, 127], np.int8),
        "i32": np.arange(6, dtype=np.int32).reshape(3, 2, 1),
        "i64": np.array([-(2**63), 2**63 - 1]),
        "bool": np.array([[True, False]]),
        "scalar": np.array(2.5, np.float32),
        "empty": np.zeros((0, 4), np.float32),
        "ünï.名": np.ones(1, np.int8),
    }
    if with_bf16:
        out["bf16"] = np.array([1.0, -2.5, 3.140625], BF16)
    return out


def _st_bytes(arrays, metadata=None) -> bytes:
    buf = io.BytesIO()
    safetensors_format.write_safetensors(buf, arrays, metadata)
    return buf.getvalue()


def test_writer_is_byte_identical_to_the_safetensors_package() -> None:
    arrays = _sample(with_bf16=False)
    assert _st_bytes(arrays) == st_save(arrays)
    assert _st_bytes(arrays, {"k": "v"}) == st_save(arrays, metadata={"k": "v"})


def test_package_reads_what_we_write_including_bf16() -> None:
    arrays = _sample()
    blob = _st_bytes(arrays)
    tensors = dict(safetensors.deserialize(blob))
    assert set(tensors) == set(arrays)
    for name, arr in arrays.items():
        got = tensors[name]
        assert got["dtype"] == safetensors_format._NAME_TO_ST[arr.dtype.name]
        assert list(got["shape"]) == list(arr.shape)
        assert bytes(got["data"]) == arr.tobytes()
    no_bf16 = st_load(_st_bytes(_sample(with_bf16=False)))
    assert_same_arrays(dict(sorted(no_bf16.items())), dict(sorted(_sample(False).items())))


def _package_bf16_file() -> bytes:
    """A BF16 tensor [1.0, 2.5] serialized by the safetensors package (API differs by version)."""
    raw = np.array([0x3F80, 0x4020], np.uint16)
    spec_cls = getattr(safetensors, "TensorSpec", None)
    if spec_cls is not None:  # safetensors >= 0.8
        spec = spec_cls(dtype="bfloat16", shape=[2], data_ptr=raw.ctypes.data, data_len=4)
        return bytes(safetensors.serialize({"w": spec}))
    return bytes(
        safetensors.serialize({"w": {"dtype": "bfloat16", "shape": [2], "data": raw.tobytes()}})
    )


def test_we_read_what_the_package_writes() -> None:
    arrays = _sample(with_bf16=False)
    got, meta = safetensors_format.read_safetensors(st_save(arrays, metadata={"a": "b"}), "x")
    assert meta == {"a": "b"}
    assert_same_arrays(dict(sorted(got.items())), dict(sorted(arrays.items())))
    got, _ = safetensors_format.read_safetensors(_package_bf16_file(), "bf")
    assert got["w"].dtype == BF16 and got["w"].astype(np.float32).tolist() == [1.0, 2.5]


def test_list_round_trip_and_marker() -> None:
    arrays = [np.ones(2), np.array([1, 2], BF16), np.array(True)]
    blob = _st_bytes(arrays)
    got, meta = safetensors_format.read_safetensors(blob)
    assert meta == {"mxlite.container": "list"}
    assert_same_arrays(got, arrays)
    assert sorted(dict(safetensors.deserialize(blob))) == ["arr_0", "arr_1", "arr_2"]


def test_header_is_padded_to_eight_bytes_and_spaces_are_accepted() -> None:
    blob = _st_bytes({"a": np.ones(3, np.uint8)})
    (hlen,) = struct.unpack("<Q", blob[:8])
    assert hlen % 8 == 0
    got, _ = safetensors_format.read_safetensors(blob)
    assert got["a"].tolist() == [1, 1, 1]


def test_safetensors_writer_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="int16"):
        _st_bytes({"a": np.ones(1, np.int16)})
    with pytest.raises(ValueError, match="reserved"):
        _st_bytes({"__metadata__": np.ones(1)})
    with pytest.raises(TypeError, match="str to str"):
        _st_bytes({"a": np.ones(1)}, {"k": 1})


def _npz_bytes(arrays) -> bytes:
    buf = io.BytesIO()
    npz_format.write_npz(buf, arrays)
    return buf.getvalue()


def test_npz_round_trip_dict_and_list() -> None:
    arrays = _sample()
    assert_same_arrays(npz_format.read_npz(_npz_bytes(arrays)), arrays)
    as_list = list(arrays.values())
    assert_same_arrays(npz_format.read_npz(_npz_bytes(as_list)), as_list)
    assert npz_format.read_npz(_npz_bytes([])) == []


def test_npz_written_by_us_reads_in_numpy_without_pickle() -> None:
    arrays = _sample(with_bf16=False)
    with np.load(io.BytesIO(_npz_bytes(arrays)), allow_pickle=False) as npz:
        assert_same_arrays({k: npz[k] for k in npz.files}, arrays)


def test_npz_from_numpy_compressed_fortran_and_big_endian() -> None:
    buf = io.BytesIO()
    fortran = np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3))
    np.savez_compressed(buf, f=fortran, b=np.arange(3, dtype=">i4"), c=np.array([1.5], ">f8"))
    got = npz_format.read_npz(buf.getvalue(), "np.npz")
    assert got["f"].tolist() == fortran.tolist() and got["f"].flags.c_contiguous
    assert got["b"].dtype == np.dtype("int32") and got["b"].tolist() == [0, 1, 2]
    assert got["c"].dtype.isnative and got["c"].tolist() == [1.5]


def test_npz_writer_rejects_unsupported_dtypes() -> None:
    with pytest.raises(TypeError, match="complex128"):
        _npz_bytes({"a": np.ones(1, complex)})
    with pytest.raises(TypeError, match="names must be str"):
        _npz_bytes({3: np.ones(1)})


def test_npz_names_like_arr_i_but_incomplete_stay_a_dict() -> None:
    got = npz_format.read_npz(_npz_bytes({"arr_0": np.ones(1), "arr_2": np.ones(1)}))
    assert isinstance(got, dict) and sorted(got) == ["arr_0", "arr_2"]


def test_npz_bad_bytes_raise_param_file_error() -> None:
    with pytest.raises(ParamFileError, match="bad.npz"):
        npz_format.read_npz(_npz_bytes({"a": np.ones(3)})[:-30], "bad.npz")
