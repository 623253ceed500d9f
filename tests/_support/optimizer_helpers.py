"""Helpers shared by the optimizer tests."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["flat_states"]


def flat_states(state: Any) -> list[np.ndarray]:
    """The arrays of an optimizer state (None, an NDArray, or nested tuples/lists of them) as
    NumPy arrays, depth first."""
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in flat_states(s)]
    return [state.asnumpy()]
