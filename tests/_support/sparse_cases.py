"""Sparse-array scenarios run under both MXNet 1.9.1 (the oracle) and mxlite.

``SCRIPT`` is plain Python over ``mx`` and ``np`` that prints one JSON document: per case, the
result's class name, storage type, shape, dtype name and dense values, or the exception's class
name and first message line. The differential tests run it in both and compare.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any


def run_here(script: str, **scope: Any) -> Any:
    """Run a scenario script under mxlite (``mx`` and ``np`` given) and return the JSON it
    printed last."""
    import numpy as np

    import mxlite as mx

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(script, {"mx": mx, "np": np, **scope})  # noqa: S102
    return json.loads(buf.getvalue().strip().splitlines()[-1])


SCRIPT = r"""
import json
sp = mx.nd.sparse

def describe(r):
    if isinstance(r, mx.nd.NDArray):
        return {"cls": type(r).__name__, "stype": r.stype, "shape": list(r.shape),
                "dtype": np.dtype(r.dtype).name, "values": r.asnumpy().tolist()}
    if isinstance(r, (tuple, list)):
        return [describe(x) for x in r]
    if isinstance(r, (bool, int, float, str)) or r is None:
        return r
    return repr(r)

out = {}
def case(name, fn):
    try:
        out[name] = describe(fn())
    except Exception as e:
        out[name] = {"error": type(e).__name__, "msg": str(e).split("\n")[0][:200]}

f32 = "float32"
a = sp.row_sparse_array((np.array([[1, 2], [3, 4]], dtype=f32), np.array([1, 3])), shape=(4, 2))
b = sp.row_sparse_array((np.array([[5, 6], [7, 8]], dtype=f32), np.array([0, 3])), shape=(4, 2))
c = sp.csr_matrix((np.array([1., 2, 3], dtype=f32), np.array([0, 2, 1]), np.array([0, 2, 2, 3])),
                  shape=(3, 3))
c2 = sp.csr_matrix((np.array([4., 5], dtype=f32), np.array([2, 0]), np.array([0, 1, 1, 2])),
                   shape=(3, 3))
d = mx.nd.array([[0, 1, 0], [0, 0, 0], [2, 0, 3]])
dn = mx.nd.array([[1, 2], [3, 4], [5, 6], [7, 8]])
w = mx.nd.array([[1, 2], [3, 4], [5, 6]])

# constructors
case("rsp", lambda: a)
case("rsp_parts", lambda: [a.data, a.indices])
case("rsp_from_dense", lambda: sp.row_sparse_array(d))
case("rsp_from_dense_idx", lambda: sp.row_sparse_array(d).indices)
case("rsp_from_np64", lambda: sp.row_sparse_array(np.ones((2, 2))))
case("rsp_shape", lambda: sp.row_sparse_array((3, 4)))
case("rsp_noshape", lambda: sp.row_sparse_array((np.ones((2, 2)), [0, 1])))
case("rsp_dtype", lambda: sp.row_sparse_array((np.ones((2, 2)), [0, 1]), shape=(3, 2), dtype="float16"))
case("rsp_list", lambda: sp.row_sparse_array(([[1, 2]], [1]), shape=(3, 2)))
case("rsp_nd_parts", lambda: sp.row_sparse_array((mx.nd.ones((1, 2), dtype="float16"), mx.nd.array([0])), shape=(2, 2)))
case("rsp_int32_idx", lambda: sp.row_sparse_array((mx.nd.ones((1, 2)), mx.nd.array([0], dtype="int32")), shape=(2, 2)).indices)
case("rsp_unsorted", lambda: sp.row_sparse_array((np.array([[1., 1], [2, 2]]), np.array([2, 0])), shape=(3, 2)))
case("rsp_int", lambda: sp.row_sparse_array((np.ones((1, 2), dtype="int32"), [0]), shape=(2, 2)))
case("rsp_ctx", lambda: str(sp.row_sparse_array(d, ctx=mx.cpu(1)).context))
case("csr", lambda: c)
case("csr_parts", lambda: [c.data, c.indices, c.indptr])
case("csr_coo", lambda: sp.csr_matrix(([1, 2, 3], ([0, 1, 1], [2, 0, 1])), shape=(2, 3)))
case("csr_dense", lambda: sp.csr_matrix(d))
case("csr_dense_parts", lambda: [sp.csr_matrix(d).indices, sp.csr_matrix(d).indptr])
case("csr_shape", lambda: sp.csr_matrix((2, 3)))
case("csr_noshape", lambda: sp.csr_matrix(([1., 2], [0, 1], [0, 1, 2])))
case("csr_3d", lambda: sp.csr_matrix(mx.nd.ones((2, 2, 2))))
case("csr_np64", lambda: sp.csr_matrix(np.array([[1., 0]])))
case("zeros_rsp", lambda: sp.zeros("row_sparse", (3, 2)))
case("zeros_csr", lambda: sp.zeros("csr", (3, 2), dtype="float64"))
case("zeros_bad", lambda: sp.zeros("foo", (3, 2)))
case("nd_zeros_rsp", lambda: mx.nd.zeros((3, 2), stype="row_sparse"))
case("nd_zeros_csr", lambda: mx.nd.zeros((3, 2), stype="csr"))
case("empty", lambda: sp.empty("row_sparse", (2, 2)))
case("array_rsp", lambda: sp.array(a))
case("array_csr", lambda: sp.array(c, dtype="float64"))
case("array_np", lambda: sp.array(np.eye(2)))
# conversions
case("rsp_to_csr", lambda: a.tostype("csr"))
case("csr_to_rsp", lambda: c.tostype("row_sparse"))
case("rsp_to_dense", lambda: a.tostype("default"))
case("csr_to_dense", lambda: c.tostype("default"))
case("cast_storage", lambda: mx.nd.cast_storage(d, "csr"))
case("cast_storage_sp", lambda: sp.cast_storage(d, stype="row_sparse"))
case("tostype_bad", lambda: d.tostype("foo"))
case("astype", lambda: a.astype("int32"))
case("astype_csr", lambda: c.astype("float64"))
case("copy", lambda: a.copy())
case("copyto_ctx", lambda: [str(a.copyto(mx.cpu(1)).context), a.copyto(mx.cpu(1))])
case("copyto_rsp", lambda: a.copyto(sp.zeros("row_sparse", (4, 2))))
case("copyto_csr_into_csr", lambda: c.copyto(sp.zeros("csr", (3, 3))))
case("copyto_rsp_into_csr", lambda: a.copyto(sp.zeros("csr", (4, 2))))
case("as_in_context", lambda: str(c.as_in_context(mx.cpu(1)).context))
# printed forms and protocol
case("repr_rsp", lambda: repr(a))
case("repr_csr", lambda: repr(c))
case("str_rsp", lambda: str(sp.zeros("row_sparse", (2, 3), ctx=mx.cpu(1))))
case("len", lambda: [len(a), len(c)])
case("ndim", lambda: [a.ndim, c.ndim])
case("stype_dense", lambda: d.stype)
case("size", lambda: a.size)
case("bool", lambda: bool(a))
case("reshape", lambda: a.reshape((2, 4)))
# slicing
case("csr_slice", lambda: c[1:3])
case("csr_int", lambda: c[1])
case("csr_neg", lambda: c[-1])
case("csr_all", lambda: c[:])
case("csr_step", lambda: c[::2])
case("rsp_all", lambda: a[:])
case("rsp_int", lambda: a[1])
case("rsp_slice", lambda: a[1:2])
def setitem(x, key, v):
    x[key] = v
    return x
