"""The benchmarked operations, on mxlite and on each importable peer.

Every case returns a list of result rows ``{case, set, ctx, impl, seconds, bytes}``; the harness
turns them into ratios against the peer measured in the same run and against the physical limit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

import mxlite as mx
from bench.sets import ParamSet
from bench.timing import median_time
from mxlite.ndarray.atomic_file import wait_for_pending_releases

Row = dict[str, Any]


def _row(case: str, pset: ParamSet, ctx: str, impl: str, seconds: float, nbytes: int) -> Row:
    return {
        "case": case,
        "set": pset.name,
        "tensors": pset.count,
        "ctx": ctx,
        "impl": impl,
        "seconds": seconds,
        "bytes": nbytes,
        "GBps": nbytes / seconds / 1e9 if seconds > 0 else float("inf"),
    }


def make_params(pset: ParamSet, ctx: list[mx.Context], init: Any = None) -> Any:
    """A ParameterDict holding ``pset`` initialized on ``ctx``."""
    params = mx.gluon.ParameterDict()
    for name, shape in zip(pset.names(), pset.shapes, strict=True):
        # 1-d parameters (biases, norm gains) get zeros: Xavier refuses vectors, as in MXNet.
        params.get(name, shape=shape, init="zeros" if len(shape) == 1 else None)
    params.initialize(init if init is not None else mx.init.Uniform(), ctx=ctx)
    return params


def mxlite_cases(pset: ParamSet, ctx: mx.Context, repeat: int) -> list[Row]:
    """init (Xavier, Uniform, Normal), zero_grad, save, load and optimizer steps on one context."""
    rows: list[Row] = []
    label = str(ctx)
    params = make_params(pset, [ctx])
    for init_name, init in (
        ("init_xavier", mx.init.Xavier()),
        ("init_uniform", mx.init.Uniform()),
        ("init_normal", mx.init.Normal()),
    ):
        seconds = median_time(
            lambda init=init: params.initialize(init, ctx=[ctx], force_reinit=True), repeat=repeat
        )
        rows.append(_row(init_name, pset, label, "mxlite", seconds, pset.nbytes))
    rows.append(
        _row(
            "zero_grad",
            pset,
            label,
            "mxlite",
            median_time(params.zero_grad, repeat=repeat),
            pset.nbytes,
        )
    )
    grads = [p.grad(ctx) for p in params.values()]

    def loop_zero() -> None:
        for g in grads:
            g[:] = 0

    rows.append(
        _row(
            "zero_grad",
            pset,
            label,
            "per-tensor loop",
            median_time(loop_zero, repeat=repeat),
            pset.nbytes,
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.params")
        rows.append(
            _row(
                "save",
                pset,
                label,
                "mxlite",
                # A checkpoint is rarely saved twice in a row: the old file that the previous
                # save replaced is released (a background close, see atomic_file) before each
                # timed save, untimed. Back to back, the release shares the disk with the next
                # save's fsync (S2: 211-227 ms instead of 172-187 ms on the 2-vCPU machine).
                median_time(
                    lambda: params.save(path), repeat=repeat, settle=wait_for_pending_releases
                ),
                pset.nbytes,
            )
        )
        rows.append(
            _row(
                "load",
                pset,
                label,
                "mxlite",
                median_time(lambda: params.load(path, ctx=[ctx]), repeat=repeat),
                pset.nbytes,
            )
        )
    for opt_name, kwargs in (("sgd", {"momentum": 0.9}), ("adam", {})):
        rows.append(_optimizer_row(params, pset, ctx, opt_name, kwargs, repeat))
    return rows


def _optimizer_row(
    params: Any, pset: ParamSet, ctx: mx.Context, name: str, kwargs: dict[str, Any], repeat: int
) -> Row:
    optimizer = mx.optimizer.create(name, learning_rate=0.01, **kwargs)
    updater = mx.optimizer.get_updater(optimizer)
    weights = [p.data(ctx) for p in params.values()]
    grads = [p.grad(ctx) for p in params.values()]
    idx = list(range(len(weights)))

    def step() -> None:
        updater(idx, grads, weights)

    # bytes: read weight + grad + states, write weight + states (momentum: 1 state, adam: 2).
    states = 1 if name == "sgd" else 2
    nbytes = pset.nbytes * (2 + 2 * states + 1)
    return _row(f"step_{name}", pset, str(ctx), "mxlite", median_time(step, repeat=repeat), nbytes)


def reset_ctx_case(pset: ParamSet, repeat: int) -> list[Row]:
    """Move replicas from [cpu(0), cpu(1)] to [cpu(2), cpu(3)] and back (averaging first)."""
    a, b = [mx.cpu(0), mx.cpu(1)], [mx.cpu(2), mx.cpu(3)]
    params = make_params(pset, a)
    state = {"at": a}

    def flip() -> None:
        state["at"] = b if state["at"] is a else a
        params.reset_ctx(state["at"])

    return [
        _row(
            "reset_ctx_2",
            pset,
            "cpu x2",
            "mxlite",
            median_time(flip, repeat=repeat),
            2 * pset.nbytes,
        )
    ]


def torch_device_usable(device: str) -> bool:
    """Whether PyTorch is installed and can use ``device`` ('cpu', 'cuda:0'): a CPU-only build
    (the CI's, or a GPU image's pip default on some platforms) has no CUDA."""
    try:
        import torch
    except ImportError:
        return False
    if not device.startswith("cuda"):
        return True
    return bool(torch.cuda.is_available()) and torch.cuda.device_count() > 0


def torch_cases(pset: ParamSet, device: str, repeat: int) -> list[Row]:
    """PyTorch peers: per-tensor init loops, one flat uniform_, _foreach_zero_, fused optimizers.

    No rows when PyTorch is missing or cannot use ``device``."""
    if not torch_device_usable(device):
        return []
    import torch

    rows: list[Row] = []
    dev = torch.device(device)
    tensors = [torch.empty(s, device=dev) for s in pset.shapes]
    sync: Callable[[], None] = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def loop_uniform() -> None:
        for t in tensors:
            torch.nn.init.uniform_(t, -0.07, 0.07)

    def loop_xavier() -> None:
        for t in tensors:
            if t.dim() >= 2:
                torch.nn.init.xavier_uniform_(t)
            else:
                t.zero_()

    rows.append(
        _row(
            "init_uniform",
            pset,
            device,
            "torch per-tensor",
            median_time(loop_uniform, repeat=repeat, sync=sync),
            pset.nbytes,
        )
    )
    rows.append(
        _row(
            "init_xavier",
            pset,
            device,
            "torch per-tensor",
            median_time(loop_xavier, repeat=repeat, sync=sync),
            pset.nbytes,
        )
    )
    flat = torch.empty(pset.numel, device=dev)
    rows.append(
        _row(
            "init_uniform",
            pset,
            device,
            "torch flat uniform_",
            median_time(lambda: flat.uniform_(-0.07, 0.07), repeat=repeat, sync=sync),
            pset.nbytes,
        )
    )
    rows.append(
        _row(
            "init_normal",
            pset,
            device,
            "torch flat normal_",
            median_time(lambda: flat.normal_(0, 0.01), repeat=repeat, sync=sync),
            pset.nbytes,
        )
    )
    rows.append(
        _row(
            "fill",
            pset,
            device,
            "flat memset",
            median_time(lambda: flat.zero_(), repeat=repeat, sync=sync),
            pset.nbytes,
        )
    )
    rows.append(
        _row(
            "zero_grad",
            pset,
            device,
            "torch _foreach_zero_",
            median_time(lambda: torch._foreach_zero_(tensors), repeat=repeat, sync=sync),
            pset.nbytes,
        )
    )
    params = [torch.nn.Parameter(t) for t in tensors]
    for p in params:
        p.grad = torch.zeros_like(p)
    fused = dev.type == "cuda"
    for name, opt in (
        ("sgd", torch.optim.SGD(params, lr=0.01, momentum=0.9, fused=fused or None)),
        ("adam", torch.optim.Adam(params, lr=0.01, fused=fused or None)),
    ):
        states = 1 if name == "sgd" else 2
        impl = "torch fused" if fused else "torch foreach"
        rows.append(
            _row(
                f"step_{name}",
                pset,
                device,
                impl,
                median_time(opt.step, repeat=repeat, sync=sync),
                pset.nbytes * (3 + 2 * states),
            )
        )
    return rows


def numpy_limits(pset: ParamSet, repeat: int) -> list[Row]:
    """One flat fill and one flat copy of the same bytes on the host: the CPU's physical limit."""
    flat = np.empty(pset.numel, dtype=np.float32)
    other = np.empty_like(flat)
    rows = [
        _row(
            "fill",
            pset,
            "cpu(0)",
            "flat memset",
            median_time(lambda: flat.fill(0), repeat=repeat),
            pset.nbytes,
        )
    ]
    rows.append(
        _row(
            "copy",
            pset,
            "cpu(0)",
            "flat copy",
            median_time(lambda: np.copyto(other, flat), repeat=repeat),
            2 * pset.nbytes,
        )
    )
    return rows
