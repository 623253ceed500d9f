"""Multi-tensor zero and replica average: one launch per (device) over a cached chunk table.

A *plan* is built once for a fixed list of buffers: it records their addresses and sizes and
splits them into chunks (the table the kernels walk). Running a plan is one kernel launch (one
parallel Numba loop on the CPU), whatever the number of buffers. Callers that zero the same
buffers again and again (``ParameterDict.zero_grad``) keep the plan and rebuild it only when the
set of buffers changes; a plan holds references to its buffers, so their addresses stay valid.

NumPy reference semantics (what the tests trust): zero sets every element to 0; average writes
``(in_0 + ... + in_{k-1}) / k``, summed in replica order in the buffer's dtype (float32 for
float16 on the GPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import _threads, backend

__all__ = [
    "ZeroPlan",
    "AveragePlan",
    "multi_zero",
    "multi_average",
    "chunk_table",
    "gpu_chunk_bytes",
    "device_tables",
]

CPU_CHUNK_BYTES = 1 << 20
# GPU launches: one 256-thread block per chunk. A fixed 256 KiB gave ResNet-50's parameters
# (161 buffers, 102 MB) 508 blocks, under half a wave on a 132-SM H100 (8 such blocks fit on an
# SM), so the memory system saw too few requests in flight. The chunk is the largest power of two
# from GPU_MIN_CHUNK_BYTES to GPU_CHUNK_BYTES that still gives GPU_WAVES full waves
# (gpu_chunk_bytes): 32 KiB and 3223 blocks there. `make gpu-check` times both on the card.
GPU_CHUNK_BYTES = 1 << 18
GPU_MIN_CHUNK_BYTES = 1 << 14
GPU_BLOCKS_PER_SM = 8  # 256-thread blocks resident per SM at full occupancy (2048 threads)
GPU_WAVES = 2
# Host plans run on one thread unless they move at least this many bytes and Numba has at least
# this many threads. Averaging reads k buffers per write and one core already runs it at the
# memory bandwidth: on 2 shared vCPUs a 400 MB in-place average took 16 ms on one thread and 22 ms
# on two, S2's 2 x 102 MB 17-18 ms either way. Zeroing is write-only and does scale: S1's 32 MB
# in 2.0 ms on one thread, 1.0-1.2 ms on two; S2's 102 MB in 8.5 vs 6.5 ms (quiet machine). A
# parallel region waits for its slowest thread, so where another process keeps a core busy the
# two-thread zero of S1 varied from 1.8 to 6 ms against 2.5-2.9 ms on one thread: on such a
# machine, NUMBA_NUM_THREADS=1 keeps every host kernel on one thread.
PARALLEL_MIN_BYTES = 1 << 27
PARALLEL_MIN_THREADS = 4
ZERO_PARALLEL_MIN_BYTES = 1 << 23
ZERO_PARALLEL_MIN_THREADS = 2


def _host_parallel(
    nbytes: int, min_bytes: int = PARALLEL_MIN_BYTES, min_threads: int = PARALLEL_MIN_THREADS
) -> bool:
    """Whether a host plan moving ``nbytes`` should use the parallel kernels."""
    if nbytes < min_bytes:
        return False
    return _threads.numba_threads() >= min_threads


# Below this many buffers, a device memset per buffer beats building a table.
_GPU_MEMSET_MAX_BUFFERS = 4
_CPU_FILL_MAX_BYTES = 1 << 16


def gpu_chunk_bytes(total_bytes: int, sms: int) -> int:
    """Bytes per chunk of a GPU launch over ``total_bytes`` on a GPU with ``sms`` multiprocessors:
    the largest power of two in [GPU_MIN_CHUNK_BYTES, GPU_CHUNK_BYTES] that gives at least
    ``GPU_WAVES * sms * GPU_BLOCKS_PER_SM`` chunks (one block each)."""
    target = GPU_WAVES * max(1, sms) * GPU_BLOCKS_PER_SM
    chunk = GPU_CHUNK_BYTES
    while chunk > GPU_MIN_CHUNK_BYTES and total_bytes // chunk < target:
        chunk //= 2
    return chunk


def chunk_table(sizes: Sequence[int] | np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Split buffers of ``sizes`` units into chunks of at most ``chunk`` units.

    Returns ``(chunk_buf, chunk_begin)``: the buffer index and first unit of every chunk.
    """
    sizes_arr = np.asarray(sizes, dtype=np.int64)
    counts = (sizes_arr + chunk - 1) // chunk
    chunk_buf = np.repeat(np.arange(len(sizes_arr), dtype=np.int32), counts)
    starts = np.zeros(len(sizes_arr), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    chunk_begin = (np.arange(len(chunk_buf), dtype=np.int64) - np.repeat(starts, counts)) * chunk
    return chunk_buf, chunk_begin


def _address(arr: Any) -> int:
    if backend.is_gpu_array(arr):
        return int(arr.data.ptr)
    return int(arr.__array_interface__["data"][0])


def _host_addresses(arrays: Sequence[Any]) -> np.ndarray:
    """``int64`` addresses of host arrays (Numba's accessor: a tenth of ``arr.ctypes.data``)."""
    from mxlite.ops._cpu_primitives import data_address

    try:
        return np.array([data_address(a) for a in arrays], dtype=np.int64)
    except Exception:  # dtypes Numba cannot type (float16, bfloat16): the interface dict
        return np.array([_address(a) for a in arrays], dtype=np.int64)


_MIXED_DEVICES = (
    "AveragePlan: every replica and output of a launch must live on {where} (the kernel "
    "dereferences their raw addresses there); move the replicas to the output's device first."
)


def _gpu_addresses(arrays: Sequence[Any], device_id: int) -> np.ndarray:
    """``uint64`` device addresses of CuPy arrays that must all live on GPU ``device_id``."""
    out = np.empty(len(arrays), dtype=np.uint64)
    for j, arr in enumerate(arrays):
        if not backend.is_gpu_array(arr) or int(arr.device.id) != device_id:
            raise ValueError(_MIXED_DEVICES.format(where=f"GPU {device_id}"))
        out[j] = arr.data.ptr
    return out


def device_tables(cp: Any, parts: Sequence[np.ndarray]) -> list[Any]:
    """Copy host tables to the current GPU in one transfer; returns a device view of each.

    Every part starts on an 8-byte boundary of one packed buffer, so views of any 1-, 4- or
    8-byte dtype are aligned.
    """
    offsets, total = [], 0
    for part in parts:
        offsets.append(total)
        total += -(-part.nbytes // 8) * 8
    packed = np.zeros(max(total, 8), dtype=np.uint8)
    for part, off in zip(parts, offsets):
        packed[off : off + part.nbytes] = np.ascontiguousarray(part).view(np.uint8).reshape(-1)
    dev = cp.asarray(packed)
    return [dev[off : off + part.nbytes].view(part.dtype) for part, off in zip(parts, offsets)]


def _contiguous(arr: Any) -> bool:
    return bool(arr.flags.c_contiguous)


class ZeroPlan:
    """Zero a fixed list of buffers that live on one device, in one launch.

    Args:
        arrays: raw numpy arrays (all on the host) or cupy arrays (all on one GPU).
    """

    def __init__(self, arrays: Sequence[Any]) -> None:
        self._arrays = [a for a in arrays if a.size]
        self._strided = [a for a in self._arrays if not _contiguous(a)]
        dense = [a for a in self._arrays if _contiguous(a)]
        self._gpu = bool(dense) and backend.is_gpu_array(dense[0])
        self._dense = dense
        self._table: tuple[Any, ...] | None = None
        self._nbytes = 0
        if not dense:
            return
        if self._gpu and len(dense) <= _GPU_MEMSET_MAX_BUFFERS:
            return
        if not self._gpu and sum(a.nbytes for a in dense) <= _CPU_FILL_MAX_BYTES:
            return
        nbytes = np.array([a.nbytes for a in dense], dtype=np.int64)
        chunk = CPU_CHUNK_BYTES
        if self._gpu:
            from mxlite.ops import _cuda

            chunk = gpu_chunk_bytes(int(nbytes.sum()), _cuda.sm_count(int(dense[0].device.id)))
        if self._gpu:
            addrs = np.array([_address(a) for a in dense], dtype=np.uint64)
        else:
            addrs = _host_addresses(dense)
        chunk_buf, chunk_begin = chunk_table(nbytes, chunk)
        if self._gpu:
            cp = backend.xp_of(dense[0])
            with cp.cuda.Device(dense[0].device.id):
                self._table = (*device_tables(cp, [addrs, nbytes, chunk_buf, chunk_begin]), chunk)
        else:
            self._table = (addrs, nbytes, chunk_buf, chunk_begin, chunk)
            self._nbytes = int(nbytes.sum())

    def __call__(self) -> None:
        for arr in self._strided:
            arr[...] = 0
        if not self._dense:
            return
        if self._table is None:
            self._zero_each()
            return
        if self._gpu:
            from mxlite.ops import _cuda

            addrs, nbytes, chunk_buf, chunk_begin, chunk = self._table
            with backend.xp_of(self._dense[0]).cuda.Device(self._dense[0].device.id):
                _cuda.multi_zero_bytes(addrs, nbytes, chunk_buf, chunk_begin, chunk)
        else:
            from mxlite.ops import _cpu_multi

            _threads.launch(
                _cpu_multi.zero_chunks,
                *self._table,
                serial=_cpu_multi.zero_chunks_serial,
                big_enough=self._nbytes >= ZERO_PARALLEL_MIN_BYTES,
                min_threads=ZERO_PARALLEL_MIN_THREADS,
            )

    def runs_parallel(self) -> bool:
        """Whether a host call now runs the parallel kernel (big enough, and the thread policy
        gives Numba at least :data:`ZERO_PARALLEL_MIN_THREADS` threads)."""
        return _host_parallel(self._nbytes, ZERO_PARALLEL_MIN_BYTES, ZERO_PARALLEL_MIN_THREADS)

    def _zero_each(self) -> None:
        if self._gpu:
            cp = backend.xp_of(self._dense[0])
            with cp.cuda.Device(self._dense[0].device.id):
                stream = cp.cuda.get_current_stream().ptr
                for arr in self._dense:
                    cp.cuda.runtime.memsetAsync(arr.data.ptr, 0, arr.nbytes, stream)
        else:
            for arr in self._dense:
                arr.fill(0)


def _by_device(arrays: Sequence[Any]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for arr in arrays:
        dev = ("gpu", int(arr.device.id)) if backend.is_gpu_array(arr) else ("cpu", 0)
        groups.setdefault(dev, []).append(arr)
    return groups


def multi_zero(arrays: Sequence[Any]) -> None:
    """Zero every array: one launch per device (plans are not cached here)."""
    for group in _by_device(arrays).values():
        ZeroPlan(group)()


class AveragePlan:
    """``out[t] = mean(replicas[t])`` for many buffers at once, all on one device.

    Args:
        replicas: per buffer, the list of its k replica arrays (same shape and dtype, same
            device as ``outs``; move them there first).
        outs: per buffer, the array to write, or a non-empty list of arrays that all receive
            the mean (host replicas of several CPU contexts share memory: ``reset_ctx`` writes
            the mean into all of them in one pass). The first output may be replica 0 of its
            buffer; further outputs may be any of its replicas.
    """

    def __init__(self, replicas: Sequence[Sequence[Any]], outs: Sequence[Any]) -> None:
        if len(replicas) != len(outs):
            raise ValueError(f"{len(replicas)} replica lists but {len(outs)} outputs")
        ks = {len(r) for r in replicas}
        if len(ks) > 1:
            raise ValueError(f"every buffer needs the same number of replicas, got {sorted(ks)}")
        self._k = ks.pop() if ks else 0
        self._replicas = [list(r) for r in replicas]
        self._outs = [list(o) if isinstance(o, (list, tuple)) else [o] for o in outs]
        if any(not o for o in self._outs):
            raise ValueError("every buffer needs at least one output array")
        self._groups: dict[str, list[int]] = {}
        for i, out in enumerate(self._outs):
            if out[0].size == 0:
                continue
            # The kernels read every replica as ``out``'s dtype and size: anything else (mixed
            # dtypes, broadcasting) takes the per-buffer path with NumPy semantics.
            first = out[0]
            fast = all(
                _contiguous(o) and o.dtype == first.dtype and o.shape == first.shape for o in out
            ) and all(
                _contiguous(r) and r.dtype == first.dtype and r.shape == first.shape
                for r in self._replicas[i]
            )
            name = first.dtype.name
            family = name if fast and name in ("float32", "float64", "float16") else "slow"
            self._groups.setdefault(family, []).append(i)

    def __call__(self) -> None:
        for family, idxs in self._groups.items():
            if family == "slow" or (family == "float16" and not self._gpu(idxs)):
                for i in idxs:
                    self._average_one(i)
                continue
            self._launch(family, idxs)

    def _gpu(self, idxs: list[int]) -> bool:
        return backend.is_gpu_array(self._outs[idxs[0]][0])

    def _average_one(self, i: int) -> None:
        reps = self._replicas[i]
        acc = reps[0].copy()
        for rep in reps[1:]:
            acc += rep
        mean = acc / acc.dtype.type(self._k)
        for out in self._outs[i]:
            out[...] = mean

    def _launch(self, family: str, idxs: list[int]) -> None:
        k = self._k
        itemsize = np.dtype(family).itemsize
        numel = np.array([self._outs[i][0].size for i in idxs], dtype=np.int64)
        ins = [r for i in idxs for r in self._replicas[i]]
        if self._gpu(idxs):
            self._launch_gpu(family, idxs, ins, numel, itemsize)
            return
        from mxlite.ops import _cpu_multi

        outs = [o for i in idxs for o in self._outs[i]]
        if any(backend.is_gpu_array(a) for a in (*ins, *outs)):
            raise ValueError(_MIXED_DEVICES.format(where="the host"))
        out_start = np.zeros(len(idxs) + 1, dtype=np.int64)
        np.cumsum([len(self._outs[i]) for i in idxs], out=out_start[1:])
        in_addrs, out_addrs = _host_addresses(ins), _host_addresses(outs)
        chunk = CPU_CHUNK_BYTES // itemsize
        chunk_buf, chunk_begin = chunk_table(numel, chunk)
        traffic = int(numel.sum()) * itemsize * (k + len(outs) // max(1, len(idxs)))
        name = f"average_chunks_{'f32' if family == 'float32' else 'f64'}"
        _threads.launch(
            getattr(_cpu_multi, name),
            in_addrs,
            out_addrs,
            out_start,
            numel,
            chunk_buf,
            chunk_begin,
            chunk,
            k,
            serial=getattr(_cpu_multi, name + "_serial"),
            big_enough=traffic >= PARALLEL_MIN_BYTES,
            min_threads=PARALLEL_MIN_THREADS,
        )

    def _launch_gpu(
        self, family: str, idxs: list[int], ins: list[Any], numel: np.ndarray, itemsize: int
    ) -> None:
        """One ``multi_average`` launch into each buffer's first output, then device copies
        into the others."""
        from mxlite.ops import _cuda

        k = self._k
        first = self._outs[idxs[0]][0]
        dev = int(first.device.id)
        in_addrs = _gpu_addresses(ins, dev)
        out_addrs = _gpu_addresses([self._outs[i][0] for i in idxs], dev)
        _gpu_addresses([o for i in idxs for o in self._outs[i][1:]], dev)  # checked, not launched
        chunk = gpu_chunk_bytes(int(numel.sum()) * itemsize, _cuda.sm_count(dev)) // itemsize
        chunk_buf, chunk_begin = chunk_table(numel, chunk)
        cp = backend.xp_of(first)
        with cp.cuda.Device(first.device.id):
            tables = device_tables(cp, [in_addrs, out_addrs, numel, chunk_buf, chunk_begin])
            ins_d, outs_d, numel_d, buf_d, begin_d = tables
            _cuda.multi_average(family, ins_d, outs_d, numel_d, buf_d, begin_d, chunk, k)
            for i in idxs:
                for extra in self._outs[i][1:]:
                    cp.copyto(extra, self._outs[i][0])


def multi_average(replicas: Sequence[Sequence[Any]], outs: Sequence[Any]) -> None:
    """Average replicas into ``outs`` (see :class:`AveragePlan`); arrays must share one device."""
    AveragePlan(replicas, outs)()
