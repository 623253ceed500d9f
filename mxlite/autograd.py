"""Autograd: placeholder until the autograd issue lands (recording is always off)."""

from __future__ import annotations

from typing import Any


def is_recording() -> bool:
    """Whether operations are being recorded for differentiation."""
    return False


def is_training() -> bool:
    """Whether layers run in training mode."""
    return False


def record_op(op: str, inputs: Any, output: Any, attrs: dict[str, Any]) -> None:
    """Record one operation on the tape (no-op while autograd is not built)."""
