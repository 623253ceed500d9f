"""CUDA kernels through CuPy: the only module that touches ``kernels/*.cu``.

Each source file is compiled once per (device, file) with ``cupy.RawModule`` (CuPy also caches the
binary on disk), with ``name_expressions`` naming the template instantiations that the wrappers
use; the modules are kept in a process-wide table. ``import cupy`` happens inside the functions
only, so importing this module costs nothing on a machine without CuPy.

Sources come from this package's ``kernels`` folder (see :func:`_kernel_dir`); a line
``#include "x.cuh"`` is replaced by that header's text (NVRTC is given no include path).

The table builders (:func:`fill_table`, :func:`const_table`, :func:`value_pattern`) are plain
NumPy, so tests can check the layout of the device-side tables without a GPU.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mxlite.ops import _launchers
from mxlite.ops._optimizer_coef import KINDS

__all__ = [
    "FILL_ENTRY_DTYPE",
    "CONST_ENTRY_DTYPE",
    "CHUNK_BLOCKS",
    "CONST_CHUNK_BYTES",
    "fill_table",
    "const_table",
    "value_pattern",
    "kernel_source",
    *_launchers.FILL,
    *_launchers.MULTI_TENSOR,
    *_launchers.OPTIMIZER,
    "get_kernel",
    "sm_count",
]

_OPTIONS = ("-std=c++17", "--fmad=false")
_THREADS = 256
_BLOCKS_PER_SM = 16
# Philox blocks / bytes per work item of the multi-tensor kernels (kChunkBlocks, kConstChunkBytes
# in kernels/init_fill.cu).
CHUNK_BLOCKS = 1024
CONST_CHUNK_BYTES = 65536

# One row of the device-side table of a multi-tensor fill: struct FillEntry in init_fill.cu.
FILL_ENTRY_DTYPE = np.dtype(
    [
        ("ptr", "<u8"),
        ("n", "<u8"),
        ("offset", "<u8"),
        ("chunk_start", "<u8"),
        ("k0", "<u4"),
        ("k1", "<u4"),
        ("p0", "<f8"),
        ("p1", "<f8"),
    ]
)
# One row of the table of a multi-tensor constant fill: struct ConstEntry in init_fill.cu.
CONST_ENTRY_DTYPE = np.dtype(
    [
        ("ptr", "<u8"),
        ("nbytes", "<u8"),
        ("chunk_start", "<u8"),
        ("pattern", "<u4", (4,)),
        ("elem_size", "<u4"),
        ("pad", "<u4"),
    ]
)

# C++ type that instantiates the fill templates for each dtype.
_FILL_TYPES = {
    "float32": "float",
    "float64": "double",
    "float16": "mxlite::half_bits",
    "bfloat16": "mxlite::bfloat16_bits",
}
# The same keyed by dtype object: ``dtype.name`` costs microseconds per call, which add up.
_FILL_TYPES_BY_DTYPE = {
    np.dtype(name): ctype for name, ctype in _FILL_TYPES.items() if name != "bfloat16"
}
try:  # bfloat16 only exists with ml_dtypes (and CuPy arrays of it only where CuPy supports it)
    import ml_dtypes as _ml_dtypes

    _FILL_TYPES_BY_DTYPE[np.dtype(_ml_dtypes.bfloat16)] = _FILL_TYPES["bfloat16"]
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    pass
_AVERAGE_TYPES = {"float32": "float", "float64": "double", "float16": "__half"}
_NAME_EXPRESSIONS: dict[str, tuple[str, ...]] = {
    "init_fill.cu": tuple(
        f"{kernel}<{ctype}>"
        for ctype in _FILL_TYPES.values()
        for kernel in ("fill_uniform", "fill_normal", "multi_fill_uniform", "multi_fill_normal")
    ),
    "multi_tensor.cu": tuple(f"multi_average<{ctype}>" for ctype in _AVERAGE_TYPES.values()),
    # mxlite.ops.multi_optimizer.CUDA_KERNELS (a test keeps the two lists equal)
    "multi_optimizer.cu": tuple(
        f"multi_optimizer_step<{w}, {s}, {mp}>"
        for w, s, mp in (
            ("float", "float", "false"),
            ("double", "double", "false"),
            ("__half", "__half", "false"),
            ("__half", "float", "true"),
        )
    ),
    # mxlite.ops._cuda_norm's launchers
    "batch_norm.cu": tuple(
        f"{kernel}<{ctype}>"
        for ctype in ("float", "double", "__half")
        for kernel in ("bn_channel_sums", "bn_forward_apply", "bn_backward_apply")
    ),
}
_DIST_NAMES = ("uniform", "normal")

_LOCK = threading.Lock()
_MODULES: dict[tuple[int, str], Any] = {}
_FUNCTIONS: dict[tuple[int, str, str], Any] = {}
_SM_COUNT: dict[int, int] = {}
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.MULTILINE)


# ------------------------------------------------------------------------------- module loading
def _kernel_dir() -> Any:
    """The CUDA sources of *this* mxlite: ``mxlite/kernels`` inside an installed package, else the
    ``kernels/`` folder of the checkout this package was imported from.

    pyproject.toml maps the repository's top-level ``kernels/`` folder onto ``mxlite.kernels``.
    Importing ``mxlite.kernels`` is not enough: in a checkout used without installing it
    (``PYTHONPATH=.``, or a second worktree) that import finds whatever another install on
    ``sys.path`` provides (an editable install of another checkout maps ``mxlite.kernels`` to its
    own folder), so kernels and Python code could come from two versions. The package's own
    folders come first; ``importlib.resources`` is the fallback (a zipped install).
    """
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "kernels", package.parent / "kernels"):
        if (folder / "init_fill.cu").is_file():
            return folder
    return resources.files("mxlite.kernels")


def kernel_source(filename: str) -> str:
    """Text of ``kernels/<filename>`` with its local ``#include "..."`` lines expanded."""
    return _expand(filename, set())


