"""Access to the golden parameter files in tests/_support/data/params (written by tools/make_golden_params.py
under real MXNet 1.9.1) and their manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mxlite.base import DTYPE_NAME_TO_NP

GOLDEN_DIR = Path(__file__).parent / "data" / "params"
MANIFEST: dict[str, Any] = json.loads((GOLDEN_DIR / "manifest.json").read_text(encoding="utf-8"))[
    "files"
]
#: Files MXNet's own save wrote (the legacy and device ones were built by hand).
HAND_BUILT = {"legacy_v1.params", "legacy_nomagic.params", "v2_gpu1_device.params"}


def golden_bytes(fname: str) -> bytes:
    return (GOLDEN_DIR / fname).read_bytes()


def expected_array(entry: dict[str, Any]) -> np.ndarray:
    """The array a manifest entry describes, rebuilt from its raw bytes."""
    dtype = np.dtype(DTYPE_NAME_TO_NP[entry["dtype"]])
    flat = np.frombuffer(bytes.fromhex(entry["hex"]), dtype=dtype)
    return flat.reshape(entry["shape"]).copy()


def expected_container(fname: str) -> list[np.ndarray] | dict[str, np.ndarray]:
    info = MANIFEST[fname]
    if info["kind"] == "dict":
        return {e["name"]: expected_array(e) for e in info["entries"]}
    return [expected_array(e) for e in info["entries"]]


def assert_same_arrays(got: Any, want: Any) -> None:
    """Same container kind, names and order, dtypes, shapes and exact bytes (NaN payloads too)."""
    assert type(got) is type(want), f"{type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        assert list(got) == list(want)
        pairs = [(got[k], want[k]) for k in want]
    else:
        assert len(got) == len(want)
        pairs = list(zip(got, want))
    for g, w in pairs:
        g = np.asarray(g)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        assert g.shape == w.shape, (g.shape, w.shape)
        assert np.ascontiguousarray(g).tobytes() == w.tobytes()
