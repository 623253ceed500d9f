"""Target shapes of ``reshape``: MXNet's legacy special codes and NumPy's rules.

Legacy ``NDArray.reshape`` codes (matched left to right, or right to left with ``reverse=True``):

* ``0`` copies this dimension of the input, ``-1`` infers one dimension from the rest,
* ``-2`` copies all remaining input dimensions, ``-3`` merges the next two input dimensions,
* ``-4, a, b`` splits the next input dimension into ``a * b`` (one of them may be -1).

In numpy mode only ``-1`` is special and 0 is a real size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mxlite.base import MXNetError

__all__ = ["legacy_target_shape", "numpy_target_shape"]


def _size(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _legacy_codes(src: tuple[int, ...], spec: tuple[int, ...]) -> list[int]:
    """Expand the special codes into a list with at most one -1 still to infer."""
    out: list[int] = []
    i = 0  # position in src
    j = 0  # position in spec
    while j < len(spec):
        code = spec[j]
        if code == 0:
            if i >= len(src):
                raise MXNetError(
                    f"reshape: code 0 at position {j} of {spec} has no matching input dimension "
                    f"in {src}"
                )
            out.append(src[i])
            i += 1
        elif code == -1:
            out.append(-1)
            i += 1
        elif code == -2:
            out.extend(src[i:])
            i = len(src)
        elif code == -3:
            if i + 1 >= len(src):
                raise MXNetError(f"reshape: code -3 in {spec} needs two input dimensions of {src}")
            out.append(src[i] * src[i + 1])
            i += 2
        elif code == -4:
            if j + 2 >= len(spec) or i >= len(src):
                raise MXNetError(
                    f"reshape: code -4 in {spec} needs two following values and an input dim"
                )
            a, b = spec[j + 1], spec[j + 2]
            if a == -1 and b == -1:
                raise MXNetError("reshape: -4 split with both parts -1 cannot be inferred")
            if a == -1:
                a = src[i] // b if b else 0
            if b == -1:
                b = src[i] // a if a else 0
            if a * b != src[i]:
                raise MXNetError(
                    f"reshape: -4 splits dimension {src[i]} of {src} into {a} x {b}, which does "
                    "not multiply back to it"
                )
            out.extend((a, b))
            i += 1
            j += 2
        elif code < -4:
            raise MXNetError(
                f"reshape: shape dim size must be >= -1 (or a special code -2, -3, -4), "
                f"got {code} in {spec}"
            )
        else:
            out.append(code)
            i += 1
        j += 1
    return out


def _infer(
    src: tuple[int, ...], out: list[int], spec: tuple[int, ...], size_msg: str
) -> tuple[int, ...]:
    """``out`` with its one -1 (if any) set so that the sizes of ``src`` and ``out`` agree.

    ``size_msg`` (fields ``total``, ``spec``) is the message when no size fits.
    """
    if out.count(-1) > 1:
        raise MXNetError(f"reshape: one and only one dim can be inferred, got {spec}")
    total = _size(src)
    if -1 in out:
        known = _size([d for d in out if d != -1])
        if known == 0 or total % known:
            raise MXNetError(size_msg.format(total=total, spec=spec))
        out[out.index(-1)] = total // known
    return tuple(out)


def legacy_target_shape(
    src: tuple[int, ...], spec: tuple[int, ...], reverse: bool = False
) -> tuple[int, ...]:
    """Resolve legacy reshape codes against ``src``.

    Raises:
        MXNetError: bad codes, more than one inferred dim, or a larger target than the input.
        ValueError: the target has fewer elements than the input (MXNet's Python-side check).
    """
    if reverse:
        out = _legacy_codes(tuple(reversed(src)), tuple(reversed(spec)))
        out.reverse()
    else:
        out = _legacy_codes(src, spec)
    target = _infer(
        src, out, spec, "reshape: cannot reshape array of size {total} into shape {spec}"
    )
    if _size(target) > _size(src):
        raise MXNetError(
            f"NDArray.Reshape: target shape {target} has {_size(target)} elements, more than "
            f"the {_size(src)} of the input shape {src}"
        )
    if _size(target) != _size(src):
        raise ValueError(f"Cannot reshape array of size {_size(src)} into shape {tuple(spec)}")
    return target


def numpy_target_shape(src: tuple[int, ...], spec: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy reshape: -1 infers one dimension; every other value is a size.

    Raises:
        MXNetError: negative sizes other than one -1, or a size mismatch.
    """
    for dim in spec:
        if dim < -1:
            raise MXNetError(
                f"reshape: the shape dimension size to infer must be -1, got {dim} in {spec}"
            )
    size_msg = "Cannot reshape array of size {total} into shape {spec}"
    target = _infer(src, list(spec), spec, size_msg)
    if _size(target) != _size(src):
        raise MXNetError(size_msg.format(total=_size(src), spec=spec))
    return target
