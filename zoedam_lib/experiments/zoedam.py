"""ZoeDAM fine-tuning (paper §4.3): build from pretrained weights or random, train with SILog, evaluate."""

from __future__ import annotations

import warnings
from functools import partial

import torch
from torch import nn

from ..checkpoints import load_model
from ..data.augment import zoedepth_augmentation
from ..losses import valid_depth
from ..losses.silog import silog_loss
from ..models.zoedam import ZoeDAM, ZoeDAMConfig
from ..presets import Recipe, recipe_for
from ..run import RunContext
from .common import ExperimentResult, train_evaluate_write


def build_zoedam(backbone: str = "vits", pretrained: str | None = None, decoder: str = "pretrained",
                 img_size: tuple[int, int] = (392, 518), verbose: bool = True) -> tuple[ZoeDAM, str]:
    """A ZoeDAM to fine-tune: from ``pretrained`` weights (any source ``load_model`` accepts) or random.

    Returns the model (train mode) and a one-line description of its initialisation.
    """
    if pretrained is None:
        model = ZoeDAM(ZoeDAMConfig(backbone=backbone, img_size=img_size))
        init = (f"RANDOM initialisation of the whole ZoeDAM-{backbone[-1].upper()} (no pretrained weights given): "
                "expect far weaker results than the paper, whose encoder starts from Depth Anything")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model = load_model(pretrained, backbone=backbone, decoder=decoder, img_size=img_size)
        init = model.load_report.summary()
    if verbose:
        print(("!!! " if pretrained is None else "") + init)
    return model.train(), init


def lr_factors(model: ZoeDAM, recipe: Recipe) -> dict[str, float]:
    """Per-part lr divisors: the recipe's for pretrained parts, 1 for parts that start random."""
    report = getattr(model, "load_report", None)
    loaded = set(report.loaded_parts) if report else set()
    if "whole model" in loaded:
        loaded = {"encoder", "decoder", "head"}
    return {"encoder_lr_factor": recipe.encoder_lr_factor if "encoder" in loaded else 1.0,
            "pos_embed_lr_factor": recipe.pos_embed_lr_factor if "encoder" in loaded else 1.0,
            "decoder_lr_factor": recipe.decoder_lr_factor if "decoder" in loaded else 1.0}


def silog_step(model: nn.Module, batch: dict[str, torch.Tensor], beta: float = 0.15) -> tuple[torch.Tensor, dict]:
    """One labeled step: SILog of the metric prediction against valid ground truth."""
    depth = batch["depth"]
    out = model(batch["image"])
    return silog_loss(out, depth, valid_depth(depth), beta=beta), {}


def run_zoedam(ctx: RunContext, backbone: str = "vits", pretrained: str | None = None,
               decoder: str = "pretrained", epochs: int | None = None, batch_size: int | None = None,
               lr: float | None = None, beta: float = 0.15, resume: bool = False,
               recipe: Recipe | None = None) -> ExperimentResult:
    """Fine-tune ZoeDAM on the run's training split and write ``results/zoedam_<backbone>.json``."""
    recipe = recipe or recipe_for("zoedam", ctx.preset, epochs=epochs, batch_size=batch_size, lr=lr, seed=ctx.seed)
    model, init = build_zoedam(backbone, pretrained, decoder, recipe.img_size)
    factors = lr_factors(model, recipe)
    groups = model.param_groups(recipe.train.lr, **factors)
    key = f"zoedam_{backbone}"
    return train_evaluate_write(ctx, key, model, partial(silog_step, beta=beta), recipe, zoedepth_augmentation(),
                                param_groups=groups, resume=resume,
                                extra={"init": init, "pretrained": pretrained, "decoder": decoder,
                                       "silog_beta": beta, "lr_factors": factors,
                                       "parameters": model.parameter_counts()})
