"""``python -m mxlite.selftest``: report the devices mxlite sees and run a tiny NDArray op on each.

The Docker image runs this first (see ``docker/Dockerfile``). It prints the versions, the contexts and
one line per device, and exits non-zero when an op gives a wrong answer or fails, or when a GPU is
required (``--require-gpu`` or ``MXLITE_REQUIRE_GPU=1``) but none is usable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

import mxlite as mx
from mxlite import backend

__all__ = ["check_context", "main"]


def check_context(ctx: mx.Context) -> str:
    """Run a small op chain on ``ctx`` and compare it with NumPy.

    Returns:
        An empty string on success, else what went wrong.
    """
    host = np.arange(12, dtype=np.float32).reshape(3, 4)
    try:
        x = mx.nd.array(host, ctx=ctx)
        y = (x * 2 + 1).sum(axis=1)
        back = y.as_in_context(mx.cpu()).asnumpy()
        if y.context != ctx:
            return f"result landed on {y.context}, expected {ctx}"
    except Exception as err:  # report any failure of the device path, then keep going
        return f"{type(err).__name__}: {err}"
    want = (host * 2 + 1).sum(axis=1)
    if back.dtype != np.float32 or not np.allclose(back, want):
        return f"wrong result {back!r} ({back.dtype}), expected {want!r} (float32)"
    return ""


def _cupy_version() -> str:
    cp = backend.cupy_or_none()
    if cp is None:
        return "not usable"
    return str(cp.__version__)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m mxlite.selftest", description=__doc__)
    parser.add_argument(
        "--require-gpu",
        action="store_true",
        default=os.environ.get("MXLITE_REQUIRE_GPU", "") == "1",
        help="fail when no GPU is usable (default: on when MXLITE_REQUIRE_GPU=1)",
    )
    args = parser.parse_args(argv)

    print(f"mxlite {mx.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    n_gpus = mx.num_gpus()
    print(f"cupy: {_cupy_version()}; usable GPUs: {n_gpus}")
    if n_gpus == 0:
        print(f"no GPU: {backend.gpu_remedy()}")
    contexts = [mx.cpu(0), *(mx.gpu(i) for i in range(n_gpus))]
    failures = 0
    for ctx in contexts:
        problem = check_context(ctx)
        extra = ""
        if ctx.device_type == "gpu" and not problem:
            free, total = mx.gpu_memory_info(ctx.device_id)
            extra = f" (memory free {free / 2**30:.1f} GiB of {total / 2**30:.1f} GiB)"
        print(f"  {ctx}: {'FAIL ' + problem if problem else 'ok'}{extra}")
        failures += bool(problem)
    if args.require_gpu and n_gpus == 0:
        print(
            "selftest FAILED: a GPU is required (--require-gpu / MXLITE_REQUIRE_GPU=1) but none is usable"
        )
        return 2
    if failures:
        print(f"selftest FAILED on {failures} of {len(contexts)} device(s)")
        return 1
    print(f"selftest passed on {len(contexts)} device(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
