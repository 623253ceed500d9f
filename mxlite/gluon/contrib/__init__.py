"""``gluon.contrib``: MXNet 1.9.1's contributed layers (``gluon.contrib.nn``)."""

from mxlite.gluon.contrib import nn

__all__ = ["nn"]
