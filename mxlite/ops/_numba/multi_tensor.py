"""Numba twins of the multi-tensor kernels in kernels/multi_tensor.cu (zero, replica average).

Element loops are written out: slice assignment on a ``carray`` inside ``prange`` is dropped by
Numba's parfor pass (seen with numba 0.6x), so no kernel here uses it.

They walk the same chunk table as the CUDA kernels: chunk c belongs to buffer ``chunk_buf[c]``
and starts at ``chunk_begin[c]``; ``prange`` runs the chunks on all cores.

Each kernel also comes in a ``*_serial`` form (one thread, same loop). Both kernels are
memory-bound and a parallel region waits for its slowest thread, which on a shared machine can
cost a scheduler time slice. ``mxlite.ops.multi_tensor`` picks the form per plan: zeroing goes
parallel from 8 MB on two threads (it scales: 32 MB in 1.0-1.2 ms instead of 2.0 ms on 2 vCPUs),
averaging only from 128 MB on four (one core already reaches the bandwidth); the numbers are
beside ``PARALLEL_MIN_BYTES`` there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import carray, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from mxlite import _threads
from mxlite.ops._numba._primitives import pointer_intrinsic

_f32_ptr = pointer_intrinsic(types.float32)
_f64_ptr = pointer_intrinsic(types.float64)


@intrinsic
def _memset0(typingctx: Any, address: Any, nbytes: Any) -> Any:
    """``memset(address, 0, nbytes)`` as an LLVM intrinsic call."""
    if not (isinstance(address, types.Integer) and isinstance(nbytes, types.Integer)):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ptr = builder.inttoptr(args[0], ir.IntType(8).as_pointer())
        cgutils.memset(builder, ptr, args[1], 0)
        return context.get_dummy_value()

    return types.void(address, nbytes), codegen


@njit(cache=True, parallel=True)
def zero_chunks(
    addrs: Any, nbytes: Any, chunk_buf: Any, chunk_begin: Any, chunk_bytes: int
) -> None:
    """Zero every chunk of the table (bytes)."""
    for c in prange(chunk_buf.shape[0]):
        b = chunk_buf[c]
        begin = chunk_begin[c]
        end = min(begin + chunk_bytes, nbytes[b])
        _memset0(addrs[b] + begin, end - begin)


@njit(cache=True)
def zero_chunks_serial(
    addrs: Any, nbytes: Any, chunk_buf: Any, chunk_begin: Any, chunk_bytes: int
) -> None:
    """:func:`zero_chunks` on one thread."""
    for c in range(chunk_buf.shape[0]):
        b = chunk_buf[c]
        begin = chunk_begin[c]
        end = min(begin + chunk_bytes, nbytes[b])
        _memset0(addrs[b] + begin, end - begin)


_SPAN = 2048  # elements summed per pass while they stay in L1


@njit(cache=True)
def _average_span_f32(
    in_addrs: Any, out_addrs: Any, o0: int, o1: int, first: int, k: int, begin: int, n: int
) -> None:
    """out[begin:begin+n] = (in_0 + ... + in_{k-1}) / k over one chunk, summed in replica order,
    into every output ``out_addrs[o0:o1]``.

    Each span is summed into a scratch buffer before any output is written, so the loops
    vectorize and an output may alias any replica (an output that is also an input would
    otherwise force scalar code).
    """
    denom = np.float32(k)
    tmp = np.empty(_SPAN, dtype=np.float32)
    for s in range(0, n, _SPAN):
        m = min(_SPAN, n - s)
        off = 4 * (begin + s)
        r0 = carray(_f32_ptr(in_addrs[first] + off), (m,))
        if k == 2:
            r1 = carray(_f32_ptr(in_addrs[first + 1] + off), (m,))
            for i in range(m):
                tmp[i] = (r0[i] + r1[i]) / denom
        else:
            for i in range(m):
                tmp[i] = r0[i]
            for r in range(1, k):
                rr = carray(_f32_ptr(in_addrs[first + r] + off), (m,))
                for i in range(m):
                    tmp[i] += rr[i]
            for i in range(m):
                tmp[i] = tmp[i] / denom
        for o in range(o0, o1):
            out = carray(_f32_ptr(out_addrs[o] + off), (m,))
            for i in range(m):
                out[i] = tmp[i]


@njit(cache=True)
def _average_span_f64(
    in_addrs: Any, out_addrs: Any, o0: int, o1: int, first: int, k: int, begin: int, n: int
) -> None:
    """float64 twin of :func:`_average_span_f32`."""
    denom = np.float64(k)
    tmp = np.empty(_SPAN, dtype=np.float64)
    for s in range(0, n, _SPAN):
        m = min(_SPAN, n - s)
        off = 8 * (begin + s)
        r0 = carray(_f64_ptr(in_addrs[first] + off), (m,))
        if k == 2:
            r1 = carray(_f64_ptr(in_addrs[first + 1] + off), (m,))
            for i in range(m):
                tmp[i] = (r0[i] + r1[i]) / denom
        else:
            for i in range(m):
                tmp[i] = r0[i]
            for r in range(1, k):
                rr = carray(_f64_ptr(in_addrs[first + r] + off), (m,))
                for i in range(m):
                    tmp[i] += rr[i]
            for i in range(m):
                tmp[i] = tmp[i] / denom
        for o in range(o0, o1):
            out = carray(_f64_ptr(out_addrs[o] + off), (m,))
            for i in range(m):
                out[i] = tmp[i]


@njit(cache=True, parallel=True)
def average_chunks_f32(
    in_addrs: Any,
    out_addrs: Any,
    out_start: Any,
    numel: Any,
    chunk_buf: Any,
    chunk_begin: Any,
    chunk_elems: int,
    k: int,
) -> None:
    """out = (in_0 + ... + in_{k-1}) / k per element, summed in replica order in float32.

    Buffer b has ``k`` inputs ``in_addrs[b*k:(b+1)*k]`` and the outputs
    ``out_addrs[out_start[b]:out_start[b+1]]`` (at least one; all receive the mean).
    """
    for c in prange(chunk_buf.shape[0]):
        b = chunk_buf[c]
        begin = chunk_begin[c]
        n = min(begin + chunk_elems, numel[b]) - begin
        _average_span_f32(in_addrs, out_addrs, out_start[b], out_start[b + 1], b * k, k, begin, n)


@njit(cache=True, parallel=True)
def average_chunks_f64(
    in_addrs: Any,
    out_addrs: Any,
    out_start: Any,
    numel: Any,
    chunk_buf: Any,
    chunk_begin: Any,
    chunk_elems: int,
    k: int,
) -> None:
    """float64 twin of :func:`average_chunks_f32`."""
    for c in prange(chunk_buf.shape[0]):
        b = chunk_buf[c]
        begin = chunk_begin[c]
        n = min(begin + chunk_elems, numel[b]) - begin
        _average_span_f64(in_addrs, out_addrs, out_start[b], out_start[b + 1], b * k, k, begin, n)


@njit(cache=True)
def average_chunks_f32_serial(
    in_addrs: Any,
    out_addrs: Any,
    out_start: Any,
    numel: Any,
    chunk_buf: Any,
    chunk_begin: Any,
    chunk_elems: int,
    k: int,
) -> None:
    """:func:`average_chunks_f32` on one thread."""
    for c in range(chunk_buf.shape[0]):
        b = chunk_buf[c]
        begin = chunk_begin[c]
        n = min(begin + chunk_elems, numel[b]) - begin
        _average_span_f32(in_addrs, out_addrs, out_start[b], out_start[b + 1], b * k, k, begin, n)


@njit(cache=True)
def average_chunks_f64_serial(
    in_addrs: Any,
    out_addrs: Any,
    out_start: Any,
    numel: Any,
    chunk_buf: Any,
    chunk_begin: Any,
    chunk_elems: int,
    k: int,
) -> None:
    """:func:`average_chunks_f64` on one thread."""
    for c in range(chunk_buf.shape[0]):
        b = chunk_buf[c]
        begin = chunk_begin[c]
        n = min(begin + chunk_elems, numel[b]) - begin
        _average_span_f64(in_addrs, out_addrs, out_start[b], out_start[b + 1], b * k, k, begin, n)


# ------------------------------------------------------------- launchers (the names of _cuda's)
def multi_zero_bytes(
    addrs: Any, nbytes: Any, chunk_buf: Any, chunk_begin: Any, chunk: int,
    *, big_enough: bool = True, min_threads: int = 1,
) -> None:  # fmt: skip
    """The host twin of ``_cuda.multi_zero_bytes``: zero every chunk of the table, in parallel
    when the job is ``big_enough`` and the thread policy gives at least ``min_threads``
    (through :func:`mxlite._threads.launch`, which serializes parallel Numba launches)."""
    _threads.launch(
        zero_chunks,
        addrs,
        nbytes,
        chunk_buf,
        chunk_begin,
        chunk,
        serial=zero_chunks_serial,
        big_enough=big_enough,
        min_threads=min_threads,
    )


def multi_average(
    family: str, in_addrs: Any, out_addrs: Any, numel: Any, chunk_buf: Any, chunk_begin: Any,
    chunk: int, k: int, *, out_start: Any, big_enough: bool = True, min_threads: int = 1,
) -> None:  # fmt: skip
    """The host twin of ``_cuda.multi_average`` for dtype name ``family`` ('float32' or
    'float64'); buffer b's outputs are ``out_addrs[out_start[b]:out_start[b + 1]]`` (the GPU
    launcher writes one output per buffer and copies)."""
    kernels = _AVERAGE[family]
    _threads.launch(
        kernels[0],
        in_addrs,
        out_addrs,
        out_start,
        numel,
        chunk_buf,
        chunk_begin,
        chunk,
        k,
        serial=kernels[1],
        big_enough=big_enough,
        min_threads=min_threads,
    )


_AVERAGE = {
    "float32": (average_chunks_f32, average_chunks_f32_serial),
    "float64": (average_chunks_f64, average_chunks_f64_serial),
}
