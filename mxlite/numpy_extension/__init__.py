"""``mx.npx``: switches for NumPy semantics and the neural-network ops that go with ``mx.np``.

``npx.set_np()`` turns on NumPy shape and array semantics for this thread (``reset_np()`` turns
them off); the ops below take and return ``mx.np.ndarray`` (they share the ``mx.nd`` kernels).
"""

from __future__ import annotations

from typing import Any

from mxlite.context import Context, cpu, cpu_pinned, current_context, gpu, gpu_memory_info, num_gpus
from mxlite.ndarray import (
    op_act,
    op_index,
    op_math,
    op_nn,
    op_sequence,
    op_shape,
    op_slice,
    op_sort,
)
from mxlite.ndarray.creation import waitall
from mxlite.ndarray.ndarray import NDArray
from mxlite.numpy_extension._spatial import (
    batch_norm,
    convolution,
    deconvolution,
    layer_norm,
    pooling,
)
from mxlite.util import (
    is_np_array,
    is_np_default_dtype,
    is_np_shape,
    np_array,
    np_shape,
    reset_np,
    set_np,
    use_np,
)

__all__ = [
    "set_np",
    "reset_np",
    "is_np_array",
    "is_np_shape",
    "is_np_default_dtype",
    "use_np",
    "np_shape",
    "np_array",
    "relu",
    "sigmoid",
    "activation",
    "leaky_relu",
    "fully_connected",
    "softmax",
    "log_softmax",
    "pick",
    "one_hot",
    "topk",
    "gather_nd",
    "slice",
    "dropout",
    "embedding",
    "sequence_mask",
    "batch_flatten",
    "batch_dot",
    "reshape_like",
    "stop_gradient",
    "convolution",
    "deconvolution",
    "pooling",
    "batch_norm",
    "layer_norm",
    "waitall",
    "cpu",
    "cpu_pinned",
    "gpu",
    "current_context",
    "num_gpus",
    "gpu_memory_info",
    "Context",
    "save",
    "load",
]


def relu(data: NDArray, **kwargs: Any) -> NDArray:
    """``max(data, 0)``."""
    return op_math.relu(data)


def sigmoid(data: NDArray, **kwargs: Any) -> NDArray:
    """``1 / (1 + exp(-data))``."""
    return op_math.sigmoid(data)


def activation(data: NDArray, act_type: str = "relu", **kwargs: Any) -> NDArray:
    """Elementwise activation: relu, sigmoid, tanh, softrelu or softsign."""
    return op_nn.Activation(data, act_type=act_type)


def fully_connected(
    data: NDArray,
    weight: NDArray,
    bias: NDArray | None = None,
    num_hidden: int | None = None,
    no_bias: bool = False,
    flatten: bool = True,
    **kwargs: Any,
) -> NDArray:
    """``data @ weight.T + bias`` (``flatten`` collapses ``data`` to 2-d first)."""
    return op_nn.FullyConnected(
        data, weight, bias, num_hidden=num_hidden, no_bias=no_bias or bias is None, flatten=flatten
    )


def softmax(
    data: NDArray,
    length: NDArray | None = None,
    axis: int = -1,
    temperature: float | None = None,
    use_length: bool = False,
    dtype: Any = None,
    **kwargs: Any,
) -> NDArray:
    """Softmax along ``axis`` (``length`` with ``use_length=True`` masks each row's tail)."""
    return op_nn.softmax(
        data, axis=axis, temperature=temperature, dtype=dtype, length=length, use_length=use_length
    )


def log_softmax(
    data: NDArray,
    axis: int = -1,
    temperature: float | None = None,
    dtype: Any = None,
    **kwargs: Any,
) -> NDArray:
    """Log-softmax along ``axis``."""
    return op_nn.log_softmax(data, axis=axis, temperature=temperature, dtype=dtype, **kwargs)


def pick(
    data: NDArray,
    index: NDArray,
    axis: int = -1,
    mode: str = "clip",
    keepdims: bool = False,
    **kwargs: Any,
) -> NDArray:
    """One element per position of ``index`` along ``axis``."""
    return op_nn.pick(data, index, axis=axis, keepdims=keepdims, mode=mode)


def one_hot(
    data: NDArray,
    depth: int,
    on_value: float = 1.0,
    off_value: float = 0.0,
    dtype: Any = "float32",
    **kwargs: Any,
) -> NDArray:
    """One-hot encoding along a new last axis."""
    return op_nn.one_hot(data, depth, on_value=on_value, off_value=off_value, dtype=dtype)


# The ops below take the same arguments as their mx.nd twins (results keep the input's class).
leaky_relu = op_act.LeakyReLU
dropout = op_act.Dropout
topk = op_sort.topk
gather_nd = op_index.gather_nd
slice = op_slice.slice  # noqa: A001 - MXNet's name
embedding = op_index.Embedding
sequence_mask = op_sequence.SequenceMask


def batch_flatten(x: NDArray, **kwargs: Any) -> NDArray:
    """Collapse every axis but the first: ``(d0, d1, ...) -> (d0, d1 * ...)``."""
    return x.reshape((x.shape[0], -1)) if x.ndim else x.reshape((1, 1))


def batch_dot(
    a: NDArray, b: NDArray, transpose_a: bool = False, transpose_b: bool = False, **kwargs: Any
) -> NDArray:
    """Batched matrix product over the leading axis."""
    return op_nn.batch_dot(a, b, transpose_a=transpose_a, transpose_b=transpose_b)


def reshape_like(lhs: NDArray, rhs: NDArray, **kwargs: Any) -> NDArray:
    """Reshape ``lhs`` to ``rhs``'s shape."""
    return op_shape.reshape_like(lhs, rhs)


def stop_gradient(data: NDArray, **kwargs: Any) -> NDArray:
    """The same values, cut from the autograd graph."""
    return op_shape.stop_gradient(data)


def save(file: str, arr: Any, format: str | None = None) -> None:  # noqa: A002 - MXNet's names
    """Save ``mx.np.ndarray`` s (one, a list, or a str-keyed dict); see ``mx.nd.save``."""
    from mxlite.ndarray import serialization

    serialization.npx_save(file, arr, format=format)


def load(file: str, ctx: Any = None, format: str | None = None) -> Any:  # noqa: A002
    """Load arrays saved by :func:`save` (or MXNet) as ``mx.np.ndarray`` s."""
    from mxlite.ndarray import serialization

    return serialization.npx_load(file, ctx=ctx, format=format)
