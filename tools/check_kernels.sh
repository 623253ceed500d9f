#!/usr/bin/env bash
# Compile-check every kernels/*.cu with nvcc (device code to PTX only: no GPU needed).
#
# Each file is compiled as mxlite compiles it at run time (C++17, --fmad=false) with
# -DMXLITE_KERNELS_CHECK, which turns on explicit instantiations of the template kernels that
# NVRTC otherwise instantiates through name_expressions, so every template body is compiled.
#
# Exit status: 0 when every file compiles (or, with a SKIPPED line, when nvcc is absent);
# 1 when any file fails or no kernels are found.
# Environment: NVCC (default nvcc), MXLITE_CUDA_ARCHS (default "sm_90"; e.g. "sm_80 sm_90").
set -u
cd "$(dirname "$0")/.." || exit 1

NVCC="${NVCC:-nvcc}"
ARCHS="${MXLITE_CUDA_ARCHS:-sm_90}"

if ! command -v "$NVCC" >/dev/null 2>&1; then
    echo "check_kernels: SKIPPED - '$NVCC' not found on PATH; install the CUDA toolkit to compile-check kernels/*.cu"
    exit 0
fi

shopt -s nullglob
files=(kernels/*.cu)
if [ "${#files[@]}" -eq 0 ]; then
    echo "check_kernels: FAILED - no kernels/*.cu found in $(pwd)"
    exit 1
fi

echo "check_kernels: $("$NVCC" --version | tail -n 1)"
status=0
for file in "${files[@]}"; do
    for arch in $ARCHS; do
        if output=$("$NVCC" -std=c++17 -arch="$arch" --ptx --fmad=false -DMXLITE_KERNELS_CHECK \
            -o /dev/null "$file" 2>&1); then
            echo "  ok    $file ($arch)"
            [ -n "$output" ] && echo "$output" | sed 's/^/        /'
        else
            echo "  FAIL  $file ($arch)"
            echo "$output" | sed 's/^/        /'
            status=1
        fi
    done
done

if [ "$status" -eq 0 ]; then
    echo "check_kernels: all ${#files[@]} file(s) compile"
else
    echo "check_kernels: FAILED - see the errors above"
fi
exit "$status"
