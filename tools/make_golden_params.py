"""Write the golden ``.params`` files of tests/_support/data/params with real MXNet 1.9.1 (the oracle).

Run under the oracle's interpreter, from the repository root::

    /tmp/mxref/bin/python tools/make_golden_params.py

Every file is written by ``mx.nd.save`` / ``mx.npx.save`` / ``save_parameters`` except the legacy
ones (V1 magic, magic-less), which MXNet 1.9.1 can no longer write: those are built byte by byte
here and their expected contents are what MXNet 1.9.1 loads from them. ``manifest.json`` records,
per file, the numpy mode it needs, list or dict, and each array's name, dtype, shape and raw
little-endian bytes (hex) as MXNet reports them.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import warnings

warnings.filterwarnings("ignore")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import npx  # noqa: E402

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "_support", "data", "params"
)
BF16 = np.dtype([("bfloat16", np.uint16)])
RNG = np.random.RandomState(1234)


def bf16(values: np.ndarray) -> mx.nd.NDArray:
    return mx.nd.amp_cast(mx.nd.array(values, dtype="float32"), dtype=BF16)


def dtype_name(dt: object) -> str:
    return "bfloat16" if np.dtype(dt) == BF16 else np.dtype(dt).name


def describe(arr: mx.nd.NDArray, name: str | None) -> dict:
    host = arr.asnumpy()
    return {
        "name": name,
        "dtype": dtype_name(arr.dtype),
        "shape": list(arr.shape),
        "hex": np.ascontiguousarray(host).tobytes().hex(),
    }


def nd_dtype_arrays() -> list:
    f32 = np.array([[np.nan, np.inf, -np.inf], [-0.0, 1e-38, 3.4e38]], np.float32)
    return [
        mx.nd.array(f32, dtype="float32"),
        mx.nd.array(RNG.randn(3), dtype="float64"),
        mx.nd.array([[1.5, -np.inf], [65504, 6e-8]], dtype="float16"),
        mx.nd.array([0, 1, 128, 255], dtype="uint8"),
        mx.nd.array([-128, -1, 0, 127], dtype="int8"),
        mx.nd.array([-(2**31), 2**31 - 1, 0], dtype="int32"),
        mx.nd.array(np.array([-(2**63), 2**63 - 1, 5], np.int64), dtype="int64"),
        mx.nd.array(np.array([[True, False, True], [False, False, True]]), dtype="bool"),
        bf16(np.array([1.0, -2.5, 3.140625, 0.0], np.float32)),
    ]


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    manifest: dict[str, dict] = {}

    def record(fname: str, mode: str, mxnet_loads: bool = True, note: str = "") -> None:
        path = os.path.join(OUT, fname)
        entry: dict = {"mode": mode, "mxnet_loads": mxnet_loads, "note": note}
        if mxnet_loads:
            if mode == "np":
                loaded = npx.load(path)
            else:
                loaded = mx.nd.load(path)
            if isinstance(loaded, dict):
                entry["kind"] = "dict"
                entry["entries"] = [describe(v, k) for k, v in loaded.items()]
            else:
                entry["kind"] = "list"
                entry["entries"] = [describe(v, None) for v in loaded]
        manifest[fname] = entry

    # ---- legacy NDArray semantics (V2 magic)
    mx.nd.save(os.path.join(OUT, "nd_dtypes_list.params"), nd_dtype_arrays())
    record("nd_dtypes_list.params", "nd", note="one array per dtype, special float values")
    nd_dict = {
        "dense0_weight": mx.nd.array(RNG.randn(4, 3), dtype="float32"),
        "dense0_bias": mx.nd.array(RNG.randn(4), dtype="float32"),
        "ünïcode.名": mx.nd.array([1.25, -7.5], dtype="float64"),
        "empty": mx.nd.array([]),
        "rank7": mx.nd.array(np.arange(8).reshape(1, 2, 1, 2, 1, 1, 2), dtype="int32"),
        "a.b/c d": mx.nd.array([7], dtype="uint8"),
        "half": mx.nd.array(RNG.randn(2, 3), dtype="float16"),
        "bf": bf16(np.array([[0.5, -1.0]], np.float32)),
    }
    mx.nd.save(os.path.join(OUT, "nd_dict.params"), nd_dict)
    record("nd_dict.params", "nd", note="dict order, unicode/dotted names, empty, rank 7")
    mx.nd.save(os.path.join(OUT, "nd_single.params"), mx.nd.array([[1, 2], [3, 4]]))
    record("nd_single.params", "nd", note="a single NDArray saves as a list of one")
    mx.nd.save(os.path.join(OUT, "nd_empty_list.params"), [])
    record("nd_empty_list.params", "nd")
    mx.nd.save(os.path.join(OUT, "nd_empty_dict.params"), {})
    record("nd_empty_dict.params", "nd", note="MXNet loads an empty dict back as []")
    mx.nd.save(os.path.join(OUT, "nd_scalar.params"), [mx.nd.array(5.0)])
    manifest["nd_scalar.params"] = {
        "mode": "nd",
        "mxnet_loads": False,
        "kind": "list",
        "entries": [describe(mx.nd.array(5.0), None)],
        "note": "0-d outside np shape: MXNet writes ndim 0 + data and cannot load it back",
    }
    net = mx.gluon.nn.Dense(3, in_units=2)
    net.initialize(mx.init.Constant(0.5))
    net.bias.set_data(mx.nd.array([0.1, 0.2, 0.3]))
    net.save_parameters(os.path.join(OUT, "nd_gluon_dense.params"))
    record("nd_gluon_dense.params", "nd", note="gluon Dense(3, in_units=2).save_parameters")

    # ---- legacy per-array layouts that 1.9.1 still reads but no longer writes
    vals = np.array([[1.5, 2.5, 3.5]], np.float32)
    body = struct.pack("<iii", 1, 0, 0) + vals.tobytes()

    def listfile(records: list, names: list) -> bytes:
        out = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
        out += struct.pack("<Q", len(names))
        for n in names:
            out += struct.pack("<Q", len(n)) + n
        return out

    v1 = struct.pack("<Ii", 0xF993FAC8, 2) + struct.pack("<qq", 1, 3) + body
    nomagic = struct.pack("<III", 2, 1, 3) + body
    gpu_v2 = (
        struct.pack("<Iii", 0xF993FAC9, 0, 1)
        + struct.pack("<q", 2)
        + struct.pack("<iii", 2, 1, 6)
        + np.array([3, -4], np.int64).tobytes()
    )
    for fname, data in [
        ("legacy_v1.params", listfile([v1], [b"w"])),
        ("legacy_nomagic.params", listfile([nomagic], [])),
        ("v2_gpu1_device.params", listfile([gpu_v2], [b"on_gpu1"])),
    ]:
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(data)
        record(fname, "nd", note="built by hand; contents as MXNet 1.9.1 loads them")

    # ---- numpy semantics (V3 magic)
    npx.set_np()
    np_list = [
        mx.np.array(3.5),
        mx.np.zeros((0,)),
        mx.np.zeros((2, 0, 3), dtype="int32"),
        mx.np.array(RNG.randn(2, 1, 2, 1, 2, 1), dtype="float64"),
        mx.np.array([True, False], dtype="bool"),
        mx.np.array([[1, 2, 3]], dtype="int8"),
        mx.np.array([255, 0], dtype="uint8"),
        mx.np.array([2**40], dtype="int64"),
        mx.np.array([0.5, 1.5], dtype="float16"),
        bf16(np.array([1.0, 2.0], np.float32)).as_np_ndarray(),
        mx.np.array(7, dtype="int32"),
    ]
    npx.save(os.path.join(OUT, "np_list.params"), np_list)
    record("np_list.params", "np", note="0-d, zero-size and every dtype under npx.set_np()")
    np_dict = {
        "scalar": mx.np.array(-1.0),
        "zero_size": mx.np.ones((3, 0)),
        "w": mx.np.array(RNG.randn(2, 2), dtype="float32"),
        "ß": mx.np.array([1, 2], dtype="int64"),
    }
    npx.save(os.path.join(OUT, "np_dict.params"), np_dict)
    record("np_dict.params", "np")
    npx.save(os.path.join(OUT, "np_single.params"), mx.np.array([[0.25]]))
    record("np_single.params", "np")
    mx.nd.save(os.path.join(OUT, "np_mode_nd_save.params"), [mx.nd.array([1.0, 2.0])])
    record("np_mode_nd_save.params", "np", note="legacy NDArray saved by mx.nd.save in np mode: V3")
    npx.reset_np()

    with open(os.path.join(OUT, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(
            {"mxnet_version": mx.__version__, "files": manifest},
            f,
            indent=1,
            ensure_ascii=False,
            sort_keys=True,
        )
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(manifest)} golden files to {OUT} ({total} bytes in all)", file=sys.stderr)


if __name__ == "__main__":
    main()
