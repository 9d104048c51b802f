"""Recipes: the settings of one model under one preset, and the one way to override them.

A :class:`Recipe` holds what every trained model shares (network input size, the trainer's
:class:`TrainConfig`, how much data, flip TTA) and, in ``options``, what only its model has
(ZoeDAM's per-part learning-rate divisors and SILog β, DenseDepth's decoder width, ZoeDAM+'s
unlabeled ratio). Notebooks and the CLI change recipes only through :func:`apply_overrides`,
with flat names, so a typo is an error that lists the valid names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from zoedam_lib.camera.canonical import CAMERA_MODES
from zoedam_lib.training.trainer import TrainConfig
from zoedam_lib.utils.config import replace
from zoedam_lib.utils.errors import ConfigError

PRESETS = ("paper", "cpu", "smoke")
STUDENT_INITS = ("pretrained", "teacher")


@dataclass
class ZoeDAMOptions:
    """ZoeDAM fine-tuning (paper §4.3; the official Depth Anything metric recipe)."""

    encoder_lr_factor: float = 50.0  # lr divisor of a pretrained encoder (1 when it starts random)
    pos_embed_lr_factor: float = 50.0  # lr divisor of its positional embedding
    decoder_lr_factor: float = 50.0  # lr divisor of a pretrained DPT decoder (1 when it starts random)
    silog_beta: float = 0.15  # ZoeDepth's SILog weight of the squared mean log error; 0 = paper eq. (2)
    camera: str = "blind"  # blind: one training camera (the paper) | canonical: camera-aware (camera.canonical)
    zoom_min: float = 0.5  # canonical: random zoom's focal factors, log-uniform in [zoom_min, zoom_max] ...
    zoom_max: float = 1.6
    zoom_p: float = 0.75  # ... applied to this fraction of the training images
    canonical_max_depth: float = 20.0  # canonical: the depth range in canonical metres (a 0.5x lens doubles depth)
    camera_head_epochs: int = 40  # canonical: epochs of the camera head on the lenses domain (0: no head)
    lens_rooms: int = 0  # rooms of other cameras (SynthRooms' lenses domain) added to the training images
    camera_loss_weight: float = 0.0  # canonical: > 0 trains the camera head with the depth (experiments.camera_joint)
    camera_rooms: int = 0  # ... and adds this many lenses rooms for that camera loss only (their depth unlearned)

    def __post_init__(self) -> None:
        if self.camera not in CAMERA_MODES:
            raise ConfigError(f"camera must be one of {CAMERA_MODES}, got {self.camera!r}")
        if isinstance(self.lens_rooms, bool) or not isinstance(self.lens_rooms, int) or self.lens_rooms < 0:
            raise ConfigError(f"lens_rooms must be a number of rooms >= 0, got {self.lens_rooms!r}")
        if isinstance(self.camera_rooms, bool) or not isinstance(self.camera_rooms, int) or self.camera_rooms < 0:
            raise ConfigError(f"camera_rooms must be a number of rooms >= 0, got {self.camera_rooms!r}")
        if not (isinstance(self.camera_loss_weight, (int, float)) and 0 <= self.camera_loss_weight < float("inf")):
            raise ConfigError(f"camera_loss_weight must be a finite number >= 0, got {self.camera_loss_weight!r}")
        if (self.camera_loss_weight > 0 or self.camera_rooms > 0) and (
                self.camera != "canonical" or self.camera_head_epochs == 0 or self.camera_loss_weight == 0):
            raise ConfigError("camera_loss_weight and camera_rooms train a camera head with the depth: they need "
                              "camera='canonical', camera_head_epochs > 0 and camera_loss_weight > 0")


@dataclass
class DenseDepthOptions:
    """DenseDepth (paper §3.1.2–4)."""

    decoder_width: float = 1.0  # decoder channels factor (1.0: PyTorch port, 42.6 M params; 0.5: Keras)
    loss_lambda: float = 0.1  # λ of the depth L1 term in eq. (1)


@dataclass
class ZoeDAMPlusOptions(ZoeDAMOptions):
    """The ZoeDAM+ student (paper §3.3, §4.4)."""

    unlabeled_ratio: int = 2  # unlabeled images per labeled image in a step
    n_unlabeled: int | None = None  # unlabeled images used (None: all)
    student_init: str = "pretrained"  # pretrained (start like the teacher's encoder did) | teacher (a copy)
    pseudo_tta: bool = False  # pseudo-labels with flip TTA (the teacher's mean over the image and its mirror)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.camera_loss_weight or self.camera_rooms:  # the student's loss is its own (semi.student)
            raise ConfigError("camera_loss_weight and camera_rooms belong to ZoeDAM's fine-tuning, not the ZoeDAM+ "
                              "student: train the teacher with them (run_zoedam) and the student without")
        if self.student_init not in STUDENT_INITS:
            raise ConfigError(f"student_init must be one of {STUDENT_INITS}, got {self.student_init!r}")


@dataclass
class PretrainOptions:
    """SynthDA pretraining: Depth Anything's teacher stage (relative disparity, affine-invariant loss)."""

    backbone: str = "vits"  # DINOv2 encoder size
    n_holdout: int = 200  # pretraining images held out (seeded) to measure relative-depth quality


