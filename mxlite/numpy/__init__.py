"""``mx.np``: the NumPy-semantics front end (use it with ``mx.npx.set_np()``).

Arrays are :class:`mxlite.numpy.multiarray.ndarray`; functions share the ``mx.nd`` kernels with
NumPy-style semantics (see :mod:`mxlite.numpy._op`); ``mx.np.random`` draws from mxlite's global
counter-based stream.
"""

from __future__ import annotations

import numpy as _onp

from mxlite.numpy import linalg, random
from mxlite.numpy._creation import *  # noqa: F403
from mxlite.numpy._op import *  # noqa: F403
from mxlite.numpy._op import abs, max, min, sum  # noqa: A004, F401
from mxlite.numpy._op_select import *  # noqa: F403
from mxlite.numpy.multiarray import ndarray

# NumPy's dtype objects and constants, as ``mx.np`` re-exports them.
float16 = _onp.float16
float32 = _onp.float32
float64 = _onp.float64
uint8 = _onp.uint8
int8 = _onp.int8
int32 = _onp.int32
int64 = _onp.int64
bool_ = _onp.bool_
dtype = _onp.dtype
pi = _onp.pi
e = _onp.e
inf = _onp.inf
nan = _onp.nan
newaxis = None
