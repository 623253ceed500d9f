"""Convolution operators of ``mx.nd``: ``Convolution`` and ``Deconvolution`` (1-, 2- and 3-d).

Arguments, defaults, shapes and error messages follow MXNet 1.9.1 (checked with the oracle):
``kernel`` is required; ``stride``/``dilate`` default to 1 and ``pad`` to 0 per dimension;
weights are ``(num_filter, C/num_group, *kernel)`` for a convolution and ``(C, num_filter/
num_group, *kernel)`` for a deconvolution (channels last, ``(O, *kernel, I)``, with the NWC/NHWC/
NDHWC layouts). The heavy work is :mod:`mxlite.ops.conv` (a few large matrix products); each op
is one autograd node (``Convolution`` / ``Deconvolution``, attrs ``win``, ``groups``,
``channels_last``, ``out_spatial``) whose rule is :func:`mxlite.ops.conv.backward`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mxlite import autograd
from mxlite.base import MXNetError
from mxlite.ndarray import _spatial_args as args
from mxlite.ndarray.ndarray import NDArray, as_raw, on_device_of_first, out_ctx, same_ctx
from mxlite.ndarray.op_math import write_out
from mxlite.ops import conv as ops_conv

__all__ = ["Convolution", "Deconvolution", "check_call"]

_MSG_SHAPE = "Shape inconsistent, Provided = {provided}, inferred shape={inferred}"
_MSG_NO_BIAS = "Operator {op} expects 3 inputs, but got 2 instead: pass a bias, or no_bias=True."
_MSG_KERNEL_SIZE = (
    "{op}: kernel size exceed input: the dilated kernel {kernel} is larger than the padded "
    "input {padded} (data of shape {shape}, pad {pad}); use a smaller kernel or dilation, more "
    "padding, or a larger input."
)
_MSG_GROUPS = (
    "{op}: the {what} ({n}) must be divisible by num_group ({groups}); data of shape {shape}."
)


def _shape_str(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _tuple_str(shape: tuple[int, ...]) -> str:
    inner = ",".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _kernel(kernel: Any, op: str) -> tuple[int, ...]:
    k = args.shape_arg(kernel, "kernel", op)
    if not k:
        raise MXNetError(
            f"{op}: Required parameter kernel of Shape(tuple) is not presented; pass the kernel "
            "size, e.g. kernel=(3, 3)."
        )
    if len(k) > 3:
        raise MXNetError(f"{op}: {len(k)}D convolution not supported (kernel {list(k)}).")
    if any(v < 1 for v in k):
        raise MXNetError(f"{op}: incorrect kernel size: {list(k)}; every entry must be >= 1.")
    return k


def _window(
    op: str, kernel: Any, stride: Any, dilate: Any, pad: Any
) -> tuple[tuple[int, ...], ops_conv.Window]:
    k = _kernel(kernel, op)
    s = args.per_dim(args.shape_arg(stride, "stride", op), "stride", k, 1, op, True)
    d = args.per_dim(args.shape_arg(dilate, "dilate", op), "dilate", k, 1, op, True)
    p = args.per_dim(args.shape_arg(pad, "pad", op), "pad", k, 0, op, False)
    return k, ops_conv.Window.of(k, s, p, d)


def _inputs(
    op: str, data: NDArray, weight: NDArray | None, bias: NDArray | None, no_bias: bool
) -> tuple[list[NDArray], Any, Any, Any]:
    if weight is None:
        raise MXNetError(f"{op}: the weight is required (the second input).")
    if bias is None and not no_bias:
        raise MXNetError(_MSG_NO_BIAS.format(op=op))
    inputs = [data, weight]
    b = None
    if not no_bias and bias is not None:
        inputs.append(bias)
    same_ctx(op, *inputs)
    w = as_raw(weight, data)
    if len(inputs) > 2:
        b = as_raw(inputs[2], data)
    args.check_float_inputs(op, [("data", data._data), ("weight", w), ("bias", b)])
    return inputs, data._data, w, b


def _check_groups(op: str, what: str, n: int, groups: int, shape: tuple[int, ...]) -> None:
    if groups < 1 or n % groups:
        raise MXNetError(_MSG_GROUPS.format(op=op, what=what, n=n, groups=groups, shape=shape))


def _check_weight(op: str, got: tuple[int, ...], want: tuple[int, ...]) -> None:
    if tuple(got) != tuple(want):
        raise MXNetError(
            _MSG_SHAPE.format(provided=_shape_str(got), inferred=_tuple_str(want))
            + f" for the weight of {op}."
        )


def _check_bias(op: str, b: Any, n: int) -> None:
    if b is not None and tuple(b.shape) != (n,):
        raise MXNetError(
            _MSG_SHAPE.format(provided=_shape_str(b.shape), inferred=_tuple_str((n,)))
            + f" for the bias of {op}."
        )


def _channels(shape: tuple[int, ...], channels_last: bool) -> tuple[int, tuple[int, ...]]:
    """(channels, spatial size) of a data shape."""
    if channels_last:
        return shape[-1], tuple(shape[1:-1])
    return shape[1], tuple(shape[2:])


def _weight_shape(o: int, i: int, k: tuple[int, ...], channels_last: bool) -> tuple[int, ...]:
    return (o, *k, i) if channels_last else (o, i, *k)


class _Call(NamedTuple):
    """A checked (de)convolution call: raw inputs, layout and geometry."""

    inputs: list[NDArray]
    x: Any
    w: Any
    b: Any
    last: bool
    spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    win: ops_conv.Window
    groups: int


def _checked(
    op: str,
    data: NDArray,
    weight: NDArray | None,
    bias: NDArray | None,
    kernel: Any,
    stride: Any,
    dilate: Any,
    pad: Any,
    num_filter: int | None,
    num_group: int,
    no_bias: bool,
    layout: str | None,
) -> _Call:
    """Every check the two ops share, in MXNet's order (see the module docstring)."""
    k, win = _window(op, kernel, stride, dilate, pad)
    args.check_layout(layout, op, False, {"num_filter": num_filter, "kernel": tuple(k)})
    if num_filter is None:
        raise MXNetError(f"{op}: Required parameter num_filter of int is not presented.")
    args.check_data_ndim(data, len(k), op)
    last = args.channels_last(layout)
    inputs, x, w, b = _inputs(op, data, weight, bias, no_bias)
    c, spatial = _channels(x.shape, last)
    _check_groups(op, "number of input channels", c, num_group, x.shape)
    _check_groups(op, "num_filter", num_filter, num_group, x.shape)
    if op == "Convolution":
        want = _weight_shape(num_filter, c // num_group, k, last)
    else:
        want = _weight_shape(c, num_filter // num_group, k, last)
    _check_weight(op, w.shape, want)
    _check_bias(op, b, num_filter)
    return _Call(inputs, x, w, b, last, spatial, k, win, num_group)


def _finish(
    op: str,
    data: NDArray,
    call: _Call,
    res: Any,
    win: ops_conv.Window,
    out: NDArray | None,
    saved: dict[str, Any] | None = None,
) -> NDArray:
    """Wrap the raw result, record the op for autograd (with what the forward ``saved`` for
    the backward pass), honour ``out``."""
    result = type(data)(res, out_ctx(data._ctx))
    if autograd.is_recording():
        attrs = {"transposed": op == "Deconvolution", "win": win, "groups": call.groups,
                 "channels_last": call.last, "saved": saved}  # fmt: skip
        autograd.record_op(op, call.inputs, result, attrs)
    return write_out(result, out)


@on_device_of_first
def Convolution(  # noqa: N802 - MXNet's name
    data: NDArray,
    weight: NDArray | None = None,
    bias: NDArray | None = None,
    kernel: Any = None,
    stride: Any = (),
    dilate: Any = (),
    pad: Any = (),
    num_filter: int | None = None,
    num_group: int = 1,
    workspace: int = 1024,
    no_bias: bool = False,
    cudnn_tune: str | None = None,
    cudnn_off: bool = False,
    layout: str | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Convolution of ``data`` ``(N, C, *S)`` with ``weight`` ``(num_filter, C/num_group,
    *kernel)`` plus ``bias`` ``(num_filter,)``: ``(N, num_filter, *O)`` with
    ``O = floor((S + 2*pad - dilate*(kernel-1) - 1) / stride) + 1``.

    Raises:
        MXNetError: a missing or malformed argument, an unknown layout, data of the wrong number
            of dimensions, weight/bias shapes that do not match, a kernel larger than the padded
            input, or inputs of different dtypes.
    """
    call = _checked("Convolution", data, weight, bias, kernel, stride, dilate, pad, num_filter,
                    num_group, no_bias, layout)  # fmt: skip
    _check_kernel_fits(call)
    saved: dict[str, Any] | None = {} if autograd.is_recording() else None
    res = ops_conv.forward(
        False, call.x, call.w, call.b, call.win, num_group, call.last, saved=saved
    )
    return _finish("Convolution", data, call, res, call.win, out, saved)


def _check_kernel_fits(call: _Call) -> None:
    """Raise where the dilated kernel is larger than the padded input (MXNet's check)."""
    k, win = call.kernel, call.win
    dil = tuple((kk - 1) * d + 1 for kk, d in zip(k, win.dilate[3 - len(k) :]))
    padded = tuple(s + 2 * p for s, p in zip(call.spatial, win.pad[3 - len(k) :]))
    if any(a > b_ for a, b_ in zip(dil, padded)):
        raise MXNetError(
            _MSG_KERNEL_SIZE.format(
                op="Convolution", kernel=dil, padded=padded, shape=call.x.shape,
                pad=win.pad[3 - len(k) :],
            )
        )  # fmt: skip


def check_call(op: str, data: NDArray, weight_shape: tuple[int, ...], **params: Any) -> None:
    """Raise what ``op`` (``'Convolution'`` or ``'Deconvolution'``) would raise for ``data``,
    a weight of ``weight_shape`` and ``params`` (its keyword arguments), computing nothing (a
    layer checks its first input this way before its deferred parameters take their shapes).

    Raises:
        MXNetError: as the operator.
    """
    xp = data._xp
    weight = type(data)(xp.broadcast_to(xp.zeros((), dtype=data.dtype), weight_shape), data._ctx)
    get = params.get
    call = _checked(op, data, weight, None, get("kernel"), get("stride", ()), get("dilate", ()),
                    get("pad", ()), get("num_filter"), get("num_group", 1), True, get("layout"))  # fmt: skip
    if op == "Convolution":
        _check_kernel_fits(call)
    else:
        _deconv_geometry(op, call.spatial, call.kernel, call.win, params.get("adj", ()),
                         params.get("target_shape", ()))  # fmt: skip


def _deconv_geometry(
    op: str,
    spatial: tuple[int, ...],
    k: tuple[int, ...],
    win: ops_conv.Window,
    adj: Any,
    target_shape: Any,
) -> tuple[ops_conv.Window, tuple[int, ...]]:
    """The (possibly re-padded) window and the output size of a deconvolution (MXNet's
    ``InferPad``: a target shape sets pad and adj)."""
    nd = len(k)
    stride, dilate = win.stride[3 - nd :], win.dilate[3 - nd :]
    full = tuple(s * (n - 1) + d * (kk - 1) + 1 for s, n, d, kk in zip(stride, spatial, dilate, k))
    target = args.shape_arg(target_shape, "target_shape", op)
    if target and any(target):
        target = args.per_dim(target, "target_shape", k, 0, op, False)
        pads, adjs = [], []
        for i, t in enumerate(target):
            if full[i] < t:
                raise MXNetError(
                    f"{op}: Check failed: o_pad[{i}] >= target_shape[{i}] ({full[i]} vs. {t}) : "
                    "too big target shape; the largest output this input, kernel and stride can "
                    f"give is {full}."
                )
            total = full[i] - t
            adjs.append(total % 2)
            pads.append((total + 1) // 2)
        pad, a = tuple(pads), tuple(adjs)
    else:
        pad = win.pad[3 - nd :]
        a = args.per_dim(args.shape_arg(adj, "adj", op), "adj", k, 0, op, False)
    for i, (ai, s) in enumerate(zip(a, stride)):
        if ai > s - 1:
            axis = "xyz"[i] if nd == 1 else "yx"[i] if nd == 2 else "zyx"[i]
            raise MXNetError(
                f"{op}: Check failed: param_.stride[{i}]-1 >= o_adj[{i}] ({s - 1} vs. {ai}) : "
                f"adj({axis}) must be samller than stride[{i}]."
            )
    out = tuple(f - 2 * p + ai for f, p, ai in zip(full, pad, a))
    if any(o < 1 for o in out):
        raise MXNetError(
            f"{op}: the output would be empty ({out}) for input size {spatial}, kernel {k} and "
            f"pad {pad}; use less padding."
        )
    return ops_conv.Window.of(k, stride, pad, dilate), out


@on_device_of_first
def Deconvolution(  # noqa: N802 - MXNet's name
    data: NDArray,
    weight: NDArray | None = None,
    bias: NDArray | None = None,
    kernel: Any = None,
    stride: Any = (),
    dilate: Any = (),
    pad: Any = (),
    adj: Any = (),
    target_shape: Any = (),
    num_filter: int | None = None,
    num_group: int = 1,
    workspace: int = 512,
    no_bias: bool = True,
    cudnn_tune: str | None = None,
    cudnn_off: bool = False,
    layout: str | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Transposed convolution of ``data`` ``(N, C, *S)`` with ``weight`` ``(C,
    num_filter/num_group, *kernel)``: ``(N, num_filter, *O)`` with
    ``O = stride*(S-1) + dilate*(kernel-1) + 1 - 2*pad + adj`` (or ``target_shape``, which then
    sets ``pad`` and ``adj``). ``no_bias`` defaults to True, as in MXNet.

    Raises:
        MXNetError: as :func:`Convolution`; ``adj`` not below ``stride``; a target shape larger
            than the kernel and stride can reach.
    """
    call = _checked("Deconvolution", data, weight, bias, kernel, stride, dilate, pad,
                    num_filter, num_group, no_bias, layout)  # fmt: skip
    win, out_spatial = _deconv_geometry(
        "Deconvolution", call.spatial, call.kernel, call.win, adj, target_shape
    )
    res = ops_conv.forward(True, call.x, call.w, call.b, win, num_group, call.last, out_spatial)
    return _finish("Deconvolution", data, call, res, win, out)
