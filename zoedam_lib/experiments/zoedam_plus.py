"""ZoeDAM+ (paper §3.3, §4.4): a ZoeDAM teacher pseudo-labels unlabeled images, a student learns from both.

The teacher is the ZoeDAM trained on labeled data (notebook 04). The student starts either like
the teacher's encoder did (``pretrained``; the paper keeps "DINOv2 pre-trained checkpoints") or
as a copy of the teacher, and trains on labeled SILog plus the CutMix affine-invariant loss on
strongly perturbed unlabeled images. Student and teacher are evaluated on the same test split
so the notebook can say whether the unlabeled images helped.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from zoedam_lib.data.synthrooms.generate import UNLABELED_DIR
from zoedam_lib.data.unlabeled import UnlabeledImages
from zoedam_lib.data.zoom import RandomZoom
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.evaluation_cache import evaluate_once
from zoedam_lib.experiments.pipeline import ExperimentResult, train_evaluate_write
from zoedam_lib.experiments.presets import EXPERIMENTS, recipe_for
from zoedam_lib.experiments.recipes import Recipe, ZoeDAMPlusOptions, apply_overrides
from zoedam_lib.experiments.teacher import build_pseudo_labels, load_teacher
from zoedam_lib.experiments.zoedam import Init, build_zoedam, lr_factors, with_lens_rooms
from zoedam_lib.models.predict import model_device
from zoedam_lib.models.zoedam import ZoeDAM
from zoedam_lib.semi.cutmix import apply_cutmix, cutmix_box
from zoedam_lib.semi.perturb import strong_perturb
from zoedam_lib.semi.pseudo_labels import PseudoLabelCache, fingerprint, teacher_predict
from zoedam_lib.semi.student import SemiSupervisedDataset, ZoeDAMPlusLossConfig, make_student_step
from zoedam_lib.training import distributed as dist_utils
from zoedam_lib.utils.config import replace, to_dict
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.paths import display_path
from zoedam_lib.utils.seeding import seed_everything

KEY = "zoedam_plus"
PSEUDO_MODES = ("cache", "on_the_fly")


@dataclass
class ZoeDAMPlusResult:
    """The student's training result, the teacher's evaluation, and what is needed for figures."""

    student: ExperimentResult
    teacher_evaluation: EvalResult | None  # None on DDP ranks other than 0
    teacher_zero_shot: dict[str, EvalResult] | None  # the teacher on the run's zero-shot sets
    teacher: ZoeDAM
    unlabeled: UnlabeledImages
    pseudo: PseudoLabelCache | None  # None in on-the-fly mode
    loss_config: ZoeDAMPlusLossConfig
    init: str  # how the student was initialised
    pseudo_tta: bool = False  # pseudo-labels with flip TTA (the cache's own setting in cache mode)

    def example_inputs(self, k: int = 4, seed: int = 0, cutmix_p: float = 1.0) -> dict[str, torch.Tensor]:
        """``k`` unlabeled images through the student's input pipeline (see :func:`example_inputs`)."""
        return example_inputs(self.unlabeled, self.teacher, self.loss_config, k, seed, self.pseudo, cutmix_p,
                              self.pseudo_tta)


def example_inputs(unlabeled: UnlabeledImages, teacher: nn.Module, cfg: ZoeDAMPlusLossConfig, k: int = 4,
                   seed: int = 0, pseudo: PseudoLabelCache | None = None,
                   cutmix_p: float = 1.0, tta: bool = False) -> dict[str, torch.Tensor]:
    """Clean, perturbed and CutMixed unlabeled images with masks and pseudo-labels (the paper's Fig. 5).

    The same steps as a training step, with a seeded generator and by default a CutMix on every
    image (``cutmix_p=1``) so each example shows one. Keys: ``clean``, ``perturbed``, ``mixed``
    (B, 3, H, W); ``mask`` (B, 1, H, W) bool; ``pseudo`` (teacher depth on the clean image) and
    ``pseudo_mixed`` (the target the student is held to) (B, 1, H, W); ``partner`` (u_a of each
    image) and ``index``. ``tta``: flip-TTA pseudo-labels when there is no cache (a cache knows its own).
    """
    k = min(k, len(unlabeled))
    index = torch.from_numpy(np.linspace(0, len(unlabeled) - 1, k).round().astype(np.int64))
    clean = torch.stack([unlabeled[int(i)]["image"] for i in index])
    if pseudo is not None:
        depth = torch.stack([pseudo.get(int(i)) for i in index])
    else:
        depth = teacher_predict(teacher, clean.to(model_device(teacher)), tta).cpu()
    size = tuple(clean.shape[-2:])
    depth = torch.nn.functional.interpolate(depth, size=size, mode="bilinear", align_corners=True)
    gen = torch.Generator().manual_seed(seed)
    perturbed = strong_perturb(clean, cfg.perturb, gen)
    mask = cutmix_box(k, *size, p=cutmix_p, generator=gen)
    partner = torch.roll(torch.arange(k), 1)
    return {"clean": clean, "perturbed": perturbed, "mixed": apply_cutmix(perturbed[partner], perturbed, mask),
            "mask": mask, "pseudo": depth, "pseudo_mixed": apply_cutmix(depth[partner], depth, mask),
            "partner": partner, "index": index}


