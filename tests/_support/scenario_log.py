"""Behaviour logs: one scenario source, run under real MXNet 1.9.1 and under mxlite, two equal logs.

:func:`mxnet_log` and :func:`mxlite_log` run :data:`PRELUDE`, then the scenario (``mx`` is
mxnet in the oracle and mxlite here; ``np`` is imported). The prelude defines ``LOG`` and
``log(label, fn)``: ``fn()``'s value is appended as ``[label, value]``, an exception as
``[label, "ERR <category>" + detail(e)]``, ``category`` being the first of the builtin classes
below that the exception is an instance of. Each scenario defines its own ``detail(e)`` (how much
of the message it compares), so MXNet's and mxlite's exception classes may differ as long as
they fall into the same category.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from typing import Any

import numpy as np

import mxlite as mx
from tests._support.oracle import run_oracle_json

__all__ = ["PRELUDE", "mxnet_log", "mxlite_log", "assert_logs_equal"]

PRELUDE = r"""
LOG = []

def category(e):
    for c in (UserWarning, AssertionError, ValueError, TypeError, ZeroDivisionError, RuntimeError,
              AttributeError):
        if isinstance(e, c):
            return c.__name__
    return "Exception"

def log(label, fn):
    try:
        value = fn()
    except Exception as e:  # noqa
        LOG.append([label, "ERR " + category(e) + detail(e)])
        return
    LOG.append([label, value])
"""


def mxnet_log(scenario: str, cwd: str | os.PathLike[str] | None = None) -> list[Any]:
    """``LOG`` after running the prelude and ``scenario`` under MXNet 1.9.1."""
    return run_oracle_json(PRELUDE + scenario + "\nprint(json.dumps(LOG))\n", cwd=cwd)


def mxlite_log(scenario: str) -> list[Any]:
    """``LOG`` after running the prelude and ``scenario`` here, through JSON like the oracle's
    (tuples become lists)."""
    ns: dict[str, Any] = {"mx": mx, "np": np}
    exec(PRELUDE + scenario, ns)  # noqa: S102 - the test's own scenario source
    return json.loads(json.dumps(ns["LOG"]))


def assert_logs_equal(mine: list[Any], ref: list[Any], category_only: Collection[str] = ()) -> None:
    """Same labels in the same order and equal entries; for labels in ``category_only`` (mxlite
    words its own message there) only the ``ERR <category>`` part must be equal."""
    assert [label for label, _ in mine] == [label for label, _ in ref]
    for (label, got), (_, want) in zip(mine, ref, strict=True):
        if label in category_only:
            assert got.split(" | ")[0] == want.split(" | ")[0], label
        else:
            assert got == want, label
