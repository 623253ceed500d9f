"""``mx.np``: NumPy-semantics front end (placeholder; being built)."""

from mxlite.numpy.multiarray import ndarray  # noqa: F401
