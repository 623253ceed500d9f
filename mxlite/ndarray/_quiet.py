"""Floating-point warnings off for one NumPy call, at the cost of a context-variable switch.

MXNet never warns about overflow, division by zero or invalid values; NumPy does unless its error
state says ``ignore``. ``with np.errstate(all="ignore")`` costs about a microsecond (it builds a
new state object each time), a tenth of a small op's whole cost. :func:`enter` / :func:`leave`
switch NumPy's error-state context variable to one prepared ``ignore`` state and back, where this
NumPy exposes it (NumPy 2.x); elsewhere they fall back to ``np.errstate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["enter", "leave"]

try:  # NumPy >= 2.0 keeps the error state in a context variable
    from numpy._core._ufunc_config import (  # type: ignore[attr-defined]
        _extobj_contextvar,
        _make_extobj,
    )

    _IGNORE = _make_extobj(all="ignore")

    def enter() -> Any:
        """Turn NumPy's floating-point warnings off; returns the token for :func:`leave`."""
        return _extobj_contextvar.set(_IGNORE)

    def leave(token: Any) -> None:
        """Restore the error state :func:`enter` replaced."""
        _extobj_contextvar.reset(token)

except ImportError:  # pragma: no cover - NumPy 1.x

    def enter() -> Any:
        """Turn NumPy's floating-point warnings off; returns the token for :func:`leave`."""
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def leave(token: Any) -> None:
        """Restore the error state :func:`enter` replaced."""
        token.__exit__(None, None, None)
