"""Write tests/_support/data/cupy_api.json: CuPy's public names and parameter lists, for tests/_support/fake_cupy.py.

Run with an installed CuPy (no GPU needed: only names and signatures are read):
    python tools/cupy_api_snapshot.py tests/_support/data/cupy_api.json
The file records cupy.*, cupy.linalg.*, cupy.testing.* (kind, parameters) and cupy.ndarray's
attributes and method parameters. Methods compiled by Cython expose their signature only in the
first docstring line, which is parsed here.
"""

import inspect
import json
import re
import sys
import types

import cupy


def spec_from_sig(sig):
    out = []
    for p in sig.parameters.values():
        out.append([p.name, int(p.kind), p.default is not inspect.Parameter.empty])
    return out


_HEAD = re.compile(r"^[\w.]*?(\w+)\((.*)\)(\s*->.*)?$")


def spec_of(f, method=False):
    try:
        return spec_from_sig(inspect.signature(f))
    except (TypeError, ValueError):
        pass
    first = (getattr(f, "__doc__", None) or "").strip().split("\n")[0]
    m = _HEAD.match(first)
    if not m:
        return None
    args = m.group(2)
    # bare "tuple max_version=None" style Cython annotations: drop the C type
    args = re.sub(r"\b(?:tuple|int|bint|str|object|list|dict|Py_ssize_t)\s+(\w+)", r"\1", args)
    ns = {}
    try:
        exec(f"def _f({args}): pass", {"None": None}, ns)
    except Exception:
        return None
    spec = spec_from_sig(inspect.signature(ns["_f"]))
    if method and spec and spec[0][0] == "self":
        spec = spec[1:]
    return spec


def kind(v):
    if isinstance(v, cupy.ufunc):
        return "ufunc"
    if isinstance(v, types.ModuleType):
        return "module"
    if isinstance(v, type):
        return "type"
    if callable(v):
        return "function"
    return "constant"


out = {"cupy_version": cupy.__version__, "numpy_version": __import__("numpy").__version__}
for key, mod in (("module", cupy), ("linalg", cupy.linalg), ("testing", cupy.testing)):
    table = {}
    for n in dir(mod):
        if n.startswith("_"):
            continue
        v = getattr(mod, n)
        k = kind(v)
        e = {"kind": k}
        if k == "function":
            e["params"] = spec_of(v)
        if k == "ufunc":
            e["nin"], e["nout"] = v.nin, v.nout
        table[n] = e
    out[key] = table
methods = {}
for n in dir(cupy.ndarray):
    v = getattr(cupy.ndarray, n)
    e = {"kind": "method" if callable(v) and not isinstance(v, type) else "attribute"}
    if e["kind"] == "method" and not n.startswith("__"):
        e["params"] = spec_of(v, method=True)
    methods[n] = e
out["ndarray"] = methods
json.dump(out, open(sys.argv[1], "w"), indent=0, sort_keys=True)
missing = [
    n
    for n, e in methods.items()
    if e.get("kind") == "method" and not n.startswith("__") and e.get("params") is None
]
print("methods without params:", missing)
print(
    "functions without params:",
    [n for n, e in out["module"].items() if e["kind"] == "function" and e.get("params") is None][
        :40
    ],
)
