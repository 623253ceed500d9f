"""Small helpers of ``mx.gluon.utils``: text layout, shape checks, hook handles.

``download``, ``check_sha1`` and ``replace_file`` live in :mod:`mxlite.gluon._download`. The
data-parallel helpers (``split_data``, ``split_and_load``, ``clip_global_norm``) live in
:mod:`mxlite.gluon.data_parallel` and are re-exported here under MXNet's names.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from mxlite.base import CheckError
from mxlite.gluon._download import (
    _get_repo_file_url,
    _get_repo_url,
    check_sha1,
    download,
    replace_file,
)
from mxlite.gluon.data_parallel import clip_global_norm, split_and_load, split_data
from mxlite.util import is_np_shape

__all__ = [
    "HookHandle",
    "shape_is_known",
    "split_data",
    "split_and_load",
    "clip_global_norm",
    "check_sha1",
    "download",
    "replace_file",
    "_get_repo_url",
    "_get_repo_file_url",
]


def _indent(text: str, num_spaces: int) -> str:
    """Indent every line of ``text`` but the first by ``num_spaces`` spaces (MXNet's layout)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * num_spaces
    return "\n".join([lines[0]] + [pad + line for line in lines[1:]])


def _brief_print_list(items: Iterable[Any], limit: int = 7) -> str:
    """Quote at most ``limit`` items, eliding the middle: ``'a', 'b', ..., 'y', 'z'``."""
    lst = list(items)
    if len(lst) > limit:
        head = _brief_print_list(lst[: limit // 2], limit)
        tail = _brief_print_list(lst[-limit // 2 :], limit)
        return head + ", ..., " + tail
    return ", ".join(f"'{item}'" for item in lst)


def shape_is_known(shape: Any) -> bool:
    """Whether every dimension of ``shape`` is known.

    Unknown dimensions are 0 in legacy mode and -1 under NumPy shape semantics
    (``npx.set_np()``); ``None`` is an unknown shape. A 0-d shape ``()`` is known only under
    NumPy semantics (in legacy mode it means "unknown rank").

    Raises:
        CheckError: a dimension is below the unknown marker (for example -2).
    """
    if shape is None:
        return False
    unknown = -1 if is_np_shape() else 0
    if len(shape) == 0:
        return unknown == -1
    for dim in shape:
        if dim == unknown:
            return False
        if dim < unknown:
            raise CheckError(
                f"shape dimension size cannot be less than {unknown}, while received {dim}"
            )
    return True


class HookHandle:
    """A handle that attaches a hook to a block's hook dictionary and detaches it again.

    Usable as a context manager: the hook is detached on exit.
    """

    def __init__(self) -> None:
        self._hooks_dict_ref: weakref.ref[OrderedDict[int, Any]] | None = None
        self._id: int | None = None

    def attach(self, hooks_dict: OrderedDict[int, Any], hook: Callable[..., Any]) -> None:
        """Register ``hook`` in ``hooks_dict``.

        Raises:
            CheckError: this handle is already attached.
        """
        if self._hooks_dict_ref is not None:
            raise CheckError("The same handle cannot be attached twice.")
        self._id = id(hook)
        hooks_dict[self._id] = hook
        self._hooks_dict_ref = weakref.ref(hooks_dict)

    def detach(self) -> None:
        """Remove the hook (no-op when it is gone already)."""
        if self._hooks_dict_ref is None:
            return
        hooks_dict = self._hooks_dict_ref()
        if hooks_dict is not None and self._id is not None and self._id in hooks_dict:
            del hooks_dict[self._id]

    def __enter__(self) -> HookHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()
