"""Progress of a benchmark run: tqdm's bar when tqdm is installed, else one line per step.

A minimal GPU image may have no tqdm (it is in the ``bench`` and ``examples`` extras only); the
benchmark must run there all the same.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any


class Progress:
    """A bar of ``total`` steps: :meth:`step` after each, :meth:`close` at the end."""

    def __init__(self, total: int, desc: str, unit: str = "step") -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.done = 0
        self.start = time.perf_counter()
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar: Any = None
        else:
            self._bar = tqdm(total=total, desc=desc, unit=unit)

    def step(self, text: str = "") -> None:
        """One step finished (``text``: what it was)."""
        self.done += 1
        if self._bar is not None:
            if text:
                self._bar.set_postfix_str(text)
            self._bar.update(1)
            return
        took = time.perf_counter() - self.start
        label = f" {text}" if text else ""
        print(f"{self.desc}: {self.done}/{self.total} {self.unit}{label} ({took:.0f} s)",
              file=sys.stderr, flush=True)  # fmt: skip

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def progress(items: Iterable[Any], desc: str, unit: str = "step") -> Iterator[Any]:
    """``items`` one by one, with a :class:`Progress` over them."""
    items = list(items)
    bar = Progress(len(items), desc, unit)
    try:
        for item in items:
            yield item
            bar.step()
    finally:
        bar.close()
