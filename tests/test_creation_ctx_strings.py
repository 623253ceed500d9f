"""Context strings (``ctx='cpu(1)'``) in the array-creation functions, and bfloat16 ``nd.array``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError
from tests.oracle import run_oracle_json

# The forms MXNet 1.9.1's operators parse (Context::FromString): "type(id)" with std::stoi rules.
CTX_STRINGS = [
    "cpu(0)",
    "cpu(1)",
    "cpu( 1)",
    "cpu(+1)",
    "cpu(1 )",
    "cpu(2x)",
    "cpu(01)",
    "cpu(-2)",
    "cpu_pinned(1)",
    "cpu_shared(0)",
    "cpu",
    "cpu()",
    "CPU(0)",
    " cpu(0)",
    "cpu(0) ",
    "cpu(1)x",
    "cpu((1))",
    "cpu(1",
    "cpu:0",
    "cpu(x)",
    "cpu(99999999999)",
    "gpu(-1)",
    "foo",
    "",
]
# The creation functions whose MXNet 1.9.1 operators take the string.
FUNCS = {
    "ones": "mx.nd.ones((2,), ctx=s)",
    "zeros": "mx.nd.zeros((2,), ctx=s)",
    "arange": "mx.nd.arange(3, ctx=s)",
    "uniform": "mx.nd.random.uniform(shape=(2,), ctx=s)",
    "np.ones": "mx.np.ones((2,), ctx=s)",
    "np.zeros": "mx.np.zeros((2,), ctx=s)",
}
_SCENARIO = """
out = {{}}
for s in {strings!r}:
    for name, expr in {funcs!r}.items():
        try:
            r = eval(expr)
            out[name + "|" + s] = ["ok", str(r.context), r.shape[0]]
        except Exception as e:
            lines = [l for l in str(e).splitlines() if l.strip()]
            out[name + "|" + s] = ["err", type(e).__name__, lines[-1] if lines else ""]
print(json.dumps(out))
"""


def _mxlite_outcomes() -> dict[str, list]:
    out: dict[str, list] = {}
    for s in CTX_STRINGS:
        for name, expr in FUNCS.items():
            try:
                r = eval(expr, {"mx": mx, "s": s})
                out[name + "|" + s] = ["ok", str(r.context), r.shape[0]]
            except Exception as e:
                out[name + "|" + s] = ["err", type(e).__name__, str(e)]
    return out


@pytest.mark.oracle
def test_context_strings_match_mxnet() -> None:
    ref = run_oracle_json(_SCENARIO.format(strings=CTX_STRINGS, funcs=FUNCS))
    got = _mxlite_outcomes()
    assert set(ref) == set(got)
    for key, want in ref.items():
        have = got[key]
        assert have[0] == want[0], (key, have, want)
        if want[0] == "ok":
            assert have == want, key
        else:
            assert have[1] == "MXNetError", (key, have)
            # MXNet prefixes "MXNetError: "; the words after it must match.
            assert want[2].split("MXNetError: ")[-1] in have[2], (key, have, want)


@pytest.mark.parametrize("fn", ["ones", "zeros", "empty", "full", "array", "arange"])
def test_every_nd_creation_function_takes_a_context_string(fn: str) -> None:
    calls = {
        "ones": lambda c: mx.nd.ones((2, 3), ctx=c),
        "zeros": lambda c: mx.nd.zeros((2, 3), ctx=c),
        "empty": lambda c: mx.nd.empty((2, 3), ctx=c),
        "full": lambda c: mx.nd.full((2, 3), 4.0, ctx=c),
        "array": lambda c: mx.nd.array(np.ones((2, 3)), ctx=c),
        "arange": lambda c: mx.nd.arange(6, ctx=c).reshape((2, 3)),
    }
    x = calls[fn]("cpu(1)")
    assert x.context == mx.cpu(1) and type(x.context) is mx.Context
    assert x.shape == (2, 3)
    with pytest.raises(MXNetError, match="Invalid context string cpu:1"):
        calls[fn]("cpu:1")


def test_context_string_rejects_non_strings_as_before() -> None:
    with pytest.raises((TypeError, AttributeError)):
        mx.nd.ones((2,), ctx=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "source",
    [[1.0, 2.5, -3.0], np.array([1.0, 2.5, -3.0]), np.array([1, 2, -3], dtype=np.int8), 2.5],
    ids=["list", "float64", "int8", "scalar"],
)
def test_nd_array_of_bfloat16(source) -> None:
    x = mx.nd.array(source, dtype="bfloat16")
    want = np.asarray(source, dtype=np.float32)
    assert x.dtype == mx.nd.ones((1,), dtype="bfloat16").dtype
    assert x.asnumpy().dtype.name == "bfloat16"
    np.testing.assert_array_equal(x.astype("float32").asnumpy(), want.reshape(x.shape))
    same = mx.nd.array(want).astype("bfloat16")
    np.testing.assert_array_equal(x.asnumpy().view(np.uint16), same.asnumpy().view(np.uint16))


def test_nd_array_still_refuses_strings_and_void() -> None:
    with pytest.raises(TypeError, match="array like"):
        mx.nd.array(["a", "b"])
    with pytest.raises(TypeError, match="array like"):
        mx.nd.array(np.zeros(2, dtype="V2"))
    assert json.dumps(mx.nd.array([1, 2]).asnumpy().tolist()) == "[1.0, 2.0]"
