"""mx.kv: create(), init/push/pull/pushpull/broadcast, key forms, optimizer on the store,
2-bit gradient compression, states, the store registry.

``SCENARIO`` runs under real MXNet 1.9.1 and under mxlite; the logs (values, or exception
category and, where MXNet's text is Python-side, message) must match.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import mxlite as mx
from mxlite import nd
from mxlite.base import CheckError, MXNetError
from mxlite.kvstore import KVStore, KVStoreBase
from tests.scenario_log import assert_logs_equal, mxlite_log, mxnet_log

SCENARIO = r"""
nd = mx.nd

def detail(e):
    return ""  # the exception category is compared, not the message

def log_raises(label, fn):
    # MXNet raises a bare Exception here; mxlite an MXNetError (also an Exception).
    try:
        fn()
    except Exception:  # noqa
        LOG.append([label, "raised"])
        return
    LOG.append([label, "no error"])

def vals(*arrays):
    return [[round(float(v), 6) for v in a.asnumpy().ravel()] for a in arrays]

for name in ["local", "device", "Local", "DEVICE", "foo", "local_allreduce_cpu", "teststore"]:
    log("create " + name, lambda: (type(mx.kv.create(name)).__name__, mx.kv.create(name).type, mx.kv.create(name).rank, mx.kv.create(name).num_workers))
log("create default", lambda: mx.kv.create().type)
log("create None", lambda: mx.kv.create(None))
log("create int", lambda: mx.kv.create(3))

kv = mx.kv.create("local")
kv.init(3, nd.ones((2, 3)))
log("dup init", lambda: kv.init(3, nd.ones((2, 3))))
o = nd.zeros((2, 3))
kv.pull(3, out=o)
log("pull", lambda: vals(o))
log("pull unknown", lambda: kv.pull(9, out=o))
log("push unknown", lambda: kv.push(9, nd.ones((2, 3))))
log("pull without out", lambda: kv.pull(3))
kv.push(3, [nd.ones((2, 3)) * 2, nd.ones((2, 3), ctx=mx.cpu(1)) * 3])
kv.pull(3, out=o)
log("push sums", lambda: vals(o))
outs = [nd.zeros((2, 3)), nd.zeros((2, 3), ctx=mx.cpu(1))]
kv.pull(3, out=outs)
log("pull to two contexts", lambda: (vals(*outs), [str(x.context) for x in outs]))
kv.init([5, 6], [nd.ones((2,)) * 5, nd.ones((3,)) * 6])
o5, o6 = nd.zeros((2,)), nd.zeros((3,))
kv.pull([5, 6], out=[o5, o6])
log("list init/pull", lambda: vals(o5, o6))
kv.push([5, 6], [[nd.ones((2,)), nd.ones((2,))], [nd.ones((3,)), nd.ones((3,)) * 4]])
kv.pull([5, 6], out=[o5, o6])
log("list push nested", lambda: vals(o5, o6))
log("str key in int store", lambda: kv.init("w", nd.ones((2,))))
log("len mismatch", lambda: kv.init([10, 11], [nd.ones(2)]))
log("one key many values init", lambda: kv.init(12, [nd.ones(2), nd.ones(2) * 5]))
log("key of bad type", lambda: kv.init(1.5, nd.ones(2)))
log("value of bad type", lambda: kv.init(13, [np.ones(2)]))
log("inconsistent key kinds", lambda: kv.init([14, "a"], [nd.ones(2), nd.ones(2)]))

skv = mx.kv.create("local")
skv.init("w", nd.ones((2,)) * 7)
ow = nd.zeros((2,))
skv.pull("w", out=ow)
log("str key", lambda: vals(ow))
log("int key in str store", lambda: skv.pull(8, out=ow))
log("str unknown", lambda: skv.pull("zz", out=ow))

kv2 = mx.kv.create("device")
values = [nd.ones((2,)), nd.ones((2,), ctx=mx.cpu(1)) * 2]
kv2.init("g", nd.zeros((2,)))
kv2.pushpull("g", values)
log("pushpull in place", lambda: vals(*values))
outs = [nd.zeros((2,)), nd.zeros((2,), ctx=mx.cpu(1))]
kv2.pushpull("g", [nd.ones((2,)), nd.ones((2,)) * 4], out=outs)
log("pushpull out", lambda: vals(*outs))
log("pushpull uninit", lambda: kv2.pushpull("zz", [nd.ones((2,))]))
bo = [nd.zeros((2,)), nd.zeros((2,), ctx=mx.cpu(1))]
kv2.broadcast("b", nd.ones((2,)) * 9, out=bo)
log("broadcast", lambda: vals(*bo))
log("broadcast again", lambda: kv2.broadcast("b", nd.ones((2,)) * 8, out=bo))
log("broadcast kept", lambda: vals(*bo))

