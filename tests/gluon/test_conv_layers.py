"""Convolution, pooling and normalization layers in use: deferred ``in_channels``, errors that
name the layer and the shapes, BatchNorm's moving statistics per context (updated in training
mode only, averaged by save), SyncBatchNorm across contexts run concurrently, and the model
zoo's pretrained files (MXNet's names, SHA-1 check, download, the error without a network)."""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.base import CheckError, MXNetError
from mxlite.gluon import nn
from mxlite.gluon.contrib.nn import SyncBatchNorm
from mxlite.gluon.model_zoo import model_store, vision

CTXS = [mx.cpu(0), mx.cpu(1)]


# ----------------------------------------------------------------------- deferred shapes, errors
def test_in_channels_are_inferred_at_the_first_forward() -> None:
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, padding=1), nn.BatchNorm(), nn.Conv2DTranspose(2, 2, strides=2),
            nn.LayerNorm(), nn.InstanceNorm())  # fmt: skip
    net.initialize()
    assert net[0].weight.shape == (4, 0, 3, 3) and net[2].weight.shape == (0, 2, 2, 2)
    y = net(mx.nd.ones((2, 3, 5, 5)))
    assert y.shape == (2, 2, 10, 10)
    assert net[0].weight.shape == (4, 3, 3, 3) and net[1].gamma.shape == (4,)
    assert net[2].weight.shape == (4, 2, 2, 2) and net[3].gamma.shape == (10,)
    assert repr(net[0]) == "Conv2D(3 -> 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"


def test_mismatched_channels_name_the_layer_and_shapes() -> None:
    conv = nn.Conv2D(4, 3, in_channels=3)
    conv.initialize()
    with pytest.raises(MXNetError) as err:
        conv(mx.nd.ones((2, 2, 5, 5)))
    msg = str(err.value)
    assert conv.name in msg and "(2, 2, 5, 5)" in msg and "Shape inconsistent" in msg
    assert "[4,3,3,3]" in msg and "(4,2,3,3)" in msg
    bn = nn.BatchNorm(in_channels=3)
    bn.initialize()
    with pytest.raises(MXNetError, match=rf"{bn.name}.*\(2, 5, 4\).*gamma"):
        bn(mx.nd.ones((2, 5, 4)))


def test_kernel_larger_than_the_padded_input_names_the_layer() -> None:
    for layer, x in ((nn.Conv2D(2, 5, padding=1, in_channels=3), (1, 3, 2, 2)),
                     (nn.MaxPool2D(4), (1, 3, 3, 3))):  # fmt: skip
        layer.initialize()
        with pytest.raises(MXNetError) as err:
            layer(mx.nd.ones(x))
        assert layer.name in str(err.value) and str(x) in str(err.value)
        assert "exceed" in str(err.value)


@pytest.mark.parametrize(
    "make, x, fragment, good",
    [
        (lambda: nn.Conv2D(2, 5, padding=1), (1, 3, 2, 2), "kernel size exceed input",
         (1, 4, 9, 9)),
        (lambda: nn.Conv2D(2, 3), (1, 3, 5), "Input data should be 4D", (1, 3, 5, 5)),
        (lambda: nn.Conv2D(4, 3, groups=2), (1, 3, 5, 5), "divisible by num_group",
         (1, 4, 5, 5)),
        (lambda: nn.Conv1DTranspose(2, 3), (1, 2, 4, 4), "Input data should be 3D", (1, 2, 4)),
    ],
)  # fmt: skip
def test_a_bad_first_input_leaves_deferred_parameters_unset(
    make: Any, x: tuple[int, ...], fragment: str, good: tuple[int, ...]
) -> None:
    """As in MXNet: the failed shape inference is a ValueError saying so (here with the layer,
    the input's shape and the operator's reason), the weight stays deferred, and a good input
    afterwards initializes it."""
    layer = make()
    layer.initialize()
    with pytest.raises(ValueError, match="Deferred initialization failed") as err:
        layer(mx.nd.ones(x))
    msg = str(err.value)
    assert layer.name in msg and str(x) in msg and fragment in msg, msg
    assert 0 in layer.weight.shape and layer.weight._data is None
    layer(mx.nd.ones(good))
    assert 0 not in layer.weight.shape and layer.weight.data().shape == layer.weight.shape


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: nn.Conv2D(4, 3, layout="NCW"),
            r"Only supports 'NCHW' and 'NHWC' layout for now \(Conv2D got layout='NCW'\)",
        ),
        (lambda: nn.Conv1D(4, 3, layout="NWC"), r"Only supports 'NCW' layout.*Conv1D.*'NWC'"),
        (
            lambda: nn.AvgPool2D(layout="NHWCX"),
            r"Only NCHW and NHWC layouts are valid.*\(AvgPool2D got layout='NHWCX'\)",
        ),
        (lambda: nn.GlobalMaxPool3D(layout="NCHW"), r"for 3D Pooling.*GlobalMaxPool3D"),
        (lambda: nn.Conv3D(4, (3, 3)), "kernel_size must be a number or a list of 3 ints"),
        (lambda: nn.ReflectionPad2D((1, 2)), "padding must be an int or 8 ints"),
    ],
)
def test_bad_layouts_and_sizes_raise_at_construction(make: object, message: str) -> None:
    with pytest.raises(CheckError, match=message) as err:
        make()  # type: ignore[operator]
    assert isinstance(err.value, AssertionError)  # what MXNet raises there


