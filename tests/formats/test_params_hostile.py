"""Damaged and hostile parameter files: always ParamFileError naming the file and the problem,
never a crash, and never an allocation beyond what the file holds."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np
import pytest

from mxlite._formats import npz as npz_format
from mxlite._formats import params as params_format
from mxlite._formats import safetensors as safetensors_format
from mxlite.base import MXNetError, ParamFileError
from tests._support.memory import peak_bytes
from tests._support.params_golden import golden_bytes

# A GPU image may have pytest only: skip (not fail collection) without hypothesis.
hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
HealthCheck, given, settings = hypothesis.HealthCheck, hypothesis.given, hypothesis.settings

V2, V3 = params_format.V2_MAGIC, params_format.V3_MAGIC
CPU = struct.pack("<ii", 1, 0)


def listfile(
    records: list[bytes], names: list[bytes] | None = None, count: int | None = None
) -> bytes:
    names = names or []
    out = struct.pack("<QQQ", 0x112, 0, len(records) if count is None else count)
    out += b"".join(records) + struct.pack("<Q", len(names))
    for n in names:
        out += struct.pack("<Q", len(n)) + n
    return out


def rec(
    shape: tuple[int, ...] = (2,),
    flag: int = 0,
    data: bytes | None = None,
    magic: int = V2,
    stype: int = 0,
    ndim: int | None = None,
) -> bytes:
    nd = len(shape) if ndim is None else ndim
    body = struct.pack("<Iii", magic, stype, nd) + struct.pack(f"<{len(shape)}q", *shape)
    if data is None:
        data = b"\0" * (4 * int(np.prod(shape)))
    return body + CPU + struct.pack("<i", flag) + data


GOOD = rec()
HOSTILE = [
    ("empty file", b"", "too short"),
    ("short header", b"\x12\x01\0\0", "too short"),
    ("wrong list magic", b"\x13" + listfile([GOOD])[1:], "list magic is 0x113"),
    ("npz given as params", b"PK\x03\x04" + b"\0" * 40, "format='npz'"),
    ("array count beyond file", listfile([GOOD], count=10**15), "claims 1000000000000000 arrays"),
    ("count one too many", listfile([GOOD], count=2), "array 1"),
    ("truncated inside data", listfile([GOOD])[:-12], "remain"),
    ("truncated inside shape", listfile([GOOD])[:40], "remain"),
    ("names section missing", listfile([GOOD])[:-8], "number of names"),
    ("negative ndim", listfile([rec(ndim=-5, shape=())]), "negative number of dimensions"),
    ("huge ndim", listfile([rec(ndim=2**31 - 1, shape=())]), "2147483647 dimensions"),
    ("negative dim", listfile([rec(shape=(2, -3), data=b"")]), "negative dimension"),
    (
        "dims beyond file",
        listfile([rec(shape=(2**20, 2**20), data=b"\0" * 64)]),
        "needs 4398046511104 bytes",
    ),
    ("int64 overflow dims", listfile([rec(shape=(2**62, 2**62, 2**62), data=b"")]), "needs"),
    ("unknown dtype code", listfile([rec(flag=99)]), "unknown dtype code 99"),
    ("negative dtype code", listfile([rec(flag=-1)]), "unknown dtype code -1"),
    ("int16 type flag", listfile([rec(flag=8)]), "int16"),
    ("row_sparse", listfile([rec(stype=1)]), "row_sparse array 0"),
    ("csr", listfile([rec(stype=2)]), "csr array 0"),
    ("unknown stype", listfile([rec(stype=9)]), "unknown storage type 9"),
    ("wrong array magic", listfile([struct.pack("<I", 0xDEADBEEF) + GOOD[4:]]), "no NDArray magic"),
    ("uninitialized V2", listfile([struct.pack("<Iii", V2, 0, 0), GOOD]), "uninitialized"),
    ("unknown V3 shape", listfile([struct.pack("<Iii", V3, 0, -1)]), "uninitialized"),
    ("names count mismatch", listfile([GOOD, GOOD], [b"a"]), "1 names for 2 arrays"),
    (
        "name length beyond file",
        listfile([GOOD], [b"a"])[:-9] + struct.pack("<Q", 2**62) + b"a",
        "name 0",
    ),
    ("invalid utf-8 name", listfile([GOOD], [b"\xff\xfe"]), "not valid UTF-8"),
    ("NUL in name", listfile([GOOD], [b"a\0b"]), "NUL"),
]


@pytest.mark.parametrize(("label", "data", "fragment"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_params_raise_param_file_error(label: str, data: bytes, fragment: str) -> None:
    with pytest.raises(ParamFileError) as err:
        params_format.read_params(data, "evil.params")
    msg = str(err.value)
    assert "evil.params" in msg and fragment in msg, msg
    assert isinstance(err.value, MXNetError) and isinstance(err.value, ValueError)


def test_huge_claims_allocate_nothing_big() -> None:
    data = listfile([rec(shape=(2**16, 2**16, 2**10), data=b"\0" * 1024)])
    with pytest.raises(ParamFileError, match="needs"):
        params_format.read_params(data, "huge.params")
    peak = peak_bytes(lambda: params_format.read_params(data, "huge.params"), (ParamFileError,))
    assert peak < 1 << 20


def test_file_truncated_at_every_offset_raises() -> None:
    data = golden_bytes("nd_dict.params")
    for cut in range(len(data)):
        with pytest.raises(ParamFileError):
            params_format.read_params(data[:cut], "cut.params")


def _bounded_read(reader, data: bytes) -> None:
    """Run ``reader``; only a clean result or ParamFileError is allowed, and memory stays bounded."""

    def run() -> None:
        try:
            reader(data)
        except ParamFileError as err:
            assert "fuzz" in str(err)

    peak = peak_bytes(run)
    assert peak < (1 << 20) + 8 * len(data), peak


_SEEDS_PARAMS = [
    golden_bytes(n) for n in ("nd_dict.params", "np_list.params", "nd_dtypes_list.params")
]


def _mutate(data: st.DataObject, seed: bytes) -> bytes:
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "set", "cut", "insert", "int"]))
        pos = data.draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "flip" and buf:
            buf[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set" and buf:
            buf[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
        elif op == "int" and len(buf) >= pos + 8:
            value = data.draw(st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1]))
            buf[pos : pos + 8] = struct.pack("<Q", value)
    return bytes(buf)


_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(data=st.data(), which=st.integers(0, len(_SEEDS_PARAMS) - 1))
def test_fuzz_params(data, which: int) -> None:
    blob = _mutate(data, _SEEDS_PARAMS[which])
    _bounded_read(lambda b: params_format.read_params(b, "fuzz.params"), blob)


def _st_seed() -> bytes:
    buf = io.BytesIO()
    safetensors_format.write_safetensors(
        buf, {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, np.int8)}
    )
    return buf.getvalue()


def _npz_seed(compressed: bool) -> bytes:
    buf = io.BytesIO()
    save = np.savez_compressed if compressed else np.savez
    save(buf, w=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.ones(2, np.bool_))
    return buf.getvalue()


_ST_SEED = _st_seed()
_NPZ_SEEDS = [_npz_seed(False), _npz_seed(True)]


@_FUZZ
@given(data=st.data())
def test_fuzz_safetensors(data) -> None:
    blob = _mutate(data, _ST_SEED)
    _bounded_read(lambda b: safetensors_format.read_safetensors(b, "fuzz.safetensors"), blob)


@_FUZZ
@given(data=st.data(), which=st.integers(0, 1))
def test_fuzz_npz(data, which: int) -> None:
    blob = _mutate(data, _NPZ_SEEDS[which])
    _bounded_read(lambda b: npz_format.read_npz(b, "fuzz.npz"), blob)


def _st_file(header: object, buffer: bytes = b"", raw_header: bytes | None = None) -> bytes:
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + buffer


def _entry(dtype: str = "F32", shape: list | None = None, offsets: list | None = None) -> dict:
    return {
        "dtype": dtype,
        "shape": [2] if shape is None else shape,
        "data_offsets": [0, 8] if offsets is None else offsets,
    }


ST_HOSTILE = [
    ("too short", b"\x01\x00", "too short"),
    ("header length beyond file", struct.pack("<Q", 1000) + b"{}", "remain"),
    ("header length absurd", struct.pack("<Q", 2**63) + b"{}", "at most"),
    ("not json", _st_file(None, raw_header=b"{nope"), "not valid JSON"),
    ("not an object", _st_file(None, raw_header=b"[1, 2]"), "does not start with '{'"),
    (
        "duplicate key",
        _st_file(
            None,
            b"\0" * 8,
            raw_header=b'{"a":'
            + json.dumps(_entry()).encode()
            + b',"a":'
            + json.dumps(_entry()).encode()
            + b"}",
        ),
        "duplicate key",
    ),
    ("unknown dtype", _st_file({"a": _entry(dtype="Q7")}, b"\0" * 8), "unknown dtype"),
    ("unsupported dtype", _st_file({"a": _entry(dtype="I16", shape=[4])}, b"\0" * 8), "I16"),
    ("negative dim", _st_file({"a": _entry(shape=[-2])}, b"\0" * 8), "invalid shape"),
    ("bool dim", _st_file({"a": _entry(shape=[True, 2])}, b"\0" * 8), "invalid shape"),
    ("offsets beyond buffer", _st_file({"a": _entry(offsets=[0, 2**40])}, b"\0" * 8), "outside"),
    ("offsets reversed", _st_file({"a": _entry(offsets=[8, 0])}, b"\0" * 8), "outside"),
    ("size mismatch", _st_file({"a": _entry(shape=[3])}, b"\0" * 8), "needs 12 bytes"),
    ("hole", _st_file({"a": _entry(offsets=[4, 12])}, b"\0" * 12), "leave a hole"),
    ("overlap", _st_file({"a": _entry(), "b": _entry(offsets=[4, 12])}, b"\0" * 12), "overlap"),
    ("trailing bytes", _st_file({"a": _entry()}, b"\0" * 9), "cover 8 bytes of a 9-byte"),
    ("extra entry keys", _st_file({"a": {**_entry(), "x": 1}}, b"\0" * 8), "exactly dtype"),
    ("bad metadata", _st_file({"__metadata__": {"k": 1}}), "__metadata__"),
    ("huge shape", _st_file({"a": _entry(shape=[2**40, 2**40])}, b"\0" * 8), "needs"),
    ("dtype is a list", _st_file({"a": _entry(dtype=["F32"])}, b"\0" * 8), "unknown dtype"),
    ("dtype is an object", _st_file({"a": _entry(dtype={"F": 32})}, b"\0" * 8), "unknown dtype"),
    ("dtype is a number", _st_file({"a": _entry(dtype=4)}, b"\0" * 8), "unknown dtype"),
    ("dtype is null", _st_file({"a": _entry(dtype=None)}, b"\0" * 8), "unknown dtype"),
    ("header entry not an object", _st_file({"a": [1, 2]}, b""), "exactly dtype"),
    ("metadata is a list", _st_file({"__metadata__": ["k"]}), "__metadata__"),
]


@pytest.mark.parametrize(("label", "data", "fragment"), ST_HOSTILE, ids=[h[0] for h in ST_HOSTILE])
def test_hostile_safetensors(label: str, data: bytes, fragment: str) -> None:
    with pytest.raises(ParamFileError) as err:
        safetensors_format.read_safetensors(data, "evil.safetensors")
    assert "evil.safetensors" in str(err.value) and fragment in str(err.value), str(err.value)


def _zip_with(member: str, payload: bytes, compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        zf.writestr(member, payload)
    return buf.getvalue()


def _npy(header: str, data: bytes = b"", version: int = 1) -> bytes:
    head = header.encode("latin1")
    pad = 64 - (10 + len(head) + 1) % 64
    head = head + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H", len(head)) + head + data


NPZ_HOSTILE = [
    ("not a zip", b"hello there, not a zip at all", "BadZipFile"),
    ("non-npy member", _zip_with("x.txt", b"abc"), "not a .npy array"),
    (
        "object array",
        _zip_with(
            "a.npy", _npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\x80\x04N.")
        ),
        "never unpickles",
    ),
    (
        "lying shape",
        _zip_with(
            "a.npy",
            _npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", b"\0" * 16
            ),
        ),
        "needs",
    ),
    ("bad header", _zip_with("a.npy", b"\x93NUMPY\x01\x00\x05\x00junk\n"), "member 'a.npy'"),
    (
        "unsupported dtype",
        _zip_with(
            "a.npy", _npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8)
        ),
        "complex64",
    ),
    ("not npy magic", _zip_with("a.npy", b"garbage garbage garbage"), "member 'a.npy'"),
    (
        "lzma member",
        _zip_with(
            "a.npy",
            _npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", b"\1" * 4),
            zipfile.ZIP_LZMA,
        ),
        "LZMA",
    ),
    (
        "bzip2 member",
        _zip_with(
            "a.npy",
            _npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", b"\1" * 4),
            zipfile.ZIP_BZIP2,
        ),
        "BZIP2",
    ),
]


@pytest.mark.parametrize(
    ("label", "data", "fragment"), NPZ_HOSTILE, ids=[h[0] for h in NPZ_HOSTILE]
)
def test_hostile_npz(label: str, data: bytes, fragment: str) -> None:
    with pytest.raises(ParamFileError) as err:
        npz_format.read_npz(data, "evil.npz")
    assert "evil.npz" in str(err.value) and fragment in str(err.value), str(err.value)


def test_npz_decompression_bomb_is_refused_before_inflating() -> None:
    payload = _npy(
        "{'descr': '|u1', 'fortran_order': False, 'shape': (20000000,), }", b"\0" * 20_000_000
    )
    blob = _zip_with("a.npy", payload, zipfile.ZIP_DEFLATED)
    assert len(blob) < 100_000
    # Claim far more than DEFLATE can produce from the compressed bytes.
    info = zipfile.ZipFile(io.BytesIO(blob)).infolist()[0]
    patched = bytearray(blob)
    central = blob.rfind(b"PK\x01\x02")
    struct.pack_into(
        "<I", patched, central + 24, 2**31
    )  # uncompressed size in the central directory
    with pytest.raises(ParamFileError, match="more than compression can produce"):
        npz_format.read_npz(bytes(patched), "bomb.npz")
    peak = peak_bytes(lambda: npz_format.read_npz(bytes(patched), "bomb.npz"), (ParamFileError,))
    assert info.file_size == len(payload) and peak < 4 << 20


def test_npz_lzma_member_reserves_nothing() -> None:
    """A 196-byte LZMA member could make the decompressor reserve gigabytes (its dictionary size
    is in the member's header); NumPy writes only stored or deflate members, so nothing else is
    decompressed at all."""
    payload = _npy("{'descr': '|u1', 'fortran_order': False, 'shape': (16,), }", b"\0" * 16)
    blob = bytearray(_zip_with("a.npy", payload, zipfile.ZIP_LZMA))
    # The LZMA properties follow the 30-byte local header, the name and a 4-byte props header:
    # set the dictionary size to 4 GiB - 1.
    props = 30 + len("a.npy") + 4
    struct.pack_into("<I", blob, props + 1, 0xFFFFFFFF)
    with pytest.raises(ParamFileError, match="compressed with LZMA"):
        npz_format.read_npz(bytes(blob), "lzma.npz")
    peak = peak_bytes(lambda: npz_format.read_npz(bytes(blob), "lzma.npz"), (ParamFileError,))
    assert peak < 1 << 20


def test_npz_never_calls_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle must never be used")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    buf = io.BytesIO()
    np.savez(buf, a=np.array([{"x": 1}], dtype=object))  # numpy pickles object arrays
    with pytest.raises(ParamFileError, match="never unpickles"):
        npz_format.read_npz(buf.getvalue(), "pickled.npz")