kv3 = mx.kv.create("local")
kv3.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.5))
kv3.init(0, nd.ones((2,)))
w = nd.zeros((2,))
for _ in range(3):
    kv3.push(0, [nd.array([1.0, -2.0]), nd.array([0.5, 0.25], ctx=mx.cpu(1))])
    kv3.pull(0, out=w)
    log("optimizer push", lambda: vals(w))
kvs = mx.kv.create("device")
kvs.set_optimizer(mx.optimizer.Adam(learning_rate=0.1))
kvs.init("s", nd.ones((2,)))
for _ in range(2):
    kvs.push("s", nd.array([0.3, -0.1]))
    kvs.pull("s", out=w)
    log("optimizer str key", lambda: vals(w))
plain = mx.kv.create("local")
log("save without optimizer", lambda: plain.save_optimizer_states("unused.states"))
log("load without optimizer", lambda: plain.load_optimizer_states("unused.states"))
log("is_capable optimizer", lambda: (plain.is_capable("optimizer"), plain.is_capable("OPTIMIZER")))
log("is_capable other", lambda: plain.is_capable("foo"))
log_raises("compression on local", lambda: plain.set_gradient_compression({"type": "2bit", "threshold": 0.5}))
log("row_sparse_pull", lambda: plain.row_sparse_pull(0, out=nd.zeros(2), row_ids=nd.array([0])))
plain._set_updater(lambda key, grad, weight: weight.__setitem__(slice(None), grad * 10))
plain.init(1, nd.zeros(2))
plain.push(1, nd.ones(2))
plain.pull(1, out=w)
log("custom updater", lambda: vals(w))
plain.init(2, nd.ones(2, dtype="float16") * 3)
w32 = nd.zeros(2)
plain.pull(2, out=w32)
log("pull casts to out dtype", lambda: (vals(w32), str(np.dtype(w32.dtype))))
plain2 = mx.kv.create("local")
plain2.init(0, nd.ones(2) * 100)
plain2.push(0, nd.ones(2) * 3)
plain2.pull(0, out=w)
log("push replaces", lambda: vals(w))

ts = mx.kv.create("teststore")
tv = [nd.ones(2), nd.ones(2, ctx=mx.cpu(1)) * 2]
ts.pushpull(0, tv)
log("teststore pushpull", lambda: vals(*tv))
tb = [nd.zeros(2), nd.zeros(2)]
ts.broadcast(0, nd.ones(2) * 4, tb)
log("teststore broadcast", lambda: vals(*tb))
log("teststore is_capable", lambda: ts.is_capable("optimizer"))

for params in [{"type": "2bit", "threshold": 0.5}, {"type": "2bit", "threshold": 0.25},
               {"type": "2bit", "threshold": "0.25"}, {"type": "2bit"}, {"type": "2bit", "foo": 1}]:
    ckv = mx.kv.create("device")
    ckv.set_gradient_compression(params)
    ckv.init(0, nd.zeros(5))
    for _ in range(3):
        ckv.push(0, [nd.array([0.3, 0.6, -0.7, 2.0, 0.25]), nd.array([0.3, 0.1, -0.2, 0.0, -0.5], ctx=mx.cpu(1))])
        out = nd.zeros(5)
        ckv.pull(0, out=out)
        log("2bit %s" % sorted(params.items()), lambda: vals(out))
for params in [{"type": "foo"}, {"type": "1bit"}, {"threshold": 0.5}, "2bit",
               {"type": "2bit", "threshold": 0}, {"type": "2bit", "threshold": -1},
               {"type": "2bit", "threshold": "abc"}]:
    log("bad compression %r" % (params,), lambda: mx.kv.create("device").set_gradient_compression(params))