def test_an_unknown_layout_string_is_refused_by_the_operator() -> None:
    with pytest.raises(MXNetError, match="Invalid Input: 'NCHWX'"):
        mx.nd.Convolution(mx.nd.ones((1, 1, 3, 3)), mx.nd.ones((1, 1, 1, 1)), kernel=(1, 1),
                          num_filter=1, no_bias=True, layout="NCHWX")  # fmt: skip


# ----------------------------------------------------------------------- BatchNorm statistics
def test_moving_statistics_live_per_context_and_average_on_save(tmp_path: Path) -> None:
    bn = nn.BatchNorm(in_channels=2, momentum=0.5)
    bn.initialize(ctx=CTXS)
    x0 = mx.nd.array(np.full((4, 2, 3), 2.0), ctx=CTXS[0])
    x1 = mx.nd.array(np.full((4, 2, 3), 4.0), ctx=CTXS[1])
    bn(x0)  # predict mode: nothing is updated
    assert bn.running_mean.data(CTXS[0]).asnumpy().tolist() == [0.0, 0.0]
    with autograd.record():
        bn(x0)
        bn(x1)
    assert bn.running_mean.data(CTXS[0]).asnumpy().tolist() == [1.0, 1.0]
    assert bn.running_mean.data(CTXS[1]).asnumpy().tolist() == [2.0, 2.0]
    assert bn.running_mean.grad_req == "null" and bn.running_var.grad_req == "null"
    bn.save_parameters(str(tmp_path / "bn.params"))
    loaded = nn.BatchNorm(in_channels=2)
    loaded.load_parameters(str(tmp_path / "bn.params"), ctx=CTXS)
    for ctx in CTXS:
        assert loaded.running_mean.data(ctx).asnumpy().tolist() == [1.5, 1.5]


def test_initializers_of_the_statistics_are_used() -> None:
    bn = nn.BatchNorm(in_channels=3, running_mean_initializer="ones",
                      running_variance_initializer=mx.init.Constant(2.0))  # fmt: skip
    bn.initialize()
    assert bn.running_mean.data().asnumpy().tolist() == [1.0] * 3
    assert bn.running_var.data().asnumpy().tolist() == [2.0] * 3


def test_a_resnet_trains_on_two_contexts() -> None:
    mx.random.seed(3)
    net = vision.get_model("resnet18_v1", classes=4, thumbnail=True)
    net.initialize(mx.init.Xavier(), ctx=CTXS)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.05})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    x = np.random.default_rng(0).uniform(-1, 1, (8, 3, 16, 16)).astype(np.float32)
    y = np.arange(8) % 4
    losses = []
    for _ in range(6):
        xs = gluon.utils.split_and_load(x, CTXS)
        ys = gluon.utils.split_and_load(y, CTXS)
        with autograd.record():
            ls = [loss_fn(net(a), b) for a, b in zip(xs, ys)]
        for loss in ls:
            loss.backward()
        trainer.step(8)
        losses.append(float(sum(loss.mean().asscalar() for loss in ls)))
    assert losses[-1] < losses[0]
    w0, w1 = (net.features[0].weight.data(c).asnumpy() for c in CTXS)
    np.testing.assert_array_equal(w0, w1)  # the replicas got the same update