Options = ZoeDAMOptions | DenseDepthOptions | ZoeDAMPlusOptions | PretrainOptions


@dataclass
class Recipe:
    """Training and evaluation settings of one model under one preset."""

    preset: str  # paper | cpu | smoke
    img_size: tuple[int, int]  # network / training input size (H, W)
    train: TrainConfig = field(default_factory=TrainConfig)
    options: Options = field(default_factory=ZoeDAMOptions)  # the model's own settings
    n_train: int | None = None  # use only the first n training images (None: all)
    n_val: int | None = None  # validation images (carved from training) per epoch (None: all of them)
    flip_tta: bool = True  # flip test-time augmentation in the final evaluation
    # intra-op CPU threads for training and the final evaluation (None: torch's current count); a CPU result
    # depends on it (float summation order, utils/threads.py), so CPU recipes pin it
    threads: int | None = None

    def __post_init__(self) -> None:
        # 0 read as "all" (a falsy test) and negatives sliced from the end, recorded as given in the results
        for name in ("n_train", "n_val"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a number of images >= 1, or None for all of them; got {value!r}")

    def table(self) -> list[tuple[str, object]]:
        """(setting, value) rows for printing in a notebook: every setting, flat names."""
        return [(name, value) for name, (_, value) in _flat(self).items()]


MONITORING = ("n_val", "flip_tta")  # validation size and the final evaluation's TTA: they never change the weights


def recipe_identity(recipe: Recipe) -> dict[str, Any]:
    """The recipe settings a resumed run must share with the saved run (see ``training.identity``):
    all but the trainer's own (the Trainer compares those) and the monitoring ones."""
    return {name: value for name, (part, value) in _flat(recipe).items() if part != "train" and name not in MONITORING}


def _flat(recipe: Recipe) -> dict[str, tuple[str, Any]]:
    """Flat name → (where it lives: "recipe" | "train" | "options", value)."""
    out: dict[str, tuple[str, Any]] = {}
    for part, obj in (("recipe", recipe), ("train", recipe.train), ("options", recipe.options)):
        for f in dataclasses.fields(obj):
            if part == "recipe" and f.name in ("train", "options"):
                continue
            out[f.name] = (part, getattr(obj, f.name))
    return out


def apply_overrides(recipe: Recipe, **overrides: Any) -> Recipe:
    """``recipe`` with flat overrides (``epochs=2``, ``decoder_width=0.5``); ``None`` values keep the recipe's.

    A name may belong to the recipe, its :class:`TrainConfig` or its model options; an unknown
    name is an error listing the valid ones (a misspelt setting must never be silently ignored).
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    where = _flat(recipe)
    unknown = sorted(set(overrides) - set(where))
    if unknown:
        raise ConfigError(f"unknown recipe setting(s) {unknown} for a {type(recipe.options).__name__} recipe; "
                          f"valid settings are {sorted(where)}")
    parts: dict[str, dict[str, Any]] = {"recipe": {}, "train": {}, "options": {}}
    for name, value in overrides.items():
        parts[where[name][0]][name] = value
    if parts["train"]:
        recipe = replace(recipe, train=replace(recipe.train, **parts["train"]))
    if parts["options"]:
        recipe = replace(recipe, options=replace(recipe.options, **parts["options"]))
    return replace(recipe, **parts["recipe"]) if parts["recipe"] else recipe
