"""The spread over seeds: the same notebooks run with other seeds, summarised per model.

One run's third decimal means little: a fresh clone on another machine moved ZoeDAM-S's AbsRel
from 0.195 to 0.207. ``make demo-seeds`` runs the training notebooks with further seeds (each a
new split, initialisation, data order and augmentation) into their own run folders; this module
reads every run's results JSONs and reports, per model and evaluation set, the mean, the standard
deviation and the range over seeds — the figure a conclusion has to survive.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoedam_lib.experiments.results import LABELS
from zoedam_lib.utils.errors import DataFileError
from zoedam_lib.utils.markdown import markdown_table
from zoedam_lib.utils.paths import display_path

HEADLINE = ("abs_rel", "rmse", "a1")


def collect(run_dirs: Sequence[str | os.PathLike], keys: Sequence[str] = HEADLINE
            ) -> dict[tuple[str, str, str], dict[int, float]]:
    """{(model, eval set, metric): {seed: value}} over the runs (eval set "test" or a zero-shot set's name;
    zero-shot sets also give their median-scaled AbsRel as metric ``med_abs_rel``)."""
    table: dict[tuple[str, str, str], dict[int, float]] = {}
    first_seen: dict[tuple[str, int], Path] = {}
    for run in dict.fromkeys(Path(r).resolve() for r in run_dirs):  # one folder named twice counts once
        for path, record in read_run(run, keys).items():
            model, seed = record["model"], record["seed"]
            if (model, seed) in first_seen:
                raise DataFileError(f"{display_path(first_seen[model, seed])} and {display_path(path)} both hold "
                                    f"{model!r} with seed {seed}: a spread over seeds counts each seed once. Pass "
                                    "only one of their run folders")
            first_seen[model, seed] = path
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


def read_run(run_dir: str | os.PathLike, keys: Sequence[str] = HEADLINE) -> dict[Path, dict[str, Any]]:
    """Every ``results/*.json`` of one run, each checked for the fields the spread reads.

    Why not :func:`~zoedam_lib.experiments.results.load_results`: it skips what it cannot parse,
    which is right for a notebook's overview but here would drop a seed without a word (or
    fail later on a list, a missing ``seed`` or a metric stored as a string, with a bare
    traceback). A summary over seeds is only as good as its inputs, so a malformed file is a
    :class:`DataFileError` naming it and what it lacks.
    """
    found: dict[Path, dict[str, Any]] = {}
    models: dict[str, Path] = {}
    for path in sorted((Path(run_dir) / "results").glob("*.json")):
        record = _checked_record(path, keys)
        if record["model"] in models:
            raise DataFileError(f"{display_path(models[record['model']])} and {display_path(path)} both hold the "
                                f"results of {record['model']!r}, one run folder holds one file per model: "
                                "move the copy out of results/")
        models[record["model"]] = path
        found[path] = record
    return found


def _checked_record(path: Path, keys: Sequence[str]) -> dict[str, Any]:
    """``path`` parsed, with the fields :func:`collect` reads checked, or a DataFileError saying which is wrong."""
    fix = ("Results files are written by training and `zoedam eval` (experiments.results.write_result): re-run "
           "the notebook or command that wrote it, or move the file out of results/")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataFileError(f"results file {display_path(path)} is not readable JSON ({exc}). {fix}") from None
    if not isinstance(record, dict):
        raise DataFileError(f"results file {display_path(path)} holds a JSON {type(record).__name__}, expected an "
                            f"object with 'model', 'seed' and 'metrics'. {fix}")
    missing = [k for k in ("model", "seed", "metrics") if k not in record]
    if missing:
        raise DataFileError(f"results file {display_path(path)} lacks {missing} (it has {sorted(record)}). {fix}")
    problems = []
    if not isinstance(record["model"], str) or not record["model"]:
        problems.append(f"'model' must be a non-empty string, got {record['model']!r}")
    if not isinstance(record["seed"], int) or isinstance(record["seed"], bool) or record["seed"] < 0:
        problems.append(f"'seed' must be a whole number >= 0, got {record['seed']!r}")
    problems += _metric_problems("metrics", record["metrics"], keys)
    zero_shot = record.get("zero_shot", {})
    if not isinstance(zero_shot, dict):
        problems.append(f"'zero_shot' must be an object of evaluation sets, got {type(zero_shot).__name__}")
        zero_shot = {}
    for name, entry in zero_shot.items():
        if not isinstance(entry, dict):
            problems.append(f"zero_shot[{name!r}] must be an object with 'metrics', got {type(entry).__name__}")
            continue
        problems += _metric_problems(f"zero_shot[{name!r}].metrics", entry.get("metrics"), keys)
        if "median_scaled" in entry:
            problems += _metric_problems(f"zero_shot[{name!r}].median_scaled", entry["median_scaled"], ("abs_rel",))
    if problems:
        raise DataFileError(f"results file {display_path(path)}: {'; '.join(problems)}. {fix}")
    return record


def _metric_problems(where: str, metrics: Any, keys: Sequence[str]) -> list[str]:
    if not isinstance(metrics, dict):
        return [f"{where} must be an object of metric name to number, got {type(metrics).__name__}"]
    missing = [k for k in keys if k not in metrics]
    wrong = [f"{k}={metrics[k]!r}" for k in keys if k in metrics and not _number(metrics[k])]
    return ([f"{where} lacks {missing}"] if missing else []) + ([f"{where} are not numbers: {', '.join(wrong)}"]
                                                                 if wrong else [])


def _number(value: Any) -> bool:
    """A metric value as write_result stores it: an int or float (NaN too: no valid pixel), never a bool or text."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def run_dirs_of(root: str | os.PathLike) -> list[Path]:
    """Every folder under ``root`` (itself included) that holds a ``results/`` folder."""
    root = Path(root)
    return sorted(p.parent for p in [root / "results", *root.glob("*/results")] if p.is_dir())
