"""mx.io against MXNet 1.9.1: NDArrayIter batches and pads for every last_batch_handle over
several epochs (reset, hard_reset, roll-over, shuffling), provide_data/provide_label and their
reprs, ResizeIter, PrefetchingIter, DataDesc/DataBatch, and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import CheckError
from tests._support.scenario_log import assert_logs_equal, mxlite_log, mxnet_log
from tests.gluon.data.test_gluon_data_oracle import DETAIL

HELPERS = (
    DETAIL
    + r"""
def batches(it, n=None):
    out = []
    for i, b in enumerate(it):
        if n is not None and i == n:
            break
        out.append([b.pad, b.index, [[np.dtype(x.dtype).name, x.asnumpy().tolist()] for x in b.data],
                    [x.asnumpy().tolist() for x in b.label or []]])
    return out

X = np.arange(20).reshape(10, 2)
Y = np.arange(10)
"""
)

NDARRAY_ITER = r"""
for handle in ["pad", "discard", "roll_over"]:
    for bs in [3, 4, 10, 13, 25]:
        it = mx.io.NDArrayIter(X, Y, batch_size=bs, last_batch_handle=handle)
        log(f"{handle}-{bs}-descs", lambda: [repr(it.provide_data), repr(it.provide_label)])
        for epoch in range(3):
            log(f"{handle}-{bs}-epoch{epoch}", lambda: [batches(it), it.getpad(), it.cursor])
            it.reset()
        it.hard_reset()
        log(f"{handle}-{bs}-hard", lambda: batches(it))
    it = mx.io.NDArrayIter(X, Y, batch_size=3, last_batch_handle=handle)
    log(f"{handle}-partial", lambda: batches(it, 2))
    it.reset()
    log(f"{handle}-after-partial-reset", lambda: batches(it))
np.random.seed(4)
it = mx.io.NDArrayIter(X, Y, batch_size=4, shuffle=True, last_batch_handle="roll_over")
log("shuffle", lambda: [batches(it) for _ in range(2) if it.reset() is None])
it = mx.io.NDArrayIter({"b": X, "a": X * 10}, {"l": Y, "k": Y + 1}, batch_size=4)
log("dict", lambda: [repr(it.provide_data), repr(it.provide_label), batches(it)])
it = mx.io.NDArrayIter([mx.nd.array(X, dtype="int32"), X], batch_size=6, last_batch_handle="discard")
log("list", lambda: [repr(it.provide_data), it.provide_label, batches(it)])
it = mx.io.NDArrayIter(mx.nd.array(X, dtype="int32"), batch_size=6, shuffle=True)
log("shuffle-dtype", lambda: repr(it.provide_data))
it = mx.io.NDArrayIter(X.reshape(10, 2, 1), Y, batch_size=4, data_name="x", label_name="y",
                       layout="NTC")
log("names-layout", lambda: [repr(it.provide_data), repr(it.provide_label), batches(it)])
it = mx.io.NDArrayIter(X, batch_size=4)
b = it.next()
log("no-label", lambda: [str(b), b.label, it.getlabel(), it.getindex(), it.iter_next(), it.getpad()])
log("databatch-str", lambda: str(mx.io.DataBatch([mx.nd.ones((2, 3))], [mx.nd.ones((2,))], pad=1)))
log("databatch-nolabel", lambda: str(mx.io.DataBatch([mx.nd.ones((2, 3))])))
"""

OTHER_ITERS = r"""
log("desc", lambda: [repr(mx.io.DataDesc("x", (1, 2))), repr(mx.io.DataDesc("x", (1, 2), "int32", "NTC")),
                     mx.io.DataDesc("x", (1, 2)).dtype is np.float32, mx.io.DataDesc("x", (3,)).layout])
log("desc-tuple", lambda: [list(mx.io.DataDesc("x", (1, 2))), mx.io.DataDesc("x", (1, 2))[1]])
log("batch-axis", lambda: [mx.io.DataDesc.get_batch_axis(l) for l in ("NCHW", "TNC", None, "CHW")])
log("get-list", lambda: [repr(d) for d in mx.io.DataDesc.get_list([("a", (1,)), ("b", (2, 3))], [("a", "int32"), ("b", "float16")])]
                        + [repr(d) for d in mx.io.DataDesc.get_list([("a", (1,))], None)])
