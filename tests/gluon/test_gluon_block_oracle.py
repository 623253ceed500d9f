"""Differential tests of Blocks against MXNet 1.9.1: names, reprs, deferred-init order, summary,
load_parameters errors, and structural parameter files both ways."""

from __future__ import annotations

import json
import os
import textwrap

import numpy as np
import pytest

import mxlite
from tests._support.oracle import run_oracle
from tests.gluon.test_gluon_parameter_oracle import run_both

pytestmark = pytest.mark.oracle


def test_names_reprs_and_init_order():
    theirs, ours = run_both(
        """
        import io, contextlib
        nn, gluon, nd = mx.gluon.nn, mx.gluon, mx.nd
        out = {}
        class Model(gluon.Block):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                with self.name_scope():
                    self.dense0 = nn.Dense(3)
                    self.dense1 = nn.Dense(4, in_units=3)
                    self.seq = nn.Sequential()
                    self.seq.add(nn.Dense(2), nn.Dense(2, activation='tanh'))
                self.outside = nn.Dense(5)
            def forward(self, x):
                return self.outside(self.seq(self.dense1(self.dense0(x))))
        m = Model()
        out['prefixes'] = [m.prefix, m.name, m.dense0.prefix, m.seq.prefix, m.seq[0].prefix,
                           m.seq[1].act.prefix, m.outside.prefix, Model(prefix='foo_').dense1.prefix]
        out['repr'] = repr(m)
        out['params'] = repr(m.collect_params())
        out['select'] = list(m.collect_params('.*bias|.*dense1.*').keys())
        out['structural'] = list(m._collect_params_with_prefix().keys())
        hs = nn.HybridSequential()
        with hs.name_scope():
            hs.add(nn.Dense(3, in_units=2), nn.Activation('tanh'), nn.Dense(4, use_bias=False))
        out['hs'] = [hs.prefix, [c.prefix for c in hs._children.values()], repr(hs), repr(hs[1:]),
                     hs[1:].prefix, repr(hs[0:2].collect_params()), len(hs)]
        out['act'] = [nn.Activation('relu').prefix, repr(nn.Activation('softrelu'))]
        class PrintInit(mx.init.Initializer):
            def _init_weight(self, name, data):
                print('Init', name, data.shape)
        net = nn.Sequential()
        net.add(nn.Dense(16, activation='relu'), nn.Dense(4))
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            net.initialize(init=PrintInit())
            out['init_printed'] = buf.getvalue()
            x = nd.random.uniform(shape=(2, 20))
            net(x)
            net(x)
            net.initialize(init=PrintInit(), force_reinit=True)
            net2 = nn.Sequential()
            net2.add(nn.Dense(16, in_units=20, activation='relu'), nn.Dense(4, in_units=16))
            net2.initialize(init=PrintInit())
        out['printed'] = buf.getvalue()
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            net.summary(nd.ones((3, 20)))
        out['summary'] = buf.getvalue()
        out['tied'] = None
        shared = nn.Dense(8, activation='relu')
        tied = nn.Sequential()
        tied.add(nn.Dense(8, activation='relu'), shared, nn.Dense(8, activation='relu', params=shared.params), nn.Dense(10))
        tied.initialize()
        tied(nd.random.uniform(shape=(2, 20)))
        out['tied'] = [tied[1].weight is tied[2].weight, repr(tied.collect_params()), repr(tied)]
        print(json.dumps(out))
        """
    )
    assert ours == theirs