def _expand(filename: str, seen: set[str]) -> str:
    if filename in seen:
        return ""  # include guard: each header once
    seen.add(filename)
    text = _kernel_dir().joinpath(filename).read_text(encoding="utf-8")
    return _INCLUDE.sub(lambda m: _expand(m.group(1), seen), text)


def _cupy() -> Any:
    import cupy  # noqa: PLC0415 - lazy by design: importing mxlite must not need CuPy

    return cupy


def _function(filename: str, name: str) -> Any:
    """Kernel ``name`` of ``kernels/<filename>``, compiled for the current device (cached)."""
    cp = _cupy()
    dev = int(cp.cuda.Device().id)
    fkey = (dev, filename, name)
    fn = _FUNCTIONS.get(fkey)
    if fn is not None:
        return fn
    with _LOCK:
        mod = _MODULES.get((dev, filename))
        if mod is None:
            mod = cp.RawModule(
                code=kernel_source(filename),
                options=_OPTIONS,
                name_expressions=_NAME_EXPRESSIONS.get(filename, ()),
            )
            _MODULES[(dev, filename)] = mod
        fn = mod.get_function(name)
        _FUNCTIONS[fkey] = fn
    return fn


def get_kernel(filename: str, name: str) -> Any:
    """Kernel ``name`` (a template instance listed in ``_NAME_EXPRESSIONS``, or an ``extern "C"``
    name) of ``kernels/<filename>``, compiled once for the current device and cached."""
    return _function(filename, name)


def sm_count(device: int | None = None) -> int:
    """Streaming multiprocessors of GPU ``device`` (the current one when None), cached."""
    cp = _cupy()
    dev = int(cp.cuda.Device().id) if device is None else int(device)
    sms = _SM_COUNT.get(dev)
    if sms is None:
        sms = int(cp.cuda.Device(dev).attributes["MultiProcessorCount"])
        _SM_COUNT[dev] = sms
    return sms


