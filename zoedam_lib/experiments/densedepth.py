"""DenseDepth baseline run (paper §3.1.2, Table 2): build, train with eq. (1), evaluate, write its row.

Depth stays float metres end to end: the paper stored NYU depth as 0–255 uint8 images
(~4 cm steps); we train on the float maps. The model returns metres at half its input
resolution, and the shared evaluation (``compute_metrics``) up-samples them to the ground
truth (bilinear, align_corners=True) before the metrics, as for every other model.
"""

from __future__ import annotations

import torch
from torch import nn

from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.pipeline import ExperimentResult, train_evaluate_write
from zoedam_lib.experiments.presets import EXPERIMENTS, recipe_for
from zoedam_lib.experiments.recipes import Recipe, apply_overrides
from zoedam_lib.losses.densedepth import densedepth_loss_terms
from zoedam_lib.models.densedepth import PUBLISHED_PARAMETERS, build_densedepth
from zoedam_lib.training.distributed import unwrap
from zoedam_lib.utils.depth import valid_depth
from zoedam_lib.utils.seeding import seed_everything


def densedepth_step(model: nn.Module, batch: dict[str, torch.Tensor], lam: float = 0.1) -> tuple[torch.Tensor, dict]:
    """One training step's loss: eq. (1) on the normalised prediction against valid ground truth."""
    depth = batch["depth"]
    cfg = unwrap(model).config
    out = model(batch["image"])
    terms = densedepth_loss_terms(out["normalized"], depth, valid_depth(depth, max_depth=cfg.max_depth), lam=lam,
                                  min_depth=cfg.min_depth, max_depth=cfg.max_depth)
    return terms["total"], {k: float(v.detach()) for k, v in terms.items() if k != "total"}


def run_densedepth(ctx: RunContext, pretrained_encoder: bool = True, resume: bool = False,
                   recipe: Recipe | None = None, resume_override: tuple[str, ...] = (),
                   **overrides) -> ExperimentResult:
    """Train DenseDepth on the run's training split and write ``results/densedepth.json``.

    ``pretrained_encoder`` asks for torchvision's ImageNet DenseNet-169; offline the encoder
    starts random, said loudly and recorded in the results. ``overrides`` are flat recipe
    settings (``epochs``, ``decoder_width``, ``loss_lambda`` …; ``None`` keeps the preset's).
    ``resume_override``: settings a resume may change on purpose (see :func:`~.zoedam.run_zoedam`).
    """
    recipe = recipe_for("densedepth", ctx.preset, seed=ctx.seed, **overrides) if recipe is None \
        else apply_overrides(recipe, **overrides)
    opts = recipe.options
    seed_everything(recipe.train.seed)  # the decoder's (and offline, the encoder's) random weights
    model, init = build_densedepth(pretrained_encoder, img_size=tuple(recipe.img_size),
                                   decoder_width=opts.decoder_width)
    lam = opts.loss_lambda
    return train_evaluate_write(
        ctx, "densedepth", model, lambda net, batch: densedepth_step(net, batch, lam=lam), recipe,
        EXPERIMENTS["densedepth"].augment(), resume=resume, resume_override=resume_override,
        checkpoint_extra={"init": {"pretrained_encoder": model.config.pretrained_encoder, "summary": init}},
        extra={"init": init, "pretrained_encoder": model.config.pretrained_encoder,
               "depth_range": [model.config.min_depth, model.config.max_depth],
               "parameters": model.parameter_counts(), "published_parameters": PUBLISHED_PARAMETERS,
               "published_parameters_note": "DenseDepth paper §3, 'approximately 42.6M' (full-width decoder); "
                                            "quoted from memory, not verified against the text offline"})
