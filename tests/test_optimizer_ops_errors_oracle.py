"""Bad calls of the ``mx.nd.*_update`` operators against MXNet 1.9.1: the exception class
(MXNetError, or AssertionError where MXNet asserts), a fragment of MXNet's message that mxlite's
message must contain too, and proof that no input was changed (the checks run before any
write). One oracle process runs every case.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from tests.oracle import run_oracle_json

# (case id, call, fragment both messages contain); names: w, g, m (2x3 float32), w16, g16,
# w2/g2/m2 (float32 (4,)), v1 (float32 (1,)), mod (the module: mxnet or mxlite)
ERRORS: list[tuple[str, str, str]] = [
    ("no_lr", "nd.sgd_update(w, g)",
     "Required parameter lr of float is not presented, in operator sgd_update"),
    ("grad_shape", "nd.sgd_update(w, nd.ones((3, 2)), lr=0.1)",
     "Incompatible attr in node  at 1-th input: expected [2,3], got [3,2]"),
    ("grad_dtype", "nd.sgd_update(w, g.astype('float64'), lr=0.1)",
     "Incompatible attr in node  at 1-th input: expected float32, got float64"),
    ("out_shape", "nd.sgd_update(w, g, lr=0.1, out=nd.zeros((3,)))",
     "Incompatible attr in node  at 0-th output: expected [2,3], got [3]"),
    ("out_dtype", "nd.sgd_mom_update(w, g, m, lr=0.1, out=nd.zeros((2, 3), dtype='float64'))",
     "Incompatible attr in node  at 0-th output: expected float32, got float64"),
    ("unknown_arg", "nd.sgd_update(w, g, lr=0.1, foo=1)", "Cannot find argument 'foo'"),
    ("mom_shape", "nd.sgd_mom_update(w, g, nd.zeros((3,)), lr=0.1, momentum=0.9)",
     "Incompatible attr in node  at 2-th input: expected [2,3], got [3]"),
    ("mp_master_dtype", "nd.mp_sgd_update(w16, g16, w16, lr=0.1, out=w16)",
     "Type inconsistent, Provided = float16, inferred type = float32"),
    ("mp_mom_dtype", "nd.mp_sgd_mom_update(w16, g16, w16, w, lr=0.1, out=w16)",
     "Type inconsistent, Provided = float16, inferred type = float32"),
    ("weight_missing", "nd.sgd_update(None, g, lr=0.1)",
     "Operator sgd_update expects 2 inputs, but got 1 instead."),
    ("weight_numpy", "nd.sgd_update(np.ones((2, 3), dtype=np.float32), g, lr=0.1)",
     "Argument weight must have NDArray type, but got"),
    ("int_weight", "nd.sgd_update(nd.ones((2,), dtype='int32'), nd.ones((2,), dtype='int32'), "
     "lr=0.1).asnumpy()", "This operation only support floating point types, not int32"),
    ("lr_range", "nd.sgd_update(w, g, lr=1.5e-39)", "Out of range value for lr, value='1.5e-39'"),
    ("ftml_float_t", "nd.ftml_update(w, g, m, m, m, lr=0.1, t=2.0)",
     "Invalid Parameter format for t expect int but value='2.0'"),
    ("ftml_no_t", "nd.ftml_update(w, g, m, m, m, lr=0.1)",
     "Required parameter t of int is not presented, in operator ftml_update"),
    ("adam_var_shape", "nd.adam_update(w, g, m, m2, lr=0.1)",
     "Incompatible attr in node  at 3-th input: expected [2,3], got [4]"),
    ("multi_count", "nd.multi_sgd_update(w, g, w, lrs=(0.1, 0.1), wds=(0., 0.), num_weights=2, "
     "out=[w, w])", "Operator multi_sgd_update expects 4 inputs, but got 3 instead."),
    ("multi_default_count", "nd.multi_sgd_update(w, g, w2, g2, lrs=(0.1, 0.1), wds=(0., 0.), "
     "out=[w, w2])", "Operator multi_sgd_update expects 2 inputs, but got 4 instead."),
    ("multi_lrs", "nd.multi_sgd_update(w, g, w2, g2, lrs=(0.1,), wds=(0., 0.), num_weights=2, "
     "out=[w, w2])", "Number of learning rates is inconsistent with num_weights parameter "
     "passed. Expected number of learning rates: 2, and got 1"),
    ("multi_wds", "nd.multi_sgd_update(w, g, w2, g2, lrs=(0.1, 0.2), wds=(0.,), "
     "num_weights=2, out=[w, w2])", "Expected number of weight decays: 2, and got 1"),
    ("multi_no_out", "nd.multi_sgd_update(w, g, lrs=(0.1,), wds=(0.,), num_weights=1)",
     "shape must have a valid ndim"),
    ("multi_outs", "nd.multi_sgd_update(w, g, w2, g2, lrs=(0.1, 0.2), wds=(0., 0.), "
     "num_weights=2, out=[w])", "expects 2 (all) or 2 (visible only) outputs, but got 1"),
    ("multi_mixed", "nd.multi_sgd_update(w, g, w.astype('float64'), g.astype('float64'), "
     "lrs=(0.1, 0.2), wds=(0., 0.), num_weights=2, out=[w, w])",
     "Incompatible attr in node  at 2-th input: expected float32, got float64"),
    ("multi_second_shape", "nd.multi_sgd_mom_update(w, g, m, w2, g, m2, lrs=(0.1, 0.2), "
     "wds=(0., 0.), momentum=0.9, num_weights=2, out=[w, w2])",
     "Incompatible attr in node  at 1-th input: expected [4], got [2,3]"),
    ("preloaded_lrs", "nd.preloaded_multi_sgd_update(w, g, nd.ones((2,)), v1, num_weights=1, "
     "out=w)", "Number of learning rates is inconsistent with num_weights parameter passed. "
     "Expected number of learning rates: 1, and got 2"),
    ("lamb1_no_t", "nd.lamb_update_phase1(w, g, m, m2, wd=0.0)",
     "Required parameter t of int is not presented, in operator lamb_update_phase1"),
    ("lamb1_no_wd", "nd.lamb_update_phase1(w, g, m, m, t=1)",
     "Required parameter wd of float is not presented"),
    ("mp_lamb1_f32", "nd.mp_lamb_update_phase1(w, g, m, m, w, t=1, wd=0.)",
     "Type inconsistent, Provided = float32, inferred type = float16"),
    ("lamb2_r1", "nd.lamb_update_phase2(w, g, nd.ones((2,)), v1, lr=0.1)", "r1 shape incorrect"),
    ("lamb2_g_dim", "nd.lamb_update_phase2(w, nd.ones((2, 4)), v1, v1, lr=0.1)",
     "weight and g dimension size mismatch at 1-th index"),
    ("lamb2_g_ndim", "nd.lamb_update_phase2(w, nd.ones((6,)), v1, v1, lr=0.1)",
     "total no. of dimensions for weights and g must match"),
    ("lamb2_out", "nd.lamb_update_phase2(w, g, v1, v1, lr=0.1, out=nd.zeros((3,)))",
     "Shape inconsistent, Provided = [3], inferred shape=[2,3]"),
    ("lamb2_r1_dtype", "nd.lamb_update_phase2(w, g, v1.astype('float64'), v1, lr=0.1)",
     "Incompatible attr in node  at 2-th input: expected float32, got float64"),
    ("lamb2_no_lr", "nd.lamb_update_phase2(w, g, v1, v1)",
     "Required parameter lr of float is not presented, in operator lamb_update_phase2"),
    ("mlamb_steps", "mod.nd.contrib.multi_lamb_update([w], [g], [m], [m2], step_count=[1, 2], "
     "lrs=[0.1], wds=[0.], out=[w])",
     "Expected number of step counts: 1, and got 2"),
    ("mlamb_lrs", "mod.nd.contrib.multi_lamb_update([w], [g], [m], [m], step_count=[1], "
     "lrs=[0.1, 0.2], wds=[0.], out=[w])", "Expected number of learning rates: 1, and got 2"),
    ("mlamb_no_out", "mod.nd.contrib.multi_lamb_update([w], [g], [m], [m], step_count=[1], "
     "lrs=[0.1], wds=[0.], out=None)", "shape must have a valid ndim"),
    ("mlamb_46", "mod.nd.contrib.multi_lamb_update([w] * 46, [g] * 46, [m] * 46, [m] * 46, "
     "step_count=[1] * 46, lrs=[0.1] * 46, wds=[0.] * 46, out=[w] * 46)",
     "Invalid number of tensors, the maximum value is 45, and got 46"),
    ("mlamb_mp_dtype", "mod.nd.contrib.multi_mp_lamb_update([w16], [g16], [m], [m], [w16], "
     "step_count=[1], lrs=[0.1], wds=[0.], out=[w16])",
     "Type inconsistent, Provided = float16, inferred type = float32"),
    ("lars_f64", "nd.multi_lars(*[v1.astype('float64')] * 4, eta=0.1, eps=0.).asnumpy()",
     "MultiLARS only support float"),
    ("lars_no_eps", "nd.multi_lars(v1, v1, v1, v1, eta=0.1)",
     "Required parameter eps of float is not presented, in operator multi_lars"),
    ("lars_shape", "nd.multi_lars(v1, w2, v1, v1, eta=0.1, eps=0.)",
     "Incompatible attr in node  at 1-th input: expected [1], got [4]"),
    ("sumsq_mixed", "nd.multi_sum_sq(w, w2.astype('float64'), num_arrays=2)",
     "This layer requires uniform type. Expected 'float32' v.s. given 'float64' at 'array_1'"),
    ("sumsq_count", "nd.multi_sum_sq(w, w, num_arrays=1)",
     "Operator multi_sum_sq expects 1 inputs, but got 2 instead."),
    ("sumsq_no_num", "nd.multi_sum_sq(w, w)",
     "Required parameter num_arrays of int is not presented, in operator multi_sum_sq"),
    ("finite_count", "nd.multi_all_finite(w, g)",
     "Operator multi_all_finite expects 1 inputs, but got 2 instead."),
    ("finite_mixed", "nd.multi_all_finite(w.astype('float64'), g, num_arrays=2).asnumpy()",
     "data type do not match specified type"),
    ("reset_count", "nd.reset_arrays(w, num_arrays=2)",
     "Operator reset_arrays expects 2 inputs, but got 1 instead."),
]  # fmt: skip

_DRIVER = r"""
def run_errors(mod, cases):
    nd = mod.nd
    results = {}
    for cid, call, _ in cases:
        w = nd.array(np.arange(6).reshape(2, 3) / 7.0)
        g = nd.array(np.arange(6).reshape(2, 3) / 5.0 - 0.5)
        m = nd.array(np.ones((2, 3)) * 0.25)
        w16, g16 = w.astype("float16"), g.astype("float16")
        w2, g2, m2 = nd.ones((4,)), nd.ones((4,)) * 0.5, nd.zeros((4,))
        v1 = nd.ones((1,))
        watched = [w, g, m, w16, g16, w2, g2, m2, v1]
        before = [a.asnumpy().tolist() for a in watched]
        env = {"nd": nd, "mod": mod, "np": np, "w": w, "g": g, "m": m, "w16": w16, "g16": g16,
               "w2": w2, "g2": g2, "m2": m2, "v1": v1}
        try:
            eval(call, env)
            nd.waitall()
            results[cid] = ["no error", "", True]
        except Exception as err:
            kind = "AssertionError" if isinstance(err, AssertionError) else type(err).__name__
            after = [a.asnumpy().tolist() for a in watched]
            results[cid] = [kind, str(err), after == before]
    return results
