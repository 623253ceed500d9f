#!/usr/bin/env bash
# Create the real-MXNet-1.9.1 oracle venv used by the differential tests, unless it already works.
set -euo pipefail
venv="${1:-${MXLITE_ORACLE_VENV:-/tmp/mxref}}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import mxnet" >/dev/null 2>&1; then
    exit 0
fi
echo "creating the MXNet 1.9.1 oracle environment in $venv (MXLITE_ORACLE_PYTHON picks the Python; numpy<1.24 needs <= 3.11)"
"${MXLITE_ORACLE_PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" install -q 'numpy<1.24' mxnet==1.9.1
"$venv/bin/python" -c "import mxnet; print('oracle: mxnet', mxnet.__version__)"
