"""Notebook 06: every results JSON of a run beside the paper's reported numbers, figures, results.md.

Our rows say what data and preset produced them; the paper's rows are marked "reported" and
are never mixed into ours. Rows we have not run appear as "not run".
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .atomic import atomic_path, atomic_write_bytes
from .checkpoints import load_model
from .evaluation import example_indices, predict_examples
from .metrics import valid_mask
from .results import LABELS, REPORTED, TABLE2, TABLE3, load_results
from .run import RunContext
from .viz import error_by_depth, metric_bars, prediction_grid, training_curves

COLUMNS = (("abs_rel", "AbsRel"), ("sq_rel", "SqRel"), ("rmse", "RMSE"), ("rmse_log", "RMSE-log"),
           ("log_10", "log10"), ("a1", "δ1"), ("a2", "δ2"), ("a3", "δ3"))
DEPTH_EDGES = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0)
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


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Save a figure as PNG atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return path


def bar_figure(records: dict[str, dict]) -> Figure:
    """Our measured metrics per model, as bars."""
    rows = {LABELS.get(k, k): r["metrics"] for k, r in records.items()}
    return metric_bars(rows, ("abs_rel", "rmse", "log_10", "a1"))


def load_models(ctx: RunContext, records: dict[str, dict]) -> dict[str, object]:
    """The checkpoints of the run's models that exist, in the order of the qualitative grid."""
    models = {}
    for key in QUALITATIVE:
        rec = records.get(key)
        if rec and rec.get("checkpoint") and (ctx.out_dir / rec["checkpoint"]).exists():
            models[key] = load_model(ctx.out_dir / rec["checkpoint"], device=ctx.device)
    return models


def qualitative_figure(ctx: RunContext, models: dict[str, object], n: int = 4) -> Figure:
    """The same test images through every model: RGB | GT | predictions, plus |error| maps."""
    idx = example_indices(ctx.split.test, n, ctx.seed)
    preds = {}
    with ctx.open_data() as mat:
        for key, model in models.items():
            images, gts, preds[LABELS.get(key, key)] = predict_examples(model, mat, idx, flip_tta=key != "average")
    return prediction_grid(images, gts, preds, vmax=10.0 if ctx.data_kind == "nyu" else None, errors=True)


def error_by_range(ctx: RunContext, models: dict[str, object], n_images: int = 64,
                   edges: Sequence[float] = DEPTH_EDGES) -> tuple[dict[str, list[float]], Figure]:
    """AbsRel of each model per ground-truth depth range over ``n_images`` test images (NYU protocol pixels)."""
    idx = example_indices(ctx.split.test, n_images, ctx.seed + 1)
    table: dict[str, list[float]] = {}
    with ctx.open_data() as mat:
        for key, model in models.items():
            _, gts, preds = predict_examples(model, mat, idx, flip_tta=False)
            sums, counts = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)
            for gt, pred in zip(gts, preds, strict=True):
                mask = valid_mask(gt)
                g, p = gt[mask], np.clip(pred[mask], 1e-3, 10.0)
                bins = np.digitize(g, edges[1:-1])
                np.add.at(sums, bins, np.abs(g - p) / g)
                np.add.at(counts, bins, 1)
            table[LABELS.get(key, key)] = [s / c if c else float("nan") for s, c in zip(sums, counts, strict=True)]
    return table, error_by_depth(table, edges)


def curves_figure(out_dir: str | os.PathLike, records: dict[str, dict]) -> Figure:
    """Training curves of every trained model of the run."""
    histories = {}
    for key, rec in records.items():
        path = Path(out_dir) / rec["history"] if rec.get("history") else None
        if path and path.exists():
            histories[LABELS.get(key, key)] = json.loads(path.read_text())
    return training_curves(histories)


__all__ = ["load_results", "table_markdown", "results_markdown", "write_results_page", "save_figure", "bar_figure",
           "load_models", "qualitative_figure", "error_by_range", "curves_figure", "REPORTED"]
