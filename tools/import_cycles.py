"""List the import cycles between mxlite's modules at module level.

A module-level ``import``/``from ... import`` (outside ``if TYPE_CHECKING:``) of another mxlite
module is an edge; a cycle is a strongly connected component of two or more modules. Imports
inside functions (deferred imports) are not edges: they run after both modules exist.

    python tools/import_cycles.py          # prints each cycle; exit status 1 when there is one
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the ``mxlite`` package by dotted name."""
    mods: dict[str, Path] = {}
    for path in sorted((root / "mxlite").rglob("*.py")):
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in tree.body:
        body: list[ast.stmt] = [node]
        if isinstance(node, ast.If):
            test = node.test
            if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == (
                "TYPE_CHECKING"
            ):
                continue
            body = node.body + node.orelse
        elif isinstance(node, ast.Try):
            body = node.body
        found += [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return found


def edges(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the mxlite modules it imports at module level (with their parent packages,
    which Python imports first, except the packages that contain the importer)."""
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names}
                continue
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1] + ([node.module] if node.module else [])
                target = ".".join(base)
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in mods else target)
        deps = {d for d in out if d in mods and d != name}
        for dep in list(deps):
            parts = dep.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if parent in mods and not name.startswith(parent + "."):
                    deps.add(parent)
        graph[name] = deps - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of two or more modules (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main() -> int:
    found = cycles(edges(module_files()))
    for component in found:
        print(" <-> ".join(component))
    print(f"{len(found)} import cycle(s) at module level")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
