"""mxlite: MXNet 1.x's Gluon parameter layer on NumPy/Numba (CPU) and CuPy (GPU).

``import mxlite as mx`` gives the covered MXNet 1.x API under the same names. Sub-packages load on
first use (``mx.gluon``, ``mx.init``, ``mx.optimizer``, ...), so ``import mxlite`` stays cheap and
never imports CuPy.
"""

from __future__ import annotations

import importlib
from typing import Any

from mxlite import _malloc, base, context, util
from mxlite import ndarray as nd
from mxlite.base import MXNetError
from mxlite.context import Context, cpu, cpu_pinned, current_context, gpu, gpu_memory_info, num_gpus
from mxlite.util import (
    is_np_array,
    is_np_shape,
    np_array,
    np_shape,
    set_np_shape,
    use_np,
    use_np_array,
    use_np_shape,
)

_malloc.apply()  # freed array buffers stay for reuse (see mxlite/_malloc.py)

ndarray = nd

__version__ = "0.1.0"

# Public name -> module that provides it, imported on first access.
_LAZY_MODULES = {
    "autograd": "mxlite.autograd",
    "gluon": "mxlite.gluon",
    "init": "mxlite.initializer",
    "initializer": "mxlite.initializer",
    "io": "mxlite.io",
    "kv": "mxlite.kvstore",
    "kvstore": "mxlite.kvstore",
    "lr_scheduler": "mxlite.lr_scheduler",
    "metric": "mxlite.metric",
    "name": "mxlite.name",
    "np": "mxlite.numpy",
    "numpy": "mxlite.numpy",
    "npx": "mxlite.numpy_extension",
    "numpy_extension": "mxlite.numpy_extension",
    "optimizer": "mxlite.optimizer",
    "random": "mxlite.random",
    "ops": "mxlite.ops",
}


def __getattr__(name: str) -> Any:
    target = _LAZY_MODULES.get(name)
    if target is None:
        raise AttributeError(f"module 'mxlite' has no attribute {name!r}")
    module = importlib.import_module(target)
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_MODULES))


__all__ = [
    "MXNetError",
    "Context",
    "base",
    "context",
    "cpu",
    "cpu_pinned",
    "current_context",
    "gpu",
    "gpu_memory_info",
    "is_np_array",
    "is_np_shape",
    "np_array",
    "np_shape",
    "set_np_shape",
    "use_np",
    "use_np_array",
    "use_np_shape",
    "nd",
    "ndarray",
    "num_gpus",
    "util",
]
