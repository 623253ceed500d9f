"""Giving a Parameter new values after its creation: ``set_data``, ``cast`` and loading.

:class:`~mxlite.gluon.parameter.Parameter` delegates these here. Loading is two-phase: the checks
(:func:`mxlite.gluon._param_checks.plan_load`) run for every entry of a file before
:func:`apply_load` changes any Parameter. Functions take Parameters duck-typed (this module sits
below :mod:`mxlite.gluon.parameter`, which imports it). Semantics follow MXNet 1.9.1.
"""

from __future__ import annotations

from typing import Any

from mxlite.base import CheckError, dtype_np
from mxlite.context import cpu
from mxlite.gluon import _param_checks, _param_init, _replicas
from mxlite.ndarray import creation
from mxlite.ndarray.ndarray import NDArray

__all__ = ["set_data", "cast", "apply_load"]


def set_data(param: Any, data: Any) -> None:
    """``param.set_data(data)``: the value on every context (kept until initialization when
    that is deferred).

    Raises:
        CheckError: ``data``'s shape is incompatible, or the parameter was never initialized.
    """
    if not isinstance(data, NDArray):
        data = creation.array(data, ctx=cpu(), dtype=param.dtype)
    new_shape = tuple(data.shape)
    param._check_shape_compatible(new_shape)
    if param._data is None:
        if not param._deferred_init:
            raise CheckError(f"Parameter '{param.name}' has not been initialized")
        param.shape = new_shape
        param._set_deferred(data=data)
        return
    param.shape = new_shape
    trainer = param._trainer
    if trainer is not None and getattr(trainer, "_kv_initialized", False):
        if getattr(trainer, "_update_on_kvstore", False) and param not in trainer._params_to_init:
            trainer._reset_kvstore()
    for arr in param._check_and_get(param._data, list):
        data.copyto(arr)


def cast(param: Any, dtype: Any) -> None:
    """``param.cast(dtype)``: data and gradients cast on their own devices; the dtype is kept
    for a later initialization.

    Raises:
        TypeError: an unknown dtype.
    """
    dtype_np(dtype)
    param._set_dtype(dtype)
    if param._data is None:
        return
    with _param_init.pause():
        param._replace_data([_replicas.astype(arr, dtype) for arr in param._data])
        if param._grad is None:
            return
        param._set_grads([_replicas.astype(g, dtype) for g in param._grad])
        _param_init.attach_grads(param)


def apply_load(param: Any, plan: _param_checks.LoadPlan) -> None:
    """Load a value checked by :func:`_param_checks.plan_load` into ``param``: an uninitialized
    Parameter gets copies of it on the planned contexts, an initialized one ``set_data``."""
    data, new_shape, new_dtype, ctx_list = plan
    if new_shape is not None:
        param.shape = new_shape  # checked compatible by plan_load
    if new_dtype is not None:
        param.cast(new_dtype)
    if param._data is None:
        ctx_list = ctx_list or [cpu()]
        with _param_init.pause():
            arrays = [_replicas.to_front(data.copyto(ctx)) for ctx in ctx_list]
            _param_init.set_replicas_many([param], [arrays], [ctx_list])
    else:
        param.set_data(data)
    param._end_deferred()
