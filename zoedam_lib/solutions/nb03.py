"""Solutions of notebook 03's exercises (DenseDepth, paper §3.1.2–4)."""

from __future__ import annotations

import os
from pathlib import Path

from zoedam_lib.checkpoints import load_model
from zoedam_lib.experiments.densedepth import run_densedepth
from zoedam_lib.solutions.common import exercise_run, mean_of, report, stored
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE

SHRINK = {"epochs": 1, "max_steps_per_epoch": 1, "img_size": (32, 64), "n_val": 2}  # tiny trainings for the test
TEST_SETTINGS = {1: SHRINK, 2: SHRINK, 3: {"checkpoint": "exercises/03_epochs8/checkpoints/densedepth"}}


def exercise_1(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               epochs: int = 8, **recipe: object) -> dict[str, object]:
    """Train twice as long (``epochs=8``): does the validation AbsRel keep falling, does the test AbsRel leave
    the 4-epoch run's interval? (About 4.5 min on 2 CPU cores.)"""
    ctx = exercise_run("03_epochs8", data_path, split, seed, out_dir, device, preset)
    result = run_densedepth(ctx, epochs=epochs, **recipe)
    return report({"validation AbsRel per epoch": [round(r["val_abs_rel"], 3) for r in result.state.history],
                   "test AbsRel": mean_of(result.evaluation.per_image)})


def exercise_2(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               **recipe: object) -> dict[str, object]:
    """What does ImageNet initialisation give? The same recipe with ``pretrained=None`` and ``"imagenet"``.

    Offline both encoders start random (the run says so): the two numbers are then one recipe
    trained twice. Only on a machine that can download torchvision's weights is this the question.
    """
    found = {}
    for name, imagenet in (("random", False), ("imagenet", True)):
        ctx = exercise_run(f"03_encoder_{name}", data_path, split, seed, out_dir, device, preset)
        result = run_densedepth(ctx, pretrained_encoder=imagenet, **recipe)
        found[f"test AbsRel, encoder {name}"] = mean_of(result.evaluation.per_image)
    return report(found)


def exercise_3(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto",
               checkpoint: str = "checkpoints/densedepth", **_: object) -> dict[str, float]:
    """How much does flip test-time augmentation give the trained model? Evaluate it with and without."""
    path = stored(out_dir, checkpoint, "03") if not Path(checkpoint).is_absolute() else Path(checkpoint)
    ctx = exercise_run("03_flip", data_path, split, seed, out_dir, device, "auto")
    model = load_model(path, device=ctx.device)
    found = {f"test AbsRel, flip TTA {flip}": mean_of(ctx.evaluate(model, flip_tta=flip, progress=False)[0].per_image)
             for flip in (True, False)}
    return report(found)
