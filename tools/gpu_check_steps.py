"""The in-process steps of ``make gpu-check`` (tools/gpu_check.py runs each in its own process).

Each step returns ``{"status": "ok" | "FAIL" | "skipped", "summary": str, "details": {...}}``:

* ``env``: driver, CUDA runtime, NVRTC, headers (mxlite's GPU probe), cuBLAS, the devices and
  their theoretical memory bandwidth, library versions;
* ``bandwidth``: a 1 GiB device-to-device copy as a percentage of the card's peak; zero and
  average of ResNet-50's parameter set with SM-sized and fixed 256 KiB chunks; uniform and normal
  (FP64 Box-Muller) float32 fills;
* ``kernels``: compile and launch every kernel entry point of kernels/*.cu through mxlite.ops and
  compare with the CPU path (bitwise; normal draws within 2 ulps);
* ``philox``: Random123's known answers for Philox4x32-10 on every GPU;
* ``big``: a float16 tensor of 2**31 + 2**21 elements (over 4 GiB): fill, zero, average and a
  fused SGD step, compared with the CPU path at the same stream offsets at the head, across the
  2**31 element boundary and at the tail.

With ``MXLITE_GPU_CHECK_FAKE=1`` the steps run on tests/_support/fake_cupy.py (two fake GPUs, host
emulation of the kernels) at small sizes: the test suite checks the steps themselves that way.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FAKE = os.environ.get("MXLITE_GPU_CHECK_FAKE") == "1"
KEY = (0x9E3779B9, 0x7F4A7C15)
KNOWN_ANSWERS = [  # Random123 kat_vectors, philox4x32_10: counter, key, output
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
]  # fmt: skip


def _result(status: str, summary: str, **details: Any) -> dict[str, Any]:
    return {"status": status, "summary": summary, "details": details}


def _setup() -> Any:
    """mxlite's CuPy (the fake one under MXLITE_GPU_CHECK_FAKE=1), or None without a GPU."""
    if FAKE:
        sys.path.insert(0, str(ROOT))
        from tests._support import fake_cupy

        fake_cupy.install(devices=2)
    from mxlite import backend

    return backend.cupy_or_none()


def _run(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as err:
        return f"({cmd[0]} not available: {err})"
    return (proc.stdout + proc.stderr).strip()


# ------------------------------------------------------------------------------------ env
def _version(dist: str) -> str:
    """The installed version of distribution ``dist`` (``cupy``: any cupy-cuda* wheel), without
    importing it."""
    from importlib import metadata

    if dist == "cupy":
        found = [
            f"{d.metadata['Name']} {d.version}"
            for d in metadata.distributions()
            if (d.metadata["Name"] or "").lower().startswith("cupy")
        ]
        return ", ".join(sorted(found)) or "not installed"
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def step_env() -> dict[str, Any]:
    """Versions, the driver, CUDA pieces and devices; FAIL only when mxlite cannot be imported."""
    details: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "nvidia-smi": _run(
            [
                "nvidia-smi",
                "--query-gpu=index,name,driver_version,memory.total,clocks.max.memory",
                "--format=csv",
            ]
        ),  # fmt: skip
    }
    for module in ("numpy", "numba", "cupy", "torch", "pytest", "ml_dtypes"):
        details[module] = _version(module)
    try:
        cp = _setup()
        from mxlite import backend
    except Exception as err:  # mxlite itself does not import: nothing else can run
        return _result("FAIL", f"mxlite does not import: {type(err).__name__}: {err}", **details)
    details["gpu_count"] = backend.gpu_count()
    details["why_no_gpu"] = "" if cp is not None else backend.gpu_remedy()
    try:
        import cupy

        rt = cupy.cuda.runtime
        details["cuda_runtime"] = rt.runtimeGetVersion()
        details["cuda_driver"] = rt.driverGetVersion()
        details["nvrtc"] = ".".join(map(str, cupy.cuda.nvrtc.getVersion()))
    except Exception as err:  # no CuPy, no driver, no NVRTC
        details["cuda"] = f"{type(err).__name__}: {err}"
    if cp is None:
        return _result("ok", f"no usable GPU: {details['why_no_gpu']}", **details)
    from bench.timing import peak_bandwidth

    devices = []
    for dev in range(backend.gpu_count()):
        props = cp.cuda.runtime.getDeviceProperties(dev)
        attrs = cp.cuda.Device(dev).attributes
        name = props.get("name", b"?")
        devices.append({
            "id": dev,
            "name": name.decode() if isinstance(name, bytes) else str(name),
            "sms": attrs.get("MultiProcessorCount"),
            "fp32_to_fp64": attrs.get("SingleToDoublePrecisionPerfRatio"),
            "peak_TBps": round(peak_bandwidth(dev) / 1e12, 3),
            "memory_GiB": round(props.get("totalGlobalMem", 0) / 2**30, 1),
        })  # fmt: skip
    details["devices"] = devices
    first = devices[0]
    summary = (
        f"{len(devices)} GPU(s), {first['name']}, {first['sms']} SMs, peak "
        f"{first['peak_TBps']} TB/s; CUDA runtime {details.get('cuda_runtime')}, driver "
        f"{details.get('cuda_driver')}, NVRTC {details.get('nvrtc')}; headers and cuBLAS ok "
        "(the GPU probe compiled and ran its kernel)"
    )
    return _result("ok", summary, **details)


