"""Trainer steps and kvstore calls with sparse Parameters against MXNet 1.9.1, bitwise: sparse
Embedding on [cpu(0), cpu(1)] with 'device'/'local' stores, lazy and standard updates, updates
on the store, row_sparse weights read with row_sparse_data / list_row_sparse_data, row_sparse_pull,
and the errors (scenarios in tests/_support/sparse_trainer_cases.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests._support.oracle import run_oracle_json
from tests._support.sparse_cases import run_here
from tests._support.sparse_trainer_cases import SCRIPT

pytestmark = pytest.mark.oracle


def _ours() -> dict[str, Any]:
    return run_here(SCRIPT)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, Any], dict[str, Any]]:
    return _ours(), run_oracle_json(SCRIPT)


def test_trainer_steps_match_mxnet_bitwise(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    assert ours.keys() == ref.keys()
    for key in ref:
        if key in ("kvstore", "errors"):
            continue
        assert "error" not in ref[key], (key, ref[key])
        assert ours[key] == ref[key], key
    assert ours["sgd_mom_device"]["grad"] == ["row_sparse", "row_sparse"]
    assert ours["sgd_mom_device"]["update_on_kvstore"] is False
    assert ours["rsp_weight"]["update_on_kvstore"] is True


def test_errors_match_mxnet(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    assert ours["errors"] == ref["errors"]
    assert ref["errors"]["second_trainer"][0] == "RuntimeError"


def test_kvstore_row_sparse_pull_matches_mxnet(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    mine, theirs = ours["kvstore"], ref["kvstore"]
    for key, value in theirs.items():
        if isinstance(value, list) and value and value[0] in ("MXNetError", "AssertionError"):
            # MXNet's messages start with a C++ traceback; mxlite's CheckError is an
            # AssertionError (and an MXNetError)
            assert mine[key][0] in ("MXNetError", "CheckError"), key
            continue
        assert mine[key] == value, key
    assert "PullRowSparse expects row_sparse src" in mine["dense_stored"][1]
    assert "Expected row_sparse storage type" in mine["dense_out"][1]
