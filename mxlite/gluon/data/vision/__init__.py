"""``mx.gluon.data.vision``: the MNIST, FashionMNIST, CIFAR10 and CIFAR100 datasets (read from
a local ``root`` folder in MXNet's file layout) and ``transforms``."""

from mxlite.gluon.data.vision import transforms
from mxlite.gluon.data.vision.datasets import CIFAR10, CIFAR100, MNIST, FashionMNIST

__all__ = ["CIFAR10", "CIFAR100", "MNIST", "FashionMNIST", "transforms"]
