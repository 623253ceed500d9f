"""Forward and backward of each layer type of ResNet-18, mxlite against PyTorch (CPU).

    python -m bench.conv_layers                     # process CPU time, one thread per pool
    python -m bench.conv_layers --wall --threads 2  # wall time, two threads
    python -m bench.conv_layers --batch 8 --repeat 3 --only conv3x3

Each layer runs at its place in ResNet-18 with 224x224 inputs (batch 32 by default): the
forward pass (training mode), then forward plus backward (gradients of the input and the
parameters). The libraries alternate within each repeat; a figure is the median over repeats.
On a shared machine, CPU time with one thread per pool is the fair comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# name -> (kind, input shape without the batch, parameters)
LAYERS: dict[str, tuple[str, tuple[int, ...], dict[str, Any]]] = {
    "conv7x7 s2 (stem)": ("conv", (3, 224, 224), {"c": 64, "k": 7, "s": 2, "p": 3}),
    "conv3x3 64@56": ("conv", (64, 56, 56), {"c": 64, "k": 3, "s": 1, "p": 1}),
    "conv3x3 128@28": ("conv", (128, 28, 28), {"c": 128, "k": 3, "s": 1, "p": 1}),
    "conv3x3 256@14": ("conv", (256, 14, 14), {"c": 256, "k": 3, "s": 1, "p": 1}),
    "conv3x3 512@7": ("conv", (512, 7, 7), {"c": 512, "k": 3, "s": 1, "p": 1}),
    "conv3x3 s2 64->128": ("conv", (64, 56, 56), {"c": 128, "k": 3, "s": 2, "p": 1}),
    "conv1x1 s2 64->128": ("conv", (64, 56, 56), {"c": 128, "k": 1, "s": 2, "p": 0}),
    "batchnorm 64@112": ("bn", (64, 112, 112), {}),
    "relu 64@112": ("relu", (64, 112, 112), {}),
    "maxpool 3x3 s2 64@112": ("maxpool", (64, 112, 112), {}),
    "global avgpool 512@7": ("gap", (512, 7, 7), {}),
    "dense 512->1000": ("dense", (512,), {"c": 1000}),
}


def _mxlite_layer(kind: str, shape: tuple[int, ...], p: dict[str, Any], batch: int) -> Any:
    import mxlite as mx
    from mxlite import autograd

    rng = np.random.default_rng(0)
    x = mx.nd.array(rng.standard_normal((batch, *shape)).astype(np.float32))
    params: list[Any] = []
    if kind == "conv":
        params = [mx.nd.array(rng.standard_normal((p["c"], shape[0], p["k"], p["k"])) * 0.05)]
    elif kind == "bn":
        params = [mx.nd.ones(shape[0]), mx.nd.zeros(shape[0])]
        stats = [mx.nd.zeros(shape[0]), mx.nd.ones(shape[0])]
    elif kind == "dense":
        params = [mx.nd.array(rng.standard_normal((p["c"], shape[0])) * 0.05), mx.nd.zeros(p["c"])]
    for a in [x, *params]:
        a.attach_grad()

    def forward() -> Any:
        if kind == "conv":
            k, s, pad = p["k"], p["s"], p["p"]
            return mx.nd.Convolution(x, params[0], kernel=(k, k), stride=(s, s), pad=(pad, pad),
                                     num_filter=p["c"], no_bias=True)  # fmt: skip
        if kind == "bn":
            return mx.nd.BatchNorm(x, *params, *stats, fix_gamma=False)
        if kind == "relu":
            return mx.nd.relu(x)
        if kind == "maxpool":
            return mx.nd.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1))
        if kind == "gap":
            return mx.nd.Pooling(x, global_pool=True, pool_type="avg")
        return mx.nd.FullyConnected(x, *params, num_hidden=p["c"])

    def fwd() -> None:
        with autograd.train_mode():
            forward().wait_to_read()

    def fwd_bwd() -> None:
        with autograd.record():
            y = forward()
        y.backward()
        x.grad.wait_to_read()

    return fwd, fwd_bwd


def _torch_layer(kind: str, shape: tuple[int, ...], p: dict[str, Any], batch: int) -> Any:
    import torch
    import torch.nn.functional as fn

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((batch, *shape)).astype(np.float32), requires_grad=True)
    params: list[Any] = []
    if kind == "conv":
        w = rng.standard_normal((p["c"], shape[0], p["k"], p["k"])).astype(np.float32) * 0.05
        params = [torch.tensor(w, requires_grad=True)]
    elif kind == "bn":
        params = [
            torch.ones(shape[0], requires_grad=True),
            torch.zeros(shape[0], requires_grad=True),
        ]
        stats = [torch.zeros(shape[0]), torch.ones(shape[0])]
    elif kind == "dense":
        w = rng.standard_normal((p["c"], shape[0])).astype(np.float32) * 0.05
        params = [torch.tensor(w, requires_grad=True), torch.zeros(p["c"], requires_grad=True)]

    def forward() -> Any:
        if kind == "conv":
            return fn.conv2d(x, params[0], None, p["s"], p["p"])
        if kind == "bn":
            return fn.batch_norm(x, *stats, *params, training=True)
        if kind == "relu":
            return torch.relu(x)
        if kind == "maxpool":
            return fn.max_pool2d(x, 3, 2, 1)
        if kind == "gap":
            return fn.adaptive_avg_pool2d(x, 1)
        return fn.linear(x, *params)

    def fwd() -> None:
        with torch.no_grad():
            forward()

    def fwd_bwd() -> None:
        forward().sum().backward()

    return fwd, fwd_bwd


def _time(fn: Callable[[], None], clock: Callable[[], float]) -> float:
    start = clock()
    fn()
    return clock() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    parser.add_argument("--only", default="", help="run the layers whose name contains this")
    args = parser.parse_args(argv)
    import torch

    import mxlite

    mxlite.util.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.wall else time.process_time
    print(f"| layer (batch {args.batch}) | mxlite fwd ms | PyTorch fwd ms | mxlite / PyTorch "
          "| mxlite fwd+bwd ms | PyTorch fwd+bwd ms | mxlite / PyTorch |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, (kind, shape, p) in LAYERS.items():
        if args.only not in name:
            continue
        runs = {"m": _mxlite_layer(kind, shape, p, args.batch),
                "t": _torch_layer(kind, shape, p, args.batch)}  # fmt: skip
        times: dict[tuple[str, int], list[float]] = {}
        for lib in runs:  # warm-up: compilation, first allocations
            for i in (0, 1):
                runs[lib][i]()
        for _ in range(args.repeat):
            for lib in runs:
                for i in (0, 1):
                    times.setdefault((lib, i), []).append(_time(runs[lib][i], clock) * 1e3)
        med = {key: statistics.median(val) for key, val in times.items()}
        print(f"| {name} | {med[('m', 0)]:.1f} | {med[('t', 0)]:.1f} | "
              f"{med[('m', 0)] / med[('t', 0)]:.2f}x | {med[('m', 1)]:.1f} | {med[('t', 1)]:.1f} | "
              f"{med[('m', 1)] / med[('t', 1)]:.2f}x |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
