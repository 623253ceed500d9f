#!/usr/bin/env bash
# The image's default command: the GPU self-test, then the benchmark harness on a small size.
# MXLITE_REQUIRE_GPU=1 (set in the image) makes the self-test fail when no GPU is usable.
set -euo pipefail
python -m mxlite.selftest
if [ -f /opt/mxlite/bench/__main__.py ]; then
    python -m bench --size "${MXLITE_BENCH_SIZE:-tiny}" --out "${MXLITE_RESULTS_DIR:-/results}"
else
    echo "NOTE: this image has no benchmark harness (bench/__main__.py); skipped the benchmark."
fi
