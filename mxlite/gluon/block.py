"""``gluon.Block`` and ``gluon.HybridBlock``: layers and models as trees of blocks.

Naming follows MXNet 1.9.1 exactly: a block created outside any name scope gets a prefix from a
per-thread counter per class alias (``dense0_``, ``dense1_``, ``sequential0_``); inside
``with parent.name_scope():`` it gets the parent's prefix plus a counter local to that scope
(``model0_dense0_``). Parameters are named ``prefix + name`` (``dense0_weight``).

mxlite has no symbolic graph, so ``HybridBlock.hybridize`` only records its flags, and the shapes
of deferred Parameters come from :meth:`HybridBlock.infer_shape`, which layers with such
Parameters implement (``nn.Dense`` does).
"""

from __future__ import annotations

import re
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mxlite import ndarray as _nd_module
from mxlite.base import CheckError
from mxlite.context import Context
from mxlite.gluon import _param_io
from mxlite.gluon._naming import BlockScope
from mxlite.gluon.parameter import DEFAULT_INIT, DeferredInitializationError, Parameter
from mxlite.gluon.parameter_dict import ParameterDict
from mxlite.gluon.utils import HookHandle, _indent
from mxlite.ndarray.ndarray import NDArray

__all__ = ["Block", "HybridBlock"]

_MSG_UNREGISTERED = (
    '"{name}" is an unregistered container with Blocks. Note that Blocks inside the list, tuple '
    "or dict will not be registered automatically. Make sure to register them using "
    "register_child() or switching to nn.Sequential/nn.HybridSequential instead. "
)
_MSG_NO_NDARRAY = (
    "In HybridBlock, there must be one NDArray or one Symbol in the input. Please check the type "
    "of the args.\n"
)
_MSG_NO_SYMBOL = (
    "{what} needs MXNet's symbolic graph, which mxlite does not build; HybridBlocks run "
    "imperatively in mxlite. Use save_parameters/load_parameters to store the weights."
)


def _first_ctx(args: Any) -> Context | None:
    """The context of the first NDArray in (nested lists/tuples of) ``args``."""
    if isinstance(args, NDArray):
        return args.context
    if isinstance(args, (list, tuple)):
        for item in args:
            ctx = _first_ctx(item)
            if ctx is not None:
                return ctx
    return None


