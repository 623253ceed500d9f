"""Reading and writing parameter files for Gluon, in either array mode.

Legacy mode writes with ``mx.nd.save`` (V2 arrays, byte-identical to MXNet). Under
``npx.set_np()`` it writes with ``mx.npx.save`` (V3 arrays), which is what MXNet's
``Block.save_parameters`` does there; MXNet's ``ParameterDict.save`` fails in that mode, mxlite's
does not. Reading accepts both V2 and V3 arrays in both modes (MXNet's ``load_parameters`` also
falls back between them) and returns arrays of the current front-end class on cpu(0).
"""

from __future__ import annotations

from typing import Any

from mxlite.context import cpu
from mxlite.gluon._param_init import front_class
from mxlite.util import is_np_array

__all__ = ["save_arrays", "load_arrays"]


def save_arrays(filename: str, arrays: dict[str, Any]) -> None:
    """Save a dict name -> array to ``filename`` (atomically, MXNet's format by default)."""
    from mxlite.ndarray import serialization

    if is_np_array():
        cls = front_class()
        serialization.npx_save(filename, {k: cls(v._data, v.context) for k, v in arrays.items()})
    else:
        serialization.save(filename, arrays)


def load_arrays(filename: str) -> Any:
    """Load a file written by :func:`save_arrays`, ``mx.nd.save``, ``mx.npx.save`` or MXNet.

    Returns:
        A dict name -> array (or a list, for files saved from a list) on cpu(0).
    """
    from mxlite import backend
    from mxlite.ndarray import serialization

    raw = serialization.load_arrays(filename, np_shape=None)
    cls = front_class()
    host = cpu()

    def wrap(arr: Any) -> Any:
        return cls(backend.to_ctx(arr, host), host)

    if isinstance(raw, dict):
        return {k: wrap(v) for k, v in raw.items()}
    return [wrap(v) for v in raw]