def test_load_parameters_errors(tmp_path):
    fname = str(tmp_path / "m.params")
    theirs, ours = run_both(
        f"""
        fname = {fname!r}
        """
        + """
        nn, gluon, nd = mx.gluon.nn, mx.gluon, mx.nd
        out = {}
        m = nn.Sequential()
        m.add(nn.Dense(3, in_units=2), nn.Dense(2, in_units=3))
        m.initialize()
        m.save_parameters(fname)
        n = nn.Sequential()
        n.add(nn.Dense(3, in_units=2))
        n.initialize()
        catch('extra', lambda: n.load_parameters(fname))
        bigger = nn.Sequential()
        bigger.add(nn.Dense(3, in_units=2), nn.Dense(2, in_units=3), nn.Dense(1, in_units=2))
        catch('missing', lambda: bigger.load_parameters(fname))
        catch('ctx', lambda: m.load_parameters(fname, ctx=mx.cpu(1)))
        wrong = nn.Sequential()
        wrong.add(nn.Dense(3, in_units=5), nn.Dense(2, in_units=3))
        catch('shape', lambda: wrong.load_parameters(fname))
        half = nn.Sequential()
        half.add(nn.Dense(3, in_units=2, dtype='float16'), nn.Dense(2, in_units=3, dtype='float16'))
        catch('dtype', lambda: half.load_parameters(fname))
        catch('cast', lambda: half.load_parameters(fname, cast_dtype=True))
        out['cast_dtype'] = str(half[0].weight.data().dtype.__name__)
        print(json.dumps(out))
        """
    )
    assert ours.keys() == theirs.keys()
    for label, expected in theirs.items():
        got = ours[label]
        assert (got is None) == (expected is None), label
        if label == "cast_dtype" or expected is None:
            assert got == expected, label
            continue
        assert expected[0][0] in got[0], (label, expected[0], got[0])
        if label == "extra":
            # MXNet lists the Sequential's own (empty) ParameterDict; mxlite lists the
            # structural names the file could have matched.
            cut = "which contains parameters "
            assert got[1].split(cut)[0] == expected[1].split(cut)[0]
            assert "'0.weight', '0.bias'" in got[1]
        else:
            assert got[1] == expected[1], label


def test_structural_files_both_ways(tmp_path):
    """save_parameters of a 2-replica model: MXNet and mxlite average replicas the same way and
    read each other's files."""
    script = textwrap.dedent(f"""
        import os
        os.chdir({str(tmp_path)!r})
        nn = mx.gluon.nn
        class Net(mx.gluon.Block):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                with self.name_scope():
                    self.body = nn.Sequential()
                    self.body.add(nn.Dense(4, activation='relu'), nn.Dense(3))
                    self.head = nn.Dense(1)
            def forward(self, x):
                return self.head(self.body(x))
        def build():
            net = Net()
            net.initialize(mx.init.Xavier(), ctx=[mx.cpu(0), mx.cpu(1)])
            net(mx.nd.ones((1, 5)))
            for i, p in enumerate(net.collect_params().values()):
                base = mx.nd.arange(p.data().size).reshape(p.shape) * 0.01 + i
                p.list_data()[0][:] = base
                p.list_data()[1][:] = base * 3
            return net
        x = mx.nd.array([[0.1, -0.2, 0.3, 0.4, -0.5], [1.0, 2.0, -3.0, 0.5, 0.25]])
        """)
    run_oracle(script + "\nbuild().save_parameters('theirs.params')\n")
    ns = {"mx": mxlite, "np": np, "json": json}
    cwd = os.getcwd()
    try:
        exec(compile(script, "<scenario>", "exec"), ns)  # the script changes directory
    finally:
        os.chdir(cwd)
    ns["build"]().save_parameters(str(tmp_path / "ours.params"))
    theirs_file = mxlite.nd.load(str(tmp_path / "theirs.params"))
    ours_file = mxlite.nd.load(str(tmp_path / "ours.params"))
    assert sorted(theirs_file) == sorted(ours_file)
    for key in theirs_file:
        np.testing.assert_allclose(ours_file[key].asnumpy(), theirs_file[key].asnumpy(), rtol=1e-6)
    mine = ns["Net"]()
    mine.load_parameters(str(tmp_path / "theirs.params"))
    ours_out = mine(ns["x"]).asnumpy()
    out = run_oracle(
        script
        + "net = Net()\nnet.load_parameters('ours.params')\nprint(json.dumps(net(x).asnumpy().tolist()))\n"
    )
    np.testing.assert_allclose(json.loads(out.strip().splitlines()[-1]), ours_out, rtol=1e-5)