case("set_rsp_dense", lambda: setitem(a.copy(), slice(None), mx.nd.ones((4, 2))))
case("set_rsp_scalar", lambda: setitem(a.copy(), slice(None), 3))
case("set_rsp_int", lambda: setitem(a.copy(), 1, 3))
case("set_csr_csr", lambda: setitem(c.copy(), slice(None), c * 2))
# retain
case("retain", lambda: sp.retain(a, mx.nd.array([0, 1])))
case("retain_int64", lambda: sp.retain(a, mx.nd.array([3, 0], dtype="int64")))
case("retain_csr", lambda: sp.retain(c, mx.nd.array([0])))
case("asscipy", lambda: [type(c.asscipy()).__name__, c.asscipy().toarray().tolist()])
# elementwise storage rules
pairs = {"rr": (a, b), "rd": (a, dn), "dr": (dn, a), "cc": (c, c2), "cd": (c, d), "dc": (d, c)}
ops = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
       "div": lambda x, y: x / y}
for pn, (l, r) in pairs.items():
    for on, f in ops.items():
        case("%s_%s" % (on, pn), (lambda f=f, l=l, r=r: f(l, r)))
for pn, (l, r) in {"rr": (a, b), "cc": (c, c2), "rd": (a, dn), "cd": (c, d)}.items():
    case("elemwise_add_" + pn, lambda l=l, r=r: sp.elemwise_add(l, r))
    case("elemwise_mul_" + pn, lambda l=l, r=r: sp.elemwise_mul(l, r))
    case("sp_add_" + pn, lambda l=l, r=r: sp.add(l, r))
    case("sp_subtract_" + pn, lambda l=l, r=r: sp.subtract(l, r))
    case("sp_multiply_" + pn, lambda l=l, r=r: sp.multiply(l, r))
case("sp_multiply_bcast", lambda: sp.multiply(c, mx.nd.array([[1], [2], [3]])))
case("sp_divide_bcast", lambda: sp.divide(c, mx.nd.array([[1, 2, 4]])))
case("add_shape_mismatch", lambda: a + sp.zeros("row_sparse", (5, 2)))
for on, f in {"add1": lambda x: x + 1, "mul2": lambda x: x * 2.5, "div2": lambda x: x / 2,
              "rmul": lambda x: 2 * x, "rsub": lambda x: 1 - x, "neg": lambda x: -x,
              "pow": lambda x: x ** 2, "eq": lambda x: x == x}.items():
    case("scalar_%s_rsp" % on, lambda f=f: f(a))
    case("scalar_%s_csr" % on, lambda f=f: f(c))
