"""``gluon.ParameterDict``: an ordered, prefixed dictionary of Parameters.

Semantics, defaults and messages follow MXNet 1.9.1 (where MXNet asserts, mxlite raises
:class:`~mxlite.base.CheckError` with the same text). Every method checks all its inputs before it
changes anything: a failed ``get``, ``update``, ``save`` or ``load`` leaves the dictionary, its
Parameters and the target file as they were.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import ItemsView, Iterator, KeysView, Sequence, ValuesView
from typing import Any

import numpy as np

from mxlite import initializer
from mxlite.base import CheckError
from mxlite.context import Context
from mxlite.gluon import (
    _grad_cache,
    _lazy_load,
    _param_checks,
    _param_init,
    _param_io,
    _replica_reduce,
)
from mxlite.gluon.constant import Constant
from mxlite.gluon.parameter import DEFAULT_INIT, Parameter, _pause
from mxlite.gluon.utils import _brief_print_list, _indent
from mxlite.ndarray.ndarray import NDArray

__all__ = ["ParameterDict"]

_NAMING_URL = "https://mxnet.io/api/python/docs/tutorials/packages/gluon/blocks/naming.html"
_MSG_ATTR_MISMATCH = (
    "Cannot retrieve Parameter '{name}' because desired attribute does not match with stored for "
    "attribute '{attr}': desired '{desired}' vs stored '{stored}'."
)
_MSG_STRIP = (
    "Prefix '{prefix}' is to be striped before saving, but Parameter's name '{name}' does not "
    "start with '{prefix}'. this may be due to your Block shares parameters from other Blocks or "
    "you forgot to use 'with name_scope()' when creating child blocks. For more info on naming, "
    "please see " + _NAMING_URL
)
_MSG_RESTORE = (
    "restore_prefix is '{prefix}' but Parameters name '{name}' does not start with '{prefix}'. "
    "For more info on naming, please see " + _NAMING_URL
)
_MSG_MISSING = (
    "Parameter '{name}' is missing in {where}, which contains parameters: {names}. Please make "
    "sure source and target networks have the same prefix.For more info on naming, please see "
    + _NAMING_URL
)
_MSG_EXTRA = (
    "Parameter '{name}' loaded from {where} is not present in ParameterDict, choices are: "
    "{names}. Set ignore_extra to True to ignore. Please make sure source and target networks "
    "have the same prefix.For more info on naming, please see " + _NAMING_URL
)


def _merge_shapes(desired: Sequence[int], stored: Sequence[int]) -> tuple[int, ...] | None:
    """The shape agreeing with both (unknown dims are 0 or -1), or None when they conflict."""
    merged = []
    for want, have in zip(desired, stored):
        if want != have and want > 0 and have > 0:
            return None
        if want == have or want in (0, -1):
            merged.append(have)
        else:
            merged.append(want)
    return tuple(merged)


class ParameterDict:
    """A dictionary managing a set of Parameters.

    Args:
        prefix: prepended to the names of Parameters created by :meth:`get`.
        shared: when :meth:`get` creates a Parameter it first looks here; used to share
            parameters with another Block.
    """

    def __init__(self, prefix: str = "", shared: ParameterDict | None = None) -> None:
        self._prefix = prefix
        self._params: OrderedDict[str, Parameter] = OrderedDict()
        self._shared = shared
        # Bumped whenever a Parameter is added: with len() and the global generation it tells
        # whether the cached zero_grad plans still cover exactly this dict's gradients.
        self._version = 0
        self._zero_cache: tuple[_grad_cache.ZeroGradCache, int, int] | None = None

    def __repr__(self) -> str:
        name = self._prefix + " " if self._prefix else ""
        content = "\n".join(_indent(f"  {v}", 2) for v in self.values())
        return f"{name}(\n{content}\n)"

    def __getitem__(self, key: str) -> Parameter:
        return self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def items(self) -> ItemsView[str, Parameter]:
        return self._params.items()

    def keys(self) -> KeysView[str]:
        return self._params.keys()

    def values(self) -> ValuesView[Parameter]:
        return self._params.values()

    @property
    def prefix(self) -> str:
        """Prefix of this dict, prepended to the names of Parameters created by :meth:`get`."""
        return self._prefix

    def _get_impl(self, name: str) -> Parameter | None:
        if name in self._params:
            return self._params[name]
        if self._shared is not None and name in self._shared._params:
            self._params[name] = self._shared._params[name]
            self._version += 1
            return self._shared._params[name]
        return None

    def get(self, name: str, **kwargs: Any) -> Parameter:
        """The Parameter ``prefix + name``: found here, else in ``shared``, else created.

        For an existing Parameter every keyword must agree with the stored attribute: shapes
        merge when their unknown (0 or -1) dimensions fill each other, dtypes compare as NumPy
        dtypes, attributes stored as None are set.

        Args:
            name: name without this dict's prefix.
            **kwargs: the :class:`Parameter` constructor's keyword arguments.

        Raises:
            CheckError: an attribute conflicts with the stored Parameter's.
        """
        name = self.prefix + name
        param = self._get_impl(name)
        if param is None:
            param = Parameter(name, **kwargs)
            self._params[name] = param
            self._version += 1
            return param
        updates: list[tuple[str, Any]] = []
        for key, value in kwargs.items():
            if hasattr(param, key) and getattr(param, key) is not None:
                existing = getattr(param, key)
                if key == "shape" and value is not None:
                    value = (value,) if isinstance(value, int) else tuple(value)
                    if len(value) == len(existing):
                        merged = _merge_shapes(value, existing)
                        if merged is not None:
                            updates.append(("_shape", merged))
                            continue
                elif key == "dtype" and value is not None and np.dtype(value) == np.dtype(existing):
                    continue
                if value is not None and value != existing:
                    raise CheckError(
                        _MSG_ATTR_MISMATCH.format(
                            name=name, attr=key, desired=str(value), stored=str(existing)
                        )
                    )
            else:
                updates.append((key, value))
        for key, value in updates:
            setattr(param, key, value)
        return param

    def get_constant(self, name: str, value: Any = None) -> Constant:
        """The Constant ``prefix + name``: found here, else in ``shared``, else created from
        ``value``.

        Raises:
            KeyError: no such constant and no ``value`` to create it.
            CheckError: the name belongs to a non-constant Parameter, or ``value`` differs from
                the stored value.
        """
        name = self.prefix + name
        param = self._get_impl(name)
        if param is None:
            if value is None:
                raise KeyError(
                    f"No constant named '{name}'. Please specify value if you want to create a "
                    "new constant."
                )
            param = Constant(name, value)
            self._params[name] = param
            self._version += 1
        elif value is not None:
            if not isinstance(param, Constant):
                raise CheckError(f"Parameter '{name}' already exists but it is not a constant.")
            new = value.asnumpy() if isinstance(value, NDArray) else np.asarray(value)
            old = param.value.asnumpy()
            if old.shape != new.shape or not (old == new).all():
                raise CheckError(
                    f"Constant '{name}' already exists but it's value doesn't match new value"
                )
        return param  # type: ignore[return-value]

    def update(self, other: Any) -> None:
        """Copy all Parameters of ``other`` (a ParameterDict or dict) into self.

        Raises:
            CheckError: a name is bound to a different Parameter here.
        """
        for key, value in other.items():
            if key in self._params and self._params[key] is not value:
                raise CheckError(
                    "Cannot update self with other because they have different Parameters with "
                    f"the same name '{key}'"
                )
        for key, value in other.items():
            self._params[key] = value
        self._version += 1

    def initialize(
        self,
        init: Any = DEFAULT_INIT,
        ctx: Context | Sequence[Context] | None = None,
        verbose: bool = False,
        force_reinit: bool = False,
    ) -> None:
        """Initialize every Parameter (deferring those whose shape is still unknown).

        Args:
            init: default initializer for Parameters whose own ``init`` is None.
            ctx: a Context or a list of them; one replica per context.
            verbose: log each initialization (``init.set_verbosity(True)``).
            force_reinit: re-initialize Parameters that are initialized already.
        """
        if verbose:
            if init is DEFAULT_INIT:  # never make the shared default verbose for later calls
                init = initializer.Uniform()
            init.set_verbosity(verbose=verbose)
        ctx_list = _param_checks.as_ctx_list(ctx)  # resolved once: the same for every Parameter
        jobs, params = [], []
        with _param_init.collector_paused():
            for param in self.values():
                job = _param_init.start(
                    param, None, ctx_list, init, force_reinit, stacklevel=3, ctx_checked=True
                )
                if job is not None:
                    jobs.append(job)
                    params.append(param)
            if jobs:
                _param_init.run(jobs, params)

    def zero_grad(self) -> None:
        """Set every gradient buffer to 0: one kernel launch per device, whatever the dtypes.

        The launch tables are built on the first call and reused until a gradient buffer is
        (re)allocated (``initialize``, ``reset_ctx``, ``grad_req`` changes, ``cast``, ...) or a
        Parameter is added: an unchanged dict costs a few comparisons plus the launches (see
        :mod:`mxlite.gluon._grad_cache`). Buffers are zeroed in place, never released.

        Raises:
            MXNetError: a gradient is not floating-point (as MXNet's ``reset_arrays``) and numpy
                mode is off; nothing is zeroed then.
        """
        held = self._zero_cache
        if (
            held is not None
            and held[1] == self._version
            and held[2] == len(self._params)
            and held[0].run()  # False when stale (a buffer was reallocated): rebuild
        ):
            return
        cache, plans = _grad_cache.lookup(tuple(self._params.values()))
        self._zero_cache = (cache, self._version, len(self._params))
        cache.run(plans)

    def reset_ctx(self, ctx: Context | Sequence[Context] | None) -> None:
        """Move every Parameter to ``ctx`` (replicas are averaged first).

        All Parameters are averaged and re-placed together (one averaging launch per device,
        one staged batch across the host boundary; see :mod:`mxlite.gluon._replica_reduce`).

        Raises:
            ValueError: a Parameter was never initialized; no Parameter is moved then.
        """
        ctx_list = _param_checks.as_ctx_list(ctx)
        params = list({id(p): p for p in self.values()}.values())
        for param in params:
            param._check_resettable()
        ready = [p for p in params if p._data]
        with _pause():
            _replica_reduce.reset_ctx_many(ready, ctx_list)
        for param in params:
            if not param._data:
                param._reset_deferred_ctx(ctx_list)

    def list_ctx(self) -> list[Context]:
        """All contexts on which the Parameters are (or will be) initialized."""
        seen: dict[Context, None] = {}
        for param in self.values():
            for ctx in param.list_ctx():
                seen.setdefault(ctx, None)
        return list(seen)

    def setattr(self, name: str, value: Any) -> None:
        """Set attribute ``name`` to ``value`` on every Parameter, e.g.
        ``setattr('grad_req', 'null')`` or ``setattr('lr_mult', 0.5)``."""
        for param in self.values():
            setattr(param, name, value)

    def save(self, filename: str, strip_prefix: str = "") -> None:
        """Save the Parameters (replicas averaged) to ``filename`` (``mx.nd.save``'s format).

        Args:
            filename: path of the file.
            strip_prefix: removed from every name before saving.

        Raises:
            ValueError: a name does not start with ``strip_prefix`` (nothing is written).
        """
        for param in self.values():
            if not param.name.startswith(strip_prefix):
                raise ValueError(_MSG_STRIP.format(prefix=strip_prefix, name=param.name))
        arg_dict = dict(
            zip(
                (param.name[len(strip_prefix) :] for param in self.values()),
                _replica_reduce.host_averages(list(self.values())),
            )
        )
        _param_io.save_arrays(filename, arg_dict)

    def load(
        self,
        filename: str,
        ctx: Context | Sequence[Context] | None = None,
        allow_missing: bool = False,
        ignore_extra: bool = False,
        restore_prefix: str = "",
        cast_dtype: bool = False,
        dtype_source: str = "current",
    ) -> None:
        """Load Parameters from a file written by :meth:`save` (or by MXNet).

        Args:
            filename: path of the file.
            ctx: Context(s) for Parameters that are not initialized yet (default cpu(0)).
            allow_missing: skip Parameters absent from the file instead of failing.
            ignore_extra: skip names in the file that are not in this dict instead of failing.
            restore_prefix: prepended to the stored names before matching.
            cast_dtype: cast between stored and Parameter dtypes instead of failing.
            dtype_source: ``'current'`` (cast the data) or ``'saved'`` (cast the Parameter).

        Raises:
            CheckError: a missing or extra name, a prefix mismatch, an incompatible shape or
                dtype; nothing is loaded then.
        """
        self._check_restore_prefix(restore_prefix)
        loaded = _param_io.load_arrays(filename)
        try:
            self._load_loaded(
                loaded,
                filename,
                ctx,
                allow_missing,
                ignore_extra,
                restore_prefix,
                cast_dtype,
                dtype_source,
            )
        finally:
            _lazy_load.close(loaded)

    def _check_restore_prefix(self, restore_prefix: str) -> None:
        if restore_prefix:
            for name in self.keys():
                if not name.startswith(restore_prefix):
                    raise CheckError(_MSG_RESTORE.format(prefix=restore_prefix, name=name))

    def _load_loaded(
        self,
        loaded: Any,
        filename: str,
        ctx: Any,
        allow_missing: bool,
        ignore_extra: bool,
        restore_prefix: str,
        cast_dtype: bool,
        dtype_source: str,
    ) -> None:
        """:meth:`load` once the file is read (``Block.load_parameters`` reads it itself)."""
        self._check_restore_prefix(restore_prefix)
        if isinstance(loaded, list) and not loaded:
            loaded = {}  # an empty dict is saved as an empty list
        if not isinstance(loaded, dict):
            raise ValueError(
                f"'{filename}' holds a list of unnamed arrays; loading Parameters needs a file "
                "saved from a dict of named arrays (e.g. by ParameterDict.save)."
            )
        self.load_dict(
            loaded,
            ctx,
            allow_missing,
            ignore_extra,
            restore_prefix,
            filename,
            cast_dtype,
            dtype_source,
        )

    def load_dict(
        self,
        param_dict: Any,
        ctx: Context | Sequence[Context] | None = None,
        allow_missing: bool = False,
        ignore_extra: bool = False,
        restore_prefix: str = "",
        filename: str | None = None,
        cast_dtype: bool = False,
        dtype_source: str = "current",
    ) -> None:
        """Load Parameters from a dict of arrays (``arg:``/``aux:`` name prefixes are dropped).

        Every entry is checked before any Parameter changes. Arguments as in :meth:`load`.

        Raises:
            CheckError: a missing or extra name, an incompatible shape or dtype.
        """
        lprefix = len(restore_prefix)
        strip = isinstance(param_dict, dict)
        if (
            strip
            and not restore_prefix
            and not any(k.startswith(("arg:", "aux:")) for k in param_dict)
        ):
            arg_dict = param_dict  # read only: no copy (files may hold many small arrays)
        else:
            items = param_dict.items() if strip else param_dict
            arg_dict = {
                restore_prefix + (k[4:] if strip and k.startswith(("arg:", "aux:")) else k): v
                for k, v in items
            }
        where = f"file: {filename}" if filename else "param_dict"
        if not allow_missing:
            for name in self.keys():
                if name not in arg_dict:
                    raise CheckError(
                        _MSG_MISSING.format(
                            name=name[lprefix:],
                            where=where,
                            names=_brief_print_list(arg_dict.keys()),
                        )
                    )
        plans = []
        for name, value in arg_dict.items():
            if name not in self._params:
                if not ignore_extra:
                    raise CheckError(
                        _MSG_EXTRA.format(
                            name=name[lprefix:],
                            where=where,
                            names=_brief_print_list(self._params.keys()),
                        )
                    )
                continue
            param = self._params[name]
            plans.append((param, param._plan_load(value, ctx, cast_dtype, dtype_source)))
        _lazy_load.apply_loads(plans)
