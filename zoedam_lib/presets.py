"""Recipes: what ``preset="paper"`` and ``preset="cpu"`` set for each model.

``paper`` is the paper's (and the official code's) recipe, for a GPU with NYU Depth V2.
``cpu`` is sized so each notebook trains in a few minutes on 2 CPU cores on SynthRooms: lower
network resolution, a few epochs, and (because no pretrained weights can be downloaded there)
full learning rates for parts that start random. Every number a notebook prints says which
recipe produced it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .config import replace
from .errors import ConfigError
from .training.trainer import TrainConfig

MODELS = ("zoedam", "densedepth", "zoedam_plus")


@dataclass
class Recipe:
    """Training and evaluation settings of one model under one preset."""

    preset: str  # paper | cpu
    img_size: tuple[int, int]  # network / training input size (H, W)
    train: TrainConfig = field(default_factory=TrainConfig)
    encoder_lr_factor: float = 50.0  # lr divisor of a pretrained encoder (1 when it starts random)
    pos_embed_lr_factor: float = 50.0  # lr divisor of its positional embedding
    decoder_lr_factor: float = 50.0  # lr divisor of a pretrained DPT decoder (1 when it starts random)
    n_train: int | None = None  # use only the first n training images (None: all)
    n_val: int | None = None  # test images for per-epoch validation (monitoring only; None: all)
    flip_tta: bool = True  # flip test-time augmentation in the final evaluation
    unlabeled_ratio: int = 2  # ZoeDAM+: unlabeled images per labeled image in a step
    n_unlabeled: int | None = None  # ZoeDAM+: unlabeled images used (None: all)
    student_init: str = "pretrained"  # ZoeDAM+: pretrained (DA/DINOv2 weights) | teacher
    decoder_width: float = 1.0  # DenseDepth: decoder width factor (1.0: PyTorch port, 42.6 M params; 0.5: Keras)

    def table(self) -> list[tuple[str, object]]:
        """(setting, value) rows for printing in a notebook."""
        rows = [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "train"]
        rows += [(f"train.{f.name}", getattr(self.train, f.name)) for f in dataclasses.fields(self.train)]
        return rows


def _paper(model: str) -> Recipe:
    if model == "zoedam":
        return Recipe("paper", (392, 518), TrainConfig(epochs=5, batch_size=4, lr=1.61e-4, weight_decay=0.01))
    if model == "densedepth":
        # DenseDepth: Adam, lr 1e-4, constant; 640x480 input, batch 4 on the paper's 6 GB GPU, 20 epochs.
        return Recipe("paper", (480, 640), TrainConfig(epochs=20, batch_size=4, lr=1e-4, weight_decay=0.0,
                                                       final_div_factor=1.0, cycle_momentum=False, clip_grad=0.0),
                      encoder_lr_factor=1.0, pos_embed_lr_factor=1.0, decoder_lr_factor=1.0)
    # ZoeDAM+ (§4.4): same lr, batch 2, one epoch.
    return Recipe("paper", (392, 518), TrainConfig(epochs=1, batch_size=2, lr=1.61e-4, weight_decay=0.01))


def _cpu(model: str) -> Recipe:
    if model == "zoedam":
        # Everything starts random (offline): 98x126 network input (7x9 patches), batch 4, warm-up to
        # lr 5e-4 for all parts, 4 epochs — ~4-5 min on 2 cores; beats the average baseline on every
        # SynthRooms metric (AbsRel ~0.20 vs 0.34).
        return Recipe("cpu", (98, 126), TrainConfig(epochs=4, batch_size=4, lr=5e-4, weight_decay=0.01,
                                                    div_factor=10.0, pct_start=0.3),
                      encoder_lr_factor=1.0, pos_embed_lr_factor=1.0, decoder_lr_factor=1.0, n_val=48)
    if model == "densedepth":
        # Random encoder (offline), half-width decoder, 64x96 input:
        # ~2.5 min on 2 cores for 216 steps, and it beats the average baseline on every SynthRooms metric.
        return Recipe("cpu", (64, 96), TrainConfig(epochs=4, batch_size=8, lr=5e-4, weight_decay=0.0,
                                                     div_factor=10.0, pct_start=0.3, cycle_momentum=False,
                                                     clip_grad=1.0),
                      encoder_lr_factor=1.0, pos_embed_lr_factor=1.0, decoder_lr_factor=1.0, n_val=48,
                      decoder_width=0.5)
    # The student starts as a copy of the (randomly initialised, CPU-trained) teacher: one epoch of
    # 1 labeled : 2 unlabeled steps at lr 1e-4 (~4 min on 2 cores).
    return Recipe("cpu", (98, 126), TrainConfig(epochs=1, batch_size=4, lr=1e-4, weight_decay=0.01,
                                                div_factor=1.0, pct_start=0.3),
                  encoder_lr_factor=1.0, pos_embed_lr_factor=1.0, decoder_lr_factor=1.0, n_val=48,
                  student_init="teacher", n_unlabeled=300)


def recipe_for(model: str, preset: str, *, epochs: int | None = None, batch_size: int | None = None,
               lr: float | None = None, seed: int | None = None, **overrides) -> Recipe:
    """The recipe of ``model`` under ``preset`` ("paper" or "cpu"), with notebook overrides (None: keep)."""
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; expected one of {MODELS}")
    if preset not in ("paper", "cpu"):
        raise ConfigError(f"preset must be 'paper' or 'cpu' here (resolve 'auto' with setup_run), got {preset!r}")
    recipe = _paper(model) if preset == "paper" else _cpu(model)
    train = {k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed}.items()
             if v is not None}
    if train:
        recipe = replace(recipe, train=replace(recipe.train, **train))
    return replace(recipe, **overrides) if overrides else recipe
