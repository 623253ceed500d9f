"""Checks of an optimizer and its states decoded from a states file, before anything is replaced.

``Optimizer.__setstate__`` takes any dict, so a damaged entry (``lr: "x"``, a list where a dict
belongs, attributes missing) would load without complaint, replace the working optimizer and
make every later step fail. :func:`check_optimizer` therefore checks every attribute the class
uses, by type and range, and :func:`check_states` the per-index states, raising
:class:`~mxlite.base.ParamFileError` that names the entry. The attributes of ``Optimizer`` itself
are listed here; those of a built-in optimizer class are the ones a default instance saves
(``__getstate__``), with the kind of its default value (a bool stays a bool, a number a finite real,
...). Classes defined outside mxlite are only held to the ``Optimizer`` base attributes (their
``__init__`` is never run to learn more).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mxlite.base import ParamFileError
from mxlite.lr_scheduler import LRScheduler
from mxlite.ndarray.ndarray import NDArray

__all__ = ["check_optimizer", "check_states", "check_scheduler", "is_table_key"]

_MSG_BAD = (
    "Damaged optimizer states: {where} is {value} (expected {expected}). Nothing was loaded: "
    "the working optimizer and its states are unchanged."
)
_MSG_MISSING = (
    "Damaged optimizer states: {where} is missing (every {cls} has it). Nothing was loaded: "
    "the working optimizer and its states are unchanged."
)
_WARMUP_MODES = ("linear", "constant")


def _show(value: Any) -> str:
    text = repr(value)
    return (text[:60] + "...") if len(text) > 60 else text


def _is_real(v: Any) -> bool:
    """An int or float (not a bool). Non-finite values pass: an optimizer made with
    ``rescale_grad=inf`` saves and loads as it was."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_key(v: Any) -> bool:
    """A parameter index or name (what lr_mult, wd_mult, idx2name and the counts are keyed by)."""
    return (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, str)


def is_table_key(v: Any) -> bool:
    """An update-count table's key: a device id, or a tuple of ints (see Updater.count_key)."""
    if isinstance(v, tuple):
        return all(isinstance(x, int) and not isinstance(x, bool) for x in v)
    return isinstance(v, int) and not isinstance(v, bool)