def build_student(teacher: ZoeDAM, teacher_source: str, teacher_init: dict | None, how: str,
                  img_size: tuple[int, int]) -> tuple[ZoeDAM, Init]:
    """The student (train mode) and how it was initialised (said loudly).

    ``teacher``: a copy of the teacher. ``pretrained``: the paper keeps "DINOv2 pre-trained
    checkpoints" for the student, i.e. it starts as the teacher's encoder did; that is read from
    the teacher checkpoint's own record of its initialisation.
    """
    if how == "teacher":
        student = ZoeDAM(replace(teacher.config, img_size=img_size))
        student.load_state_dict(teacher.state_dict())
        init = Init(teacher_source, "pretrained", ("encoder", "decoder", "head"),
                    f"ZoeDAM+ student = a COPY of the teacher ({display_path(teacher_source)})")
    else:
        if teacher_init is None or "pretrained" not in teacher_init:
            raise ConfigError("student_init='pretrained' starts the student like the teacher's encoder, but how the "
                              f"teacher was initialised is unknown ({teacher_source}: its config.json has no 'init' "
                              "record). Pass student_init='teacher' to start from a copy of the teacher.")
        camera = {"camera": "canonical", "max_depth": teacher.config.max_depth} \
            if teacher.config.camera == "canonical" else {}  # the teacher's camera mode; no camera head
        student, like = build_zoedam(teacher.config.backbone, teacher_init["pretrained"],
                                     teacher_init.get("decoder", "pretrained"), img_size, verbose=False, **camera)
        init = replace(like, summary=f"ZoeDAM+ student initialised like the teacher was: {like.summary}")
    print("!!! " + init.summary)
    return student.train(), init


def _recipe(pseudo_labels: str, recipe: Recipe | None, ctx: RunContext, overrides: dict) -> Recipe:
    if pseudo_labels not in PSEUDO_MODES:
        raise ConfigError(f"pseudo_labels must be one of {PSEUDO_MODES}, got {pseudo_labels!r}")
    return recipe_for(KEY, ctx.preset, seed=ctx.seed, **overrides) if recipe is None \
        else apply_overrides(recipe, **overrides)


def _unlabeled(ctx: RunContext, teacher: ZoeDAM, unlabeled_dirs, pseudo_labels: str,
               recipe: Recipe) -> tuple[UnlabeledImages, PseudoLabelCache | None]:
    """The unlabeled images and, in ``cache`` mode, the teacher's pseudo-labels of them (built by rank 0)."""
    opts: ZoeDAMPlusOptions = recipe.options  # type: ignore[assignment]
    dirs = unlabeled_dirs if unlabeled_dirs is not None else [ctx.data_path.parent / UNLABELED_DIR]
    images = UnlabeledImages(dirs, n=opts.n_unlabeled, seed=ctx.seed, size=recipe.img_size)
    if pseudo_labels != "cache":
        return images, None
    cache = PseudoLabelCache(ctx.out_dir / "pseudo_labels", teacher, images, ctx.device,
                             batch_size=recipe.train.batch_size * opts.unlabeled_ratio, tta=opts.pseudo_tta)
    main = dist_utils.is_main_process()
    if main:  # one rank computes; the others find every entry done
        build_pseudo_labels(cache)
    dist_utils.barrier()
    if not main:
        cache.build()
    return images, cache


def prepare_teacher(ctx: RunContext, teacher: str | os.PathLike | nn.Module | None = None,
                    unlabeled_dirs: list[str | os.PathLike] | str | os.PathLike | None = None,
                    pseudo_labels: str = "cache", recipe: Recipe | None = None, **overrides) -> None:
    """The work a student and its control share, done once: the teacher's pseudo-labels and evaluation.

    Call it with :func:`run_zoedam_plus`'s arguments before running several students side by side
    (:func:`~.concurrent.run_concurrently`): each then finds both on disk instead of computing them.
    """
    recipe = _recipe(pseudo_labels, recipe, ctx, overrides)
    teacher_model, _, _ = load_teacher(ctx, teacher)
    _unlabeled(ctx, teacher_model, unlabeled_dirs, pseudo_labels, recipe)
    evaluate_once(_scored_on(ctx, teacher_model), teacher_model, recipe.flip_tta)


