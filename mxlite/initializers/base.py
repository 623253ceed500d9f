"""``InitDesc``, the ``Initializer`` base class and the name registry (``register``/``alias``/``create``).

Dispatch follows MXNet 1.9.1 exactly. Called with an :class:`InitDesc`, an initializer first sets
``desc.global_init`` (when unset) to itself, then:

* if ``desc.attrs['__init__']`` is set (a registered name, a ``dumps()`` JSON string or an
  instance), ``create(that)._init_weight(desc, arr)`` runs, whatever the name's suffix;
* else the name's suffix picks the method: ``weight`` -> ``_init_weight``, ``bias`` ->
  ``_init_bias`` (0), ``gamma`` -> ``_init_gamma`` (1), ``beta`` -> ``_init_beta`` (0), ``min`` ->
  ``_init_zero``, ``max`` -> ``_init_one``, ``weight_quantize``, ``bias_quantize``; anything else
  is ``_init_default``, which raises ValueError.

Called with a plain ``str`` (MXNet's deprecated form), the legacy table applies: ``upsampling*`` ->
bilinear, ``stn_loc*`` weight/bias, ``moving_mean``/``moving_var``/``moving_inv_var``/
``moving_avg`` and the rest, with a DeprecationWarning.

Built-in initializers do not write through NumPy's RNG: their random draws come from
:mod:`mxlite.random`'s counter-based streams (see :mod:`mxlite.initializers._fill`).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from mxlite.base import CheckError, MXNetError
from mxlite.initializers import _fill

__all__ = [
    "InitDesc",
    "Initializer",
    "InitShapeError",
    "register",
    "alias",
    "create",
    "get_registry",
    "invoke",
]

_T = TypeVar("_T", bound=type)

_MSG_UNKNOWN_PATTERN = (
    "Unknown initialization pattern for %s. "
    "Default initialization is now limited to "
    '"weight", "bias", "gamma" (1.0), and "beta" (0.0).'
    "Please use mx.sym.Variable(init=mx.init.*) to set initialization pattern"
)
_MSG_LEGACY_CALL = (
    "\033[91mCalling initializer with init(str, NDArray) has been deprecated."
    "please use init(mx.init.InitDesc(...), NDArray) instead.\033[0m"
)
_MSG_NOT_REGISTERED = "%s is not registered. Please register with initializer.register first"


class InitShapeError(MXNetError, ValueError, IndexError):
    """An initializer was applied to an array whose shape it cannot fill.

    It is a ValueError (what MXNet raises for Xavier on a vector) and an IndexError (what MXNet's
    Bilinear raises on a 2-D array) as well as an MXNetError.
    """


class InitDesc(str):
    """Descriptor of the array to initialize: its name, plus attributes and a fallback initializer.

    A ``str`` subclass (the name), as in MXNet.

    Args:
        name: name of the variable, e.g. ``'dense0_weight'``; its suffix picks the init method.
        attrs: attributes of the variable; ``attrs['__init__']`` overrides the suffix dispatch.
        global_init: initializer to fall back to (set by ``Initializer.__call__`` when None).
    """

    attrs: dict[str, Any]
    global_init: Initializer | None
    # Set on the instance only when used (class defaults keep construction cheap):
    # the name random streams are keyed by, when not the descriptor's own (composite initializers)
    _stream_name: str | None = None
    # (initializer, target, method) of a dispatch resolved by batched.plan_route, reused by init_many
    _route_memo: tuple[Any, Any, str] | None = None
    # which initialization of its name since the last seed this descriptor draws (set at the
    # first random draw, shared by every replica filled through this descriptor)
    _draw: int | None = None

    def __new__(
        cls, name: str, attrs: dict[str, Any] | None = None, global_init: Initializer | None = None
    ) -> InitDesc:
        ret = super().__new__(cls, name)
        ret.attrs = attrs or {}
        ret.global_init = global_init
        return ret

    def __reduce__(self) -> Any:
        return (InitDesc, (str(self), self.attrs, self.global_init))


def _mean_norm_stat(x: Any) -> str:
    """MXNet's default verbose statistic: ``norm(x) / sqrt(x.size)`` in ``x``'s dtype, as text."""
    import numpy as np

    from mxlite import backend

    host = np.asarray(backend.to_numpy(getattr(x, "_data", x)))
    if host.dtype.kind in "iub":
        norm_i = int(np.sqrt(np.sum(host.astype(np.float64) ** 2)))
        return str(norm_i // max(1, int(np.sqrt(host.size))))
    dtype = (
        host.dtype if host.dtype.kind == "f" and host.dtype.itemsize >= 2 else np.dtype(np.float32)
    )
    norm = dtype.type(np.sqrt(np.sum(host.astype(np.float64) ** 2)))
    return str(dtype.type(norm / dtype.type(np.sqrt(host.size))))


class Initializer:
    """Base class of initializers (``mx.init.Initializer``).

    Subclasses implement ``_init_weight(name, arr)`` and may override ``_init_bias``,
    ``_init_gamma``, ... ``arr`` is an NDArray to be written in place (``arr[:] = ...``).

    Args:
        **kwargs: the constructor arguments; ``dumps()`` serialises them.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._verbose = False
        self._print_func: Callable[[Any], str] | None = None

    # ------------------------------------------------------------------ verbosity and serialising
    def set_verbosity(
        self, verbose: bool = False, print_func: Callable[[Any], str] | None = None
    ) -> Initializer:
        """Switch verbose mode on or off; returns ``self``.

        Args:
            verbose: log ``Initialized <name> as <pattern>: <stat>`` (``logging.info``) per array.
            print_func: NDArray -> str statistic; defaults to ``norm(x) / sqrt(x.size)``.
        """
        self._verbose = verbose
        self._print_func = print_func if print_func is not None else _mean_norm_stat
        return self

    def _verbose_print(self, desc: Any, init: Any, arr: Any) -> None:
        if self._verbose and self._print_func:
            logging.info("Initialized %s as %s: %s", desc, init, self._print_func(arr))

    def dumps(self) -> str:
        """The initializer as JSON ``'["<lowercase class name>", {kwargs}]'``, which ``create`` reads."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def _fingerprint(self) -> str:
        """A deterministic text naming this initializer and its arguments (salts random streams).

        Cached while ``_kwargs`` holds the same objects (it is computed once per parameter
        otherwise, and JSON costs microseconds).
        """
        kwargs = self._kwargs
        cache = self.__dict__.get("_fingerprint_cache")
        if cache is not None and cache[0] is kwargs:
            try:  # tuple equality tries identity first: no array comparison when unchanged
                if cache[1] == tuple(kwargs.items()):
                    return str(cache[2])
            except (TypeError, ValueError):  # a replaced array argument
                pass
        text = json.dumps(
            [type(self).__name__.lower(), kwargs], sort_keys=True, default=_json_default
        )
        self.__dict__["_fingerprint_cache"] = (kwargs, tuple(kwargs.items()), text)
        return text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Initializer):
            return NotImplemented
        return type(self) is type(other) and self._kwargs == other._kwargs

    __hash__ = None  # type: ignore[assignment]  # MXNet defines __eq__ only: instances are unhashable

    # ------------------------------------------------------------------ dispatch
    def _route(self, desc: InitDesc) -> tuple[Initializer, str, Any]:
        """Which initializer object and method initialize ``desc``, and the label verbose mode prints."""
        if desc.global_init is None:
            desc.global_init = self
        init = desc.attrs.get("__init__", "")
        if init:
            target = create(init)
            # Load/Mixed (not Initializers) are called as a whole; MXNet cannot create them here.
            return target, "_init_weight" if isinstance(target, Initializer) else "__call__", init
        for suffix, method in _SUFFIX_METHODS:
            if desc.endswith(suffix):
                return self, method, suffix
        return self, "_init_default", None

    def __call__(self, desc: Any, arr: Any) -> None:
        """Initialize ``arr`` (an NDArray, written in place) as the descriptor ``desc`` says.

        Args:
            desc: an :class:`InitDesc` (a plain ``str`` takes MXNet's deprecated legacy path).
            arr: the array to fill.
        """
        if not isinstance(desc, InitDesc):
            self._legacy_init(desc, arr)
            return
        target, method, label = self._route(desc)
        invoke(target, method, desc, arr)
        if label is not None:
            self._verbose_print(desc, label, arr)

    def _legacy_init(self, name: Any, arr: Any) -> None:
        """MXNet's deprecated ``init(str, NDArray)`` dispatch."""
        from mxlite.ndarray.ndarray import NDArray

        warnings.warn(_MSG_LEGACY_CALL, DeprecationWarning, stacklevel=3)
        if not isinstance(name, str):
            raise TypeError("name must be string")
        if not isinstance(arr, NDArray):
            raise TypeError("arr must be NDArray")
        if name.startswith("upsampling"):
            self._init_bilinear(name, arr)
        elif name.startswith("stn_loc") and name.endswith("weight"):
            self._init_zero(name, arr)
        elif name.startswith("stn_loc") and name.endswith("bias"):
            self._init_loc_bias(name, arr)
        else:
            for suffix, method in _LEGACY_SUFFIX_METHODS:
                if name.endswith(suffix):
                    getattr(self, method)(name, arr)
                    return
            self._init_default(name, arr)

    # ------------------------------------------------------------------ default methods
    def _init_bilinear(self, _: Any, arr: Any) -> None:
        _fill.write(arr, _fill.bilinear_weights(arr))

    def _init_loc_bias(self, _: Any, arr: Any) -> None:
        if arr.shape[0] != 6:
            raise CheckError(
                f"stn_loc bias must have 6 elements in its first dimension, got shape {arr.shape}"
            )
        _fill.write(arr, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0])

    def _init_zero(self, _: Any, arr: Any) -> None:
        _fill.constant(arr, 0.0)

    def _init_one(self, _: Any, arr: Any) -> None:
        _fill.constant(arr, 1.0)

    def _init_bias(self, _: Any, arr: Any) -> None:
        _fill.constant(arr, 0.0)

    def _init_quantized_bias(self, _: Any, arr: Any) -> None:
        _fill.constant(arr, 0)

    def _init_gamma(self, _: Any, arr: Any) -> None:
        _fill.constant(arr, 1.0)

    def _init_beta(self, _: Any, arr: Any) -> None:
        _fill.constant(arr, 0.0)

    def _init_weight(self, name: Any, arr: Any) -> None:
        """Abstract method to initialize a weight."""
        raise NotImplementedError("Must override it")

    def _init_quantized_weight(self, name: Any, arr: Any) -> None:
        # MXNet draws ONE integer in [-127, 127) and broadcasts it to the whole array.
        _fill.constant(arr, _fill.random_int8(name, arr, self))

    def _init_default(self, name: Any, _: Any) -> None:
        raise ValueError(_MSG_UNKNOWN_PATTERN % name)

    # Fill plans (see mxlite.initializers._fill): the constant defaults are plannable.
    def _plan_zero(self, desc: Any, arr: Any) -> _fill.FillPlan:
        return _fill.FillPlan("constant", (0.0,))

    def _plan_one(self, desc: Any, arr: Any) -> _fill.FillPlan:
        return _fill.FillPlan("constant", (1.0,))


