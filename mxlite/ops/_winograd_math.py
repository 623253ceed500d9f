"""The Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms of one vector, written out.

Plain arithmetic on scalars or arrays: the NumPy reference (:mod:`mxlite.ops.winograd`) applies
them to whole strided arrays, the Numba twins (:mod:`mxlite.ops._numba.winograd`) compile them for
scalars, so both round identically. ``k`` holds the constants ``(2, 4, 5, 8)`` in the data's
dtype (Python ints would widen float32 in Numba). Applied along the rows and then along the
columns of a tile they give ``B^T d B`` (``bt``), ``A^T m A`` (``at``) and ``A g A^T`` (``a``)::

    F(2x2,3x3): B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]    A^T = [[1,1,1,0],[0,1,-1,-1]]
    F(4x4,3x3): B^T = [[4,0,-5,0,1,0],[0,-4,-4,1,1,0],[0,4,-4,-1,1,0],
                       [0,-2,-1,2,1,0],[0,2,-1,-2,1,0],[0,4,0,-5,0,1]]
                A^T = [[1,1,1,1,1,0],[0,1,-1,2,-2,0],[0,1,1,4,4,0],[0,1,-1,8,-8,1]]
"""

from __future__ import annotations

from typing import Any

__all__ = ["bt2", "at2", "a2", "bt4", "at4", "a4"]


def bt2(k: Any, d0: Any, d1: Any, d2: Any, d3: Any) -> tuple[Any, Any, Any, Any]:
    """``B^T d`` of F(2x2, 3x3)."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


def at2(k: Any, m0: Any, m1: Any, m2: Any, m3: Any) -> tuple[Any, Any]:
    """``A^T m`` of F(2x2, 3x3)."""
    return m0 + m1 + m2, m1 - m2 - m3


def a2(k: Any, g0: Any, g1: Any) -> tuple[Any, Any, Any, Any]:
    """``A g`` of F(2x2, 3x3)."""
    return g0, g0 + g1, g0 - g1, -g1


def bt4(k: Any, d0: Any, d1: Any, d2: Any, d3: Any, d4: Any, d5: Any) -> tuple[Any, ...]:
    """``B^T d`` of F(4x4, 3x3)."""
    two, four, five = k[0], k[1], k[2]
    return (
        four * d0 - five * d2 + d4,
        (d3 + d4) - four * (d1 + d2),
        (d4 - d3) + four * (d1 - d2),
        (d4 - d2) + two * (d3 - d1),
        (d4 - d2) - two * (d3 - d1),
        four * d1 - five * d3 + d5,
    )


def at4(k: Any, m0: Any, m1: Any, m2: Any, m3: Any, m4: Any, m5: Any) -> tuple[Any, ...]:
    """``A^T m`` of F(4x4, 3x3)."""
    two, four, eight = k[0], k[1], k[3]
    return (
        m0 + m1 + m2 + m3 + m4,
        (m1 - m2) + two * (m3 - m4),
        (m1 + m2) + four * (m3 + m4),
        (m1 - m2) + eight * (m3 - m4) + m5,
    )


def a4(k: Any, g0: Any, g1: Any, g2: Any, g3: Any) -> tuple[Any, ...]:
    """``A g`` of F(4x4, 3x3)."""
    two, four, eight = k[0], k[1], k[3]
    return (
        g0,
        g0 + g1 + g2 + g3,
        g0 - g1 + g2 - g3,
        g0 + two * g1 + four * g2 + eight * g3,
        g0 - two * g1 + four * g2 - eight * g3,
        g3,
    )
