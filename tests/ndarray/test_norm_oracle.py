"""Differential tests of BatchNorm, LayerNorm, InstanceNorm and GroupNorm against MXNet 1.9.1:
outputs, the gradients of data, gamma and beta, and the moving statistics after the call, in
training and predict mode (and a predict-mode forward differentiated in training mode), with
use_global_stats, fix_gamma, momentum, eps and axis; float32/float64 and float16 data; the
errors for bad arguments. One oracle process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._support import spatial_cases

pytestmark = pytest.mark.oracle

_RNG = np.random.default_rng(19)


def _a(*shape: int, dtype: Any = np.float32, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return _RNG.uniform(lo, hi, shape).astype(dtype)


def _bn(shape: tuple, axis: int = 1, dtype: Any = np.float32, train: bool = True,
        backward_train: bool | None = None, **kw: Any) -> dict:  # fmt: skip
    c = shape[axis]
    pdt = np.float64 if dtype == np.float64 else np.float32
    ins = [_a(*shape, dtype=dtype) * 3 + 1, _a(c, dtype=pdt, lo=0.5), _a(c, dtype=pdt),
           _a(c, dtype=pdt), _a(c, dtype=pdt, lo=0.5)]  # fmt: skip
    case = {"op": "BatchNorm", "kwargs": {"axis": axis, **kw}, "inputs": ins, "grad": [0, 1, 2],
            "train": train}  # fmt: skip
    if backward_train is not None:
        case["backward_train"] = backward_train
    return case


def _row(op: str, shape: tuple, n: int, dtype: Any = np.float32, **kw: Any) -> dict:
    ins = [_a(*shape, dtype=dtype), _a(n, dtype=dtype, lo=0.5), _a(n, dtype=dtype)]
    return {"op": op, "kwargs": kw, "inputs": ins, "grad": [0, 1, 2]}


CASES = [
    _bn((4, 3, 2, 5)),
    _bn((4, 3, 2, 5), fix_gamma=False, momentum=0.8, eps=1e-4),
    _bn((4, 3, 2, 5), fix_gamma=False, use_global_stats=True),
    _bn((4, 3, 2, 5), fix_gamma=False, train=False),
    _bn((4, 3, 2, 5), fix_gamma=False, train=False, backward_train=True),
    _bn((4, 3, 2, 5), fix_gamma=True, train=False, backward_train=False),
    _bn((5, 4), fix_gamma=False),
    _bn((3, 2, 4, 5), axis=-1, fix_gamma=False),
    _bn((3, 4, 5), axis=2, fix_gamma=False, momentum=0.5),
    _bn((2, 3, 3, 2, 2), fix_gamma=False),
    _bn((4, 3, 2, 5), dtype=np.float64, fix_gamma=False),
    _bn((4, 3, 2, 5), dtype=np.float16, fix_gamma=False),
    _bn((4, 3, 2, 5), fix_gamma=False, output_mean_var=True),
    _row("LayerNorm", (3, 4, 5), 5),
    _row("LayerNorm", (3, 4, 5), 4, axis=1, eps=1e-3),
    _row("LayerNorm", (3, 4, 5), 3, axis=0),
    _row("LayerNorm", (6, 7), 7, dtype=np.float64),
    _row("LayerNorm", (3, 4, 5), 5, output_mean_var=True),
    _row("InstanceNorm", (2, 3, 4, 5), 3),
    _row("InstanceNorm", (2, 3, 7), 3, eps=1e-5),
    _row("InstanceNorm", (2, 3, 2, 3, 2), 3),  # (MXNet's InstanceNorm has no float64)
    _row("GroupNorm", (2, 6, 3, 2), 3, num_groups=3),
    _row("GroupNorm", (2, 6, 5), 1),
    _row("GroupNorm", (3, 4, 2, 2), 2, num_groups=2, eps=1e-3),
]  # fmt: skip

_X = np.ones((4, 3, 2, 2), np.float32)
_P = [np.ones(3, np.float32)] * 4
ERRORS = [
    ("BatchNorm", {}, [_X] + [np.ones(3, np.float16)] + _P[1:], "uniform type"),
    ("BatchNorm", {}, [_X.astype(np.float64)] + _P, "uniform type"),
    ("LayerNorm", {}, [_X, np.ones(3, np.float32), np.zeros(3, np.float32)],
     "Shape inconsistent"),
    ("InstanceNorm", {}, [np.ones((2, 3), np.float32)] + _P[:2], "rank >= 3"),
    ("GroupNorm", {"num_groups": 2}, [_X] + _P[:2], "divisible by # of groups"),
]  # fmt: skip


def test_normalizations_match_mxnet(tmp_path: Path) -> None:
    error_cases = [{"op": op, "kwargs": kw, "inputs": ins, "grad": []} for op, kw, ins, _ in ERRORS]
    cases = CASES + error_cases
    fragments = {len(CASES) + i: frag for i, (*_, frag) in enumerate(ERRORS)}
    ref = spatial_cases.run_mxnet(cases, tmp_path)
    got = spatial_cases.run_mxlite(cases)
    spatial_cases.compare(cases, ref, got, fragments)
    assert len(ref[1]) == len(ERRORS)
