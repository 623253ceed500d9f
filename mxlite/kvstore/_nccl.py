"""NCCL through CuPy for the GPU buffers of the distributed device stores.

One NCCL communicator per worker, on the worker's communication GPU (the first GPU its pushed
values live on; one process per GPU is the usual layout, ``mx.gpu(kv.local_rank)``). Rank 0 makes
the NCCL unique id and broadcasts it over MPI; the communicator is created collectively the first
time a GPU group is reduced. The collectives mirror :class:`mxlite.kvstore._mpi.World`'s (raw
bytes, sums done by mxlite in a fixed order) and are queued on the device's current stream with
no host staging; :meth:`NcclTransport.finish` waits for that stream under the watchdog, so a
dead peer ends the job (``ncclCommAbort``, then ``MPI_Abort``) instead of hanging it.

``cupy.cuda.nccl`` is imported here, after :mod:`mxlite.backend` has found CuPy usable.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import MXNetError
from mxlite.context import Context
from mxlite.kvstore._mpi import World

__all__ = ["NcclTransport"]

_NCCL_ID_BYTES = 128
_MSG_NO_NCCL = (
    "kvstore {name!r} reduces GPU buffers with NCCL, but CuPy cannot use NCCL here "
    "({why}). Install NCCL for your CUDA version (for example: pip install nvidia-nccl-cu12, "
    "or see CuPy's installation guide, 'Additional CUDA Libraries'), or use 'dist_sync', which "
    "reduces on the host over MPI."
)


def _import_nccl(name: str) -> Any:
    try:
        nccl = importlib.import_module("cupy.cuda.nccl")
    except ImportError as err:
        raise MXNetError(_MSG_NO_NCCL.format(name=name, why=err)) from err
    if not getattr(nccl, "available", False):
        raise MXNetError(_MSG_NO_NCCL.format(name=name, why="cupy.cuda.nccl.available is False"))
    return nccl


class NcclTransport:
    """NCCL collectives on one GPU of this worker, for all workers of ``world``.

    Creating one is collective (every worker creates its own at the same point).

    Args:
        world: the store's workers (MPI carries the unique id).
        ctx: this worker's communication GPU.

    Raises:
        MXNetError: CuPy has no usable NCCL.
    """

    def __init__(self, world: World, ctx: Context) -> None:
        self.world = world
        self.ctx = ctx
        self.cp = backend.get_xp(ctx)
        self.nccl = _import_nccl(world.name)
        uid = np.zeros(_NCCL_ID_BYTES, dtype=np.int8)
        if world.rank == 0:
            uid[:] = np.array(self.nccl.get_unique_id(), dtype=np.int64).astype(np.int8)
        world.bcast(uid, "sharing the NCCL unique id")
        with self.cp.cuda.Device(ctx.device_id):
            with world.guard("creating the NCCL communicator", self._abort_comm):
                self.comm = self.nccl.NcclCommunicator(
                    world.size, tuple(int(b) for b in uid), world.rank
                )

    def _abort_comm(self) -> None:
        comm = getattr(self, "comm", None)
        if comm is not None:
            comm.abort()

    def _stream(self) -> int:
        with self.cp.cuda.Device(self.ctx.device_id):
            return int(self.cp.cuda.get_current_stream().ptr)

    def alltoallv(
        self,
        send: Any,
        send_counts: Sequence[int],
        recv: Any,
        recv_counts: Sequence[int],
        what: str,
    ) -> None:
        """As :meth:`World.alltoallv`, on device arrays: one NCCL group of sends and receives."""
        item = send.itemsize
        byte = self.nccl.NCCL_UINT8
        stream = self._stream()
        send_ptr, recv_ptr = send.data.ptr, recv.data.ptr
        if not any(send_counts) and not any(recv_counts):
            return
        self.nccl.groupStart()
        try:
            s_off = r_off = 0
            for peer, (sc, rc) in enumerate(zip(send_counts, recv_counts)):
                if sc:
                    self.comm.send(send_ptr + s_off, sc * item, byte, peer, stream)
                if rc:
                    self.comm.recv(recv_ptr + r_off, rc * item, byte, peer, stream)
                s_off += sc * item
                r_off += rc * item
        finally:
            self.nccl.groupEnd()

    def allgather_inplace(self, buf: Any, count: int, what: str) -> None:
        """As :meth:`World.allgather_inplace`, on a device array (NCCL's in-place allGather)."""
        nbytes = count * buf.itemsize
        ptr = buf.data.ptr
        mine = ptr + self.world.rank * nbytes
        self.comm.allGather(mine, ptr, nbytes, self.nccl.NCCL_UINT8, self._stream())

    def finish(self, what: str) -> None:
        """Wait, under the watchdog, until the queued collectives are done."""
        with self.cp.cuda.Device(self.ctx.device_id):
            stream = self.cp.cuda.get_current_stream()
            with self.world.guard(what, self._abort_comm):
                stream.synchronize()
        self.comm.check_async_error()
