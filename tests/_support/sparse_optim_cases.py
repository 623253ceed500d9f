"""Sparse optimizer updates run under both MXNet 1.9.1 (the oracle) and mxlite: each optimizer
updates a dense weight from row_sparse gradients for three steps (``lazy_update`` True and
False where it exists), and ``SCRIPT`` prints the weights and states after every step."""

from __future__ import annotations

SCRIPT = r"""
import json
sp = mx.nd.sparse
out = {}
CASES = [
    ("sgd", {}), ("sgd", {"lazy_update": False}),
    ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "lazy_update": False}),
    ("sgd", {"momentum": 0.9, "wd": 0.0, "clip_gradient": 0.3}),
    ("nag", {"momentum": 0.9}),
    ("adam", {}), ("adam", {"lazy_update": False}),
    ("adam", {"clip_gradient": 0.3, "wd": 0.0}),
    ("adagrad", {"wd": 0.0}), ("adagrad", {}),
    ("ftrl", {}), ("ftrl", {"lamda1": 0.05, "clip_gradient": 0.3}),
    ("rmsprop", {}), ("rmsprop", {"centered": True}),
    ("signum", {"momentum": 0.9}), ("signum", {"momentum": 0.0}),
    ("groupadagrad", {"wd": 0.0}), ("groupadagrad", {"wd": 0.0, "clip_gradient": 0.2}),
    ("sgd", {"clip_gradient": 0.2}), ("sgd", {"clip_gradient": 0.2, "lazy_update": False}),
    ("adam", {"clip_gradient": 0.2, "lazy_update": False}), ("adam", {"beta1": 0.5}),
    ("adagrad", {"wd": 0.0, "clip_gradient": 0.2}),
]
RNG = np.random.RandomState(7)
W0 = RNG.standard_normal((40, 6)).astype("float32")
STEPS = []
for n in (5, 9, 1, 7):
    rows = np.sort(RNG.choice(40, n, replace=False))
    STEPS.append((rows.tolist(), RNG.standard_normal((n, 6)).astype("float32").tolist()))
def flat(state):
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [x for s in state for x in flat(s)]
    return [state]

def desc(a):
    return {"stype": a.stype, "values": a.asnumpy().tolist()}

for name, kw in CASES:
    key = name + json.dumps(kw, sort_keys=True)
    try:
        args = dict(learning_rate=0.1, wd=0.01, rescale_grad=0.5)
        args.update(kw)
        opt = mx.optimizer.create(name, **args)
        upd = mx.optimizer.get_updater(opt)
        w = mx.nd.array(W0)
        trace = []
        for rows, vals in STEPS:
            g = sp.row_sparse_array((np.array(vals, dtype="float32"), np.array(rows)), shape=(40, 6))
            upd(0, g, w)
            trace.append({"w": w.asnumpy().tolist(),
                          "states": [desc(s) for s in flat(upd.states[0])]})
        out[key] = trace
    except Exception as e:
        out[key] = {"error": type(e).__name__, "msg": str(e).split("\n")[0][:200]}
print(json.dumps(out))
"""
