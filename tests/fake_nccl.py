"""``cupy.cuda.nccl`` for tests/fake_cupy.py: the NCCL calls mxlite makes, on fake device memory.

Fake device arrays live in host memory, so a device pointer is a host address. Collectives run
for real: between the processes of an ``mpiexec`` job through mpi4py (one fake GPU per process,
as one NCCL rank per GPU), and as local copies with one rank. Where real NCCL would hang or
fail, this one raises ``NcclError``: a rank or communicator size that does not match the MPI job,
unique ids that differ between ranks, point-to-point calls outside ``groupStart``/``groupEnd``.

Every call is recorded in :data:`CALLS` (a dict with ``op``, the comm's ``rank``, ``device``,
pointers, ``count``, ``datatype``, ``peer``/``root`` and ``stream``), so tests can check which
buffers, counts and streams mxlite hands to NCCL. Signatures follow CuPy 14's
``cupy_backends/cuda/libs/nccl.pyx``.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

import numpy as np

available = True

NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = 0, 1, 2, 3, 4
NCCL_INT8 = NCCL_CHAR = 0
NCCL_UINT8 = 1
NCCL_INT32 = NCCL_INT = 2
NCCL_UINT32 = 3
NCCL_INT64 = 4
NCCL_UINT64 = 5
NCCL_FLOAT16 = NCCL_HALF = 6
NCCL_FLOAT32 = NCCL_FLOAT = 7
NCCL_FLOAT64 = NCCL_DOUBLE = 8
NCCL_BFLOAT16 = 9
_BYTES = {0: 1, 1: 1, 2: 4, 3: 4, 4: 8, 5: 8, 6: 2, 7: 4, 8: 8, 9: 2}
_ID_BYTES = 128

CALLS: list[dict[str, Any]] = []
_GROUP: list[tuple[str, Any, int, int, Any]] | None = None  # pending send/recv in a group
_DEPTH = 0


class NcclError(RuntimeError):
    """Raised where real NCCL would fail (or hang)."""


def get_version() -> int:
    return 22_605


def get_build_version() -> int:
    return 22_605


def get_unique_id() -> tuple[int, ...]:
    """128 signed chars, as CuPy returns ncclUniqueId."""
    return tuple(int(b) for b in np.frombuffer(os.urandom(_ID_BYTES), dtype=np.int8))


def _memory(ptr: int, count: int, datatype: int) -> np.ndarray:
    """The bytes at fake device address ``ptr``."""
    if datatype not in _BYTES:
        raise NcclError(f"NCCL_ERROR_INVALID_ARGUMENT: unknown datatype {datatype}")
    nbytes = int(count) * _BYTES[datatype]
    if nbytes == 0:
        return np.empty(0, dtype=np.uint8)
    return np.frombuffer((ctypes.c_uint8 * nbytes).from_address(int(ptr)), dtype=np.uint8)


def groupStart() -> None:  # noqa: N802 - CuPy's name
    global _GROUP, _DEPTH
    if _DEPTH == 0:
        _GROUP = []
    _DEPTH += 1
    CALLS.append({"op": "groupStart"})


def groupEnd() -> None:  # noqa: N802 - CuPy's name
    global _GROUP, _DEPTH
    if _DEPTH == 0:
        raise NcclError("NCCL_ERROR_INVALID_USAGE: groupEnd without groupStart")
    _DEPTH -= 1
    CALLS.append({"op": "groupEnd"})
    if _DEPTH == 0:
        pending, _GROUP = _GROUP or [], None
        _run_p2p(pending)


def _run_p2p(pending: list[tuple[str, Any, int, int, Any]]) -> None:
    by_comm: dict[int, list[tuple[str, Any, int, int, Any]]] = {}
    for item in pending:
        by_comm.setdefault(id(item[4]), []).append(item)
    for items in by_comm.values():
        comm = items[0][4]
        if comm._mpi is None:  # one rank: each send to self feeds the next receive from self
            sends = [mem for op, mem, _, _, _ in items if op == "send"]
            recvs = [mem for op, mem, _, _, _ in items if op == "recv"]
            if len(sends) != len(recvs):
                raise NcclError("unmatched send/recv to self in one group (NCCL would hang)")
            for src, dst in zip(sends, recvs, strict=True):
                if src.size != dst.size:
                    raise NcclError("send/recv sizes differ (NCCL would fail)")
                dst[...] = src
            continue
        requests = []
        for op, mem, peer, _, _ in items:
            if op == "send":
                requests.append(comm._mpi.Isend(mem, dest=peer, tag=77))
            else:
                requests.append(comm._mpi.Irecv(mem, source=peer, tag=77))
        comm._mpi_module.Request.Waitall(requests)


class NcclCommunicator:
    """One rank of an NCCL communicator (``ncclCommInitRank``), on the current fake device."""

    def __init__(self, ndev: int, commId: tuple, rank: int) -> None:  # noqa: N803 - CuPy's name
        from tests import fake_cupy

        if not isinstance(commId, tuple) or len(commId) != _ID_BYTES:
            raise AssertionError("commId must be the 128-element tuple from get_unique_id()")
        if not 0 <= rank < ndev:
            raise NcclError(f"NCCL_ERROR_INVALID_ARGUMENT: rank {rank} of {ndev}")
        self._rank, self._size = int(rank), int(ndev)
        self._device = fake_cupy._current()
        self._mpi: Any = None
        self._mpi_module: Any = None
        if ndev > 1:
            from mpi4py import MPI

            world = MPI.COMM_WORLD
            if world.Get_size() != ndev or world.Get_rank() != rank:
                raise NcclError(
                    f"fake NCCL maps ranks to the MPI job: rank {rank} of {ndev} but MPI has "
                    f"rank {world.Get_rank()} of {world.Get_size()}"
                )
            self._mpi = world.Dup()
            self._mpi_module = MPI
            ids = self._mpi.allgather(commId)
            if any(i != ids[0] for i in ids):
                raise NcclError("the ranks passed different unique ids (NCCL would hang)")
        CALLS.append({"op": "init", "rank": rank, "size": ndev, "device": self._device})

    def _record(self, op: str, **fields: Any) -> None:
        CALLS.append({"op": op, "rank": self._rank, "device": self._device, **fields})
        # A collective on a stream runs after the work queued before it (the fake CuPy is
        # asynchronous): run that work now, then read or write the memory.
        from tests import fake_cupy_streams

        fake_cupy_streams.synchronize_device(self._device)

    def device_id(self) -> int:
        return self._device

    def rank_id(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def _p2p(self, op: str, ptr: int, count: int, datatype: int, peer: int, stream: int) -> None:
        if _GROUP is None:
            raise NcclError(f"{op} outside groupStart/groupEnd: matching sends and receives hang")
        if not 0 <= peer < self._size:
            raise NcclError(f"NCCL_ERROR_INVALID_ARGUMENT: peer {peer} of {self._size}")
        self._record(op, ptr=ptr, count=count, datatype=datatype, peer=peer, stream=stream)
        _GROUP.append((op, _memory(ptr, count, datatype), peer, count, self))

    def send(self, sendbuf: int, count: int, datatype: int, peer: int, stream: int) -> None:
        self._p2p("send", sendbuf, count, datatype, peer, stream)

    def recv(self, recvbuf: int, count: int, datatype: int, peer: int, stream: int) -> None:
        self._p2p("recv", recvbuf, count, datatype, peer, stream)

    def allGather(  # noqa: N802 - CuPy's name
        self, sendbuf: int, recvbuf: int, count: int, datatype: int, stream: int
    ) -> None:
        self._record(
            "allGather", sendbuf=sendbuf, recvbuf=recvbuf, count=count, datatype=datatype,
            stream=stream,
        )  # fmt: skip
        nbytes = int(count) * _BYTES[datatype]
        out = _memory(recvbuf, count * self._size, datatype)
        in_place = sendbuf == recvbuf + self._rank * nbytes
        if self._mpi is None:
            if not in_place:
                out[...] = _memory(sendbuf, count, datatype)
            return
        if in_place:
            self._mpi.Allgather(self._mpi_module.IN_PLACE, out)
        else:
            self._mpi.Allgather(_memory(sendbuf, count, datatype), out)

    def check_async_error(self) -> None:
        return None

    def abort(self) -> None:
        self._record("abort")

    def destroy(self) -> None:
        self._record("destroy")
