"""Parameter owns its state: no module outside gluon/parameter.py assigns a Parameter's private
fields, and every buffer installation goes through the owning methods that bump the epoch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mxlite as mx
from mxlite import _epoch
from mxlite.gluon.parameter import DeferredInit

PACKAGE = Path(mx.__file__).resolve().parent
FIELDS = {
    "_data", "_grad", "_ctx_list", "_ctx_map", "_deferred_init", "_shape", "_dtype",
    "_grad_req", "_var", "_trainer", "_stype", "_grad_stype",
}  # fmt: skip


def _outside_assignments() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "gluon" / "parameter.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for t in targets:
                if (
                    isinstance(t, ast.Attribute)
                    and t.attr in FIELDS
                    and not (isinstance(t.value, ast.Name) and t.value.id == "self")
                    and "param" in ast.unparse(t.value).lower()
                ):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(t)}")
    return found


def test_no_module_outside_parameter_py_assigns_its_private_fields() -> None:
    assert _outside_assignments() == []


def test_deferred_state_is_a_named_record() -> None:
    p = mx.gluon.Parameter("w", shape=(0, 3), allow_deferred_init=True)
    p.initialize(init=mx.init.One(), ctx=[mx.cpu(0), mx.cpu(1)])
    pending = p._deferred_init
    assert isinstance(pending, DeferredInit)
    assert pending.ctx_list == [mx.cpu(0), mx.cpu(1)]
    with pytest.raises(AttributeError):
        pending.ctx_list = []  # type: ignore[misc]  # frozen


@pytest.mark.parametrize(
    "change",
    ["initialize", "reset_ctx", "grad_req", "cast", "force_reinit"],
)
def test_every_buffer_change_bumps_the_buffers_epoch(change: str) -> None:
    p = mx.gluon.Parameter("w", shape=(2, 3))
    if change != "initialize":
        p.initialize(ctx=mx.cpu(0))
    before = _epoch.BUFFERS.value
    if change == "initialize":
        p.initialize(ctx=mx.cpu(0))
    elif change == "reset_ctx":
        p.reset_ctx([mx.cpu(0), mx.cpu(1)])
    elif change == "grad_req":
        p.grad_req = "null"
    elif change == "cast":
        p.cast("float64")
    else:
        p.initialize(ctx=mx.cpu(0), force_reinit=True)
    assert _epoch.BUFFERS.value > before
