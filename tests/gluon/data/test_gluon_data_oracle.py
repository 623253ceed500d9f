"""gluon.data against MXNet 1.9.1: samplers, dataset views, DataLoader batch order and batch
contents for every last_batch mode, worker and pinned batches, transforms, the vision datasets'
file parsing, and the errors of bad arguments (one scenario source, run under both)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from tests._support.scenario_log import assert_logs_equal, mxlite_log, mxnet_log

pytestmark = pytest.mark.oracle

# The exception detail the logs compare: the message's last line, and of MXNet's C++ checks
# ("Check failed: <condition>: <sentence>") only the sentence.
DETAIL = r"""
def detail(e):
    msg = str(e).strip().splitlines()[-1] if str(e).strip() else ""
    if "Check failed:" in msg:
        msg = msg.split("Check failed:", 1)[1].split(": ", 1)[1]
    return " | " + msg
"""

HELPERS = (
    DETAIL
    + r"""

def desc(b):
    if isinstance(b, mx.nd.NDArray):
        return ["nd", list(b.shape), np.dtype(b.dtype).name, str(b.context), b.asnumpy().tolist()]
    if isinstance(b, np.ndarray):
        return ["np", list(b.shape), b.dtype.name, b.tolist()]
    if isinstance(b, np.generic):
        return ["npscalar", b.dtype.name, b.item()]
    if isinstance(b, (list, tuple)):
        return [type(b).__name__, [desc(x) for x in b]]
    return [type(b).__name__, b]

gdata = mx.gluon.data

class Fixed(gdata.Sampler):
    def __init__(self, order):
        self.order = order
    def __iter__(self):
        return iter(self.order)
    def __len__(self):
        return len(self.order)

X = np.arange(14, dtype="float32").reshape(7, 2)
Y = np.arange(7)
ds = gdata.ArrayDataset(X, Y)
"""
)

SAMPLERS_AND_VIEWS = r"""
log("seq", lambda: list(gdata.SequentialSampler(4, start=3)))
log("seq-len", lambda: len(gdata.SequentialSampler(4, start=3)))
np.random.seed(3)
log("random", lambda: [int(i) for i in gdata.RandomSampler(9)])
log("random-again", lambda: [int(i) for i in gdata.RandomSampler(9)])
for lb in ["keep", "discard", "rollover"]:
    bs = gdata.BatchSampler(gdata.SequentialSampler(10), 3, lb)
    log(lb + "-batches", lambda: [list(bs), len(bs), list(bs), len(bs), list(bs)])
log("filter-sampler", lambda: list(gdata.FilterSampler(lambda s: s[1] % 2 == 0, ds)))
log("filter", lambda: [desc(s) for s in ds.filter(lambda s: s[1] > 3)])
log("shard", lambda: [[desc(s) for s in ds.shard(3, i)] for i in range(3)])
log("shard-len", lambda: [len(ds.shard(3, i)) for i in range(3)])
log("take", lambda: [desc(s) for s in ds.take(2)])
log("take-none", lambda: len(ds.take(None)) + len(ds.take(100)))
log("sample", lambda: [desc(s) for s in ds.sample(Fixed([6, 0, 3]))])
log("transform", lambda: [desc(s) for s in ds.transform(lambda x, y: (x * 2, y + 1))])
log("transform-eager", lambda: [desc(s) for s in ds.transform(lambda x, y: y, lazy=False)])
log("transform-first", lambda: [desc(s) for s in ds.transform_first(lambda x: x.sum())])
simple = gdata.SimpleDataset([1, 2, 3, 4])
log("simple", lambda: [len(simple), simple[2], desc(simple.transform(lambda v: v * 10)[1])])
nd_ds = gdata.ArrayDataset(mx.nd.array(X), mx.nd.arange(7))
log("array-nd", lambda: desc(nd_ds[2]))
log("array-one", lambda: desc(gdata.ArrayDataset(X)[1]))
log("array-list", lambda: desc(gdata.ArrayDataset([1, 2, 3], ["a", "b", "c"])[1]))
log("err-shard", lambda: ds.shard(3, 3))
log("err-sample", lambda: ds.sample([1, 2]))
log("err-empty", lambda: gdata.ArrayDataset())
log("err-lengths", lambda: gdata.ArrayDataset(np.arange(3), np.arange(4)))
log("err-lengths-3", lambda: gdata.ArrayDataset(np.arange(3), np.arange(3), np.arange(5)))
log("err-batch-sampler", lambda: len(gdata.BatchSampler(gdata.SequentialSampler(10), 3, "bogus")))
"""

LOADER = r"""
order = [3, 0, 6, 1, 5, 2, 4]
for lb in ["keep", "discard", "rollover"]:
    dl = gdata.DataLoader(ds, batch_size=3, sampler=Fixed(order), last_batch=lb)
    for epoch in range(3):
        log(f"{lb}-len-{epoch}", lambda: len(dl))
        log(f"{lb}-epoch-{epoch}", lambda: [desc(b) for b in dl])
