"""Batchify functions: how a DataLoader merges a list of samples into one batch.

* :func:`default_batchify_fn` / :func:`default_mp_batchify_fn` are MXNet 1.9.1's defaults
  (``mxnet.gluon.data.dataloader``): NDArray samples are stacked, tuple samples are batchified
  field by field into a list, anything else goes through ``np.asarray`` and keeps its dtype
  (Python ints give int64, floats float64). The ``_mp_`` variant puts the batch on
  ``cpu_shared(0)``, as MXNet's worker processes do.
* ``Stack``, ``Pad``, ``Append``, ``Group`` and ``AsList`` follow ``mxnet.gluon.data.batchify``
  of later MXNet releases (MXNet 1.9.1 has no such module); ``Tuple`` and ``List`` are
  GluonNLP's names for ``Group`` and ``AsList``.

Stacking works on the raw host arrays (one ``np.stack``) and wraps the result; samples that
live on a GPU are stacked there with ``mx.nd.stack``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mxlite import backend
from mxlite.base import CheckError
from mxlite.context import Context, current_context
from mxlite.ndarray.ndarray import NDArray, out_ctx
from mxlite.util import is_np_array

__all__ = [
    "default_batchify_fn",
    "default_mp_batchify_fn",
    "Stack",
    "Pad",
    "Append",
    "Group",
    "Tuple",
    "AsList",
    "List",
]

_SHARED = Context("cpu_shared", 0)
_MSG_PAD_MULTI = "Pad() does not support multiple items, use Group(Pad(), Pad(), ...) instead"
_MSG_PAD_NDARRAY = (
    "Using Pad with NDArrays is discouraged for speed reasons. Instead you should pad your data "
    "while it is still a list and before converting to an NDArray. Alternatively you can "
    "consider inputting a numpy.ndarray."
)


def _array_class() -> type[NDArray]:
    """The front-end class new batches get: ``mx.np.ndarray`` under ``npx.set_np()``."""
    if is_np_array():
        from mxlite.numpy.multiarray import ndarray as np_ndarray

        return np_ndarray
    return NDArray


def host_to_batch(host: np.ndarray, ctx: Context | None, cls: type[NDArray] | None = None) -> Any:
    """Wrap a freshly made host array as a batch on ``ctx`` (the current context when None).

    The host array is wrapped without a copy on host contexts and copied to a GPU context.
    """
    ctx = current_context() if ctx is None else ctx
    cls = _array_class() if cls is None else cls
    if not ctx.is_gpu:
        return cls(np.ascontiguousarray(host), ctx)
    return cls(backend.to_ctx(host, ctx), ctx)


def stack_arrays(items: Sequence[NDArray], ctx: Context | None = None) -> NDArray:
    """Stack same-shaped NDArrays along a new first axis.

    Host arrays are stacked with one ``np.stack`` into a new array on ``ctx`` (default: the
    first item's context, ``cpu(i)`` for pinned/shared ones); arrays on a GPU go through
    ``mx.nd.stack`` (which also raises MXNet's error for a mix of devices).

    Raises:
        CheckError: the items' shapes differ.
    """
    first = items[0]
    shape = first.shape
    for i, item in enumerate(items):
        if not isinstance(item, NDArray) or item.shape != shape:
            got = item.shape if isinstance(item, NDArray) else type(item).__name__
            raise CheckError(
                f"cannot stack samples of different shapes: sample 0 has shape {shape} but "
                f"sample {i} has {got}. Pad them (gluon.data.batchify.Pad) or pass a "
                "batchify_fn that handles them."
            )
    cls = type(first)
    if all(type(item._data) is np.ndarray for item in items):
        target = out_ctx(first.context) if ctx is None else ctx
        return host_to_batch(np.stack([item._data for item in items]), target, cls)
    from mxlite.ndarray import op

    out = op.stack(*items)
    return out if ctx is None else out.as_in_context(ctx)


def _asarray_batch(data: Sequence[Any], ctx: Context | None) -> Any:
    host = np.asarray(data)
    if host.dtype.kind in "OUSV":
        raise TypeError(
            f"cannot batchify samples of type {type(data[0]).__name__} into an array (NumPy "
            f"makes dtype {host.dtype} of them). Pass a batchify_fn that handles them, for "
            "example gluon.data.batchify.AsList()."
        )
    return host_to_batch(host, ctx)


def _batchify(data: Sequence[Any], ctx: Context | None) -> Any:
    if len(data) == 0:
        raise ValueError("cannot batchify an empty list of samples")
    if isinstance(data[0], NDArray):
        return stack_arrays(data, ctx)
    if isinstance(data[0], tuple):
        return [_batchify(field, ctx) for field in zip(*data)]
    return _asarray_batch(data, ctx)


def default_batchify_fn(data: Sequence[Any]) -> Any:
    """MXNet's default: stack NDArray samples, batchify tuple samples field by field (a list),
    and turn anything else into an array of ``np.asarray(data)``'s dtype on the current context.
    """
    return _batchify(data, None)


def default_mp_batchify_fn(data: Sequence[Any]) -> Any:
    """:func:`default_batchify_fn` with every array on ``cpu_shared(0)``, as MXNet's workers make
    them (the default when ``num_workers > 0``)."""
    return _batchify(data, _SHARED)


def _target(use_shared_mem: bool) -> Context | None:
    return _SHARED if use_shared_mem else None


class Stack:
    """Stack samples of one shape into a batch (lists and NumPy arrays through ``np.asarray``,
    keeping their dtype; NDArrays keeping theirs); tuple samples give a list of batches, one per
    field.

    Args:
        use_shared_mem: put the batch on ``cpu_shared(0)``.
    """

    def __init__(self, use_shared_mem: bool = False) -> None:
        self._use_shared_mem = use_shared_mem

    def __call__(self, data: Sequence[Any]) -> Any:
        ctx = _target(self._use_shared_mem)
        if isinstance(data[0], NDArray):
            return stack_arrays(data, ctx)
        if isinstance(data[0], tuple):
            return [self(list(field)) for field in zip(*data)]
        return _asarray_batch(data, ctx)


def _host_arrays(arrs: Sequence[Any], dtype: Any) -> tuple[list[np.ndarray], Any]:
    """The samples as NumPy arrays and the batch dtype (``dtype``, else the samples')."""
    if isinstance(arrs[0], NDArray):
        return [a.asnumpy() for a in arrs], (arrs[0].dtype if dtype is None else dtype)
    if not isinstance(arrs[0], np.ndarray):
        hosts = [np.asarray(a) for a in arrs]
        return hosts, (hosts[0].dtype if dtype is None else dtype)
    return [np.asarray(a) for a in arrs], (arrs[0].dtype if dtype is None else dtype)


def pad_arrays(
    arrs: Sequence[Any], pad_val: Any, dtype: Any = None, round_to: int | None = None
) -> np.ndarray:
    """Pad samples to the largest size on every axis and stack them (NumPy result).

    Args:
        arrs: NDArrays, NumPy arrays or (nested) lists, all of one rank.
        pad_val: the fill value.
        dtype: the result's dtype (default: the first sample's).
        round_to: round every padded size up to a multiple of this.

    Raises:
        CheckError: the samples have different ranks.
    """
    hosts, out_dtype = _host_arrays(arrs, dtype)
    ndim = hosts[0].ndim
    for i, arr in enumerate(hosts):
        if arr.ndim != ndim:
            raise CheckError(
                f"Pad: sample 0 has {ndim} dimension(s) but sample {i} has {arr.ndim}; every "
                "sample must have the same number of dimensions."
            )
    shape = []
    for axis in range(ndim):
        size = max(arr.shape[axis] for arr in hosts)
        if round_to is not None:
            size = round_to * math.ceil(size / round_to)
        shape.append(size)
    out = np.full((len(hosts), *shape), pad_val, dtype=out_dtype)
    for i, arr in enumerate(hosts):
        region: tuple[Any, ...] = (i, *(slice(0, n) for n in arr.shape))
        out[region] = arr
    return out


class Pad:
    """Pad samples to the largest size on every axis, then stack them.

    Each sample is one NDArray, NumPy array or list (of numbers or nested lists).

    Args:
        val: the padding value (0 when None).
        dtype: the batch's dtype (default: the samples').
        round_to: round each padded size up to a multiple of this.
        use_shared_mem: put the batch on ``cpu_shared(0)``.

    Example::

        >>> Pad(val=-1)([[1, 2, 3], [4]])      # [[1, 2, 3], [4, -1, -1]], int64
    """

    def __init__(
        self,
        val: Any = None,
        dtype: Any = None,
        round_to: int | None = None,
        use_shared_mem: bool = False,
    ) -> None:
        self._pad_val = 0 if val is None else val
        self._dtype = dtype
        self._warned = False
        self._round_to = round_to
        self._use_shared_mem = use_shared_mem

    def __call__(self, data: Sequence[Any]) -> Any:
        if isinstance(data[0], NDArray) and not self._warned:
            self._warned = True
            warnings.warn(_MSG_PAD_NDARRAY, stacklevel=2)
        if not isinstance(data[0], (NDArray, np.ndarray, list)):
            raise NotImplementedError(_MSG_PAD_MULTI)
        out = pad_arrays(data, self._pad_val, self._dtype, self._round_to)
        ctx = _SHARED if self._use_shared_mem else Context("cpu", 0)
        return host_to_batch(out, ctx)


class Append:
    """Keep samples apart: a list of arrays, each with a new batch axis when ``expand``.

    Args:
        expand: add a batch axis of size 1 at ``batch_axis`` to each sample.
        batch_axis: where that axis goes.
        use_shared_mem: put the arrays on ``cpu_shared(0)``.
    """

    def __init__(self, expand: bool = True, batch_axis: int = 0, use_shared_mem: bool = False):
        self._expand = expand
        self._batch_axis = batch_axis
        self._use_shared_mem = use_shared_mem

    def __call__(self, data: Sequence[Any]) -> list[Any]:
        from mxlite.ndarray import creation

        ctx = _target(self._use_shared_mem)
        out = []
        for x in data:
            if isinstance(x, NDArray):
                arr = x if ctx is None else x.as_in_context(ctx)
            else:
                arr = creation.array(x, ctx=ctx)
            out.append(arr.expand_dims(axis=self._batch_axis) if self._expand else arr)
        return out


class Group:
    """Apply the i-th batchify function to the i-th field of every sample; returns a tuple.

    ``Group(A, B)``, ``Group([A, B])`` and ``Group((A, B))`` are the same.

    Raises:
        CheckError: a function is not callable, or the input pattern is not understood; when
            called, a sample has another number of fields than there are functions.
    """

    def __init__(self, fn: Any, *args: Callable[[Sequence[Any]], Any]) -> None:
        if isinstance(fn, (list, tuple)):
            if args:
                raise CheckError(
                    "Input pattern not understood. The input of Group can be Group(A, B, C) or "
                    f"Group([A, B, C]) or Group((A, B, C)). Received fn={fn}, args={args}"
                )
            self._fn = tuple(fn)
        else:
            self._fn = (fn, *args)
        for i, ele_fn in enumerate(self._fn):
            if not callable(ele_fn):
                raise CheckError(
                    f"Batchify functions must be callable! type(fn[{i}]) = {type(ele_fn)}"
                )

    def __call__(self, data: Sequence[Any]) -> tuple[Any, ...]:
        for j, sample in enumerate(data):
            if len(sample) != len(self._fn):
                raise CheckError(
                    "The number of attributes in each data sample should contains "
                    f"{len(self._fn)} elements (sample {j} has {len(sample)})"
                )
        return tuple(ele_fn([ele[i] for ele in data]) for i, ele_fn in enumerate(self._fn))


Tuple = Group


class AsList:
    """Return the samples as a plain list (for text or other non-array fields)."""

    def __call__(self, data: Sequence[Any]) -> list[Any]:
        return list(data)


List = AsList
