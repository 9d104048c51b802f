"""Benchmark cases of the ``cpu`` preset's training step: eager, ``torch.compile``, and two runs side by side.

The step is the one notebook 04 runs — ZoeDAM-S at 98×126, batch 4, SILog, AdamW, clipping, AMP as the
trainer resolves it (bf16 only on CPUs that run it natively) — through the
:class:`~zoedam_lib.training.trainer.Trainer`'s own ``step`` on SynthRooms images rendered in memory.
``train_side_by_side`` starts two single-threaded copies of ``train_cpu`` at once: their summed
images/s against one two-thread run is what :mod:`zoedam_lib.experiments.concurrent` gains on 2 cores.
``reference_head`` trains through the model's own forward (ZoeDepth's NCHW head) instead of the
channels-last wrapper the experiments train through (:func:`~zoedam_lib.inference.exact.prepare_training`):
the baseline of the training speed-up target.
"""

from __future__ import annotations

import functools
import statistics
import subprocess

import torch

from zoedam_lib.bench.common import peak_rss_mb
from zoedam_lib.bench.paper import RenderedImages, time_trainer_steps
from zoedam_lib.experiments.presets import recipe_for
from zoedam_lib.experiments.zoedam import build_zoedam
from zoedam_lib.inference.exact import prepare_training


def case_train_cpu(args: dict) -> dict:
    """``steps`` timed trainer steps (after ``warmup``) of the cpu preset; ``compile``: ``model.compile()`` first;
    ``reference_head``: the model's own forward (ZoeDepth's NCHW head), not the channels-last training wrapper."""
    if args.get("threads"):
        torch.set_num_threads(int(args["threads"]))
    steps, warmup = int(args.get("steps", 12)), int(args.get("warmup", 2))
    recipe = recipe_for("zoedam", "cpu")
    torch.manual_seed(0)
    model, _ = build_zoedam("vits", None, img_size=recipe.img_size, verbose=False)
    wrap = None if args.get("reference_head") else prepare_training
    if args.get("compile"):
        wrap = functools.partial(_compiled, wrap)
    trainer, times, losses = time_trainer_steps(model, recipe, RenderedImages(16), torch.device("cpu"), steps, warmup,
                                                wrap)
    train = recipe.train
    step_s = statistics.median(times[warmup:])
    return {"step_ms": 1000 * step_s, "images_per_s": train.batch_size / step_s, "first_step_s": times[0],
            "threads": torch.get_num_threads(), "amp": str(trainer.amp_dtype), "losses": losses,
            "peak_rss_mb": peak_rss_mb(), "img_size": list(recipe.img_size), "batch_size": train.batch_size}


def _compiled(wrap, model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile`` of what the step runs (the wrapper, or the model itself)."""
    return torch.compile(wrap(model) if wrap is not None else model)


def case_train_side_by_side(args: dict) -> dict:
    """Two single-threaded ``train_cpu`` runs started together; their images/s summed."""
    from zoedam_lib.bench.process import case_command, case_result

    cmd = case_command("train_cpu", {**args, "threads": 1})
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    runs = [case_result(*proc.communicate()) for proc in procs]
    if failed := next((r for r in runs if "error" in r), None):
        return failed
    return {"runs": runs, "images_per_s": sum(r["images_per_s"] for r in runs),
            "step_ms": statistics.mean(r["step_ms"] for r in runs)}
