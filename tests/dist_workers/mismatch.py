"""Worker: workers that disagree, under ``mpiexec -n 3``; each prints what it was told.

1. ``init``: rank 1 gives key 'w' another shape, rank 2 leaves out key 'b';
2. ``push``: rank 2 pushes key 'w' as float64;
3. ``push``: rank 1 alone pushes a key nobody initialized (its own mistake);
4. then a correct ``init`` and ``pushpull`` still work on every worker (nothing hangs).

Prints ``JSON{"rank": r, "init": [type, message], "push": [...], "own": [...], "after": sum}``.
"""

from __future__ import annotations

import json

import mxlite as mx
from mxlite import nd

kv = mx.kv.create("dist_sync")
rank = kv.rank
out: dict = {"rank": rank}


def attempt(name: str, call) -> None:  # noqa: ANN001
    try:
        call()
        out[name] = None
    except Exception as err:  # noqa: BLE001 - the type and message are the result
        out[name] = [type(err).__name__, str(err)]


keys = ["w", "b"] if rank != 2 else ["w"]
shapes = {"w": (4, 4) if rank == 1 else (3, 4), "b": (4,)}
attempt("init", lambda: kv.init(keys, [nd.zeros(shapes[k]) for k in keys]))
out["init_stored"] = sorted(kv._store)
kv.init(["w", "b"] if rank == 0 else ["w", "b"], [nd.zeros((3, 4)), nd.zeros((4,))])
dtype = "float64" if rank == 2 else "float32"
attempt("push", lambda: kv.push("w", nd.ones((3, 4), dtype=dtype)))
attempt("own", lambda: kv.push("nobody" if rank == 1 else "w", nd.ones((3, 4))))
grads = [nd.ones((3, 4)) * (rank + 1), nd.ones((4,))]
kv.pushpull(["w", "b"], grads)
out["after"] = grads[0].asnumpy().ravel().tolist()[:2]
print("JSON" + json.dumps(out), flush=True)
