"""Module surface MXNet code relies on, differential against MXNet 1.9.1: top-level numpy-mode
switches, ``from mxnet.autograd import *``, names imported from internal modules, ``F.np`` /
``F.npx`` inside ``hybrid_forward``, and ``@use_np`` on a Block subclass."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

import mxlite
from tests.oracle import run_oracle_json

pytestmark = pytest.mark.oracle

_TOP_LEVEL = [
    "np_shape",
    "is_np_shape",
    "set_np_shape",
    "use_np_shape",
    "is_np_array",
    "np_array",
    "use_np_array",
    "use_np",
]
# what a script may use after ``from mxnet.autograd import *`` (MXNet's module has no __all__;
# its ctypes helpers are left out on purpose)
_AUTOGRAD_API = [
    "Function",
    "NDArray",
    "array",
    "backward",
    "get_symbol",
    "grad",
    "is_recording",
    "is_training",
    "mark_variables",
    "pause",
    "predict_mode",
    "record",
    "set_recording",
    "set_training",
    "train_mode",
]

SCENARIO = """
out = {}
out["top_level"] = {name: callable(getattr(mx, name, None)) for name in TOP_LEVEL}
with mx.np_shape(True):
    out["np_shape_scope"] = mx.is_np_shape()
out["np_shape_after"] = mx.is_np_shape()
star = {}
exec("from " + mx.__name__ + ".autograd import *", star)
out["autograd_star"] = sorted(n for n in AUTOGRAD_API if n in star)
out["py_str"] = mx.base.py_str(b"abc")
out["py_slice"] = mx.ndarray.ndarray.py_slice is slice
out["storage_ids"] = mx.ndarray.ndarray._STORAGE_TYPE_STR_TO_ID
out["nd_np"] = mx.nd.np.__name__.rsplit(".", 1)[-1]
out["nd_npx"] = mx.nd.npx.__name__.rsplit(".", 1)[-1]

class Base(mx.gluon.HybridBlock):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.w = self.params.get("w", shape=(2,), init=mx.init.One())

    def hybrid_forward(self, F, x, w):
        return x + w + F.np.ones((2,))

    @property
    def mode(self):
        return mx.is_np_array()

@mx.use_np
class Child(Base):
    pass

net = Child()
net.initialize()
y = net(mx.np.ones((2,)))
out["use_np_param_is_np"] = isinstance(net.w.data(), mx.np.ndarray)
out["use_np_output"] = [isinstance(y, mx.np.ndarray), y.asnumpy().tolist()]
out["use_np_property"] = net.mode
out["use_np_outside"] = mx.is_np_array()
print(json.dumps(out))
"""


def _header(names: dict[str, Any]) -> str:
    return "".join(f"{k} = {v!r}\n" for k, v in names.items())


def test_module_surface_matches_mxnet() -> None:
    header = _header({"TOP_LEVEL": _TOP_LEVEL, "AUTOGRAD_API": _AUTOGRAD_API})
    ref = run_oracle_json(header + SCENARIO)
    namespace: dict[str, Any] = {"mx": mxlite, "json": json}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(header + SCENARIO, namespace)
    ours = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert ours == ref
    assert ref["autograd_star"] == sorted(_AUTOGRAD_API)  # the scenario checks what it claims
    assert ref["use_np_param_is_np"] is True
