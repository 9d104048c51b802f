"""Benchmark cases of the ``cpu`` preset's training step: eager, ``torch.compile``, and two runs side by side.

The step is the one notebook 04 runs — ZoeDAM-S at 98×126, batch 4, SILog, AdamW, clipping, AMP as the
trainer resolves it (bf16 only on CPUs that run it natively) — through the
:class:`~zoedam_lib.training.trainer.Trainer`'s own ``step`` on SynthRooms images rendered in memory.
``train_side_by_side`` starts two single-threaded copies of ``train_cpu`` at once: their summed
images/s against one two-thread run is what :mod:`zoedam_lib.experiments.concurrent` gains on 2 cores.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial

import torch

from .bench_paper import _RenderedImages
from .data.datasets import DepthDataset, EpochBatchSampler
from .data.loader_bench import peak_rss_mb
from .experiments.table import EXPERIMENTS, recipe_for
from .experiments.zoedam import build_zoedam, silog_step
from .training.trainer import Trainer


def case_train_cpu(args: dict) -> dict:
    """``steps`` timed trainer steps (after ``warmup``) of the cpu preset; ``compile``: ``model.compile()`` first."""
    if args.get("threads"):
        torch.set_num_threads(int(args["threads"]))
    steps, warmup = int(args.get("steps", 12)), int(args.get("warmup", 2))
    recipe = recipe_for("zoedam", "cpu")
    train = dataclasses.replace(recipe.train, epochs=1, max_steps_per_epoch=None)
    torch.manual_seed(0)
    model, _ = build_zoedam("vits", None, img_size=recipe.img_size, verbose=False)
    if args.get("compile"):
        model.compile()  # in place: the state dict keeps its keys
    data = _RenderedImages(16)
    dataset = DepthDataset(data, range(len(data)), EXPERIMENTS["zoedam"].augment(), seed=0)
    batches = [torch.utils.data.default_collate([dataset[k] for k in keys])
               for keys in EpochBatchSampler(len(dataset), train.batch_size, 0, 0, 0, 1)]
    # enough scheduler steps for the timed ones: an epoch of len(batches) steps, repeated
    train = dataclasses.replace(train, epochs=-(-(steps + warmup) // len(batches)))
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(model, partial(silog_step, beta=recipe.options.silog_beta), dataset, train, run_dir,
                          device=torch.device("cpu"), progress=False)
        times, losses = [], []
        for i in range(warmup + steps):
            start = time.perf_counter()
            losses.append(trainer.step(batches[i % len(batches)]))
            times.append(time.perf_counter() - start)
    step_s = statistics.median(times[warmup:])
    return {"step_ms": 1000 * step_s, "images_per_s": train.batch_size / step_s, "first_step_s": times[0],
            "threads": torch.get_num_threads(), "amp": str(trainer.amp_dtype), "losses": losses,
            "peak_rss_mb": peak_rss_mb(), "img_size": list(recipe.img_size), "batch_size": train.batch_size}


def case_train_side_by_side(args: dict) -> dict:
    """Two single-threaded ``train_cpu`` runs started together; their images/s summed."""
    cmd = [sys.executable, "-m", "zoedam_lib.bench_cases", "train_cpu", json.dumps({**args, "threads": 1})]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    runs = []
    for proc in procs:
        out, err = proc.communicate()
        line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
        if line is None:
            return {"error": (err or out)[-500:]}
        runs.append(json.loads(line[len("BENCH_JSON "):]))
    return {"runs": runs, "images_per_s": sum(r["images_per_s"] for r in runs),
            "step_ms": statistics.mean(r["step_ms"] for r in runs)}
