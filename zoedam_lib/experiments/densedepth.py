"""DenseDepth baseline run (paper §3.1.2, Table 2): build, train with eq. (1), evaluate, write its row.

Depth stays float metres end to end: the paper stored NYU depth as 0–255 uint8 images
(~4 cm steps); we train on the float maps. The model returns metres at half its input
resolution, and the shared evaluation (``compute_metrics``) up-samples them to the ground
truth (bilinear, align_corners=True) before the metrics, as for every other model.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..data.augment import densedepth_augmentation
from ..losses import valid_depth
from ..losses.densedepth import densedepth_loss_terms
from ..models.densedepth import PUBLISHED_PARAMETERS, build_densedepth
from ..presets import Recipe, recipe_for
from ..run import RunContext
from .common import ExperimentResult, train_evaluate_write


def densedepth_step(model: nn.Module, batch: dict[str, torch.Tensor], lam: float = 0.1) -> tuple[torch.Tensor, dict]:
    """One training step's loss: eq. (1) on the normalised prediction against valid ground truth."""
    depth = batch["depth"]
    cfg = model.module.config if hasattr(model, "module") else model.config
    out = model(batch["image"])
    terms = densedepth_loss_terms(out["normalized"], depth, valid_depth(depth, max_depth=cfg.max_depth), lam=lam,
                                  min_depth=cfg.min_depth, max_depth=cfg.max_depth)
    return terms["total"], {k: float(v.detach()) for k, v in terms.items() if k != "total"}


def run_densedepth(ctx: RunContext, pretrained_encoder: bool = True, epochs: int | None = None,
                   batch_size: int | None = None, lr: float | None = None, resume: bool = False,
                   recipe: Recipe | None = None, decoder_width: float | None = None,
                   lam: float = 0.1) -> ExperimentResult:
    """Train DenseDepth on the run's training split and write ``results/densedepth.json``.

    ``pretrained_encoder`` asks for torchvision's ImageNet DenseNet-169; offline the encoder
    starts random, said loudly and recorded in the results. ``decoder_width`` defaults to
    the recipe's.
    """
    recipe = recipe or recipe_for("densedepth", ctx.preset, epochs=epochs, batch_size=batch_size, lr=lr,
                                  seed=ctx.seed)
    width = recipe.decoder_width if decoder_width is None else decoder_width
    model, init = build_densedepth(pretrained_encoder, img_size=tuple(recipe.img_size), decoder_width=width)
    counts = model.parameter_counts()
    return train_evaluate_write(
        ctx, "densedepth", model, partial(densedepth_step, lam=lam), recipe, densedepth_augmentation(),
        resume=resume,
        extra={"init": init, "pretrained_encoder": model.config.pretrained_encoder, "decoder_width": width,
               "loss_lambda": lam, "depth_range": [model.config.min_depth, model.config.max_depth],
               "parameters": counts, "published_parameters": PUBLISHED_PARAMETERS,
               "published_parameters_note": "DenseDepth paper §3, 'approximately 42.6M' (full-width decoder); "
                                            "quoted from memory, not verified against the text offline"})
