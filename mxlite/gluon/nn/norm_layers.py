"""Normalization layers: ``BatchNorm``, ``BatchNormReLU``, ``LayerNorm``, ``InstanceNorm``,
``GroupNorm`` (MXNet keeps them in ``gluon/nn/basic_layers.py``).

``BatchNorm`` holds ``gamma``, ``beta`` and the moving statistics ``running_mean`` /
``running_var`` as Parameters (the latter with ``grad_req='null'``, initialized by
``running_mean_initializer`` / ``running_variance_initializer``). Each context keeps its own
replica of the statistics and updates it in the forward pass of training mode (inside
``autograd.record()``), as MXNet does; saving averages the replicas like any Parameter. With
``in_channels=0`` the channel count is inferred from the first input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxlite.base import MXNetError
from mxlite.gluon.block import HybridBlock
from mxlite.gluon.nn.conv_layers import in_layer
from mxlite.gluon.parameter import Parameter
from mxlite.ndarray import op_layout, op_norm

__all__ = ["BatchNorm", "BatchNormReLU", "InstanceNorm", "LayerNorm", "GroupNorm"]

# Passed as the extra input of a BatchNorm's forward pass: apply the ReLU that follows it too
# (see mxlite.gluon.nn._fusion).
FUSED_RELU = object()


def _content(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


class _BatchNorm(HybridBlock):
    """Batch normalization with an optional fused ReLU; see :class:`BatchNorm`."""

    def __init__(
        self,
        axis: int = 1,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        center: bool = True,
        scale: bool = True,
        use_global_stats: bool = False,
        fuse_relu: bool = False,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        running_mean_initializer: Any = "zeros",
        running_variance_initializer: Any = "ones",
        in_channels: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._kwargs: dict[str, Any] = {
            "axis": axis, "eps": epsilon, "momentum": momentum, "fix_gamma": not scale,
            "use_global_stats": use_global_stats,
        }  # fmt: skip
        self.fuse_relu = fuse_relu
        if in_channels != 0:
            self.in_channels = in_channels
        shape = (in_channels,)
        self.gamma: Parameter = self.params.get(
            "gamma", grad_req="write" if scale else "null", shape=shape, init=gamma_initializer,
            allow_deferred_init=True, differentiable=scale,
        )  # fmt: skip
        self.beta: Parameter = self.params.get(
            "beta", grad_req="write" if center else "null", shape=shape, init=beta_initializer,
            allow_deferred_init=True, differentiable=center,
        )  # fmt: skip
        self.running_mean: Parameter = self.params.get(
            "running_mean", grad_req="null", shape=shape, init=running_mean_initializer,
            allow_deferred_init=True, differentiable=False,
        )  # fmt: skip
        self.running_var: Parameter = self.params.get(
            "running_var", grad_req="null", shape=shape, init=running_variance_initializer,
            allow_deferred_init=True, differentiable=False,
        )  # fmt: skip

    def cast(self, dtype: Any) -> None:
        """Cast the Parameters; float16 keeps them float32 (the statistics need the range)."""
        if np.dtype(dtype).name == "float16":
            dtype = "float32"
        super().cast(dtype)

    def infer_shape(self, x: Any, *args: Any) -> None:
        """Set the channel count of the four Parameters from ``x``'s channel axis."""
        channels = x.shape[self._kwargs["axis"]]
        for param in (self.gamma, self.beta, self.running_mean, self.running_var):
            param.shape = (channels,)

    def _normalize(self, x: Any, args: tuple[Any, ...], gamma: Any, beta: Any,
                   running_mean: Any, running_var: Any, axis: int,
                   sync: tuple[str, int] | None = None) -> Any:  # fmt: skip
        kw = self._kwargs
        relu = self.fuse_relu or (len(args) == 1 and args[0] is FUSED_RELU)
        try:
            return op_norm.batch_norm(
                x, gamma, beta, running_mean, running_var, kw["eps"], kw["momentum"],
                kw["fix_gamma"], kw["use_global_stats"], False, axis, None, relu=relu, sync=sync,
            )  # fmt: skip
        except MXNetError as err:
            raise in_layer(self, x, err) from err

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
        return self._normalize(
            x, args, gamma, beta, running_mean, running_var, self._kwargs["axis"]
        )

    def __repr__(self) -> str:
        in_channels = self.gamma.shape[0] if self.gamma.shape else 0
        return (
            f"{type(self).__name__}({_content(self._kwargs)}, "
            f"in_channels={in_channels if in_channels else None})"
        )