def _dict_of(key: Callable[[Any], bool], value: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def check(v: Any) -> bool:
        return isinstance(v, dict) and all(key(k) and value(x) for k, x in v.items())

    return check


def _is_counts(v: Any) -> bool:
    return _dict_of(_is_key, _is_count)(v)


_REAL = "a real number"
_COUNT = "an int >= 0"
# What every Optimizer has (Optimizer.__init__ and __getstate__), with its check.
_BASE: dict[str, tuple[Callable[[Any], bool], str]] = {
    "rescale_grad": (_is_real, _REAL),
    "wd": (_is_real, _REAL),
    "clip_gradient": (lambda v: v is None or _is_real(v), f"None or {_REAL}"),
    "lr_mult": (_dict_of(_is_key, _is_real), "a dict of parameter index or name -> real"),
    "wd_mult": (_dict_of(_is_key, _is_real), "a dict of parameter index or name -> real"),
    "begin_num_update": (_is_count, _COUNT),
    "num_update": (_is_count, _COUNT),
    "_all_index_update_counts": (
        _dict_of(is_table_key, _is_counts),
        "a dict of device key -> dict of parameter index -> int >= 0",
    ),
    "_index_update_count": (_is_counts, "a dict of parameter index -> int >= 0"),
    "multi_precision": (lambda v: isinstance(v, bool), "a bool"),
    "aggregate_num": (_is_count, _COUNT),
    "idx2name": (_dict_of(_is_key, lambda v: isinstance(v, str)), "a dict of index -> str"),
    "sym_info": (lambda v: isinstance(v, tuple), "a tuple"),
    "allow_np_array": (lambda v: isinstance(v, bool), "a bool"),
}
_SCHEDULER_BASE: dict[str, tuple[Callable[[Any], bool], str]] = {
    "base_lr": (_is_real, _REAL),
    "warmup_steps": (_is_count, _COUNT),
    "warmup_begin_lr": (_is_real, _REAL),
    "warmup_final_lr": (_is_real, _REAL),
    "warmup_mode": (lambda v: v in _WARMUP_MODES, "'linear' or 'constant'"),
}


def _kind_check(default: Any) -> tuple[Callable[[Any], bool], str] | None:
    """The check for an attribute whose default value is ``default`` (None: anything goes)."""
    if isinstance(default, bool):
        return (lambda v: isinstance(v, bool)), "a bool"
    if isinstance(default, (int, float)):
        return _is_real, _REAL
    if default is None:
        return (lambda v: v is None or _is_real(v)), f"None or {_REAL}"
    if isinstance(default, str):
        return (lambda v: isinstance(v, str)), "a str"
    for kind in (dict, tuple, list):
        if isinstance(default, kind):
            return (lambda v, kind=kind: isinstance(v, kind)), f"a {kind.__name__}"
    return None


_CLASS_CHECKS: dict[type, dict[str, tuple[Callable[[Any], bool], str]]] = {}


def _class_checks(cls: type) -> dict[str, tuple[Callable[[Any], bool], str]]:
    """Checks of the attributes a default instance of the built-in optimizer ``cls`` has beyond
    the base ones; empty for classes defined outside mxlite."""
    checks = _CLASS_CHECKS.get(cls)
    if checks is not None:
        return checks
    checks = {}
    if cls.__module__.startswith("mxlite."):
        try:
            default = cls().__getstate__()  # what a states file holds of it
        except Exception:  # noqa: BLE001 - a class that needs arguments: base checks only
            default = {}
        for name, value in default.items():
            check = _kind_check(value)
            if name not in _BASE and name not in ("lr", "lr_scheduler") and check is not None:
                if not name.startswith("_"):
                    checks[name] = check
    _CLASS_CHECKS[cls] = checks
    return checks


def _bad(where: str, value: Any, expected: str) -> ParamFileError:
    return ParamFileError(_MSG_BAD.format(where=where, value=_show(value), expected=expected))


def check_scheduler(sched: Any, where: str) -> None:
    """Check a decoded learning-rate scheduler (``where`` names it in messages).

    Raises:
        ParamFileError: it is no LRScheduler, or an attribute has the wrong type or range.
    """
    if not isinstance(sched, LRScheduler):
        raise _bad(where, sched, "None or an LRScheduler")
    attrs = vars(sched)
    name = type(sched).__name__
    for attr, (ok, expected) in _SCHEDULER_BASE.items():
        if attr not in attrs:
            raise ParamFileError(_MSG_MISSING.format(where=f"{where}.{attr}", cls=name))
        if not ok(attrs[attr]):
            raise _bad(f"{where} attribute {attr!r}", attrs[attr], expected)
    if not type(sched).__module__.startswith("mxlite."):
        return
    for attr, value in attrs.items():  # built-in schedulers hold numbers and lists of them
        if attr in _SCHEDULER_BASE:
            continue
        if not (_is_real(value) or (isinstance(value, list) and all(map(_is_real, value)))):
            raise _bad(f"{where} attribute {attr!r}", value, f"{_REAL} or a list of them")


def check_optimizer(cls: type, attrs: dict[str, Any], where: str) -> None:
    """Check the attributes ``attrs`` decoded for an optimizer of class ``cls``.

    Raises:
        ParamFileError: an attribute is missing or has the wrong type or range.
    """
    name = cls.__name__
    for attr, (ok, expected) in _BASE.items():
        if attr not in attrs:
            raise ParamFileError(_MSG_MISSING.format(where=f"{where} attribute {attr!r}", cls=name))
        if not ok(attrs[attr]):
            raise _bad(f"{where} attribute {attr!r}", attrs[attr], expected)
    for attr in ("lr", "lr_scheduler"):
        if attr not in attrs:
            raise ParamFileError(_MSG_MISSING.format(where=f"{where} attribute {attr!r}", cls=name))
    sched = attrs["lr_scheduler"]
    if sched is not None:
        check_scheduler(sched, f"{where} attribute 'lr_scheduler'")
    lr = attrs["lr"]
    if not (_is_real(lr) or (lr is None and sched is not None)):
        expected = _REAL if sched is None else f"{_REAL} or None"
        raise _bad(f"{where} attribute 'lr'", lr, expected)
    for attr, (ok, expected) in _class_checks(cls).items():
        if attr not in attrs:
            raise ParamFileError(_MSG_MISSING.format(where=f"{where} attribute {attr!r}", cls=name))
        if not ok(attrs[attr]):
            raise _bad(f"{where} attribute {attr!r}", attrs[attr], expected)


def _is_state(value: Any) -> bool:
    if value is None or isinstance(value, NDArray):
        return True
    return isinstance(value, (tuple, list)) and all(map(_is_state, value))


def check_states(states: Any, builtin: bool) -> None:
    """Check decoded per-index states: a dict keyed by parameter index or name; with a built-in
    optimizer, each value None, an NDArray, or tuples/lists of those.

    Raises:
        ParamFileError: the states are not such a dict.
    """
    if not isinstance(states, dict):
        raise _bad("the states", states, "a dict of parameter index -> state")
    for key, value in states.items():
        if not _is_key(key):
            raise _bad(f"the state key {_show(key)}", key, "a parameter index (int) or name")
        if builtin and not _is_state(value):
            raise _bad(f"the state of {key!r}", value, "None, an NDArray, or tuples of them")
