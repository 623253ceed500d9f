"""``mx.gluon.contrib.nn``: ``Concurrent``, ``HybridConcurrent``, ``Identity``, ``SyncBatchNorm``
and ``PixelShuffle1D/2D/3D`` (MXNet 1.9.1), plus ``Concatenate``/``HybridConcatenate``, the names
MXNet 2 gave the first two."""

from mxlite.gluon.contrib.nn.basic_layers import *  # noqa: F403
from mxlite.gluon.contrib.nn.basic_layers import __all__

__all__ = list(__all__)