def invoke(target: Any, method: str, desc: InitDesc, arr: Any) -> None:
    """Run what :meth:`Initializer._route` chose. A whole-initializer call (Load, Mixed) gets the
    descriptor without its ``__init__`` override, so the initializers it delegates to dispatch on
    the name instead of recursing into the override."""
    if method == "__call__":
        attrs = {k: v for k, v in desc.attrs.items() if k != "__init__"}
        plain = InitDesc(str(desc), attrs, desc.global_init)
        plain._stream_name = desc._stream_name
        plain._draw = desc._draw
        desc = plain
    getattr(target, method)(desc, arr)


_SUFFIX_METHODS: tuple[tuple[str, str], ...] = (
    ("weight", "_init_weight"),
    ("bias", "_init_bias"),
    ("gamma", "_init_gamma"),
    ("beta", "_init_beta"),
    ("min", "_init_zero"),
    ("max", "_init_one"),
    ("weight_quantize", "_init_quantized_weight"),
    ("bias_quantize", "_init_quantized_bias"),
)
_LEGACY_SUFFIX_METHODS: tuple[tuple[str, str], ...] = (
    ("bias", "_init_bias"),
    ("gamma", "_init_gamma"),
    ("beta", "_init_beta"),
    ("weight", "_init_weight"),
    ("moving_mean", "_init_zero"),
    ("moving_var", "_init_one"),
    ("moving_inv_var", "_init_zero"),
    ("moving_avg", "_init_zero"),
    ("min", "_init_zero"),
    ("max", "_init_one"),
)

