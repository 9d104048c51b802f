"""ZoeDAM fine-tuning (paper §4.3): build from pretrained weights or random, train with SILog, evaluate."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from zoedam_lib.checkpoints import load_checkpoint
from zoedam_lib.data.augment import Transform
from zoedam_lib.data.datasets import ConcatDepthDataset, DepthDataset
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.synthrooms.generate import ensure_domain
from zoedam_lib.data.zoom import RandomZoom
from zoedam_lib.experiments.camera import lens_rooms, train_camera_head
from zoedam_lib.experiments.camera_joint import joint_step, with_camera_rooms
from zoedam_lib.experiments.concurrent import run_concurrently
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.pipeline import ExperimentResult, train_evaluate_write
from zoedam_lib.experiments.presets import EXPERIMENTS, recipe_for
from zoedam_lib.experiments.recipes import Recipe, ZoeDAMOptions, apply_overrides
from zoedam_lib.losses.silog import silog_loss
from zoedam_lib.models.predict import is_camera_aware
from zoedam_lib.models.zoedam import ZoeDAM, ZoeDAMConfig
from zoedam_lib.utils.config import to_dict
from zoedam_lib.utils.depth import valid_depth
from zoedam_lib.utils.seeding import seed_everything
from zoedam_lib.weights import packaged_weights


@dataclass
class Init:
    """How a model was initialised before training; saved in its checkpoint's config.json (``init``)."""

    pretrained: str | None  # the weights it started from (any source load_model accepts), None: random
    decoder: str = "pretrained"  # pretrained | random: whether a Depth Anything decoder was loaded too
    loaded_parts: tuple[str, ...] = field(default_factory=tuple)  # parts that started from those weights
    summary: str = ""  # one line for humans


AUTO = "auto"  # pretrained="auto": the preset's initialisation (see default_pretrained)


def default_pretrained(preset: str, backbone: str) -> str | None:
    """What ``pretrained="auto"`` means: the paper's Depth Anything checkpoint for the backbone under the
    ``paper`` preset (§3.2: "initialized with pre-trained checkpoint ... provided in Depth Anything"), and
    the project's own SynthDA under ``cpu`` (the only pretrained weights available offline; ViT-S only,
    other backbones start random, said loudly)."""
    if preset == "paper":
        return f"depth_anything_{backbone}14"
    return f"synthda_{backbone}14" if packaged_weights(f"synthda_{backbone}14") is not None else None


def build_zoedam(backbone: str = "vits", pretrained: str | None = None, decoder: str = "pretrained",
                 img_size: tuple[int, int] = (392, 518), verbose: bool = True, **config: Any) -> tuple[ZoeDAM, Init]:
    """A ZoeDAM to fine-tune: from ``pretrained`` weights (any source ``load_model`` accepts) or random.

    ``config``: further :class:`ZoeDAMConfig` fields (a camera-aware model's, see :func:`camera_config`).
    Returns the model (train mode) and how it was initialised.
    """
    if pretrained is None:
        model = ZoeDAM(ZoeDAMConfig(backbone=backbone, img_size=img_size, **config))
        init = Init(None, decoder, (), f"RANDOM initialisation of the whole ZoeDAM-{backbone[-1].upper()} (no "
                                       "pretrained weights given): expect far weaker results than the paper, whose "
                                       "encoder starts from Depth Anything")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model, report = load_checkpoint(pretrained, backbone=backbone, decoder=decoder, img_size=img_size,
                                            **config)
        parts = ("encoder", "decoder", "head") if report.loaded_parts == ("whole model",) else report.loaded_parts
        init = Init(str(pretrained), decoder, tuple(parts), report.summary())
    if verbose:
        print(("!!! " if pretrained is None else "") + init.summary)
    return model.train(), init


