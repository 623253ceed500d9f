"""Basic layers: ``Sequential``, ``HybridSequential``, ``Dense``, ``Flatten``, ``Dropout``,
``Embedding``, ``Lambda`` and ``HybridLambda``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mxlite.base import CheckError
from mxlite.gluon.block import Block, HybridBlock
from mxlite.gluon.nn._fusion import run_children
from mxlite.gluon.nn.activations import Activation
from mxlite.gluon.parameter import Parameter
from mxlite.gluon.utils import _indent
from mxlite.ndarray import op, op_act, op_index, op_nn

__all__ = [
    "Sequential",
    "HybridSequential",
    "Dense",
    "Flatten",
    "Dropout",
    "Embedding",
    "Lambda",
    "HybridLambda",
]


class _Stack(Block):
    """What Sequential and HybridSequential share: ``add``, indexing, ``len`` and the repr."""

    def __init__(self, prefix: str | None = None, params: Any = None) -> None:
        super().__init__(prefix=prefix, params=params)

    def add(self, *blocks: Block) -> None:
        """Append ``blocks`` to the stack."""
        for block in blocks:
            self.register_child(block)

    def __repr__(self) -> str:
        modstr = "\n".join(
            f"  ({key}): {_indent(repr(child), 2)}" for key, child in self._children.items()
        )
        return f"{self.__class__.__name__}(\n{modstr}\n)"

    def __getitem__(self, key: int | slice) -> Any:
        layers = list(self._children.values())[key]
        if not isinstance(layers, list):
            return layers
        net = type(self)(prefix=self._prefix)
        with net.name_scope():
            net.add(*layers)
        return net

    def __len__(self) -> int:
        return len(self._children)


class Sequential(_Stack):
    """Stacks Blocks sequentially::

        net = nn.Sequential()
        net.add(nn.Dense(10, activation='relu'), nn.Dense(20))

    ``net[i]`` is the i-th block, ``net[i:j]`` a new Sequential (same prefix) of those blocks,
    ``len(net)`` the number of blocks.
    """

    def forward(self, x: Any) -> Any:
        for block in self._children.values():
            x = block(x)
        return x

    def hybridize(self, active: bool = True, **kwargs: Any) -> None:
        """Hybridize the HybridBlock children (a flag only in mxlite).

        Warns:
            UserWarning: every child is a HybridBlock (HybridSequential would fit), as MXNet.
        """
        if self._children and all(isinstance(c, HybridBlock) for c in self._children.values()):
            warnings.warn(
                f"All children of this Sequential layer '{self.prefix}' are HybridBlocks. "
                "Consider using HybridSequential for the best performance.",
                stacklevel=2,
            )
        super().hybridize(active, **kwargs)


class HybridSequential(_Stack, HybridBlock):
    """Stacks HybridBlocks sequentially (indexing and ``len`` as :class:`Sequential`)."""

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        return run_children(self._children.values(), x)


def _fusable_relu(act: Activation) -> bool:
    """Whether calling ``act`` is exactly ``op.relu`` of its input: a plain ReLU Activation
    without hooks (hooks, as ``summary()`` installs them, must see the block run)."""
    return (
        type(act) is Activation
        and act._act_type == "relu"
        and not act._forward_hooks
        and not act._forward_pre_hooks
    )


class Dense(HybridBlock):
    """A densely-connected layer: ``output = activation(dot(input, weight.T) + bias)``.

    Args:
        units: dimensionality of the output space.
        activation: activation applied to the output (see :class:`Activation`); None is linear.
        use_bias: whether the layer has a bias vector.
        flatten: collapse all input axes but the first (True) or apply the layer on the last
            axis and keep the others (False).
        dtype: data type of the parameters.
        weight_initializer: initializer of the weight (the global one when None).
        bias_initializer: initializer of the bias.
        in_units: size of the input; 0 defers initialization to the first forward pass, which
            infers it from the input's shape.
        prefix: see :class:`~mxlite.gluon.Block`.
        params: see :class:`~mxlite.gluon.Block`.

    Inputs:
        data: ``(batch_size, x1, ..., xn)`` with ``x1 * ... * xn == in_units`` when flattening,
            else ``(x1, ..., xn, in_units)``.

    Outputs:
        ``(batch_size, units)`` when flattening, else ``(x1, ..., xn, units)``.
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        flatten: bool = True,
        dtype: Any = "float32",
        weight_initializer: Any = None,
        bias_initializer: Any = "zeros",
        in_units: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._flatten = flatten
        with self.name_scope():
            self._units = units
            self._in_units = in_units
            self.weight: Parameter = self.params.get(
                "weight",
                shape=(units, in_units),
                init=weight_initializer,
                dtype=dtype,
                allow_deferred_init=True,
            )
            self.bias: Parameter | None
            if use_bias:
                self.bias = self.params.get(
                    "bias",
                    shape=(units,),
                    init=bias_initializer,
                    dtype=dtype,
                    allow_deferred_init=True,
                )
            else:
                self.bias = None
            self.act: Activation | None
            if activation is not None:
                self.act = Activation(activation, prefix=activation + "_")
            else:
                self.act = None

    def infer_shape(self, x: Any, *args: Any) -> None:
        """Set the weight's input dimension from ``x``.

        Raises:
            CheckError: the weight already has another input dimension.
        """
        in_units = int(np.prod(x.shape[1:])) if self._flatten else int(x.shape[-1])
        self.weight.shape = (self._units, in_units)

    def hybrid_forward(self, F: Any, x: Any, weight: Any, bias: Any = None) -> Any:  # noqa: N803
        act = self.act
        if act is not None and _fusable_relu(act):
            # The ReLU block would only apply op.relu: fuse it into the product's node.
            return op_nn._fully_connected(x, weight, bias, self._units, self._flatten, None, "relu")
        out = op.FullyConnected(
            x,
            weight,
            bias,
            no_bias=bias is None,
            num_hidden=self._units,
            flatten=self._flatten,
        )
        if act is not None:
            out = act(out)
        return out

    def __repr__(self) -> str:
        shape = self.weight.shape or (self._units, self._in_units)
        layout = f"{shape[1] if shape[1] else None} -> {shape[0]}"
        return f"{self.__class__.__name__}({layout}, {self.act if self.act else 'linear'})"


