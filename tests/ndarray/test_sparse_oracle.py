"""Differential tests of ``mx.nd.sparse`` arrays against MXNet 1.9.1: constructors, conversions,
printed forms, slicing, elementwise and dot results with their output storage types, reductions
(the scenarios are in tests/_support/sparse_cases.py and run unchanged under both)."""

from __future__ import annotations

import math
from typing import Any

import pytest

import mxlite as mx
from tests._support.oracle import run_oracle_json
from tests._support.sparse_cases import SCRIPT, run_here

pytestmark = pytest.mark.oracle

# Where mxlite's message says more than MXNet's first line (MXNet prints a C++ traceback first),
# only the exception class is compared.
_OWN_WORDING = {"tostype_bad", "reshape"}


def _ours() -> dict[str, Any]:
    return run_here(SCRIPT, SQ=mx.nd.sparse.square_sum)  # type: ignore[no-any-return]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6)
    return bool(a == b)


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, Any], dict[str, Any]]:
    ref = run_oracle_json("SQ = mx.nd._internal._square_sum\n" + SCRIPT)
    return _ours(), ref


def test_every_scenario_ran(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    assert ours.keys() == ref.keys()
    assert len(ref) > 150


def test_values_storage_shapes_dtypes_match(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    bad = [k for k in ref if "error" not in str(ref[k])[:10] and not _close(ours[k], ref[k])]
    assert not bad, {k: (ours[k], ref[k]) for k in bad}


def test_errors_match(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    errors = [k for k in ref if isinstance(ref[k], dict) and "error" in ref[k]]
    assert len(errors) >= 15
    for k in errors:
        assert isinstance(ours[k], dict) and "error" in ours[k], (k, ours[k])
        assert ours[k]["error"] == ref[k]["error"], (k, ours[k], ref[k])
        msg = ref[k]["msg"].removeprefix("MXNetError: ")
        if not msg.startswith("Traceback") and k not in _OWN_WORDING:
            assert ours[k]["msg"].startswith(msg), (k, ours[k]["msg"], msg)


def test_printed_forms(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    assert ours["repr_rsp"] == ref["repr_rsp"] == "\n<RowSparseNDArray 4x2 @cpu(0)>"
    assert ours["repr_csr"] == ref["repr_csr"]
    assert ours["str_rsp"] == ref["str_rsp"] == "\n<RowSparseNDArray 2x3 @cpu(1)>"
