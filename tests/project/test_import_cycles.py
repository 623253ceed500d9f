"""No two mxlite modules import each other at module level (tools/import_cycles.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_TOOL = Path(__file__).resolve().parents[2] / "tools" / "import_cycles.py"


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("import_cycles", _TOOL)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_no_import_cycle_at_module_level() -> None:
    tool = _tool()
    assert tool.cycles(tool.edges(tool.module_files())) == []


def test_the_checker_finds_a_cycle() -> None:
    tool = _tool()
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert tool.cycles(graph) == [["a", "b", "c"]]
