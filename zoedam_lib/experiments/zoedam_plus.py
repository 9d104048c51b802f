"""ZoeDAM+ (paper §3.3, §4.4): a ZoeDAM teacher pseudo-labels unlabeled images, a student learns from both.

The teacher is the ZoeDAM trained on labeled data (notebook 04). The student starts either like
the teacher's encoder did (``pretrained``; the paper keeps "DINOv2 pre-trained checkpoints") or
as a copy of the teacher, and trains on labeled SILog plus the CutMix affine-invariant loss on
strongly perturbed unlabeled images. Student and teacher are evaluated on the same test split
so the notebook can say whether the unlabeled images helped.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..atomic import recover_dir
from ..checkpoints import LoadReport, load_model
from ..config import replace, to_dict
from ..data.augment import zoedepth_augmentation
from ..data.synthrooms import UNLABELED_DIR
from ..data.unlabeled import UnlabeledImages
from ..errors import CheckpointError, ConfigError
from ..evaluation import EvalResult, evaluate
from ..inference.predict import model_device
from ..models.zoedam import ZoeDAM
from ..presets import Recipe, recipe_for
from ..run import RunContext
from ..semi.cutmix import apply_cutmix, cutmix_box
from ..semi.perturb import strong_perturb
from ..semi.pseudo_labels import PseudoLabelCache, teacher_predict
from ..semi.student import SemiSupervisedDataset, ZoeDAMPlusLossConfig, make_student_step
from ..training import distributed as dist_utils
from .common import ExperimentResult, datasets, train_evaluate_write
from .zoedam import build_zoedam, lr_factors

KEY = "zoedam_plus"
TEACHER_KEY = "zoedam_vits"  # notebook 04's checkpoint, the default teacher
PSEUDO_MODES = ("cache", "on_the_fly")
STUDENT_INITS = ("pretrained", "teacher")


@dataclass
class ZoeDAMPlusResult:
    """The student's training result, the teacher's evaluation, and what is needed for figures."""

    student: ExperimentResult
    teacher_evaluation: EvalResult | None  # None on DDP ranks other than 0
    teacher: ZoeDAM
    unlabeled: UnlabeledImages
    pseudo: PseudoLabelCache | None  # None in on-the-fly mode
    loss_config: ZoeDAMPlusLossConfig
    init: str  # how the student was initialised

    def example_inputs(self, k: int = 4, seed: int = 0, cutmix_p: float = 1.0) -> dict[str, torch.Tensor]:
        """``k`` unlabeled images through the student's input pipeline (see :func:`example_inputs`)."""
        return example_inputs(self.unlabeled, self.teacher, self.loss_config, k, seed, self.pseudo, cutmix_p)


def example_inputs(unlabeled: UnlabeledImages, teacher: nn.Module, cfg: ZoeDAMPlusLossConfig, k: int = 4,
                   seed: int = 0, pseudo: PseudoLabelCache | None = None,
                   cutmix_p: float = 1.0) -> dict[str, torch.Tensor]:
    """Clean, perturbed and CutMixed unlabeled images with masks and pseudo-labels (the paper's Fig. 5).

    The same steps as a training step, with a seeded generator and by default a CutMix on every
    image (``cutmix_p=1``) so each example shows one. Keys: ``clean``, ``perturbed``, ``mixed``
    (B, 3, H, W); ``mask`` (B, 1, H, W) bool; ``pseudo`` (teacher depth on the clean image) and
    ``pseudo_mixed`` (the target the student is held to) (B, 1, H, W); ``partner`` (u_a of each
    image) and ``index``.
    """
    k = min(k, len(unlabeled))
    index = torch.from_numpy(np.linspace(0, len(unlabeled) - 1, k).round().astype(np.int64))
    clean = torch.stack([unlabeled[int(i)]["image"] for i in index])
    if pseudo is not None:
        depth = torch.stack([pseudo.get(int(i)) for i in index])
    else:
        depth = teacher_predict(teacher, clean.to(model_device(teacher))).cpu()
    size = tuple(clean.shape[-2:])
    depth = torch.nn.functional.interpolate(depth, size=size, mode="bilinear", align_corners=True)
    gen = torch.Generator().manual_seed(seed)
    perturbed = strong_perturb(clean, cfg.perturb, gen)
    mask = cutmix_box(k, *size, p=cutmix_p, generator=gen)
    partner = torch.roll(torch.arange(k), 1)
    return {"clean": clean, "perturbed": perturbed, "mixed": apply_cutmix(perturbed[partner], perturbed, mask),
            "mask": mask, "pseudo": depth, "pseudo_mixed": apply_cutmix(depth[partner], depth, mask),
            "partner": partner, "index": index}