np.random.seed(7)
dl = gdata.DataLoader(ds, batch_size=2, shuffle=True)
log("shuffle", lambda: [[desc(b) for b in dl] for _ in range(2)])
bs = gdata.BatchSampler(Fixed([5, 4, 3, 2, 1]), 2, "keep")
log("batch-sampler", lambda: [desc(b) for b in gdata.DataLoader(ds, batch_sampler=bs)])
log("nd-dataset", lambda: [desc(b) for b in gdata.DataLoader(mx.nd.array(X), batch_size=4)])
log("np-dataset", lambda: [desc(b) for b in gdata.DataLoader(X[:, 0], batch_size=4)])
log("ints", lambda: [desc(b) for b in gdata.DataLoader(gdata.SimpleDataset([1, 2, 3]), 2)])
log("floats", lambda: [desc(b) for b in gdata.DataLoader([1.5, 2.5, 3.0], batch_size=3)])
log("nested", lambda: [desc(b) for b in gdata.DataLoader([(1, (2.0, 3)), (4, (5.0, 6))], 2)])
log("nd-samples", lambda: [desc(b) for b in gdata.DataLoader(ds.transform_first(mx.nd.array), 4)])
log("pinned", lambda: [desc(b) for b in gdata.DataLoader(ds, 4, pin_memory=True, pin_device_id=1)])
log("len-keep", lambda: len(gdata.DataLoader(ds, batch_size=2)))
log("workers", lambda: [desc(b) for b in gdata.DataLoader(ds, 3, sampler=Fixed(order), num_workers=2)])
log("threads", lambda: [desc(b) for b in gdata.DataLoader(ds, 3, num_workers=2, thread_pool=True)])
log("workers-pinned", lambda: [desc(b) for b in gdata.DataLoader(ds, 4, num_workers=1, pin_memory=True)])
dl = gdata.DataLoader(ds, batch_size=3, num_workers=1, prefetch=0, auto_reload=True)
log("auto-reload", lambda: [[desc(b) for b in dl] for _ in range(2)])
log("batchify-fn", lambda: [desc(b) for b in gdata.DataLoader(ds, 3, batchify_fn=lambda s: len(s))])
log("default-fn", lambda: gdata.DataLoader(ds, 3)._batchify_fn.__name__)
log("default-mp-fn", lambda: gdata.DataLoader(ds, 3, num_workers=1)._batchify_fn.__name__)
log("prefetch", lambda: [gdata.DataLoader(ds, 3, num_workers=2)._prefetch,
                         gdata.DataLoader(ds, 3, num_workers=2, prefetch=5)._prefetch,
                         gdata.DataLoader(ds, 3, num_workers=-1)._num_workers])
log("err-no-batch-size", lambda: gdata.DataLoader(ds))
log("err-shuffle-sampler", lambda: gdata.DataLoader(ds, 2, shuffle=True, sampler=Fixed([0])))
log("err-batch-sampler", lambda: gdata.DataLoader(ds, 2, batch_sampler=bs))
log("err-batch-sampler-lb", lambda: gdata.DataLoader(ds, batch_sampler=bs, last_batch="keep"))
log("err-last-batch", lambda: len(gdata.DataLoader(ds, batch_size=2, last_batch="bogus")))
log("err-timeout", lambda: gdata.DataLoader(ds, 2, timeout=0))
"""

TRANSFORMS = r"""
T = gdata.vision.transforms
img = mx.nd.array(np.arange(24).reshape(2, 4, 3), dtype="uint8")
log("to-tensor", lambda: desc(T.ToTensor()(img)))
log("to-tensor-f64", lambda: desc(T.ToTensor()(img.astype("float64"))))
log("to-tensor-batch", lambda: desc(T.ToTensor()(mx.nd.stack(img, img))))
x = T.ToTensor()(img)
log("normalize", lambda: desc(T.Normalize(0.5, 0.25)(x)))
log("normalize-chan", lambda: desc(T.Normalize((0.1, 0.2, 0.3), (1.0, 2.0, 3.0))(x)))
log("normalize-f64", lambda: desc(T.Normalize((0.1, 0.2, 0.3), (1.0, 2.0, 3.0))(x.astype("float64"))))
log("normalize-batch", lambda: desc(T.Normalize((0.1, 0.2, 0.3), 0.5)(mx.nd.stack(x, x))))
log("cast", lambda: desc(T.Cast()(img)))
log("cast-f16", lambda: desc(T.Cast("float16")(img)))
c = T.Compose([T.ToTensor(), T.Normalize(0.5, 0.25)])
log("compose", lambda: desc(c(img)))
log("compose-repr", lambda: repr(c))
log("compose-mixed-repr", lambda: repr(T.Compose([T.Cast(), T.RandomFlipLeftRight(), T.ToTensor()])))
log("reprs", lambda: [repr(T.ToTensor()), repr(T.Normalize()), repr(T.Cast())])
log("flip-shape", lambda: desc(T.RandomFlipLeftRight()(img).shape))
log("err-to-tensor", lambda: T.ToTensor()(img.reshape((24,))))
log("err-normalize-rank", lambda: T.Normalize()(x.reshape((24,))))
log("err-normalize-mean", lambda: T.Normalize((0.1, 0.2), (1.0, 2.0))(x))
log("err-normalize-chan", lambda: T.Normalize(0.5, 0.5)(img))
tds = gdata.ArrayDataset(mx.nd.array(np.arange(48).reshape(2, 2, 4, 3), dtype="uint8"), np.arange(2))
dl = gdata.DataLoader(tds.transform_first(c), batch_size=2)
log("loader-transform", lambda: [desc(b) for b in dl])
"""

# MXNet would download (and check the SHA-1 of) every file; the oracle reads the test's files.
ORACLE_OFFLINE = r"""
import os
import mxnet.gluon.data.vision.datasets as _vd
_vd.download = lambda url, path=None, sha1_hash=None, **kw: os.path.join(path, url.split("/")[-1])
_vd.check_sha1 = lambda *args: True
"""

VISION = r"""
V = gdata.vision
for cls in (V.MNIST, V.FashionMNIST):
    for train in (True, False):
        d = cls(root="mnist", train=train)
        log(f"{cls.__name__}-{train}", lambda: [len(d), desc(d[0]), desc(d[len(d) - 1])])
