"""``gluon.contrib.nn``: Concurrent, HybridConcurrent, Identity, SyncBatchNorm, PixelShuffle."""

from mxlite.gluon.contrib.nn.basic_layers import *  # noqa: F403
from mxlite.gluon.contrib.nn.basic_layers import __all__

__all__ = list(__all__)