class Block:
    """Base class of all layers and models; subclass it and implement :meth:`forward`.

    Child blocks assigned as attributes are registered (and their Parameters collected by
    :meth:`collect_params`)::

        class Model(gluon.Block):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                with self.name_scope():
                    self.dense0 = nn.Dense(20)

            def forward(self, x):
                return self.dense0(x)

    Args:
        prefix: prefix of this block's name and its Parameters' names; ``''`` gives an empty
            name space, None an automatic one.
        params: a ParameterDict whose Parameters this block shares (e.g. another block's
            ``params``).
    """

    def __init__(self, prefix: str | None = None, params: ParameterDict | None = None) -> None:
        self._empty_prefix = prefix == ""
        self._prefix, self._params = BlockScope.create(prefix, params, self._alias())
        self._name = self._prefix[:-1] if self._prefix.endswith("_") else self._prefix
        self._scope = BlockScope(self)
        self._children: OrderedDict[str, Block] = OrderedDict()
        self._reg_params: dict[str, Parameter] = {}
        self._forward_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
        self._forward_pre_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()

    def __repr__(self) -> str:
        modstr = "\n".join(
            f"  ({key}): {_indent(repr(block), 2)}"
            for key, block in self.__dict__.items()
            if isinstance(block, Block)
        )
        return f"{self.__class__.__name__}(\n{modstr}\n)"

    def __setattr__(self, name: str, value: Any) -> None:
        """Register child blocks and Parameters assigned as attributes.

        Raises:
            TypeError: replacing a Parameter or Block attribute with another kind of value.
            CheckError: replacing a registered Parameter with another one.
        """
        if hasattr(self, name):
            existing = getattr(self, name)
            if isinstance(existing, (Parameter, Block)) and not isinstance(value, type(existing)):
                raise TypeError(
                    f"Changing attribute type for {name} from {type(existing)} to {type(value)} "
                    "is not allowed."
                )
        if isinstance(value, Block):
            self.register_child(value, name)
        elif isinstance(value, Parameter):
            if name in self._reg_params:
                raise CheckError(
                    f"Overriding Parameter attribute {name} is not allowed. If you want to share "
                    "parameters between blocks, please set 'params' at Block construction "
                    "instead."
                )
            self._reg_params[name] = value
        super().__setattr__(name, value)

    def _check_container_with_block(self) -> None:
        children = set(self._children.values())

        def unregistered(data: Any) -> bool:
            if isinstance(data, (list, tuple)):
                return any(unregistered(item) for item in data)
            if isinstance(data, dict):
                return any(unregistered(item) for item in data.values())
            return isinstance(data, Block) and data not in children

        for key, value in self.__dict__.items():
            if isinstance(value, (list, tuple, dict)) and not (
                key.startswith("__") or key == "_children"
            ):
                if unregistered(value):
                    warnings.warn(
                        _MSG_UNREGISTERED.format(name=f"{self.__class__.__name__}.{key}"),
                        stacklevel=3,
                    )

    def _alias(self) -> str:
        return self.__class__.__name__.lower()

    @property
    def prefix(self) -> str:
        """Prefix of this block."""
        return self._prefix

    @property
    def name(self) -> str:
        """Name of this block: the prefix without its trailing ``'_'``."""
        return self._name

    def name_scope(self) -> BlockScope:
        """A ``with`` scope in which new child blocks are named under this block's prefix."""
        return self._scope

    @property
    def params(self) -> ParameterDict:
        """This block's own ParameterDict (without its children's Parameters)."""
        return self._params

    def collect_params(self, select: str | None = None) -> ParameterDict:
        """A ParameterDict of this block's and all its descendants' Parameters.

        Args:
            select: a regular expression; only names it matches (``re.match``) are kept, e.g.
                ``'.*weight|.*bias'``.
        """
        self._check_container_with_block()
        ret = ParameterDict(self._params.prefix)
        if not select:
            ret.update(self.params)
        else:
            pattern = re.compile(select)
            ret.update({k: v for k, v in self.params.items() if pattern.match(k)})
        for child in self._children.values():
            ret.update(child.collect_params(select=select))
        return ret

    def _collect_params_with_prefix(self, prefix: str = "") -> dict[str, Parameter]:
        """Parameters by structural name: attribute names joined with dots (``0.weight``)."""
        if prefix:
            prefix += "."
        ret = {prefix + key: val for key, val in self._reg_params.items()}
        for name, child in self._children.items():
            ret.update(child._collect_params_with_prefix(prefix + name))
        return ret

    def save_parameters(self, filename: str, deduplicate: bool = False) -> None:
        """Save the Parameters under their structural names (``0.weight``, ``dense0.bias``).

        Replicas on several contexts are averaged. Only parameters are saved, not the structure.

        Args:
            filename: path of the file.
            deduplicate: save a Parameter shared by several blocks once, under one name.
        """
        _param_io.save_block_parameters(self, filename, deduplicate)

    def save_params(self, filename: str) -> None:
        """[Deprecated] Save with prefixed names; use :meth:`save_parameters`."""
        warnings.warn(
            "save_params is deprecated. Please use save_parameters. Note that if you want load "
            "from SymbolBlock later, please use export instead. For details, see "
            "https://mxnet.apache.org/tutorials/gluon/save_load_params.html",
            stacklevel=2,
        )
        try:
            self.collect_params().save(filename, strip_prefix=self.prefix)
        except ValueError as err:
            raise ValueError(
                f"{err}\nsave_params is deprecated. Using save_parameters may resolve this error."
            ) from err

    def load_parameters(
        self,
        filename: str,
        ctx: Context | list[Context] | None = None,
        allow_missing: bool = False,
        ignore_extra: bool = False,
        cast_dtype: bool = False,
        dtype_source: str = "current",
    ) -> None:
        """Load Parameters saved by :meth:`save_parameters` (or by MXNet).

        Files with prefixed names (``dense0_weight``, from ``save_params`` or
        ``ParameterDict.save``) are loaded by name with this block's prefix restored. Everything
        is checked before any Parameter changes.

        Args:
            filename: path of the file.
            ctx: Context(s) for Parameters that are not initialized yet (default cpu(0)).
            allow_missing: skip Parameters absent from the file instead of failing.
            ignore_extra: skip names in the file that are not in this block instead of failing.
            cast_dtype: cast between stored and Parameter dtypes instead of failing.
            dtype_source: ``'current'`` (cast the data) or ``'saved'`` (cast the Parameter).

        Raises:
            CheckError: a Parameter is missing from the file, or incompatible.
            ValueError: the file has a name this block does not have.
        """
        _param_io.load_block_parameters(
            self, filename, ctx, allow_missing, ignore_extra, cast_dtype, dtype_source
        )

    def load_params(
        self,
        filename: str,
        ctx: Context | list[Context] | None = None,
        allow_missing: bool = False,
        ignore_extra: bool = False,
    ) -> None:
        """[Deprecated] Use :meth:`load_parameters`."""
        warnings.warn("load_params is deprecated. Please use load_parameters.", stacklevel=2)
        self.load_parameters(filename, ctx, allow_missing, ignore_extra)

    def register_child(self, block: Block, name: str | None = None) -> None:
        """Register ``block`` as a child (attributes holding blocks are registered already)."""
        if name is None:
            name = str(len(self._children))
        self._children[name] = block

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> HookHandle:
        """Call ``hook(block, inputs)`` before every :meth:`forward`; returns its handle."""
        handle = HookHandle()
        handle.attach(self._forward_pre_hooks, hook)
        return handle

    def register_forward_hook(self, hook: Callable[..., Any]) -> HookHandle:
        """Call ``hook(block, inputs, outputs)`` after every :meth:`forward`; returns its handle."""
        handle = HookHandle()
        handle.attach(self._forward_hooks, hook)
        return handle

    def apply(self, fn: Callable[[Block], Any]) -> Block:
        """Apply ``fn`` to every descendant, then to this block; returns this block."""
        for child in self._children.values():
            child.apply(fn)
        fn(self)
        return self

    def initialize(
        self,
        init: Any = DEFAULT_INIT,
        ctx: Context | list[Context] | None = None,
        verbose: bool = False,
        force_reinit: bool = False,
    ) -> None:
        """Initialize the Parameters of this block and its descendants
        (``collect_params().initialize(...)``)."""
        self.collect_params().initialize(init, ctx, verbose, force_reinit)

    def hybridize(self, active: bool = True, **kwargs: Any) -> None:
        """Hybridize the HybridBlock descendants (a flag only in mxlite; see HybridBlock)."""
        for child in self._children.values():
            child.hybridize(active, **kwargs)

    def cast(self, dtype: Any) -> None:
        """Cast this block's and its descendants' Parameters to ``dtype``."""
        for child in self._children.values():
            child.cast(dtype)
        for _, param in self.params.items():
            param.cast(dtype)

    def __call__(self, *args: Any) -> Any:
        """Run the pre-hooks, :meth:`forward`, then the hooks. Positional arguments only."""
        for hook in self._forward_pre_hooks.values():
            hook(self, args)
        out = self.forward(*args)
        for hook in self._forward_hooks.values():
            hook(self, args, out)
        return out

    def forward(self, *args: Any) -> Any:
        """The computation; override it.

        Raises:
            NotImplementedError: not overridden.
        """
        raise NotImplementedError

    def register_op_hook(self, callback: Callable[..., Any], monitor_all: bool = False) -> None:
        """Install an operator monitor on HybridBlock descendants (kept, not called, in mxlite)."""
        for child in self._children.values():
            child.register_op_hook(callback, monitor_all)

    def summary(self, *inputs: Any) -> None:
        """Print each layer's output shape and parameter counts for one forward pass of
        ``inputs`` (the network must be initialized), in MXNet's layout."""
        from mxlite.gluon import _summary

        _summary.print_summary(self, inputs)


