"""MNIST, FashionMNIST, CIFAR10 and CIFAR100, read from a local ``root`` folder.

The files and their layout are MXNet 1.9.1's (``mxnet/gluon/data/vision/datasets.py``):

* MNIST / FashionMNIST: ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz`` (train)
  and ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` (test), gzipped IDX files
  (uncompressed copies without ``.gz`` are read too). Samples are ``(uint8 NDArray (28, 28, 1),
  int32 label)``.
* CIFAR10: ``data_batch_1.bin`` .. ``data_batch_5.bin`` (train) and ``test_batch.bin`` (test),
  rows of 1 label byte + 3072 pixel bytes; CIFAR100: ``train.bin`` / ``test.bin`` with 2 label
  bytes (coarse, fine). Samples are ``(uint8 NDArray (32, 32, 3), int32 label)``. When the
  ``.bin`` files are missing but the archive (``cifar-10-binary.tar.gz`` /
  ``cifar-100-binary.tar.gz``) is in ``root``, it is unpacked there; the files may also sit in
  the archive's own folder (``cifar-10-batches-bin`` / ``cifar-100-binary``).

mxlite never downloads at run time: when files are missing, the error names each file, the
folder it belongs in and the URL MXNet would fetch it from (``mx.gluon.utils.download`` can
fetch it on a machine that is online).
"""

from __future__ import annotations

import gzip
import os
import struct
import tarfile
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from mxlite.gluon._download import _get_repo_file_url, data_dir
from mxlite.gluon.data.dataset import _DownloadedDataset

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "CIFAR100"]

_MSG_MISSING = (
    "{cls}: the {split} set needs these files in {root} (mxlite does not download at run "
    "time):\n{listing}\nDownload them on a machine that is online (for example with "
    "mx.gluon.utils.download(url, path=root)) and put them in that folder, or pass "
    "root=<folder that holds them>."
)
_IDX_IMAGES, _IDX_LABELS = 2051, 2049


def _default_root(name: str) -> str:
    return os.path.join(data_dir(), "datasets", name)


def _missing_error(cls: str, split: str, root: str, files: list[tuple[str, str]]) -> Exception:
    listing = "\n".join(f"  {name}  (from {url})" for name, url in files)
    return FileNotFoundError(_MSG_MISSING.format(cls=cls, split=split, root=root, listing=listing))


def _read_idx(path: str, magic: int, header: str) -> tuple[tuple[int, ...], bytes]:
    """The dimensions and the payload of an IDX file (gzipped when the name ends in .gz)."""
    opener: Callable[..., Any] = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fin:
        raw = fin.read()
    size = struct.calcsize(header)
    if len(raw) < size:
        raise ValueError(f"{path} is too short to be an IDX file ({len(raw)} bytes)")
    found, *dims = struct.unpack(header, raw[:size])
    if found != magic:
        raise ValueError(
            f"{path} is not the expected IDX file: its magic number is {found}, expected {magic}"
        )
    return tuple(dims), raw[size:]


