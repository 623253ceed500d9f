"""Reading and writing parameter files for Gluon (ParameterDict and Block), in either array mode.

Legacy mode writes with ``mx.nd.save`` (V2 arrays, byte-identical to MXNet). Under
``npx.set_np()`` it writes with ``mx.npx.save`` (V3 arrays), which is what MXNet's
``Block.save_parameters`` does there; MXNet's ``ParameterDict.save`` fails in that mode, mxlite's
does not. Reading accepts both V2 and V3 arrays in both modes (MXNet's ``load_parameters`` also
falls back between them) and returns arrays of the current front-end class on cpu(0).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from mxlite.base import CheckError
from mxlite.context import cpu
from mxlite.gluon import _lazy_load
from mxlite.gluon._replicas import front_class
from mxlite.gluon.utils import _brief_print_list
from mxlite.util import is_np_array

__all__ = ["save_arrays", "load_arrays", "save_block_parameters", "load_block_parameters"]

_MSG_LOAD_MISSING = (
    "Parameter '{name}' is missing in file '{filename}', which contains parameters: {names}. "
    "Set allow_missing=True to ignore missing parameters."
)
_MSG_LOAD_EXTRA = (
    "Parameter '{name}' loaded from file '{filename}' is not present in ParameterDict, which "
    "contains parameters {names}. Set ignore_extra=True to ignore. "
)


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

    A ``.params`` file is only indexed here: its entries are
    :class:`~mxlite.gluon._lazy_load.FileArray` objects (shape and dtype, bytes still in the
    file) that the load plans read straight into the Parameters (see
    :mod:`mxlite.gluon._lazy_load`). Other formats are read into arrays.

    Returns:
        A dict name -> array (or a list, for files saved from a list) on cpu(0).
    """
    from mxlite import backend
    from mxlite.ndarray import serialization

    indexed = _lazy_load.index_params(filename) if isinstance(filename, str) else None
    if indexed is not None:
        return indexed

    raw = serialization.load_arrays(filename, np_shape=None)
    cls = front_class()
    host = cpu()

    def wrap(arr: Any) -> Any:
        return cls(backend.to_ctx(arr, host), host)

    if isinstance(raw, dict):
        return {k: wrap(v) for k, v in raw.items()}
    return [wrap(v) for v in raw]


def save_block_parameters(block: Any, filename: str, deduplicate: bool) -> None:
    """``Block.save_parameters``: the averaged replicas under their structural names."""
    params = block._collect_params_with_prefix()
    if deduplicate:
        reverse = {param: name for name, param in params.items()}
        params = {name: param for param, name in reverse.items()}
    from mxlite.gluon import _replica_reduce

    averages = _replica_reduce.host_averages(list(params.values()))
    save_arrays(filename, dict(zip(params.keys(), averages)))


def load_block_parameters(
    block: Any,
    filename: str,
    ctx: Any,
    allow_missing: bool,
    ignore_extra: bool,
    cast_dtype: bool,
    dtype_source: str,
) -> None:
    """``Block.load_parameters``: every entry is checked before any Parameter changes."""
    loaded = load_arrays(filename)
    try:
        _load_block_loaded(
            block, loaded, filename, ctx, allow_missing, ignore_extra, cast_dtype, dtype_source
        )
    finally:
        _lazy_load.close(loaded)


def _load_block_loaded(
    block: Any,
    loaded: Any,
    filename: str,
    ctx: Any,
    allow_missing: bool,
    ignore_extra: bool,
    cast_dtype: bool,
    dtype_source: str,
) -> None:
    params = block._collect_params_with_prefix()
    if not loaded and not params:
        return
    if isinstance(loaded, list) and not loaded:
        loaded = {}  # an empty dict is saved as an empty list
    if not isinstance(loaded, dict):
        raise ValueError(
            f"'{filename}' holds a list of unnamed arrays; load_parameters needs a file "
            "saved from a dict of named arrays (e.g. by save_parameters)."
        )
    if not any("." in key for key in loaded):
        block.collect_params()._load_loaded(
            loaded,
            filename,
            ctx,
            allow_missing,
            ignore_extra,
            block.prefix,
            cast_dtype,
            dtype_source,
        )
        return
    if not allow_missing:
        names_of: defaultdict[int, list[str]] = defaultdict(list)
        for key, param in params.items():
            names_of[id(param)].append(key)
        for key, param in params.items():
            if not any(alias in loaded for alias in names_of[id(param)]):
                raise CheckError(
                    _MSG_LOAD_MISSING.format(
                        name=key, filename=filename, names=_brief_print_list(loaded.keys())
                    )
                )
    for key in loaded:
        if not ignore_extra and key not in params:
            raise ValueError(
                _MSG_LOAD_EXTRA.format(
                    name=key, filename=filename, names=_brief_print_list(params.keys())
                )
            )
    plans = [
        (params[key], params[key]._plan_load(value, ctx, cast_dtype, dtype_source))
        for key, value in loaded.items()
        if key in params
    ]
    _lazy_load.apply_loads(plans)
