"""Train → checkpoint → evaluate → write the results row: the steps every learned model shares."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from zoedam_lib.checkpoints import save_model
from zoedam_lib.data.augment import Transform
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.zoom import RandomZoom
from zoedam_lib.evaluation.evaluate import EvalResult, evaluate
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.evaluation_cache import evaluate_once
from zoedam_lib.experiments.recipes import Recipe, recipe_identity
from zoedam_lib.experiments.results import write_result
from zoedam_lib.inference.exact import prepare_training
from zoedam_lib.training import distributed as dist_utils
from zoedam_lib.training.interrupts import after_training
from zoedam_lib.training.trainer import LossFn, Trainer, TrainState
from zoedam_lib.utils.config import to_dict
from zoedam_lib.utils.output_dirs import ensure_output_dir, run_lock
from zoedam_lib.utils.threads import intra_op_threads

VAL_KEYS = ("abs_rel", "rmse", "log_10", "a1")


@dataclass
class ExperimentResult:
    """What a notebook shows after training one model."""

    model: nn.Module
    state: TrainState
    evaluation: EvalResult | None  # None on DDP ranks other than 0 (they neither evaluate nor write)
    zero_shot: dict[str, EvalResult] | None
    result_path: Path | None
    checkpoint: Path | None
    train_seconds: float


def datasets(ctx: RunContext, recipe: Recipe, transform: Transform | None,
             zoom: RandomZoom | None = None) -> tuple[DepthDataset, DepthDataset]:
    """(train with augmentation, validation) datasets of a run.

    Validation images come from the split's validation part, carved from the training images:
    per-epoch curves and recipe choices never look at the test images.
    """
    train_idx = list(ctx.split.train)[: recipe.n_train] if recipe.n_train is not None else list(ctx.split.train)
    val_idx = list(ctx.split.val)[: recipe.n_val] if recipe.n_val is not None else list(ctx.split.val)
    data = ctx.open_data()
    return DepthDataset(data, train_idx, transform, seed=recipe.train.seed, zoom=zoom), DepthDataset(data, val_idx)


def validator(val_set: DepthDataset, device: torch.device) -> Callable[[nn.Module], dict[str, float]] | None:
    """Per-epoch validation (no flip TTA) on the validation images: for curves and recipe choices.

    None when the split has no validation images (fewer than 10 training images): an evaluation of
    nothing is an error, and there is nothing to monitor.
    """
    if len(val_set) == 0:
        return None

    def validate(model: nn.Module) -> dict[str, float]:
        result = evaluate(model, val_set, flip_tta=False, device=device, progress=False, name="validation")
        return {k: result.metrics[k] for k in VAL_KEYS}
    return validate


def train_evaluate_write(ctx: RunContext, key: str, model: nn.Module, loss_fn: LossFn, recipe: Recipe,
                         transform: Transform | None, param_groups: list[dict] | None = None,
                         resume: bool = False, extra: dict[str, Any] | None = None,
                         trainer_kwargs: dict[str, Any] | None = None,
                         train_set_fn: Callable[[DepthDataset], Dataset] | None = None,
                         checkpoint_extra: dict[str, Any] | None = None, identity: dict[str, Any] | None = None,
                         resume_override: tuple[str, ...] = (), zoom: RandomZoom | None = None,
                         after_fit: Callable[[nn.Module], dict[str, Any]] | None = None) -> ExperimentResult:
    """Train ``model`` under ``recipe``, save it, evaluate it on the test split, write its results JSON.

    ``train_set_fn`` wraps the labeled training set (ZoeDAM+ adds unlabeled images to each item).
    ``checkpoint_extra`` goes into the checkpoint's config.json beside the run's provenance and
    recipe, e.g. how the model was initialised (``init``). ``identity`` adds the experiment's own
    settings to what a resume compares (:func:`run_identity`); ``resume_override`` names the ones
    a resume may change on purpose. The run holds ``<out_dir>/locks/<key>.lock`` throughout, and
    every folder it writes is proven writable before the first step. ``zoom`` zooms the training
    images (a camera-aware recipe); ``after_fit`` runs on the trained model before it is saved (the
    camera head's training) and its dict goes into the results JSON.
    """
    run_dir = ctx.out_dir / "runs" / key
    main = dist_utils.is_main_process()
    with run_lock(ctx.out_dir, key) if main else contextlib.nullcontext():
        if main:
            for folder in (run_dir, ctx.out_dir / "checkpoints", ctx.out_dir / "results"):
                ensure_output_dir(folder, "output folder")
        train_set, val_set = datasets(ctx, recipe, transform, zoom)
        if train_set_fn is not None:
            train_set = train_set_fn(train_set)
        trainer = Trainer(model, loss_fn, train_set, recipe.train, run_dir, param_groups=param_groups,
                          validate_fn=validator(val_set, ctx.device), device=ctx.device,
                          run_identity=run_identity(ctx, key, recipe, model, identity),
                          resume_override=resume_override, wrap=prepare_training,
                          **(trainer_kwargs or {}))
        start = time.perf_counter()
        with intra_op_threads(recipe.threads):  # the recipe's count, not the launcher's: the same numbers anywhere
            state = trainer.fit(resume=resume)
        seconds = time.perf_counter() - start
        if not main:
            return ExperimentResult(model, state, None, None, None, None, seconds)
        overrides = {"resumed_with_overrides": state.overrides} if state.overrides else {}
        with after_training(trainer.state_path) as guard:  # Ctrl-C / SIGTERM here: the resume hint, exit 130
            extra = {**(extra or {}), **(after_fit(model) if after_fit is not None else {})}
            checkpoint = save_model(model, ctx.out_dir / "checkpoints" / key,
                                    extra={**ctx.provenance(), "recipe": to_dict(recipe), **overrides,
                                           **(checkpoint_extra or {})})
            with intra_op_threads(recipe.threads):  # notebook 05 reuses the teacher's evaluation
                result, zero_shot = evaluate_once(ctx, model, recipe.flip_tta)
            with guard.atomic():  # the JSON and its CSVs together
                path = write_result(ctx.out_dir, key, ctx.provenance(), result, zero_shot, recipe=to_dict(recipe),
                                    train_seconds=round(seconds, 1),
                                    history=str((run_dir / "history.json").relative_to(ctx.out_dir)),
                                    checkpoint=str(checkpoint.relative_to(ctx.out_dir)), **overrides, **extra)
    return ExperimentResult(model, state, result, zero_shot, path, checkpoint, seconds)


def run_identity(ctx: RunContext, key: str, recipe: Recipe, model: nn.Module,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything besides the trainer's own settings that makes a run this run: the model and its config,
    the data (size and content fingerprint) and split, the recipe's sizes and model/loss options, and
    ``extra`` (the experiment's: pretrained source, teacher, pseudo-labels, loss config ...)."""
    config = getattr(model, "config", None)
    model_config = to_dict(config) if dataclasses.is_dataclass(config) else {}
    return {"model": key, **ctx.identity(), **recipe_identity(recipe),
            **{f"model.{k}": v for k, v in model_config.items()}, **(extra or {})}
