"""``gluon.Parameter`` and ``gluon.Constant``: a named tensor with one replica per context.

A Parameter holds, once initialized, one data array per context (``ctx=[cpu(0), cpu(1)]``,
``[gpu(0), cpu(0)]``, ...) and, unless ``grad_req='null'``, one gradient buffer per context. The
replicas start identical (see :mod:`mxlite.gluon._replicas` for how they are filled in place)
and are independent arrays afterwards; ``reset_ctx`` and saving reduce them to their average.

This module holds the Parameter's state and its lookups; the machinery lives beside it:
:mod:`mxlite.gluon._param_init` (initialization, deferred initialization, batched hand-over of
replicas and gradients), :mod:`mxlite.gluon._param_load` (``set_data``, ``cast``, loading) and
:mod:`mxlite.gluon._param_checks` (input checks and MXNet's messages).

Semantics, defaults and messages follow MXNet 1.9.1. Where MXNet uses ``assert`` for a caller's
mistake, mxlite raises :class:`~mxlite.base.CheckError` (an AssertionError and an MXNetError) with
the same message, and it checks before changing anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mxlite import _epoch, context, initializer
from mxlite.base import CheckError, MXNetError, dtype_np, mx_real_t
from mxlite.context import Context
from mxlite.gluon import (
    _param_checks,
    _param_init,
    _param_load,
    _replica_reduce,
    _replicas,
    _sparse_param,
    utils,
)
from mxlite.ndarray import creation
from mxlite.ndarray.ndarray import NDArray
from mxlite.util import is_np_shape

__all__ = [
    "DeferredInit",
    "DeferredInitializationError",
    "Parameter",
    "Constant",  # noqa: F822 - provided by __getattr__ below
    "ParameterDict",  # noqa: F822 - provided by __getattr__ below
    "tensor_types",
]

tensor_types = (NDArray,)

# The default ``default_init``: one shared instance, as MXNet's default argument is.
DEFAULT_INIT = initializer.Uniform()

_VALID_STYPES = ("default", "row_sparse", "csr")
_VALID_GRAD_REQS = ("write", "add", "null")


class DeferredInitializationError(MXNetError):
    """Error for unfinished deferred initialization."""


@dataclass(frozen=True, slots=True)
class DeferredInit:
    """What ``initialize`` was asked for while the shape was unknown, kept until the first
    forward pass (or a ``set_data``/load) completes it.

    Attributes:
        init: the initializer chosen by ``initialize`` (its argument, the Parameter's own, or
            ``default_init``).
        ctx_list: the contexts to put replicas on.
        default_init: the fallback initializer (what ``init`` dispatches to by name).
        data: a value given with ``set_data`` meanwhile, copied instead of initializing.
    """

    init: Any
    ctx_list: list[Context]
    default_init: Any
    data: NDArray | None = None


_pause = _param_init.pause


class Parameter:
    """A container of a parameter (weights) of Blocks: one copy per context after ``initialize``.

    If :attr:`grad_req` is not ``'null'``, it also holds a gradient buffer per context::

        w = mx.gluon.Parameter('fc_weight', shape=(64, 100), init=mx.init.Xavier())
        w.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
        w.data(mx.cpu(1))           # the replica on cpu(1)

    Args:
        name: name of this parameter.
        grad_req: ``'write'`` (gradients overwrite the buffer), ``'add'`` (they accumulate; call
            ``zero_grad()`` yourself) or ``'null'`` (no gradient buffer).
        shape: shape; unknown dimensions are 0 (or -1 with NumPy semantics) and get filled in by
            shape inference during the first forward pass.
        dtype: data type, e.g. ``numpy.float32`` or ``'float32'``.
        lr_mult: learning-rate multiplier for this parameter.
        wd_mult: weight-decay multiplier for this parameter.
        init: initializer of this parameter; the global initializer is used when None.
        allow_deferred_init: whether ``initialize`` may wait for an unknown shape.
        differentiable: when False, ``grad_req`` is always ``'null'``.
        stype: storage type ``'default'``, ``'row_sparse'`` or ``'csr'`` of the replicas; a
            sparse Parameter is read with :meth:`row_sparse_data` (see
            :mod:`mxlite.gluon._sparse_param`).
        grad_stype: storage type of the gradient buffers, same choices (``'row_sparse'``:
            backward stores only the rows a batch touched).

    Raises:
        CheckError: an invalid ``grad_req``, ``stype`` or ``grad_stype``.
    """

    def __init__(
        self,
        name: str,
        grad_req: str = "write",
        shape: int | Sequence[int] | None = None,
        dtype: Any = mx_real_t,
        lr_mult: float = 1.0,
        wd_mult: float = 1.0,
        init: Any = None,
        allow_deferred_init: bool = False,
        differentiable: bool = True,
        stype: str = "default",
        grad_stype: str = "default",
    ) -> None:
        for what, value in (("grad_stype", grad_stype), ("stype", stype)):
            if value not in _VALID_STYPES:
                raise CheckError(
                    f"{what} for Parameter '{name}' must be one of 'default', 'row_sparse', "
                    f"or 'csr', but got '{value}'"
                )
        dtype_np(dtype)  # raises TypeError for an unknown dtype
        self._var = None
        self._data: list[NDArray] | None = None
        self._grad: list[NDArray] | None = None
        self._ctx_list: list[Context] | None = None
        self._ctx_map: list[list[int | None]] | None = None
        self._trainer: Any = None
        self._deferred_init: DeferredInit | None = None
        self._differentiable = differentiable
        self._allow_deferred_init = allow_deferred_init
        self._grad_req: str | None = None
        self._shape = _param_checks.normalize_shape(shape)
        self.name = name
        self._dtype = dtype
        self.lr_mult = lr_mult
        self.wd_mult = wd_mult
        self.grad_req = grad_req
        self.init = init
        self._grad_stype = grad_stype
        self._stype = stype

    def __repr__(self) -> str:
        return f"Parameter {self.name} (shape={self.shape}, dtype={self.dtype})"

    # ------------------------------------------------------------------ attributes
    @property
    def grad_req(self) -> str:
        """``'write'``, ``'add'`` or ``'null'``; settable before and after initialization.

        Setting ``'null'`` drops the gradient buffers; setting another value on an initialized
        parameter allocates fresh zero buffers.
        """
        return self._grad_req  # type: ignore[return-value]

    @grad_req.setter
    def grad_req(self, req: str) -> None:
        if req not in _VALID_GRAD_REQS:
            raise CheckError(f"grad_req must be one of 'write', 'add', or 'null', but got '{req}'")
        if not self._differentiable:
            req = "null"
        if self._grad_req == req:
            return
        self._grad_req = req
        if req == "null" and self._grad is not None:
            self._set_grads(None)
            self._data = [arr.detach() for arr in self._data or []]
        elif self._data is not None:
            self._init_grad()

    @property
    def dtype(self) -> Any:
        """The data type as given; assigning it casts data and gradients (see :meth:`cast`)."""
        return self._dtype

    @dtype.setter
    def dtype(self, dtype: Any) -> None:
        self.cast(dtype)

    @property
    def shape(self) -> tuple[int, ...] | None:
        """The shape; unknown dimensions read as 0, or as -1 under NumPy shape semantics."""
        if self._shape is None:
            return None
        if is_np_shape():
            return tuple(d if d != 0 else -1 for d in self._shape)
        return self._shape

    @shape.setter
    def shape(self, new_shape: int | Sequence[int] | None) -> None:
        new = _param_checks.normalize_shape(new_shape)
        if self._shape is None or new is None:
            self._shape = new if new is not None else self._shape
            return
        self._check_shape_compatible(new)
        self._shape = new

    def _check_shape_compatible(self, new: tuple[int, ...]) -> None:
        old = self._shape
        if old is None:
            return
        if len(old) != len(new) or not all(o in (-1, 0, n) for n, o in zip(new, old)):
            raise CheckError(_param_checks.MSG_SHAPE.format(new=str(new), old=str(old)))

    def _set_trainer(self, trainer: Any) -> None:
        """Set the trainer this parameter is associated with.

        Raises:
            RuntimeError: a sparse parameter already has another trainer.
        """
        if self._stype != "default" and self._trainer and trainer and self._trainer is not trainer:
            raise RuntimeError(
                f"Failed to set the trainer for Parameter '{self.name}' because it was already "
                f"set. More than one trainers for a {self._stype} Parameter is not supported."
            )
        self._trainer = trainer

    # ------------------------------------------------------------------ replica lookup
    def _check_and_get(self, arr_list: list[NDArray] | None, ctx: Any) -> Any:
        """The replica of ``arr_list`` for ``ctx`` (all of them for ``ctx is list``).

        With ``ctx=None`` a single replica is returned as is; with several, the one on the
        current context. The lookup goes through ``_ctx_map[device_typeid & 1][device_id]``.

        Raises:
            RuntimeError: no replica on ``ctx``, or the parameter is not initialized.
            DeferredInitializationError: initialization waits for the first forward pass.
        """
        if arr_list is not None:
            if ctx is list:
                return arr_list
            if ctx is None:
                if len(arr_list) == 1:
                    return arr_list[0]
                ctx = context.current_context()
            assert self._ctx_map is not None  # set together with arr_list
            ctx_list = self._ctx_map[ctx.device_typeid & 1]
            if ctx.device_id < len(ctx_list):
                idx = ctx_list[ctx.device_id]
                if idx is not None:
                    return arr_list[idx]
            raise RuntimeError(
                _param_checks.MSG_WRONG_CTX.format(
                    name=self.name, ctx=str(ctx), ctxs=str(self._ctx_list)
                )
            )
        if self._deferred_init:
            raise DeferredInitializationError(_param_checks.MSG_DEFERRED.format(name=self.name))
        raise RuntimeError(_param_checks.MSG_NOT_INITIALIZED.format(name=self.name))

    def data(self, ctx: Context | None = None) -> NDArray:
        """The replica on ``ctx`` (the only one, or the current context's, when None).

        Raises:
            RuntimeError: not initialized, or not on ``ctx``; sparse storage.
            DeferredInitializationError: initialization waits for the first forward pass.
        """
        if self._stype != "default":
            raise RuntimeError(
                f"Cannot return a copy of Parameter '{self.name}' on ctx {ctx} via data() "
                f"because its storage type is {self._stype}. Please use row_sparse_data() "
                "instead."
            )
        return self._check_and_get(self._data, ctx)

    def list_data(self) -> list[NDArray]:
        """All replicas, in the order of the contexts given at initialization."""
        if self._stype != "default":
            raise RuntimeError(
                f"Cannot return copies of Parameter '{self.name}' on all contexts via "
                f"list_data() because its storage type is {self._stype}. Please use "
                "row_sparse_data() instead."
            )
        return self._check_and_get(self._data, list)

    def row_sparse_data(self, row_id: NDArray) -> NDArray:
        """The replica on ``row_id``'s context of a 'row_sparse' Parameter, holding (at least)
        the rows ``row_id`` names, pulled from the Trainer's kvstore.

        Raises:
            RuntimeError: the storage type is not 'row_sparse', or no Trainer has the Parameter.
            TypeError: ``row_id`` is not an NDArray.
        """
        if self._stype != "row_sparse":
            raise RuntimeError(
                f"Cannot return a copy of Parameter {self.name} via row_sparse_data() because "
                f"its storage type is {self._stype}. Please use data() instead."
            )
        return _sparse_param.get_row_sparse(self, self._data, row_id.ctx, row_id)  # type: ignore[no-any-return]

    def list_row_sparse_data(self, row_id: NDArray) -> list[NDArray]:
        """:meth:`row_sparse_data` on every context, in the order of :meth:`list_ctx`.

        Raises:
            RuntimeError: the storage type is not 'row_sparse', or no Trainer has the Parameter.
            TypeError: ``row_id`` is not an NDArray.
        """
        if self._stype != "row_sparse":
            raise RuntimeError(
                f"Cannot return copies of Parameter '{self.name}' on all contexts via "
                f"list_row_sparse_data() because its storage type is {self._stype}. Please use "
                "data() instead."
            )
        return _sparse_param.get_row_sparse(self, self._data, list, row_id)  # type: ignore[no-any-return]

    def grad(self, ctx: Context | None = None) -> NDArray:
        """The gradient buffer on ``ctx`` (looked up like :meth:`data`).

        Raises:
            RuntimeError: ``grad_req='null'``, not initialized, or not on ``ctx``.
        """
        if self._data is not None and self._grad is None:
            raise RuntimeError(_param_checks.MSG_NO_GRAD.format(name=self.name))
        return self._check_and_get(self._grad, ctx)

    def list_grad(self) -> list[NDArray]:
        """All gradient buffers, in the same order as :meth:`list_data`."""
        if self._data is not None and self._grad is None:
            raise RuntimeError(_param_checks.MSG_NO_GRAD.format(name=self.name))
        return self._check_and_get(self._grad, list)

    def list_ctx(self) -> list[Context]:
        """The contexts this parameter lives on (or will, once deferred initialization ends).

        Raises:
            RuntimeError: the parameter has not been initialized.
        """
        if self._data is None:
            if self._deferred_init:
                return self._deferred_init.ctx_list
            raise RuntimeError(f"Parameter '{self.name}' has not been initialized")
        assert self._ctx_list is not None
        return self._ctx_list

    # ------------------------------------------------------------------ initialization
    def initialize(
        self,
        init: Any = None,
        ctx: Context | Sequence[Context] | None = None,
        default_init: Any = DEFAULT_INIT,
        force_reinit: bool = False,
    ) -> None:
        """Initialize data and gradient arrays, one replica per context.

        Args:
            init: initializer to use; overrides :attr:`init` and ``default_init``.
            ctx: a Context or a list of them (default: the current context). Replicas are
                independent arrays with identical starting values.
            default_init: used when both ``init`` and :attr:`init` are None.
            force_reinit: re-initialize an already initialized parameter.

        Warns:
            UserWarning: already initialized and ``force_reinit`` is False (nothing happens).

        Raises:
            ValueError: the shape is unknown and deferred initialization is not allowed.
        """
        job = _param_init.start(self, init, ctx, default_init, force_reinit, stacklevel=3)
        if job is not None:
            _param_init.run([job], [self])

    def _make_job(self, init: Any, ctx_list: list[Context], default_init: Any, data: Any) -> Any:
        return _param_init.make_job(self, init, ctx_list, default_init, data)

    def _finish_deferred_init(self) -> None:
        """Finish a deferred initialization now that the shape is known (no-op otherwise).

        Raises:
            CheckError: the shape still has unknown dimensions.
        """
        _param_init.finish_deferred([self])

    @staticmethod
    def _finish_deferred_inits(params: Iterable[Parameter]) -> None:
        """Finish the deferred initializations of ``params`` together (one batch of fills).

        Raises:
            CheckError: a shape still has unknown dimensions (no Parameter is initialized).
        """
        _param_init.finish_deferred(params)

    def _init_grad(self) -> None:
        """Allocate zero gradient buffers (none for ``grad_req='null'``) and mark the replicas
        as autograd variables with them."""
        _param_init.init_grad(self)

    # ------------------------------------------------------------------ owning methods
    # Only these assign the replicas, the context tables, the gradient buffers and the deferred
    # state; they keep them consistent and bump the buffers epoch (mxlite._epoch) themselves,
    # after the swap, so a plan built meanwhile in another thread is never current with old
    # buffers. The helpers of _param_init/_param_load/_replica_reduce compute arrays only.
    def _install(
        self,
        replicas: list[NDArray],
        ctx_list: Sequence[Context],
        table: Any,
        grads: list[NDArray] | None,
    ) -> None:
        """Make ``replicas`` (one per context of ``ctx_list``, looked up through ``table``, see
        :func:`_param_init.ctx_map`) this parameter's data, with ``grads`` as its gradient
        buffers (None for ``grad_req='null'``); a deferred initialization is over. The caller
        marks the replicas as autograd variables (one call for a whole batch)."""
        self._ctx_list = list(ctx_list)
        self._ctx_map = table
        self._data = replicas
        self._grad = grads
        self._deferred_init = None
        if len(replicas) > 1:
            utils.register_replicas(replicas)
            if grads is not None:
                utils.register_replicas(grads)
        _epoch.BUFFERS.bump()

    def _replace_data(self, replicas: list[NDArray]) -> None:
        """Swap the replica arrays for others on the same contexts (``cast``)."""
        self._data = replicas
        if len(replicas) > 1:
            utils.register_replicas(replicas)
        _epoch.BUFFERS.bump()

    def _set_grads(self, grads: list[NDArray] | None) -> None:
        """Replace the gradient buffers (None: drop them); cached plans over them go stale."""
        changed = grads is not None or self._grad is not None
        self._grad = grads
        if grads is not None and len(grads) > 1:
            utils.register_replicas(grads)
        if changed:
            _epoch.BUFFERS.bump()

    def _defer(self, init: Any, ctx_list: Sequence[Context], default_init: Any) -> None:
        """Wait for the shape: drop any replicas and remember what ``initialize`` was asked."""
        self._data = None
        self._set_grads(None)
        self._deferred_init = DeferredInit(init, list(ctx_list), default_init)

    def _set_deferred(self, **changes: Any) -> None:
        """Change fields of the pending deferred initialization (``data``, ``ctx_list``)."""
        if self._deferred_init is None:  # pragma: no cover - callers check first
            raise MXNetError(f"Parameter '{self.name}' has no deferred initialization")
        self._deferred_init = replace(self._deferred_init, **changes)

    def _end_deferred(self) -> None:
        """The pending deferred initialization is settled otherwise (values were loaded)."""
        self._deferred_init = None

    def _set_dtype(self, dtype: Any) -> None:
        self._dtype = dtype

    def _reduce(self) -> NDArray:
        """The average of the replicas, on cpu(0).

        The sum is taken on the device of the first GPU replica when there is one (replicas on
        other devices are copied there), so the result crosses to the host once. A row_sparse
        Parameter gives every row, pulled from its Trainer's store (replica 0 without one).
        """
        if self._stype != "default":
            return _sparse_param.all_rows(self)
        return _replicas.reduce_mean(self.list_data())

    def reset_ctx(self, ctx: Context | Sequence[Context] | None) -> None:
        """Move the parameter to other contexts; several replicas are averaged first.

        Raises:
            ValueError: the parameter has not been initialized.
        """
        ctx_list = _param_checks.as_ctx_list(ctx)
        self._check_resettable()
        if self._data:
            with _pause():
                _replica_reduce.reset_ctx_many([self], ctx_list)
        else:
            self._reset_deferred_ctx(ctx_list)

    def _check_resettable(self) -> None:
        """Raise the ValueError of ``reset_ctx`` on a parameter that was never initialized."""
        if not self._data and not self._deferred_init:
            raise ValueError(
                f"Cannot reset context for Parameter '{self.name}' because it has not been "
                "initialized."
            )

    def _reset_deferred_ctx(self, ctx_list: list[Context]) -> None:
        self._set_deferred(ctx_list=list(ctx_list))

    def set_data(self, data: Any) -> None:
        """Set the value on every context (kept until initialization when it is deferred).

        Raises:
            CheckError: ``data``'s shape is incompatible, or the parameter was never initialized.
        """
        _param_load.set_data(self, data)

    def zero_grad(self) -> None:
        """Set the gradient buffers on all contexts to 0 (no-op without gradients)."""
        if self._grad is None:
            return
        dense, sparse = _sparse_param.split_dense(self._grad)
        _sparse_param.zero_sparse(sparse)
        if dense:
            creation.reset_arrays(*dense, num_arrays=len(dense))

    def var(self) -> Any:
        """A symbol for this parameter (MXNet's symbolic API, which mxlite does not provide).

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError(
            f"Parameter '{self.name}'.var() returns an MXNet Symbol; mxlite has no symbolic API. "
            "Use data() for the NDArray value instead."
        )

    def cast(self, dtype: Any) -> None:
        """Cast data and gradients to ``dtype`` (the new dtype is kept for later initialization).

        Raises:
            TypeError: an unknown dtype.
        """
        _param_load.cast(self, dtype)

    # ------------------------------------------------------------------ loading
    def _plan_load(self, data: NDArray, ctx: Any, cast_dtype: bool, dtype_source: str) -> Any:
        """Check that ``data`` can be loaded (see :func:`_param_checks.plan_load`)."""
        return _param_checks.plan_load(self, data, ctx, cast_dtype, dtype_source)

    def _apply_load(self, plan: _param_checks.LoadPlan) -> None:
        """Load a value checked by :meth:`_plan_load` (see :func:`_param_load.apply_load`)."""
        _param_load.apply_load(self, plan)

    def _load_init(
        self, data: NDArray, ctx: Any, cast_dtype: bool = False, dtype_source: str = "current"
    ) -> None:
        """(Re)initialize from loaded ``data`` on ``ctx`` (checked first; nothing changes on error).

        Args:
            data: the loaded value.
            ctx: Context(s) to initialize on; must match the current ones when initialized.
            cast_dtype: cast between the saved and the parameter's dtype instead of failing.
            dtype_source: ``'current'`` casts the data to the parameter's dtype, ``'saved'``
                casts the parameter to the data's dtype.
        """
        self._apply_load(self._plan_load(data, ctx, cast_dtype, dtype_source))


def __getattr__(name: str) -> Any:
    # Constant and ParameterDict live in their own modules (which import this one); MXNet users
    # import them from here, so they are resolved on first access.
    if name == "ParameterDict":
        from mxlite.gluon.parameter_dict import ParameterDict

        return ParameterDict
    if name == "Constant":
        from mxlite.gluon.constant import Constant

        return Constant
    raise AttributeError(f"module 'mxlite.gluon.parameter' has no attribute {name!r}")