def load_teacher(ctx: RunContext, teacher: str | os.PathLike | nn.Module | None) -> tuple[ZoeDAM, str, Path | None]:
    """The teacher (eval mode, frozen, on the run's device), its description and checkpoint path."""
    path = None
    if isinstance(teacher, nn.Module):
        model, source = teacher, "the teacher model passed in"
    else:
        path = Path(teacher) if teacher is not None else ctx.out_dir / "checkpoints" / TEACHER_KEY
        if not recover_dir(path).exists():  # a save of the teacher killed half-way leaves <path>.old
            raise CheckpointError(f"ZoeDAM+ teacher checkpoint not found at {path}: run notebook 04 (ZoeDAM) first "
                                  "or pass teacher=<path of a trained ZoeDAM checkpoint>")
        model, source = load_model(path), str(path)
    if not isinstance(model, ZoeDAM):
        raise ConfigError(f"the ZoeDAM+ teacher must be a ZoeDAM, got {type(model).__name__} from {source}")
    return model.to(ctx.device).eval().requires_grad_(False), source, path


def _teacher_init(path: Path | None) -> tuple[str | None, str]:
    """(pretrained, decoder) the teacher was built from, as run_zoedam recorded them in its results JSON."""
    record = path.parent.parent / "results" / f"{path.name}.json" if path is not None else None
    if record is not None and record.is_file():
        data = json.loads(record.read_text(encoding="utf-8"))
        if "pretrained" in data:
            return data["pretrained"], data.get("decoder", "pretrained")
    raise ConfigError("student_init='pretrained' starts the student like the teacher's encoder, but how the teacher "
                      f"was initialised is unknown (no results JSON from run_zoedam beside {path}). Pass "
                      "student_init='teacher' to start from a copy of the teacher.")


def build_student(teacher: ZoeDAM, teacher_source: str, teacher_path: Path | None, how: str,
                  img_size: tuple[int, int]) -> tuple[ZoeDAM, str]:
    """The student (train mode) and a loud one-line description of its initialisation."""
    if how not in STUDENT_INITS:
        raise ConfigError(f"student_init must be one of {STUDENT_INITS}, got {how!r}")
    if how == "teacher":
        student = ZoeDAM(replace(teacher.config, img_size=img_size))
        student.load_state_dict(teacher.state_dict())
        student.load_report = LoadReport(teacher_source, "own", teacher.config.backbone,  # type: ignore[attr-defined]
                                         teacher.config.layer_family, ("whole model",))
        init = f"ZoeDAM+ student = a COPY of the teacher ({teacher_source})"
    else:
        pretrained, decoder = _teacher_init(teacher_path)
        student, how_init = build_zoedam(teacher.config.backbone, pretrained, decoder, img_size, verbose=False)
        init = f"ZoeDAM+ student initialised like the teacher was: {how_init}"
    print("!!! " + init)
    return student.train(), init


def _recipe(ctx: RunContext, recipe: Recipe | None, epochs: int | None, batch_size: int | None, lr: float | None,
            overrides: dict) -> Recipe:
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if recipe is None:
        return recipe_for(KEY, ctx.preset, epochs=epochs, batch_size=batch_size, lr=lr, seed=ctx.seed, **overrides)
    train = {k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "lr": lr}.items() if v is not None}
    return replace(recipe, train=replace(recipe.train, **train), **overrides)