class Flatten(HybridBlock):
    """Flattens the input to two dimensions.

    Inputs:
        data: ``(N, x1, x2, ..., xn)``.

    Outputs:
        ``(N, x1 * x2 * ... * xn)``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        if x.ndim == 0:
            return x.reshape((1, 1))
        return x.reshape((x.shape[0], -1))

    def __repr__(self) -> str:
        return self.__class__.__name__


class Dropout(HybridBlock):
    """Applies Dropout to the input: during training (``autograd.record()`` or
    ``autograd.train_mode()``) each element is zeroed with probability ``rate`` and the others
    are scaled by ``1 / (1 - rate)``; outside training the input passes unchanged.

    The masks come from mxlite's counter-based random stream: after ``mx.random.seed(s)`` the
    same calls drop the same elements on every device (see ``mx.nd.Dropout``).

    Args:
        rate: fraction of the input units to drop, in ``[0, 1]``.
        axes: axes along which one mask value is shared (empty: independent elements).

    Inputs:
        data: a tensor of any shape.

    Outputs:
        a tensor of the same shape.
    """

    def __init__(self, rate: float, axes: tuple[int, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rate = rate
        self._axes = axes

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        if self._rate > 0:
            return op_act.Dropout(x, p=self._rate, axes=self._axes, cudnn_off=False)
        return op.identity(x)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p = {self._rate}, axes={self._axes})"


class Embedding(HybridBlock):
    """Turns non-negative integers (indexes/tokens) into dense vectors of fixed size:
    ``[4, 20] -> [[0.25, 0.1], [0.6, -0.2]]``.

    Args:
        input_dim: size of the vocabulary (the largest index + 1).
        output_dim: dimension of the dense embedding.
        dtype: data type of the embeddings.
        weight_initializer: initializer of the ``(input_dim, output_dim)`` weight.
        sparse_grad: the weight's gradient is row_sparse (only the rows a batch looked up; for
            large tables with a lazy optimizer update).

    Inputs:
        data: ``(x1, ..., xN-1)`` indices (floats are truncated, out-of-range ones clipped).

    Outputs:
        ``(x1, ..., xN-1, output_dim)``.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        dtype: Any = "float32",
        weight_initializer: Any = None,
        sparse_grad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._kwargs = {
            "input_dim": input_dim,
            "output_dim": output_dim,
            "dtype": dtype,
            "sparse_grad": sparse_grad,
        }
        self.weight: Parameter = self.params.get(
            "weight",
            shape=(input_dim, output_dim),
            init=weight_initializer,
            dtype=dtype,
            allow_deferred_init=True,
            grad_stype="row_sparse" if sparse_grad else "default",
        )

    def hybrid_forward(self, F: Any, x: Any, weight: Any) -> Any:  # noqa: N803
        return op_index.Embedding(x, weight, **self._kwargs)

    def __repr__(self) -> str:
        kw = self._kwargs
        dtype = kw["dtype"] if isinstance(kw["dtype"], str) else np.dtype(kw["dtype"]).name
        return f"{self.__class__.__name__}({kw['input_dim']} -> {kw['output_dim']}, {dtype})"


