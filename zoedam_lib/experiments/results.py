"""The results hand-off between notebooks: one JSON per model under ``<out_dir>/results/``.

Each file says which model, data and preset produced its numbers; ``06_results`` reads them
all and sets them beside the paper's *reported* numbers, never mixing the two.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.evaluation.metrics import METRIC_KEYS, METRIC_NAMES
from zoedam_lib.utils.atomic import atomic_path, atomic_write_json
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.markdown import markdown_table as table
from zoedam_lib.utils.names import inside
from zoedam_lib.utils.paths import display_path

_THEIR_SPLIT = "NYU Depth V2, the paper's random 400-image test split"
_OFFICIAL_SPLIT = "NYU Depth V2, the official 654-image test split"
CSV_SEPARATOR = "@"  # between a results key and an evaluation set in a per-image CSV's name (per_image_csv_name)


@dataclass(frozen=True)
class Reported:
    """Numbers the paper printed: never ours, always shown with where they come from and on which split."""

    metrics: dict[str, float]
    source: str  # where the numbers were published
    split: str  # the test images they were measured on

    def label(self) -> str:
        return f"reported: {self.source}; {self.split}"


REPORTED: dict[str, Reported] = {
    "average": Reported({"abs_rel": 228.077, "rmse": 228.081, "log_10": 1.751}, "ZoeDAM paper, Table 2",
                        _THEIR_SPLIT),
    "densedepth": Reported({"abs_rel": 1.079, "rmse": 1.235, "log_10": 0.103}, "ZoeDAM paper, Table 2",
                           _THEIR_SPLIT),
    "zoedepth": Reported({"abs_rel": 0.075, "rmse": 0.270, "log_10": 0.032},
                         "ZoeDAM paper, Table 3 = ZoeDepth's own ZoeD-M12-N result (Bhat et al. 2023)",
                         _OFFICIAL_SPLIT),
    # The caption claims its own run on its split; the digits are Depth Anything's published NYU metric result
    # (Yang et al. 2024, Table 3: 0.056 / 0.206 / 0.024 on the official split): shown as an inference, beside the claim.
    "zoedam_vitl": Reported({"abs_rel": 0.056, "rmse": 0.206, "log_10": 0.024},
                            "ZoeDAM paper, Table 3, whose caption says \"re-implemented, trained, and evaluated with "
                            "our code\"", f"{_THEIR_SPLIT} as claimed; the same digits as Depth Anything's published "
                            "NYU metric result on the official 654-image test split (Yang et al. 2024), so probably "
                            "copied from it (our inference, not the paper's statement)"),
    "zoedam_vitb": Reported({"abs_rel": 0.061, "rmse": 0.254, "log_10": 0.029}, "ZoeDAM paper, Table 3",
                            _THEIR_SPLIT),
    "zoedam_plus": Reported({"abs_rel": 0.287, "rmse": 0.219, "log_10": 0.510}, "ZoeDAM paper, Table 3",
                            _THEIR_SPLIT),
}
LABELS = {"average": "Average depth", "densedepth": "DenseDepth", "zoedepth": "ZoeDepth",
          "zoedam_vits": "ZoeDAM-S", "zoedam_vitb": "ZoeDAM-B", "zoedam_vitl": "ZoeDAM-L",
          "zoedam_vits_random": "ZoeDAM-S, random init", "zoedam_plus": "ZoeDAM+",
          "zoedam_vits_blind": "ZoeDAM-S camera-blind (paper recipe)",
          "zoedam_plus_control": "ZoeDAM+ control (no unlabeled loss)",
          "ablation_beta0": "ZoeDAM-S, SILog β = 0 (short run)",
          "ablation_beta0.15": "ZoeDAM-S, SILog β = 0.15 (short run)"}
TABLE2 = ("average", "densedepth")
TABLE3 = ("zoedepth", "zoedam_vits", "zoedam_vitb", "zoedam_vitl", "zoedam_plus")


def write_result(out_dir: str | os.PathLike, key: str, provenance: dict[str, Any], evaluation: EvalResult,
                 zero_shot: dict[str, EvalResult] | None = None, **extra: Any) -> Path:
    """Write ``<out_dir>/results/<key>.json`` and its per-image CSVs, atomically.

    ``provenance`` is :meth:`RunContext.provenance` (data, data kind, preset, split, seed);
    ``evaluation`` is the in-domain test set's; ``zero_shot`` the evaluations on sets nobody
    trained on (name → result), each with raw and median-scaled metrics. The CSVs are moved into
    place only after the JSON was written, so a failed write (a full disk) leaves the previous
    files intact, not an old JSON beside a new CSV.
    """
    results = Path(out_dir) / "results"
    if "test" in (zero_shot or {}):
        raise ConfigError("a zero-shot set cannot be named 'test': that is the run's own test split, whose "
                          "per-image rows it would replace; name the set after its file")
    record = {"model": key, "label": LABELS.get(key, key), **provenance, **_summary(evaluation),
              "created": _dt.datetime.now().isoformat(timespec="seconds"),
              "versions": {"torch": torch.__version__, "python": platform.python_version()}, **extra}
    evaluations = {"test": evaluation, **(zero_shot or {})}
    if zero_shot:
        record["zero_shot"] = {name: _summary(ev) for name, ev in zero_shot.items()}
    path = inside(results, f"{key}.json")  # a key or set name with a path in it never writes elsewhere
    with contextlib.ExitStack() as pending:
        for name, ev in evaluations.items():
            csv_path = inside(results, per_image_csv_name(key, name))
            with open(pending.enter_context(atomic_path(csv_path)), "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(ev.per_image[0]))
                writer.writeheader()
                writer.writerows(ev.per_image)
            (record if name == "test" else record["zero_shot"][name])["per_image"] = csv_path.name
        atomic_write_json(path, record)
    return path


def per_image_csv_name(key: str, eval_set: str = "test") -> str:
    """``<key>_per_image.csv`` for the run's test split, ``<key>@<set>_per_image.csv`` for another evaluation set.

    Why ``@``: keys and set names become file names through ``utils.names.safe_name`` (letters,
    digits, ``.``, ``-``, ``_``), which never holds it; with ``_`` between them, key ``m``'s set
    ``x`` and key ``m_x``'s test split were both ``m_x_per_image.csv``, one run's rows silently
    replacing the other's. Readers take the name the results JSON records (``per_image``), so
    files written under the old names still read. A name holding ``@`` itself is refused.
    """
    for what, name in (("results key", key), ("evaluation set name", eval_set)):
        if CSV_SEPARATOR in name:
            raise ConfigError(f"{what} {name!r} holds {CSV_SEPARATOR!r}, which separates a results key from an "
                              "evaluation set in per-image CSV names; use letters, digits, '.', '-' and '_'")
    return f"{key}_per_image.csv" if eval_set == "test" else f"{key}{CSV_SEPARATOR}{eval_set}_per_image.csv"


def _summary(evaluation: EvalResult) -> dict[str, Any]:
    missing = [k for k in METRIC_KEYS if k not in evaluation.metrics]
    if missing:
        raise ValueError(f"metrics lack {missing}")
    return {"metrics": {k: float(evaluation.metrics[k]) for k in METRIC_KEYS},
            "median_scaled": {k: float(v) for k, v in evaluation.median_scaled.items()},
            "n_test": evaluation.n_images, "n_skipped": len(evaluation.skipped), "flip_tta": evaluation.flip_tta,
            "precision": evaluation.precision, "camera": evaluation.camera}


def per_image_rows(out_dir: str | os.PathLike, record: dict[str, Any], eval_set: str = "test") -> list[dict]:
    """The per-image metrics of a results record (its in-domain test set, or a zero-shot set by name)."""
    entry = record if eval_set == "test" else record.get("zero_shot", {}).get(eval_set)
    if entry is None or "per_image" not in entry:
        raise KeyError(f"{record.get('model')} has no per-image metrics for {eval_set!r}")
    with open(Path(out_dir) / "results" / entry["per_image"], newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def load_results(out_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """All results JSONs under ``<out_dir>/results``, keyed by model; unreadable files are reported."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((Path(out_dir) / "results").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            found[record["model"]] = record
        except (json.JSONDecodeError, KeyError) as exc:
            print(f"skipping {display_path(path)}: not a results file ({exc.__class__.__name__})")
    return found


def markdown_table(rows: dict[str, dict[str, float]], keys: tuple[str, ...] = METRIC_KEYS, digits: int = 3,
                   first: str = "model") -> str:
    """A markdown table, one row per entry; metrics under their display names (``METRIC_NAMES``: "AbsRel ↓"),
    other keys as they are; missing values print as "–"."""
    body = [[name] + [f"{metrics[k]:.{digits}f}" if k in metrics and metrics[k] == metrics[k] else "–" for k in keys]
            for name, metrics in rows.items()]
    return table([first] + [METRIC_NAMES.get(k, k) for k in keys], body)
