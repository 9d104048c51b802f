"""The spread over seeds: the same notebooks run with other seeds, summarised per model.

One run's third decimal means little: a fresh clone on another machine moved ZoeDAM-S's AbsRel
from 0.195 to 0.207. ``make demo-seeds`` runs the training notebooks with further seeds (each a
new split, initialisation, data order and augmentation) into their own run folders; this module
reads every run's results JSONs and reports, per model and evaluation set, the mean, the standard
deviation and the range over seeds — the figure a conclusion has to survive.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoedam_lib.experiments.results import LABELS, load_results
from zoedam_lib.utils.markdown import markdown_table

HEADLINE = ("abs_rel", "rmse", "a1")


def collect(run_dirs: Sequence[str | os.PathLike], keys: Sequence[str] = HEADLINE
            ) -> dict[tuple[str, str, str], dict[int, float]]:
    """{(model, eval set, metric): {seed: value}} over the runs (eval set "test" or a zero-shot set's name;
    zero-shot sets also give their median-scaled AbsRel as metric ``med_abs_rel``)."""
    table: dict[tuple[str, str, str], dict[int, float]] = {}
    for run in run_dirs:
        for model, record in load_results(run).items():
            seed = int(record["seed"])
            sets = {"test": record, **record.get("zero_shot", {})}
            for name, entry in sets.items():
                for key in keys:
                    table.setdefault((model, name, key), {})[seed] = float(entry["metrics"][key])
                if name != "test" and "median_scaled" in entry:
                    table.setdefault((model, name, "med_abs_rel"), {})[seed] = float(
                        entry["median_scaled"]["abs_rel"])
    return table


def summary_markdown(run_dirs: Sequence[str | os.PathLike], keys: Sequence[str] = HEADLINE) -> str:
    """A markdown table: model, eval set, metric, mean ± sd over seeds, min–max, the seeds.

    A model present in one run only (e.g. notebook 04's β ablation, which ``make demo-seeds`` skips)
    has no spread: it is named under the table instead of given an "± nan" row.
    """
    rows = []
    single: set[str] = set()
    for (model, name, key), by_seed in sorted(collect(run_dirs, keys).items()):
        values = np.array([by_seed[s] for s in sorted(by_seed)])
        if len(values) < 2:
            single.add(LABELS.get(model, model))
            continue
        rows.append([LABELS.get(model, model), name, key, f"{values.mean():.3f} ± {values.std(ddof=1):.3f}",
                     f"{values.min():.3f} – {values.max():.3f}", ", ".join(map(str, sorted(by_seed)))])
    header = ["model", "evaluated on", "metric", "mean ± sd over seeds", "min – max", "seeds"]
    text = markdown_table(header, rows, "lllrrl")
    if single:
        text += "\n\nIn one run only (no spread): " + ", ".join(sorted(single)) + "."
    return text


def run_dirs_of(root: str | os.PathLike) -> list[Path]:
    """Every folder under ``root`` (itself included) that holds a ``results/`` folder."""
    root = Path(root)
    return sorted(p.parent for p in [root / "results", *root.glob("*/results")] if p.is_dir())
