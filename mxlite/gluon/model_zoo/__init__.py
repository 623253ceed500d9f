"""``gluon.model_zoo``: MXNet 1.9.1's vision networks (``vision``) and their pretrained files
(``model_store``)."""

from mxlite.gluon.model_zoo import model_store, vision

__all__ = ["model_store", "vision"]
