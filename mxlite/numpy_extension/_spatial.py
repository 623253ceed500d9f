"""``mx.npx`` fronts of the convolution, pooling and normalization operators (MXNet 1.9.1's
``npx.convolution``, ``deconvolution``, ``pooling``, ``batch_norm``, ``layer_norm``): the same
kernels as ``mx.nd``; ``mx.np.ndarray`` inputs give ``mx.np.ndarray`` outputs."""

from __future__ import annotations

from typing import Any

from mxlite.ndarray import op_conv, op_norm, op_pool
from mxlite.ndarray.ndarray import NDArray

__all__ = ["convolution", "deconvolution", "pooling", "batch_norm", "layer_norm"]


def convolution(data: NDArray, weight: NDArray, bias: NDArray | None = None,
                **kwargs: Any) -> NDArray:  # fmt: skip
    """See ``mx.nd.Convolution`` (``no_bias`` follows a missing bias)."""
    kwargs.setdefault("no_bias", bias is None)
    return op_conv.Convolution(data, weight, bias, **kwargs)


def deconvolution(data: NDArray, weight: NDArray, bias: NDArray | None = None,
                  **kwargs: Any) -> NDArray:  # fmt: skip
    """See ``mx.nd.Deconvolution`` (``no_bias`` follows a missing bias)."""
    kwargs.setdefault("no_bias", bias is None)
    return op_conv.Deconvolution(data, weight, bias, **kwargs)


def pooling(data: NDArray, **kwargs: Any) -> NDArray:
    """See ``mx.nd.Pooling``."""
    return op_pool.Pooling(data, **kwargs)  # type: ignore[no-any-return]


def batch_norm(data: NDArray, gamma: NDArray, beta: NDArray, running_mean: NDArray,
               running_var: NDArray, **kwargs: Any) -> Any:  # fmt: skip
    """See ``mx.nd.BatchNorm``."""
    return op_norm.BatchNorm(data, gamma, beta, running_mean, running_var, **kwargs)


def layer_norm(data: NDArray, gamma: NDArray, beta: NDArray, **kwargs: Any) -> Any:
    """See ``mx.nd.LayerNorm``."""
    return op_norm.LayerNorm(data, gamma, beta, **kwargs)