class BatchNorm(_BatchNorm):
    """Batch normalization (Ioffe and Szegedy, 2015): per channel along ``axis``,
    ``gamma * (x - mean) / sqrt(var + epsilon) + beta``.

    In training mode (``autograd.record()``) the statistics are the batch's (biased variance)
    and the moving ones are updated: ``running = running * momentum + batch * (1 - momentum)``;
    in predict mode (or with ``use_global_stats``) the moving statistics are used.

    Args:
        axis: the channel axis (1 for NCHW, -1 or 3 for NHWC).
        momentum: momentum of the moving statistics.
        epsilon: added to the variance.
        center: learn ``beta`` (else it stays 0).
        scale: learn ``gamma`` (else it is fixed at 1).
        use_global_stats: always use the moving statistics.
        beta_initializer, gamma_initializer, running_mean_initializer,
            running_variance_initializer: the Parameters' initializers.
        in_channels: channels; 0 infers them at the first forward pass.
    """

    def __init__(
        self, axis: int = 1, momentum: float = 0.9, epsilon: float = 1e-5, center: bool = True,
        scale: bool = True, use_global_stats: bool = False, beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones", running_mean_initializer: Any = "zeros",
        running_variance_initializer: Any = "ones", in_channels: int = 0, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(
            axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
            use_global_stats=use_global_stats, fuse_relu=False,
            beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
            running_mean_initializer=running_mean_initializer,
            running_variance_initializer=running_variance_initializer, in_channels=in_channels,
            **kwargs,
        )  # fmt: skip


class BatchNormReLU(_BatchNorm):
    """:class:`BatchNorm` followed by a ReLU, in one operator (MXNet's
    ``contrib.BatchNormWithReLU``); same arguments."""

    def __init__(
        self, axis: int = 1, momentum: float = 0.9, epsilon: float = 1e-5, center: bool = True,
        scale: bool = True, use_global_stats: bool = False, beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones", running_mean_initializer: Any = "zeros",
        running_variance_initializer: Any = "ones", in_channels: int = 0, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(
            axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
            use_global_stats=use_global_stats, fuse_relu=True,
            beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
            running_mean_initializer=running_mean_initializer,
            running_variance_initializer=running_variance_initializer, in_channels=in_channels,
            **kwargs,
        )  # fmt: skip


class _AffineNorm(HybridBlock):
    """A normalization with ``gamma`` (scale) and ``beta`` (center) Parameters of one shape."""

    _kwargs: dict[str, Any]

    def _affine_params(self, shape: tuple[int, ...], center: bool, scale: bool,
                       beta_initializer: Any, gamma_initializer: Any) -> None:  # fmt: skip
        self.gamma: Parameter = self.params.get(
            "gamma", grad_req="write" if scale else "null", shape=shape, init=gamma_initializer,
            allow_deferred_init=True,
        )  # fmt: skip
        self.beta: Parameter = self.params.get(
            "beta", grad_req="write" if center else "null", shape=shape, init=beta_initializer,
            allow_deferred_init=True,
        )  # fmt: skip

    def _run(self, x: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MXNetError as err:
            raise in_layer(self, x, err) from err

    def _repr_channels(self) -> str:
        in_channels = self.gamma.shape[0] if self.gamma.shape else 0
        return f"{type(self).__name__}({_content(self._kwargs)}, in_channels={in_channels})"


class InstanceNorm(_AffineNorm):
    """Instance normalization (Ulyanov et al., 2016): each sample's channel is normalized over
    its spatial positions, then ``gamma[c] * xhat + beta[c]``.

    Args:
        axis: the channel axis.
        epsilon: added to the variance.
        center: learn ``beta``.
        scale: learn ``gamma`` (False by default: gamma stays 1).
        beta_initializer, gamma_initializer: the Parameters' initializers.
        in_channels: channels; 0 infers them at the first forward pass.
    """

    def __init__(
        self, axis: int = 1, epsilon: float = 1e-5, center: bool = True, scale: bool = False,
        beta_initializer: Any = "zeros", gamma_initializer: Any = "ones", in_channels: int = 0,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self._kwargs: dict[str, Any] = {"eps": epsilon, "axis": axis, "center": center,
                                        "scale": scale}  # fmt: skip
        self._axis = axis
        self._epsilon = epsilon
        self._affine_params((in_channels,), center, scale, beta_initializer, gamma_initializer)

    def infer_shape(self, x: Any, *args: Any) -> None:
        """Set the channel count from ``x``'s channel axis."""
        self.gamma.shape = self.beta.shape = (x.shape[self._axis],)

    def hybrid_forward(self, F: Any, x: Any, gamma: Any, beta: Any) -> Any:  # noqa: N803
        eps = self._epsilon
        if self._axis == 1:
            return self._run(x, op_norm.InstanceNorm, x, gamma, beta, eps=eps)
        moved = op_layout.swapaxes(x, 1, self._axis)
        out = self._run(x, op_norm.InstanceNorm, moved, gamma, beta, eps=eps)
        return op_layout.swapaxes(out, 1, self._axis)

    def __repr__(self) -> str:
        return self._repr_channels()


class LayerNorm(_AffineNorm):
    """Layer normalization (Ba et al., 2016): normalize along ``axis``, then
    ``gamma * xhat + beta`` (both of that axis' size).

    Args:
        axis: the normalized axis (default: the last).
        epsilon: added to the variance.
        center: learn ``beta``.
        scale: learn ``gamma``.
        beta_initializer, gamma_initializer: the Parameters' initializers.
        in_channels: the axis' size; 0 infers it at the first forward pass.
    """

    def __init__(
        self, axis: int = -1, epsilon: float = 1e-5, center: bool = True, scale: bool = True,
        beta_initializer: Any = "zeros", gamma_initializer: Any = "ones", in_channels: int = 0,
        prefix: str | None = None, params: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(prefix=prefix, params=params)
        self._kwargs: dict[str, Any] = {"eps": epsilon, "axis": axis, "center": center,
                                        "scale": scale}  # fmt: skip
        self._axis = axis
        self._epsilon = epsilon
        self._center = center
        self._scale = scale
        self._affine_params((in_channels,), center, scale, beta_initializer, gamma_initializer)

    def infer_shape(self, x: Any, *args: Any) -> None:
        """Set gamma's and beta's size from ``x``'s normalized axis."""
        self.gamma.shape = self.beta.shape = (x.shape[self._axis],)

    def hybrid_forward(self, F: Any, data: Any, gamma: Any, beta: Any) -> Any:  # noqa: N803
        return self._run(
            data, op_norm.LayerNorm, data, gamma=gamma, beta=beta, axis=self._axis,
            eps=self._epsilon,
        )  # fmt: skip

    def __repr__(self) -> str:
        return self._repr_channels()


class GroupNorm(_AffineNorm):
    """Group normalization (Wu and He, 2018): the channels of each sample are split into
    ``num_groups`` groups, each normalized over its channels and positions, then
    ``gamma[g] * xhat + beta[g]`` (MXNet 1.9.1's per-group Parameters, shape
    ``(num_groups,)``).

    Args:
        num_groups: number of groups; must divide the channels.
        epsilon: added to the variance.
        center: learn ``beta``.
        scale: learn ``gamma``.
        beta_initializer, gamma_initializer: the Parameters' initializers.
    """

    def __init__(
        self, num_groups: int = 1, epsilon: float = 1e-5, center: bool = True,
        scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
        prefix: str | None = None, params: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(prefix=prefix, params=params)
        self._kwargs: dict[str, Any] = {"eps": epsilon, "num_groups": num_groups,
                                        "center": center, "scale": scale}  # fmt: skip
        self._num_groups = num_groups
        self._epsilon = epsilon
        self._center = center
        self._scale = scale
        self._affine_params((num_groups,), center, scale, beta_initializer, gamma_initializer)

    def hybrid_forward(self, F: Any, data: Any, gamma: Any, beta: Any) -> Any:  # noqa: N803
        return self._run(
            data, op_norm.GroupNorm, data, gamma=gamma, beta=beta, num_groups=self._num_groups,
            eps=self._epsilon,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_content(self._kwargs)})"