ckv = mx.kv.create("device")
ckv.set_gradient_compression({"type": "2bit"})
ckv.set_optimizer(mx.optimizer.SGD(learning_rate=1.0))
ckv.init(0, nd.zeros(2))
ckv.push(0, [nd.array([0.7, 0.2]), nd.array([0.7, 0.2])])
ckv.pull(0, out=w)
log("2bit with optimizer", lambda: vals(w))
"""


@pytest.mark.oracle
def test_kvstore_log_matches_mxnet(tmp_path: Any) -> None:
    assert_logs_equal(mxlite_log(SCENARIO), mxnet_log(SCENARIO, cwd=tmp_path))


# ---------------------------------------------------------------- unit tests
def test_create_types() -> None:
    assert isinstance(mx.kv.create(), KVStore) and mx.kv.create().type == "local"
    assert mx.kv.create("Device").type == "device"
    assert mx.kvstore.create("nccl").type == "nccl"
    with pytest.raises(TypeError, match="name must be a string"):
        mx.kv.create(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "exc", "fragment"),
    [
        (lambda kv: kv.init(0, nd.ones(2)), MXNetError, "duplicate init of key 0"),
        (
            lambda kv: kv.init([7, 0], [nd.ones(2), nd.ones(2)]),
            MXNetError,
            "duplicate init of key 0",
        ),
        (lambda kv: kv.init(8, [nd.ones(2), nd.ones(2)]), MXNetError, "duplicate init of key 8"),
        (lambda kv: kv.init([7, 8], [nd.ones(2)]), CheckError, "2 keys but 1 values"),
        (lambda kv: kv.init(7, np.ones(2)), CheckError, "must be an NDArray"),
        (lambda kv: kv.init(np.int64(7), nd.ones(2)), CheckError, "unexpected type for keys"),
        (lambda kv: kv.init("s", nd.ones(2)), MXNetError, "Mixed key types are not allowed"),
        (lambda kv: kv.push(9, nd.ones(2)), MXNetError, "key 9 has not been inited"),
        (
            lambda kv: kv.push([0, 9], [nd.ones(2), nd.ones(2)]),
            MXNetError,
            "key 9 has not been inited",
        ),
        (lambda kv: kv.push(0, [nd.ones(2), nd.ones(3)]), MXNetError, "different shapes"),
        (lambda kv: kv.pull(0), CheckError, "pull needs out="),
        (lambda kv: kv.pull(0, out=nd.zeros(3)), MXNetError, "cannot copy a stored value of shape"),
        (lambda kv: kv.pull(9, out=nd.zeros(2)), MXNetError, "Did you init?"),
        (lambda kv: kv.broadcast(0, nd.ones(2), out=nd.zeros(2)), MXNetError, "duplicate init"),
        (lambda kv: kv.save_optimizer_states("x"), CheckError, "call kv.set_optimizer"),
        (lambda kv: kv.set_gradient_compression({"type": "2bit"}), MXNetError, "kvstore='device'"),
    ],
)
def test_bad_input_changes_nothing(call: Any, exc: type, fragment: str) -> None:
    kv = mx.kv.create("local")
    kv.init(0, nd.array([1.0, 2.0]))
    with pytest.raises(exc) as info:
        call(kv)
    assert fragment.lower() in str(info.value).lower()
    assert sorted(kv._store) == [0]
    out = nd.zeros(2)
    kv.pull(0, out=out)
    assert out.asnumpy().tolist() == [1.0, 2.0]


def test_init_copies_the_value() -> None:
    kv = mx.kv.create("device")
    value = nd.ones(2, ctx=mx.cpu(1))
    kv.init("k", value)
    value[:] = 5
    out = nd.zeros(2)
    kv.pull("k", out=out)
    assert out.asnumpy().tolist() == [1.0, 1.0]


def test_push_sums_in_the_given_order_deterministically() -> None:
    rng = np.random.default_rng(3)
    parts = [
        (rng.normal(size=1000) * 10.0 ** rng.integers(-3, 3)).astype(np.float32) for _ in range(4)
    ]
    kv = mx.kv.create("local")
    kv.init(0, nd.zeros(1000))
    kv.push(0, [nd.array(p, ctx=mx.cpu(i)) for i, p in enumerate(parts)])
    out = nd.zeros(1000)
    kv.pull(0, out=out)
    expected = ((parts[0] + parts[1]) + parts[2]) + parts[3]
    assert np.array_equal(out.asnumpy(), expected)


def test_set_optimizer_updates_once_per_push_with_summed_gradient() -> None:
    kv = mx.kv.create("device")
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.5))
    kv.init(0, nd.ones(2))
    kv.pushpull(0, [nd.ones(2), nd.ones(2, ctx=mx.cpu(1))], out=[nd.zeros(2), nd.zeros(2)])
    outs = [nd.zeros(2), nd.zeros(2, ctx=mx.cpu(1))]
    kv.pull(0, out=outs)
    assert [o.asnumpy().tolist() for o in outs] == [[0.0, 0.0], [0.0, 0.0]]
    assert kv._updater.optimizer.num_update == 1


def test_optimizer_states_round_trip(tmp_path: Any) -> None:
    def run(load: bool) -> list[float]:
        kv = mx.kv.create("local")
        kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
        kv.init(0, nd.ones(2))
        kv.push(0, nd.ones(2))
        if load:
            kv.save_optimizer_states(str(tmp_path / "s"), dump_optimizer=True)
            kv = mx.kv.create("local")
            kv.set_optimizer(mx.optimizer.SGD(learning_rate=5.0))
            kv.init(0, nd.ones(2) * 0.9)
            kv.load_optimizer_states(str(tmp_path / "s"))
        kv.push(0, nd.ones(2))
        out = nd.zeros(2)
        kv.pull(0, out=out)
        return [float(v) for v in out.asnumpy()]

    assert run(load=True) == run(load=False)


def test_registry_register_and_override_warning() -> None:
    saved = dict(KVStoreBase.kv_registry)
    try:

        @KVStoreBase.register
        class MyStore(KVStoreBase):
            pass

        assert isinstance(mx.kv.create("MyStore"), MyStore)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            @KVStoreBase.register
            class MyStore(KVStoreBase):  # type: ignore[no-redef]  # noqa: F811
                pass

        assert any("is overriding existing kvstore" in str(w.message) for w in caught)
        with pytest.raises(CheckError, match="expects a class"):
            KVStoreBase.register(3)  # type: ignore[arg-type]
    finally:
        KVStoreBase.kv_registry.clear()
        KVStoreBase.kv_registry.update(saved)


def test_base_interface_is_abstract() -> None:
    base = KVStoreBase()
    for call in (
        lambda: base.broadcast(0, nd.ones(1), nd.ones(1)),
        lambda: base.pushpull(0, nd.ones(1)),
        lambda: base.set_optimizer(None),
        lambda: base.is_capable("optimizer"),
        lambda: base.type,
        lambda: base.rank,
        lambda: base.num_workers,
    ):
        with pytest.raises(NotImplementedError):
            call()


def test_compression_rejects_non_float32() -> None:
    kv = mx.kv.create("device")
    kv.set_gradient_compression({"type": "2bit"})
    kv.init(0, nd.zeros(2, dtype="float64"))
    with pytest.raises(MXNetError, match="float32 gradients only"):
        kv.push(0, nd.ones(2, dtype="float64"))


@pytest.mark.gpu
def test_device_store_reduces_on_the_gpu(gpu_ctx: mx.Context) -> None:
    kv = mx.kv.create("device")
    kv.init(0, nd.zeros(3))
    values = [nd.ones(3, ctx=gpu_ctx), nd.ones(3, ctx=mx.cpu(0)) * 2]
    assert kv._reduce(0, values).context == gpu_ctx
    kv.pushpull(0, values)
    assert [v.asnumpy().tolist() for v in values] == [[3.0] * 3, [3.0] * 3]
    assert kv._store[0].context == gpu_ctx
    local = mx.kv.create("local")
    assert local._reduce(0, values).context == mx.cpu(0)


@pytest.mark.gpu
def test_device_store_updates_on_the_gpu(gpu_ctx: mx.Context) -> None:
    kv = mx.kv.create("device")
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=1.0, momentum=0.5))
    kv.init(0, nd.ones(3))
    outs = [nd.zeros(3, ctx=gpu_ctx), nd.zeros(3)]
    kv.pushpull(0, [nd.ones(3, ctx=gpu_ctx), nd.ones(3)], out=outs)
    assert kv._store[0].context == gpu_ctx
    assert kv._updater.states[0].context == gpu_ctx
    assert [o.asnumpy().tolist() for o in outs] == [[-1.0] * 3, [-1.0] * 3]


@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop"])
def test_pushing_many_keys_at_once_equals_one_key_at_a_time(opt: str) -> None:
    rng = np.random.default_rng(5)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    inits = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [[rng.normal(size=s).astype(np.float32) for s in shapes] for _ in range(3)]
    results = []
    for batched in (True, False):
        kv = mx.kv.create("local")
        kv.set_optimizer(mx.optimizer.create(opt, learning_rate=0.1, wd=0.01))
        kv.init(list(range(3)), [nd.array(a) for a in inits])
        for step in grads:
            values = [[nd.array(g), nd.array(g * 0.5, ctx=mx.cpu(1))] for g in step]
            if batched:
                kv.push(list(range(3)), values)
            else:
                for k, v in enumerate(values):
                    kv.push(k, v)
        outs = [nd.zeros(s) for s in shapes]
        kv.pull(list(range(3)), out=outs)
        results.append([o.asnumpy() for o in outs])
    for a, b in zip(*results, strict=True):
        assert np.array_equal(a, b)


def test_custom_updater_is_called_once_per_key() -> None:
    calls: list[Any] = []
    kv = mx.kv.create("local")
    kv._set_updater(lambda key, grad, weight: calls.append(key))
    kv.init([0, 1], [nd.ones(2), nd.ones(3)])
    kv.push([0, 1], [nd.ones(2), nd.ones(3)])
    assert calls == [0, 1]
