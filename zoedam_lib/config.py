"""Strict dataclass configs: unknown fields are errors, not silently ignored.

ZoeDepth merged configuration from six sources into an EasyDict, so a typo in a key simply had
no effect. Here every config is a dataclass and :func:`from_dict` rejects keys it does not
know, naming the valid ones.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and recursing into nested dataclasses.

    A class may list removed fields in a ``legacy_fields`` class variable (name → the one value
    that behaves as the current code does): saved configs holding them at that value still load,
    any other value is an error naming it.
    """
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


def _is_tuple_type(kind: Any) -> bool:
    return typing.get_origin(kind) is tuple or kind is tuple
