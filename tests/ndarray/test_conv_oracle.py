"""Differential tests of Convolution and Deconvolution against MXNet 1.9.1: forward values and
the gradients of data, weight and bias for odd shapes, strides, dilations, paddings and groups,
1-, 2- and 3-d, float32 and float64; the errors for bad arguments. All cases share one oracle
process (tests/_support/spatial_cases.py).

MXNet 1.9.1's CPU build cannot run float16 convolutions ("FP16 gemm on cpu not implemented")
nor NHWC/NDHWC ones (its MKL-DNN primitive fails); mxlite can, and tests/ndarray/test_conv_ops.py checks
those against float32 and channels-first results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._support import spatial_cases

pytestmark = pytest.mark.oracle

_RNG = np.random.default_rng(13)


def _a(*shape: int, dtype: Any = np.float32) -> np.ndarray:
    return _RNG.uniform(-1, 1, shape).astype(dtype)


def _conv(x: tuple, w: tuple, dtype: Any = np.float32, bias: bool = True, **kw: Any) -> dict:
    nf = w[0]
    ins = [_a(*x, dtype=dtype), _a(*w, dtype=dtype)] + ([_a(nf, dtype=dtype)] if bias else [])
    kw = {"kernel": w[2:], "num_filter": nf, "no_bias": not bias, **kw}
    return {"op": "Convolution", "kwargs": kw, "inputs": ins, "grad": list(range(len(ins)))}


def _deconv(x: tuple, w: tuple, nf: int, dtype: Any = np.float32, bias: bool = False, **kw: Any):
    ins = [_a(*x, dtype=dtype), _a(*w, dtype=dtype)] + ([_a(nf, dtype=dtype)] if bias else [])
    kw = {"kernel": w[2:], "num_filter": nf, "no_bias": not bias, **kw}
    return {"op": "Deconvolution", "kwargs": kw, "inputs": ins, "grad": list(range(len(ins)))}


CASES = [
    # 1-d
    _conv((2, 3, 11), (4, 3, 3)),
    _conv((2, 4, 10), (6, 2, 3), stride=(2,), pad=(1,), dilate=(2,), num_group=2),
    _conv((1, 2, 9), (3, 2, 4), bias=False, stride=(3,)),
    # 2-d
    _conv((2, 3, 7, 9), (5, 3, 3, 3), pad=(1, 1)),
    _conv((2, 3, 9, 8), (4, 3, 3, 2), stride=(2, 1), pad=(1, 0), dilate=(1, 2)),
    _conv((2, 4, 8, 7), (6, 2, 3, 3), stride=(2, 2), pad=(2, 1), num_group=2),
    _conv((2, 6, 6, 6), (6, 1, 3, 3), pad=(1, 1), num_group=6, bias=False),  # depthwise
    _conv((3, 5, 5, 4), (7, 5, 1, 1)),  # pointwise
    _conv((2, 4, 33, 20), (3, 4, 1, 1)),  # pointwise, per-sample products
    _conv((2, 3, 5, 5), (2, 3, 5, 5)),  # kernel == input
    _conv((1, 2, 7, 7), (3, 2, 2, 2), stride=(3, 3), dilate=(3, 2), pad=(2, 2)),
    _conv((2, 3, 6, 5), (4, 3, 3, 3), dtype=np.float64, pad=(1, 1), stride=(2, 2)),
    # 3x3 stride 1 with 16+ channels: Winograd F(4x4, 3x3)
    _conv((2, 16, 9, 8), (17, 16, 3, 3), pad=(1, 1)),
    _conv((1, 20, 6, 7), (16, 20, 3, 3), bias=False),
    _conv((2, 16, 5, 6), (16, 16, 3, 3), dtype=np.float64, pad=(2, 2)),
    # 3-d
    _conv((1, 2, 5, 6, 7), (3, 2, 2, 3, 2), stride=(1, 2, 1), pad=(1, 0, 1), dilate=(2, 1, 1)),
    _conv((2, 4, 4, 5, 4), (4, 2, 3, 3, 3), pad=(1, 1, 1), num_group=2, bias=False),
    # deconvolution
    _deconv((2, 3, 5, 4), (3, 4, 3, 3), 4),
    _deconv(
        (2, 4, 4, 5), (4, 3, 3, 2), 6, stride=(2, 2), pad=(1, 0), adj=(1, 1), num_group=2, bias=True
    ),  # fmt: skip
    _deconv((1, 2, 6), (2, 3, 4), 3, stride=(3,), pad=(1,), dilate=(2,)),
    _deconv((1, 2, 3, 3, 4), (2, 2, 2, 2, 3), 2, stride=(2, 1, 2), bias=True),
    _deconv((2, 3, 5, 4), (3, 4, 3, 3), 4, dtype=np.float64, stride=(2, 2), pad=(1, 1)),
]

# Bad arguments: each case with the fragment mxlite's message must contain.
_X = np.ones((2, 3, 5, 5), np.float32)
_W = np.ones((4, 3, 3, 3), np.float32)
_B = np.zeros(4, np.float32)
ERRORS = [
    ({"kernel": (3, 3), "num_filter": 4, "layout": "NCHWX"}, [_X, _W, _B], "Invalid Input"),
    ({"kernel": (3, 3), "num_filter": 4}, [np.ones((2, 2, 5, 5), np.float32), _W, _B],
     "Shape inconsistent, Provided = [4,3,3,3], inferred shape=(4,2,3,3)"),
    ({"kernel": (3, 3), "num_filter": 4}, [np.ones((2, 3, 2, 2), np.float32), _W, _B],
     "kernel size exceed input"),
    ({"kernel": (3, 3), "num_filter": 4}, [np.ones((2, 3, 5), np.float32), _W, _B],
     "Input data should be 4D"),
    ({"kernel": (3, 3), "num_filter": 5}, [_X, _W, _B], "Shape inconsistent"),
    ({"kernel": (3, 3), "num_filter": 4}, [_X, _W], "expects 3 inputs"),
    ({"kernel": (3, 3), "num_filter": 4}, [_X, _W.astype(np.float64), _B], "uniform type"),
    ({"kernel": (1, 1, 1, 1), "num_filter": 1, "no_bias": True},
     [np.ones((1, 1, 3, 3, 3, 3), np.float32), np.ones((1, 1, 1, 1, 1, 1), np.float32)],
     "4D convolution not supported"),
    ({"kernel": (3, 3), "num_filter": 4, "stride": (0, 1)}, [_X, _W, _B], "incorrect stride"),
    ({"kernel": (3, 3), "num_filter": 4, "stride": (1, 1, 1)}, [_X, _W, _B],
     "Stride must have the same number of dimensions"),
]  # fmt: skip


def test_convolution_and_deconvolution_match_mxnet(tmp_path: Path) -> None:
    error_cases = [
        {"op": "Convolution", "kwargs": kw, "inputs": ins, "grad": []} for kw, ins, _ in ERRORS
    ]
    deconv_errors = [
        {"op": "Deconvolution", "kwargs": {"kernel": (3, 3), "num_filter": 1, "stride": (2, 2),
         "adj": (2, 2)}, "inputs": [np.ones((1, 1, 4, 4), np.float32),
         np.ones((1, 1, 3, 3), np.float32)], "grad": []},
    ]  # fmt: skip
    cases = CASES + error_cases + deconv_errors
    fragments = {len(CASES) + i: frag for i, (_, _, frag) in enumerate(ERRORS)}
    fragments[len(CASES) + len(ERRORS)] = "adj(y) must be samller than stride[0]"
    ref = spatial_cases.run_mxnet(cases, tmp_path)
    got = spatial_cases.run_mxlite(cases)
    spatial_cases.compare(cases, ref, got, fragments)
    assert len(ref[1]) == len(ERRORS) + 1  # every error case failed in MXNet too
