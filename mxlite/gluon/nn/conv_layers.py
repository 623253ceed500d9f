"""Convolution, pooling and padding layers (MXNet's ``gluon/nn/conv_layers.py``).

``Conv1D/2D/3D`` and ``Conv1DTranspose/2DTranspose/3DTranspose`` hold ``weight`` (and ``bias``)
Parameters of MXNet's shapes: ``(channels, in_channels/groups, *kernel_size)`` for a
convolution, ``(in_channels, channels/groups, *kernel_size)`` for a transposed one (kernel
before the channels with channels-last layouts). With ``in_channels=0`` the input dimension is
inferred from the first input (deferred initialization, as Dense's ``in_units``). Pooling layers
hold no Parameters. Names, defaults, ``repr`` and constructor errors follow MXNet 1.9.1; an
operator error during a forward pass is re-raised with the layer's name and input shape.
"""

from __future__ import annotations

from typing import Any

from mxlite.base import CheckError, MXNetError, numeric_types
from mxlite.gluon.block import HybridBlock
from mxlite.gluon.nn.activations import Activation
from mxlite.gluon.parameter import Parameter
from mxlite.ndarray import op_conv, op_layout, op_pool

__all__ = [
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "ReflectionPad2D",
]

_CONV_LAYOUTS = {1: ("NCW",), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}
_MSG_CONV_LAYOUT = {
    1: "Only supports 'NCW' layout for now",
    2: "Only supports 'NCHW' and 'NHWC' layout for now",
    3: "Only supports 'NCDHW' and 'NDHWC' layout for now",
}
_POOL_LAYOUTS = {1: ("NCW", "NWC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}
_MSG_POOL_LAYOUT = "Only {0} and {1} layouts are valid for {2}D Pooling"
_MSG_KERNEL_LEN = "kernel_size must be a number or a list of {n} ints"


def _bad_layout(message: str, layer: str, layout: Any) -> str:
    """MXNet's ``message`` for an unsupported layout, plus the layer and the layout it got."""
    return f"{message} ({layer} got layout={layout!r})"


def _tuple(value: Any, n: int) -> Any:
    """A number as an ``n``-tuple; anything else as given (as MXNet keeps lists)."""
    return (value,) * n if isinstance(value, numeric_types) else value


def in_layer(block: HybridBlock, x: Any, err: MXNetError) -> MXNetError:
    """``err`` to re-raise with the layer that ran the operator and the input's shape."""
    shown = repr(block)
    what = f"{type(block).__name__} '{block.name}'" + (f" ({shown})" if "\n" not in shown else "")
    return type(err)(f"{what} on an input of shape {tuple(x.shape)}: {err}")


def _weight_shape(
    transposed: bool, channels: int, in_channels: int, groups: int, kernel: Any, layout: str
) -> tuple[int, ...]:
    """MXNet's weight shape for a layer (0 for an unknown input dimension)."""
    if transposed:
        out, inner = in_channels, channels // groups
    else:
        out, inner = channels, in_channels // groups
    if layout.endswith("C"):
        return (out, *kernel, inner)
    return (out, inner, *kernel)


class _Conv(HybridBlock):
    """Abstract n-d (transposed) convolution layer; see :class:`Conv2D` for the arguments."""

    def __init__(
        self,
        channels: int,
        kernel_size: Any,
        strides: Any,
        padding: Any,
        dilation: Any,
        groups: int,
        layout: str,
        in_channels: int = 0,
        activation: str | None = None,
        use_bias: bool = True,
        weight_initializer: Any = None,
        bias_initializer: Any = "zeros",
        op_name: str = "Convolution",
        adj: Any = None,
        prefix: str | None = None,
        params: Any = None,
    ) -> None:
        super().__init__(prefix=prefix, params=params)
        with self.name_scope():
            self._channels = channels
            self._in_channels = in_channels
            n = len(kernel_size)
            strides, padding, dilation = (_tuple(v, n) for v in (strides, padding, dilation))
            self._op_name = op_name
            self._kwargs: dict[str, Any] = {
                "kernel": kernel_size, "stride": strides, "dilate": dilation, "pad": padding,
                "num_filter": channels, "num_group": groups, "no_bias": not use_bias,
                "layout": layout,
            }  # fmt: skip
            if adj is not None:
                self._kwargs["adj"] = adj
            transposed = op_name == "Deconvolution"
            wshape = _weight_shape(transposed, channels, in_channels, groups, kernel_size, layout)
            self.weight: Parameter = self.params.get(
                "weight", shape=wshape, init=weight_initializer, allow_deferred_init=True
            )
            self.bias: Parameter | None = None
            if use_bias:
                self.bias = self.params.get(
                    "bias", shape=(channels,), init=bias_initializer, allow_deferred_init=True
                )
            self.act: Activation | None = None
            if activation is not None:
                self.act = Activation(activation, prefix=activation + "_")

    def infer_shape(self, x: Any, *args: Any) -> None:
        """Set the weight's input-channel dimension from ``x``'s channel axis, once ``x`` has
        passed the operator's checks (a bad first input leaves the weight deferred, as in
        MXNet).

        Raises:
            MXNetError: the operator's error for ``x``, naming this layer and ``x``'s shape.
        """
        kw = self._kwargs
        in_channels = x.shape[kw["layout"].find("C")] if x.ndim == len(kw["kernel"]) + 2 else 0
        wshape = _weight_shape(
            self._op_name == "Deconvolution", kw["num_filter"], in_channels, kw["num_group"],
            kw["kernel"], kw["layout"],
        )  # fmt: skip
        try:
            op_conv.check_call(self._op_name, x, wshape, **kw)
        except MXNetError as err:
            raise in_layer(self, x, err) from err
        self.weight.shape = wshape

    def hybrid_forward(self, F: Any, x: Any, weight: Any, bias: Any = None) -> Any:  # noqa: N803
        op = op_conv.Deconvolution if self._op_name == "Deconvolution" else op_conv.Convolution
        try:
            out = op(x, weight, bias, **self._kwargs)
        except MXNetError as err:
            raise in_layer(self, x, err) from err
        if self.act is not None:
            out = self.act(out)
        return out

    def _alias(self) -> str:
        return "conv"

    def __repr__(self) -> str:
        kw = self._kwargs
        n = len(kw["kernel"])
        s = "{name}({mapping}, kernel_size={kernel}, stride={stride}"
        if kw["pad"] != (0,) * n:
            s += ", padding={pad}"
        if kw["dilate"] != (1,) * n:
            s += ", dilation={dilate}"
        if kw["num_group"] != 1:
            s += ", groups={num_group}"
        if self.bias is None:
            s += ", bias=False"
        if self.act:
            s += f", {self.act}"
        s += ")"
        shape = self.weight.shape or (0, 0)
        mapping = f"{shape[1] if shape[1] else None} -> {shape[0]}"
        return s.format(name=type(self).__name__, mapping=mapping, **kw)


def _conv_init(
    layer: str, nd: int, kernel_size: Any, layout: str, transposed: bool, output_padding: Any = 0
) -> tuple[Any, Any]:
    """Checked kernel size (and output padding) of an ``nd``-d layer.

    Raises:
        CheckError: an unsupported layout or a kernel size of another length (MXNet's
            AssertionError messages).
    """
    if layout not in _CONV_LAYOUTS[nd]:
        raise CheckError(_bad_layout(_MSG_CONV_LAYOUT[nd], layer, layout))
    kernel_size = _tuple(kernel_size, nd)
    if len(kernel_size) != nd:
        raise CheckError(_MSG_KERNEL_LEN.format(n=nd))
    if not transposed:
        return kernel_size, None
    output_padding = _tuple(output_padding, nd)
    if len(output_padding) != nd:
        raise CheckError(f"output_padding must be a number or a list of {nd} ints")
    return kernel_size, output_padding


class Conv1D(_Conv):
    """1-d convolution over ``(batch, in_channels, width)`` (layout 'NCW').

    Args:
        channels: number of output channels (filters).
        kernel_size: int or 1-tuple.
        strides, padding, dilation: int or 1-tuple.
        groups: split the input and output channels into this many groups.
        layout: 'NCW'.
        activation: activation applied to the output (see :class:`Activation`), or None.
        use_bias: whether the layer has a bias.
        weight_initializer, bias_initializer: initializers of the Parameters.
        in_channels: input channels; 0 infers them at the first forward pass.

    Output width: ``floor((width + 2*padding - dilation*(kernel_size-1) - 1) / strides) + 1``.
    """

    def __init__(
        self, channels: int, kernel_size: Any, strides: Any = 1, padding: Any = 0,
        dilation: Any = 1, groups: int = 1, layout: str = "NCW", activation: str | None = None,
        use_bias: bool = True, weight_initializer: Any = None, bias_initializer: Any = "zeros",
        in_channels: int = 0, **kwargs: Any,
    ) -> None:  # fmt: skip
        kernel_size, _ = _conv_init(type(self).__name__, 1, kernel_size, layout, False)
        op_name = kwargs.pop("op_name", "Convolution")
        super().__init__(
            channels, kernel_size, strides, padding, dilation, groups, layout, in_channels,
            activation, use_bias, weight_initializer, bias_initializer, op_name, **kwargs,
        )  # fmt: skip


class Conv2D(_Conv):
    """2-d convolution over ``(batch, in_channels, height, width)`` (layout 'NCHW' or 'NHWC').

    Arguments as :class:`Conv1D` with 2-tuples. Output size per dimension:
    ``floor((size + 2*padding - dilation*(kernel_size-1) - 1) / strides) + 1``.
    """

    def __init__(
        self, channels: int, kernel_size: Any, strides: Any = (1, 1), padding: Any = (0, 0),
        dilation: Any = (1, 1), groups: int = 1, layout: str = "NCHW",
        activation: str | None = None, use_bias: bool = True, weight_initializer: Any = None,
        bias_initializer: Any = "zeros", in_channels: int = 0, **kwargs: Any,
    ) -> None:  # fmt: skip
        kernel_size, _ = _conv_init(type(self).__name__, 2, kernel_size, layout, False)
        op_name = kwargs.pop("op_name", "Convolution")
        super().__init__(
            channels, kernel_size, strides, padding, dilation, groups, layout, in_channels,
            activation, use_bias, weight_initializer, bias_initializer, op_name, **kwargs,
        )  # fmt: skip


class Conv3D(_Conv):
    """3-d convolution over ``(batch, in_channels, depth, height, width)`` (layout 'NCDHW' or
    'NDHWC'). Arguments as :class:`Conv1D` with 3-tuples."""

    def __init__(
        self, channels: int, kernel_size: Any, strides: Any = (1, 1, 1),
        padding: Any = (0, 0, 0), dilation: Any = (1, 1, 1), groups: int = 1,
        layout: str = "NCDHW", activation: str | None = None, use_bias: bool = True,
        weight_initializer: Any = None, bias_initializer: Any = "zeros", in_channels: int = 0,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        kernel_size, _ = _conv_init(type(self).__name__, 3, kernel_size, layout, False)
        op_name = kwargs.pop("op_name", "Convolution")
        super().__init__(
            channels, kernel_size, strides, padding, dilation, groups, layout, in_channels,
            activation, use_bias, weight_initializer, bias_initializer, op_name, **kwargs,
        )  # fmt: skip


class Conv1DTranspose(_Conv):
    """Transposed 1-d convolution (MXNet's ``Deconvolution``); weight ``(in_channels,
    channels/groups, kernel)``. Output width:
    ``(width-1)*strides - 2*padding + dilation*(kernel_size-1) + 1 + output_padding``."""

    def __init__(
        self, channels: int, kernel_size: Any, strides: Any = 1, padding: Any = 0,
        output_padding: Any = 0, dilation: Any = 1, groups: int = 1, layout: str = "NCW",
        activation: str | None = None, use_bias: bool = True, weight_initializer: Any = None,
        bias_initializer: Any = "zeros", in_channels: int = 0, **kwargs: Any,
    ) -> None:  # fmt: skip
        kernel_size, output_padding = _conv_init(
            type(self).__name__, 1, kernel_size, layout, True, output_padding
        )
        op_name = kwargs.pop("op_name", "Deconvolution")
        super().__init__(
            channels, kernel_size, strides, padding, dilation, groups, layout, in_channels,
            activation, use_bias, weight_initializer, bias_initializer, op_name=op_name,
            adj=output_padding, **kwargs,
        )  # fmt: skip
        self.outpad = output_padding


class Conv2DTranspose(_Conv):
    """Transposed 2-d convolution; arguments as :class:`Conv1DTranspose` with 2-tuples
    (layout 'NCHW' or 'NHWC')."""

    def __init__(
        self, channels: int, kernel_size: Any, strides: Any = (1, 1), padding: Any = (0, 0),
        output_padding: Any = (0, 0), dilation: Any = (1, 1), groups: int = 1,
        layout: str = "NCHW", activation: str | None = None, use_bias: bool = True,
        weight_initializer: Any = None, bias_initializer: Any = "zeros", in_channels: int = 0,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        kernel_size, output_padding = _conv_init(
            type(self).__name__, 2, kernel_size, layout, True, output_padding
        )
        op_name = kwargs.pop("op_name", "Deconvolution")
        super().__init__(
            channels, kernel_size, strides, padding, dilation, groups, layout, in_channels,
            activation, use_bias, weight_initializer, bias_initializer, op_name=op_name,
            adj=output_padding, **kwargs,
        )  # fmt: skip
        self.outpad = output_padding


class Conv3DTranspose(_Conv):
    """Transposed 3-d convolution; arguments as :class:`Conv1DTranspose` with 3-tuples
    (layout 'NCDHW' or 'NDHWC')."""

    def __init__(
        self, channels: int, kernel_size: Any, strides: Any = (1, 1, 1),
        padding: Any = (0, 0, 0), output_padding: Any = (0, 0, 0), dilation: Any = (1, 1, 1),
        groups: int = 1, layout: str = "NCDHW", activation: str | None = None,
        use_bias: bool = True, weight_initializer: Any = None, bias_initializer: Any = "zeros",
        in_channels: int = 0, **kwargs: Any,
    ) -> None:  # fmt: skip
        kernel_size, output_padding = _conv_init(
            type(self).__name__, 3, kernel_size, layout, True, output_padding
        )
        op_name = kwargs.pop("op_name", "Deconvolution")
        super().__init__(
            channels, kernel_size, strides, padding, dilation, groups, layout, in_channels,
            activation, use_bias, weight_initializer, bias_initializer, op_name=op_name,
            adj=output_padding, **kwargs,
        )  # fmt: skip
        self.outpad = output_padding


# ------------------------------------------------------------------------------------ pooling
class _Pooling(HybridBlock):
    """Abstract pooling layer (no Parameters)."""

    def __init__(
        self,
        pool_size: Any,
        strides: Any,
        padding: Any,
        ceil_mode: bool,
        global_pool: bool,
        pool_type: str,
        layout: str,
        count_include_pad: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if strides is None:
            strides = pool_size
        n = len(pool_size)
        self._kwargs: dict[str, Any] = {
            "kernel": pool_size, "stride": _tuple(strides, n), "pad": _tuple(padding, n),
            "global_pool": global_pool, "pool_type": pool_type, "layout": layout,
            "pooling_convention": "full" if ceil_mode else "valid",
        }  # fmt: skip
        if count_include_pad is not None:
            self._kwargs["count_include_pad"] = count_include_pad

    def _alias(self) -> str:
        return "pool"

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        try:
            return op_pool.Pooling(x, **self._kwargs)
        except MXNetError as err:
            raise in_layer(self, x, err) from err

    def __repr__(self) -> str:
        kw = self._kwargs
        return (
            f"{type(self).__name__}(size={kw['kernel']}, stride={kw['stride']}, "
            f"padding={kw['pad']}, ceil_mode={kw['pooling_convention'] == 'full'}, "
            f"global_pool={kw['global_pool']}, pool_type={kw['pool_type']}, "
            f"layout={kw['layout']})"
        )


def _pool_size(layer: str, nd: int, pool_size: Any, layout: str) -> Any:
    """Checked layout and pool size of an ``nd``-d pooling layer.

    Raises:
        CheckError: an unsupported layout or a pool size of another length.
    """
    if layout not in _POOL_LAYOUTS[nd]:
        raise CheckError(
            _bad_layout(_MSG_POOL_LAYOUT.format(*_POOL_LAYOUTS[nd], nd), layer, layout)
        )
    pool_size = _tuple(pool_size, nd)
    if len(pool_size) != nd:
        raise CheckError(f"pool_size must be a number or a list of {nd} ints")
    return pool_size


class MaxPool1D(_Pooling):
    """Max pooling over ``(batch, channels, width)`` ('NCW' or 'NWC'): windows of
    ``pool_size`` moved by ``strides`` (default ``pool_size``), zero ``padding``; ``ceil_mode``
    rounds the output size up. Output width: ``floor((width + 2*padding - pool_size) /
    strides) + 1``."""

    def __init__(
        self, pool_size: Any = 2, strides: Any = None, padding: Any = 0, layout: str = "NCW",
        ceil_mode: bool = False, **kwargs: Any,
    ) -> None:  # fmt: skip
        pool_size = _pool_size(type(self).__name__, 1, pool_size, layout)
        super().__init__(pool_size, strides, padding, ceil_mode, False, "max", layout, **kwargs)


class MaxPool2D(_Pooling):
    """Max pooling over ``(batch, channels, height, width)`` ('NCHW' or 'NHWC'); arguments as
    :class:`MaxPool1D` with 2-tuples."""

    def __init__(
        self, pool_size: Any = (2, 2), strides: Any = None, padding: Any = 0,
        layout: str = "NCHW", ceil_mode: bool = False, **kwargs: Any,
    ) -> None:  # fmt: skip
        pool_size = _pool_size(type(self).__name__, 2, pool_size, layout)
        super().__init__(pool_size, strides, padding, ceil_mode, False, "max", layout, **kwargs)


class MaxPool3D(_Pooling):
    """Max pooling over 3-d data ('NCDHW' or 'NDHWC'); arguments as :class:`MaxPool1D` with
    3-tuples."""

    def __init__(
        self, pool_size: Any = (2, 2, 2), strides: Any = None, padding: Any = 0,
        ceil_mode: bool = False, layout: str = "NCDHW", **kwargs: Any,
    ) -> None:  # fmt: skip
        pool_size = _pool_size(type(self).__name__, 3, pool_size, layout)
        super().__init__(pool_size, strides, padding, ceil_mode, False, "max", layout, **kwargs)


class AvgPool1D(_Pooling):
    """Average pooling over ``(batch, channels, width)``; arguments as :class:`MaxPool1D`, and
    ``count_include_pad`` (default True): whether padded positions count in the divisor."""

    def __init__(
        self, pool_size: Any = 2, strides: Any = None, padding: Any = 0, layout: str = "NCW",
        ceil_mode: bool = False, count_include_pad: bool = True, **kwargs: Any,
    ) -> None:  # fmt: skip
        pool_size = _pool_size(type(self).__name__, 1, pool_size, layout)
        super().__init__(
            pool_size, strides, padding, ceil_mode, False, "avg", layout, count_include_pad,
            **kwargs,
        )  # fmt: skip


class AvgPool2D(_Pooling):
    """Average pooling over 2-d data; arguments as :class:`AvgPool1D` with 2-tuples."""

    def __init__(
        self, pool_size: Any = (2, 2), strides: Any = None, padding: Any = 0,
        ceil_mode: bool = False, layout: str = "NCHW", count_include_pad: bool = True,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        pool_size = _pool_size(type(self).__name__, 2, pool_size, layout)
        super().__init__(
            pool_size, strides, padding, ceil_mode, False, "avg", layout, count_include_pad,
            **kwargs,
        )  # fmt: skip


class AvgPool3D(_Pooling):
    """Average pooling over 3-d data; arguments as :class:`AvgPool1D` with 3-tuples."""

    def __init__(
        self, pool_size: Any = (2, 2, 2), strides: Any = None, padding: Any = 0,
        ceil_mode: bool = False, layout: str = "NCDHW", count_include_pad: bool = True,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        pool_size = _pool_size(type(self).__name__, 3, pool_size, layout)
        super().__init__(
            pool_size, strides, padding, ceil_mode, False, "avg", layout, count_include_pad,
            **kwargs,
        )  # fmt: skip


class _GlobalPooling(_Pooling):
    """Global pooling over ``_nd``-d data: ``(batch, channels, ...)`` to one value per channel
    (``(batch, channels, 1, ...)``); the window covers the whole input."""

    _nd = 2
    _kind = "max"

    def _setup(self, layout: str, kwargs: dict[str, Any]) -> None:
        nd = self._nd
        if layout not in _POOL_LAYOUTS[nd]:
            message = _MSG_POOL_LAYOUT.format(*_POOL_LAYOUTS[nd], nd)
            raise CheckError(_bad_layout(message, type(self).__name__, layout))
        _Pooling.__init__(self, (1,) * nd, None, 0, True, True, self._kind, layout, **kwargs)


class GlobalMaxPool1D(_GlobalPooling):
    """Global max pooling over ``(batch, channels, width)`` ('NCW' or 'NWC')."""

    _nd, _kind = 1, "max"

    def __init__(self, layout: str = "NCW", **kwargs: Any) -> None:
        self._setup(layout, kwargs)


class GlobalMaxPool2D(_GlobalPooling):
    """Global max pooling over 2-d data ('NCHW' or 'NHWC')."""

    _nd, _kind = 2, "max"

    def __init__(self, layout: str = "NCHW", **kwargs: Any) -> None:
        self._setup(layout, kwargs)


class GlobalMaxPool3D(_GlobalPooling):
    """Global max pooling over 3-d data ('NCDHW' or 'NDHWC')."""

    _nd, _kind = 3, "max"

    def __init__(self, layout: str = "NCDHW", **kwargs: Any) -> None:
        self._setup(layout, kwargs)


class GlobalAvgPool1D(_GlobalPooling):
    """Global average pooling over ``(batch, channels, width)`` ('NCW' or 'NWC')."""

    _nd, _kind = 1, "avg"

    def __init__(self, layout: str = "NCW", **kwargs: Any) -> None:
        self._setup(layout, kwargs)


class GlobalAvgPool2D(_GlobalPooling):
    """Global average pooling over 2-d data ('NCHW' or 'NHWC')."""

    _nd, _kind = 2, "avg"

    def __init__(self, layout: str = "NCHW", **kwargs: Any) -> None:
        self._setup(layout, kwargs)


class GlobalAvgPool3D(_GlobalPooling):
    """Global average pooling over 3-d data ('NCDHW' or 'NDHWC')."""

    _nd, _kind = 3, "avg"

    def __init__(self, layout: str = "NCDHW", **kwargs: Any) -> None:
        self._setup(layout, kwargs)


class ReflectionPad2D(HybridBlock):
    """Pads ``(batch, channels, height, width)`` input by reflecting it at the borders.

    Args:
        padding: an int (the same on every side) or the 8-tuple ``pad_width`` of
            ``mx.nd.pad`` (zeros for the batch and channel axes).

    Raises:
        CheckError: a tuple padding without 8 entries.
    """

    def __init__(self, padding: Any = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(padding, numeric_types):
            padding = (0, 0, 0, 0, padding, padding, padding, padding)
        if len(padding) != 8:
            raise CheckError(
                f"ReflectionPad2D: padding must be an int or 8 ints (pad_width of mx.nd.pad, "
                f"zeros for the batch and channel axes), got {padding!r}"
            )
        self._padding = padding

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 - MXNet's signature
        try:
            return op_layout.pad(x, mode="reflect", pad_width=self._padding)
        except MXNetError as err:
            raise in_layer(self, x, err) from err
