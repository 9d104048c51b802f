"""Markdown tables with bootstrap intervals: per-image rows in, "0.163 [0.152, 0.175]" out.

A mean over one run's 166 test images moves in its third decimal with other test images, so
the course's tables carry the 95 % percentile-bootstrap interval of every mean
(:mod:`zoedam_lib.evaluation.bootstrap`), and a comparison of two models on the same images is the *paired*
interval of their difference: "supported" when it excludes 0. Metric names (with ↓ / ↑, which
way is better) come from one table, :data:`zoedam_lib.evaluation.metrics.METRIC_NAMES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from zoedam_lib.evaluation.bootstrap import (
    Interval,
    bootstrap_difference,
    bootstrap_mean,
    bootstrap_metrics,
    paired_values,
)
from zoedam_lib.evaluation.metrics import METRIC_NAMES, TABLE_KEYS
from zoedam_lib.utils.markdown import markdown_table

Rows = Sequence[Mapping[str, float]]  # one evaluation's per-image rows (EvalResult.per_image, per_image_rows())
SCALE_KEYS = ("abs_rel", "a1")  # what the scale-vs-structure table shows, raw and median-scaled


def metric_name(key: str) -> str:
    """The display name of a metric key; ``med_`` keys are the median-scaled metric."""
    if key.startswith("med_"):
        return f"{METRIC_NAMES.get(key[4:], key[4:])} median-scaled"
    return METRIC_NAMES.get(key, key)


def fmt_interval(interval: Interval) -> str:
    """``0.163 [0.152, 0.175]``, with true minus signs."""
    return f"{_num(interval.mean)} [{_num(interval.low)}, {_num(interval.high)}]"


def interval_table(rows: Mapping[str, Rows], keys: Sequence[str] = TABLE_KEYS, *, n_boot: int = 2000,
                   seed: int = 0) -> str:
    """One row per metric (``| AbsRel ↓ | 0.163 [0.152, 0.175] | …``), one column per model (name → per-image rows)."""
    intervals = {name: bootstrap_metrics(r, keys, n_boot, seed) for name, r in rows.items()}
    header = ["metric", *(f"{name} ({len(r)} images)" for name, r in rows.items())]
    body = [[metric_name(k), *(fmt_interval(intervals[name][k]) for name in rows)] for k in keys]
    return markdown_table(header, body) + f"\n\n{_footnote(n_boot)}"


def paired_table(rows_a: Rows, rows_b: Rows, names: tuple[str, str], keys: Sequence[str] = TABLE_KEYS, *,
                 n_boot: int = 2000, seed: int = 0) -> str:
    """``A − B: −0.041 [−0.052, −0.030] (supported)`` per metric, for two models evaluated on the same images.

    Images are matched by ``index`` and resampled together (paired), so the spread the two models
    share (hard images are hard for both) does not hide their difference.
    """
    a, b = names
    body = []
    for k in keys:
        body.append([metric_name(k), _paired_cell(rows_a, rows_b, k, n_boot, seed)])
    return markdown_table(["metric", f"{a} − {b}"], body, "ll") + (
        f"\n\n_paired bootstrap over the same {len(rows_a)} images, 95 % interval "
        f"({n_boot} resamples); supported: the interval excludes 0_")


def paired_sets_table(pairs: Mapping[str, tuple[Rows, Rows]], names: tuple[str, str], key: str = "abs_rel", *,
                      n_boot: int = 2000, seed: int = 0) -> str:
    """One metric's paired difference A − B per evaluation set (set → (rows of A, rows of B) on the same
    images), with the verdict of :func:`paired_table`: which model is better on which set, and where
    the images cannot tell."""
    a, b = names
    body = []
    for name, (rows_a, rows_b) in pairs.items():
        body.append([f"{name} ({len(rows_a)} images)", _paired_cell(rows_a, rows_b, key, n_boot, seed)])
    return markdown_table(["eval set", f"{metric_name(key)}: {a} − {b}"], body, "ll") + (
        f"\n\n_paired bootstrap over each set's images, 95 % interval ({n_boot} resamples); supported: the "
        "interval excludes 0_")


def scale_table(evaluations: Mapping[str, Mapping[str, Rows]], keys: Sequence[str] = SCALE_KEYS, *,
                n_boot: int = 2000, seed: int = 0) -> str:
    """Raw vs median-scaled metrics per model and evaluation set (model → set → per-image rows).

    Median scaling (Eigen et al.) forgives a wrong global scale: where the raw metric is much
    worse than the median-scaled one, the model's error is its *scale* (a camera it was not
    trained on, zero-shot), not its structure. The last column, the mean ratio of predicted to
    true median depth per image, says which way the scale is off.
    """
    head = [metric_name(k) + kind for k in keys for kind in ("", ", median-scaled")]
    body = []
    for model, sets in evaluations.items():
        for name, rows in sets.items():
            iv = bootstrap_metrics(rows, [p + k for k in keys for p in ("", "med_")], n_boot, seed)
            ratio = bootstrap_mean([r["pred_median"] / r["gt_median"] for r in rows], n_boot, seed)
            cells = [fmt_interval(iv[p + k]) for k in keys for p in ("", "med_")] + [fmt_interval(ratio)]
            body.append([model, f"{name} ({len(rows)} images)", *cells])
    header = ["model", "eval set", *head, "predicted / true median depth"]
    return markdown_table(header, body, "ll" + "r" * (len(head) + 1)) + f"\n\n{_footnote(n_boot)}"


def _paired_cell(rows_a: Rows, rows_b: Rows, key: str, n_boot: int, seed: int) -> str:
    """``−0.041 [−0.052, −0.030] (supported)``: A − B of ``key`` on the same images, paired, with its verdict."""
    diff = bootstrap_difference(*paired_values(rows_a, rows_b, key), n_boot, seed)
    verdict = "supported" if diff.excludes_zero() else "not supported: interval contains 0"
    return f"{fmt_interval(diff)} ({verdict})"


def _num(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.3f}".replace("-", "−")


def _footnote(n_boot: int) -> str:
    return f"_mean over the images [95 % bootstrap interval, {n_boot} resamples]_"
