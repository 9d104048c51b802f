"""Notebook 06's figures of a run: every model's checkpoint on the same test images, errors by depth,
metric bars with intervals, training curves. The results page itself is :mod:`zoedam_lib.reports.page`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from zoedam_lib.checkpoints import load_model
from zoedam_lib.evaluation.bootstrap import bootstrap_metrics
from zoedam_lib.evaluation.by_depth import DepthBinned
from zoedam_lib.evaluation.evaluate import example_indices, predict_examples
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.evaluation_cache import evaluate_once
from zoedam_lib.experiments.results import LABELS, load_results, per_image_rows
from zoedam_lib.experiments.teacher import TEACHER_KEY
from zoedam_lib.viz import TrainingRun, error_by_depth, metric_bars, prediction_grid, save_figure, training_curves

BAR_KEYS = ("abs_rel", "rmse", "log_10", "a1")  # the metrics of the bar figure
SILOG_PANEL = "SILog (ZoeDAM; the ZoeDAM+ student's labeled term)"
LOSS_PANELS = {  # model key → {panel (loss kind): "loss" (the total) or a key of the loss function's step logs}
    "densedepth": {"DenseDepth loss, eq. (1)": "loss"},
    "zoedam_plus": {SILOG_PANEL: "loss_labeled", "ZoeDAM+ unlabeled term (affine-invariant, CutMix)": "loss_unlabeled"},
}
QUALITATIVE = ("average", "densedepth", "zoedam_vits_random", "zoedam_vits", "zoedam_vitb", "zoedam_vitl",
               "zoedam_plus")


def evaluation_rows(out_dir: str | os.PathLike, records: dict[str, dict]) -> dict[str, dict[str, list[dict]]]:
    """Per-image rows of every model (by display name) on every evaluation set it has: ``test`` and its
    zero-shot sets; the input of ``tables.interval_table`` / ``scale_table`` and ``viz.median_scatter``."""
    return {LABELS.get(key, key): {name: per_image_rows(out_dir, rec, name)
                                   for name in ("test", *rec.get("zero_shot", {}))}
            for key, rec in records.items()}


def bar_figure(out_dir: str | os.PathLike, records: dict[str, dict], *, note: str,
               keys: Sequence[str] = BAR_KEYS, n_boot: int = 2000, seed: int = 0) -> Figure:
    """Our measured metrics per model, as bars with 95 % bootstrap intervals over the test images."""
    intervals = {LABELS.get(k, k): bootstrap_metrics(per_image_rows(out_dir, r), keys, n_boot, seed)
                 for k, r in records.items()}
    return metric_bars(intervals, keys, note=note)


def load_models(ctx: RunContext, records: dict[str, dict]) -> dict[str, object]:
    """The checkpoints of the run's models that exist, in the order of the qualitative grid."""
    models = {}
    for key in QUALITATIVE:
        rec = records.get(key)
        if rec and rec.get("checkpoint") and (ctx.out_dir / rec["checkpoint"]).exists():
            models[key] = load_model(ctx.out_dir / rec["checkpoint"], device=ctx.device)
    return models


def qualitative_figure(ctx: RunContext, models: dict[str, object], n: int = 4) -> Figure:
    """The same test images through every model: RGB | GT | predictions, with |error| rows."""
    idx = example_indices(ctx.split.test, n, ctx.seed)
    preds = {}
    with ctx.open_data() as mat:
        for key, model in models.items():
            images, gts, preds[LABELS.get(key, key)] = predict_examples(model, mat, idx, flip_tta=key != "average")
    return prediction_grid(images, gts, preds, note=ctx.note(), vmax=10.0 if ctx.data_kind == "nyu" else None)


def error_by_range(ctx: RunContext, models: dict[str, object], records: dict[str, dict]
                   ) -> tuple[dict[str, DepthBinned], Figure]:
    """AbsRel of each model per ground-truth depth range on the test images, averaged per image as the
    tables are, with the flip TTA each model's results were measured with.

    The ranges come with each model's evaluation (:func:`~zoedam_lib.experiments.evaluation_cache.evaluate_once`):
    a model evaluated in this run folder before is not run again.
    """
    binned: dict[str, DepthBinned] = {}
    for key, model in models.items():
        flip = bool(records.get(key, {}).get("flip_tta", key != "average"))
        binned[LABELS.get(key, key)] = evaluate_once(ctx, model, flip)[0].by_depth
    return binned, error_by_depth(binned, note=ctx.note())


def training_runs(out_dir: str | os.PathLike, records: dict[str, dict],
                  keys: Sequence[str] | None = None) -> list[TrainingRun]:
    """The training logs of the run's trained models (``keys``, default all), each with its loss panels.

    Every run is drawn from its own first step; only a ZoeDAM+ student that started as a copy of
    its teacher (``student_init="teacher"``) continues the teacher's curve, when that log is among
    them. The default student starts from SynthDA as the teacher did: it does not continue it."""
    keys = [k for k in (keys or records) if records.get(k, {}).get("history")]
    runs = []
    for key in keys:
        path = Path(out_dir) / records[key]["history"]
        if not path.exists():
            continue
        student = key.startswith("zoedam_plus")  # the ZoeDAM+ student, or a variant such as its control run
        teacher = Path(str(records[key].get("teacher", TEACHER_KEY))).name
        copy = records[key].get("recipe", {}).get("options", {}).get("student_init") == "teacher"
        after = LABELS.get(teacher, teacher) if student and copy and teacher in keys else None
        panels = LOSS_PANELS["zoedam_plus"] if student else LOSS_PANELS.get(key, {SILOG_PANEL: "loss"})
        runs.append(TrainingRun(LABELS.get(key, key), json.loads(path.read_text()), panels, after))
    return runs


def curves_figure(out_dir: str | os.PathLike, records: dict[str, dict], *, note: str) -> Figure:
    """Training curves of every trained model of the run."""
    return training_curves(training_runs(out_dir, records), note=note)


__all__ = ["load_results", "save_figure", "bar_figure", "evaluation_rows", "load_models", "qualitative_figure",
           "error_by_range", "training_runs", "curves_figure"]