def inplace(x, op, y):
    if op == "+":
        x += y
    elif op == "-":
        x -= y
    else:
        x *= y
    return x
case("iadd_rsp", lambda: inplace(a.copy(), "+", b))
case("imul_rsp", lambda: inplace(a.copy(), "*", 2))
case("isub_rsp_dense", lambda: inplace(a.copy(), "-", dn))
case("iadd_dense_rsp", lambda: inplace(dn.copy(), "+", a))
case("iadd_csr", lambda: inplace(c.copy(), "+", c2))
for un in ("sqrt", "abs", "square", "sign", "relu", "negative", "tanh", "floor"):
    case("sp_%s_rsp" % un, lambda un=un: getattr(sp, un)(a))
    case("sp_%s_csr" % un, lambda un=un: getattr(sp, un)(c))
case("sp_clip", lambda: sp.clip(a, 1.5, 3.5))
case("sp_zeros_like", lambda: sp.zeros_like(c))
case("nd_exp_rsp", lambda: mx.nd.exp(a))
case("nd_sqrt_rsp", lambda: mx.nd.sqrt(a))
case("nd_square_csr", lambda: mx.nd.square(c))
case("nd_relu_rsp", lambda: mx.nd.relu(-a))
case("nd_clip_rsp", lambda: mx.nd.clip(a, 0, 2.5))
case("nd_zeros_like_rsp", lambda: mx.nd.zeros_like(a))
case("nd_sum_rsp_axis0", lambda: mx.nd.sum(a, axis=0))
case("nd_mean_csr_axis1", lambda: mx.nd.mean(c, axis=1))
case("nd_dot_csrT", lambda: mx.nd.dot(c, w, transpose_a=True))
case("nd_dot_dns_csr", lambda: mx.nd.dot(mx.nd.array([[1, 2, 3], [4, 5, 6]]), c))
case("nd_elemwise_add_rr", lambda: mx.nd.elemwise_add(a, b))
case("nd_elemwise_mul_rd", lambda: mx.nd.elemwise_mul(a, dn))
case("nd_elemwise_div_cd", lambda: mx.nd.elemwise_div(c, d + 1))
case("nd_where_csr", lambda: mx.nd.where(c, mx.nd.ones((3, 3)), mx.nd.zeros((3, 3))))
case("nd_sum_csr", lambda: mx.nd.sum(c))
case("T_csr", lambda: c.T)
# dot
ones32 = mx.nd.ones((3, 2))
case("dot_csr_dns", lambda: sp.dot(c, w))
case("dot_csrT_dns", lambda: sp.dot(c, w, transpose_a=True))
case("dot_csr_dnsT", lambda: sp.dot(c, mx.nd.array([[1, 2, 3], [4, 5, 6]]), transpose_b=True))
case("dot_csrT_dnsT", lambda: sp.dot(c, mx.nd.array([[1, 2, 3], [4, 5, 6]]), transpose_a=True, transpose_b=True))
case("dot_dns_csr", lambda: sp.dot(mx.nd.array([[1, 2, 3], [4, 5, 6]]), c))
case("dot_dns_csrT", lambda: sp.dot(mx.nd.array([[1, 2, 3], [4, 5, 6]]), c, transpose_b=True))
case("dot_dns_csr_fdef", lambda: sp.dot(mx.nd.array([[1, 2, 3], [4, 5, 6]]), c, forward_stype="default"))
case("dot_csr_rsp", lambda: sp.dot(c, sp.row_sparse_array(w)))
case("dot_csrT_rsp", lambda: sp.dot(c, sp.row_sparse_array(w), transpose_a=True))
case("dot_rsp_dns", lambda: sp.dot(a, mx.nd.array([[1, 2, 3], [4, 5, 6]])))
case("dot_empty_csr", lambda: sp.dot(sp.zeros("csr", (3, 2)), w, transpose_a=True))
case("dot_bad_shape", lambda: sp.dot(c, mx.nd.ones((4, 2))))
# reductions, where, square_sum
for ax in (None, 0, 1):
    case("sum_csr_%s" % ax, lambda ax=ax: sp.sum(c, axis=ax))
    case("mean_csr_%s" % ax, lambda ax=ax: sp.mean(c, axis=ax))
    case("sum_rsp_%s" % ax, lambda ax=ax: sp.sum(a, axis=ax))
case("sum_csr_1k", lambda: sp.sum(c, axis=1, keepdims=True))
case("sum_csr_0k", lambda: sp.sum(c, axis=0, keepdims=True))
case("where_csr", lambda: sp.where(c, mx.nd.ones((3, 3)), mx.nd.zeros((3, 3))))
case("square_sum_1", lambda: SQ(a, axis=1))
case("square_sum_1k", lambda: SQ(a, axis=1, keepdims=True))
case("square_sum_0", lambda: SQ(a, axis=0))
print(json.dumps(out))
"""
