"""Checks of a Parameter's inputs that must pass before anything changes, and its messages.

``plan_load`` validates a value about to be loaded into a Parameter (shape, dtype, contexts,
storage) and returns what applying it needs, without touching the Parameter: ``load_dict`` and
``load_parameters`` plan every entry first, so a bad entry leaves every Parameter as it was.
Messages are MXNet 1.9.1's.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from mxlite.base import CheckError, dtype_np
from mxlite.context import Context, cpu, current_context
from mxlite.util import is_np_shape

__all__ = ["LoadPlan", "as_ctx_list", "normalize_shape", "plan_load"]

MSG_DEFERRED = (
    "Parameter '{name}' has not been initialized yet because initialization was deferred. "
    "Actual initialization happens during the first forward pass. Please pass one batch of data "
    "through the network before accessing Parameters. You can also avoid deferred initialization "
    "by specifying in_units, num_features, etc., for network layers."
)
MSG_NOT_INITIALIZED = (
    "Parameter '{name}' has not been initialized. Note that you should initialize parameters and "
    "create Trainer with Block.collect_params() instead of Block.params because the later does "
    "not include Parameters of nested child Blocks"
)
MSG_WRONG_CTX = (
    "Parameter '{name}' was not initialized on context {ctx}. It was only initialized on {ctxs}."
)
MSG_NO_GRAD = "Cannot get gradient array for Parameter '{name}' because grad_req='null'"
MSG_SHAPE = "Expected shape {new} is incompatible with given shape {old}."
MSG_INVALID_SHAPE = "Cannot initialize Parameter '{name}' because it has invalid shape: {shape}."
MSG_INVALID_SHAPE_DEFERRED = (
    "Cannot initialize Parameter '{name}' because it has invalid shape: {shape}. Please specify "
    "in_units, in_channels, etc for `Block`s."
)
_MSG_LOAD_SHAPE = (
    "Failed loading Parameter '{name}' from saved params: shape incompatible expected {mine} vs "
    "saved {saved}"
)
_MSG_LOAD_DTYPE = (
    "Failed loading Parameter '{name}' from saved params: dtype incompatible expected {mine} vs "
    "saved {saved}. Set cast_dtype=True to cast the dtype of saved params."
)
_MSG_LOAD_CTX = (
    "Failed to load Parameter '{name}' on {ctx} because it was previous initialized on {prev}."
)


class LoadPlan(NamedTuple):
    """What loading one value into a Parameter does.

    Attributes:
        data: the value, already cast when ``dtype_source='current'`` asked for it.
        new_shape: the shape the Parameter takes (unknown dims filled), or None to keep it.
        new_dtype: the dtype the Parameter is cast to (``dtype_source='saved'``), or None.
        ctx_list: the contexts of the replicas (for an uninitialized Parameter).
    """

    data: Any
    new_shape: tuple[int, ...] | None
    new_dtype: Any
    ctx_list: list[Context] | None


def as_ctx_list(ctx: Any) -> list[Context]:
    """``ctx`` (None, a Context or a sequence of them) as a non-empty list of Contexts.

    Raises:
        TypeError: an entry is not a Context.
        ValueError: the list is empty.
    """
    if ctx is None:
        return [current_context()]
    if isinstance(ctx, Context):
        return [ctx]
    ctx_list = list(ctx)
    for item in ctx_list:
        if not isinstance(item, Context):
            raise TypeError(
                f"ctx must be a Context or a list of Contexts (e.g. [mx.cpu(0), mx.gpu(0)]), "
                f"got an entry of type {type(item).__name__}: {item!r}"
            )
    if not ctx_list:
        raise ValueError("ctx is an empty list; give at least one Context (e.g. [mx.cpu()]).")
    return ctx_list


def normalize_shape(shape: Any) -> tuple[int, ...] | None:
    """A shape given as None, an int or a sequence of ints, as None or a tuple of ints."""
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def plan_load(param: Any, data: Any, ctx: Any, cast_dtype: bool, dtype_source: str) -> LoadPlan:
    """Check that ``data`` can be loaded into ``param`` on ``ctx``; changes nothing.

    Raises:
        CheckError: incompatible shape, dtype or contexts; a bad ``dtype_source``.
    """
    name = param.name
    if cast_dtype and dtype_source not in ("current", "saved"):
        raise CheckError(f"dtype_source must be 'current' or 'saved', but got '{dtype_source}'")
    if getattr(data, "stype", "default") != "default":
        data = data.tostype("default")  # installed in the Parameter's own stype
    saved = tuple(data.shape)
    new_shape = None if param._shape is not None else saved
    if param.shape:
        unknown = -1 if is_np_shape() else 0
        mine = tuple(param.shape)
        if len(mine) != len(saved) or not all(d in (unknown, s) for d, s in zip(mine, saved)):
            raise CheckError(_MSG_LOAD_SHAPE.format(name=name, mine=str(mine), saved=str(saved)))
        if unknown in mine:
            new_shape = tuple(s if d == unknown else d for d, s in zip(mine, saved))
        else:
            new_shape = mine  # the same tuple: nothing new per Parameter of a large file
    new_dtype = None
    if dtype_np(param.dtype) != np.dtype(data.dtype):
        if not cast_dtype:
            raise CheckError(
                _MSG_LOAD_DTYPE.format(name=name, mine=str(param.dtype), saved=str(data.dtype))
            )
        if dtype_source == "current":
            data = data.astype(param.dtype, copy=False)
        else:
            new_dtype = data.dtype
    ctx_list = None if ctx is None else as_ctx_list(ctx)
    if param._data is None:
        if param._deferred_init:
            if ctx_list is not None and set(ctx_list) != set(param._deferred_init.ctx_list):
                raise CheckError(
                    _MSG_LOAD_CTX.format(name=name, ctx=str(ctx_list), prev=str(param.list_ctx()))
                )
            ctx_list = param._deferred_init.ctx_list
        elif ctx_list is None:
            ctx_list = [cpu()]
    elif ctx_list is not None and set(ctx_list) != set(param.list_ctx()):
        raise CheckError(
            _MSG_LOAD_CTX.format(name=name, ctx=str(ctx_list), prev=str(param.list_ctx()))
        )
    return LoadPlan(data, new_shape, new_dtype, ctx_list)
