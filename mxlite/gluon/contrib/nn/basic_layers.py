"""Layers of ``gluon.contrib.nn``: containers that run every child on the same input and join the
outputs (``Concurrent``, ``HybridConcurrent``), ``Identity`` (for residual branches),
``SyncBatchNorm`` and ``PixelShuffle1D/2D/3D``.

MXNet 1.9.1 names the containers ``Concurrent``/``HybridConcurrent``; MXNet 2 renamed them
``Concatenate``/``HybridConcatenate`` (and moved them to ``gluon.nn``), so both names are here.

``SyncBatchNorm`` normalizes with the statistics of the whole batch across the
``num_devices`` contexts of this process. mxlite runs operators synchronously, so those
contexts' passes must run concurrently, one thread per context (see :mod:`mxlite._rendezvous`);
run one after another in one thread, it raises at once with that advice instead of hanging.
Each context's moving statistics are updated with the synchronized statistics (so the replicas
stay equal); gamma's and beta's gradients are each context's share, which the Trainer sums.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

from mxlite import context
from mxlite.gluon.block import Block, HybridBlock
from mxlite.gluon.nn.basic_layers import HybridSequential, Sequential
from mxlite.gluon.nn.norm_layers import BatchNorm
from mxlite.gluon.parameter_dict import ParameterDict
from mxlite.ndarray import op_shape

__all__ = [
    "Concurrent",
    "HybridConcurrent",
    "Identity",
    "Concatenate",
    "HybridConcatenate",
    "SyncBatchNorm",
    "PixelShuffle1D",
    "PixelShuffle2D",
    "PixelShuffle3D",
]


class _Joined:
    """What Concurrent and HybridConcurrent share: the ``axis`` and the join of the children's
    outputs."""

    _children: OrderedDict[str, Block]

    def __init__(
        self, axis: int = -1, prefix: str | None = None, params: ParameterDict | None = None
    ) -> None:
        super().__init__(prefix=prefix, params=params)  # type: ignore[call-arg]
        self.axis = axis

    def _join(self, x: Any) -> Any:
        outs = [block(x) for block in self._children.values()]
        return op_shape.concat(*outs, dim=self.axis)


class Concurrent(_Joined, Sequential):
    """Feeds its input to every child and concatenates their outputs along ``axis``::

        net = Concurrent()
        with net.name_scope():
            net.add(nn.Dense(10, activation='relu'))
            net.add(nn.Dense(20))
            net.add(Identity())

    Args:
        axis: the axis of the concatenation.
    """

    def forward(self, x: Any) -> Any:
        return self._join(x)


class HybridConcurrent(_Joined, HybridSequential):
    """:class:`Concurrent` for HybridBlock children.

    Args:
        axis: the axis of the concatenation.
    """

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return self._join(x)


class Identity(HybridBlock):
    """Passes its input through unchanged (the same array), e.g. as the shortcut branch of a
    :class:`HybridConcurrent`."""

    def __init__(self, prefix: str | None = None, params: ParameterDict | None = None) -> None:
        super().__init__(prefix=prefix, params=params)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803
        return x


Concatenate = Concurrent
HybridConcatenate = HybridConcurrent


class SyncBatchNorm(BatchNorm):
    """Cross-context batch normalization over channel axis 1 (Zhang et al., 2018).

    Args:
        in_channels: channels; 0 infers them at the first forward pass.
        num_devices: the contexts the statistics are reduced over; None takes the number of
            GPUs (1 without GPUs), with MXNet's warning.
        momentum, epsilon, center, scale, use_global_stats, *_initializer: as
            :class:`~mxlite.gluon.nn.BatchNorm`.
    """

    def __init__(
        self, in_channels: int = 0, num_devices: int | None = None, momentum: float = 0.9,
        epsilon: float = 1e-5, center: bool = True, scale: bool = True,
        use_global_stats: bool = False, beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones", running_mean_initializer: Any = "zeros",
        running_variance_initializer: Any = "ones", **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(
            axis=1, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
            use_global_stats=use_global_stats, beta_initializer=beta_initializer,
            gamma_initializer=gamma_initializer,
            running_mean_initializer=running_mean_initializer,
            running_variance_initializer=running_variance_initializer, in_channels=in_channels,
            **kwargs,
        )  # fmt: skip
        num_devices = self._get_num_devices() if num_devices is None else num_devices
        self._kwargs = {
            "eps": epsilon, "momentum": momentum, "fix_gamma": not scale,
            "use_global_stats": use_global_stats, "ndev": num_devices, "key": self.prefix,
        }  # fmt: skip

    def _get_num_devices(self) -> int:
        warnings.warn(
            "Caution using SyncBatchNorm: if not using all the GPUs, please mannually set "
            "num_devices",
            UserWarning,
            stacklevel=3,
        )
        return max(context.num_gpus(), 1)

    def infer_shape(self, x: Any, *args: Any) -> None:
        """Set the channel count of the four Parameters from ``x.shape[1]``."""
        for param in (self.gamma, self.beta, self.running_mean, self.running_var):
            param.shape = (x.shape[1],)

    def hybrid_forward(
        self,
        F: Any,  # noqa: N803 - MXNet's signature
        x: Any,
        *args: Any,
        gamma: Any,
        beta: Any,
        running_mean: Any,
        running_var: Any,
    ) -> Any:
        sync = (self._kwargs["key"], int(self._kwargs["ndev"]))
        return self._normalize(x, args, gamma, beta, running_mean, running_var, 1, sync)


class _PixelShuffle(HybridBlock):
    """Moves ``prod(factors)`` channel blocks into the spatial axes (sub-pixel convolution)."""

    def __init__(self, factors: tuple[int, ...], shown: Any) -> None:
        super().__init__()
        self._factors = factors
        self._shown = shown

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        f = self._factors
        nd = len(f)
        n, c = x.shape[0], x.shape[1] // _prod(f)
        spatial = x.shape[2:]
        # (N, C, f1, .., fk, S1, .., Sk) -> (N, C, S1, f1, .., Sk, fk)
        y = op_shape.reshape(x, (n, c, *f, *spatial))
        axes = (0, 1) + tuple(a for i in range(nd) for a in (2 + nd + i, 2 + i))
        y = op_shape.transpose(y, axes)
        return op_shape.reshape(y, (n, c, *(s * k for s, k in zip(spatial, f))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._shown})"


def _prod(values: tuple[int, ...]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _factors(factor: Any, n: int) -> tuple[int, ...]:
    try:
        return (int(factor),) * n
    except TypeError:
        out = tuple(int(f) for f in factor)
        if len(out) != n:
            from mxlite.base import CheckError  # noqa: PLC0415

            raise CheckError(f"wrong length {len(out)}") from None
        return out


class PixelShuffle1D(_PixelShuffle):
    """``(N, f*C, W)`` to ``(N, C, W*f)``."""

    def __init__(self, factor: int) -> None:
        super().__init__((int(factor),), int(factor))


class PixelShuffle2D(_PixelShuffle):
    """``(N, f1*f2*C, H, W)`` to ``(N, C, H*f1, W*f2)``."""

    def __init__(self, factor: Any) -> None:
        f = _factors(factor, 2)
        super().__init__(f, f)


class PixelShuffle3D(_PixelShuffle):
    """``(N, f1*f2*f3*C, D, H, W)`` to ``(N, C, D*f1, H*f2, W*f3)``."""

    def __init__(self, factor: Any) -> None:
        f = _factors(factor, 3)
        super().__init__(f, f)
