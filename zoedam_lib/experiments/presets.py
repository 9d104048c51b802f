"""The experiment table: every trainable model, its recipe per preset, its augmentation and loss.

One table drives the notebooks' ``preset`` parameter, the CLI's ``--model`` and ``--preset``
choices and the recipes printed beside every number. ``paper`` is the paper's (and the official
code's) recipe, for a GPU with NYU Depth V2; ``cpu`` is sized so each notebook trains in a few
minutes on 2 CPU cores on SynthRooms. The cpu numbers were chosen on SynthRooms' validation split.
``smoke`` is the test suite's: the ``cpu`` recipe on 64 training images for one epoch, so nbval runs
every cell of every notebook in minutes; its numbers measure nothing and are never reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zoedam_lib.data.augment import Transform, densedepth_augmentation, zoedepth_augmentation
from zoedam_lib.experiments.recipes import (
    PRESETS,
    DenseDepthOptions,
    PretrainOptions,
    Recipe,
    ZoeDAMOptions,
    ZoeDAMPlusOptions,
    apply_overrides,
)
from zoedam_lib.training.trainer import TrainConfig
from zoedam_lib.utils.config import replace
from zoedam_lib.utils.errors import ConfigError

# The course's CPU trainings run on one intra-op thread however they are launched: make demo trains two
# runs side by side on two cores (one thread each) and notebook 03 beside 04 under OMP_NUM_THREADS=1,
# while nbval, a lone papermill run and Colab run one notebook alone. One pinned count gives all of them
# the same numbers (utils/threads.py says why the count matters); SynthDA's 30-min pretraining, a job
# on its own, keeps torch's count.
CPU_THREADS = 1


@dataclass(frozen=True)
class Experiment:
    """One trainable model: what it is, its recipe under each preset, its training augmentation."""

    description: str
    recipes: dict[str, Callable[[], Recipe]]  # preset → a fresh recipe
    augment: Callable[[], Transform]  # training augmentation (image and depth jointly)


def _zoedam_paper() -> Recipe:
    # Paper §4.3: AdamW, lr 1.61e-4, batch 4, 5 epochs at 392x518; pretrained parts at lr/50 (official recipe).
    return Recipe("paper", (392, 518), TrainConfig(epochs=5, batch_size=4, lr=1.61e-4, weight_decay=0.01),
                  ZoeDAMOptions())


def _zoedam_cpu() -> Recipe:
    # 98x126 network input (7x9 patches, SynthDA's size), batch 4, warm-up to lr 5e-4 for the new metric
    # head; parts loaded from SynthDA at lr/10 (its weights are far less settled than Depth Anything's,
    # for which the official recipe uses lr/50). Parts that start random train at the full rate:
    # lr_factors() replaces a factor by 1 for them, so a random-init run uses the same recipe.
    return Recipe("cpu", (98, 126), TrainConfig(epochs=3, batch_size=4, lr=5e-4, weight_decay=0.01,
                                                div_factor=10.0, pct_start=0.3),
                  ZoeDAMOptions(encoder_lr_factor=10.0, pos_embed_lr_factor=10.0, decoder_lr_factor=10.0), n_val=48,
                  threads=CPU_THREADS)


def _densedepth_paper() -> Recipe:
    # DenseDepth: Adam, lr 1e-4, constant; 640x480 input, batch 4 on the paper's 6 GB GPU, 20 epochs.
    return Recipe("paper", (480, 640), TrainConfig(epochs=20, batch_size=4, lr=1e-4, weight_decay=0.0,
                                                   final_div_factor=1.0, cycle_momentum=False, clip_grad=0.0),
                  DenseDepthOptions(decoder_width=1.0))


def _densedepth_cpu() -> Recipe:
    # Half-width decoder, 64x96 input: ~2.5 min on 2 cores for 216 steps.
    return Recipe("cpu", (64, 96), TrainConfig(epochs=4, batch_size=8, lr=5e-4, weight_decay=0.0, div_factor=10.0,
                                               pct_start=0.3, cycle_momentum=False, clip_grad=1.0),
                  DenseDepthOptions(decoder_width=0.5), n_val=48, threads=CPU_THREADS)


def _zoedam_plus_paper() -> Recipe:
    # Paper §4.4: same lr as ZoeDAM, batch 2, one epoch.
    return Recipe("paper", (392, 518), TrainConfig(epochs=1, batch_size=2, lr=1.61e-4, weight_decay=0.01),
                  ZoeDAMPlusOptions())


def _zoedam_plus_cpu() -> Recipe:
    # The student starts as the teacher's encoder did (SynthDA; the paper keeps "DINOv2 pre-trained
    # checkpoints") and learns from 1 labeled : 1 pseudo-labelled unlabeled image per step, with the
    # teacher's recipe (lr, lr/10 for pretrained parts, epochs), so student and teacher see the same
    # labeled steps.
    return Recipe("cpu", (98, 126), TrainConfig(epochs=3, batch_size=4, lr=5e-4, weight_decay=0.01,
                                                div_factor=10.0, pct_start=0.3),
                  ZoeDAMPlusOptions(encoder_lr_factor=10.0, pos_embed_lr_factor=10.0, decoder_lr_factor=10.0,
                                    unlabeled_ratio=1, student_init="pretrained", n_unlabeled=300), n_val=48,
                  threads=CPU_THREADS)


def _synthda_cpu() -> Recipe:
    # Depth Anything's teacher stage in miniature: ViT-S/14 + DPT from scratch on SynthRooms' pretrain
    # domain at 98x126 (the ZoeDAM cpu preset's size), batch 16, AdamW with a short warm-up to 5e-4,
    # bf16 autocast where the CPU has native bf16 (amp auto): ~40 min on 2 cores.
    return Recipe("cpu", (98, 126), TrainConfig(epochs=7, batch_size=16, lr=5e-4, weight_decay=0.01,
                                                div_factor=10.0, pct_start=0.1, clip_grad=1.0),
                  PretrainOptions(), n_val=64, flip_tta=False)


EXPERIMENTS: dict[str, Experiment] = {
    "zoedam": Experiment("ZoeDAM: Depth Anything core + ZoeDepth metric bins, SILog (paper §3.2, §4.3)",
                         {"paper": _zoedam_paper, "cpu": _zoedam_cpu}, zoedepth_augmentation),
    "densedepth": Experiment("DenseDepth: DenseNet-169 U-Net, eq. (1) loss (paper §3.1.2-4)",
                             {"paper": _densedepth_paper, "cpu": _densedepth_cpu}, densedepth_augmentation),
    "zoedam_plus": Experiment("ZoeDAM+: teacher-student on pseudo-labelled unlabeled images (paper §3.3, §4.4)",
                              {"paper": _zoedam_plus_paper, "cpu": _zoedam_plus_cpu}, zoedepth_augmentation),
    "synthda": Experiment("SynthDA: a miniature Depth Anything (relative disparity) pretrained on SynthRooms",
                          {"cpu": _synthda_cpu}, zoedepth_augmentation),
}


# smoke: what the cpu recipe becomes for the test suite's run-through of the notebooks (conftest.py). The
# settings that exist in every recipe, then the per-model ones that the recipe's options have.
SMOKE = {"epochs": 1, "n_train": 64, "n_val": 8}
SMOKE_OPTIONS = {"camera_head_epochs": 2, "n_unlabeled": 32}


def _smoke(recipe: Recipe) -> Recipe:
    """The ``cpu`` recipe shrunk to a run-through: same sizes and code paths, a fraction of the steps."""
    options = {k: v for k, v in SMOKE_OPTIONS.items() if hasattr(recipe.options, k)}
    return replace(apply_overrides(recipe, **SMOKE, **options), preset="smoke")


def recipe_for(model: str, preset: str, **overrides) -> Recipe:
    """The recipe of ``model`` under ``preset`` with flat overrides (``None``: keep), see :func:`apply_overrides`."""
    if model not in EXPERIMENTS:
        raise ConfigError(f"unknown model {model!r}; expected one of {tuple(EXPERIMENTS)}")
    if preset not in PRESETS:
        raise ConfigError(f"preset must be one of {PRESETS} here (resolve 'auto' with setup_run), got {preset!r}")
    recipes = EXPERIMENTS[model].recipes
    if preset == "smoke" and "cpu" in recipes:
        return apply_overrides(_smoke(recipes["cpu"]()), **overrides)
    if preset not in recipes:
        raise ConfigError(f"{model} has no {preset!r} recipe; it has {tuple(recipes)}")
    return apply_overrides(recipes[preset](), **overrides)


def recipe_line(recipe: Recipe, keys: Sequence[str], n_val_available: int) -> str:
    """The notebooks' one-line recipe (markdown): the settings ``keys`` in the recipe's order.

    ``n_val`` is a cap (the ``cpu`` recipes validate on at most 48 images); the line shows how many
    validation images the run really uses, ``min(n_val, n_val_available)``, beside the cap, so a
    43-image validation split is not reported as 48.
    """
    parts = []
    for name, value in recipe.table():
        if name not in keys:
            continue
        if name == "n_val":
            used = n_val_available if value is None else min(value, n_val_available)
            value = f"{used}" + (f" (cap {value})" if value is not None and value != used else "")
        parts.append(f"{name}={value}")
    return f"**Recipe `{recipe.preset}`**: " + ", ".join(parts)
