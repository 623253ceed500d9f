"""``mx.gluon.contrib``: the contributed layers MXNet 1.9.1 ships under ``gluon.contrib.nn``."""

from mxlite.gluon.contrib import nn

__all__ = ["nn"]