# The default constant methods are plannable (batched by init_many).
_fill.register_plan(Initializer._init_zero, "_plan_zero")
_fill.register_plan(Initializer._init_bias, "_plan_zero")
_fill.register_plan(Initializer._init_beta, "_plan_zero")
_fill.register_plan(Initializer._init_one, "_plan_one")
_fill.register_plan(Initializer._init_gamma, "_plan_one")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "asnumpy"):
        return obj.asnumpy().tolist()
    return f"<{type(obj).__name__}>"


# ---------------------------------------------------------------------------------------- registry
_REGISTRY: dict[str, type] = {}


def get_registry() -> dict[str, type]:
    """A copy of the name -> initializer class table."""
    return dict(_REGISTRY)


def _register_as(klass: type, name: str | None = None) -> type:
    if not (isinstance(klass, type) and issubclass(klass, Initializer)):
        raise CheckError("Can only register subclass of Initializer")
    key = (name if name is not None else klass.__name__).lower()
    old = _REGISTRY.get(key)
    if old is not None and old is not klass:
        warnings.warn(
            f"\033[91mNew initializer {klass.__module__}.{klass.__name__} registered with name {key} is"
            f"overriding existing initializer {old.__module__}.{old.__name__}\033[0m",
            UserWarning,
            stacklevel=3,
        )
    _REGISTRY[key] = klass
    return klass


