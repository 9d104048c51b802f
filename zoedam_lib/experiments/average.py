"""The average-depth baseline run (notebook 02): fit on random training images, evaluate, write its row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checkpoints import save_model
from ..data.datasets import DepthDataset
from ..evaluation import EvalResult, evaluate
from ..models.average import AverageDepth
from ..results import write_result
from ..run import RunContext


@dataclass
class AverageResult:
    model: AverageDepth
    evaluation: EvalResult
    used_indices: list[int]
    result_path: Path


def run_average(ctx: RunContext, n_images: int = 400) -> AverageResult:
    """Average the depth maps of ``n_images`` random training images (the paper's 400) and evaluate it."""
    rng = np.random.default_rng([ctx.seed, 400])
    train = np.array(ctx.split.train)
    chosen = sorted(rng.choice(train, size=min(n_images, len(train)), replace=False).tolist())
    with ctx.open_data() as mat:
        model = AverageDepth.fit(mat.read_depth(i) for i in chosen)
        test = DepthDataset(mat, ctx.split.test)
        result = evaluate(model, test, flip_tta=False, device="cpu")
    save_model(model, ctx.out_dir / "checkpoints" / "average")
    path = write_result(ctx.out_dir, "average", ctx.provenance(), metrics=result.metrics, n_test=result.n_images,
                        per_image=result.per_image, n_skipped=len(result.skipped), n_averaged=len(chosen),
                        checkpoint="checkpoints/average")
    return AverageResult(model, result, chosen, path)
