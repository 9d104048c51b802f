"""``bench --paper-recipe``: the paper's fine-tuning step, timed through the shared trainer.

The paper fine-tunes ZoeDAM on NYU's 1,049 training images at 392×518, batch 4, 5 epochs, and reports
7.5 h on two RTX 4090s (§4.3.1). This benchmark runs exactly that step — the ``paper`` recipe of the
experiment table (resolution, batch, AdamW, clipping, AMP), ZoeDepth's augmentation, SILog, the
:class:`~zoedam_lib.training.trainer.Trainer`'s own ``step`` — on NYU-size (480×640) SynthRooms images
rendered in memory, for each backbone, and reports images/s, peak memory and the projected wall time
of the paper's 5 epochs (training steps only; evaluation excluded). Weights start random: a step
costs the same whatever the weights hold, and nothing can be downloaded here.

On a GPU it is the figure the course needs (can the paper's recipe run in minutes?); on a CPU it runs
with ``--steps 2`` in the tests so that it cannot rot.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from zoedam_lib.bench.common import peak_rss_mb
from zoedam_lib.camera.intrinsics import scaled_intrinsics
from zoedam_lib.data.datasets import DepthDataset, EpochBatchSampler
from zoedam_lib.data.synthrooms.generate import render_item
from zoedam_lib.experiments.context import resolve_device
from zoedam_lib.experiments.presets import EXPERIMENTS, recipe_for
from zoedam_lib.experiments.recipes import Recipe
from zoedam_lib.experiments.zoedam import build_zoedam, silog_step
from zoedam_lib.inference.exact import prepare_training
from zoedam_lib.models.backbones import BACKBONES
from zoedam_lib.training.trainer import Trainer
from zoedam_lib.utils.errors import ConfigError

PAPER_TRAIN_IMAGES = 1049  # NYU minus the paper's random 400-image test split
PAPER_HOURS = 7.5  # the paper's reported fine-tuning time on two RTX 4090s


@dataclass(frozen=True)
class PaperBenchConfig:
    """What ``bench --paper-recipe`` runs."""

    backbones: tuple[str, ...] = ("vits", "vitb", "vitl")
    steps: int = 50  # timed steps per backbone
    warmup: int = 3  # untimed steps first (allocator, cuDNN autotuning)
    n_images: int = 16  # NYU-size SynthRooms images rendered once, cycled through
    device: str = "auto"

    def __post_init__(self) -> None:
        unknown = [b for b in self.backbones if b not in BACKBONES]
        if unknown or not self.backbones:
            raise ConfigError(f"--backbones takes names from {sorted(BACKBONES)}, got {list(self.backbones)}")
        if self.steps < 1 or self.warmup < 0 or self.n_images < 1:
            raise ConfigError(f"need steps >= 1, warmup >= 0, n_images >= 1; got {self.steps}, {self.warmup}, "
                              f"{self.n_images}")


class RenderedImages:
    """NYU-size SynthRooms items in memory: the ``read(i)`` and ``intrinsics(i)`` that :class:`DepthDataset` needs."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.items = [render_item(seed, i, 480, 640) for i in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.items[index]

    def intrinsics(self, index: int) -> tuple[float, float, float, float]:
        """The camera the items were rendered with: NYU's Kinect at 480x640."""
        return scaled_intrinsics(480, 640)