def register(klass: _T) -> _T:
    """Register an Initializer subclass under its lower-cased class name (a class decorator).

    After ``@mx.init.register``, ``mx.init.create('myinit')`` and ``initialize(init='myinit')`` find it.

    Raises:
        CheckError: ``klass`` is not an Initializer subclass (an AssertionError, as in MXNet).
    """
    _register_as(klass)
    return klass


def alias(*aliases: str) -> Callable[[_T], _T]:
    """Class decorator registering an initializer under extra names: ``@alias('zeros')``."""

    def reg(klass: _T) -> _T:
        for name in aliases:
            _register_as(klass, name)
        return klass

    return reg


def _is_passthrough(obj: Any) -> bool:
    """Initializer-like objects ``create`` returns unchanged: Initializers, and Load/Mixed."""
    return isinstance(obj, Initializer) or bool(getattr(obj, "_mxlite_initializer_like", False))


def create(*args: Any, **kwargs: Any) -> Any:
    """Make an initializer from a name, a ``dumps()`` JSON string, a dict, an instance or a class.

    ``create('xavier', magnitude=2)``, ``create('["normal", {"sigma": 0.5}]')``,
    ``create('{"initializer": "one"}')``, ``create({'initializer': 'zeros'})``,
    ``create(initializer='uniform', scale=0.1)``, ``create(mx.init.One())`` (returned as is).
    Names are case-insensitive. mxlite also accepts an Initializer subclass (instantiated with
    ``args``/``kwargs``) and ``Load``/``Mixed`` instances (returned as is); MXNet rejects both.

    Raises:
        CheckError: the name is not registered, or the argument has the wrong type (an
            AssertionError, as in MXNet).
    """
    if args:
        name, rest = args[0], args[1:]
    else:
        if "initializer" not in kwargs:
            raise TypeError("create() needs an initializer: a name, a JSON string or an instance")
        name, rest = kwargs.pop("initializer"), ()
    if _is_passthrough(name):
        if rest or kwargs:
            raise CheckError("initializer is already an instance. Additional arguments are invalid")
        return name
    if isinstance(name, type) and issubclass(name, Initializer):
        return name(*rest, **kwargs)
    if isinstance(name, dict):
        return create(**name)
    if not isinstance(name, str):
        raise CheckError(
            "initializer must be of string type"
            f" (got {type(name).__name__}; pass a name like 'xavier', a dumps() string or an Initializer)"
        )
    if name.startswith("[") or name.startswith("{"):
        if rest or kwargs:
            raise CheckError("A JSON initializer description takes no extra arguments")
        spec = json.loads(name)
        if name.startswith("["):
            return create(spec[0], **spec[1])
        return create(**spec)
    key = name.lower()
    if key not in _REGISTRY:
        raise CheckError(_MSG_NOT_REGISTERED % key)
    return _REGISTRY[key](*rest, **kwargs)
