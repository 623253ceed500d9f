"""Pooling and upsampling operators of ``mx.nd``: ``Pooling`` (max, avg, sum, lp; 1-, 2- and 3-d;
global; 'valid', 'full' and 'same' conventions; channels-first or -last) and ``UpSampling``.

Semantics and messages follow MXNet 1.9.1 (see :mod:`mxlite.ops.pool` for the window rules).
``Pooling`` is one autograd node (attrs ``spec``, ``channels_last``) whose rule is
:func:`mxlite.ops.pool.backward`. Nearest ``UpSampling`` repeats every pixel ``scale`` times per
axis (several inputs are each scaled to the first one's output size, then concatenated along the
channels or summed); bilinear ``UpSampling`` is MXNet's grouped ``Deconvolution`` with the given
weight.
"""

from __future__ import annotations

from typing import Any

from mxlite import autograd, backend
from mxlite.base import MXNetError
from mxlite.ndarray import _spatial_args as args
from mxlite.ndarray.ndarray import NDArray, as_raw, on_device, on_device_of_first, out_ctx, same_ctx
from mxlite.ndarray.op_conv import Deconvolution
from mxlite.ndarray.op_math import write_out
from mxlite.ops import conv as ops_conv
from mxlite.ops import pool as ops_pool

__all__ = ["Pooling", "UpSampling"]

_POOL_TYPES = ("avg", "lp", "max", "sum")
_CONVENTIONS = ("full", "same", "valid")


def _choice(value: str, valid: tuple[str, ...], name: str, attrs: dict[str, Any]) -> None:
    if value not in valid:
        shown = ", ".join(f"'{v}'" for v in valid)
        raise MXNetError(
            f"Invalid Input: '{value}', valid values are: {{{shown}}}, in operator "
            f"{args.op_signature('Pooling', **{name: value}, **attrs)}"
        )


