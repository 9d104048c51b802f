"""Solutions of notebook 02's exercises (the average-depth baseline, paper §3.1.1)."""

from __future__ import annotations

import os

import numpy as np

from zoedam_lib.evaluation.metrics import compute_metrics
from zoedam_lib.experiments.average import run_average
from zoedam_lib.reports.data_summary import depth_values
from zoedam_lib.solutions.common import exercise_run, mean_of, report
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE


def exercise_1(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", n_images: int = 10, **_: object) -> dict[str, float]:
    """Average only ``n_images=10`` training maps instead of all 391: how much do the metrics move? Why so little?"""
    ctx = exercise_run(f"02_n{n_images}", data_path, split, seed, out_dir, "cpu")
    few, every = (run_average(ctx, n_images=n).evaluation.per_image for n in (n_images, len(ctx.split.train)))
    n_all = len(ctx.split.train)
    return report({f"AbsRel, {n_images} maps": mean_of(few), f"AbsRel, {n_all} maps": mean_of(every),
                   f"δ1, {n_images} maps": mean_of(few, "a1"), f"δ1, {n_all} maps": mean_of(every, "a1")})


def exercise_2(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 1,
               out_dir: str | os.PathLike = "runs/demo", **_: object) -> dict[str, float]:
    """Another split (``seed=1``: other training maps *and* other test images): does AbsRel leave seed 0's interval?"""
    ctx = exercise_run(f"02_seed{seed}", data_path, split, seed, out_dir, "cpu")
    return report({f"AbsRel, seed {seed}": mean_of(run_average(ctx).evaluation.per_image)})


def exercise_3(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", **_: object) -> dict[str, float]:
    """A constant map at the median *training* depth instead of the per-pixel mean: what do the metrics become?

    The constant comes from the training images only (every valid pixel, subsampled 4×4); taking
    each test image's own median instead would let the baseline peek at the answer.
    """
    ctx = exercise_run("02_median", data_path, split, seed, out_dir, "cpu")
    with ctx.open_data() as data:
        constant = float(np.median(depth_values(data, ctx.split.train)))
        rows = [compute_metrics(np.full_like(gt, constant), gt) for gt in map(data.read_depth, ctx.split.test)]
    per_pixel = run_average(ctx).evaluation.per_image
    return report({"median training depth [m]": constant, "AbsRel, constant median": mean_of(rows),
                   "AbsRel, per-pixel mean map": mean_of(per_pixel), "δ1, constant median": mean_of(rows, "a1"),
                   "δ1, per-pixel mean map": mean_of(per_pixel, "a1")})