def lr_factors(init: Init, options: ZoeDAMOptions) -> dict[str, float]:
    """Per-part lr divisors: the recipe's for parts loaded from pretrained weights, 1 for parts that start random."""
    loaded = set(init.loaded_parts)
    return {"encoder_lr_factor": options.encoder_lr_factor if "encoder" in loaded else 1.0,
            "pos_embed_lr_factor": options.pos_embed_lr_factor if "encoder" in loaded else 1.0,
            "decoder_lr_factor": options.decoder_lr_factor if "decoder" in loaded else 1.0}


def camera_config(options: ZoeDAMOptions) -> dict[str, Any]:
    """The ZoeDAMConfig fields of a recipe's camera: none for the paper's camera-blind model; for a
    canonical one its depth range in canonical metres and, unless ``camera_head_epochs`` is 0, a camera head."""
    if options.camera == "blind":
        return {}
    return {"camera": "canonical", "max_depth": options.canonical_max_depth,
            "camera_head": options.camera_head_epochs > 0}


def fit_camera_head(ctx: RunContext, options: ZoeDAMOptions, seed: int, model: nn.Module) -> dict[str, Any]:
    """Train a camera-aware model's camera head on SynthRooms' ``lenses`` domain (beside the run's data)."""
    if model.camera_head is None:
        return {}
    with NyuMat(ensure_domain("lenses", ctx.data_path.parent)) as lenses:
        report = train_camera_head(model, lenses, epochs=options.camera_head_epochs, seed=seed)
    print(f"camera head: {report.n_train} lenses images, {report.epochs} epochs, {report.seconds:.0f} s; "
          f"held-out focal error median {report.holdout_median_error:.1%}, 90th percentile "
          f"{report.holdout_p90_error:.1%} ({report.n_holdout} images)")
    return {"camera_head": to_dict(report)}


def with_lens_rooms(ctx: RunContext, options: ZoeDAMOptions, augment: Transform, zoom: RandomZoom | None,
                    seed: int) -> Callable[[DepthDataset], Dataset] | None:
    """The training set's wrapper that adds ``options.lens_rooms`` rooms of other cameras (None: none asked).

    They get the run's augmentation and zoom; a camera-blind model learns their metric labels as they
    are (one network for every camera, as ZoeDepth's mixed-dataset training), a canonical one in
    canonical metres. Validation stays on the run's own rooms.
    """
    if options.lens_rooms == 0:
        return None
    extra = lens_rooms(ctx.data_path.parent, options.lens_rooms, augment, zoom, seed)
    return lambda labeled: ConcatDepthDataset([labeled, extra])


def silog_step(model: nn.Module, batch: dict[str, torch.Tensor], beta: float = 0.15) -> tuple[torch.Tensor, dict]:
    """One labeled step: SILog of the metric prediction against valid ground truth.

    A camera-aware model gets each image's (zoomed) camera, so its canonical depth d_c is compared
    as d_c · f / f_c with the metric label: SILog of that is SILog of d_c against the canonical
    label d · f_c / f (the log of a common factor cancels), so this *is* training on canonical labels.
    """
    depth = batch["depth"]
    out = model(batch["image"], camera=batch["camera"]) if is_camera_aware(model) else model(batch["image"])
    return silog_loss(out, depth, valid_depth(depth), beta=beta), {}


def _silog_step(beta: float):
    """The trainer's loss: :func:`silog_step` looked up at call time (tests replace it to hold a run)."""
    return lambda model, batch: silog_step(model, batch, beta=beta)


def _joint_step(options: ZoeDAMOptions):
    """The trainer's loss with the camera head trained alongside (:mod:`.camera_joint`)."""
    return lambda model, batch: joint_step(model, batch, options.silog_beta, options.camera_loss_weight)


def _train_set_fn(ctx: RunContext, options: ZoeDAMOptions, augment: Transform, zoom: RandomZoom | None,
                  seed: int) -> Callable[[DepthDataset], Dataset] | None:
    """The wrappers of the training set: rooms of other cameras for the depth, then for the camera loss."""
    depth_rooms = with_lens_rooms(ctx, options, augment, zoom, seed)
    if options.camera_rooms == 0:
        return depth_rooms
    camera_rooms = with_camera_rooms(ctx.data_path.parent, options.camera_rooms, augment, zoom, seed + 2)
    return camera_rooms if depth_rooms is None else (lambda labeled: camera_rooms(depth_rooms(labeled)))


