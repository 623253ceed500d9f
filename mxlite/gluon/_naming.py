"""Automatic block names, as MXNet 1.9.1 gives them.

A block created outside any name scope gets ``<alias><n>_`` from a per-thread counter per class
alias (``dense0_``, ``dense1_``, ``sequential0_``). Inside ``with parent.name_scope():`` it gets
the parent's prefix plus a counter local to that scope (``model0_dense0_``), and its
ParameterDict is prefixed the same way. :func:`fresh_names` restarts the counters (what a new
Python session, or ``with mx.name.NameManager():`` in MXNet, gives).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mxlite.gluon.parameter_dict import ParameterDict

if TYPE_CHECKING:
    from mxlite.gluon.block import Block

__all__ = ["AutoNames", "AUTO_NAMES", "BlockScope", "fresh_names"]


class AutoNames:
    """Names top-level blocks (``dense0``, ``dense1``, ``sequential0``) through the thread's
    current ``mx.name.NameManager``, so ``with mx.name.NameManager():`` and ``mx.name.Prefix``
    work as in MXNet."""

    def get(self, hint: str) -> str:
        from mxlite import name

        return name.current().get(None, hint)


AUTO_NAMES = AutoNames()


class BlockScope:
    """The name scope of one block: children created inside it are named under its prefix."""

    _current = threading.local()

    def __init__(self, block: Block) -> None:
        self._block = block
        self._counter: dict[str, int] = {}
        self._old_scope: BlockScope | None = None

    @staticmethod
    def create(prefix: str | None, params: Any, hint: str) -> tuple[str, ParameterDict]:
        """The prefix and ParameterDict of a new block with class alias ``hint``."""
        current = getattr(BlockScope._current, "value", None)
        if current is None:
            if prefix is None:
                prefix = AUTO_NAMES.get(hint) + "_"
            if params is None:
                params = ParameterDict(prefix)
            else:
                params = ParameterDict(params.prefix, params)
            return prefix, params
        if prefix is None:
            count = current._counter.get(hint, 0)
            prefix = f"{hint}{count}_"
            current._counter[hint] = count + 1
        if params is None:
            parent = current._block.params
            params = ParameterDict(parent.prefix + prefix, parent._shared)
        else:
            params = ParameterDict(params.prefix, params)
        return current._block.prefix + prefix, params

    def __enter__(self) -> BlockScope:
        if self._block._empty_prefix:
            return self
        self._old_scope = getattr(BlockScope._current, "value", None)
        BlockScope._current.value = self
        return self

    def __exit__(self, *exc: object) -> None:
        if self._block._empty_prefix:
            return
        BlockScope._current.value = self._old_scope


@contextlib.contextmanager
def fresh_names() -> Iterator[None]:
    """Within the block, top-level names count from 0 again; the old counters come back after."""
    from mxlite import name

    with name.NameManager():
        yield
