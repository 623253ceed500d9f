"""The gradient of padding (``mx.nd.Pad``) on raw NumPy/CuPy arrays."""

from __future__ import annotations

from typing import Any

from mxlite import backend

__all__ = ["unpad_gradient"]


def unpad_gradient(g: Any, widths: list[tuple[int, int]], mode: str) -> Any:
    """The gradient of :func:`Pad` for the padded output's gradient ``g``: the core region, plus
    (for 'edge' and 'reflect') the border gradients folded back onto the elements they copy."""
    xp = backend.xp_of(g)
    for axis, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        size = g.shape[axis] - before - after
        g = xp.moveaxis(g, axis, 0)
        core = g[before : before + size].copy()
        if mode == "edge":
            if before:
                core[0] += g[:before].sum(axis=0)
            if after:
                core[size - 1] += g[before + size :].sum(axis=0)
        elif mode == "reflect":
            if before:
                core[1 : before + 1] += g[:before][::-1]
            if after:
                core[size - 1 - after : size - 1] += g[before + size :][::-1]
        g = xp.moveaxis(core, 0, axis)
    return xp.ascontiguousarray(g)