def run_zoedam_plus(ctx: RunContext, teacher: str | os.PathLike | nn.Module | None = None,
                    unlabeled_dirs: list[str | os.PathLike] | str | os.PathLike | None = None,
                    n_unlabeled: int | None = None, cutmix_p: float | None = None, unlabeled_ratio: int | None = None,
                    pseudo_labels: str = "cache", student_init: str | None = None, epochs: int | None = None,
                    batch_size: int | None = None, lr: float | None = None, resume: bool = False,
                    recipe: Recipe | None = None, loss_config: ZoeDAMPlusLossConfig | None = None,
                    key: str = KEY) -> ZoeDAMPlusResult:
    """Train the ZoeDAM+ student, evaluate student and teacher, write ``results/zoedam_plus.json``.

    ``None`` arguments keep the recipe's value (``cutmix_p``: the loss config's, 0.5 by default).
    ``pseudo_labels``: ``cache`` (computed once under ``out_dir/pseudo_labels``) or ``on_the_fly``
    (the teacher predicts inside every step). ``key`` names the results row (variants beside the
    paper's ZoeDAM+, e.g. with feature alignment, get their own).
    """
    if pseudo_labels not in PSEUDO_MODES:
        raise ConfigError(f"pseudo_labels must be one of {PSEUDO_MODES}, got {pseudo_labels!r}")
    recipe = _recipe(ctx, recipe, epochs, batch_size, lr, {"unlabeled_ratio": unlabeled_ratio,
                                                           "n_unlabeled": n_unlabeled, "student_init": student_init})
    cfg = loss_config or ZoeDAMPlusLossConfig()
    cfg = replace(cfg, cutmix_p=cutmix_p) if cutmix_p is not None else cfg
    teacher_model, source, teacher_path = load_teacher(ctx, teacher)
    student, init = build_student(teacher_model, source, teacher_path, recipe.student_init, recipe.img_size)
    dirs = unlabeled_dirs if unlabeled_dirs is not None else [ctx.data_path.parent / UNLABELED_DIR]
    images = UnlabeledImages(dirs, n=recipe.n_unlabeled, seed=ctx.seed, size=recipe.img_size)
    cache = None
    if pseudo_labels == "cache":
        cache = PseudoLabelCache(ctx.out_dir / "pseudo_labels", teacher_model, images, ctx.device,
                                 batch_size=recipe.train.batch_size * recipe.unlabeled_ratio)
        if dist_utils.is_main_process():  # one rank computes; the others find every entry done
            computed = cache.build()
            print(f"teacher pseudo-labels: {computed} computed, {len(cache) - computed} reused ({cache.dir})")
        dist_utils.barrier()
        cache.build()
    frozen = None
    if cfg.feature_alignment:  # Depth Anything's frozen DINOv2: the student's encoder as initialised
        frozen = copy.deepcopy(student.encoder).to(ctx.device).eval().requires_grad_(False)
    factors = lr_factors(student, recipe)
    _, test_set, _ = datasets(ctx, recipe, None)
    teacher_eval = (evaluate(teacher_model, test_set, flip_tta=recipe.flip_tta, device=ctx.device)
                    if dist_utils.is_main_process() else None)
    experiment = train_evaluate_write(
        ctx, key, student, make_student_step(cfg, teacher=teacher_model if cache is None else None,
                                             frozen_encoder=frozen),
        recipe, zoedepth_augmentation(), param_groups=student.param_groups(recipe.train.lr, **factors),
        resume=resume,
        train_set_fn=lambda labeled: SemiSupervisedDataset(labeled, images, cache, ratio=recipe.unlabeled_ratio,
                                                           seed=recipe.train.seed),
        checkpoint_extra={"teacher": source},
        extra={"teacher_metrics": teacher_eval.metrics if teacher_eval else None, "teacher": source,
               "student_init": recipe.student_init,
               "init": init, "unlabeled": {"dirs": [str(d) for d in images.dirs], "n_images": len(images),
                                           "n_found": images.n_found, "unreadable": images.skipped},
               "pseudo_labels": pseudo_labels, "pseudo_label_dir": str(cache.dir) if cache is not None else None,
               "loss_config": to_dict(cfg), "lr_factors": factors, "parameters": student.parameter_counts()})
    print(images.report())
    return ZoeDAMPlusResult(experiment, teacher_eval, teacher_model, images, cache, cfg, init)