base = mx.io.NDArrayIter(X, Y, batch_size=4)
rit = mx.io.ResizeIter(base, 5)
log("resize", lambda: [batches(rit), rit.batch_size, repr(rit.provide_data)])
rit.reset()
log("resize-again", lambda: batches(rit))
rit = mx.io.ResizeIter(mx.io.NDArrayIter(X, Y, batch_size=4), 2, reset_internal=False)
log("resize-small", lambda: [batches(rit) for _ in range(2) if rit.reset() is None])
pit = mx.io.PrefetchingIter([mx.io.NDArrayIter(X, Y, batch_size=4),
                             mx.io.NDArrayIter({"data": X * 2}, {"softmax_label": Y * 2}, batch_size=4)],
                            rename_data=[{"data": "d1"}, {"data": "d2"}])
log("prefetch-descs", lambda: [repr(pit.provide_data), repr(pit.provide_label), pit.batch_size])
log("prefetch", lambda: batches(pit))
pit.reset()
log("prefetch-again", lambda: batches(pit))
pit = mx.io.PrefetchingIter(mx.io.NDArrayIter(X, Y, batch_size=5))
log("prefetch-single", lambda: [batches(pit), repr(pit.provide_data)])
pit = mx.io.PrefetchingIter([mx.io.NDArrayIter(X, batch_size=4), mx.io.NDArrayIter(X[:5], batch_size=4)])
log("err-prefetch", lambda: batches(pit))
log("err-databatch", lambda: mx.io.DataBatch(mx.nd.ones((2,))))
log("err-databatch-label", lambda: mx.io.DataBatch([mx.nd.ones((2,))], mx.nd.ones((2,))))
log("err-str", lambda: mx.io.NDArrayIter("abc"))
log("err-dict-str", lambda: mx.io.NDArrayIter({"x": "abc"}))
"""


@pytest.mark.oracle
def test_ndarray_iter_matches_mxnet() -> None:
    scenario = HELPERS + NDARRAY_ITER
    ref = mxnet_log(scenario)
    mine = mxlite_log(scenario)
    assert_logs_equal(mine, ref)


@pytest.mark.oracle
def test_descs_resize_and_prefetching_iterators_match_mxnet() -> None:
    scenario = HELPERS + OTHER_ITERS
    ref = mxnet_log(scenario)
    mine = mxlite_log(scenario)
    assert_logs_equal(mine, ref)


def test_ndarray_iter_keeps_the_arrays_context(ctx: mx.Context) -> None:
    data = mx.nd.array(np.arange(12).reshape(6, 2), ctx=ctx)
    it = mx.io.NDArrayIter(data, mx.nd.arange(6, ctx=ctx), batch_size=4)
    first, second = list(it)
    assert first.data[0].context == ctx and second.label[0].context == ctx
    assert second.pad == 2 and second.label[0].asnumpy().tolist() == [4, 5, 0, 1]


def test_ndarray_iter_refuses_bad_arguments_when_made() -> None:
    # MXNet treats an unknown mode as 'discard' and fails on mismatched lengths only later.
    with pytest.raises(ValueError, match="last_batch_handle must be one of 'pad', 'discard'"):
        mx.io.NDArrayIter(np.zeros((4, 2)), last_batch_handle="bogus")
    with pytest.raises(ValueError, match="'data' has 4 and 'softmax_label' has 3"):
        mx.io.NDArrayIter(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        mx.io.NDArrayIter(np.zeros((4, 2)), batch_size=0)
    with pytest.raises(CheckError, match="data must be given"):
        mx.io.NDArrayIter(None)
    with pytest.raises(CheckError, match="at least one array"):
        mx.io.NDArrayIter([])
    it = mx.io.NDArrayIter(np.zeros((4, 2)), batch_size=2)
    list(it)
    with pytest.raises(CheckError, match="DataIter needs reset"):
        it.getdata()
