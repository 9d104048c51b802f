"""Strict dataclass configs: unknown fields are errors, not silently ignored.

ZoeDepth merged configuration from six sources into an EasyDict, so a typo in a key simply had
no effect. Here every config is a dataclass and :func:`from_dict` rejects keys it does not
know, naming the valid ones, and values of the wrong type (``"n_bins": "64"`` from a hand-edited
config.json would otherwise fail deep inside a model constructor, or not at all).
"""

from __future__ import annotations

import dataclasses
import numbers
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from zoedam_lib.utils.errors import ConfigError

T = TypeVar("T")


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and values of the wrong type (per the
    fields' annotations: int, float, bool, str, tuples, optionals) and recursing into nested dataclasses.

    A class may list removed fields in a ``legacy_fields`` class variable (name → the one value
    that behaves as the current code does): saved configs holding them at that value still load,
    any other value is an error naming it.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{cls.__name__} needs an object of fields, got {type(data).__name__}: {data!r:.80}")
    data = _drop_legacy(cls, data)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{cls.__name__} got unknown field(s) {unknown}; valid fields are {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        kind = hints.get(name)
        if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            value = from_dict(kind, value)
        elif not _matches(value, kind):
            raise ConfigError(f"{cls.__name__}.{name} must be {_describe(kind)}, got {value!r} "
                              f"({type(value).__name__})")
        elif isinstance(value, list) and _is_tuple_type(kind):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def to_dict(obj: Any) -> dict[str, Any]:
    """JSON-friendly dict of a dataclass (tuples become lists)."""
    return dataclasses.asdict(obj)


def replace(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` with the same unknown-field error as :func:`from_dict`."""
    names = {f.name for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ConfigError(f"{type(obj).__name__} has no field(s) {unknown}; valid fields are {sorted(names)}")
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


def _drop_legacy(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without ``cls.legacy_fields`` that hold their only supported value."""
    data = dict(data)
    for name, supported in getattr(cls, "legacy_fields", {}).items():
        if name in data:
            value = data.pop(name)
            if value != supported:
                raise ConfigError(f"{cls.__name__}: {name}={value!r} is no longer supported; only {supported!r} "
                                  f"is implemented (the field was removed). Set {name} to {supported!r} or remove it.")
    return data
def _matches(value: Any, kind: Any) -> bool:
    """Whether ``value`` (as read from JSON) fits the annotation ``kind``; unknown kinds are left to the class."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if _is_tuple_type(kind):
        if not isinstance(value, (list, tuple)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return not args or (len(args) == len(value) and all(_matches(v, a) for v, a in zip(value, args, strict=True)))
    if kind is dict or origin is dict:
        return isinstance(value, Mapping)
    return True


def _describe(kind: Any) -> str:
    return getattr(kind, "__name__", None) if typing.get_origin(kind) is None else str(kind).replace("typing.", "")


def _is_tuple_type(kind: Any) -> bool:
    return typing.get_origin(kind) is tuple or kind is tuple
