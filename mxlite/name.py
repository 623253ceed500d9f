"""``mx.name``: automatic naming of blocks (``dense0_``, ``dense1_``, ...), as MXNet 1.x.

The current NameManager (per thread) hands out the names; ``with mx.name.NameManager():`` starts
counting from 0 again inside the block, ``with mx.name.Prefix('net_'):`` also prefixes every name.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["NameManager", "Prefix", "current"]


class _Current(threading.local):
    def __init__(self) -> None:
        self.value: NameManager | None = None


_CURRENT = _Current()


class NameManager:
    """Hands out ``<hint><n>`` names from per-hint counters."""

    def __init__(self) -> None:
        self._counter: dict[str, int] = {}
        self._old_manager: NameManager | None = None

    def get(self, name: str | None, hint: str) -> str:
        """``name`` when given, else the next ``<hint><n>``."""
        if name:
            return name
        count = self._counter.get(hint, 0)
        self._counter[hint] = count + 1
        return f"{hint}{count}"

    def __enter__(self) -> NameManager:
        self._old_manager = current()
        _CURRENT.value = self
        return self

    def __exit__(self, *exc: Any) -> None:
        _CURRENT.value = self._old_manager


class Prefix(NameManager):
    """A NameManager that puts ``prefix`` in front of every name it gives."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def get(self, name: str | None, hint: str) -> str:
        return self._prefix + super().get(name, hint)


def current() -> NameManager:
    """This thread's current NameManager (a default one until a ``with`` block sets another)."""
    if _CURRENT.value is None:
        _CURRENT.value = NameManager()
    return _CURRENT.value
