"""The parameter sets the benchmarks run on (shapes only; nothing is allocated here).

S1: 2,000 x (64, 64) float32 (many small tensors: launch-bound).
S2: ResNet-50's 161 parameter shapes.
S3: a GPT-2-XL-like set: 580 tensors, about 1.56 B float32.
S4: one 32768 x 32768 float32 tensor (one huge tensor: bandwidth-bound).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ParamSet:
    """A named list of parameter shapes (float32)."""

    name: str
    shapes: tuple[tuple[int, ...], ...]
    note: str = ""

    @property
    def count(self) -> int:
        return len(self.shapes)

    @property
    def numel(self) -> int:
        return int(sum(int(np.prod(s)) for s in self.shapes))

    @property
    def nbytes(self) -> int:
        return 4 * self.numel

    def names(self) -> list[str]:
        """Parameter names: weights end in _weight, 1-d ones in _bias (so initializers dispatch)."""
        return [f"p{i}_{'weight' if len(s) > 1 else 'bias'}" for i, s in enumerate(self.shapes)]


def s1(count: int = 2000) -> ParamSet:
    return ParamSet("S1", tuple((64, 64) for _ in range(count)), f"{count} x (64, 64)")


def _resnet50_shapes(div: int = 1) -> list[tuple[int, ...]]:
    """ResNet-50's parameter shapes; ``div > 1`` divides every channel count (same 161 tensors)."""
    stem = 64 // div
    shapes: list[tuple[int, ...]] = [(stem, 3, 7, 7), (stem,), (stem,)]  # stem conv + bn
    in_ch = stem
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        width //= div
        out_ch = width * 4
        for b in range(blocks):
            shapes += [(width, in_ch, 1, 1), (width,), (width,)]
            shapes += [(width, width, 3, 3), (width,), (width,)]
            shapes += [(out_ch, width, 1, 1), (out_ch,), (out_ch,)]
            if b == 0:
                shapes += [(out_ch, in_ch, 1, 1), (out_ch,), (out_ch,)]
            in_ch = out_ch
    shapes += [(1000, 2048 // div), (1000,)]
    return shapes


def s2(div: int = 1) -> ParamSet:
    shapes = _resnet50_shapes(div)
    note = f"ResNet-50, {len(shapes)} tensors" + (f", channels / {div}" if div > 1 else "")
    return ParamSet("S2", tuple(shapes), note)


def _gpt2_xl_shapes(
    d: int = 1600, layers: int = 48, vocab: int = 50257, ctx: int = 1024
) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = [(vocab, d), (ctx, d)]
    for _ in range(layers):
        shapes += [(d,), (d,)]  # ln_1 gain, bias
        shapes += [(d, 3 * d), (3 * d,)]  # qkv
        shapes += [(d, d), (d,)]  # attention proj
        shapes += [(d,), (d,)]  # ln_2
        shapes += [(d, 4 * d), (4 * d,)]  # fc
        shapes += [(4 * d, d), (d,)]  # mlp proj
    shapes += [(d,), (d,)]  # final layer norm
    return shapes


def s3(scale: float = 1.0) -> ParamSet:
    """GPT-2-XL-like; ``scale < 1`` shrinks the width (and vocab) to fit smaller memory."""
    if scale >= 1.0:
        shapes = _gpt2_xl_shapes()
        return ParamSet("S3", tuple(shapes), f"GPT-2-XL-like, {len(shapes)} tensors")
    d = max(64, int(1600 * scale) // 64 * 64)
    shapes = _gpt2_xl_shapes(d=d, vocab=max(1024, int(50257 * scale)))
    return ParamSet(
        "S3", tuple(shapes), f"GPT-2-XL-like scaled to width {d} ({len(shapes)} tensors)"
    )


def s4(side: int = 32768) -> ParamSet:
    return ParamSet("S4", ((side, side),), f"one {side} x {side}")


def tiny() -> list[ParamSet]:
    """Small stand-ins for a smoke run (CI): same structure, tiny sizes."""
    return [s1(50), s2(4), s3(0.05), s4(512)]


def full(mem_bytes: int | None = None) -> tuple[list[ParamSet], list[str]]:
    """All four sets; S3/S4 shrink to fit ``mem_bytes`` (with a note saying so)."""
    notes: list[str] = []
    sets = [s1(), s2()]
    big = s3()
    if mem_bytes is not None and big.nbytes * 6 > mem_bytes:
        scale = float(np.sqrt(mem_bytes / (6 * big.nbytes)))
        big = s3(scale)
        notes.append(
            f"S3 scaled down to {big.nbytes / 2**30:.2f} GiB to fit {mem_bytes / 2**30:.0f} GiB"
        )
    sets.append(big)
    side = 32768
    while mem_bytes is not None and 4 * side * side * 4 > mem_bytes and side > 1024:
        side //= 2
    if side != 32768:
        notes.append(f"S4 scaled down to {side} x {side}")
    sets.append(s4(side))
    return sets, notes
