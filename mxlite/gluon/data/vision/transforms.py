"""Image transforms of ``gluon.data.vision.transforms``: ``Compose``, ``Cast``, ``ToTensor``,
``Normalize``, ``RandomFlipLeftRight`` and ``RandomFlipTopBottom`` (MXNet 1.9.1's Blocks).

Each transform computes on the raw array of its input with that array's module (NumPy, or CuPy
on a GPU) and wraps the result on the input's context; the arithmetic is MXNet's kernels' (float32
division by 255 in ``ToTensor``, the mean and std as float32 in ``Normalize``), so results are
bitwise MXNet's. The random flips draw from ``mx.random`` (seeded by ``mx.random.seed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite.base import MXNetError, dtype_np
from mxlite.gluon.block import Block, HybridBlock
from mxlite.gluon.nn import HybridSequential, Sequential
from mxlite.ndarray.ndarray import NDArray, out_ctx

__all__ = [
    "Compose",
    "Cast",
    "ToTensor",
    "Normalize",
    "RandomFlipLeftRight",
    "RandomFlipTopBottom",
]

_MSG_IMAGE_RANK = (
    "Input image must have shape (height, width, channels), or (N, height, width, channels) but "
    "got {shape}"
)
_MSG_TENSOR_RANK = (
    "Input tensor must have shape (channels, height, width), or (N, channels, height, width), "
    "but got {shape}"
)
_MSG_CHANNELS = (
    "The first dimension of input tensor must be the channel dimension with either 1 or 3 "
    "elements, but got input with shape {shape}"
)
_MSG_STATS = (
    "Invalid {what} for input with shape {shape}. {what} must have either 1 or {c} elements, but "
    "got {value}"
)


def _shape_text(shape: Sequence[Any]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _like(x: NDArray, arr: Any) -> NDArray:
    """``arr`` wrapped as an array of ``x``'s class on ``x``'s context."""
    return type(x)(arr, out_ctx(x.context))


class Compose(Sequential):
    """Apply ``transforms`` in order; runs of HybridBlocks are grouped into a hybridized
    ``HybridSequential`` (as MXNet does, which shows in the repr).

    Args:
        transforms: the transform Blocks.
    """

    def __init__(self, transforms: list[Block]) -> None:
        super().__init__()
        hybrid: list[Block] = []
        for block in [*transforms, None]:
            if isinstance(block, HybridBlock):
                hybrid.append(block)
                continue
            if len(hybrid) == 1:
                self.add(hybrid[0])
            elif len(hybrid) > 1:
                group = HybridSequential()
                group.add(*hybrid)
                group.hybridize()
                self.add(group)
            hybrid = []
            if block is not None:
                self.add(block)


class Cast(HybridBlock):
    """Cast the input to ``dtype`` (default ``'float32'``)."""

    def __init__(self, dtype: Any = "float32") -> None:
        super().__init__()
        self._dtype = dtype

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return _like(x, x._data.astype(dtype_np(self._dtype)))


class ToTensor(HybridBlock):
    """An image ``(H, W, C)`` (or a batch ``(N, H, W, C)``) in ``[0, 255]`` to a float32 tensor
    ``(C, H, W)`` (``(N, C, H, W)``) in ``[0, 1]``: ``float32(x) / 255``.

    Raises:
        MXNetError: the input is not 3-D or 4-D.
    """

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        if x.ndim not in (3, 4):
            raise MXNetError(_MSG_IMAGE_RANK.format(shape=_shape_text(x.shape)))
        arr = x._data.astype(np.float32) / np.float32(255.0)
        axes = (2, 0, 1) if x.ndim == 3 else (0, 3, 1, 2)
        return _like(x, x._xp.ascontiguousarray(arr.transpose(axes)))


def _channel_stats(value: Any, what: str, channels: int, shape: tuple[int, ...]) -> np.ndarray:
    stats = np.atleast_1d(np.asarray(value, dtype=np.float32))
    if stats.ndim != 1 or stats.size not in (1, channels):
        raise MXNetError(
            _MSG_STATS.format(
                what=what,
                shape=_shape_text(shape),
                c=channels,
                value=_shape_text([f"{v:g}" for v in stats.ravel()]),
            )
        )
    return stats


class Normalize(HybridBlock):
    """Normalize a tensor ``(C, H, W)`` or ``(N, C, H, W)`` per channel:
    ``out[c] = (x[c] - mean[c]) / std[c]``.

    Args:
        mean: one value for all channels, or one per channel.
        std: one value for all channels, or one per channel.

    Raises:
        MXNetError: the input is not 3-D or 4-D, does not have 1 or 3 channels, or ``mean`` /
            ``std`` have neither 1 nor C values.
    """

    def __init__(self, mean: Any = 0.0, std: Any = 1.0) -> None:
        super().__init__()
        self._mean = mean
        self._std = std

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        if x.ndim not in (3, 4):
            raise MXNetError(_MSG_TENSOR_RANK.format(shape=_shape_text(x.shape)))
        channels = x.shape[-3]
        if channels not in (1, 3):
            raise MXNetError(_MSG_CHANNELS.format(shape=_shape_text(x.shape)))
        mean = _channel_stats(self._mean, "mean", channels, x.shape)
        std = _channel_stats(self._std, "std", channels, x.shape)
        xp = x._xp
        dt = x._data.dtype
        mean_arr = xp.asarray(mean.astype(dt)).reshape(-1, 1, 1)
        std_arr = xp.asarray(std.astype(dt)).reshape(-1, 1, 1)
        return _like(x, ((x._data - mean_arr) / std_arr).astype(dt, copy=False))


class _RandomFlip(HybridBlock):
    """Flip an image ``(H, W, C)`` or batch ``(N, H, W, C)`` along one axis with probability
    0.5 (one draw per call)."""

    _axis_from_end = 2

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        from mxlite.ndarray import random as nd_random

        if x.ndim not in (3, 4):
            raise MXNetError(_MSG_IMAGE_RANK.format(shape=_shape_text(x.shape)))
        draw = float(nd_random.uniform(0, 1, shape=(1,)).asnumpy()[0])
        if draw >= 0.5:
            return _like(x, x._data.copy())
        axis = x.ndim - self._axis_from_end
        return _like(x, x._xp.ascontiguousarray(x._xp.flip(x._data, axis=axis)))


class RandomFlipLeftRight(_RandomFlip):
    """Flip the image left to right (the width axis) with probability 0.5."""

    _axis_from_end = 2


class RandomFlipTopBottom(_RandomFlip):
    """Flip the image top to bottom (the height axis) with probability 0.5."""

    _axis_from_end = 3
