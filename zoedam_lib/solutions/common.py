"""What the solutions share: a run set up apart from the notebook's results, and per-image means."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoedam_lib.evaluation.bootstrap import Interval, bootstrap_difference, bootstrap_mean, paired_values
from zoedam_lib.experiments.context import RunContext, setup_run
from zoedam_lib.solutions import exercise_dir
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE

DEFAULTS = {"data_path": DEFAULT_SYNTH_FILE, "split": "paper", "seed": 0, "out_dir": "runs/demo", "device": "auto",
            "preset": "auto"}  # the notebooks' parameters cells


def exercise_run(name: str, data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
                 out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
                 zero_shot: Sequence[str] | None = ()) -> RunContext:
    """A run of the notebook's data and split whose outputs go to ``<out_dir>/exercises/<name>`` (the split is
    recomputed there from the same seed: the same images). No zero-shot sets unless asked for."""
    return setup_run(data_path, split, seed, exercise_dir(out_dir, name), device, preset, verbose=False,
                     zero_shot=zero_shot)


def notebook_run(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
                 out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto") -> RunContext:
    """The notebook's own run (its ``out_dir``, its zero-shot sets): where a solution finds what the notebook made."""
    return setup_run(data_path, split, seed, out_dir, device, preset, verbose=False)


def mean_of(rows: Sequence[dict], key: str = "abs_rel") -> float:
    """The mean over images of a per-image metric, as the course's tables report it."""
    return float(np.nanmean([r[key] for r in rows]))


def paired_gap(rows_a: Sequence[dict], rows_b: Sequence[dict], key: str = "abs_rel") -> Interval:
    """A − B of ``key`` on the images both were evaluated on (matched by index), with its paired 95 % interval:
    the comparison the course's tables call supported when the interval excludes 0."""
    return bootstrap_difference(*paired_values(rows_a, rows_b, key))


def scale_ratio(rows: Sequence[dict]) -> Interval:
    """Mean predicted / true median depth per image (scale_table's last column): which way the scale is off."""
    return bootstrap_mean([r["pred_median"] / r["gt_median"] for r in rows])


def rounded(values: dict, digits: int = 3) -> dict:
    """``values`` with floats rounded for printing."""
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in values.items()}


def report(values: dict) -> dict:
    """Print ``values`` (rounded) one per line and return them."""
    for key, value in rounded(values).items():
        print(f"{key}: {value}")
    return values


def stored(out_dir: str | os.PathLike, relative: str, notebook: str) -> Path:
    """A file the notebook wrote under ``out_dir``, or an error saying which notebook writes it."""
    path = Path(out_dir) / relative
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run notebook {notebook} (same out_dir) first")
    return path