d = V.MNIST(root="mnist", transform=lambda x, y: (x.astype("float32") / 255, y))
log("mnist-transform", lambda: desc(d[1]))
log("mnist-loader", lambda: [desc(b) for b in gdata.DataLoader(d, batch_size=2)][:2])
for train in (True, False):
    d = V.CIFAR10(root="cifar10", train=train)
    log(f"cifar10-{train}", lambda: [len(d), desc(d[0]), desc(d[len(d) - 1])])
for fine in (False, True):
    d = V.CIFAR100(root="cifar100", fine_label=fine, train=False)
    log(f"cifar100-{fine}", lambda: [len(d), desc(d[1])])
"""


def _write_idx(path: Path, arr: np.ndarray, magic: int) -> None:
    header = struct.pack(">I" + "I" * arr.ndim, magic, *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def make_fake_vision_files(root: Path, rng: np.random.Generator) -> None:
    """Tiny MNIST/FashionMNIST/CIFAR files in MXNet's layout under ``root``."""
    for name, n_train, n_test in (("mnist", 5, 3), ("fashion-mnist", 4, 2)):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            images = rng.integers(0, 256, size=(n, 28, 28))
            labels = rng.integers(0, 10, size=(n,))
            _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images, 2051)
            _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels, 2049)
    cifar10 = root / "cifar10"
    cifar10.mkdir(exist_ok=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rows = rng.integers(0, 256, size=(2, 3073)).astype(np.uint8)
        rows[:, 0] %= 10
        (cifar10 / name).write_bytes(rows.tobytes())
    cifar100 = root / "cifar100"
    cifar100.mkdir(exist_ok=True)
    for name in ("train.bin", "test.bin"):
        rows = rng.integers(0, 256, size=(3, 3074)).astype(np.uint8)
        rows[:, 0] %= 20
        rows[:, 1] %= 100
        (cifar100 / name).write_bytes(rows.tobytes())


def test_samplers_and_dataset_views_match_mxnet() -> None:
    scenario = HELPERS + SAMPLERS_AND_VIEWS
    ref = mxnet_log(scenario)
    mine = mxlite_log(scenario)
    # MXNet's message names array[i+1] for the i-th array; mxlite names the array at fault.
    assert_logs_equal(mine, ref, category_only={"err-lengths", "err-lengths-3"})
    got = dict(mine)
    assert "array[0] has length 3 while array[1] has 4" in got["err-lengths"]
    assert "array[0] has length 3 while array[2] has 5" in got["err-lengths-3"]
    assert dict(ref)["err-lengths"].startswith(got["err-lengths"].split(" while")[0])


def test_dataloader_batches_match_mxnet() -> None:
    scenario = HELPERS + LOADER
    ref = mxnet_log(scenario)
    mine = mxlite_log(scenario)
    assert_logs_equal(mine, ref)


def test_transforms_match_mxnet() -> None:
    scenario = HELPERS + TRANSFORMS
    ref = mxnet_log(scenario)
    mine = mxlite_log(scenario)
    assert_logs_equal(mine, ref)


def test_vision_datasets_read_files_as_mxnet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_fake_vision_files(tmp_path, np.random.default_rng(5))
    scenario = HELPERS + VISION
    ref = mxnet_log(ORACLE_OFFLINE + scenario, cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    mine = mxlite_log(scenario)
    assert_logs_equal(mine, ref)
