"""``mx.gluon.contrib.nn``: ``Concurrent``, ``HybridConcurrent`` and ``Identity`` (MXNet 1.9.1),
plus ``Concatenate``/``HybridConcatenate``, the names MXNet 2 gave the first two."""

from mxlite.gluon.contrib.nn.basic_layers import (
    Concatenate,
    Concurrent,
    HybridConcatenate,
    HybridConcurrent,
    Identity,
)

__all__ = ["Concurrent", "HybridConcurrent", "Identity", "Concatenate", "HybridConcatenate"]