# ------------------------------------------------------------------------------ bandwidth
def _seconds(fn: Callable[[], Any], repeat: int = 10) -> float:
    from bench.timing import median_time

    return median_time(fn, repeat=repeat, warmup=2)


def step_bandwidth() -> dict[str, Any]:
    """The 1 GiB copy against the peak; the chunk sizing of zero/average; normal vs uniform."""
    cp = _setup()
    if cp is None:
        return _result("skipped", "no usable GPU")
    from bench import sets
    from bench.timing import gpu_canary, peak_bandwidth
    from mxlite import ops
    from mxlite.ops import multi_tensor as mt

    canary = gpu_canary(1 << 20 if FAKE else 1 << 30, repeat=3 if FAKE else 20)
    peak = peak_bandwidth(0)
    pset = sets.s2(8) if FAKE else sets.s2()
    bufs = [cp.empty(shape, dtype=cp.float32) for shape in pset.shapes]
    nbytes = sum(b.nbytes for b in bufs)
    rates: dict[str, float] = {}
    sized = mt.gpu_chunk_bytes

    def per_peak(traffic: int, seconds: float) -> float:
        return round(100 * traffic / seconds / peak, 1) if peak else 0.0

    for label, chooser in (("SM-sized", sized), ("fixed 256 KiB", lambda *a: mt.GPU_CHUNK_BYTES)):
        mt.gpu_chunk_bytes = chooser  # type: ignore[assignment]
        try:
            plan = mt.ZeroPlan(bufs)
            rates[f"zero {label} % of peak"] = per_peak(nbytes, _seconds(plan))
            reps = [[b, b] for b in bufs]
            outs = [cp.empty_like(b) for b in bufs]
            avg = mt.AveragePlan(reps, outs)
            rates[f"average k=2 {label} % of peak"] = per_peak(3 * nbytes, _seconds(avg))
            del outs, avg
        finally:
            mt.gpu_chunk_bytes = sized  # type: ignore[assignment]
    flat = cp.empty(nbytes // 4, dtype=cp.float32)
    uniform = _seconds(lambda: ops.fill_uniform(flat, -1.0, 1.0, KEY))
    normal = _seconds(lambda: ops.fill_normal(flat, 0.0, 1.0, KEY))
    rates["uniform fill % of peak"] = per_peak(nbytes, uniform)
    rates["normal fill % of peak"] = per_peak(nbytes, normal)
    rates["normal / uniform time"] = round(normal / uniform, 2)
    status = "ok" if canary.healthy or FAKE else "FAIL"  # the fake's timings mean nothing
    summary = (
        f"{canary.describe()}; zero {rates['zero SM-sized % of peak']}% (SM-sized chunks) vs "
        f"{rates['zero fixed 256 KiB % of peak']}% (256 KiB), average "
        f"{rates['average k=2 SM-sized % of peak']}% vs {rates['average k=2 fixed 256 KiB % of peak']}%"
        f"; normal fill {rates['normal / uniform time']}x the uniform fill's time"
    )
    return _result(status, summary, canary=canary.describe(), set=pset.name, bytes=nbytes, **rates)


# -------------------------------------------------------------------------------- kernels
def entry_points() -> set[str]:
    """Every kernel a launch can name: the template instances mxlite compiles and the
    ``extern "C"`` kernels of kernels/*.cu (a template kernel with no instance is reported)."""
    from mxlite.ops import _cuda

    names: set[str] = set()
    for path in sorted((ROOT / "kernels").glob("*.cu")):
        text = path.read_text()
        names |= set(re.findall(r'extern "C"\s+__global__\s+void\s+(\w+)', text))
        instances = _cuda._NAME_EXPRESSIONS.get(path.name, ())
        names |= set(instances)
        for base in set(re.findall(r"^__global__\s+void\s+(\w+)\s*\(", text, re.MULTILINE)):
            if not any(inst.startswith(base + "<") for inst in instances):
                names.add(f"{base}<no instance>")
    return names


def _ulps(a: np.ndarray, b: np.ndarray) -> int:
    bits = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    ia, ib = a.view(bits).astype(np.int64), b.view(bits).astype(np.int64)
    mask = (1 << (8 * a.dtype.itemsize - 1)) - 1
    ia = np.where(ia < 0, -(ia & mask), ia)
    ib = np.where(ib < 0, -(ib & mask), ib)
    return int(np.abs(ia - ib).max(initial=0))


def _compare(name: str, got: np.ndarray, want: np.ndarray, ulps: int = 0) -> str:
    """'' when equal (bitwise, or within ``ulps`` units in the last place)."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"{name}: {got.dtype}{got.shape}, CPU {want.dtype}{want.shape}"
    far = _ulps(np.ascontiguousarray(got), np.ascontiguousarray(want))
    return "" if far <= ulps else f"{name}: {far} ulps from the CPU (allowed {ulps})"


def _kernel_cases(cp: Any) -> list[tuple[str, Callable[[Any], list[Any]], int]]:
    """(name, run(xp) -> arrays to compare, allowed ulps) for every kernel family."""
    from mxlite import ops
    from mxlite.ops import multi_optimizer as mo
    from mxlite.ops._optimizer_coef import KINDS

    rng = np.random.default_rng(17)
    cases: list[tuple[str, Callable[[Any], list[Any]], int]] = []
    for dtype in ops.RANDOM_FILL_DTYPES:
        dt = np.dtype(_dtype(dtype))

        def fills(xp: Any, dt: np.dtype = dt, dist: str = "uniform") -> list[Any]:
            one, two, three = (xp.empty(n, dtype=dt) for n in (1001, 17, 300))
            fill = ops.fill_uniform if dist == "uniform" else ops.fill_normal
            fill(one, -1.0, 2.0, KEY, 5)
            many = ops.multi_fill_uniform if dist == "uniform" else ops.multi_fill_normal
            many([two, three], [0.0, -3.0], [1.0, 3.0], [KEY, (1, 2)], [7, 2**33 + 1])
            return [one, two, three]

        normal_ulps = 8 if dt == np.float64 else (1 if dt.itemsize == 2 else 2)
        cases.append((f"fill uniform {dtype}", fills, 0))
        cases.append(
            (f"fill normal {dtype}", lambda xp, f=fills: f(xp, dist="normal"), normal_ulps)
        )

    def constants(xp: Any) -> list[Any]:
        a, b, c = xp.zeros(1003, np.float32), xp.zeros(77, np.float16), xp.zeros(9, np.float64)
        ops.fill_constant(a, 1.5)  # bytes differ: the pattern kernel, not a memset
        ops.multi_fill_constant([b, c], [-2.25, 3.0])
        return [a, b, c]

    ctr = rng.integers(0, 2**32, (257, 4), dtype=np.uint32)
    key = rng.integers(0, 2**32, (257, 2), dtype=np.uint32)
    host = [rng.standard_normal(n) for n in (1, 1000, 70001)]

    def zero(xp: Any) -> list[Any]:
        bufs = [xp.ones(n, np.float32) for n in (5, 4096, 1, 300, 70000, 9)]
        ops.multi_zero(bufs)
        return bufs

    def average(xp: Any, dt: Any) -> list[Any]:
        reps = [[xp.asarray((h * (i + 1)).astype(dt)) for i in range(3)] for h in host]
        outs = [xp.empty(h.shape, dt) for h in host]
        ops.multi_average(reps, outs)
        return outs

    def step(xp: Any, kind: str, rule: str) -> list[Any]:
        mp = kind == "float16mp"
        dt = np.float16 if mp else np.dtype(kind)
        sdt = np.float32 if mp else dt
        ws = [xp.asarray(h.astype(dt)) for h in host]
        gs = [xp.asarray((h[::-1] * 0.1).astype(dt)) for h in host]
        s0 = [xp.asarray((h * 0.5).astype(sdt)) for h in host]
        s1 = [xp.asarray(np.abs(h).astype(sdt)) for h in host]
        w32 = [xp.asarray(h.astype(np.float32)) for h in host] if mp else None
        lrs, wds = [0.1, 0.05, 0.01], [1e-4, 0.0, 1e-3]
        if rule == "adam":
            mo.multi_adam_update(ws, gs, s0, s1, lrs, wds, 0.9, 0.999, 1e-8, 1.0, None, w32)
            return ws + s0 + s1 + (w32 or [])
        update = mo.multi_sgd_update if rule == "sgd" else mo.multi_nag_update
        update(ws, gs, s0, lrs, wds, 0.9, 1.0, 0.5, w32)
        return ws + s0 + (w32 or [])

    cases.append(("fill constant (pattern kernels)", constants, 0))
    cases.append(
        ("philox4x32_10 rows", lambda xp: [ops.philox4x32(xp.asarray(ctr), xp.asarray(key))], 0)
    )
    cases.append(("multi-tensor zero", zero, 0))
    for dt in ("float32", "float64", "float16"):
        # float16 with 3 replicas: the GPU sums in float32 and rounds once, the host rounds
        # after every addition (mxlite/ops/README.md): 1 ulp apart at most
        allowed = 1 if dt == "float16" else 0
        cases.append((f"replica average {dt}", lambda xp, dt=dt: average(xp, dt), allowed))
    for kind in KINDS:
        for rule in ("sgd", "nag", "adam"):
            cases.append((f"fused {rule} {kind}", lambda xp, k=kind, r=rule: step(xp, k, r), 0))
    for dt in ("float32", "float64", "float16"):
        cases.append((f"batch norm passes {dt}", lambda xp, dt=dt: bn_passes(xp, dt), 0))
        # sums in another order than the host's: within rounding of the (positive) totals
        ulps = 1 << 12 if dt == "float64" else 64
        cases.append((f"batch norm sums {dt}", lambda xp, dt=dt: bn_sums(xp, dt), ulps))
    return cases


_BN_SHAPE = (4, 8, 3001)  # planes over a block of threads, odd


def _bn_inputs(xp: Any, dt: str) -> tuple[Any, Any, Any, Any]:
    """Positive data and gradients (sums far from zero), per-channel coefficients."""
    rng = np.random.default_rng(23)
    acc = np.float64 if dt == "float64" else np.float32
    x = xp.asarray(rng.uniform(0.5, 3.0, _BN_SHAPE).astype(dt))
    g = xp.asarray(rng.uniform(0.5, 1.5, _BN_SHAPE).astype(dt))
    coef = [xp.asarray(rng.uniform(-1, 1, _BN_SHAPE[1]).astype(acc)) for _ in range(3)]
    return x, g, coef, acc


def bn_passes(xp: Any, dt: str) -> list[Any]:
    """kernels/batch_norm.cu's elementwise passes (with and without the fused ReLU)."""
    from mxlite.ops import norm

    x, g, (a, b, c), _ = _bn_inputs(xp, dt)
    y = norm.bn_apply(x, a, b, relu=True)
    return [y, norm.bn_apply(x, a, b), norm.bn_input_grad(g, x, a, b, c, y),
            norm.bn_input_grad(g, x, c, a, b)]  # fmt: skip


def bn_sums(xp: Any, dt: str) -> list[Any]:
    """kernels/batch_norm.cu's channel sums: the moments, and the gradient sums (masked)."""
    from mxlite.ops import norm

    x, g, (a, b, _), acc = _bn_inputs(xp, dt)
    mean, var = norm.bn_moments(x)
    y = norm.bn_apply(x, a, b, relu=True)
    s1, s2 = norm.bn_grad_sums(g, x, xp.zeros(_BN_SHAPE[1], acc), y)
    return [mean, var, s1.astype(acc), s2.astype(acc)]


def _dtype(name: str) -> Any:
    from mxlite.base import DTYPE_NAME_TO_NP

    return DTYPE_NAME_TO_NP.get(name, name)


def step_kernels() -> dict[str, Any]:
    """Every entry point compiled and launched once, each result compared with the CPU path."""
    cp = _setup()
    if cp is None:
        return _result("skipped", "no usable GPU")
    from mxlite import backend
    from mxlite.ops import _cuda

    launched: set[str] = set()
    original = _cuda._function

    def recording(filename: str, name: str) -> Any:
        launched.add(name)
        return original(filename, name)

    _cuda._function = recording  # type: ignore[assignment]
    problems: list[str] = []
    checked: list[str] = []
    notes: list[str] = []
    skip_bf16 = _no_bfloat16(cp)
    if skip_bf16:
        notes.append(f"CuPy makes no bfloat16 arrays here ({skip_bf16}): its fills compiled only")
    try:
        for name, run, ulps in _kernel_cases(cp):
            if skip_bf16 and "bfloat16" in name:
                continue
            try:
                want = [backend.to_numpy(a) for a in run(np)]
                got = [backend.to_numpy(a) for a in run(cp)]
            except Exception as err:  # a compile error or launch failure names the kernel
                problems.append(f"{name}: {type(err).__name__}: {err}")
                continue
            wrong = [m for g, w in zip(got, want) if (m := _compare(name, g, w, ulps))]
            problems += wrong[:1]
            checked.append(name)
    finally:
        _cuda._function = original  # type: ignore[assignment]
    missing = sorted(entry_points() - launched)
    for name in missing:
        file = (
            next(f for f, names in _cuda._NAME_EXPRESSIONS.items() if name in names)
            if (skip_bf16 and "bfloat16" in name)
            else None
        )
        if file is None:
            problems.append(f"{name}: never launched")
            continue
        try:
            _cuda.get_kernel(file, name)  # compiled for this device, not launched
        except Exception as err:
            problems.append(f"{name}: {type(err).__name__}: {err}")
    summary = (
        f"{len(launched)} entry points compiled and launched, {len(checked)} checks against the "
        f"CPU; "
        + ("all equal" if not problems else f"{len(problems)} problem(s): " + "; ".join(problems))
    )
    if notes:
        summary += " (" + "; ".join(notes) + ")"
    return _result("FAIL" if problems else "ok", summary, launched=sorted(launched),
                   problems=problems, checks=checked, notes=notes)  # fmt: skip


def _no_bfloat16(cp: Any) -> str:
    """'' when CuPy makes bfloat16 arrays (ml_dtypes), else why not."""
    try:
        cp.zeros(4, dtype=_dtype("bfloat16"))
    except Exception as err:  # no ml_dtypes support in this CuPy
        return f"{type(err).__name__}: {err}"[:200]
    return ""


# --------------------------------------------------------------------------------- philox
def step_philox() -> dict[str, Any]:
    """Random123's known answers on every GPU (and the CPU)."""
    cp = _setup()
    if cp is None:
        return _result("skipped", "no usable GPU")
    import mxlite as mx
    from mxlite import backend, ops

    ctr = np.array([c for c, _, _ in KNOWN_ANSWERS], np.uint32)
    key = np.array([k for _, k, _ in KNOWN_ANSWERS], np.uint32)
    want = np.array([o for _, _, o in KNOWN_ANSWERS], np.uint32)
    wrong = []
    for ctx in [mx.cpu(), *(mx.gpu(i) for i in range(mx.num_gpus()))]:
        xp = backend.get_xp(ctx)
        with backend.device_guard(ctx):
            got = backend.to_numpy(ops.philox4x32(xp.asarray(ctr), xp.asarray(key)))
        if not np.array_equal(got, want):
            wrong.append(f"{ctx}: {[f'{v:08x}' for v in got.ravel()[:4]]}")
    status = "FAIL" if wrong else "ok"
    return _result(status, f"{len(KNOWN_ANSWERS)} known answers on cpu(0) and "
                   f"{mx.num_gpus()} GPU(s): " + ("all equal" if not wrong else "; ".join(wrong)))  # fmt: skip


# ------------------------------------------------------------------------------ big tensors
def windows(n: int) -> dict[str, tuple[int, int]]:
    """Element ranges compared in a tensor of ``n`` elements: head, the 2**31 boundary, tail."""
    w = 4096
    mid = 1 << 31 if n >= (1 << 31) + w else n // 2  # scaled-down runs (the fake): the middle
    return {"head": (0, w), "2**31 boundary": (mid - w // 2, mid + w // 2), "tail": (n - w, n)}


def step_big(elements: int) -> dict[str, Any]:
    """Fill, zero, average and fused SGD on float16 tensors of ``elements`` elements."""
    cp = _setup()
    if cp is None:
        return _result("skipped", "no usable GPU")
    from mxlite import backend, ops
    from mxlite.ops import multi_optimizer as mo

    need = 3 * 2 * elements + (1 << 30)
    free = backend.gpu_memory_info(0)[0]
    if free < need and not FAKE:
        return _result(
            "skipped", f"needs {need / 2**30:.1f} GiB free on gpu(0), has {free / 2**30:.1f}"
        )
    spans = windows(elements)
    get = backend.to_numpy
    problems: list[str] = []
    start = time.perf_counter()

    def cpu_fill(lo: int, hi: int, key: tuple[int, int], low: float = -1.0) -> np.ndarray:
        out = np.empty(hi - lo, np.float16)
        ops.fill_uniform(out, low, 1.0, key, lo)
        return out

    def check(what: str, big: Any, want: Callable[[int, int], np.ndarray]) -> None:
        for label, (lo, hi) in spans.items():
            msg = _compare(f"{what} at the {label}", get(big[lo:hi]), want(lo, hi))
            if msg:
                problems.append(msg)

    with cp.cuda.Device(0):
        a = cp.empty(elements, dtype=cp.float16)
        ops.fill_uniform(a, -1.0, 1.0, KEY)
        check("uniform fill", a, lambda lo, hi: cpu_fill(lo, hi, KEY))
        b = cp.empty(elements, dtype=cp.float16)
        ops.fill_uniform(b, 0.0, 1.0, (5, 6))
        out = cp.empty(elements, dtype=cp.float16)
        ops.multi_average([[a, b]], [out])

        def mean(lo: int, hi: int) -> np.ndarray:
            x, y = cpu_fill(lo, hi, KEY), cpu_fill(lo, hi, (5, 6), 0.0)
            return ((x.astype(np.float32) + y.astype(np.float32)) / np.float32(2)).astype(
                np.float16
            )

        check("average", out, mean)
        small = [cp.ones(n, np.float16) for n in (3, 4096, 70000, 5)]
        ops.fill_constant(out, 3.0)
        ops.multi_zero([out, *small])
        check("zero", out, lambda lo, hi: np.zeros(hi - lo, np.float16))
        mom = out  # zeroed: the momentum state
        mo.multi_sgd_update([a], [b], [mom], [0.1], [1e-3], 0.9, 1.0, None)

        def sgd(lo: int, hi: int) -> np.ndarray:
            w, g, m = (
                cpu_fill(lo, hi, KEY),
                cpu_fill(lo, hi, (5, 6), 0.0),
                np.zeros(hi - lo, np.float16),
            )
            mo.multi_sgd_update([w], [g], [m], [0.1], [1e-3], 0.9, 1.0, None)
            return w

        check("fused SGD", a, sgd)
        del a, b, out, small
    took = time.perf_counter() - start
    size = f"{elements} float16 elements ({2 * elements / 2**30:.2f} GiB)"
    summary = (
        f"{size}: fill, average, zero, fused SGD at "
        + ", ".join(spans)
        + (" equal to the CPU" if not problems else ": " + "; ".join(problems))
        + f" ({took:.0f} s)"
    )
    return _result("FAIL" if problems else "ok", summary, problems=problems, elements=elements)


STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "env": step_env,
    "bandwidth": step_bandwidth,
    "kernels": step_kernels,
    "philox": step_philox,
    "big": step_big,
}
