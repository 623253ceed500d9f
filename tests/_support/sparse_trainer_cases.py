"""Trainer and kvstore scenarios with sparse Parameters, run under both MXNet 1.9.1 (the oracle)
and mxlite (``SCRIPT`` prints JSON): sparse Embedding on [cpu(0), cpu(1)] with each kvstore
and update rule, row_sparse weights with ``row_sparse_data``, row_sparse_pull, and the errors."""

from __future__ import annotations

SCRIPT = r"""
import json
sp = mx.nd.sparse
nn = mx.gluon.nn
CTXS = [mx.cpu(0), mx.cpu(1)]
out = {}

def case(name, fn):
    try:
        out[name] = fn()
    except Exception as e:
        out[name] = {"error": type(e).__name__, "msg": str(e).split("\n")[0][:300]}

BATCHES = [[[1, 3, 3], [7, 1]], [[0, 2], [2, 2, 9]], [[5], [4, 6]]]

def embedding_run(opt, opt_params, kvstore="device", update_on_kvstore=None, dense_too=False):
    mx.random.seed(0)
    emb = nn.Embedding(10, 4, sparse_grad=True)
    emb.initialize(mx.init.Constant(0.1), ctx=CTXS)
    params = emb.collect_params()
    if dense_too:
        dense = nn.Dense(2, in_units=4)
        dense.initialize(mx.init.Constant(0.2), ctx=CTXS)
        params.update(dense.collect_params())
    trainer = mx.gluon.Trainer(params, opt, opt_params, kvstore=kvstore,
                               update_on_kvstore=update_on_kvstore)
    for step, batch in enumerate(BATCHES):
        with mx.autograd.record():
            losses = []
            for ids, ctx in zip(batch, CTXS):
                y = emb(mx.nd.array(ids, ctx=ctx))
                y = dense(y) if dense_too else y
                losses.append((y * mx.nd.arange(1, y.shape[1] + 1, ctx=ctx)).sum())
        mx.autograd.backward(losses)
        trainer.step(4)
    res = {"weights": [emb.weight.data(c).asnumpy().tolist() for c in CTXS],
           "grad": [emb.weight.grad(c).stype for c in CTXS],
           "update_on_kvstore": trainer._update_on_kvstore}
    if dense_too:
        res["dense"] = dense.weight.data(mx.cpu(1)).asnumpy().tolist()
    return res

case("sgd_mom_device", lambda: embedding_run("sgd", {"learning_rate": 0.5, "momentum": 0.9, "wd": 0.01}))
case("sgd_local", lambda: embedding_run("sgd", {"learning_rate": 0.5, "wd": 0.01}, kvstore="local"))
case("sgd_std", lambda: embedding_run("sgd", {"learning_rate": 0.5, "momentum": 0.9, "wd": 0.01,
                                              "lazy_update": False}))
case("adam_lazy", lambda: embedding_run("adam", {"learning_rate": 0.05}))
case("adam_std_mixed", lambda: embedding_run("adam", {"learning_rate": 0.05, "lazy_update": False},
                                             dense_too=True))
case("adagrad_on_kv", lambda: embedding_run("adagrad", {"learning_rate": 0.1}, update_on_kvstore=True))
case("ftrl_mixed", lambda: embedding_run("ftrl", {"learning_rate": 0.1}, dense_too=True))
case("groupadagrad", lambda: embedding_run("groupadagrad", {"learning_rate": 0.1}))

def rsp_weight_run(list_rows, opt="sgd", opt_params=None):
    w = mx.gluon.Parameter("emb_weight", shape=(10, 3), stype="row_sparse", grad_stype="row_sparse",
                           init=mx.init.Constant(1.0))
    w.initialize(ctx=CTXS)
    opt_params = opt_params or {"learning_rate": 0.5, "momentum": 0.5}
    trainer = mx.gluon.Trainer([w], opt, opt_params, kvstore="device")
    seen = []
    for batch in BATCHES:
        if list_rows:  # every replica gets the rows of the whole batch
            rows = w.list_row_sparse_data(mx.nd.array(batch[0] + batch[1]))
        with mx.autograd.record():
            losses = []
            for ids, ctx in zip(batch, CTXS):
                rid = mx.nd.array(ids, ctx=ctx)
                wt = rows[CTXS.index(ctx)] if list_rows else w.row_sparse_data(rid)
                seen.append([wt.stype, str(wt.context), wt.indices.asnumpy().tolist()])
                y = mx.nd.Embedding(rid, wt, input_dim=10, output_dim=3, sparse_grad=True)
                losses.append((y * y).sum())
        mx.autograd.backward(losses)
        trainer.step(1)
    full = w._reduce()
    return {"seen": seen, "full": full.asnumpy().tolist(), "full_stype": full.stype,
            "grads": [[g.stype, g.indices.asnumpy().tolist()] for g in w.list_grad()],
            "update_on_kvstore": trainer._update_on_kvstore}

case("rsp_weight", lambda: rsp_weight_run(False))
case("rsp_weight_list", lambda: rsp_weight_run(True))
# Ftrl is lazy for row_sparse weights (dense for dense weights); others as for dense weights
case("rsp_weight_ftrl", lambda: rsp_weight_run(False, "ftrl", {"learning_rate": 0.5}))
case("rsp_weight_adam_std", lambda: rsp_weight_run(False, "adam", {"learning_rate": 0.1,
                                                                   "lazy_update": False}))
case("rsp_weight_nag", lambda: rsp_weight_run(False, "nag", {"learning_rate": 0.1, "momentum": 0.9}))
case("rsp_weight_adagrad", lambda: rsp_weight_run(False, "adagrad", {"learning_rate": 0.1}))

def errors():
    res = {}
    def err(name, fn):
        try:
            fn()
            res[name] = "ok"
        except Exception as e:
            res[name] = [type(e).__name__, str(e).split("\n")[0][:300]]
    def mk():
        p = mx.gluon.Parameter("w", shape=(4, 2), stype="row_sparse")
        p.initialize(ctx=CTXS)
        return p
    p = mk()
    err("off", lambda: mx.gluon.Trainer([p], "sgd", update_on_kvstore=False).step(1))
    p = mk()
    err("none", lambda: mx.gluon.Trainer([p], "sgd", kvstore=None)._init_kvstore())
    p = mk()
    mx.gluon.Trainer([p], "sgd")
    err("second_trainer", lambda: mx.gluon.Trainer([p], "sgd"))
    q = mx.gluon.Parameter("q", shape=(4, 2), grad_stype="row_sparse")
    q.initialize(ctx=CTXS)
    t = mx.gluon.Trainer([q], "sgd")
    mx.gluon.Trainer([q], "sgd")
    err("second_trainer_dense_weight", lambda: None)
    return res
case("errors", errors)

def kv_cases():
    res = {}
    W = mx.nd.array(np.arange(12).reshape(6, 2))
    for kind in ("local", "device"):
        kv = mx.kv.create(kind)
        kv.init(0, W.tostype("row_sparse"))
        outs = [sp.zeros("row_sparse", (6, 2), ctx=c) for c in CTXS]
        kv.row_sparse_pull(0, out=outs, row_ids=[mx.nd.array([3, 1, 3]), mx.nd.array([5], ctx=mx.cpu(1))])
        res[kind + "_pull"] = [[o.indices.asnumpy().tolist(), o.asnumpy().tolist(), str(o.context)] for o in outs]
        g = [sp.row_sparse_array((np.ones((1, 2), dtype="float32"), [i]), shape=(6, 2), ctx=c)
             for i, c in enumerate(CTXS)]
        kv.push(0, g)
        o1 = sp.zeros("row_sparse", (6, 2))
        kv.pull(0, out=o1, ignore_sparse=False)
        o2 = sp.zeros("row_sparse", (6, 2))
        kv.pull(0, out=o2)
        o3 = mx.nd.zeros((6, 2))
        kv.pull(0, out=o3)
        res[kind + "_push"] = [o1.indices.asnumpy().tolist(), o1.asnumpy().tolist(),
                               o2.indices.asnumpy().tolist(), o3.asnumpy().tolist()]
        kv2 = mx.kv.create(kind)
        kv2.init(0, W.tostype("row_sparse"))
        kv2.set_optimizer(mx.optimizer.create("sgd", learning_rate=1.0, rescale_grad=1.0))
        kv2.push(0, g)
        o4 = sp.zeros("row_sparse", (6, 2))
        kv2.row_sparse_pull(0, out=o4, row_ids=mx.nd.arange(6))
        res[kind + "_updated"] = o4.asnumpy().tolist()
    kv = mx.kv.create("local")
    kv.init(1, W)
    for name, fn in (("dense_stored", lambda: kv.row_sparse_pull(1, out=sp.zeros("row_sparse", (6, 2)), row_ids=mx.nd.array([1]))),
                     ("dense_out", lambda: (kv.init(2, W.tostype("row_sparse")), kv.row_sparse_pull(2, out=mx.nd.zeros((6, 2)), row_ids=mx.nd.array([1])))),
                     ("no_row_ids", lambda: kv.row_sparse_pull(2, out=sp.zeros("row_sparse", (6, 2))))):
        try:
            fn()
            res[name] = "ok"
        except BaseException as e:
            res[name] = [type(e).__name__, str(e).split("\n")[0][:300]]
    return res
case("kvstore", kv_cases)
print(json.dumps(out))
"""
