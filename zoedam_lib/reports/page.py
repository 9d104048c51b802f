"""The results page of a run (``<out_dir>/results.md``, notebook 06): the paper's Tables 2 and 3 with our
rows beside its reported ones, zero-shot columns, and the comparisons the course draws conclusions from.

Our rows name the data and preset that produced them; the paper's rows are marked **reported**
with the publication and the test split they come from, never mixed into ours. Each comparison is
a paired bootstrap over the same test images (:mod:`zoedam_lib.reports.tables`): a difference is called
supported only when its 95 % interval excludes 0.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from zoedam_lib.evaluation.bootstrap import bootstrap_mean
from zoedam_lib.evaluation.metrics import METRIC_NAMES, TABLE_KEYS
from zoedam_lib.experiments.results import LABELS, REPORTED, TABLE2, TABLE3, per_image_rows
from zoedam_lib.reports.tables import fmt_interval, paired_table
from zoedam_lib.utils.atomic import atomic_write_bytes
from zoedam_lib.utils.markdown import markdown_table

COLUMNS = tuple((k, METRIC_NAMES[k]) for k in TABLE_KEYS)  # (key, display name) of the tables' columns
NOT_OURS = ("zoedepth",)  # ZoeDepth's own (MiDaS BEiT) model is only quoted from the paper
# (model A, model B, what the comparison asks): every paired comparison the course concludes from
COMPARISONS = (("zoedam_vits", "zoedam_vits_random", "Does SynthDA pretraining help? (same recipe, same budget)"),
               ("zoedam_plus", "zoedam_vits", "ZoeDAM+ student vs its teacher"),
               ("zoedam_plus", "zoedam_plus_control", "Is it the unlabeled images? (student vs control, same steps)"),
               ("zoedam_vits", "densedepth", "ZoeDAM-S vs DenseDepth"))


def _fmt(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.3f}"


def table_markdown(records: dict[str, dict], keys: Sequence[str]) -> str:
    """One of the paper's tables: our measured row and the paper's reported row for each model."""
    rows = []
    for key in keys:
        label, rec = LABELS.get(key, key), records.get(key)
        if rec is not None:
            rows.append([label, f"ours, preset `{rec['preset']}`", rec["data"],
                         *(_fmt(rec["metrics"].get(k)) for k, _ in COLUMNS)])
        elif key not in NOT_OURS:
            rows.append([label, "ours", "not run", *("–" for _ in COLUMNS)])
        if key in REPORTED:
            rep = REPORTED[key]
            rows.append([label, f"**reported**: {rep.source}", rep.split,
                         *(_fmt(rep.metrics.get(k)) for k, _ in COLUMNS)])
    header = ["model", "source", "data", *(c for _, c in COLUMNS)]
    return markdown_table(header, rows, "lll" + "r" * len(COLUMNS))


def zero_shot_markdown(out_dir: str | os.PathLike, records: dict[str, dict], key: str = "abs_rel") -> str:
    """AbsRel (95 % interval) of every model in-domain and on each zero-shot set, raw and median-scaled."""
    sets = sorted({name for rec in records.values() for name in rec.get("zero_shot", {})})
    if not sets:
        return "_no zero-shot sets in this run_"
    head = ["model", "test (in-domain)"] + [f"{s} {kind}" for s in sets for kind in ("raw", "median-scaled")]
    body = []
    for model, rec in records.items():
        if model.startswith("ablation_") or not rec.get("zero_shot"):
            continue
        cells = [fmt_interval(bootstrap_mean([r[key] for r in per_image_rows(out_dir, rec)]))]
        for name in sets:
            if name not in rec["zero_shot"]:
                cells += ["–", "–"]
                continue
            rows = per_image_rows(out_dir, rec, name)
            cells += [fmt_interval(bootstrap_mean([r[key] for r in rows])),
                      fmt_interval(bootstrap_mean([r[f"med_{key}"] for r in rows]))]
        body.append([LABELS.get(model, model), *cells])
    return (f"{METRIC_NAMES[key]}, mean over images with its 95 % bootstrap interval. *Median-scaled*: each image's "
            "prediction multiplied by median(truth) / median(prediction) first, so only the structure is scored.\n\n"
            + markdown_table(head, body))


def comparisons_markdown(out_dir: str | os.PathLike, records: dict[str, dict],
                         keys: Sequence[str] = ("abs_rel", "a1")) -> str:
    """Every comparison of :data:`COMPARISONS` whose two models the run has, on each set both were tested on."""
    parts = []
    for a, b, question in COMPARISONS:
        if a not in records or b not in records:
            continue
        parts.append(f"### {question}\n")
        sets = ["test", *[s for s in records[a].get("zero_shot", {}) if s in records[b].get("zero_shot", {})]]
        for name in sets:
            rows_a, rows_b = per_image_rows(out_dir, records[a], name), per_image_rows(out_dir, records[b], name)
            parts.append(f"*{name}*\n\n" + paired_table(rows_a, rows_b, (LABELS.get(a, a), LABELS.get(b, b)), keys)
                         + "\n")
    return "\n".join(parts) if parts else "_no pair of comparable models in this run_"


def results_markdown(out_dir: str | os.PathLike, records: dict[str, dict]) -> str:
    """The whole results page: both tables, zero-shot columns, the comparisons, and the provenance of every row."""
    extra = [k for k in records if k not in TABLE2 + TABLE3 and not k.startswith("ablation_")]
    return "\n".join([
        "# Results", "",
        "Rows marked *ours* were measured by this project on the data and preset they name; rows marked "
        "**reported** are the paper's Tables 2 and 3, as printed, with the publication and the NYU Depth V2 test "
        "split they come from. Numbers on SynthRooms are not comparable with numbers on NYU.", "",
        "## Table 2 · baselines", "", table_markdown(records, TABLE2), "",
        "## Table 3 · ZoeDepth and ZoeDAM", "", table_markdown(records, TABLE3 + tuple(extra)), "",
        "## Zero-shot: test sets nobody trained on", "", zero_shot_markdown(out_dir, records), "",
        "## Comparisons (paired bootstrap over the same images)", "", comparisons_markdown(out_dir, records), ""])


def write_results_page(out_dir: str | os.PathLike, records: dict[str, dict]) -> Path:
    """Write ``<out_dir>/results.md`` atomically."""
    path = Path(out_dir) / "results.md"
    atomic_write_bytes(path, results_markdown(out_dir, records).encode("utf-8"))
    return path
