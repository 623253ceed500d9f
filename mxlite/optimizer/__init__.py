"""``mx.optimizer``: weight-update rules, their registry, and the Updater.

One module per optimizer family (``sgd``, ``dcasgd``, ``signum``, ``adam``, ``rmsprop``,
``adagrad``, ``ftrl``, ``lamb``, ``lars``, ``lbsgd``, ``test``); the base class and registry live
in :mod:`mxlite.optimizer.optimizer`. Not ported: MXNet's contrib GroupAdaGrad. Trainers call
:class:`Updater` (``updater(indices, grads, weights)`` per context), which hands whole lists to
:meth:`Optimizer.update_multi`.
"""

from __future__ import annotations

from mxlite.optimizer.adagrad import AdaDelta, AdaGrad
from mxlite.optimizer.adam import Adam, Adamax, Nadam
from mxlite.optimizer.ftrl import FTML, Ftrl
from mxlite.optimizer.lamb import LAMB
from mxlite.optimizer.lars import LARS
from mxlite.optimizer.lbsgd import LBSGD
from mxlite.optimizer.optimizer import Optimizer, create, register
from mxlite.optimizer.rmsprop import RMSProp
from mxlite.optimizer.sgd import DCASGD, NAG, SGD, SGLD, ccSGD
from mxlite.optimizer.signum import Signum
from mxlite.optimizer.test import Test
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
    "create",
    "get_updater",
    "register",
]
