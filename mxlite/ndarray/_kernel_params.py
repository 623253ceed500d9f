"""Operator parameters as MXNet 1.9.1's C++ operators receive them.

MXNet's generated ``mx.nd`` functions hand every non-array argument to the operator as
``str(value)``; the operator's parameter struct parses it back with dmlc-core: ``float`` and
``double`` fields with dmlc's own ``ParseFloat`` (``dmlc/strtonum.h``), which is *not* always the
correctly rounded conversion, tuples (``lrs=(0.1, 0.2)``) with the C++ stream reader, which is.
:func:`dmlc_float` and :func:`dmlc_double` repeat dmlc's arithmetic step by step, so a kernel
here sees the very scalar MXNet's kernel sees (``0.1`` parses to ``float32(0.1)``, but
``3.5351853949780884e-05`` parses one float32 ulp below ``float32(3.5351853949780884e-05)``).

:class:`ParamSpec` checks an operator's keyword arguments against its field table and produces
MXNet's messages for a missing required field or an unknown argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mxlite.base import MXNetError

__all__ = ["REQUIRED", "ParamSpec", "dmlc_float", "dmlc_double", "float_tuple", "int_tuple"]

REQUIRED = object()  # marks a field without a default

_MAX_DIGITS = 19  # dmlc reads at most 19 digits after the decimal point
_U64 = (1 << 64) - 1

_MSG_REQUIRED = (
    'Required parameter {field} of {kind} is not presented, in operator {op}(name=""{given}). '
    "Pass {field}=... to {op}."
)
_MSG_UNKNOWN = (
    "Cannot find argument '{field}', Possible Arguments: {names}. Check the spelling; {op} takes "
    "these keyword arguments besides its input arrays."
)
_MSG_RANGE = (
    "Out of range value for {field}, value='{value}', in operator {op}. dmlc reads decimal "
    "exponents up to {limit} only; pass a value within the type's range."
)
_MSG_NOT_NUMBER = (
    "Invalid Parameter format for {field} expect {kind} but value='{value}', in operator {op}. "
    "Pass a number."
)


def _parse(text: str, ftype: Any) -> Any:
    """dmlc's ``ParseFloat<ftype>`` of ``text`` (float32 or float64 arithmetic), as a NumPy
    scalar of ``ftype``; ``None`` when ``text`` holds no number at all."""
    s = text.strip()
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    low = s.lower()
    if low.startswith("inf"):
        return ftype(sign * np.inf)
    if low.startswith("nan"):
        return ftype(np.nan)
    i = 0
    predec = 0
    while i < len(s) and s[i].isdigit():
        predec = (predec * 10 + int(s[i])) & _U64
        i += 1
    seen_digits = i > 0
    value = np.uint64(predec).astype(ftype)
    if i < len(s) and s[i] == ".":
        i += 1
        val2, pow10, count = 0, 1, 0
        while i < len(s) and s[i].isdigit():
            if count < _MAX_DIGITS:
                val2 = val2 * 10 + int(s[i])
                pow10 *= 10
            count += 1
            i += 1
        seen_digits = seen_digits or count > 0
        frac = np.float64(np.uint64(val2)) / np.float64(np.uint64(pow10))
        value = ftype(value + ftype(frac))
    if not seen_digits:
        return None
    if i < len(s) and s[i] in "eE":
        value = _scale(s[i + 1 :], value, ftype)
    return ftype(value if sign > 0 else -value)


def _scale(exp_text: str, value: Any, ftype: Any) -> Any:
    """The exponent part of dmlc's parser: ``value`` times or divided by ``10**e`` (the power
    built in ``ftype`` by multiplying 1e8 and 10), with dmlc's clipping at the largest exponent."""
    frac = exp_text[:1] == "-"
    if exp_text[:1] in "+-":
        exp_text = exp_text[1:]
    expon = 0
    for ch in exp_text:
        if not ch.isdigit():
            break
        expon = expon * 10 + int(ch)
    max_exp = 308 if ftype is np.float64 else 38
    max_sig = ftype(1.79769313486231570 if ftype is np.float64 else 3.402823466)
    min_sig = ftype(2.22507385850720139 if ftype is np.float64 else 1.175494351)
    if expon > max_exp or (
        expon == max_exp and ((not frac and value > max_sig) or (frac and value < min_sig))
    ):
        raise OverflowError(exp_text)  # dmlc's ERANGE: "Out of range value for ..."
    scale = ftype(1.0)
    while expon >= 8:
        scale = ftype(scale * ftype(1e8))
        expon -= 8
    while expon > 0:
        scale = ftype(scale * ftype(10.0))
        expon -= 1
    with np.errstate(all="ignore"):
        return ftype(value / scale) if frac else ftype(value * scale)


