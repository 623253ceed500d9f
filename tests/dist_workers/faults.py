"""Worker: pushpull steps of a dist_sync store until one worker fails on purpose.

``python faults.py MODE VICTIM LIMIT`` under ``mpiexec``: with ``kv.timeout = LIMIT`` seconds
after start-up, worker VICTIM, at step 3, ``kill`` (SIGKILL
itself), ``stop`` (SIGSTOP itself: a hung worker), ``raise`` (an uncaught RuntimeError) or
``exit`` (leaves the loop early, status 0). The others keep stepping; they must not hang. A
worker that gets through every step prints ``finished``.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import mxlite as mx

mode, victim, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
kv = mx.kv.create("dist_sync")  # under the default limit: workers may start seconds apart
keys = list(range(4))
kv.init(keys, [mx.nd.zeros((1000,)) for _ in keys])
kv.timeout = limit  # the limit under test, from here on
grads = [[mx.nd.ones((1000,), ctx=mx.cpu(c)) for c in range(2)] for _ in keys]
print(f"rank {kv.rank} started", flush=True)
for step in range(20):
    if step == 3 and kv.rank == victim:
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif mode == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        elif mode == "raise":
            raise RuntimeError(f"worker {kv.rank} failed on purpose")
        elif mode == "exit":
            sys.exit(0)
    kv.pushpull(keys, grads)
    time.sleep(0.05)
print(f"rank {kv.rank} finished", flush=True)
