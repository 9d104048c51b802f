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
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_path, atomic_write_json
from .metrics import METRIC_KEYS

# The paper's Tables 2 and 3 (NYU Depth V2, their 400-image test split), as printed.
REPORTED: dict[str, dict[str, float]] = {
    "average": {"abs_rel": 228.077, "rmse": 228.081, "log_10": 1.751},
    "densedepth": {"abs_rel": 1.079, "rmse": 1.235, "log_10": 0.103},
    "zoedepth": {"abs_rel": 0.075, "rmse": 0.270, "log_10": 0.032},
    "zoedam_vitl": {"abs_rel": 0.056, "rmse": 0.206, "log_10": 0.024},
    "zoedam_vitb": {"abs_rel": 0.061, "rmse": 0.254, "log_10": 0.029},
    "zoedam_plus": {"abs_rel": 0.287, "rmse": 0.219, "log_10": 0.510},
}
LABELS = {"average": "Average depth", "densedepth": "DenseDepth", "zoedepth": "ZoeDepth",
          "zoedam_vits": "ZoeDAM-S", "zoedam_vitb": "ZoeDAM-B", "zoedam_vitl": "ZoeDAM-L",
          "zoedam_plus": "ZoeDAM+"}
TABLE2 = ("average", "densedepth")
TABLE3 = ("zoedepth", "zoedam_vits", "zoedam_vitb", "zoedam_vitl", "zoedam_plus")


def write_result(out_dir: str | os.PathLike, key: str, provenance: dict[str, Any], *, metrics: dict[str, float],
                 n_test: int, per_image: list[dict] | None = None, **extra: Any) -> Path:
    """Write ``<out_dir>/results/<key>.json`` (and per-image metrics as CSV), atomically.

    ``provenance`` is :meth:`RunContext.provenance` (data, data kind, preset, split, seed). The CSV
    is moved into place only after the JSON was written, so a failed write (a full disk) leaves
    the previous pair intact, not an old JSON beside a new CSV.
    """
    results = Path(out_dir) / "results"
    missing = [k for k in METRIC_KEYS if k not in metrics]
    if missing:
        raise ValueError(f"metrics lack {missing}")
    record = {"model": key, "label": LABELS.get(key, key), **provenance, "n_test": n_test,
              "metrics": {k: float(metrics[k]) for k in METRIC_KEYS},
              "created": _dt.datetime.now().isoformat(timespec="seconds"),
              "versions": {"torch": torch.__version__, "python": platform.python_version()}, **extra}
    path = results / f"{key}.json"
    with contextlib.ExitStack() as pending:
        if per_image:
            per_image_path = results / f"{key}_per_image.csv"
            with open(pending.enter_context(atomic_path(per_image_path)), "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(per_image[0]))
                writer.writeheader()
                writer.writerows(per_image)
            record["per_image"] = per_image_path.name
        atomic_write_json(path, record)
    return path


def load_results(out_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """All results JSONs under ``<out_dir>/results``, keyed by model; unreadable files are reported."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((Path(out_dir) / "results").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            found[record["model"]] = record
        except (json.JSONDecodeError, KeyError) as exc:
            print(f"skipping {path}: not a results file ({exc.__class__.__name__})")
    return found


def markdown_table(rows: dict[str, dict[str, float]], keys: tuple[str, ...] = METRIC_KEYS, digits: int = 3,
                   first: str = "model") -> str:
    """A markdown table, one row per entry; missing values print as "–"."""
    head = f"| {first} | " + " | ".join(keys) + " |\n|---|" + "---:|" * len(keys)
    lines = [head]
    for name, metrics in rows.items():
        cells = [f"{metrics[k]:.{digits}f}" if k in metrics and metrics[k] == metrics[k] else "–" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
