"""Behaviour of ``mx.nd.sparse`` arrays on every context: storage, conversions, operators
against NumPy references, row-sparse kernels, and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError
from mxlite.ops import row_sparse

sp = mx.nd.sparse


def _random_csr(rng: np.random.Generator, m: int, n: int, density: float) -> np.ndarray:
    dense = rng.standard_normal((m, n)).astype(np.float32)
    dense[rng.random((m, n)) > density] = 0
    return dense


def test_row_sparse_storage_on_ctx(ctx: mx.Context) -> None:
    a = sp.row_sparse_array(([[1.0, 2.0], [3.0, 4.0]], [3, 1]), shape=(5, 2), ctx=ctx)
    assert a.context == ctx and a.stype == "row_sparse" and a.shape == (5, 2)
    assert a.indices.asnumpy().tolist() == [1, 3]  # sorted with their rows
    assert a.data.asnumpy().tolist() == [[3.0, 4.0], [1.0, 2.0]]
    assert a.asnumpy()[3].tolist() == [1.0, 2.0]
    moved = a.copyto(mx.cpu(1) if ctx != mx.cpu(1) else mx.cpu(0))
    assert moved.stype == "row_sparse" and moved.asnumpy().tolist() == a.asnumpy().tolist()
    assert a.as_in_context(ctx) is a


def test_csr_storage_on_ctx(ctx: mx.Context) -> None:
    rng = np.random.default_rng(0)
    dense = _random_csr(rng, 7, 5, 0.4)
    c = sp.csr_matrix(mx.nd.array(dense, ctx=ctx), ctx=ctx)
    assert c.context == ctx and c.stype == "csr"
    np.testing.assert_array_equal(c.asnumpy(), dense)
    np.testing.assert_array_equal(c.indptr.asnumpy(), np.r_[0, np.cumsum((dense != 0).sum(1))])
    np.testing.assert_array_equal(c[2:5].asnumpy(), dense[2:5])
    np.testing.assert_array_equal(c.tostype("default").asnumpy(), dense)


def test_dot_matches_numpy(ctx: mx.Context) -> None:
    rng = np.random.default_rng(1)
    dense = _random_csr(rng, 9, 6, 0.3)
    c = sp.csr_matrix(mx.nd.array(dense, ctx=ctx), ctx=ctx)
    w = rng.standard_normal((6, 4)).astype(np.float32)
    g = rng.standard_normal((9, 4)).astype(np.float32)
    np.testing.assert_allclose(sp.dot(c, mx.nd.array(w, ctx=ctx)).asnumpy(), dense @ w, rtol=1e-5)
    rsp = sp.dot(c, mx.nd.array(g, ctx=ctx), transpose_a=True)
    assert rsp.stype == "row_sparse"
    np.testing.assert_allclose(rsp.asnumpy(), dense.T @ g, rtol=1e-5, atol=1e-6)
    assert set(rsp.indices.asnumpy().tolist()) == set(np.flatnonzero(dense.any(0)).tolist())
    left = rng.standard_normal((3, 9)).astype(np.float32)
    out = sp.dot(mx.nd.array(left, ctx=ctx), c)
    assert out.stype == "csr"
    np.testing.assert_allclose(out.asnumpy(), left @ dense, rtol=1e-5, atol=1e-6)


def test_sparse_dot_gradient_is_row_sparse_for_row_sparse_buffers() -> None:
    rng = np.random.default_rng(2)
    dense = _random_csr(rng, 4, 10, 0.2)
    c = sp.csr_matrix(mx.nd.array(dense))
    w = mx.nd.array(rng.standard_normal((10, 3)).astype(np.float32))
    w.attach_grad(stype="row_sparse")
    with mx.autograd.record():
        y = sp.dot(c, w)
    y.backward()
    assert w.grad.stype == "row_sparse"
    np.testing.assert_allclose(w.grad.asnumpy(), dense.T @ np.ones((4, 3)), rtol=1e-6)
    assert w.grad.indices.asnumpy().tolist() == np.flatnonzero(dense.any(0)).tolist()
    w2 = mx.nd.array(w.asnumpy())
    w2.attach_grad()
    with mx.autograd.record():
        y2 = sp.dot(c, w2)
    y2.backward()
    assert w2.grad.stype == "default"
    np.testing.assert_allclose(w2.grad.asnumpy(), w.grad.asnumpy())


def test_reductions_and_elementwise_match_numpy(ctx: mx.Context) -> None:
    rng = np.random.default_rng(3)
    d1, d2 = _random_csr(rng, 6, 5, 0.5), _random_csr(rng, 6, 5, 0.5)
    c1, c2 = (
        sp.csr_matrix(mx.nd.array(d1, ctx=ctx), ctx=ctx),
        sp.csr_matrix(mx.nd.array(d2, ctx=ctx), ctx=ctx),
    )
    for axis in (0, 1):
        np.testing.assert_allclose(sp.sum(c1, axis=axis).asnumpy(), d1.sum(axis), rtol=1e-5)
        np.testing.assert_allclose(sp.mean(c1, axis=axis).asnumpy(), d1.mean(axis), rtol=1e-5)
    np.testing.assert_allclose((c1 + c2).asnumpy(), d1 + d2)
    np.testing.assert_allclose((c1 - c2).asnumpy(), d1 - d2)
    np.testing.assert_allclose((c1 * c2).asnumpy(), d1 * d2)
    r1, r2 = c1.tostype("default").tostype("row_sparse"), sp.row_sparse_array(d2, ctx=ctx)
    np.testing.assert_allclose((r1 + r2).asnumpy(), d1 + d2)
    np.testing.assert_allclose((r1 * r2).asnumpy(), d1 * d2)
    assert (r1 * r2).stype == "row_sparse"


def test_merge_rows_sums_repeats() -> None:
    idx = np.array([5, 1, 5, 3, 1, 5])
    vals = np.arange(12, dtype=np.float32).reshape(6, 2)
    uniq, summed = row_sparse.merge_rows(np, idx, vals)
    assert uniq.tolist() == [1, 3, 5]
    assert summed.tolist() == [[10.0, 12.0], [6.0, 7.0], [14.0, 17.0]]


def test_row_sparse_grad_adds_to_dense_and_sparse() -> None:
    g1 = row_sparse.RowSparseGrad(np.array([0, 2]), np.ones((2, 2), np.float32), (4, 2))
    g2 = row_sparse.RowSparseGrad(np.array([2, 3]), np.full((2, 2), 2, np.float32), (4, 2))
    both = g1 + g2
    assert both.indices.tolist() == [0, 2, 3] and both.values[1].tolist() == [3.0, 3.0]
    dense = np.zeros((4, 2), np.float32) + g1
    assert dense.tolist() == [[1, 1], [0, 0], [1, 1], [0, 0]]


@pytest.mark.parametrize(
    ("make", "err", "fragment"),
    [
        (lambda: sp.row_sparse_array(([[1.0, 2.0]], [7]), shape=(3, 2)), MXNetError, "in [0, 3)"),
        (lambda: sp.row_sparse_array(([[1.0], [2.0]], [1, 1]), shape=(3, 1)), ValueError, "repeat"),
        (lambda: sp.row_sparse_array(([[1.0], [2.0]], [1]), shape=(3, 1)), MXNetError, "rows"),
        (lambda: sp.row_sparse_array(([[1.0, 2.0]], [1]), shape=(3, 3)), MXNetError, "shape"),
        (
            lambda: sp.csr_matrix(([1.0, 2.0], [0, 1], [0, 2, 1]), shape=(2, 2)),
            MXNetError,
            "indptr",
        ),
        (
            lambda: sp.csr_matrix(([1.0, 2.0], [0, 5], [0, 1, 2]), shape=(2, 2)),
            MXNetError,
            "[0, 2)",
        ),
        (
            lambda: sp.csr_matrix(([1.0, 2.0], [1, 0], [0, 2, 2]), shape=(2, 2)),
            MXNetError,
            "increasing",
        ),
        (lambda: sp.csr_matrix(([1.0], [0, 1], [0, 1, 1]), shape=(2, 2)), MXNetError, "indices"),
        (lambda: sp.zeros("dense", (2, 2)), ValueError, "unknown storage type"),
        (lambda: mx.nd.ones((2, 2)).tostype("rsp"), MXNetError, "valid values"),
    ],
)
def test_bad_components_raise(make: object, err: type, fragment: str) -> None:
    with pytest.raises(err, match=None) as info:
        make()  # type: ignore[operator]
    assert fragment in str(info.value)


def test_check_format_and_copyto_errors() -> None:
    a = sp.row_sparse_array(([[1.0, 2.0]], [1]), shape=(3, 2))
    a.check_format()
    a._indices = np.array([5])  # a damaged array (as a buggy caller could build one)
    with pytest.raises(MXNetError, match="in"):
        a.check_format()
    c = sp.zeros("csr", (3, 2))
    with pytest.raises(TypeError, match="stype csr"):
        sp.row_sparse_array(([[1.0, 2.0]], [1]), shape=(3, 2)).copyto(c)
    assert c.indptr.asnumpy().tolist() == [0, 0, 0, 0]  # unchanged


def test_scipy_round_trip() -> None:
    ss = pytest.importorskip("scipy.sparse")
    m = ss.random(6, 5, density=0.4, format="csr", dtype=np.float32, random_state=4)
    c = sp.csr_matrix(m)
    np.testing.assert_array_equal(c.asnumpy(), m.toarray())
    back = c.asscipy()
    assert isinstance(back, ss.csr_matrix)
    np.testing.assert_array_equal(back.toarray(), m.toarray())
    with pytest.raises(TypeError, match="array like"):
        sp.csr_matrix(m.tocoo())


def test_scipy_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("scipy"):
            raise ImportError("No module named 'scipy'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pip install scipy"):
        sp.zeros("csr", (2, 2)).asscipy()


def test_dense_ops_fall_back_to_dense_storage() -> None:
    a = sp.row_sparse_array(([[1.0, 2.0]], [1]), shape=(3, 2))
    out = mx.nd.exp(a)
    assert type(out) is mx.nd.NDArray and out.stype == "default"
    np.testing.assert_allclose(out.asnumpy(), np.exp(a.asnumpy()), rtol=1e-6)
    assert (a + mx.nd.ones((3, 2))).stype == "default"
    assert mx.nd.sum(a).asscalar() == 3.0


def test_import_stays_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mxlite; assert 'scipy' not in sys.modules and "
        "'mxlite.ndarray.sparse' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sparse_paths_on_a_fake_gpu(fake_gpu: object, tmp_path: object) -> None:
    """The CuPy code paths (buffers on the device, atomic adds for repeated rows) on the fake
    CuPy of tests/_support/fake_cupy.py: constructors, Embedding's row_sparse gradient, csr dot, a lazy
    Adam step, row_sparse_pull into a GPU and a CPU output, and a save from the device."""
    from mxlite import backend

    gpu = mx.gpu(0)
    rsp = sp.row_sparse_array(([[1.0, 2.0], [3.0, 4.0]], [3, 1]), shape=(5, 2), ctx=gpu)
    assert rsp.context == gpu and backend.is_gpu_array(rsp._values)
    assert rsp.asnumpy()[1].tolist() == [3.0, 4.0]
    w = mx.nd.ones((6, 2), ctx=gpu)
    w.attach_grad(stype="row_sparse")
    with mx.autograd.record():
        y = mx.nd.Embedding(mx.nd.array([1, 4, 1], ctx=gpu), w, 6, 2, sparse_grad=True)
    y.backward()
    assert w.grad.indices.asnumpy().tolist() == [1, 4]
    assert w.grad.data.asnumpy().tolist() == [[2.0, 2.0], [1.0, 1.0]]
    dense = np.array([[0, 2.0, 0], [1.0, 0, 1.0]], np.float32)
    c = sp.csr_matrix(mx.nd.array(dense, ctx=gpu), ctx=gpu)
    b = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_allclose(sp.dot(c, mx.nd.array(b, ctx=gpu)).asnumpy(), dense @ b)
    opt = mx.optimizer.create("adam", learning_rate=0.1)
    state = opt.create_state(0, w)
    opt.update(0, w, w.grad, state)
    changed = np.flatnonzero((w.asnumpy() != 1).any(axis=1)).tolist()
    assert changed == [1, 4]
    kv = mx.kv.create("device")
    kv.init(0, mx.nd.array(np.arange(12, dtype=np.float32).reshape(6, 2)).tostype("row_sparse"))
    outs = [sp.zeros("row_sparse", (6, 2), ctx=gpu), sp.zeros("row_sparse", (6, 2))]
    kv.row_sparse_pull(0, out=outs, row_ids=mx.nd.array([5, 2, 5], ctx=gpu))
    for out in outs:
        assert out.indices.asnumpy().tolist() == [2, 5]
        assert out.data.asnumpy().tolist() == [[4.0, 5.0], [10.0, 11.0]]
    path = str(tmp_path) + "/g.params"  # type: ignore[operator]
    mx.nd.save(path, {"g": w.grad})
    assert mx.nd.load(path)["g"].asnumpy().tolist() == w.grad.asnumpy().tolist()


def test_autograd_grad_returns_sparse_gradients_densely() -> None:
    w = mx.nd.ones((5, 2))
    w.attach_grad()
    with mx.autograd.record():
        y = mx.nd.Embedding(mx.nd.array([3, 3]), w, 5, 2, sparse_grad=True)
    (g,) = mx.autograd.grad([y], [w])
    assert g.stype == "default" and g.asnumpy()[3].tolist() == [2.0, 2.0]
    assert g.asnumpy().sum() == 4.0
