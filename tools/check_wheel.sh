#!/usr/bin/env bash
# Build the mxlite wheel the way docker/Dockerfile's builder stage does (`pip wheel --no-deps .` on a
# copy of the sources), install it into a clean temporary virtual environment and check, from a
# directory outside the source tree, that
#   - it installs with the dependencies its metadata names (pip check is clean),
#   - `import mxlite` works, comes from the installed wheel, and does not import CuPy,
#   - the version in the metadata equals mxlite.__version__,
#   - a tiny NDArray op and the CPU self-test (python -m mxlite.selftest) run,
#   - every kernels/*.cu / *.cuh of the source tree ships as package data of mxlite.kernels (no top-level `kernels` package),
#   - every console script the wheel declares points at a module the wheel can import.
# Usage: tools/check_wheel.sh            (PYTHON=python3.12 tools/check_wheel.sh for another Python)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mxlite-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# 1. The sources a build would see: tracked and untracked-but-not-ignored files (no .venv, no build/
#    leftovers that could leak stale modules into the wheel).
mkdir -p "$work/src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (
        cd "$root"
        git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done |
            xargs -0 -r cp --parents -t "$work/src"
    )
else
    tar -C "$root" --exclude=.venv --exclude=.git --exclude=build --exclude=dist -cf - . | tar -C "$work/src" -xf -
fi
test -f "$work/src/pyproject.toml" || { echo "check_wheel: pyproject.toml was not copied" >&2; exit 1; }

# 2. Build, as the Dockerfile's builder stage does.
echo "check_wheel: building the wheel with $("$python" --version)"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$work/dist" "$work/src"
shopt -s nullglob
wheels=("$work"/dist/mxlite-*.whl)
if [ "${#wheels[@]}" -ne 1 ]; then
    echo "check_wheel: expected exactly one mxlite wheel, got: ${wheels[*]:-none}" >&2
    exit 1
fi
whl="${wheels[0]}"
echo "check_wheel: built $(basename "$whl")"

# 3. A clean virtual environment, the wheel and the dependencies its metadata names.
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$whl"
"$work/venv/bin/python" -m pip check --disable-pip-version-check

# 4. Checks, run from a directory that is not the source tree.
mkdir -p "$work/run"
cd "$work/run"
KERNEL_SRC="$work/src/kernels" VENV="$work/venv" WHEEL="$whl" "$work/venv/bin/python" - <<'PY'
import importlib
import importlib.metadata as md
import importlib.resources
import os
import pathlib
import sys
import zipfile

problems = []
venv = pathlib.Path(os.environ["VENV"]).resolve()

import mxlite as mx

where = pathlib.Path(mx.__file__).resolve()
if venv not in where.parents:
    problems.append(f"mxlite was imported from {where}, not from the wheel installed in {venv}")
if "cupy" in sys.modules:
    problems.append("`import mxlite` imported cupy; it must stay lazy")
if md.version("mxlite") != mx.__version__:
    problems.append(f"metadata version {md.version('mxlite')} != mxlite.__version__ {mx.__version__}")

x = mx.nd.array([[1.0, 2.0], [3.0, 4.0]])
total = float((x * 2).sum().asscalar())
if total != 20.0:
    problems.append(f"(x * 2).sum() gave {total}, expected 20.0")

# Kernels: every .cu/.cuh of the source tree must be in the wheel and findable as package data.
src = pathlib.Path(os.environ["KERNEL_SRC"])
wanted = sorted(p.name for p in src.glob("*.cu*") if p.suffix in (".cu", ".cuh")) if src.is_dir() else []
shipped: list[str] = []
try:
    root = importlib.resources.files("mxlite.kernels")
except ModuleNotFoundError:
    if wanted:
        problems.append("mxlite.kernels (the CUDA sources) is not importable from the wheel")
else:
    shipped = sorted(e.name for e in root.iterdir() if e.name.endswith((".cu", ".cuh")))
    print(f"check_wheel: mxlite.kernels ships {len(shipped)} source(s): {', '.join(shipped) or '-'}")
missing = sorted(set(wanted) - set(shipped))
if missing:
    problems.append(f"kernel sources missing from the wheel: {missing}")
with zipfile.ZipFile(os.environ["WHEEL"]) as zf:
    names = zf.namelist()
for bad in ("tests/", "bench/", "examples/", "docker/", "kernels/"):
    if any(n.startswith(bad) for n in names):
        problems.append(f"the wheel ships the top-level folder {bad!r}; it should ship only the package")

# Console scripts must point at modules the wheel can import.
for ep in md.distribution("mxlite").entry_points:
    if ep.group != "console_scripts":
        continue
    try:
        ep.load()
    except Exception as err:
        problems.append(f"console script {ep.name} -> {ep.value} does not load: {type(err).__name__}: {err}")

if problems:
    print("check_wheel FAILED:", *problems, sep="\n  - ")
    sys.exit(1)
print(f"check_wheel: import ok from {where.parent}, version {mx.__version__}, cupy not imported")
PY
"$work/venv/bin/python" -m mxlite.selftest
echo "check_wheel: OK"
