"""Notebook 06: every results JSON of a run beside the paper's reported numbers, figures, results.md.

Our rows say what data and preset produced them; the paper's rows are marked "reported" and
are never mixed into ours. Rows we have not run appear as "not run".
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from .atomic import atomic_write_bytes
from .checkpoints import load_model
from .depth_bins import DEPTH_EDGES, DepthBinned, abs_rel_by_depth
from .evaluation import example_indices, predict_examples
from .experiments.zoedam_plus import TEACHER_KEY
from .metrics import METRIC_NAMES, TABLE_KEYS
from .results import LABELS, REPORTED, TABLE2, TABLE3, load_results, per_image_rows
from .run import RunContext
from .stats import bootstrap_metrics
from .viz import TrainingRun, error_by_depth, metric_bars, prediction_grid, save_figure, training_curves

COLUMNS = tuple((k, METRIC_NAMES[k]) for k in TABLE_KEYS)  # (key, display name) of the tables' columns
BAR_KEYS = ("abs_rel", "rmse", "log_10", "a1")  # the metrics of the bar figure
SILOG_PANEL = "SILog (ZoeDAM; the ZoeDAM+ student's labeled term)"
LOSS_PANELS = {  # model key → {panel (loss kind): "loss" (the total) or a key of the loss function's step logs}
    "densedepth": {"DenseDepth loss, eq. (1)": "loss"},
    "zoedam_plus": {SILOG_PANEL: "loss_labeled", "ZoeDAM+ unlabeled term (affine-invariant, CutMix)": "loss_unlabeled"},
}
NOT_OURS = ("zoedepth",)  # ZoeDepth's own (MiDaS BEiT) model is only quoted from the paper
QUALITATIVE = ("average", "densedepth", "zoedam_vits", "zoedam_vitb", "zoedam_vitl", "zoedam_plus")


def _fmt(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.3f}"


def table_markdown(records: dict[str, dict], keys: Sequence[str]) -> str:
    """One of the paper's tables: our measured row and the paper's reported row for each model."""
    head = "| model | source | data | " + " | ".join(c for _, c in COLUMNS) + " |\n"
    head += "|---|---|---|" + "---:|" * len(COLUMNS)
    lines = [head]
    for key in keys:
        label, rec = LABELS.get(key, key), records.get(key)
        if rec is not None:
            cells = [_fmt(rec["metrics"].get(k)) for k, _ in COLUMNS]
            lines.append(f"| {label} | ours, preset `{rec['preset']}` | {rec['data']} | " + " | ".join(cells) + " |")
        elif key not in NOT_OURS:
            lines.append(f"| {label} | ours | not run | " + " | ".join("–" for _ in COLUMNS) + " |")
        if key in REPORTED:
            cells = [_fmt(REPORTED[key].get(k)) for k, _ in COLUMNS]
            lines.append(f"| {label} | **reported** (paper) | NYU Depth V2, their 400-image test split | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_markdown(records: dict[str, dict]) -> str:
    """The whole results page: both tables and the provenance of every row."""
    extra = [k for k in records if k not in TABLE2 + TABLE3]
    parts = ["# Results", "",
             "Rows marked *ours* were measured by this project on the data and preset they name; rows marked "
             "**reported** are the paper's Tables 2 and 3 (NYU Depth V2) as printed. Numbers on SynthRooms are not "
             "comparable with numbers on NYU.", "",
             "## Table 2 · baselines", "", table_markdown(records, TABLE2), "",
             "## Table 3 · ZoeDepth and ZoeDAM", "", table_markdown(records, TABLE3 + tuple(extra)), ""]
    plus = records.get("zoedam_plus")
    if plus and "teacher_metrics" in plus:
        t, s = plus["teacher_metrics"], plus["metrics"]
        parts += ["## ZoeDAM+ student vs its teacher (same test split)", "",
                  "| | " + " | ".join(c for _, c in COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS),
                  "| teacher (ZoeDAM) | " + " | ".join(_fmt(t.get(k)) for k, _ in COLUMNS) + " |",
                  "| student (ZoeDAM+) | " + " | ".join(_fmt(s.get(k)) for k, _ in COLUMNS) + " |", ""]
    return "\n".join(parts)


def write_results_page(out_dir: str | os.PathLike, records: dict[str, dict]) -> Path:
    """Write ``<out_dir>/results.md`` atomically."""
    path = Path(out_dir) / "results.md"
    atomic_write_bytes(path, results_markdown(records).encode("utf-8"))
    return path


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


def error_by_range(ctx: RunContext, models: dict[str, object], records: dict[str, dict],
                   n_images: int | None = None, edges: Sequence[float] = DEPTH_EDGES
                   ) -> tuple[dict[str, DepthBinned], Figure]:
    """AbsRel of each model per ground-truth depth range, averaged per image as the tables are, with the
    flip TTA each model's results were measured with, over ``n_images`` test images (None: all)."""
    idx = list(ctx.split.test) if n_images is None else example_indices(ctx.split.test, n_images, ctx.seed + 1)
    binned: dict[str, DepthBinned] = {}
    with ctx.open_data() as mat:
        for key, model in models.items():
            flip = bool(records.get(key, {}).get("flip_tta", key != "average"))
            _, gts, preds = predict_examples(model, mat, idx, flip_tta=flip)
            binned[LABELS.get(key, key)] = abs_rel_by_depth(preds, gts, edges)
    return binned, error_by_depth(binned, note=ctx.note())


def training_runs(out_dir: str | os.PathLike, records: dict[str, dict],
                  keys: Sequence[str] | None = None) -> list[TrainingRun]:
    """The training logs of the run's trained models (``keys``, default all), each with its loss panels;
    the ZoeDAM+ student continues its teacher when the teacher's log is among them."""
    keys = [k for k in (keys or records) if records.get(k, {}).get("history")]
    runs = []
    for key in keys:
        path = Path(out_dir) / records[key]["history"]
        if not path.exists():
            continue
        student = key.startswith("zoedam_plus")  # the ZoeDAM+ student, or a variant such as its control run
        teacher = Path(str(records[key].get("teacher", TEACHER_KEY))).name
        after = LABELS.get(teacher, teacher) if student and teacher in keys else None
        panels = LOSS_PANELS["zoedam_plus"] if student else LOSS_PANELS.get(key, {SILOG_PANEL: "loss"})
        runs.append(TrainingRun(LABELS.get(key, key), json.loads(path.read_text()), panels, after))
    return runs


def curves_figure(out_dir: str | os.PathLike, records: dict[str, dict], *, note: str) -> Figure:
    """Training curves of every trained model of the run."""
    return training_curves(training_runs(out_dir, records), note=note)


__all__ = ["load_results", "table_markdown", "results_markdown", "write_results_page", "save_figure", "bar_figure",
           "evaluation_rows", "load_models", "qualitative_figure", "error_by_range", "training_runs", "curves_figure",
           "REPORTED"]