"""


@pytest.fixture(scope="module")
def oracle_errors() -> dict[str, Any]:
    script = (
        _DRIVER
        + f"\ncases = json.loads({json.dumps(json.dumps(ERRORS))})\n"
        + "print(json.dumps(run_errors(mx, cases)))\n"
    )
    return run_oracle_json(script)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def our_errors() -> dict[str, Any]:
    namespace: dict[str, Any] = {"np": np}
    exec(_DRIVER, namespace)  # noqa: S102 - our own driver text, shared with the oracle
    return namespace["run_errors"](mx, ERRORS)  # type: ignore[no-any-return]


@pytest.mark.oracle
@pytest.mark.parametrize("cid,call,fragment", ERRORS, ids=[e[0] for e in ERRORS])
def test_operator_error_matches_oracle(
    cid: str, call: str, fragment: str, oracle_errors: dict[str, Any], our_errors: dict[str, Any]
) -> None:
    kind, message, unchanged = oracle_errors[cid]
    assert kind in ("MXNetError", "AssertionError"), (cid, kind, message)
    assert fragment in message, (cid, message)
    our_kind, our_message, our_unchanged = our_errors[cid]
    assert our_kind == kind, (cid, our_kind, our_message)
    assert fragment in our_message, (cid, our_message)
    assert our_unchanged, f"{cid}: an input changed although the call was refused"
    assert unchanged or cid == "int_weight"  # (MXNet's own check, for the record)


def test_errors_are_mxnet_errors() -> None:
    """Errors a caller can cause are MXNetError (or CheckError, an AssertionError too)."""
    w = mx.nd.ones((2,))
    with pytest.raises(mx.base.MXNetError, match="Required parameter lr"):
        mx.nd.adam_update(w, w, w.copy(), w.copy())
    with pytest.raises(AssertionError, match="must have NDArray type"):
        mx.nd.rmsprop_update([1.0, 2.0], w, w.copy(), lr=0.1)


@pytest.mark.oracle
def test_reset_arrays_and_all_finite_results_match_oracle() -> None:
    """What the operators without an update return: reset_arrays an empty list (and zeros),
    all_finite a float32 (1,) flag that ``init_output=False`` leaves alone on finite data."""
    snippet = """
def results(mod):
    nd = mod.nd
    w, g = nd.ones((2, 3)), nd.ones((4,), dtype="float16")
    ret = nd.reset_arrays(w, g, num_arrays=2)
    flag = nd.array([5.0])
    nd.all_finite(nd.array([1.0, 2.0]), init_output=False, out=flag)
    kept = flag.asnumpy().tolist()
    nd.all_finite(nd.array([1.0, np.inf]), init_output=False, out=flag)
    big = nd.multi_all_finite(nd.array([1e30], dtype="float64"), nd.ones((2,), dtype="float64"),
                              num_arrays=2)
    return [repr(ret), w.asnumpy().tolist(), g.asnumpy().tolist(), kept, flag.asnumpy().tolist(),
            str(flag.dtype), big.asnumpy().tolist(),
            nd.all_finite(nd.array([1e300], dtype="float64")).asnumpy().tolist()]
"""
    expected = run_oracle_json(snippet + "\nprint(json.dumps(results(mx)))\n")
    namespace: dict[str, Any] = {"np": np}
    exec(snippet, namespace)  # noqa: S102 - our own snippet, shared with the oracle
    assert json.loads(json.dumps(namespace["results"](mx))) == expected
