"""The average-depth baseline run (notebook 02): fit on random training images, evaluate, write its row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoedam_lib.checkpoints import save_model
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.evaluation_cache import evaluate_once
from zoedam_lib.experiments.results import write_result
from zoedam_lib.models.average import AverageDepth
from zoedam_lib.utils.errors import ConfigError


@dataclass
class AverageResult:
    model: AverageDepth
    evaluation: EvalResult
    zero_shot: dict[str, EvalResult]
    used_indices: list[int]
    result_path: Path


def run_average(ctx: RunContext, n_images: int = 400) -> AverageResult:
    """Average the depth maps of ``n_images`` random training images (the paper's 400) and evaluate it."""
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise ConfigError(f"n_images must be a number of training depth maps >= 1 (the paper: 400), got {n_images!r}")
    rng = np.random.default_rng([ctx.seed, 400])
    train = np.array(ctx.split.train)
    chosen = sorted(rng.choice(train, size=min(n_images, len(train)), replace=False).tolist())
    with ctx.open_data() as data:
        model = AverageDepth.fit(data.read_depth(i) for i in chosen)
    result, zero_shot = evaluate_once(ctx, model.to(ctx.device), flip_tta=False)
    save_model(model, ctx.out_dir / "checkpoints" / "average")
    path = write_result(ctx.out_dir, "average", ctx.provenance(), result, zero_shot, n_averaged=len(chosen),
                        checkpoint="checkpoints/average")
    return AverageResult(model, result, zero_shot, chosen, path)
