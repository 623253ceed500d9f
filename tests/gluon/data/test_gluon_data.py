"""gluon.data on the CPU backend: batchify functions, contexts of batches, pinned batches (page-
locked through CuPy's pinned pool when a GPU is there), dataset views, vision dataset files and
their errors, transforms on every context, and bad arguments."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import CheckError
from mxlite.gluon import data as gdata
from mxlite.gluon.data import batchify
from mxlite.gluon.data.vision import transforms as T
from tests.conftest import requires_gpu


def values(x: Any) -> Any:
    return x.asnumpy().tolist()


# ------------------------------------------------------------------------------------ batchify
def test_default_batchify_keeps_sample_contexts_and_dtypes(ctx: mx.Context) -> None:
    samples = [(mx.nd.array([i, i + 1], ctx=ctx), i, float(i)) for i in range(3)]
    data, ints, floats = batchify.default_batchify_fn(samples)
    assert data.context == ctx and values(data) == [[0, 1], [1, 2], [2, 3]]
    assert np.dtype(ints.dtype) == np.int64 and np.dtype(floats.dtype) == np.float64
    with mx.cpu(1):
        assert batchify.default_batchify_fn([1, 2]).context == mx.cpu(1)
    shared = batchify.default_mp_batchify_fn(samples)
    assert [x.context for x in shared] == [mx.Context("cpu_shared", 0)] * 3


def test_default_batchify_errors_name_the_problem() -> None:
    with pytest.raises(CheckError, match=r"sample 0 has shape \(2,\) but sample 1 has \(3,\)"):
        batchify.default_batchify_fn([mx.nd.zeros((2,)), mx.nd.zeros((3,))])
    with pytest.raises(TypeError, match="cannot batchify samples of type str"):
        batchify.default_batchify_fn(["a", "b"])
    with pytest.raises(ValueError, match="empty list of samples"):
        batchify.default_batchify_fn([])
    loader = gdata.DataLoader(["a", "b"], batch_size=2)
    with pytest.raises(TypeError, match="AsList"):
        next(iter(loader))


def test_stack_pad_append_group_aslist() -> None:
    stacked = batchify.Stack()([[1, 2, 3], [4, 5, 6]])
    assert values(stacked) == [[1, 2, 3], [4, 5, 6]] and np.dtype(stacked.dtype) == np.int64
    fields = batchify.Stack()([(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 2)])
    assert [values(f) for f in fields] == [[[1, 1], [0, 0]], [1, 2]]
    nd_stack = batchify.Stack(use_shared_mem=True)([mx.nd.ones((2,)), mx.nd.zeros((2,))])
    assert nd_stack.context == mx.Context("cpu_shared", 0)

    padded = batchify.Pad(val=-1)([[1, 2, 3, 4], [4, 5, 6], [8, 2]])
    assert values(padded) == [[1, 2, 3, 4], [4, 5, 6, -1], [8, 2, -1, -1]]
    assert np.dtype(padded.dtype) == np.int64 and padded.context == mx.cpu(0)
    arrs = [np.ones((2, 3), np.float32), np.ones((1, 5), np.float32)]
    padded = batchify.Pad(round_to=4, dtype="float64")(arrs)
    assert padded.shape == (2, 4, 8) and np.dtype(padded.dtype) == np.float64
    assert values(padded)[1][0] == [1.0] * 5 + [0.0] * 3 and values(padded)[1][1] == [0.0] * 8
    with pytest.warns(UserWarning, match="discouraged"):
        padded = batchify.Pad(use_shared_mem=True)([mx.nd.ones((1,)), mx.nd.ones((2,))])
    assert values(padded) == [[1, 0], [1, 1]] and padded.context == mx.Context("cpu_shared", 0)
    with pytest.raises(NotImplementedError, match=r"use Group\(Pad\(\), Pad\(\), ...\) instead"):
        batchify.Pad()([(1, 2), (3, 4)])
    with pytest.raises(CheckError, match="sample 1 has 2"):
        batchify.Pad()([np.ones(2), np.ones((2, 2))])

    appended = batchify.Append()([[1, 2, 3], [4, 5]])
    assert [a.shape for a in appended] == [(1, 3), (1, 2)]
    assert [a.shape for a in batchify.Append(expand=False)([[1, 2, 3], [4, 5]])] == [(3,), (2,)]

    samples = [([1, 2, 3, 4], 0, "first"), ([5, 7], 1, "second")]
    data, label, text = batchify.Group(batchify.Pad(), batchify.Stack(), batchify.AsList())(samples)
    assert values(data) == [[1, 2, 3, 4], [5, 7, 0, 0]] and values(label) == [0, 1]
    assert text == ["first", "second"]
    tup = batchify.Tuple([batchify.Pad(), batchify.Stack(), batchify.List()])(samples)
    assert isinstance(tup, tuple) and tup[2] == ["first", "second"]
    with pytest.raises(CheckError, match="Input pattern not understood"):
        batchify.Group([batchify.Stack()], batchify.Stack())
    with pytest.raises(CheckError, match=r"type\(fn\[1\]\)"):
        batchify.Group(batchify.Stack(), 3)
    with pytest.raises(CheckError, match="should contains 2 elements"):
        batchify.Group(batchify.Stack(), batchify.Stack())([(1, 2, 3)])


# ------------------------------------------------------------------------------ pinned batches
def test_pinned_batches_are_copies_on_cpu_pinned() -> None:
    data = np.arange(8, dtype=np.float32).reshape(4, 2)
    loader = gdata.DataLoader(gdata.ArrayDataset(data, np.arange(4)), 2, pin_memory=True)
    batch = next(iter(loader))
    assert isinstance(batch, list) and [x.context for x in batch] == [mx.cpu_pinned(0)] * 2
    batch[0][:] = -1
    assert data[0, 0] == 0  # the dataset is untouched
    assert (batch[0] + 1).context == mx.cpu(0)


def _owner_chain(arr: np.ndarray) -> list[Any]:
    chain = []
    base = arr
    while base is not None:
        chain.append(base)
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return chain


def test_pinned_batches_use_cupy_pinned_memory_when_a_gpu_is_there() -> None:
    from tests._support import fake_cupy

    cp = fake_cupy.install(devices=1)
    try:
        loader = gdata.DataLoader(np.arange(6, dtype=np.float32), batch_size=3, pin_memory=True)
        batch = next(iter(loader))
        assert batch.context == mx.cpu_pinned(0)
        assert any(isinstance(o, fake_cupy._Pinned) for o in _owner_chain(batch._data))
        on_gpu = batch.as_in_context(mx.gpu(0))
        assert isinstance(on_gpu._data, cp.ndarray) and values(on_gpu) == [0, 1, 2]
    finally:
        fake_cupy.uninstall()


@requires_gpu
@pytest.mark.gpu
def test_pinned_batches_are_page_locked_on_a_real_gpu() -> None:
    import cupy

    loader = gdata.DataLoader(np.arange(6, dtype=np.float32), batch_size=3, pin_memory=True)
    batch = next(iter(loader))
    attrs = cupy.cuda.runtime.pointerGetAttributes(batch._data.ctypes.data)
    assert attrs.type == cupy.cuda.runtime.memoryTypeHost
    assert values(batch.as_in_context(mx.gpu(0))) == [0, 1, 2]


# ------------------------------------------------------------------------ datasets and samplers
def test_dataset_iterates_by_length_and_views_nest() -> None:
    class Wrapping(gdata.Dataset):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> int:
            return i % 3  # never raises IndexError

    assert list(Wrapping()) == [0, 1, 2]
    view = gdata.SimpleDataset(list(range(10))).shard(2, 1).filter(lambda v: v % 3).take(2)
    assert list(view) == [5, 7] and len(view) == 2
    assert list(Wrapping().transform(lambda v: v * 2, lazy=False)) == [0, 2, 4]


def test_bad_sampler_arguments() -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            gdata.BatchSampler(gdata.SequentialSampler(4), bad)
    with pytest.raises(ValueError, match="but got bogus"):
        gdata.DataLoader(np.arange(4), batch_size=2, last_batch="bogus")
    with pytest.raises(CheckError, match="Number of shards must be greater than 0"):
        gdata.SimpleDataset([1]).shard(0, -1)
    with pytest.raises(CheckError, match="Index must be non-negative"):
        gdata.SimpleDataset([1]).shard(2, -1)


# ------------------------------------------------------------------------------ vision datasets
def _idx_gz(path: Path, arr: np.ndarray, magic: int, compress: bool = True) -> None:
    raw = struct.pack(">I" + "I" * arr.ndim, magic, *arr.shape) + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def test_mnist_reads_gzipped_or_plain_idx_files(tmp_path: Path) -> None:
    images = np.arange(3 * 784).reshape(3, 28, 28) % 256
    _idx_gz(tmp_path / "t10k-images-idx3-ubyte.gz", images, 2051)
    _idx_gz(tmp_path / "t10k-labels-idx1-ubyte", np.array([7, 2, 1]), 2049, compress=False)
    ds = gdata.vision.MNIST(root=str(tmp_path), train=False)
    data, label = ds[1]
    assert len(ds) == 3 and data.shape == (28, 28, 1) and np.dtype(data.dtype) == np.uint8
    assert values(data)[0][5] == [int(images[1, 0, 5])] and label == 2
    assert isinstance(label, np.int32)


def test_missing_files_say_which_files_go_where(tmp_path: Path) -> None:
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        gdata.vision.FashionMNIST(root=str(root))
    message = str(info.value)
    assert str(root) in message and "does not download" in message
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
    assert "gluon/dataset/fashion-mnist/train-images-idx3-ubyte.gz" in message
    assert root.is_dir()  # created, as MXNet does
    with pytest.raises(FileNotFoundError, match="data_batch_5.bin") as info:
        gdata.vision.CIFAR10(root=str(root))
    assert "cifar-10-binary.tar.gz" in str(info.value)


def test_corrupt_files_are_refused(tmp_path: Path) -> None:
    _idx_gz(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28)), 2049)
    _idx_gz(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(2), 2049)
    with pytest.raises(ValueError, match="magic number is 2049, expected 2051"):
        gdata.vision.MNIST(root=str(tmp_path))
    _idx_gz(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((3, 28, 28)), 2051)
    with pytest.raises(ValueError, match="holds 3 images .* holds 2 labels"):
        gdata.vision.MNIST(root=str(tmp_path))
    (tmp_path / "test.bin").write_bytes(b"\0" * 3075)
    (tmp_path / "train.bin").write_bytes(b"\0" * 3074)
    with pytest.raises(ValueError, match="not a whole number of 3074-byte records"):
        gdata.vision.CIFAR100(root=str(tmp_path), train=False)


def test_cifar_archive_is_unpacked_from_root(tmp_path: Path) -> None:
    rows = np.zeros((2, 3073), dtype=np.uint8)
    rows[:, 0] = [3, 8]
    rows[1, 1:] = 255
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = rows.nbytes
            tar.addfile(info, io.BytesIO(rows.tobytes()))
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(buf.getvalue())
    ds = gdata.vision.CIFAR10(root=str(tmp_path), train=False, transform=lambda x, y: (x, y + 1))
    assert len(ds) == 2 and ds[0][1] == 4 and ds[1][1] == 9
    assert ds[1][0].shape == (32, 32, 3) and int(ds[1][0].asnumpy().min()) == 255
    assert len(gdata.vision.CIFAR10(root=str(tmp_path))) == 10


# ----------------------------------------------------------------------------------- transforms
def test_transforms_keep_the_input_context(ctx: mx.Context) -> None:
    img = mx.nd.array(np.arange(24).reshape(2, 4, 3), ctx=ctx, dtype="uint8")
    out = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), 0.25)])(img)
    assert out.context == ctx and out.shape == (3, 2, 4)
    ref = (np.arange(24).reshape(2, 4, 3).transpose(2, 0, 1).astype(np.float32) / 255 - 0.5) / 0.25
    np.testing.assert_allclose(out.asnumpy(), ref, rtol=1e-6)
    assert T.Cast("int32")(img).context == ctx


def test_random_flips_are_seeded_and_flip_about_half_the_time() -> None:
    img = mx.nd.array(np.arange(24).reshape(2, 4, 3), dtype="uint8")
    flipped = img.asnumpy()[:, ::-1]
    mx.random.seed(11)
    first = [values(T.RandomFlipLeftRight()(img)) for _ in range(40)]
    mx.random.seed(11)
    second = [values(T.RandomFlipLeftRight()(img)) for _ in range(40)]
    assert first == second
    n_flipped = sum(out == flipped.tolist() for out in first)
    assert all(out in (flipped.tolist(), values(img)) for out in first)
    assert 8 <= n_flipped <= 32
    upside = T.RandomFlipTopBottom()(mx.nd.stack(img, img))
    assert upside.shape == (2, 2, 4, 3)


def test_pad_of_ndarrays_warns_once() -> None:
    pad = batchify.Pad()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pad([mx.nd.ones((1,))])
        pad([mx.nd.ones((1,))])
    assert len(caught) == 1
