"""Weight initializers: ``mx.init`` and ``mx.initializer`` (MXNet 1.9.1's API).

``InitDesc``, ``Initializer`` (name-suffix dispatch), ``register``/``alias``/``create``, and the
built-ins ``Uniform``, ``Normal``, ``Load``, ``Mixed``, ``Zero``, ``One``, ``Constant``,
``Orthogonal``, ``Xavier``, ``MSRAPrelu``, ``Bilinear``, ``LSTMBias``, ``FusedRNN``, with MXNet's
defaults and formulas. Random built-ins fill arrays in place on their own device from counter-based
streams keyed by (seed, name, shape, dtype, initializer). ``init_many`` initializes many arrays
with one multi-tensor fill per context; ``replica_safe`` tells whether per-replica initialization
gives identical replicas.

Modules: ``base`` (InitDesc, Initializer, registry), ``_fill`` (in-place writes and counter-based
streams), ``random_inits`` (Uniform, Normal, Xavier, MSRAPrelu, Orthogonal), ``special`` (Zero,
One, Constant, Bilinear, LSTMBias), ``composite`` (Load, Mixed, FusedRNN), ``batched``
(``init_many`` for gluon).
"""

from __future__ import annotations

from mxlite.initializer import base
from mxlite.initializer.base import (
    InitDesc,
    Initializer,
    InitShapeError,
    alias,
    create,
    get_registry,
    register,
)
from mxlite.initializer.batched import init_many, replica_safe
from mxlite.initializer.composite import FusedRNN, Load, Mixed, fused_rnn_layout
from mxlite.initializer.random_inits import (
    MSRAPrelu,
    Normal,
    Orthogonal,
    Uniform,
    Xavier,
    compute_fans,
    variance_scale,
)
from mxlite.initializer.special import Bilinear, Constant, LSTMBias, One, Zero

__all__ = [
    *(name for name in base.__all__ if name != "invoke"),  # invoke stays internal, as in MXNet
    "init_many",
    "replica_safe",
    "Load",
    "Mixed",
    "Zero",
    "One",
    "Constant",
    "Uniform",
    "Normal",
    "Orthogonal",
    "Xavier",
    "MSRAPrelu",
    "Bilinear",
    "LSTMBias",
    "FusedRNN",
    "fused_rnn_layout",
    "compute_fans",
    "variance_scale",
]
