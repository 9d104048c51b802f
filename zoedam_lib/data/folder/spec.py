"""How a folder of RGB-D pairs is to be read: depth unit, valid range, size; from dataset.json and arguments.

Depth PNGs are integers whose unit is not in the file, so a folder dataset must describe itself:
an optional ``dataset.json`` beside ``images/`` + ``depth/`` (or beside the manifest) states the
unit and the valid range once, and every later run, notebook or colleague reads the same metres.
Explicit arguments (:class:`FolderConfig`, the CLI's ``--depth-unit``) override it for one run;
fields left ``None`` fall through to ``dataset.json``, then to NYU-like defaults. What the decoded
depth values must look like under these rules is :mod:`.depth_checks`'.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoedam_lib.camera.intrinsics import validate_intrinsics
from zoedam_lib.data.depth_unit import SCENE_MEDIANS_M
from zoedam_lib.io.images import MAX_PIXELS
from zoedam_lib.utils.config import from_dict
from zoedam_lib.utils.errors import ConfigError, DataFileError

DATASET_JSON = "dataset.json"
DEPTH_UNITS = {"mm": 1e-3, "kitti": 1.0 / 256.0, "tum": 1.0 / 5000.0}  # metres per stored unit of a 16-bit PNG
DEFAULT_UNIT = "mm"
DEFAULT_RANGE = (1e-3, 10.0)  # metres, NYU's evaluation range


@dataclass(frozen=True)
class FolderConfig:
    """Options of a folder dataset; ``None`` means "as in dataset.json, else the default".

    Args:
        name: label in run descriptions and results (default: the folder's name).
        depth_unit: unit of 16-bit depth PNGs: ``mm`` (default; ScanNet, RealSense, the NYU toolbox),
            ``kitti`` (value / 256 m) or ``tum`` (TUM RGB-D's 5000 units per metre: read as mm, such
            depth is 5x too far). ``.npy`` depth is always float metres. 8-bit PNGs are refused.
        depth_scale: metres per PNG unit, for any other unit (e.g. 1e-4 for 0.1 mm); overrides depth_unit.
        min_depth, max_depth: valid depth range in metres; values outside it read as 0 (invalid).
            Default 1e-3..10 like NYU; outdoor data needs e.g. ``max_depth=80``.
        scene: ``indoor`` (median depth 0.5-8 m), ``outdoor`` (2-80 m) or ``close-range`` (0.05-2 m);
            a median outside it stops the run as a wrong unit. Default: indoor, outdoor when
            ``max_depth`` is above 10 m.
        size: (H, W) every pair is resized to when read (image bilinear, depth nearest); needed for
            training and evaluation when the images do not all share one size.
        intrinsics: (fx, fy, cx, cy) in pixels at the files' resolution, for items without their own.
        verify: decode every file when opening and skip unreadable or all-invalid pairs (slower open).
        attrs: free-form provenance (generator, source, ...) copied into the reader's ``attrs``.
    """

    name: str | None = None
    depth_unit: str | None = None
    depth_scale: float | None = None
    min_depth: float | None = None
    max_depth: float | None = None
    scene: str | None = None
    size: tuple[int, int] | None = None
    intrinsics: tuple[float, float, float, float] | None = None
    verify: bool | None = None
    attrs: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.depth_unit is not None and self.depth_unit not in DEPTH_UNITS:
            raise ConfigError(f"depth_unit must be one of {sorted(DEPTH_UNITS)}, got {self.depth_unit!r}; "
                              "for any other unit give depth_scale (metres per stored unit) instead")
        if self.depth_scale is not None and not (_finite(self.depth_scale) and self.depth_scale > 0):
            raise ConfigError(f"depth_scale must be a positive number of metres per stored unit (1e-3 for mm), "
                              f"got {self.depth_scale!r}")
        for key in ("min_depth", "max_depth"):
            value = getattr(self, key)
            if value is not None and not (_finite(value) and value >= 0):
                raise ConfigError(f"{key} must be a non-negative number of metres, got {value!r}")
        if self.scene is not None and self.scene not in SCENE_MEDIANS_M:
            raise ConfigError(f"scene must be one of {sorted(SCENE_MEDIANS_M)}, got {self.scene!r}")
        if self.size is not None:
            size = tuple(self.size)
            if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
                raise ConfigError(f"size must be two positive integers (H, W), got {self.size!r}")
            _check_size_bounded(size)
            object.__setattr__(self, "size", size)
        if self.intrinsics is not None:
            object.__setattr__(self, "intrinsics", validate_intrinsics(self.intrinsics, where="intrinsics"))
        if self.verify is not None and not isinstance(self.verify, bool):
            raise ConfigError(f"verify must be true or false, got {self.verify!r}")
        if self.name is not None and not (isinstance(self.name, str) and self.name.strip()):
            raise ConfigError(f"name must be a non-empty string, got {self.name!r}")
        if self.attrs is not None and not isinstance(self.attrs, dict):
            raise ConfigError(f"attrs must be a JSON object (dict), got {type(self.attrs).__name__}")

    def is_empty(self) -> bool:
        """True when no option is set (nothing to apply, e.g. to an NYU ``.mat`` file)."""
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))


@dataclass(frozen=True)
class FolderSpec:
    """The resolved, concrete reading rules of one folder dataset (see :func:`resolve_spec`)."""

    name: str
    depth_unit: str  # "mm", "kitti" or "<scale> m/unit" for a custom depth_scale
    depth_scale: float  # metres per stored PNG unit
    min_depth: float
    max_depth: float
    scene: str  # a key of depth_unit.SCENE_MEDIANS_M: which median depths are plausible
    size: tuple[int, int] | None
    intrinsics: tuple[float, float, float, float] | None
    verify: bool
    attrs: dict[str, Any]
    source: str  # where the unit came from: "default", "dataset.json" or "arguments"


def parse_depth_unit(text: str | None) -> FolderConfig | None:
    """The CLI's ``--depth-unit``: ``mm``, ``kitti`` or a number of metres per unit (e.g. ``0.0001``)."""
    if text is None:
        return None
    if text in DEPTH_UNITS:
        return FolderConfig(depth_unit=text)
    try:
        return FolderConfig(depth_scale=float(text))
    except ValueError:
        raise ConfigError(f"--depth-unit must be {' or '.join(sorted(DEPTH_UNITS))} or metres per stored unit "
                          f"(e.g. 0.0001), got {text!r}") from None


def unit_scale(config: FolderConfig | None) -> float:
    """Metres per stored unit that ``config`` states (``depth_scale``, else ``depth_unit``), 1.0 if neither:
    how an NYU-layout file, whose depths are metres unless said otherwise, is to be read."""
    if config is None:
        return 1.0
    return float(config.depth_scale or DEPTH_UNITS.get(config.depth_unit or "", 1.0))


def load_dataset_json(root: Path) -> FolderConfig | None:
    """``root/dataset.json`` as a FolderConfig (None if absent); unknown keys are errors, not ignored."""
    path = root / DATASET_JSON
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataFileError(f"{path} is not readable JSON ({e}); fix or delete it. {json_example()}") from e
    if not isinstance(obj, dict):
        raise DataFileError(f"{path} must hold a JSON object, got {type(obj).__name__}. {json_example()}")
    try:
        return from_dict(FolderConfig, obj)
    except (ConfigError, TypeError) as e:
        raise DataFileError(f"{path}: {e}. {json_example()}") from e


def resolve_spec(root: Path, default_name: str, config: FolderConfig | None) -> FolderSpec:
    """Defaults, overridden by ``root/dataset.json``, overridden by ``config``'s non-None fields."""
    layers = [("dataset.json", load_dataset_json(root)), ("arguments", config)]
    merged: dict[str, Any] = {}
    unit_layer: tuple[str, FolderConfig] | None = None
    for source, layer in layers:
        if layer is None:
            continue
        merged.update({f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)
                       if getattr(layer, f.name) is not None})
        if layer.depth_unit is not None or layer.depth_scale is not None:
            unit_layer = (source, layer)  # a layer's unit replaces a lower layer's unit as a whole
    source, unit, scale = "default", DEFAULT_UNIT, DEPTH_UNITS[DEFAULT_UNIT]
    if unit_layer is not None:
        source, layer = unit_layer
        if layer.depth_scale is not None:
            scale = float(layer.depth_scale)
            unit = next((k for k, v in DEPTH_UNITS.items() if math.isclose(v, scale)), f"{scale:g} m/unit")
            if layer.depth_unit is not None and unit != layer.depth_unit:
                raise ConfigError(f"{source} gives depth_unit {layer.depth_unit!r} and depth_scale {scale:g}, "
                                  "which disagree; give only one of them")
        else:
            unit, scale = layer.depth_unit, DEPTH_UNITS[layer.depth_unit]
    min_depth = float(merged.get("min_depth", DEFAULT_RANGE[0]))
    max_depth = float(merged.get("max_depth", DEFAULT_RANGE[1]))
    if not min_depth < max_depth:
        raise ConfigError(f"min_depth {min_depth:g} m must be below max_depth {max_depth:g} m "
                          f"(dataset.json in {root} or arguments)")
    return FolderSpec(name=str(merged.get("name") or default_name), depth_unit=unit, depth_scale=scale,
                      min_depth=min_depth, max_depth=max_depth,
                      scene=merged.get("scene") or ("outdoor" if max_depth > DEFAULT_RANGE[1] else "indoor"),
                      size=merged.get("size"),
                      intrinsics=merged.get("intrinsics"), verify=bool(merged.get("verify", False)),
                      attrs=dict(merged.get("attrs") or {}), source=source)


def json_example() -> str:
    """A valid dataset.json, quoted in errors so the fix can be copied."""
    return ('A valid dataset.json looks like {"name": "my_rgbd", "depth_unit": "mm", "max_depth": 10} '
            f"(keys: {', '.join(f.name for f in dataclasses.fields(FolderConfig))}).")


def _check_size_bounded(size: tuple[int, int]) -> None:
    """Refuse a ``size`` whose pairs could not be held in memory, before a pixel is allocated.

    Every read resizes to ``size``, so a typo such as ``[60000, 80000]`` would ask for 4800 MP
    per pair (~34 GB: uint8 RGB plus float32 depth) and end in a bare MemoryError deep in numpy.
    The bound is the one photos have at inference (:data:`~zoedam_lib.io.images.MAX_PIXELS`).
    """
    h, w = size
    if h * w > MAX_PIXELS:
        raise ConfigError(f"size {list(size)} is {h}x{w} = {h * w / 1e6:.0f} MP per pair, above the limit of "
                          f"{MAX_PIXELS / 1e6:g} MP that keeps memory bounded (a pair read at that size takes "
                          f"~{h * w * 7 / 1e9:.0f} GB). It is the size every pair is resized to on read: give the "
                          "size to train at, e.g. [480, 640]")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
