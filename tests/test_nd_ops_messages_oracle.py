"""Exception types and message wording of the operators' bad-input errors, against MXNet 1.9.1.

Each case names a fragment that must appear in MXNet's message (checked in the oracle, so the
fragment really is MXNet's wording) and in mxlite's, with the same exception kind. mxlite adds
what to do; MXNet adds its C++ stack, neither of which is compared.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from tests.oracle import run_oracle_json

pytestmark = pytest.mark.oracle

PRELUDE = (
    "x = mx.nd.array([[3, 1, 2, 1], [0, 5, 5, 4], [2, -1, 7, 0]])\n"
    "d = mx.nd.arange(24).reshape((2, 3, 4))\n"
    "I = lambda v: mx.nd.array(v, dtype='int32')\n"
)

# (code, exception kind, fragment of MXNet's message that mxlite's must contain)
CASES: list[tuple[str, str, str]] = [
    (
        "mx.nd.take(x, mx.nd.array([0, 9]), mode='raise')",
        "MXNetError",
        "take operator contains indices out of bound",
    ),
    (
        "mx.nd.take(x, mx.nd.array([0]), mode='foo')",
        "MXNetError",
        "Invalid Input: 'foo', valid values are: {'clip', 'raise', 'wrap'}",
    ),
    (
        "mx.nd.take(x, mx.nd.array([0]), axis=2)",
        "MXNetError",
        "Axis should be in the range of [-r, r-1] where r is the rank of input tensor",
    ),
    (
        "mx.nd.gather_nd(d, mx.nd.array([[0, 1], [2, 5]]))",
        "IndexError",
        "index 5 is out of bounds for axis 1 with size 3",
    ),
    (
        "mx.nd.gather_nd(d, mx.nd.array([0, 1]))",
        "MXNetError",
        "gather_nd requires index tensor to have at least 2 dimensions",
    ),
    (
        "mx.nd.Embedding(mx.nd.array([0]), x, input_dim=5, output_dim=4)",
        "MXNetError",
        "Shape inconsistent, Provided = [3,4], inferred shape=(5,4)",
    ),
    ("mx.nd.topk(x, k=5)", "MXNetError", "k must be smaller than 4, get k = 5"),
    (
        "mx.nd.topk(x, axis=2)",
        "MXNetError",
        "Invalid axis! axis should be between 0 and 2, found axis=2",
    ),
    (
        "mx.nd.topk(x, ret_typ='foo')",
        "MXNetError",
        "Invalid Input: 'foo', valid values are: {'both', 'indices', 'mask', 'value'}",
    ),
    (
        "mx.nd.slice(x, begin=(0, 1, 0), end=(1, 2, 1))",
        "MXNetError",
        "Slicing axis exceeds data dimensions",
    ),
    (
        "mx.nd.slice(x, begin=(0, 1), end=(1,))",
        "MXNetError",
        "begin and end must have the same length",
    ),
    (
        "mx.nd.slice(x, begin=(0, 1), end=(2, 3), step=(0, 1))",
        "MXNetError",
        "slice op step[0] cannot be 0",
    ),
    (
        "mx.nd.slice_axis(x, axis=1, begin=1, end=10)",
        "MXNetError",
        "Invalid end for end=10 as axis_size is 4",
    ),
    (
        "mx.nd.slice_axis(x, axis=1, begin=3, end=1)",
        "MXNetError",
        "Invalid begin, end, get begin=3, end=1",
    ),
    ("mx.nd.slice_axis(x, axis=1, begin=-5, end=2)", "MXNetError", "Invalid begin for begin=-5"),
    (
        "mx.nd.slice_axis(x, axis=2, begin=0, end=1)",
        "MXNetError",
        "Transformed axis must be smaller than the source ndim and larger than zero! Recieved axis=2, src_ndim=2, transformed axis=2",
    ),
    (
        "mx.nd.slice_like(d, mx.nd.zeros((1, 2)))",
        "MXNetError",
        "By default slice_axis performs slice on all axes, but ndim mismatch for inputs: 3 vs. 2",
    ),
    (
        "mx.nd.slice_like(d, mx.nd.zeros((1, 2)), axes=(-1,))",
        "MXNetError",
        "Slice axis: 2 exceeds second input: 2",
    ),
    (
        "mx.nd.split(x, 3)",
        "MXNetError",
        "You are trying to split the 1-th axis of input tensor with shape [3,4] into num_outputs=3 evenly sized chunks, but this is not possible because 3 does not evenly divide 4",
    ),
    (
        "mx.nd.split(x, 1, axis=0, squeeze_axis=True)",
        "MXNetError",
        "If squeeze axis is True, the size of the sliced axis must be the same as num_outputs. Input shape=[3,4], axis=0, num_outputs=1.",
    ),
    (
        "mx.nd.split(x, 0)",
        "MXNetError",
        "value 0 for Parameter num_outputs should be greater equal to 1",
    ),
    (
        "mx.nd.split_v2(x, 3, axis=1)",
        "ValueError",
        "array split does not result in an equal division",
    ),
    (
        "mx.nd.split_v2(x, [1, 3], axis=1)",
        "ValueError",
        "indices_or_sections must either int or tuple of ints",
    ),
    ("mx.nd.moveaxis(d, 3, 0)", "ValueError", "Source should verify 0 <= source < tensor.ndim"),
    ("mx.nd.swapaxes(d, 0, 3)", "MXNetError", "axis 3 is out of bounds for array of ndim 3"),
    ("mx.nd.repeat(x, repeats=-1)", "MXNetError", "repeats cannot be a negative number"),
    (
        "mx.nd.flip(x)",
        "MXNetError",
        "Required parameter axis of Shape(tuple) is not presented, in operator reverse",
    ),
    (
        "mx.nd.pad(d.reshape((1, 2, 3, 4)), pad_width=(0, 0, 0, 0, 1, 1, 2, 2))",
        "MXNetError",
        "Required parameter mode of int is not presented, in operator Pad",
    ),
    (
        "mx.nd.pad(d.reshape((1, 2, 3, 4)), mode='foo', pad_width=(0, 0, 0, 0, 1, 1, 2, 2))",
        "MXNetError",
        "Invalid Input: 'foo', valid values are: {'constant', 'edge', 'reflect'}",
    ),
    (
        "mx.nd.pad(d.reshape((1, 2, 3, 4)), mode='edge', pad_width=(0, 0, 0, 0, 1, 1))",
        "MXNetError",
        "Input shape vs padding spec mismatch",
    ),
    ("mx.nd.diag(x, k=5)", "MXNetError", "Diagonal does not exist"),
    (
        "mx.nd.diag(d, axis1=1, axis2=1)",
        "MXNetError",
        "axis1 and axis2 cannot refer to the same axis 1",
    ),
    (
        "mx.nd.LeakyReLU(x, act_type='foo')",
        "MXNetError",
        "Invalid Input: 'foo', valid values are: {'elu', 'gelu', 'leaky', 'prelu', 'rrelu', 'selu'}",
    ),
    (
        "mx.nd.LeakyReLU(x.astype('int32'))",
        "MXNetError",
        "This operation only support floating point types, not int32",
    ),
    (
        "mx.nd.LeakyReLU(x, act_type='prelu')",
        "MXNetError",
        "Operator LeakyReLU expects 2 inputs, but got 1 instead",
    ),
    (
        "mx.nd.LeakyReLU(x, act_type='prelu', gamma=mx.nd.array([1, 2]))",
        "MXNetError",
        "Cannot broadcast gamma to data. gamma: [2], data: [3,4]",
    ),
    (
        "mx.nd.Dropout(x, p=1.5, mode='always')",
        "MXNetError",
        "value 1.5 for Parameter p exceed bound [0,1]",
    ),
    (
        "mx.nd.Dropout(x, p=0.5, mode='foo')",
        "MXNetError",
        "Invalid Input: 'foo', valid values are: {'always', 'training'}",
    ),
    (
        "mx.nd.Dropout(x.astype('int32'), mode='always')",
        "MXNetError",
        "This operation only support floating point types, not int32",
    ),
    (
        "mx.nd.softmax(x, length=mx.nd.array([2, 4, 1]), use_length=True)",
        "MXNetError",
        "This operation only support integer types, not float32",
    ),
    (
        "mx.nd.softmax(x, length=I([2, 4]), use_length=True)",
        "MXNetError",
        "Shape inconsistent, Provided = [2], inferred shape=[3]",
    ),
    (
        "mx.nd.softmax(x.astype('int32'))",
        "MXNetError",
        "This operation only support floating point types, not int32",
    ),
    ("mx.nd.softmax(x, dtype='int32')", "MXNetError", "Invalid Input: 'int32', valid values are:"),
    (
        "mx.nd.softmax(x, use_length=True)",
        "MXNetError",
        "Operator softmax expects 2 inputs, but got 1 instead",
    ),
    (
        "mx.nd.log_softmax(x, length=I([2, 4, 1]), use_length=True)",
        "MXNetError",
        "Cannot find argument 'length'",
    ),
    (
        "mx.nd.L2Normalization(x, mode='channel')",
        "MXNetError",
        "At lease 3 dimensions required in channel mode",
    ),
    (
        "mx.nd.L2Normalization(x, mode='foo')",
        "MXNetError",
        "Invalid Input: 'foo', valid values are: {'channel', 'instance', 'spatial'}",
    ),
    (
        "mx.nd.SequenceMask(d, mx.nd.array([1, 2]), use_sequence_length=True)",
        "MXNetError",
        "Shape inconsistent, Provided = [2], inferred shape=(3,)",
    ),
    (
        "mx.nd.SequenceMask(d, mx.nd.array([1, 2]), use_sequence_length=True, axis=2)",
        "MXNetError",
        "Current implementation expects axis to be 0 or 1",
    ),
    (
        "mx.nd.SequenceMask(mx.nd.arange(3), mx.nd.array([1, 2]), use_sequence_length=True)",
        "MXNetError",
        "The data array must be of rank 2 or greater",
    ),
    (
        "mx.nd.SequenceMask(d, sequence_length=mx.nd.array([1, 2]))",
        "MXNetError",
        "Operator SequenceMask expects 1 inputs, but got 2 instead",
    ),
    (
        "mx.nd.batch_dot(d, d)",
        "MXNetError",
        "batch_dot shape error (shape mismatch): [2,3,4] X [2,3,4] trans_a=0 trans_b=0",
    ),
    (
        "mx.nd.batch_dot(d[0], d[0])",
        "MXNetError",
        "batch_dot currently only support N-D*N-D array (N >= 3)",
    ),
    (
        "mx.nd.batch_dot(d, d[:1], transpose_b=True)",
        "MXNetError",
        "the leading batch dimensions must be equal",
    ),
    ("mx.nd.linalg.gemm2(x, x)", "MXNetError", "Incompatible matrix dimensions for multiplication"),
    (
        "mx.nd.linalg.gemm2(x.astype('int32'), x.astype('int32'), transpose_b=True)",
        "MXNetError",
        "This operation only supports 32-bit and 64-bit floating point",
    ),
    (
        "mx.nd.linalg.gemm2(d, d.reshape((2, 4, 3)), axis=0)",
        "MXNetError",
        "Shapes of inputs 0, 1 must be the same, except on row/col axis",
    ),
    (
        "mx.nd.linspace(0, 1, -1)",
        "MXNetError",
        "Number of sequence should be non-negative, received -1",
    ),
    ("mx.nd.arange(3, repeat=0)", "MXNetError", "Range only supports repeat > 0, received 0"),
    (
        "mx.nd.random.randint(0, 5, shape=(2,), dtype='float32')",
        "MXNetError",
        "Invalid Input: 'float32', valid values are:",
    ),
    ("mx.nd.random.randint(5, 2, shape=(2,))", "MXNetError", "low must be less"),
    (
        "mx.nd.random.multinomial(mx.nd.array([0.5, 0.5]), dtype='int64')",
        "MXNetError",
        "Invalid Input: 'int64', valid values are:",
    ),
    (
        "mx.np.vsplit(mx.np.arange(3), 3)",
        "ValueError",
        "vsplit only works on arrays of 2 or more dimensions",
    ),
    ("mx.np.pad(mx.np.ones((2, 2)), 1, mode='edge')", "TypeError", "`pad_width` must be tuple."),
    (
        "mx.np.pad(mx.np.ones((2, 2)), ((1, 1), (1, 1)), mode='wrap')",
        "ValueError",
        "mode {'wrap'} is not supported.",
    ),
    (
        "mx.np.split(mx.np.ones((3, 4)), [5], axis=1)",
        "MXNetError",
        "end 5 is no less than the size of the axis 4",
    ),
]

_KINDS = ("MXNetError", "IndexError", "ValueError", "TypeError", "KeyError", "AssertionError")


def _kind(err: BaseException) -> str:
    for cls in type(err).__mro__:
        if cls.__name__ in _KINDS:
            return cls.__name__
    return type(err).__name__


@pytest.fixture(scope="module")
def mxnet_errors() -> dict[str, Any]:
    script = (
        PRELUDE.replace("\n", "\n")
        + "out = {}\n"
        + f"cases = {json.dumps([c for c, _, _ in CASES])}\n"
        + "kinds = "
        + repr(_KINDS)
        + "\n"
        + "for code in cases:\n"
        + "    try:\n"
        + "        r = eval(code)\n"
        + "        if hasattr(r, 'wait_to_read'): r.wait_to_read()\n"
        + "        out[code] = ['ok', '']\n"
        + "    except Exception as err:\n"
        + "        kind = next((c.__name__ for c in type(err).__mro__ if c.__name__ in kinds), type(err).__name__)\n"
        + "        out[code] = [kind, str(err)]\n"
        + "print(json.dumps(out))\n"
    )
    return run_oracle_json(script)


def _run_mxlite(code: str) -> tuple[str, str]:
    ns: dict[str, Any] = {"mx": mx, "onp": np}
    exec(PRELUDE, ns)
    try:
        eval(code, ns)
    except Exception as err:  # noqa: BLE001 - the kind is what is compared
        return _kind(err), str(err)
    return "ok", ""


@pytest.mark.parametrize(("code", "kind", "fragment"), CASES, ids=[c for c, _, _ in CASES])
def test_error_kind_and_wording(
    mxnet_errors: dict[str, Any], code: str, kind: str, fragment: str
) -> None:
    ref_kind, ref_msg = mxnet_errors[code]
    assert (ref_kind, fragment in ref_msg) == (kind, True), (ref_kind, ref_msg[-600:])
    got_kind, got_msg = _run_mxlite(code)
    assert got_kind == kind, (got_kind, got_msg)
    assert fragment in got_msg, got_msg