def _amp_name(dtype: torch.dtype | None) -> str:
    return "fp32 (no AMP)" if dtype is None else str(dtype).removeprefix("torch.")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_trainer_steps(model: torch.nn.Module, recipe: Recipe, data: RenderedImages, device: torch.device,
                       steps: int, warmup: int, wrap: Callable[[torch.nn.Module], torch.nn.Module] | None
                       = prepare_training) -> tuple[Trainer, list[float], list[float | None]]:
    """Time ``warmup + steps`` calls of the trainer's own ``step`` under ``recipe`` on ``data``, epoch after
    epoch of its batches (collation outside the timing): (trainer, seconds per step, losses). ``wrap``: what
    the step runs the model through, as the experiments train (None: the model's own reference forward).

    The OneCycle schedule is sized for at least every timed step: the recipe's own epochs over a few
    in-memory images are fewer steps than a benchmark times, and the scheduler refuses a step past its end.
    """
    dataset = DepthDataset(data, range(len(data)), EXPERIMENTS["zoedam"].augment(), seed=0)
    per_epoch = EpochBatchSampler.steps_per_epoch(len(dataset), recipe.train.batch_size)
    train = dataclasses.replace(recipe.train, max_steps_per_epoch=None,
                                epochs=max(recipe.train.epochs, math.ceil((steps + warmup) / max(per_epoch, 1))))
    with tempfile.TemporaryDirectory() as run_dir:  # the trainer's folder; nothing is written by step()
        trainer = Trainer(model, partial(silog_step, beta=recipe.options.silog_beta), dataset, train, run_dir,
                          device=device, progress=False, wrap=wrap)
        times: list[float] = []
        losses: list[float | None] = []
        epoch = 0
        while len(times) < warmup + steps:
            for keys in EpochBatchSampler(len(dataset), train.batch_size, train.seed, epoch, 0, 1):
                batch = torch.utils.data.default_collate([dataset[k] for k in keys])
                _sync(device)
                start = time.perf_counter()
                losses.append(trainer.step(batch))
                _sync(device)
                times.append(time.perf_counter() - start)
                if len(times) == warmup + steps:
                    break
            epoch += 1
    return trainer, times, losses


def bench_backbone(backbone: str, data: RenderedImages, cfg: PaperBenchConfig) -> dict:
    """Time ``cfg.steps`` trainer steps of the paper recipe for one backbone; figures as a dict."""
    device = resolve_device(cfg.device)
    recipe = recipe_for("zoedam", "paper")  # AMP auto: bf16/fp16 on CUDA, bf16 only on CPUs that run it natively
    train = recipe.train
    model, _ = build_zoedam(backbone, None, img_size=recipe.img_size, verbose=False)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer, times, losses = time_trainer_steps(model, recipe, data, device, cfg.steps, cfg.warmup)
    timed = times[cfg.warmup:]
    step_s = statistics.median(timed)
    steps_paper = train.epochs * math.ceil(PAPER_TRAIN_IMAGES / train.batch_size)
    peak = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_mb())
    return {"backbone": backbone, "device": str(device), "amp": _amp_name(trainer.amp_dtype),
            "img_size": list(recipe.img_size), "batch_size": train.batch_size, "steps": cfg.steps,
            "step_ms": 1000 * step_s, "images_per_s": train.batch_size / step_s,
            "peak_memory_mb": peak, "memory_kind": "GPU allocated" if device.type == "cuda" else "process RSS",
            "paper_epochs_minutes": steps_paper * step_s / 60, "paper_steps": steps_paper,
            "losses": [None if v is None else float(v) for v in losses]}


def run_paper_recipe(cfg: PaperBenchConfig, progress=print) -> list[dict]:
    """Every backbone of ``cfg`` in turn (one process; the model is freed between backbones)."""
    data = RenderedImages(cfg.n_images)
    rows = []
    for backbone in cfg.backbones:
        progress(f"bench --paper-recipe: ZoeDAM-{backbone[-1].upper()} …")
        rows.append(bench_backbone(backbone, data, cfg))
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return rows


def paper_markdown(rows: list[dict], command: str, machine: str) -> str:
    """The table ``bench --paper-recipe`` prints (and appends to its markdown file)."""
    lines = ["## Paper recipe (392×518, batch 4, 5 epochs on 1,049 images)", "",
             f"Produced by `{command}` on {machine}. Weights random (a step costs the same); NYU-size SynthRooms "
             "images; training steps only. The paper reports "
             f"{PAPER_HOURS} h on two RTX 4090s (reported, §4.3.1).", "",
             "| model | device, AMP | step [ms] | images/s | peak memory [MB] | paper's 5 epochs, projected |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| ZoeDAM-{r['backbone'][-1].upper()} | {r['device']}, {r['amp']} | {r['step_ms']:.0f} | "
                     f"{r['images_per_s']:.3g} | {r['peak_memory_mb']:.0f} ({r['memory_kind']}) | "
                     f"{r['paper_epochs_minutes']:.0f} min ({r['paper_steps']} steps) |")
    return "\n".join(lines) + "\n"
