"""The training-step benchmark's script: one Gluon training loop, run unchanged under mxlite and
under real MXNet 1.9.1, and the same networks in PyTorch and as bare matrix products.

This file imports neither mxlite nor the benchmark package at module level, so the MXNet peer
runs it as a plain script in its own virtual environment::

    python bench/train_script.py --lib mxnet --case mlp --contexts 2 --steps 20

and prints one JSON object: ``{"lib", "case", "contexts", "batch", "step_ms": [...]}``.

Cases (batch = the global batch, split evenly over the contexts with ``split_and_load``):
    mlp:  Dense 784-512-512-10 (ReLU), batch 256.
    deep: 40 Dense layers (39 x 64 units with ReLU, then 10), input 64, batch 64.
    resnet18_32:  the model zoo's ResNet-18 v1 with ``thumbnail=True`` (CIFAR-style 3x3 stem),
        10 classes, batch 32 of 3x32x32 images.
    resnet18_224: the model zoo's ResNet-18 v1, 1000 classes, batch 32 of 3x224x224 images.
A step is forward + ``SoftmaxCrossEntropyLoss`` + backward + ``trainer.step`` (SGD, momentum 0.9)
+ reading the mean loss as a Python float, timed one step at a time. The ResNets are
``hybridize()``-d, as an MXNet user would (a no-op in mxlite); PyTorch runs the same ResNet-18
(its torchvision layout, written out here). The floor of the MLPs is their matrix products in
NumPy; for the ResNets, the products of mxlite's convolution algorithms (Winograd F(4x4,3x3)'s
36 batched products for the 3x3 stride-1 convolutions, one im2col product for the others) and
of the classifier, on random operands of the same shapes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

CASES: dict[str, dict[str, Any]] = {
    "mlp": {"in": 784, "hidden": [512, 512], "out": 10, "batch": 256},
    "deep": {"in": 64, "hidden": [64] * 39, "out": 10, "batch": 64},
    "resnet18_32": {"net": "resnet18_v1", "size": 32, "out": 10, "batch": 32, "thumbnail": True},
    "resnet18_224": {"net": "resnet18_v1", "size": 224, "out": 1000, "batch": 32,
                     "thumbnail": False},
}  # fmt: skip
# (stride, channels) of ResNet-18's four stages; two basic blocks each.
_RESNET18_STAGES = [(1, 64), (2, 128), (2, 256), (2, 512)]


# Wall time by default; ``--cpu-time`` measures the process's CPU time instead (all threads),
# which a shared machine's other load disturbs far less (meaningful with one thread per pool).
_clock = time.perf_counter


def _data(case: str, np: Any) -> tuple[Any, Any]:
    spec = CASES[case]
    rng = np.random.default_rng(0)
    shape = (
        (spec["batch"], 3, spec["size"], spec["size"])
        if "net" in spec
        else (spec["batch"], spec["in"])
    )
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, spec["out"], spec["batch"]).astype(np.float32)
    return x, y


def gluon_steps(
    mx: Any, case: str, n_ctx: int, steps: int, warmup: int, device: str = "cpu"
) -> list[float]:
    """Seconds per training step of the Gluon loop, on ``cpu(0) .. cpu(n_ctx - 1)`` (or the
    first ``n_ctx`` GPUs)."""
    import numpy as np

    gluon, autograd, nn = mx.gluon, mx.autograd, mx.gluon.nn
    spec = CASES[case]
    ctx = [(mx.gpu if device == "gpu" else mx.cpu)(i) for i in range(n_ctx)]
    mx.random.seed(1)
    if "net" in spec:
        net = gluon.model_zoo.vision.get_model(
            spec["net"], classes=spec["out"], thumbnail=spec["thumbnail"]
        )
        net.initialize(mx.init.Xavier(), ctx=ctx)
        net.hybridize()
    else:
        net = nn.Sequential()
        with net.name_scope():
            for units in spec["hidden"]:
                net.add(nn.Dense(units, activation="relu"))
            net.add(nn.Dense(spec["out"]))
        net.initialize(mx.init.Xavier(), ctx=ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(
        net.collect_params(), "sgd", {"learning_rate": 0.01, "momentum": 0.9, "wd": 1e-5}
    )
    x, y = _data(case, np)
    batch = spec["batch"]

    def step() -> float:
        xs = gluon.utils.split_and_load(x, ctx)
        ys = gluon.utils.split_and_load(y, ctx)
        with autograd.record():
            losses = [loss_fn(net(xb), yb) for xb, yb in zip(xs, ys)]
        for loss in losses:
            loss.backward()
        trainer.step(batch)
        return sum(float(loss.mean().asscalar()) for loss in losses) / len(losses)

    times = []
    for i in range(warmup + steps):
        start = _clock()
        step()
        if i >= warmup:
            times.append(_clock() - start)
    return times


def _torch_resnet18(torch: Any, classes: int, thumbnail: bool) -> Any:
    """ResNet-18 v1 in PyTorch, laid out as the model zoo's (and torchvision's)."""
    nn = torch.nn

    class Basic(nn.Module):
        def __init__(self, cin: int, c: int, stride: int) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(c)
            self.c2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(c)
            self.down = None
            if stride != 1 or cin != c:
                self.down = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False),
                                          nn.BatchNorm2d(c))  # fmt: skip

        def forward(self, x: Any) -> Any:
            residual = x if self.down is None else self.down(x)
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(residual + y)

    if thumbnail:
        layers: list[Any] = [nn.Conv2d(3, 64, 3, 1, 1, bias=False)]
    else:
        layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.MaxPool2d(3, 2, 1)]  # fmt: skip
    cin = 64
    for stride, c in _RESNET18_STAGES:
        layers += [Basic(cin, c, stride), Basic(c, c, 1)]
        cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


def torch_steps(case: str, steps: int, warmup: int, device: str = "cpu") -> list[float]:
    """Seconds per step of the same network in PyTorch (one process, ``foreach`` SGD)."""
    import numpy as np
    import torch

    dev = torch.device("cuda:0" if device == "gpu" else "cpu")
    spec = CASES[case]
    torch.manual_seed(1)
    if "net" in spec:
        net = _torch_resnet18(torch, spec["out"], spec["thumbnail"]).to(dev)
    else:
        layers: list[Any] = []
        width = spec["in"]
        for units in spec["hidden"]:
            layers += [torch.nn.Linear(width, units), torch.nn.ReLU()]
            width = units
        layers.append(torch.nn.Linear(width, spec["out"]))
        net = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-5, foreach=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = _data(case, np)
    xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).long().to(dev)
    times = []
    for i in range(warmup + steps):
        start = _clock()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
        float(loss.item())
        if i >= warmup:
            times.append(_clock() - start)
    return times


def _resnet18_products(spec: dict[str, Any]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The operand shapes of the matrix products of one ResNet-18 training step with mxlite's
    convolution algorithms: per convolution, the forward, the weight gradient and (but for the
    stem) the data gradient; then the classifier's three."""
    n, size = spec["batch"], spec["size"]
    shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def conv(cin: int, c: int, k: int, stride: int, hw: int, first: bool = False) -> int:
        out = (hw + 2 * (k // 2) - k) // stride + 1
        if k == 3 and stride == 1 and min(cin, c) >= 16 and out >= 4:  # Winograd F(4x4, 3x3)
            t = n * (-(-out // 4)) ** 2
            products = [((36, c, cin), (36, cin, t)), ((36, c, t), (36, t, cin))]
            if not first:
                products.append(((36, cin, c), (36, c, t)))
        else:  # one im2col product each
            p, kk = n * out * out, cin * k * k
            products = [((c, kk), (kk, p)), ((c, p), (p, kk))]
            if not first:
                products.append(((kk, c), (c, p)))
        shapes.extend(products)
        return out

    hw = conv(3, 64, 3, 1, size, True) if spec["thumbnail"] else conv(3, 64, 7, 2, size, True) // 2
    cin = 64
    for stride, c in _RESNET18_STAGES:
        mid = conv(cin, c, 3, stride, hw)
        conv(c, c, 3, 1, mid)
        if stride != 1:
            conv(cin, c, 1, stride, hw)
        conv(c, c, 3, 1, mid)
        conv(c, c, 3, 1, mid)
        hw, cin = mid, c
    shapes += [((n, 512), (512, spec["out"])), ((spec["out"], n), (n, 512)),
               ((n, spec["out"]), (spec["out"], 512))]  # fmt: skip
    return shapes


def floor_steps(case: str, steps: int, warmup: int, device: str = "cpu") -> list[float]:
    """Seconds per step of the step's matrix products alone, in NumPy (CuPy on a GPU): per layer
    the forward ``x @ W.T``, the weight gradient ``g.T @ x`` and (but for the first layer)
    ``g @ W``; for the ResNets, :func:`_resnet18_products`."""
    import numpy as np

    xp: Any = np
    if device == "gpu":
        import cupy as xp

    spec = CASES[case]
    rng = np.random.default_rng(0)
    if "net" in spec:
        pairs = [
            (xp.asarray(rng.standard_normal(a).astype(np.float32)),
             xp.asarray(rng.standard_normal(b).astype(np.float32)))
            for a, b in _resnet18_products(spec)
        ]  # fmt: skip
        return _time_products(xp, pairs, steps, warmup)
    widths = [spec["in"], *spec["hidden"], spec["out"]]
    weights = [
        xp.asarray((rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32))
        for i, o in zip(widths[:-1], widths[1:])
    ]
    x = xp.asarray(_data(case, np)[0])
    times = []
    for i in range(warmup + steps):
        start = _clock()
        acts = [x]
        for w in weights:
            acts.append(xp.matmul(acts[-1], w.T))
        g = acts[-1]
        for k in range(len(weights) - 1, -1, -1):
            xp.matmul(g.T, acts[k])
            if k:
                g = xp.matmul(g, weights[k])
        if xp is not np:
            xp.cuda.get_current_stream().synchronize()
        if i >= warmup:
            times.append(_clock() - start)
    return times


def _time_products(xp: Any, pairs: list[tuple[Any, Any]], steps: int, warmup: int) -> list[float]:
    import numpy as np

    times = []
    for i in range(warmup + steps):
        start = _clock()
        for a, b in pairs:
            xp.matmul(a, b)
        if xp is not np:
            xp.cuda.get_current_stream().synchronize()
        if i >= warmup:
            times.append(_clock() - start)
    return times


def _limit_threads(lib: str, n: int) -> None:
    """Every pool of ``lib`` on ``n`` threads (environment variables for the engines that read
    them at start-up, plus the library's own call)."""
    import os

    for var in ("OMP_NUM_THREADS", "MXNET_CPU_WORKER_NTHREADS"):
        os.environ[var] = str(n)
    if lib == "mxlite":
        import mxlite

        mxlite.util.set_num_threads(n)
    elif lib == "torch":
        import torch

        torch.set_num_threads(n)
    elif lib == "floor":
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", choices=["mxnet", "mxlite", "torch", "floor"], required=True)
    parser.add_argument("--case", choices=sorted(CASES), default="mlp")
    parser.add_argument("--contexts", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--cpu-time", action="store_true", help="time with process CPU time")
    parser.add_argument("--threads", type=int, default=None, help="threads per pool")
    args = parser.parse_args(argv)
    global _clock
    if args.cpu_time:
        _clock = time.process_time
    if args.threads is not None:
        _limit_threads(args.lib, args.threads)
    if args.lib in ("mxnet", "mxlite"):
        import importlib
        import warnings

        warnings.filterwarnings("ignore")
        mx = importlib.import_module(args.lib)
        times = gluon_steps(mx, args.case, args.contexts, args.steps, args.warmup, args.device)
    elif args.lib == "torch":
        times = torch_steps(args.case, args.steps, args.warmup, args.device)
    else:
        times = floor_steps(args.case, args.steps, args.warmup, args.device)
    print(
        json.dumps(
            {
                "lib": args.lib,
                "case": args.case,
                "contexts": args.contexts,
                "device": args.device,
                "batch": CASES[args.case]["batch"],
                "step_ms": [t * 1e3 for t in times],
                "median_ms": statistics.median(times) * 1e3,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
