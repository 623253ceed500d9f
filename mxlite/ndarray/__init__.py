"""``mx.nd``: the legacy NDArray front end."""

from __future__ import annotations

from typing import Any

from mxlite.ndarray import _sparse_dispatch, contrib, op, random
from mxlite.ndarray._interop import (
    from_dlpack,
    from_numpy,
    to_dlpack_for_read,
    to_dlpack_for_write,
)
from mxlite.ndarray.creation import arange, array, empty, full, ones, reset_arrays, waitall, zeros
from mxlite.ndarray.ndarray import NDArray
from mxlite.ndarray.op import *  # noqa: F403 - mx.nd exposes every op at top level
from mxlite.ndarray.op import abs, max, min, round, sum  # noqa: A004, F401 - shadow builtins on purpose
from mxlite.ndarray.random_aliases import *  # noqa: F403 - mx.nd.uniform, random_normal, ...

# ops that MXNet runs on sparse storage dispatch to mx.nd.sparse for sparse inputs
for _name in _sparse_dispatch.NAMES:
    if _name in globals():
        globals()[_name] = _sparse_dispatch.wrap(_name, globals()[_name])
del _name


def save(fname: str, data: Any, format: str | None = None) -> None:  # noqa: A002 - public name
    """Save an NDArray, a list of them or a str->NDArray dict (see mxlite.ndarray.serialization)."""
    from mxlite.ndarray import serialization

    serialization.save(fname, data, format=format)


def load(fname: str, ctx: Any = None, format: str | None = None) -> Any:  # noqa: A002
    """Load what :func:`save` wrote (or real MXNet wrote): a list or a dict of NDArrays."""
    from mxlite.ndarray import serialization

    return serialization.load(fname, ctx=ctx, format=format)


def load_frombuffer(buf: bytes) -> Any:
    """Load NDArrays from the bytes of a ``.params`` file."""
    from mxlite.ndarray import serialization

    return serialization.load_frombuffer(buf)


# ``F.np`` / ``F.npx`` inside ``hybrid_forward`` (F is ``mx.nd``): the numpy-semantics fronts,
# loaded on first use (they import this package).
_LAZY = {
    "np": "mxlite.numpy",
    "numpy": "mxlite.numpy",
    "npx": "mxlite.numpy_extension",
    "sparse": "mxlite.ndarray.sparse",
}


def cast_storage(data: Any, stype: str) -> Any:
    """``data`` in storage ``stype`` (see :func:`mxlite.ndarray.sparse.cast_storage`)."""
    from mxlite.ndarray import _sparse_build

    return _sparse_build.cast_storage(data, stype)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'mxlite.ndarray' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(target)
    globals()[name] = module
    return module