def _scored_on(ctx: RunContext, model: ZoeDAM) -> RunContext:
    """The run's sets for ``model``: a camera-aware model (and so its student) is scored on the other lenses too."""
    return ctx.with_camera_sets() if model.config.camera == "canonical" else ctx


def run_zoedam_plus(ctx: RunContext, teacher: str | os.PathLike | nn.Module | None = None,
                    unlabeled_dirs: list[str | os.PathLike] | str | os.PathLike | None = None,
                    pseudo_labels: str = "cache", resume: bool = False, recipe: Recipe | None = None,
                    loss_config: ZoeDAMPlusLossConfig | None = None, key: str = KEY,
                    resume_override: tuple[str, ...] = (), **overrides) -> ZoeDAMPlusResult:
    """Train the ZoeDAM+ student, evaluate student and teacher, write ``results/<key>.json``.

    ``overrides`` are flat recipe settings (``epochs``, ``unlabeled_ratio``, ``n_unlabeled``,
    ``student_init``, ``pseudo_tta`` (flip-TTA pseudo-labels) …; ``None`` keeps the preset's).
    ``pseudo_labels``: ``cache`` (computed once per image under ``out_dir/pseudo_labels``, shared by
    pools of any size) or ``on_the_fly`` (the teacher predicts inside every step).
    ``loss_config``: the objective (CutMix probability, perturbations, feature alignment …).
    ``key`` names the results row (variants beside the paper's ZoeDAM+ get their own).
    ``resume_override``: settings a resume may change on purpose (see :func:`~.zoedam.run_zoedam`).
    """
    recipe = _recipe(pseudo_labels, recipe, ctx, overrides)
    opts: ZoeDAMPlusOptions = recipe.options  # type: ignore[assignment]
    cfg = loss_config or ZoeDAMPlusLossConfig()
    seed_everything(recipe.train.seed)  # the student's random parts: the same whatever ran before in this process
    teacher_model, source, teacher_init = load_teacher(ctx, teacher)
    student, init = build_student(teacher_model, source, teacher_init, opts.student_init, recipe.img_size)
    images, cache = _unlabeled(ctx, teacher_model, unlabeled_dirs, pseudo_labels, recipe)
    frozen = None
    if cfg.feature_alignment:  # Depth Anything's frozen encoder: the student as initialised
        frozen = copy.deepcopy(student).to(ctx.device).eval().requires_grad_(False)
    factors = lr_factors(init, opts)
    aware = student.config.camera == "canonical"  # a camera-aware teacher makes a camera-aware student
    ctx = _scored_on(ctx, student)  # the teacher's evaluation: the same sets, as prepare_teacher computed it
    teacher_eval, teacher_zero_shot = (evaluate_once(ctx, teacher_model, recipe.flip_tta)
                                       if dist_utils.is_main_process() else (None, None))
    augment = EXPERIMENTS[KEY].augment()
    zoom = RandomZoom((opts.zoom_min, opts.zoom_max), opts.zoom_p) if aware else None
    add_rooms = with_lens_rooms(ctx, opts, augment, zoom, recipe.train.seed) or (lambda labeled: labeled)
    experiment = train_evaluate_write(
        ctx, key, student, make_student_step(cfg, teacher=teacher_model if cache is None else None,
                                             frozen_model=frozen, teacher_tta=opts.pseudo_tta),
        recipe, augment, param_groups=student.param_groups(recipe.train.lr, **factors),
        resume=resume, resume_override=resume_override, zoom=zoom,
        identity={"teacher": source, "teacher_and_unlabeled.sha256": cache.fingerprint if cache is not None
                  else fingerprint(teacher_model, images, opts.pseudo_tta),
                  "pseudo_labels": pseudo_labels, **{f"loss.{k}": v for k, v in to_dict(cfg).items()}},
        train_set_fn=lambda labeled: SemiSupervisedDataset(add_rooms(labeled), images, cache,
                                                           ratio=opts.unlabeled_ratio, seed=recipe.train.seed),
        checkpoint_extra={"teacher": source, "init": to_dict(init)},
        extra={"teacher_metrics": teacher_eval.metrics if teacher_eval else None,
               "teacher_zero_shot": {n: ev.metrics for n, ev in (teacher_zero_shot or {}).items()},
               "teacher": source,
               "init": init.summary, "unlabeled": {"dirs": [str(d) for d in images.dirs], "n_images": len(images),
                                                   "n_found": images.n_found, "unreadable": images.skipped},
               "pseudo_labels": pseudo_labels, "pseudo_label_dir": str(cache.dir) if cache is not None else None,
               "loss_config": to_dict(cfg), "lr_factors": factors, "parameters": student.parameter_counts()})
    print(images.report())
    return ZoeDAMPlusResult(experiment, teacher_eval, teacher_zero_shot, teacher_model, images, cache, cfg,
                            init.summary, opts.pseudo_tta)
