"""gluon.loss: values and gradients against MXNet 1.9.1, shapes, weighting and argument errors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, nd
from mxlite.gluon import loss as gloss
from tests._support.oracle import run_oracle_json

_RNG = np.random.default_rng(11)


def _arr(*shape: int) -> np.ndarray:
    return _RNG.standard_normal(shape).astype(np.float32)


ARRS: dict[str, np.ndarray] = {
    "logits": _arr(4, 3),
    "logits3d": _arr(2, 3, 4),
    "cls": np.array([0, 2, 1, 2], dtype=np.float32),
    "cls3d": np.array([[0, 2, 1, 1], [2, 2, 0, 1]], dtype=np.float32),
    "dist": np.array(
        [[0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2], [0.3, 0.3, 0.4]], dtype=np.float32
    ),
    "reg": _arr(4, 3),
    "reg_flat": _arr(12),
    "bin": (_RNG.uniform(size=(4, 3)) > 0.5).astype(np.float32),
    "signed": np.where(_RNG.uniform(size=(4, 3)) > 0.5, 1.0, -1.0).astype(np.float32),
    "prob": _RNG.uniform(0.05, 0.95, size=(4, 3)).astype(np.float32),
    "sw": _RNG.uniform(0.5, 2.0, size=(4, 1)).astype(np.float32),
    "sw_full": _RNG.uniform(0.5, 2.0, size=(4, 3)).astype(np.float32),
    "vec": _arr(4),
    "vec_label": _arr(4),
    "pw": np.array([[0.5, 2.0, 3.0]], dtype=np.float32),
    "logp": np.log(
        np.array([[0.3, 0.3, 0.4], [0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]])
    ).astype(np.float32),
}

# name -> (loss constructor, prediction array, other call arguments); run identically in both.
CASES: dict[str, tuple[str, str, str]] = {
    "l2": ("gloss.L2Loss()", "logits", "A('reg')"),
    "l2_weighted": ("gloss.L2Loss(weight=3.0)", "logits", "A('reg'), A('sw')"),
    "l2_flat_label": ("gloss.L2Loss()", "logits", "A('reg_flat')"),
    "l2_batch_axis1": ("gloss.L2Loss(batch_axis=1)", "logits", "A('reg'), A('sw_full')"),
    "l2_1d": ("gloss.L2Loss()", "vec", "A('vec_label')"),
    "l1_1d_sw": ("gloss.L1Loss()", "vec", "A('vec_label'), A('vec_label')"),
    "bce_1d": ("gloss.SigmoidBCELoss()", "vec", "A('cls') * 0.5"),
    "l1": ("gloss.L1Loss()", "logits", "A('reg')"),
    "l1_weighted": ("gloss.L1Loss(weight=0.5)", "logits", "A('reg'), A('sw_full')"),
    "sce": ("gloss.SoftmaxCrossEntropyLoss()", "logits", "A('cls')"),
    "sce_alias_sw": ("gloss.SoftmaxCELoss(weight=2.0)", "logits", "A('cls'), A('sw')"),
    "sce_dense": ("gloss.SoftmaxCrossEntropyLoss(sparse_label=False)", "logits", "A('dist')"),
    "sce_from_logits": ("gloss.SoftmaxCrossEntropyLoss(from_logits=True)", "logp", "A('cls')"),
    "sce_axis1": ("gloss.SoftmaxCrossEntropyLoss(axis=1)", "logits3d", "A('cls3d')"),
    "bce": ("gloss.SigmoidBinaryCrossEntropyLoss()", "logits", "A('bin')"),
    "bce_sw": ("gloss.SigmoidBCELoss(weight=1.5)", "logits", "A('bin'), A('sw')"),
    "bce_pos_weight": ("gloss.SigmoidBCELoss()", "logits", "A('bin'), None, A('pw')"),
    "bce_from_sigmoid": ("gloss.SigmoidBCELoss(from_sigmoid=True)", "prob", "A('bin'), A('sw')"),
    "bce_from_sigmoid_pw": (
        "gloss.SigmoidBCELoss(from_sigmoid=True)",
        "prob",
        "A('bin'), A('sw_full'), A('pw')",
    ),
    "kldiv": ("gloss.KLDivLoss()", "logp", "A('dist'), A('sw')"),
    "kldiv_logits": ("gloss.KLDivLoss(from_logits=False)", "logits", "A('dist')"),
    "huber": ("gloss.HuberLoss(rho=0.7)", "logits", "A('reg'), A('sw')"),
    "hinge": ("gloss.HingeLoss()", "logits", "A('signed'), A('sw')"),
    "sq_hinge": ("gloss.SquaredHingeLoss(margin=0.5)", "logits", "A('signed')"),
    "logistic": ("gloss.LogisticLoss()", "logits", "A('signed'), A('sw')"),
    "logistic_binary": ("gloss.LogisticLoss(label_format='binary')", "logits", "A('bin')"),
    "triplet": ("gloss.TripletLoss(margin=0.3)", "logits", "A('reg'), A('dist')"),
}

_RUNNER = """
def run_all(mx, arrs, cases):
    gloss = mx.gluon.loss
    out = {}
    for name, (ctor, pred_key, rest) in cases.items():
        A = lambda k: mx.nd.array(arrs[k])
        pred = A(pred_key)
        pred.attach_grad()
        fn = eval(ctor, {"gloss": gloss})
        args = eval("(" + rest + ",)", {"A": A})
        with mx.autograd.record():
            loss = fn(pred, *args)
        loss.backward()
        out[name] = {"loss": loss.asnumpy().tolist(), "shape": list(loss.shape),
                     "grad": pred.grad.asnumpy().tolist()}
    return out
