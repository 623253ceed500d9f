"""``mx.gluon.data``: datasets, samplers, batchify functions and the DataLoader (MXNet 1.9.1's
``mxnet.gluon.data``), plus ``vision`` (MNIST, FashionMNIST, CIFAR10/100 and basic transforms)."""

from mxlite.gluon.data import batchify, vision
from mxlite.gluon.data.dataloader import DataLoader
from mxlite.gluon.data.dataset import ArrayDataset, Dataset, SimpleDataset
from mxlite.gluon.data.sampler import (
    BatchSampler,
    FilterSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

__all__ = [
    "ArrayDataset",
    "BatchSampler",
    "DataLoader",
    "Dataset",
    "FilterSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SimpleDataset",
    "batchify",
    "vision",
]
