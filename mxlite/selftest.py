"""``python -m mxlite.selftest``: report the devices mxlite sees and run a tiny NDArray op on each.

The Docker image runs this first (see ``docker/Dockerfile``). It prints the versions, the contexts and
one line per device, and exits non-zero when an op gives a wrong answer or fails, or when a GPU is
required (``--require-gpu`` or ``MXLITE_REQUIRE_GPU=1``) but none is usable.

On every GPU it also compiles and launches mxlite's own CUDA kernels once each (a random fill of
two tensors in one launch and a normal fill, a multi-tensor zero, a replica average and a fused
SGD step with momentum) and compares each result with the CPU path on the same inputs: bitwise,
except normal draws (within 2 float32 ulps, see :mod:`mxlite.ops`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

import mxlite as mx
from mxlite import backend

__all__ = ["check_context", "check_kernels", "main"]

_KEY = (0x1234, 0xABCD)


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


def _ulps(a: np.ndarray, b: np.ndarray) -> int:
    """The largest distance in float32 ulps between two float32 arrays (NaN counts as far)."""
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return int(np.abs(ia - ib).max(initial=0))


def _kernel_cases(xp: Any) -> dict[str, Any]:
    """Each kernel family run once through :mod:`mxlite.ops` with arrays of ``xp``; the results
    as NumPy arrays, by name."""
    from mxlite import ops
    from mxlite.ops import multi_optimizer

    get = backend.to_numpy
    rng = np.random.default_rng(7)
    out: dict[str, Any] = {}
    a, b = xp.zeros(1000, dtype=np.float32), xp.zeros(257, dtype=np.float16)
    ops.multi_fill_uniform([a, b], [-1.0, 0.0], [1.0, 2.0], [_KEY, _KEY], [3, 1001])
    out["fill uniform"] = np.concatenate([get(a), get(b).astype(np.float32)])
    n = xp.zeros(513, dtype=np.float32)
    ops.fill_normal(n, 0.5, 2.0, _KEY, offset=17)
    out["fill normal"] = get(n)
    bufs = [xp.ones(s, dtype=np.float32) for s in (5, 4096, 1, 300, 70000, 9)]
    ops.multi_zero(bufs)
    out["zero"] = np.concatenate([get(x) for x in bufs])
    host = [rng.standard_normal(s).astype(np.float32) for s in (1000, 33)]
    reps = [[xp.asarray(h), xp.asarray(h * 3 - 1)] for h in host]
    means = [xp.empty(h.shape, dtype=np.float32) for h in host]
    ops.multi_average(reps, means)
    out["average"] = np.concatenate([get(m) for m in means])
    ws = [xp.asarray(h) for h in host]
    gs = [xp.asarray(h[::-1].copy()) for h in host]
    ms = [xp.asarray(h * 0.5) for h in host]
    multi_optimizer.multi_sgd_update(ws, gs, ms, [0.1, 0.05], [1e-4, 0.0], 0.9, 1.0, None)
    out["fused sgd step"] = np.concatenate([get(x) for x in ws + ms])
    return out


def check_kernels(ctx: mx.Context) -> str:
    """Launch mxlite's CUDA kernels once each on GPU ``ctx`` and compare with the CPU path.

    Returns:
        An empty string on success, else what went wrong (which kernels, and how).
    """
    try:
        want = _kernel_cases(np)
        with backend.device_guard(ctx):
            got = _kernel_cases(backend.get_xp(ctx))
    except Exception as err:  # a compile error, a launch failure, a wrong argument
        return f"{type(err).__name__}: {err}"
    wrong = []
    for name, ref in want.items():
        res = got[name]
        if res.shape != ref.shape:
            wrong.append(f"{name}: shape {res.shape}, CPU {ref.shape}")
        elif name == "fill normal":
            far = _ulps(res, ref)
            if far > 2:
                wrong.append(f"{name}: {far} float32 ulps from the CPU (at most 2 allowed)")
        elif not np.array_equal(res.view(np.uint32), ref.view(np.uint32)):
            bad = int(np.count_nonzero(res.view(np.uint32) != ref.view(np.uint32)))
            wrong.append(f"{name}: {bad} of {ref.size} values differ from the CPU")
    return "; ".join(wrong)


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
        if ctx.device_type == "gpu":
            kernels = check_kernels(ctx)
            print(
                f"  {ctx} kernels (fill, zero, average, fused SGD vs the CPU): "
                f"{'FAIL ' + kernels if kernels else 'ok'}"
            )
            failures += bool(kernels) and not problem
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