def _pool_spec(
    spatial: tuple[int, ...],
    kernel: Any,
    stride: Any,
    pad: Any,
    kind: int,
    p: int,
    include_pad: bool,
    convention: str,
    global_pool: bool,
) -> ops_pool.PoolSpec:
    """The 3-d spec of one pooling (checks the kernel against the data)."""
    op = "Pooling"
    nd = len(spatial)
    lead = 3 - nd
    if global_pool:
        return ops_pool.PoolSpec(
            (1,) * lead + spatial,  # type: ignore[arg-type]
            (1, 1, 1),
            (0, 0, 0),
            (1, 1, 1),
            kind,
            p,
            True,  # type: ignore[arg-type]
        )
    k = args.shape_arg(kernel, "kernel", op)
    if not k:
        raise MXNetError(
            f"{op}: Check failed: param.kernel.ndim() == {nd}U (0 vs. {nd}) : 0D pooling not "
            "supported; pass kernel=(...) with one size per spatial dimension, or "
            "global_pool=True."
        )
    if len(k) != nd:
        raise MXNetError(
            f"{op}: the kernel {list(k)} has {len(k)} dimension(s) but the data has {nd} spatial "
            f"dimension(s) (shape (N, C{', *' if nd else ''}{spatial})); pass one kernel size per "
            "spatial dimension."
        )
    s = args.per_dim(args.shape_arg(stride, "stride", op), "stride", k, 1, op, True)
    pd = args.per_dim(args.shape_arg(pad, "pad", op), "pad", k, 0, op, False)
    if convention == "same":
        if nd != 1 or kind != ops_pool.KINDS["max"]:
            raise MXNetError(
                f"{op}: Check failed: dshape.ndim() == 3U ({nd + 2} vs. 3) : Input data should be "
                "3D in (batch, channel, x). Currently 'same' supports Max Pooling 1-D."
            )
        if any(pd):
            raise MXNetError(
                f"{op}: Check failed: param.pad[0] == 0 && param.pad[1] == 0 && param.pad[2] == 0:"
                " Same pooling convention disables the use of pad parameter."
            )
        out = (ops_pool.out_size(spatial[0], k[0], s[0], 0, "same"),)
        total = max((out[0] - 1) * s[0] + k[0] - spatial[0], 0)
        pd = (total // 2,)
    else:
        for i, (n, kk, pp) in enumerate(zip(spatial, k, pd)):
            if kk > n + 2 * pp:
                raise MXNetError(
                    f"{op}: Check failed: param.kernel[{i}] <= dshape[{i + 2}] + 2 * "
                    f"param.pad[{i}]: kernel size ({kk}) exceeds input ({n} padded to "
                    f"{n + 2 * pp}); use a smaller kernel or more padding."
                )
        out = tuple(  # type: ignore[assignment]
            ops_pool.out_size(n, kk, ss, pp, convention) for n, kk, ss, pp in zip(spatial, k, s, pd)
        )
    return ops_pool.PoolSpec(
        (1,) * lead + k,  # type: ignore[arg-type]
        (1,) * lead + s,  # type: ignore[arg-type]
        (0,) * lead + pd,  # type: ignore[arg-type]
        (1,) * lead + out,  # type: ignore[arg-type]
        kind,
        p,
        include_pad,
    )


@on_device_of_first
def Pooling(  # noqa: N802 - MXNet's name
    data: NDArray,
    kernel: Any = (),
    pool_type: str = "max",
    global_pool: bool = False,
    cudnn_off: bool = False,
    pooling_convention: str = "valid",
    stride: Any = (),
    pad: Any = (),
    p_value: int | None = None,
    count_include_pad: bool | None = None,
    layout: str | None = None,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Pool ``data`` ``(N, C, *S)`` (``(N, *S, C)`` for channels-last layouts) over windows of
    ``kernel`` moved by ``stride`` (default 1) with zero ``pad``.

    Output size per dimension: ``floor((S + 2*pad - kernel) / stride) + 1`` ('valid'),
    ``ceil(...) + 1`` ('full'), ``ceil(S / stride)`` ('same', 1-d max only); 1 with
    ``global_pool`` (the kernel, stride and pad are then ignored).

    Raises:
        MXNetError: an unknown pool type, convention or layout; a kernel of another
            dimensionality than the data, or larger than the padded input; lp without
            ``p_value``.
    """
    op = "Pooling"
    _choice(pool_type, _POOL_TYPES, "pool_type", {})
    _choice(pooling_convention, _CONVENTIONS, "pooling_convention", {"pool_type": pool_type})
    args.check_layout(layout, op, True, {"pool_type": pool_type})
    nd = data.ndim - 2
    if not 1 <= nd <= 3:
        raise MXNetError(
            f"{op}: data of shape {data.shape} has {nd} spatial dimensions; pooling supports "
            "1-, 2- and 3-d data (N, C, ...)."
        )
    p = 1
    if pool_type == "lp":
        if p_value is None:
            raise MXNetError(
                f"{op}: Check failed: param.p_value.has_value(): lp pooling needs p_value "
                "(1, 2 or 3)."
            )
        if p_value not in (1, 2, 3):
            raise MXNetError(f"{op}: p_value must be 1, 2 or 3 for lp pooling, got {p_value}.")
        p = int(p_value)
    last = args.channels_last(layout)
    x = data._data
    if last:
        x = ops_conv.to_channels_first(x)
    include = True if count_include_pad is None else bool(count_include_pad)
    kind = ops_pool.KINDS[pool_type]
    spec = _pool_spec(
        tuple(x.shape[2:]), kernel, stride, pad, kind, p, include, pooling_convention, global_pool
    )
    x5 = ops_conv.as5d(x)
    recording = autograd.is_recording()
    y5, index = ops_pool.forward(x5, spec, with_index=recording)
    y = y5.reshape(x.shape[:2] + spec.out[3 - nd :])
    if last:
        y = ops_conv.to_channels_last(y)
    result = type(data)(y, out_ctx(data._ctx))
    if recording:
        attrs = {"spec": spec, "channels_last": last, "index": index}
        autograd.record_op("Pooling", [data], result, attrs)
    return write_out(result, out)


def _nearest(x: Any, fy: int, fx: int) -> Any:
    """``x`` ``(N, C, H, W)`` with every pixel repeated ``fy`` x ``fx`` times (a new array)."""
    xp = backend.xp_of(x)
    n, c, h, w = x.shape
    big = xp.broadcast_to(x.reshape(n, c, h, 1, w, 1), (n, c, h, fy, w, fx))
    return big.reshape(n, c, h * fy, w * fx)


@on_device
def UpSampling(  # noqa: N802 - MXNet's name
    *data: NDArray,
    scale: int | None = None,
    num_filter: int = 0,
    sample_type: str | None = None,
    multi_input_mode: str = "concat",
    num_args: int = 1,
    workspace: int = 512,
    out: NDArray | None = None,
    **kwargs: Any,
) -> NDArray:
    """Upsample ``(N, C, H, W)`` inputs by ``scale``.

    ``sample_type='nearest'``: each input is scaled to the first one's ``(H*scale, W*scale)``
    (by repeating its pixels) and the results are concatenated along the channels
    (``multi_input_mode='concat'``) or summed ('sum'). ``'bilinear'``: ``data`` and a weight
    ``(C, 1, k, k)`` (``k = 2*scale - scale % 2``) make a grouped Deconvolution with stride
    ``scale`` and pad ``ceil((scale - 1) / 2)``, as in MXNet.

    Raises:
        MXNetError: a missing scale or sample type, data that is not 4-d, sizes the output
            size is not a multiple of, or channels that differ in 'sum' mode.
    """
    op = "UpSampling"
    if scale is None or sample_type is None:
        raise MXNetError(f"{op}: scale and sample_type are required arguments.")
    if sample_type not in ("bilinear", "nearest"):
        raise MXNetError(
            f"Invalid Input: '{sample_type}', valid values are: {{'bilinear', 'nearest'}}, in "
            f"operator {args.op_signature(op, sample_type=sample_type)}"
        )
    if sample_type == "bilinear":
        if len(data) != 2:
            raise MXNetError(f"{op}: bilinear upsampling takes the data and a weight.")
        k = 2 * scale - scale % 2
        p = -(-(scale - 1) // 2)
        c = data[0].shape[1]
        return Deconvolution(
            data[0], data[1], kernel=(k, k), stride=(scale, scale), pad=(p, p),
            num_filter=c, num_group=c, no_bias=True, out=out,
        )  # fmt: skip
    if multi_input_mode not in ("concat", "sum"):
        raise MXNetError(
            f"Invalid Input: '{multi_input_mode}', valid values are: {{'concat', 'sum'}}, in "
            f"operator {args.op_signature(op, multi_input_mode=multi_input_mode)}"
        )
    for arr in data:
        if arr.ndim != 4:
            raise MXNetError(
                f"UpSamplingNearest: Check failed: shape.ndim() == 4U ({arr.ndim} vs. 4) : Input "
                "data should be 4D in (batch, channel, y, x)."
            )
    same_ctx(op, *data)
    first = data[0]
    oh, ow = first.shape[2] * scale, first.shape[3] * scale
    factors = []
    for arr in data:
        h, w = arr.shape[2:]
        if oh % h or ow % w:
            raise MXNetError(
                f"{op}: an input of shape {arr.shape} cannot be scaled to {oh}x{ow} by an integer "
                "factor; use inputs whose sizes divide the first input's upsampled size."
            )
        factors.append((oh // h, ow // w))
    if multi_input_mode == "sum" and any(a.shape[1] != first.shape[1] for a in data):
        raise MXNetError(f"{op}: 'sum' mode needs inputs with the same number of channels.")
    xp = first._xp
    parts = [_nearest(as_raw(a, first), fy, fx) for a, (fy, fx) in zip(data, factors)]
    if len(parts) == 1:
        res = parts[0]
    elif multi_input_mode == "sum":
        res = parts[0]
        for part in parts[1:]:
            res = res + part
    else:
        res = xp.concatenate(parts, axis=1)
    result = type(first)(res, out_ctx(first._ctx))
    if autograd.is_recording():
        attrs = {"factors": factors, "mode": multi_input_mode}
        autograd.record_op("UpSampling", list(data), result, attrs)
    return write_out(result, out)
