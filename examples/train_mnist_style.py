"""The classic Gluon MNIST script, written exactly as for MXNet 1.x, on scikit-learn's digits.

The digits (8x8 grey images, no download) stand in for MNIST: they go through the same
pipeline a real MNIST script uses -- an ``ArrayDataset`` of uint8 HWC images with
``transform_first(ToTensor, Normalize)``, a shuffling ``DataLoader``, a
``Flatten -> Dense -> Dropout -> Dense`` network, ``mx.metric.Accuracy``, a ``Trainer`` over
every context (all GPUs, else ``[cpu(0), cpu(1)]``), ``split_and_load``, a tqdm bar, then
``save_parameters`` / ``load_parameters`` into a fresh network whose validation accuracy must
equal the trained one.

Run: ``python examples/train_mnist_style.py [--epochs N] [--batch-size B] [--contexts cpu0,cpu1]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import nn
from mxlite.gluon.data.vision import transforms


def parse_contexts(spec: str | None) -> list[mx.Context]:
    """``'cpu0,cpu1'`` / ``'gpu0'`` -> contexts; default: every GPU, else two CPU contexts."""
    if spec:
        return [
            mx.gpu(int(item[3:] or 0)) if item.startswith("gpu") else mx.cpu(int(item[3:] or 0))
            for item in (part.strip() for part in spec.split(","))
        ]
    n_gpu = mx.context.num_gpus()
    return [mx.gpu(i) for i in range(n_gpu)] if n_gpu else [mx.cpu(0), mx.cpu(1)]


def load_data(seed: int) -> tuple[gluon.data.Dataset, gluon.data.Dataset]:
    """The digits as MNIST-like datasets: uint8 ``(8, 8, 1)`` images in 0..255 and float labels,
    normalized to ``(1, 8, 8)`` float32 tensors by the transforms."""
    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)[..., None]
    labels = digits.target.astype(np.float32)
    x_train, x_val, y_train, y_val = train_test_split(
        images, labels, test_size=0.25, random_state=seed, stratify=labels
    )
    mean = float(x_train.mean() / 255.0)
    std = float(x_train.std() / 255.0)
    transformer = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    train = gluon.data.ArrayDataset(mx.nd.array(x_train, dtype="uint8"), y_train)
    val = gluon.data.ArrayDataset(mx.nd.array(x_val, dtype="uint8"), y_val)
    return train.transform_first(transformer), val.transform_first(transformer)


def build_net() -> nn.HybridSequential:
    """Flatten, two ReLU layers with Dropout, ten outputs (input size inferred at first use)."""
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Flatten())
        net.add(nn.Dense(128, activation="relu"))
        net.add(nn.Dropout(0.2))
        net.add(nn.Dense(64, activation="relu"))
        net.add(nn.Dropout(0.2))
        net.add(nn.Dense(10))
    return net


def evaluate(net: nn.HybridSequential, data: gluon.data.DataLoader, ctx: list[mx.Context]) -> float:
    """Accuracy of ``net`` over ``data``, each batch split across ``ctx``."""
    metric = mx.metric.Accuracy()
    for images, labels in data:
        xs = gluon.utils.split_and_load(images, ctx_list=ctx, batch_axis=0, even_split=False)
        ys = gluon.utils.split_and_load(labels, ctx_list=ctx, batch_axis=0, even_split=False)
        metric.update(ys, [net(x) for x in xs])
    return float(metric.get()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--contexts", default=None, help="e.g. cpu0,cpu1 or gpu0")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--min-accuracy", type=float, default=0.9)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    mx.random.seed(args.seed)
    ctx = parse_contexts(args.contexts)
    train_set, val_set = load_data(args.seed)
    train_data = gluon.data.DataLoader(
        train_set,
        batch_size=args.batch_size,
        shuffle=True,
        last_batch="rollover",
        num_workers=args.workers,
    )
    val_data = gluon.data.DataLoader(val_set, batch_size=256, num_workers=args.workers)
    print(f"digits: {len(train_set)} train / {len(val_set)} validation images; contexts: {ctx}")

    net = build_net()
    net.initialize(mx.init.Xavier(magnitude=2.24), ctx=ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(
        net.collect_params(), "sgd", {"learning_rate": args.lr, "momentum": 0.9, "wd": 1e-4}
    )
    metric = mx.metric.Accuracy()
    for epoch in range(1, args.epochs + 1):
        metric.reset()
        total_loss, seen = 0.0, 0
        bar = tqdm(
            train_data, desc=f"epoch {epoch:2d}", leave=False, disable=not sys.stderr.isatty()
        )
        for images, labels in bar:
            xs = gluon.utils.split_and_load(images, ctx_list=ctx, batch_axis=0, even_split=False)
            ys = gluon.utils.split_and_load(labels, ctx_list=ctx, batch_axis=0, even_split=False)
            with autograd.record():
                outputs = [net(x) for x in xs]
                losses = [loss_fn(out, y) for out, y in zip(outputs, ys)]
            for loss in losses:
                loss.backward()
            trainer.step(images.shape[0])
            metric.update(ys, outputs)
            total_loss += sum(float(loss.sum().asscalar()) for loss in losses)
            seen += images.shape[0]
            bar.set_postfix(loss=f"{total_loss / seen:.3f}")
        name, train_acc = metric.get()
        val_acc = evaluate(net, val_data, ctx)
        print(
            f"epoch {epoch:2d}  loss {total_loss / seen:.4f}  train {name} {train_acc:.4f}  "
            f"validation {name} {val_acc:.4f}"
        )

    trained_acc = evaluate(net, val_data, ctx)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mnist_style.params")
        net.save_parameters(path)
        fresh = build_net()
        fresh.load_parameters(path, ctx=ctx)
        reloaded_acc = evaluate(fresh, val_data, ctx)
    elapsed = time.perf_counter() - start
    print(
        f"final validation accuracy {trained_acc:.4f}; reloaded {reloaded_acc:.4f}; "
        f"{elapsed:.1f} s on {ctx}"
    )
    if reloaded_acc != trained_acc:
        print("ERROR: the reloaded network does not reproduce the trained accuracy")
        return 1
    if trained_acc < args.min_accuracy:
        print(f"ERROR: accuracy {trained_acc:.4f} is below the required {args.min_accuracy}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
