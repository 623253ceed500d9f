"""``mx.gluon``: Parameters, Blocks, layers and (loaded on first use) the Trainer."""

from __future__ import annotations

import importlib
from typing import Any

from mxlite.gluon import block, nn, parameter, utils
from mxlite.gluon.block import Block, HybridBlock
from mxlite.gluon.constant import Constant
from mxlite.gluon.parameter import DeferredInitializationError, Parameter, tensor_types
from mxlite.gluon.parameter_dict import ParameterDict

# Public name -> (module, attribute or None for the module itself), imported on first access.
_LAZY = {
    "Trainer": ("mxlite.gluon.trainer", "Trainer"),
    "trainer": ("mxlite.gluon.trainer", None),
    "loss": ("mxlite.gluon.loss", None),
    "data": ("mxlite.gluon.data", None),
    "rnn": ("mxlite.gluon.rnn", None),
    "contrib": ("mxlite.gluon.contrib", None),
    "model_zoo": ("mxlite.gluon.model_zoo", None),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'mxlite.gluon' has no attribute {name!r}")
    module_name, attr = target
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        raise AttributeError(f"mxlite.gluon.{name} is not available in this version") from err
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Block",
    "Constant",
    "DeferredInitializationError",
    "HybridBlock",
    "Parameter",
    "ParameterDict",
    "block",
    "nn",
    "parameter",
    "tensor_types",
    "utils",
]
