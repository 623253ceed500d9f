"""MXNet 1.9.1's RMSProp, Ftrl, FTML and Signum operators: ``mx.nd.rmsprop_update``, ...

As the operators of :mod:`mxlite.ndarray.op_optimizer`: the new weight goes to ``out`` (the
weight itself for an in-place update; a new array without ``out``), the states are updated in
place, and scalars reach the rules exactly as MXNet's parameter parser reads them. The rules are
MXNet's kernels evaluated with NumPy/CuPy (:mod:`mxlite.ndarray._update_rules`, formulas there),
shared with :mod:`mxlite.optimizer`'s RMSProp, Ftrl, FTML and Signum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mxlite.ndarray import _update_rules as rules
from mxlite.ndarray._kernel_params import REQUIRED, ParamSpec
from mxlite.ndarray.ndarray import NDArray, on_device
from mxlite.ndarray.op_optimizer import COMMON, LR, MOM_FIELDS, given, prepare, weight_target

__all__ = [
    "rmsprop_update",
    "rmspropalex_update",
    "ftrl_update",
    "ftml_update",
    "signsgd_update",
    "signum_update",
]

Raw = Any
_SPECS = {
    "rmsprop_update": {
        "lr": LR, "gamma1": ("float", 0.95), "epsilon": ("float", 1e-8), **COMMON,
        "clip_weights": ("float", -1.0),
    },
    "rmspropalex_update": {
        "lr": LR, "gamma1": ("float", 0.95), "gamma2": ("float", 0.9),
        "epsilon": ("float", 1e-8), **COMMON, "clip_weights": ("float", -1.0),
    },
    "ftrl_update": {"lr": LR, "lamda1": ("float", 0.01), "beta": ("float", 1.0), **COMMON},
    "ftml_update": {
        "lr": LR, "beta1": ("float", 0.6), "beta2": ("float", 0.999),
        "epsilon": ("double", float(np.float32(1e-8))), "t": ("int", REQUIRED),
        "wd": ("float", 0.0), "rescale_grad": ("float", 1.0), "clip_grad": ("float", -1.0),
    },
    "signsgd_update": {"lr": LR, **COMMON},
    "signum_update": {**MOM_FIELDS, "wd_lh": ("float", 0.0)},
}  # fmt: skip
SPECS = {op: ParamSpec(op, fields) for op, fields in _SPECS.items()}


def _rule(
    op: str, named: list[tuple[str, Any]], out: NDArray | None, step: Callable[..., None]
) -> NDArray:
    """Check the inputs, then ``step(target, grad, *states)`` on raw arrays, where ``target``
    holds the weight and receives the update (``out``, or a new array)."""
    arrays = prepare(op, named, out)
    result = weight_target(arrays[0], out)
    with np.errstate(all="ignore"):
        step(result._data, *(a._data for a in arrays[1:]))
    return result


@on_device
def rmsprop_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    n: NDArray | None = None,
    lr: float | None = None,
    gamma1: float | None = None,
    epsilon: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    clip_weights: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """RMSProp (Tieleman & Hinton): ``n`` updated in place (formula in
    :mod:`mxlite.ndarray._update_rules`). Defaults: gamma1 0.95, epsilon 1e-8, wd 0,
    rescale_grad 1, clip_gradient -1, clip_weights -1."""
    p = SPECS["rmsprop_update"].parse(
        given(lr=lr, gamma1=gamma1, epsilon=epsilon, wd=wd, rescale_grad=rescale_grad,
               clip_gradient=clip_gradient, clip_weights=clip_weights, **kwargs)
    )  # fmt: skip

    def step(w: Raw, g: Raw, state_n: Raw) -> None:
        rules.single_tensor_rmsprop(
            w, g, state_n, None, None, p["lr"], p["wd"], gamma1=p["gamma1"], gamma2=0.0,
            epsilon=p["epsilon"], rescale_grad=p["rescale_grad"],
            clip_gradient=p["clip_gradient"], clip_weights=p["clip_weights"],
        )  # fmt: skip

    return _rule("rmsprop_update", [("weight", weight), ("grad", grad), ("n", n)], out, step)


@on_device
def rmspropalex_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    n: NDArray | None = None,
    g: NDArray | None = None,
    delta: NDArray | None = None,
    lr: float | None = None,
    gamma1: float | None = None,
    gamma2: float | None = None,
    epsilon: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    clip_weights: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """Centered RMSProp (Graves 2013): ``n``, ``g``, ``delta`` updated in place. Defaults:
    gamma1 0.95, gamma2 0.9, epsilon 1e-8, wd 0, rescale_grad 1, clip_gradient -1,
    clip_weights -1."""
    p = SPECS["rmspropalex_update"].parse(
        given(lr=lr, gamma1=gamma1, gamma2=gamma2, epsilon=epsilon, wd=wd,
               rescale_grad=rescale_grad, clip_gradient=clip_gradient,
               clip_weights=clip_weights, **kwargs)
    )  # fmt: skip

    def step(w: Raw, gr: Raw, state_n: Raw, state_g: Raw, state_delta: Raw) -> None:
        rules.single_tensor_rmsprop(
            w, gr, state_n, state_g, state_delta, p["lr"], p["wd"], gamma1=p["gamma1"],
            gamma2=p["gamma2"], epsilon=p["epsilon"], rescale_grad=p["rescale_grad"],
            clip_gradient=p["clip_gradient"], clip_weights=p["clip_weights"],
        )  # fmt: skip

    named = [("weight", weight), ("grad", grad), ("n", n), ("g", g), ("delta", delta)]
    return _rule("rmspropalex_update", named, out, step)


@on_device
def ftrl_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    z: NDArray | None = None,
    n: NDArray | None = None,
    lr: float | None = None,
    lamda1: float | None = None,
    beta: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """FTRL-Proximal: ``z`` and ``n`` updated in place. Defaults: lamda1 0.01, beta 1, wd 0,
    rescale_grad 1, clip_gradient -1."""
    p = SPECS["ftrl_update"].parse(
        given(lr=lr, lamda1=lamda1, beta=beta, wd=wd, rescale_grad=rescale_grad,
               clip_gradient=clip_gradient, **kwargs)
    )  # fmt: skip

    def step(w: Raw, gr: Raw, state_z: Raw, state_n: Raw) -> None:
        rules.single_tensor_ftrl(
            w, gr, state_z, state_n, p["lr"], p["wd"], lamda1=p["lamda1"], beta=p["beta"],
            rescale_grad=p["rescale_grad"], clip_gradient=p["clip_gradient"],
        )  # fmt: skip

    named = [("weight", weight), ("grad", grad), ("z", z), ("n", n)]
    return _rule("ftrl_update", named, out, step)


@on_device
def ftml_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    d: NDArray | None = None,
    v: NDArray | None = None,
    z: NDArray | None = None,
    lr: float | None = None,
    beta1: float | None = None,
    beta2: float | None = None,
    epsilon: float | None = None,
    t: int | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_grad: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """FTML: ``d``, ``v``, ``z`` updated in place; ``t`` (required) is the update count.
    Defaults: beta1 0.6, beta2 0.999, epsilon 1e-8, wd 0, rescale_grad 1, clip_grad -1."""
    p = SPECS["ftml_update"].parse(
        given(lr=lr, beta1=beta1, beta2=beta2, epsilon=epsilon, t=t, wd=wd,
               rescale_grad=rescale_grad, clip_grad=clip_grad, **kwargs)
    )  # fmt: skip

    def step(w: Raw, gr: Raw, state_d: Raw, state_v: Raw, state_z: Raw) -> None:
        rules.single_tensor_ftml(
            w, gr, state_d, state_v, state_z, p["lr"], p["wd"], p["t"], beta1=p["beta1"],
            beta2=p["beta2"], epsilon=p["epsilon"], rescale_grad=p["rescale_grad"],
            clip_gradient=p["clip_grad"],
        )  # fmt: skip

    named = [("weight", weight), ("grad", grad), ("d", d), ("v", v), ("z", z)]
    return _rule("ftml_update", named, out, step)


@on_device
def signsgd_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    lr: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """signSGD: ``out = (1 - lr * wd) * weight - lr * sign(grad)`` (``rescale_grad`` and
    ``clip_gradient`` are accepted and, as in MXNet, have no effect)."""
    p = SPECS["signsgd_update"].parse(
        given(lr=lr, wd=wd, rescale_grad=rescale_grad, clip_gradient=clip_gradient, **kwargs)
    )

    def step(w: Raw, gr: Raw) -> None:
        rules.single_tensor_signum(
            w, gr, None, p["lr"], p["wd"], momentum=0.0, wd_lh=0.0,
            rescale_grad=p["rescale_grad"], clip_gradient=p["clip_gradient"],
        )  # fmt: skip

    return _rule("signsgd_update", [("weight", weight), ("grad", grad)], out, step)


@on_device
def signum_update(
    weight: NDArray | None = None,
    grad: NDArray | None = None,
    mom: NDArray | None = None,
    lr: float | None = None,
    momentum: float | None = None,
    wd: float | None = None,
    rescale_grad: float | None = None,
    clip_gradient: float | None = None,
    wd_lh: float | None = None,
    out: NDArray | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> NDArray:
    """Signum: ``mom`` updated in place, ``out = (1 - lr * wd_lh) * weight + lr * sign(mom)``.
    Defaults: momentum 0, wd 0, rescale_grad 1, clip_gradient -1, wd_lh 0."""
    p = SPECS["signum_update"].parse(
        given(lr=lr, momentum=momentum, wd=wd, rescale_grad=rescale_grad,
               clip_gradient=clip_gradient, wd_lh=wd_lh, **kwargs)
    )  # fmt: skip

    def step(w: Raw, gr: Raw, state_mom: Raw) -> None:
        rules.single_tensor_signum(
            w, gr, state_mom, p["lr"], p["wd"], momentum=p["momentum"], wd_lh=p["wd_lh"],
            rescale_grad=p["rescale_grad"], clip_gradient=p["clip_gradient"],
        )  # fmt: skip

    named = [("weight", weight), ("grad", grad), ("mom", mom)]
    return _rule("signum_update", named, out, step)
