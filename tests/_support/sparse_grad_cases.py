"""Sparse-gradient scenarios run under both MXNet 1.9.1 (the oracle) and mxlite: Embedding with
``sparse_grad``, ``sparse.dot`` into row_sparse buffers, ``grad_req='add'``, ``zero_grad``,
sparse Parameters (printed as JSON by ``SCRIPT``)."""

from __future__ import annotations

SCRIPT = r"""
import json
sp = mx.nd.sparse
nn = mx.gluon.nn
out = {}

def grad_desc(g):
    d = {"stype": g.stype, "values": g.asnumpy().tolist(), "dtype": np.dtype(g.dtype).name}
    if g.stype == "row_sparse":
        d["indices"] = g.indices.asnumpy().tolist()
    return d

def case(name, fn):
    try:
        out[name] = fn()
    except Exception as e:
        out[name] = {"error": type(e).__name__, "msg": str(e).split("\n")[0][:200]}

w0 = np.arange(24, dtype="float32").reshape(8, 3) / 10

def embedding(stype, req, ids, repeats=1, sparse_grad=True):
    w = mx.nd.array(w0)
    w.attach_grad(grad_req=req, stype=stype)
    for _ in range(repeats):
        for batch in ids:
            with mx.autograd.record():
                y = mx.nd.Embedding(mx.nd.array(batch), w, input_dim=8, output_dim=3,
                                    sparse_grad=sparse_grad)
                loss = (y * mx.nd.arange(1, 4)).sum()
            loss.backward()
    return grad_desc(w.grad)

case("emb_rsp_write", lambda: embedding("row_sparse", "write", [[1, 5, 1, 7]]))
case("emb_rsp_add", lambda: embedding("row_sparse", "add", [[1, 5], [5, 2]]))
case("emb_rsp_add_twice", lambda: embedding("row_sparse", "add", [[0, 3]], repeats=2))
case("emb_rsp_write_twice", lambda: embedding("row_sparse", "write", [[1, 2], [6]]))
case("emb_dense_buffer", lambda: embedding("default", "write", [[1, 5, 1]]))
case("emb_dense_add", lambda: embedding("default", "add", [[1, 5], [5]]))

def emb_float64():
    w = mx.nd.array(w0, dtype="float64")
    w.attach_grad(stype="row_sparse")
    with mx.autograd.record():
        y = mx.nd.Embedding(mx.nd.array([2, 2, 4, 0]), w, input_dim=8, output_dim=3,
                            dtype="float64", sparse_grad=True)
    y.backward()
    return grad_desc(w.grad)
case("emb_f64_2d_ids", emb_float64)

def dot_grad(stype, ta):
    c = sp.csr_matrix((np.array([1., 2, 3, 4], dtype="float32"), np.array([0, 5, 2, 5]),
                       np.array([0, 2, 2, 4])), shape=(3, 8))
    w = mx.nd.array(w0 if not ta else np.arange(9, dtype="float32").reshape(3, 3))
    w.attach_grad(stype=stype)
    with mx.autograd.record():
        y = sp.dot(c, w, transpose_a=ta)
        loss = (y * y).sum()
    loss.backward()
    return grad_desc(w.grad)
case("dot_rsp_grad", lambda: dot_grad("row_sparse", False))
case("dot_dense_grad", lambda: dot_grad("default", False))
case("dot_T_dense_grad", lambda: dot_grad("default", True))

def gluon_embedding():
    emb = nn.Embedding(8, 3, sparse_grad=True)
    emb.initialize(mx.init.Constant(0.5), ctx=[mx.cpu(0), mx.cpu(1)])
    with mx.autograd.record():
        losses = [emb(mx.nd.array(ids, ctx=c)).sum() for ids, c in
                  (([1, 3, 1], mx.cpu(0)), ([6], mx.cpu(1)))]
    mx.autograd.backward(losses)
    res = {"grad_stype": emb.weight._grad_stype, "repr": repr(emb),
           "grads": [grad_desc(g) for g in emb.weight.list_grad()]}
    emb.weight.zero_grad()
    res["zeroed"] = [grad_desc(g) for g in emb.weight.list_grad()]
    with mx.autograd.record():
        loss = emb(mx.nd.array([2])).sum()
    loss.backward()
    emb.collect_params().zero_grad()
    res["dict_zeroed"] = grad_desc(emb.weight.grad(mx.cpu(0)))
    return res
case("gluon_embedding", gluon_embedding)

def sparse_param():
    p = mx.gluon.Parameter("w", shape=(4, 2), stype="row_sparse", grad_stype="row_sparse")
    p.initialize(init=mx.init.One(), ctx=[mx.cpu(0), mx.cpu(1)])
    res = {"repr": repr(p), "data_stypes": [d.stype for d in p._data],
           "grad_stypes": [g.stype for g in p.list_grad()],
           "values": p._data[0].asnumpy().tolist()}
    for name, fn in (("data", p.data), ("list_data", p.list_data),
                     ("row_sparse_data", lambda: p.row_sparse_data(mx.nd.array([1]))),
                     ("rsd_bad_id", lambda: p.row_sparse_data([1]))):
        try:
            fn()
            res[name] = "ok"
        except Exception as e:
            res[name] = [type(e).__name__, str(e)]
    q = mx.gluon.Parameter("q", shape=(4, 2))
    q.initialize()
    for name, fn in (("dense_rsd", lambda: q.row_sparse_data(mx.nd.array([1]))),
                     ("dense_lrsd", lambda: q.list_row_sparse_data(mx.nd.array([1])))):
        try:
            fn()
            res[name] = "ok"
        except Exception as e:
            res[name] = [type(e).__name__, str(e)]
    return res
case("sparse_param", sparse_param)

def bad_stype():
    try:
        mx.gluon.Parameter("z", shape=(2,), grad_stype="dense")
    except BaseException as e:
        return [type(e).__name__, str(e)]
case("bad_grad_stype", bad_stype)
print(json.dumps(out))
"""