def _grid(work_items: int, per_block: int = _THREADS) -> int:
    """Blocks for a grid-stride launch: enough to fill the device, no more than the work."""
    sms = sm_count()
    return max(1, min((work_items + per_block - 1) // per_block, sms * _BLOCKS_PER_SM))


# --------------------------------------------------------------------------------- table builders
def _nblocks(offsets: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return ((offsets + sizes + 3) >> 2) - (offsets >> 2)


def fill_table(
    ptrs: Sequence[int],
    sizes: Sequence[int],
    offsets: Sequence[int],
    keys: Sequence[tuple[int, int]],
    p0s: Sequence[float],
    p1s: Sequence[float],
) -> tuple[np.ndarray, int]:
    """Rows of ``FILL_ENTRY_DTYPE`` (sizes > 0 only) and the total number of work items."""
    table = np.zeros(len(ptrs), dtype=FILL_ENTRY_DTYPE)
    table["ptr"] = np.asarray(ptrs, dtype=np.uint64)
    table["n"] = np.asarray(sizes, dtype=np.uint64)
    table["offset"] = np.asarray(offsets, dtype=np.uint64)
    key_arr = np.asarray(keys, dtype=np.uint32).reshape(-1, 2)
    table["k0"] = key_arr[:, 0]
    table["k1"] = key_arr[:, 1]
    table["p0"] = np.asarray(p0s, dtype=np.float64)
    table["p1"] = np.asarray(p1s, dtype=np.float64)
    chunks = (_nblocks(table["offset"], table["n"]) + CHUNK_BLOCKS - 1) // CHUNK_BLOCKS
    starts = np.zeros(len(ptrs) + 1, dtype=np.uint64)
    np.cumsum(chunks, out=starts[1:])
    table["chunk_start"] = starts[:-1]
    return table, int(starts[-1])


def value_pattern(value: Any, dtype: Any) -> tuple[tuple[int, int, int, int], int]:
    """``np.array(value, dtype=dtype)`` as 4 words of its bytes repeated over 16 bytes, and its size."""
    one = np.array(value, dtype=dtype).reshape(1)
    raw = one.view(np.uint8)
    words = np.tile(raw, 16 // raw.size).view("<u4")
    return (int(words[0]), int(words[1]), int(words[2]), int(words[3])), int(raw.size)


def const_table(
    ptrs: Sequence[int],
    nbytes: Sequence[int],
    patterns: Sequence[tuple[int, int, int, int]],
    elem_sizes: Sequence[int],
) -> tuple[np.ndarray, int]:
    """Rows of ``CONST_ENTRY_DTYPE`` and the total number of work items."""
    table = np.zeros(len(ptrs), dtype=CONST_ENTRY_DTYPE)
    table["ptr"] = np.asarray(ptrs, dtype=np.uint64)
    table["nbytes"] = np.asarray(nbytes, dtype=np.uint64)
    table["pattern"] = np.asarray(patterns, dtype=np.uint32).reshape(-1, 4)
    table["elem_size"] = np.asarray(elem_sizes, dtype=np.uint32)
    chunks = (table["nbytes"] + CONST_CHUNK_BYTES - 1) // CONST_CHUNK_BYTES
    starts = np.zeros(len(ptrs) + 1, dtype=np.uint64)
    np.cumsum(chunks, out=starts[1:])
    table["chunk_start"] = starts[:-1]
    return table, int(starts[-1])


# ---------------------------------------------------------------------------------------- philox
def philox4x32(counter: Any, key: Any) -> Any:
    """Philox4x32-10 of ``uint32[..., 4]`` CuPy counters under broadcastable ``uint32[..., 2]`` keys."""
    cp = _cupy()
    ctr = cp.asarray(counter, dtype=cp.uint32)
    k = cp.asarray(key, dtype=cp.uint32)
    lead = np.broadcast_shapes(ctr.shape[:-1], k.shape[:-1])
    ctr2 = cp.ascontiguousarray(cp.broadcast_to(ctr, (*lead, 4))).reshape(-1, 4)
    k2 = cp.ascontiguousarray(cp.broadcast_to(k, (*lead, 2))).reshape(-1, 2)
    out = cp.empty_like(ctr2)
    n = ctr2.shape[0]
    if n:
        with ctr2.device:
            _function("init_fill.cu", "philox4x32_10_rows")(
                (_grid(n),), (_THREADS,), (ctr2, k2, out, np.uint64(n))
            )
    return out.reshape((*lead, 4))


# ---------------------------------------------------------------------------------- random fills
def _fill(arr: Any, dist: int, p0: float, p1: float, key: tuple[int, int], offset: int) -> Any:
    if arr.size == 0:
        return arr
    cp = _cupy()
    with arr.device:
        target = arr if arr.flags.c_contiguous else cp.empty(arr.shape, arr.dtype)
        kernel = _function(
            "init_fill.cu", f"fill_{_DIST_NAMES[dist]}<{_FILL_TYPES_BY_DTYPE[arr.dtype]}>"
        )
        n = int(arr.size)
        nblocks = ((offset + n + 3) >> 2) - (offset >> 2)
        args = (
            target,
            np.uint64(n),
            np.uint64(offset),
            np.uint32(key[0]),
            np.uint32(key[1]),
            np.float64(p0),
            np.float64(p1),
        )
        kernel((_grid(nblocks),), (_THREADS,), args)
        if target is not arr:
            arr[...] = target
    return arr


def _multi(
    arrs: Sequence[Any],
    dist: int,
    p0s: Sequence[float],
    p1s: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int],
) -> None:
    cp = _cupy()
    groups: dict[tuple[int, Any], list[int]] = {}
    for idx, arr in enumerate(arrs):
        if arr.size == 0:
            continue
        if not arr.flags.c_contiguous:
            _fill(arr, dist, p0s[idx], p1s[idx], keys[idx], offsets[idx])
            continue
        groups.setdefault((int(arr.device.id), arr.dtype), []).append(idx)
    for (dev, dtype), idxs in groups.items():
        table, total = fill_table(
            [arrs[i].data.ptr for i in idxs],
            [arrs[i].size for i in idxs],
            [offsets[i] for i in idxs],
            [keys[i] for i in idxs],
            [p0s[i] for i in idxs],
            [p1s[i] for i in idxs],
        )
        with cp.cuda.Device(dev):
            dtable = cp.asarray(table.view(np.uint8))
            kernel = _function(
                "init_fill.cu", f"multi_fill_{_DIST_NAMES[dist]}<{_FILL_TYPES_BY_DTYPE[dtype]}>"
            )
            grid = _grid(total * _THREADS)
            kernel((grid,), (_THREADS,), (dtable, np.int32(len(idxs)), np.uint64(total)))


def fill_uniform(arr: Any, low: float, high: float, key: tuple[int, int], offset: int = 0) -> Any:
    """Uniform draws in ``[low, high)`` into CuPy ``arr`` from stream ``key`` at ``offset``."""
    return _fill(arr, 0, float(low), float(high) - float(low), key, offset)


def fill_normal(arr: Any, loc: float, scale: float, key: tuple[int, int], offset: int = 0) -> Any:
    """Normal draws ``N(loc, scale**2)`` into CuPy ``arr`` from stream ``key`` at ``offset``."""
    return _fill(arr, 1, float(loc), float(scale), key, offset)


def multi_fill_uniform(
    arrs: Sequence[Any],
    lows: Sequence[float],
    highs: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int],
) -> None:
    """:func:`fill_uniform` over many CuPy arrays: one launch per (device, dtype)."""
    spans = [float(h) - float(lo) for lo, h in zip(lows, highs)]
    _multi(arrs, 0, [float(lo) for lo in lows], spans, keys, offsets)


def multi_fill_normal(
    arrs: Sequence[Any],
    locs: Sequence[float],
    scales: Sequence[float],
    keys: Sequence[tuple[int, int]],
    offsets: Sequence[int],
) -> None:
    """:func:`fill_normal` over many CuPy arrays: one launch per (device, dtype)."""
    _multi(arrs, 1, [float(v) for v in locs], [float(v) for v in scales], keys, offsets)


# ------------------------------------------------------------------------------- constant fills
def _pattern_ok(arr: Any, elem_size: int) -> bool:
    return (
        bool(arr.flags.c_contiguous) and elem_size in (1, 2, 4, 8) and arr.data.ptr % elem_size == 0
    )


def fill_constant(arr: Any, value: Any) -> Any:
    """Every element of CuPy ``arr`` set to ``value`` at memset speed (16-byte stores).

    CuPy's ``fill`` with a nonzero value runs at about a quarter of memory bandwidth; this writes
    the value's byte pattern with vector stores (or ``cudaMemsetAsync`` when all bytes are equal).
    """
    if arr.size == 0:
        return arr
    words, elem_size = value_pattern(value, arr.dtype)
    with arr.device:
        if not _pattern_ok(arr, elem_size):
            arr.fill(np.array(value, dtype=arr.dtype)[()])
            return arr
        raw = np.array(words, dtype="<u4").view(np.uint8)
        if np.all(raw == raw[0]):
            arr.data.memset_async(int(raw[0]), arr.nbytes)
            return arr
        kernel = _function("init_fill.cu", "fill_pattern")
        args = (arr, np.uint64(arr.nbytes), *(np.uint32(w) for w in words), np.uint32(elem_size))
        kernel((_grid(arr.nbytes // 16 + 1),), (_THREADS,), args)
    return arr


def multi_fill_constant(arrs: Sequence[Any], values: Sequence[Any]) -> None:
    """:func:`fill_constant` over many CuPy arrays: one launch per device."""
    cp = _cupy()
    groups: dict[int, list[int]] = {}
    patterns: dict[int, tuple[tuple[int, int, int, int], int]] = {}
    for idx, arr in enumerate(arrs):
        if arr.size == 0:
            continue
        patterns[idx] = value_pattern(values[idx], arr.dtype)
        if not _pattern_ok(arr, patterns[idx][1]):
            fill_constant(arr, values[idx])
            continue
        groups.setdefault(int(arr.device.id), []).append(idx)
    for dev, idxs in groups.items():
        table, total = const_table(
            [arrs[i].data.ptr for i in idxs],
            [arrs[i].nbytes for i in idxs],
            [patterns[i][0] for i in idxs],
            [patterns[i][1] for i in idxs],
        )
        with cp.cuda.Device(dev):
            dtable = cp.asarray(table.view(np.uint8))
            kernel = _function("init_fill.cu", "multi_fill_pattern")
            kernel(
                (_grid(total * _THREADS),),
                (_THREADS,),
                (dtable, np.int32(len(idxs)), np.uint64(total)),
            )


# ------------------------------------------------------------- kernels/multi_tensor.cu launchers
def multi_zero_bytes(addrs: Any, nbytes: Any, chunk_buf: Any, chunk_begin: Any, chunk: int) -> None:
    """Launch ``multi_zero_bytes`` (one block per chunk) on the current device.

    Args:
        addrs: device ``uint64[buffers]`` addresses; nbytes: device ``int64[buffers]``.
        chunk_buf, chunk_begin: device ``int32[chunks]`` / ``int64[chunks]`` (see
            :func:`mxlite.ops.multi_tensor.chunk_table`); chunk: bytes per chunk.
    """
    nchunks = int(chunk_buf.size)
    if nchunks == 0:
        return
    kernel = _function("multi_tensor.cu", "multi_zero_bytes")
    kernel((nchunks,), (_THREADS,), (addrs, nbytes, chunk_buf, chunk_begin, np.int64(chunk)))


def multi_average(
    family: str,
    in_addrs: Any,
    out_addrs: Any,
    numel: Any,
    chunk_buf: Any,
    chunk_begin: Any,
    chunk: int,
    k: int,
) -> None:
    """Launch ``multi_average<T>`` for dtype name ``family`` (one block per chunk) on the current device."""
    nchunks = int(chunk_buf.size)
    if nchunks == 0:
        return
    kernel = _function("multi_tensor.cu", f"multi_average<{_AVERAGE_TYPES[family]}>")
    args = (in_addrs, out_addrs, numel, chunk_buf, chunk_begin, np.int64(chunk), np.int32(k))
    kernel((nchunks,), (_THREADS,), args)


# ---------------------------------------------------------- kernels/multi_optimizer.cu launcher
def multi_optimizer_step(
    kind: str,
    tables: Any,
    chunk: int,
    coef: Any,
    glob: Any,
    family: int,
    nstate: int,
    clipping: bool,
    *,
    vec: int = 1,
) -> None:
    """Launch ``multi_optimizer_step<...>`` for storage ``kind`` (a key of
    :data:`mxlite.ops._optimizer_coef.KINDS`; one block per chunk) on the current device.

    Args:
        tables: device (pointers, numel, chunk_buf, chunk_begin); coef: device coefficients;
        glob: the global scalars (cast to the kind's coefficient type); vec: vector width.
    """
    nchunks = int(tables[2].size)
    if nchunks == 0:
        return
    _, ctype, instance, _ = KINDS[kind]
    args = (
        *tables[:4],
        np.int64(chunk),
        coef,
        *(ctype(v) for v in glob),
        np.int32(family),
        np.int32(nstate),
        np.int32(clipping),
        np.int32(vec),
    )
    get_kernel("multi_optimizer.cu", instance)((nchunks,), (_THREADS,), args)