# ----------------------------------------------------------------------- SyncBatchNorm
def _sync_step(layer: nn.HybridBlock, parts: list[np.ndarray], ctxs: list[mx.Context],
               threads: bool) -> list[list[np.ndarray]]:  # fmt: skip
    def one(i: int) -> list[np.ndarray]:
        x = mx.nd.array(parts[i], ctx=ctxs[i])
        x.attach_grad()
        with autograd.record():
            y = layer(x)
            loss = (y * y * mx.nd.array(np.arange(y.size).reshape(y.shape) % 3, ctx=ctxs[i])).sum()
        loss.backward()
        return [y.asnumpy(), x.grad.asnumpy()]

    if not threads:
        return [one(0)]
    with concurrent.futures.ThreadPoolExecutor(len(ctxs)) as pool:
        return list(pool.map(one, range(len(ctxs))))


def test_sync_batch_norm_equals_batch_norm_over_the_whole_batch() -> None:
    x = np.random.default_rng(1).uniform(-2, 3, (6, 3, 2, 2)).astype(np.float32)
    sync = SyncBatchNorm(in_channels=3, num_devices=2, momentum=0.8)
    sync.initialize(ctx=CTXS)
    got = _sync_step(sync, [x[:3], x[3:]], CTXS, threads=True)
    whole = nn.BatchNorm(in_channels=3, momentum=0.8)
    whole.initialize()
    head = np.arange(6 * 3 * 4).reshape(6, 3, 2, 2)
    xs = mx.nd.array(x)
    xs.attach_grad()
    with autograd.record():
        y = whole(xs)
        loss = (y * y * mx.nd.array(np.concatenate([head[:3] % 3, head[:3] % 3]))).sum()
    loss.backward()
    np.testing.assert_allclose(np.concatenate([g[0] for g in got]), y.asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(np.concatenate([g[1] for g in got]), xs.grad.asnumpy(),
                               rtol=1e-4, atol=1e-5)  # fmt: skip
    for ctx in CTXS:  # every replica holds the synchronized statistics
        np.testing.assert_allclose(sync.running_mean.data(ctx).asnumpy(),
                                   whole.running_mean.data().asnumpy(), rtol=1e-5)  # fmt: skip
        np.testing.assert_allclose(sync.running_var.data(ctx).asnumpy(),
                                   whole.running_var.data().asnumpy(), rtol=1e-5)  # fmt: skip
    summed = sum(sync.gamma.grad(c).asnumpy() for c in CTXS)  # what the Trainer reduces
    np.testing.assert_allclose(summed, whole.gamma.grad().asnumpy(), rtol=1e-4, atol=1e-5)


def test_sync_batch_norm_run_context_after_context_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Alone in the process the pass raises at once; with other threads alive (earlier tests
    # may leave some) it raises after the wait, with the same advice.
    monkeypatch.setenv("MXLITE_SYNC_TIMEOUT", "0.5")
    sync = SyncBatchNorm(in_channels=3, num_devices=2)
    sync.initialize(ctx=CTXS)
    before = sync.running_mean.data(CTXS[0]).asnumpy().copy()
    with pytest.raises(MXNetError, match="one thread per context"):
        _sync_step(sync, [np.ones((2, 3, 2, 2), np.float32)], CTXS, threads=False)
    np.testing.assert_array_equal(sync.running_mean.data(CTXS[0]).asnumpy(), before)


def test_sync_batch_norm_on_one_device_is_batch_norm() -> None:
    with pytest.warns(UserWarning, match="mannually set num_devices"):
        sync = SyncBatchNorm(in_channels=3)
    assert "ndev=1" in repr(sync)
    sync.initialize()
    x = np.random.default_rng(2).uniform(size=(4, 3, 2)).astype(np.float32)
    got = _sync_step(sync, [x], [mx.cpu()], threads=False)[0]
    plain = nn.BatchNorm(in_channels=3)
    plain.initialize()
    want = _sync_step(plain, [x], [mx.cpu()], threads=False)[0]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------- the model zoo
def test_get_model_names_and_unknown_models() -> None:
    net = vision.get_model("ResNet18_V2", classes=3)
    assert type(net).__name__ == "ResNetV2"
    with pytest.raises(ValueError, match="Model resnet19_v1 is not supported") as err:
        vision.get_model("resnet19_v1")
    assert "\tvgg19_bn" in str(err.value) and "\tinceptionv3" in str(err.value)
    with pytest.raises(CheckError, match="Invalid number of layers: 20"):
        vision.get_resnet(1, 20)
    with pytest.raises(ValueError, match="Pretrained model for resnet19 is not available"):
        model_store.get_model_file("resnet19")


def _fake_pretrained(tmp: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A resnet18_v1 parameter file registered under ``name`` with its own SHA-1."""
    net = vision.get_model("resnet18_v1", classes=5)
    net.initialize()
    net(mx.nd.ones((1, 3, 32, 32)))
    src = tmp / "src.params"
    net.save_parameters(str(src))
    sha1 = hashlib.sha1(src.read_bytes()).hexdigest()
    monkeypatch.setitem(model_store._model_sha1, name, sha1)
    return f"{name}-{sha1[:8]}", src


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "repo"
    (folder / "gluon" / "models").mkdir(parents=True)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_pretrained_downloads_checks_and_loads(
    file_server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, repo = file_server
    stem, src = _fake_pretrained(tmp_path, "resnet18_v1", monkeypatch)
    with zipfile.ZipFile(repo / "gluon" / "models" / f"{stem}.zip", "w") as zf:
        zf.write(src, f"{stem}.params")
    monkeypatch.setenv("MXNET_GLUON_REPO", url)
    root = tmp_path / "models"
    net = vision.resnet18_v1(pretrained=True, root=str(root), classes=5, ctx=mx.cpu(1))
    assert sorted(p.name for p in root.iterdir()) == [f"{stem}.params"]  # no leftovers
    assert net.output.weight.data(mx.cpu(1)).shape == (5, 512)
    again = vision.get_model("resnet18_v1", pretrained=True, root=str(root), classes=5)
    np.testing.assert_array_equal(again.output.weight.data().asnumpy(),
                                  net.output.weight.data(mx.cpu(1)).asnumpy())  # fmt: skip


def test_pretrained_without_network_names_the_file_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MXNET_GLUON_REPO", "http://127.0.0.1:9/")  # nothing listens there
    root = tmp_path / "models"
    with pytest.raises(OSError) as err:
        vision.squeezenet1_1(pretrained=True, root=str(root))
    msg = str(err.value)
    assert "squeezenet1.1-33ba0f93.params" in msg and str(root) in msg
    assert "http://127.0.0.1:9/gluon/models/squeezenet1.1-33ba0f93.zip" in msg
    assert not any(root.iterdir())  # no partial file


def test_pretrained_file_with_a_wrong_sha1_is_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stem, src = _fake_pretrained(tmp_path, "resnet18_v1", monkeypatch)
    root = tmp_path / "models"
    root.mkdir()
    (root / f"{stem}.params").write_bytes(b"damaged")
    monkeypatch.setenv("MXNET_GLUON_REPO", "http://127.0.0.1:9/")
    with pytest.raises(OSError, match="could not be downloaded"):
        vision.get_model("resnet18_v1", pretrained=True, root=str(root), classes=5)
    (root / f"{stem}.params").write_bytes(src.read_bytes())
    net = vision.get_model("resnet18_v1", pretrained=True, root=str(root), classes=5)
    assert net.features[0].weight.shape == (64, 3, 7, 7)


def test_batch_norm_then_relu_is_fused_with_the_same_results() -> None:
    def net(fused_ok: bool) -> nn.HybridSequential:
        seq = nn.HybridSequential()
        seq.add(nn.Conv2D(4, 3, padding=1, in_channels=3), nn.BatchNorm(in_channels=4),
                nn.Activation("relu"), nn.Conv2D(2, 1, in_channels=4))  # fmt: skip
        seq.initialize(mx.init.Xavier())
        if not fused_ok:  # a hook keeps the pair apart (summary() installs hooks)
            seq[2].register_forward_hook(lambda *args: None)
        return seq

    x = mx.nd.array(np.random.default_rng(4).standard_normal((3, 3, 5, 5)))
    results = []
    for fused_ok in (True, False):
        mx.random.seed(9)
        with mx.name.NameManager():  # the same names, so the same initial values
            seq = net(fused_ok)
        xs = x.copy()
        xs.attach_grad()
        with autograd.record():
            y = seq(xs)
        y.backward(mx.nd.array(np.arange(y.size).reshape(y.shape) % 5 - 2.0))
        grads = [p.grad().asnumpy() for p in seq.collect_params().values() if p.grad_req != "null"]
        results.append(
            [y.asnumpy(), xs.grad.asnumpy(), seq[1].running_var.data().asnumpy(), *grads]
        )
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
