"""Sparse arrays in files: MXNet's ``.params`` records byte-compatible with MXNet 1.9.1 in both
directions, hostile records, and the component naming of safetensors/npz."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import ParamFileError
from tests._support.oracle import run_oracle_json

sp = mx.nd.sparse

# The same arrays built in both MXNet and mxlite (plain Python over mx and np).
_BUILD = """
sp = mx.nd.sparse
arrays = {
    "rsp_f32": sp.row_sparse_array((np.array([[1, 2], [3, 4]], dtype="float32"), np.array([1, 3])),
                                   shape=(4, 2)),
    "rsp_f16_3d": sp.row_sparse_array((np.arange(12, dtype="float16").reshape(2, 3, 2),
                                       np.array([0, 4])), shape=(5, 3, 2)),
    "rsp_empty": sp.zeros("row_sparse", (3, 2), dtype="float64"),
    "csr_f64": sp.csr_matrix((np.array([1., 2, 3]), np.array([0, 2, 1]), np.array([0, 2, 2, 3])),
                             shape=(3, 3)),
    "csr_i32": sp.csr_matrix((np.array([7, 8], dtype="int32"), np.array([1, 0]),
                              np.array([0, 1, 1, 2])), shape=(3, 4)),
    "csr_empty": sp.zeros("csr", (2, 5)),
    "dense": mx.nd.array([[1, 2], [3, 4]]),
}
"""


def _build() -> dict[str, mx.nd.NDArray]:
    scope: dict[str, object] = {"mx": mx, "np": np}
    exec(_BUILD, scope)  # noqa: S102
    return scope["arrays"]  # type: ignore[return-value]


@pytest.mark.oracle
def test_mxnet_files_read_and_written_byte_identical(tmp_path: Path) -> None:
    ref = run_oracle_json(
        _BUILD
        + """
mx.nd.save("mx_dict.params", arrays)
mx.nd.save("mx_list.params", list(arrays.values()))
print(json.dumps({k: [v.stype, v.asnumpy().tolist(), np.dtype(v.dtype).name]
                  for k, v in arrays.items()}))
""",
        cwd=tmp_path,
    )
    loaded = mx.nd.load(str(tmp_path / "mx_dict.params"))
    assert list(loaded) == list(ref)
    for k, (stype, values, dtype) in ref.items():
        assert loaded[k].stype == stype, k
        assert loaded[k].asnumpy().tolist() == values, k
        assert np.dtype(loaded[k].dtype).name == dtype, k
    mx.nd.save(str(tmp_path / "ours_dict.params"), _build())
    mx.nd.save(str(tmp_path / "ours_list.params"), list(_build().values()))
    for kind in ("dict", "list"):
        ours = (tmp_path / f"ours_{kind}.params").read_bytes()
        assert ours == (tmp_path / f"mx_{kind}.params").read_bytes(), kind


@pytest.mark.oracle
def test_mxnet_reads_our_sparse_files(tmp_path: Path) -> None:
    arrays = _build()
    arrays["rsp_cpu1"] = sp.row_sparse_array(([[5.0, 6.0]], [2]), shape=(3, 2), ctx=mx.cpu(1))
    mx.nd.save(str(tmp_path / "ours.params"), arrays)
    got = run_oracle_json(
        """
d = mx.nd.load("ours.params")
print(json.dumps({k: [v.stype, v.asnumpy().tolist(), np.dtype(v.dtype).name,
                      [a.asnumpy().tolist() for a in
                       ([v.indices] if v.stype == "row_sparse" else
                        [v.indptr, v.indices] if v.stype == "csr" else [])]]
                  for k, v in d.items()}))
