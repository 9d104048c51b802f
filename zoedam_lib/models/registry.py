"""A plain table of model builders: name → (config class, model class).

Our own checkpoints store the model name and its config; loading looks the builder up here.
No ``import_module(f"...{name}")``: an unknown name is an error listing the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from zoedam_lib.utils.config import from_dict
from zoedam_lib.utils.errors import ConfigError


def _zoedam() -> tuple[type, type]:
    from zoedam_lib.models.zoedam import ZoeDAM, ZoeDAMConfig

    return ZoeDAMConfig, ZoeDAM


def _densedepth() -> tuple[type, type]:
    from zoedam_lib.models.densedepth import DenseDepth, DenseDepthConfig

    return DenseDepthConfig, DenseDepth


def _average() -> tuple[type, type]:
    from zoedam_lib.models.average import AverageDepth, AverageDepthConfig

    return AverageDepthConfig, AverageDepth


def _relative() -> tuple[type, type]:
    from zoedam_lib.models.relative import RelativeDepthConfig, RelativeDepthModel

    return RelativeDepthConfig, RelativeDepthModel


BUILDERS: dict[str, Callable[[], tuple[type, type]]] = {"zoedam": _zoedam, "densedepth": _densedepth,
                                                        "average": _average, "relative": _relative}


def build_model(name: str, config: Mapping[str, Any] | None = None) -> nn.Module:
    """Build model ``name`` from a config dict (unknown fields are errors)."""
    if name not in BUILDERS:
        raise ConfigError(f"unknown model {name!r}; known models: {sorted(BUILDERS)}")
    config_cls, model_cls = BUILDERS[name]()
    return model_cls(from_dict(config_cls, config or {}))


def model_name(model: nn.Module) -> str:
    """The registry name of a model instance (its class's ``registry_name``)."""
    name = getattr(type(model), "registry_name", None)
    if name not in BUILDERS:
        raise ConfigError(f"{type(model).__name__} is not a registered model ({sorted(BUILDERS)})")
    return name