def run_zoedam(ctx: RunContext, backbone: str = "vits", pretrained: str | None = AUTO,
               decoder: str = "pretrained", resume: bool = False, recipe: Recipe | None = None,
               key: str | None = None, resume_override: tuple[str, ...] = (), **overrides) -> ExperimentResult:
    """Fine-tune ZoeDAM on the run's training split and write ``results/<key>.json``.

    ``pretrained``: weights to start from (any source ``load_model`` accepts), ``"auto"`` for the
    preset's (:func:`default_pretrained`), or None for a random initialisation.

    ``overrides`` are flat recipe settings (``epochs``, ``lr``, ``silog_beta`` …; ``None`` keeps the
    preset's), applied to ``recipe`` or to the preset's. ``key`` defaults to ``zoedam_<backbone>``.
    ``resume`` continues ``<out_dir>/runs/<key>`` when its settings are this call's; ``resume_override``
    names settings it may change on purpose (e.g. ``("lr",)``; recorded in the run's history).
    """
    recipe = recipe_for("zoedam", ctx.preset, seed=ctx.seed, **overrides) if recipe is None \
        else apply_overrides(recipe, **overrides)
    if pretrained == AUTO:
        pretrained = default_pretrained(recipe.preset, backbone)
    seed_everything(recipe.train.seed)  # random parts: the same whatever ran before in this process
    options = recipe.options
    model, init = build_zoedam(backbone, pretrained, decoder, recipe.img_size, **camera_config(options))
    factors = lr_factors(init, options)
    groups = model.param_groups(recipe.train.lr, **factors)
    joint = options.camera_loss_weight > 0
    if joint:  # the camera head learns with the depth, at the metric head's rate
        groups.append({"name": "camera_head", "params": list(model.camera_head.parameters()), "lr": recipe.train.lr})
    aware = options.camera == "canonical"
    zoom = RandomZoom((options.zoom_min, options.zoom_max), options.zoom_p) if aware else None
    augment = EXPERIMENTS["zoedam"].augment()
    return train_evaluate_write(ctx.with_camera_sets() if aware else ctx, key or f"zoedam_{backbone}", model,
                                _joint_step(options) if joint else _silog_step(options.silog_beta), recipe, augment,
                                param_groups=groups, resume=resume, resume_override=resume_override,
                                zoom=zoom, train_set_fn=_train_set_fn(ctx, options, augment, zoom, recipe.train.seed),
                                after_fit=partial(fit_camera_head, ctx, options, recipe.train.seed) if aware else None,
                                identity={"pretrained": pretrained, "decoder": decoder},
                                checkpoint_extra={"init": to_dict(init)},
                                extra={"init": init.summary, "pretrained": pretrained, "decoder": decoder,
                                       "lr_factors": factors, "parameters": model.parameter_counts()})



def run_beta_ablation(ctx: RunContext, betas: tuple[float, ...] = (0.0, 0.15), backbone: str = "vits",
                      pretrained: str | None = AUTO, **overrides) -> dict[float, ExperimentResult]:
    """The same short fine-tuning with each SILog β, evaluated on the test split only (no zero-shot sets).

    β = 0 is the paper's eq. (2), blind to a global scale; ZoeDepth's β = 0.15 keeps a little of
    the scale in the loss. Results are written as ``ablation_beta<β>`` rows. The runs are
    independent and run side by side on a CPU (:func:`~.concurrent.run_concurrently`).
    """
    quick = replace(ctx, zero_shot={})
    calls = {f"β = {beta:g}": partial(run_zoedam, quick, backbone, pretrained, key=f"ablation_beta{beta:g}",
                                      silog_beta=beta, **overrides) for beta in betas}
    return dict(zip(betas, run_concurrently(calls, ctx.device).values(), strict=True))