class MNIST(_DownloadedDataset):
    """MNIST handwritten digits: samples ``(uint8 NDArray (28, 28, 1), int32 label)``.

    Args:
        root: the folder holding the four gzipped IDX files (default
            ``$MXNET_HOME/datasets/mnist``, ``~/.mxnet/datasets/mnist``).
        train: the training set (60000 samples) or the test set (10000).
        transform: ``transform(data, label)`` applied to each sample.

    Raises:
        FileNotFoundError: the split's files are not in ``root`` (the message lists them).
        ValueError: a file is not an IDX file of the right kind, or the sizes disagree.
    """

    _namespace = "mnist"
    _files = {
        True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }

    def __init__(
        self,
        root: str = _default_root("mnist"),
        train: bool = True,
        transform: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self._train = train
        super().__init__(root, transform)

    def _locate(self, name: str) -> str | None:
        for candidate in (name, name[: -len(".gz")]):
            path = os.path.join(self._root, candidate)
            if os.path.isfile(path):
                return path
        return None

    def _get_data(self) -> None:
        from mxlite.ndarray import creation

        names = self._files[bool(self._train)]
        paths = [self._locate(name) for name in names]
        missing = [name for name, path in zip(names, paths) if path is None]
        if missing:
            raise _missing_error(
                type(self).__name__,
                "training" if self._train else "test",
                self._root,
                [(n, _get_repo_file_url("gluon/dataset/" + self._namespace, n)) for n in missing],
            )
        data_path, label_path = cast(list[str], paths)
        (n_labels,), label_raw = _read_idx(label_path, _IDX_LABELS, ">II")
        label = np.frombuffer(label_raw, dtype=np.uint8)[:n_labels].astype(np.int32)
        (n_images, rows, cols), image_raw = _read_idx(data_path, _IDX_IMAGES, ">IIII")
        if (n_images, rows, cols) != (len(label), 28, 28) or len(image_raw) < len(label) * 784:
            raise ValueError(
                f"{data_path} holds {n_images} images of {rows}x{cols} pixels but {label_path} "
                f"holds {len(label)} labels; expected one 28x28 image per label."
            )
        data = np.frombuffer(image_raw, dtype=np.uint8)[: len(label) * 784]
        data = data.reshape(len(label), 28, 28, 1)
        self._data = _as_array(creation, data)
        self._label = _as_array(creation, label) if _np_mode() else label


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST, a drop-in replacement of MNIST with the same files and layout
    (default root ``$MXNET_HOME/datasets/fashion-mnist``)."""

    _namespace = "fashion-mnist"

    def __init__(
        self,
        root: str = _default_root("fashion-mnist"),
        train: bool = True,
        transform: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        super().__init__(root, train, transform)


def _np_mode() -> bool:
    from mxlite.util import is_np_array

    return is_np_array()


def _as_array(creation: Any, host: np.ndarray) -> Any:
    if _np_mode():
        from mxlite import numpy as mx_np

        return mx_np.array(host, dtype=host.dtype)
    return creation.array(host, dtype=host.dtype)


class CIFAR10(_DownloadedDataset):
    """CIFAR10 (32x32 colour images, 10 classes): samples ``(uint8 NDArray (32, 32, 3), int32
    label)``.

    Args:
        root: the folder holding the binary batches (default ``$MXNET_HOME/datasets/cifar10``).
        train: the five training batches (50000 samples) or the test batch (10000).
        transform: ``transform(data, label)`` applied to each sample.

    Raises:
        FileNotFoundError: the batches (and the archive) are not in ``root``.
        ValueError: a batch file's size is not a whole number of records.
    """

    _namespace = "cifar10"
    _archive = "cifar-10-binary.tar.gz"
    _archive_dir = "cifar-10-batches-bin"
    _train_files = [f"data_batch_{i}.bin" for i in range(1, 6)]
    _test_files = ["test_batch.bin"]
    _label_bytes = 1

    def __init__(
        self,
        root: str = _default_root("cifar10"),
        train: bool = True,
        transform: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self._train = train
        super().__init__(root, transform)

    def _label_column(self) -> int:
        return 0

    def _read_batch(self, filename: str) -> tuple[np.ndarray, np.ndarray]:
        record = 3072 + self._label_bytes
        with open(filename, "rb") as fin:
            raw = np.frombuffer(fin.read(), dtype=np.uint8)
        if raw.size % record:
            raise ValueError(
                f"{filename} holds {raw.size} bytes, not a whole number of {record}-byte records"
            )
        rows = raw.reshape(-1, record)
        images = rows[:, self._label_bytes :].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return images, rows[:, self._label_column()].astype(np.int32)

    def _find(self, names: list[str]) -> list[str] | None:
        for folder in (self._root, os.path.join(self._root, self._archive_dir)):
            paths = [os.path.join(folder, name) for name in names]
            if all(os.path.isfile(p) for p in paths):
                return paths
        return None

    def _extract(self) -> None:
        with tarfile.open(os.path.join(self._root, self._archive)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(self._root, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(self._root)  # noqa: S202

    def _get_data(self) -> None:
        from mxlite.ndarray import creation

        names = self._train_files if self._train else self._test_files
        paths = self._find(names)
        if paths is None and os.path.isfile(os.path.join(self._root, self._archive)):
            self._extract()
            paths = self._find(names)
        if paths is None:
            ns = "gluon/dataset/" + self._namespace
            raise _missing_error(
                type(self).__name__,
                "training" if self._train else "test",
                self._root,
                [(n, f"the archive {_get_repo_file_url(ns, self._archive)}") for n in names],
            )
        data, label = zip(*(self._read_batch(p) for p in paths))
        images = np.concatenate(data)
        labels = np.concatenate(label)
        self._data = _as_array(creation, images)
        self._label = _as_array(creation, labels) if _np_mode() else labels


class CIFAR100(CIFAR10):
    """CIFAR100 (32x32 colour images): samples ``(uint8 NDArray (32, 32, 3), int32 label)``.

    Args:
        root: the folder holding ``train.bin`` / ``test.bin`` (default
            ``$MXNET_HOME/datasets/cifar100``).
        fine_label: the 100 fine classes (True) or the 20 coarse super-classes (False).
        train: the training set (50000 samples) or the test set (10000).
        transform: ``transform(data, label)`` applied to each sample.
    """

    _namespace = "cifar100"
    _archive = "cifar-100-binary.tar.gz"
    _archive_dir = "cifar-100-binary"
    _train_files = ["train.bin"]
    _test_files = ["test.bin"]
    _label_bytes = 2

    def __init__(
        self,
        root: str = _default_root("cifar100"),
        fine_label: bool = False,
        train: bool = True,
        transform: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self._fine_label = fine_label
        super().__init__(root, train, transform)

    def _label_column(self) -> int:
        return 0 + int(self._fine_label)
