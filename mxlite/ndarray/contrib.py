"""``mx.nd.contrib``: the contrib operators mxlite has (MXNet 1.9.1 keeps them out of ``mx.nd``).

* :func:`multi_lamb_update`, :func:`multi_mp_lamb_update`: LAMB on up to 45 tensors at once
  (what ``mx.optimizer.LAMB`` runs when it aggregates); see :mod:`mxlite.ndarray.op_lamb`.
"""

from __future__ import annotations

from mxlite.ndarray.op_lamb import multi_lamb_update, multi_mp_lamb_update

__all__ = ["multi_lamb_update", "multi_mp_lamb_update"]