def _lambda_function(function: Any, owner: str) -> tuple[Any, str]:
    """The callable and display name of a Lambda's ``function`` (an ``mx.nd`` name or a
    callable).

    Raises:
        CheckError: a name ``mx.nd`` does not have (an AssertionError, as MXNet's).
        ValueError: neither a str nor a callable.
    """
    from mxlite import ndarray as nd  # noqa: PLC0415 - the namespace the names refer to

    if isinstance(function, str):
        if not hasattr(nd, function):
            where = "symbol/ndarray" if owner == "HybridLambda" else "ndarray"
            raise CheckError(f"Function name {function} is not found in {where}.")
        return getattr(nd, function), function
    if callable(function):
        return function, getattr(function, "__name__", type(function).__name__)
    raise ValueError(f"Unrecognized function in lambda: {function} of type {type(function)}")


class Lambda(Block):
    """Wraps an operator or an expression as a Block::

        block = Lambda('tanh')
        block = Lambda(lambda x: nd.LeakyReLU(x, slope=0.1))

    Args:
        function: the name of an ``mx.nd`` function, or a callable taking the inputs.

    Raises:
        CheckError: an unknown function name (an AssertionError, as MXNet's).
        ValueError: ``function`` is neither a str nor a callable.
    """

    def __init__(self, function: Any, prefix: str | None = None) -> None:
        super().__init__(prefix=prefix)
        self._func_impl, self._func_name = _lambda_function(function, "Lambda")

    def forward(self, *args: Any) -> Any:
        return self._func_impl(*args)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._func_name})"


class HybridLambda(HybridBlock):
    """Wraps an operator or an expression as a HybridBlock::

        block = HybridLambda('tanh')
        block = HybridLambda(lambda F, x: F.LeakyReLU(x, slope=0.1))

    Args:
        function: the name of an ``mx.nd`` function (called on the inputs), or a callable
            taking ``F`` (``mx.nd``) and the inputs.

    Raises:
        CheckError: an unknown function name (an AssertionError, as MXNet's).
        ValueError: ``function`` is neither a str nor a callable.
    """

    def __init__(self, function: Any, prefix: str | None = None) -> None:
        super().__init__(prefix=prefix)
        impl, self._func_name = _lambda_function(function, "HybridLambda")
        if isinstance(function, str):
            self._func = lambda F, *args: impl(*args)  # noqa: N803
        else:
            self._func = impl

    def hybrid_forward(self, F: Any, x: Any, *args: Any) -> Any:  # noqa: N803
        return self._func(F, x, *args)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._func_name})"
