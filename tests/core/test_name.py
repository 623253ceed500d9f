"""mx.name.NameManager / Prefix drive block names as in MXNet 1.9.1."""

from __future__ import annotations

import mxlite as mx
from mxlite.gluon import nn
from tests._support.oracle import run_oracle

SCRIPT = """
from {pkg}.gluon import nn
names = []
with mx.name.NameManager():
    names += [nn.Dense(3).prefix, nn.Dense(3).prefix, nn.Sequential().prefix]
    with mx.name.Prefix('net_'):
        names += [nn.Dense(3).prefix, nn.Dense(3).prefix]
        with mx.name.NameManager():
            names.append(nn.Dense(3).prefix)
    names.append(nn.Dense(3).prefix)
    m = mx.name.NameManager()
    names += [m.get(None, 'fc'), m.get('given', 'fc'), m.get(None, 'fc')]
print(' '.join(names))
"""


def _mxlite_names() -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(SCRIPT.format(pkg="mxlite"), {"mx": mx})
    return out.getvalue().strip()


def test_name_manager_scopes_restart_and_restore_counters():
    assert _mxlite_names().split() == [
        "dense0_", "dense1_", "sequential0_", "net_dense0_", "net_dense1_", "dense0_",
        "dense2_", "fc0", "given", "fc1",
    ]  # fmt: skip
    before = nn.Dense(1).prefix
    with mx.name.NameManager():
        assert nn.Dense(1).prefix == "dense0_"
    after = nn.Dense(1).prefix
    assert int(after[5:-1]) == int(before[5:-1]) + 1


def test_name_manager_matches_oracle():
    assert run_oracle(SCRIPT.format(pkg="mxnet")).strip() == _mxlite_names()