""",
        cwd=tmp_path,
    )
    assert list(got) == list(arrays)
    for k, x in arrays.items():
        stype, values, dtype, aux = got[k]
        assert stype == x.stype and values == x.asnumpy().tolist(), k
        assert dtype == np.dtype(x.dtype).name, k
        if x.stype == "row_sparse":
            assert aux == [x.indices.asnumpy().tolist()]


def _rsp_record(
    indices: list[int], rows: int, k: int | None = None, aux_len: int | None = None
) -> bytes:
    """A V2 .params file holding one float32 row_sparse (rows, 2) array."""
    k = len(indices) if k is None else k
    aux_len = len(indices) if aux_len is None else aux_len
    body = struct.pack("<Iiiqq", 0xF993FAC9, 1, 2, k, 2)
    body += struct.pack("<iqq", 2, rows, 2) + struct.pack("<iii", 1, 0, 0)
    body += struct.pack("<iiq", 6, 1, aux_len)
    body += np.ones((len(indices), 2), np.float32).tobytes() + np.array(indices, "<i8").tobytes()
    return struct.pack("<QQQ", 0x112, 0, 1) + body + struct.pack("<Q", 0)


def _csr_record(indptr: list[int], indices: list[int], shape: tuple[int, int]) -> bytes:
    nnz = len(indices)
    body = struct.pack("<Iiiq", 0xF993FAC9, 2, 1, nnz) + struct.pack("<iqq", 2, *shape)
    body += struct.pack("<iii", 1, 0, 0)
    body += struct.pack("<iiq", 6, 1, len(indptr)) + struct.pack("<iiq", 6, 1, nnz)
    body += np.ones(nnz, np.float32).tobytes()
    body += np.array(indptr, "<i8").tobytes() + np.array(indices, "<i8").tobytes()
    return struct.pack("<QQQ", 0x112, 0, 1) + body + struct.pack("<Q", 0)


def test_handmade_records_load() -> None:
    rsp = mx.nd.load_frombuffer(_rsp_record([0, 2], rows=4))[0]
    assert rsp.stype == "row_sparse" and rsp.indices.asnumpy().tolist() == [0, 2]
    csr = mx.nd.load_frombuffer(_csr_record([0, 1, 2], [1, 0], (2, 3)))[0]
    assert csr.asnumpy().tolist() == [[0, 1, 0], [1, 0, 0]]


@pytest.mark.parametrize(
    ("blob", "fragment"),
    [
        (_rsp_record([0, 7], rows=4), "in [0, 4)"),
        (_rsp_record([2, 0], rows=4), "strictly increasing"),
        (_rsp_record([1, 1], rows=4), "strictly increasing"),
        (_rsp_record([0, 1], rows=4, aux_len=3), "do not match"),
        (_rsp_record([0, 1], rows=1), "do not match"),
        (_rsp_record([0], rows=2**40, k=2**40, aux_len=2**40), "remain"),
        (_rsp_record([0, 1], rows=4)[:-20], "remain"),
        (_csr_record([0, 2, 1], [0, 1], (2, 3)), "indptr"),
        (_csr_record([1, 1, 2], [0, 1], (2, 3)), "indptr"),
        (_csr_record([0, 1, 3], [0, 1], (2, 3)), "indptr"),
        (_csr_record([0, 2, 2], [1, 0], (2, 3)), "increasing"),
        (_csr_record([0, 1, 2], [0, 9], (2, 3)), "[0, 3)"),
        (_csr_record([0, 1], [0, 1], (2, 3)), "do not match"),
    ],
)
def test_hostile_sparse_records_raise(blob: bytes, fragment: str) -> None:
    with pytest.raises(ParamFileError) as info:
        mx.nd.load_frombuffer(blob)
    assert fragment in str(info.value)


def test_huge_claims_fail_before_allocating() -> None:
    # a storage shape of 2**31 rows in a tiny file: refused by the size check, not by MemoryError
    body = struct.pack("<Iiiqq", 0xF993FAC9, 1, 2, 2**31, 2**20)
    body += struct.pack("<iqq", 2, 2**31, 2**20) + struct.pack("<iii", 1, 0, 0)
    body += struct.pack("<iiq", 6, 1, 2**31)
    blob = struct.pack("<QQQ", 0x112, 0, 1) + body
    with pytest.raises(ParamFileError, match="remain"):
        mx.nd.load_frombuffer(blob)


@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
def test_component_files_round_trip(tmp_path: Path, fmt: str) -> None:
    arrays = _build()
    path = str(tmp_path / f"a.{fmt}")
    mx.nd.save(path, arrays)
    back = mx.nd.load(path)
    assert set(back) == set(arrays)
    for k, x in arrays.items():
        assert back[k].stype == x.stype and back[k].shape == x.shape, k
        np.testing.assert_array_equal(back[k].asnumpy(), x.asnumpy())
    raw = np.load(path) if fmt == "npz" else None
    if raw is not None:
        assert "rsp_f32.__row_sparse__.indices" in raw.files
        assert raw["csr_f64.__csr__.indptr"].tolist() == [0, 2, 2, 3]
        assert raw["rsp_f32.__row_sparse__.shape"].tolist() == [4, 2]


def test_component_files_refuse_lists_and_bad_parts(tmp_path: Path) -> None:
    rsp = sp.row_sparse_array(([[1.0, 2.0]], [1]), shape=(3, 2))
    with pytest.raises(TypeError, match="save a dict"):
        mx.nd.save(str(tmp_path / "l.npz"), [rsp])
    assert not (tmp_path / "l.npz").exists()
    np.savez(
        tmp_path / "bad.npz",
        **{"w.__row_sparse__.data": np.ones((1, 2), np.float32),
           "w.__row_sparse__.indices": np.array([5]),
           "w.__row_sparse__.shape": np.array([3, 2])},
    )  # fmt: skip
    with pytest.raises(ParamFileError, match="in \\[0, 3\\)"):
        mx.nd.load(str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "part.npz", **{"w.__csr__.data": np.ones(1, np.float32)})
    with pytest.raises(ParamFileError, match="lacks"):
        mx.nd.load(str(tmp_path / "part.npz"))


def test_sparse_on_cpu1_loads_where_asked(tmp_path: Path) -> None:
    arrays = _build()
    mx.nd.save(str(tmp_path / "a.params"), arrays)
    back = mx.nd.load(str(tmp_path / "a.params"), ctx=mx.cpu(1))
    assert all(v.context == mx.cpu(1) for v in back.values())
