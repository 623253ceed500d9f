"""Name registries for serializable objects (``mxnet.registry``): register, alias, create.

A registry maps lower-cased names to subclasses of one base class. ``create`` accepts a name
(case-insensitive) with constructor arguments, an instance (returned as is), a config dict, or
the JSON forms ``'["name", {kwargs}]'`` and ``'{"<nickname>": "name", ...}'``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from mxlite.base import CheckError

__all__ = ["get_registry", "get_register_func", "get_alias_func", "get_create_func"]

_T = TypeVar("_T", bound=type)
_REGISTRY: dict[type, dict[str, type]] = {}


def get_registry(base_class: type) -> dict[str, type]:
    """A copy of the name -> class table of ``base_class``."""
    return dict(_REGISTRY.setdefault(base_class, {}))


def get_register_func(base_class: type, nickname: str) -> Callable[..., Any]:
    """A ``register(klass, name=None)`` class decorator for subclasses of ``base_class``.

    ``nickname`` names the kind of object in messages (``'metric'``).
    """
    registry = _REGISTRY.setdefault(base_class, {})

    def register(klass: _T, name: str | None = None) -> _T:
        if not (isinstance(klass, type) and issubclass(klass, base_class)):
            raise CheckError(f"Can only register subclass of {base_class.__name__}")
        key = (klass.__name__ if name is None else name).lower()
        old = registry.get(key)
        if old is not None and old is not klass:
            warnings.warn(
                f"\033[91mNew {nickname} {klass.__module__}.{klass.__name__} registered with name "
                f"{key} is overriding existing {nickname} {old.__module__}.{old.__name__}\033[0m",
                UserWarning,
                stacklevel=2,
            )
        registry[key] = klass
        return klass

    register.__doc__ = f"Register {nickname} to the {nickname} factory"
    return register


def get_alias_func(base_class: type, nickname: str) -> Callable[..., Any]:
    """An ``alias(*names)`` class decorator registering a class under extra names."""
    register = get_register_func(base_class, nickname)

    def alias(*aliases: str) -> Callable[[_T], _T]:
        def reg(klass: _T) -> _T:
            for name in aliases:
                register(klass, name)
            return klass

        return reg

    return alias


def get_create_func(base_class: type, nickname: str) -> Callable[..., Any]:
    """A ``create(name_or_instance, *args, **kwargs)`` factory for ``base_class``.

    The returned function raises CheckError (an AssertionError, as MXNet's asserts) for an
    unregistered name, a non-string name, or extra arguments next to an instance or JSON.
    """
    registry = _REGISTRY.setdefault(base_class, {})

    def create(*args: Any, **kwargs: Any) -> Any:
        if args:
            name, args = args[0], args[1:]
        else:
            if nickname not in kwargs:
                raise TypeError(f"create() needs the {nickname} to create (a name or an instance)")
            name = kwargs.pop(nickname)
        if isinstance(name, base_class):
            if args or kwargs:
                raise CheckError(
                    f"{nickname} is already an instance. Additional arguments are invalid"
                )
            return name
        if isinstance(name, dict):
            return create(**name)
        if not isinstance(name, str):
            raise CheckError(f"{nickname} must be of string type")
        if name.startswith("[") or name.startswith("{"):
            if args or kwargs:
                raise CheckError(f"a JSON {nickname} description takes no extra arguments")
            spec = json.loads(name)
            if name.startswith("["):
                return create(spec[0], **spec[1])
            return create(**spec)
        key = name.lower()
        if key not in registry:
            raise CheckError(
                f"{key} is not registered. Please register with {nickname}.register first"
            )
        return registry[key](*args, **kwargs)

    create.__doc__ = f"Create a {nickname} instance from a name, a config or an instance."
    return create