def _checked(value: Any, ftype: Any) -> Any:
    parsed = _parse(str(value), ftype)
    if parsed is None:
        raise ValueError(str(value))
    return parsed


def dmlc_float(value: Any) -> np.float32:
    """The float32 a ``float`` operator field holds after MXNet passed ``str(value)``.

    Raises:
        ValueError: ``str(value)`` does not start with a number.
        OverflowError: its decimal exponent is beyond float32's (dmlc's range check).
    """
    return _checked(value, np.float32)  # type: ignore[no-any-return]


def dmlc_double(value: Any) -> np.float64:
    """:func:`dmlc_float` for a ``double`` field (dmlc's parser in float64 arithmetic)."""
    return _checked(value, np.float64)  # type: ignore[no-any-return]


def _parse_int(value: Any) -> int:
    """An ``int`` field: ``str(value)`` must be a decimal integer (``2.0`` is refused, as by
    dmlc)."""
    text = str(value).strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit():
        raise ValueError(text)
    return int(text)


def _parse_bool(value: Any) -> bool:
    """A ``bool`` field: ``True``/``False`` (any case) or ``1``/``0``, from ``str(value)``."""
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(text)


def float_tuple(values: Any) -> np.ndarray:
    """A ``Tuple<float>`` field (``lrs=``, ``wds=``) as float32 values held in float64 (the C++
    stream reader rounds each decimal correctly); a scalar counts as a 1-tuple."""
    items = values if isinstance(values, (Sequence, np.ndarray)) else (values,)
    return np.array([np.float32(float(v)) for v in items], dtype=np.float64)


def int_tuple(values: Any) -> list[int]:
    """A ``Tuple<int>`` field (``step_count=``); a scalar counts as a 1-tuple."""
    items = values if isinstance(values, (Sequence, np.ndarray)) else (values,)
    return [int(v) for v in items]


class ParamSpec:
    """The parameter struct of one operator: field name -> (kind, default or ``REQUIRED``).

    ``kind`` is ``"float"`` (dmlc float32), ``"double"``, ``"int"``, ``"boolean"``,
    ``"tuple of <float>"`` or ``"tuple of <int>"`` (raw Python values, converted by the caller).

    Args:
        op: the operator's name, for messages.
        fields: ``{name: (kind, default)}`` in MXNet's declaration order.
    """

    def __init__(self, op: str, fields: dict[str, tuple[str, Any]]) -> None:
        self.op = op
        self.fields = fields

    def parse(self, given: dict[str, Any]) -> dict[str, Any]:
        """The fields' values from the keyword arguments ``given`` (``name`` and ``None`` values
        are ignored, as MXNet's front end drops them): floats as ``float`` values of the parsed
        float32/float64, ints as ``int``, booleans as ``bool``, tuples untouched.

        Raises:
            MXNetError: an unknown argument, a missing required field, or a non-number where a
                number is expected.
        """
        given = {k: v for k, v in given.items() if v is not None and k != "name"}
        for key in given:
            if key not in self.fields:
                names = ", ".join(self.fields)
                raise MXNetError(_MSG_UNKNOWN.format(field=key, names=names, op=self.op))
        out: dict[str, Any] = {}
        for key, (kind, default) in self.fields.items():
            if key not in given:
                if default is REQUIRED:
                    shown = "".join(f', {k}="{v}"' for k, v in given.items())
                    raise MXNetError(
                        _MSG_REQUIRED.format(field=key, kind=kind, op=self.op, given=shown)
                    )
                out[key] = float(np.float32(default)) if kind == "float" else default
                continue
            out[key] = self._convert(key, kind, given[key])
        return out

    def _convert(self, key: str, kind: str, value: Any) -> Any:
        try:
            if kind == "float":
                return float(dmlc_float(value))
            if kind == "double":
                return float(dmlc_double(value))
            if kind == "int":
                return _parse_int(value)
            if kind == "boolean":
                return _parse_bool(value)
        except OverflowError as err:
            limit = 308 if kind == "double" else 38
            msg = _MSG_RANGE.format(field=key, value=value, op=self.op, limit=limit)
            raise MXNetError(msg) from err
        except (TypeError, ValueError) as err:
            msg = _MSG_NOT_NUMBER.format(field=key, kind=kind, value=value, op=self.op)
            raise MXNetError(msg) from err
        return value
