"""``mx.optimizer``: weight-update rules, their registry, and the Updater.

One module per optimizer family (``sgd``, ``dcasgd``, ``signum``, ``adam``, ``rmsprop``,
``adagrad``, ``ftrl``, ``lamb``, ``lars``, ``lbsgd``, ``test``); the base class and registry live
in :mod:`mxlite.optimizer.optimizer`; ``contrib`` has GroupAdaGrad. Row_sparse gradients take
:mod:`mxlite.optimizer._sparse_update` (lazy updates over the touched rows). Trainers call
:class:`Updater` (``updater(indices, grads, weights)`` per context), which hands whole lists to
:meth:`Optimizer.update_multi`.
"""

from __future__ import annotations

from mxlite.optimizer import contrib
from mxlite.optimizer.adagrad import AdaDelta, AdaGrad
from mxlite.optimizer.adam import Adam, Adamax, Nadam
from mxlite.optimizer.ftrl import FTML, Ftrl
from mxlite.optimizer.lamb import LAMB
from mxlite.optimizer.lars import LARS
from mxlite.optimizer.lbsgd import LBSGD
from mxlite.optimizer.optimizer import Optimizer, create, register
from mxlite.optimizer.plain import Test
from mxlite.optimizer.rmsprop import RMSProp
from mxlite.optimizer.sgd import DCASGD, NAG, SGD, SGLD, ccSGD
from mxlite.optimizer.signum import Signum
from mxlite.optimizer.updater import Updater, get_updater

__all__ = [
    "AdaDelta",
    "AdaGrad",
    "Adam",
    "Adamax",
    "DCASGD",
    "FTML",
    "Ftrl",
    "LAMB",
    "LARS",
    "LBSGD",
    "NAG",
    "Nadam",
    "Optimizer",
    "RMSProp",
    "SGD",
    "SGLD",
    "Signum",
    "Test",
    "Updater",
    "ccSGD",
    "contrib",
    "create",
    "get_updater",
    "register",
]