"""


@pytest.fixture(scope="module")
def oracle_results() -> dict[str, Any]:
    payload = json.dumps({"arrs": {k: v.tolist() for k, v in ARRS.items()}, "cases": CASES})
    script = (
        _RUNNER
        + f"\npayload = json.loads({payload!r})\n"
        + "arrs = {k: np.array(v, dtype=np.float32) for k, v in payload['arrs'].items()}\n"
        + "print(json.dumps(run_all(mx, arrs, payload['cases'])))\n"
    )
    return run_oracle_json(script)


@pytest.fixture(scope="module")
def local_results() -> dict[str, Any]:
    env: dict[str, Any] = {}
    exec(_RUNNER, env)
    return env["run_all"](mx, ARRS, CASES)


@pytest.mark.oracle
@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_and_gradient_match_mxnet(
    case: str, oracle_results: dict[str, Any], local_results: dict[str, Any]
) -> None:
    expected, got = oracle_results[case], local_results[case]
    assert got["shape"] == expected["shape"]
    for key in ("loss", "grad"):
        np.testing.assert_allclose(
            np.asarray(got[key], dtype=np.float32),
            np.asarray(expected[key], dtype=np.float32),
            rtol=2e-5,
            atol=5e-6,  # cancellation in sums of O(1) terms (KL divergence)
            err_msg=f"{case}:{key}",
        )


# ---------------------------------------------------------------------- local behaviour
def test_losses_are_hybrid_blocks() -> None:
    from mxlite.gluon.block import HybridBlock

    for cls in (gloss.L2Loss, gloss.L1Loss, gloss.SoftmaxCELoss, gloss.SigmoidBCELoss):
        assert issubclass(cls, gloss.Loss) and issubclass(cls, HybridBlock)
    assert gloss.SoftmaxCELoss is gloss.SoftmaxCrossEntropyLoss
    assert gloss.SigmoidBCELoss is gloss.SigmoidBinaryCrossEntropyLoss


def test_repr_matches_mxnet() -> None:
    assert repr(gloss.L2Loss()) == "L2Loss(batch_axis=0, w=1.0)"
    assert repr(gloss.SoftmaxCrossEntropyLoss(batch_axis=1)) == (
        "SoftmaxCrossEntropyLoss(batch_axis=1, w=None)"
    )


def test_l2_value_by_hand(ctx: mx.Context) -> None:
    pred = nd.array([[1.0, 2.0], [3.0, 5.0]], ctx=ctx)
    label = nd.array([[0.0, 0.0], [3.0, 1.0]], ctx=ctx)
    sw = nd.array([[1.0], [0.5]], ctx=ctx)
    out = gloss.L2Loss()(pred, label, sw)
    assert out.shape == (2,) and out.context == ctx
    # 0.5 * mean([1, 4]) and 0.5 * 0.5 * mean([0, 16])
    np.testing.assert_allclose(out.asnumpy(), [1.25, 2.0])


def test_softmax_ce_gradient_is_softmax_minus_onehot(ctx: mx.Context) -> None:
    logits = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=np.float32)
    pred = nd.array(logits, ctx=ctx)
    pred.attach_grad()
    with autograd.record():
        loss = gloss.SoftmaxCrossEntropyLoss()(pred, nd.array([1, 2], ctx=ctx))
    loss.backward()
    soft = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(pred.grad.asnumpy(), soft - np.eye(3)[[1, 2]], rtol=1e-5, atol=1e-6)


def test_bce_is_stable_for_large_logits(ctx: mx.Context) -> None:
    pred = nd.array([[100.0, -100.0]], ctx=ctx)
    out = gloss.SigmoidBCELoss()(pred, nd.array([[0.0, 1.0]], ctx=ctx))
    np.testing.assert_allclose(out.asnumpy(), [100.0])


def test_non_numeric_weight_is_rejected(ctx: mx.Context) -> None:
    loss = gloss.L1Loss(weight="heavy")
    pred = nd.ones((2, 2), ctx=ctx)
    with pytest.raises(TypeError, match="weight must be a number"):
        loss(pred, pred)
    with pytest.raises(AssertionError, match="weight must be a number"):
        loss(pred, pred)


def test_l2_loss_needs_a_numeric_weight(ctx: mx.Context) -> None:
    pred = nd.ones((2, 2), ctx=ctx)
    with pytest.raises(TypeError, match="weight must be a number"):
        gloss.L2Loss(weight=None)(pred, pred)


def test_gluon_facade_exports_loss() -> None:
    assert mx.gluon.loss is gloss
    assert isinstance(mx.gluon.loss.L2Loss(), mx.gluon.HybridBlock)


def test_logistic_label_format_is_checked() -> None:
    with pytest.raises(ValueError, match="label_format can only be signed or binary"):
        gloss.LogisticLoss(label_format="onehot")