class HybridBlock(Block):
    """A Block that can also be written as ``hybrid_forward(F, x, *args, **params)``.

    ``forward`` looks up this block's Parameters on the input's context and calls
    ``hybrid_forward(F, x, *args, **params)`` with ``F = mx.nd`` (as MXNet does with NDArray
    inputs). When a Parameter still waits for deferred initialization, :meth:`infer_shape` fills
    in its shape from the inputs and the initialization finishes before the call.

    ``hybridize()`` is accepted and recorded but changes nothing: mxlite always runs
    imperatively (there is no symbolic graph to cache).
    """

    def __init__(self, prefix: str | None = None, params: ParameterDict | None = None) -> None:
        super().__init__(prefix=prefix, params=params)
        self._active = False
        self._flags: list[tuple[str, Any]] = []
        self._callback: Callable[..., Any] | None = None
        self._monitor_all = False
        self._backend: str | None = None
        self._backend_opts: dict[str, Any] = {}

    def register_child(self, block: Block, name: str | None = None) -> None:
        """Register a child, which must be a HybridBlock.

        Raises:
            ValueError: ``block`` is not a HybridBlock.
        """
        if not isinstance(block, HybridBlock):
            raise ValueError(
                "Children of HybridBlock must also be HybridBlock, but "
                f"{block} has type {type(block)}. If you are using Sequential, please try "
                "HybridSequential instead."
            )
        super().register_child(block, name)

    def hybridize(
        self,
        active: bool = True,
        backend: str | None = None,
        clear: bool = True,
        static_alloc: bool = False,
        static_shape: bool = False,
        inline_limit: int = 2,
        forward_bulk_size: int | None = None,
        backward_bulk_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Record the hybridization flags; a no-op for the computation.

        mxlite runs every HybridBlock imperatively (no symbolic graph, no cached operator), so
        results are the same whether or not a block is hybridized. The flags are kept (and
        passed to the children) so that code written for MXNet runs unchanged.
        """
        if kwargs:
            self._backend_opts = kwargs
        self._backend = backend
        self._active = active
        self._flags = [
            ("static_alloc", static_alloc),
            ("static_shape", static_shape),
            ("inline_limit", inline_limit),
        ]
        if forward_bulk_size is not None:
            self._flags.append(("forward_bulk_size", forward_bulk_size))
        if backward_bulk_size is not None:
            self._flags.append(("backward_bulk_size", backward_bulk_size))
        if active and self._forward_hooks or self._forward_pre_hooks:
            warnings.warn(
                f'"{self}" is being hybridized while still having forward hook/pre-hook. If '
                f'"{self}" is a child of HybridBlock, the hooks will not take effect.',
                stacklevel=2,
            )
        super().hybridize(
            active,
            static_alloc=static_alloc,
            static_shape=static_shape,
            inline_limit=inline_limit,
            forward_bulk_size=forward_bulk_size,
            backward_bulk_size=backward_bulk_size,
        )

    def register_op_hook(self, callback: Callable[..., Any], monitor_all: bool = False) -> None:
        """Record an operator monitor (mxlite has no cached operator to call it from)."""
        self._callback = callback
        self._monitor_all = monitor_all
        for child in self._children.values():
            child._callback = callback  # type: ignore[attr-defined]
            child._monitor_all = monitor_all  # type: ignore[attr-defined]

    def infer_shape(self, *args: Any) -> None:
        """Fill in the unknown dimensions of this block's Parameters from the inputs ``args``.

        MXNet derives them from the symbolic graph; mxlite has none, so a HybridBlock that
        creates Parameters with unknown dimensions overrides this method and assigns the
        shapes, e.g. ``self.weight.shape = (self._units, x.shape[1])``.

        Raises:
            NotImplementedError: not overridden by this block.
        """
        unknown = [p.name for p in self.params.values() if p._deferred_init]
        raise NotImplementedError(
            f"{type(self).__name__} has Parameters of unknown shape ({', '.join(unknown)}) and "
            "mxlite cannot infer them without a symbolic graph. Override "
            f"{type(self).__name__}.infer_shape(self, x, *args) to set each parameter's shape "
            "from the inputs, or create the Parameters with complete shapes."
        )

    def infer_type(self, *args: Any) -> None:
        """Infer Parameter dtypes from the inputs (needs the symbolic graph).

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError(_MSG_NO_SYMBOL.format(what="infer_type"))

    def _deferred_infer_shape(self, *args: Any) -> None:
        try:
            self.infer_shape(*args)
        except Exception as err:
            raise ValueError(
                f"Deferred initialization failed because shape cannot be inferred. {err}"
            ) from err

    def export(self, path: str, epoch: int = 0, remove_amp_cast: bool = True) -> None:
        """Export the symbolic graph and parameters (needs the symbolic graph).

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError(_MSG_NO_SYMBOL.format(what="export"))

    def optimize_for(self, x: Any, *args: Any, backend: str | None = None, **kwargs: Any) -> None:
        """Partition the graph for a backend (needs the symbolic graph).

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError(_MSG_NO_SYMBOL.format(what="optimize_for"))

    def forward(self, x: Any, *args: Any) -> Any:
        """Run :meth:`hybrid_forward` on the context of the first input array.

        Raises:
            ValueError: no input is an NDArray; or deferred shapes cannot be inferred.
        """
        ctx = x._ctx if isinstance(x, NDArray) else _first_ctx([x, *args])
        if ctx is None:
            raise ValueError(_MSG_NO_NDARRAY)
        with ctx:
            try:
                params = {k: v.data(ctx) for k, v in self._reg_params.items()}
            except DeferredInitializationError:
                self._deferred_infer_shape(x, *args)
                Parameter._finish_deferred_inits(self.params.values())
                params = {k: v.data(ctx) for k, v in self._reg_params.items()}
            return self.hybrid_forward(_nd_module, x, *args, **params)

    def hybrid_forward(self, F: Any, x: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N803
        """The computation with ``F`` the operator namespace (``mx.nd``); override it.

        Raises:
            NotImplementedError: not overridden.
        """
        raise NotImplementedError
