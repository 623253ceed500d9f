"""Sparse gradients and sparse Parameters against MXNet 1.9.1 (scenarios in
tests/_support/sparse_grad_cases.py, run unchanged under both), plus the cases MXNet refuses that mxlite
supports (checked against NumPy)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mxlite as mx
from tests._support.oracle import run_oracle_json
from tests._support.sparse_cases import run_here
from tests._support.sparse_grad_cases import SCRIPT

pytestmark = pytest.mark.oracle

# MXNet 1.9.1 raises for these: 'add' into a row_sparse Embedding gradient ("SparseEmbedding
# layer doesn't support weight gradient calculation with req != write"), sparse_grad with a dense
# buffer, and float64 sparse Embedding (a shape-inference failure). mxlite merges rows / writes
# densely; the values are checked against NumPy below.
_MXLITE_ONLY = {"emb_rsp_add", "emb_rsp_add_twice", "emb_dense_buffer", "emb_dense_add",
                "emb_f64_2d_ids"}  # fmt: skip


def _ours() -> dict[str, Any]:
    return run_here(SCRIPT)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, Any], dict[str, Any]]:
    return _ours(), run_oracle_json(SCRIPT)


def test_gradients_match_mxnet(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    assert ours.keys() == ref.keys()
    compared = [
        k for k in ref if k not in _MXLITE_ONLY and k not in ("sparse_param", "bad_grad_stype")
    ]
    assert len(compared) >= 6
    for k in compared:
        assert ours[k] == ref[k], (k, ours[k], ref[k])
    assert ours["gluon_embedding"]["grads"][0]["indices"] == [1, 3]
    assert ours["gluon_embedding"]["zeroed"][0]["indices"] == []


def test_mxnet_refuses_what_mxlite_merges(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    for k in _MXLITE_ONLY:
        assert "error" in ref[k], k
    coef = np.arange(1, 4, dtype=np.float32)
    expect = np.zeros((8, 3), np.float32)
    for i in (1, 5, 5, 2):
        expect[i] += coef
    assert ours["emb_rsp_add"]["indices"] == [1, 2, 5]
    assert ours["emb_rsp_add"]["values"] == expect.tolist()
    twice = np.zeros((8, 3), np.float32)
    twice[[0, 3]] = 2 * coef
    assert ours["emb_rsp_add_twice"]["values"] == twice.tolist()
    assert ours["emb_dense_buffer"]["stype"] == "default"
    assert ours["emb_dense_buffer"]["values"][1] == (2 * coef).tolist()
    assert ours["emb_f64_2d_ids"]["dtype"] == "float64"
    assert ours["emb_f64_2d_ids"]["indices"] == [0, 2, 4]


def test_sparse_parameter_messages(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, ref = both
    mine, theirs = ours["sparse_param"], ref["sparse_param"]
    for key in ("repr", "data_stypes", "grad_stypes", "values"):
        assert mine[key] == theirs[key], key
    for key in ("data", "list_data", "row_sparse_data", "rsd_bad_id", "dense_rsd", "dense_lrsd"):
        assert mine[key][0] == theirs[key][0], key
        assert mine[key][1].startswith(theirs[key][1].rstrip(".")), (key, mine[key], theirs[key])
    assert ours["bad_grad_stype"][1] == ref["bad_grad_stype"][1]
    assert ref["bad_grad_stype"][0] == "AssertionError"
    assert isinstance(mx.base.CheckError("x"), AssertionError)
