"""Solutions of notebook 01's exercises (data: splits, rendering, seeds)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.reports.data_summary import augmentation_examples, depth_values
from zoedam_lib.solutions import exercise_dir
from zoedam_lib.solutions.common import exercise_run, report
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE

NYU_FILE = "data/nyu/nyu_depth_v2_labeled.mat"
TEST_SETTINGS = {2: {"n": 24, "size": (60, 80)}}  # tests/test_solutions.py: a tiny rendering


def split_statistics(data_path: str | os.PathLike, split: str, seed: int, out_dir: str | os.PathLike,
                     name: str) -> dict[str, float]:
    """Median depth per part and the histogram distance (total variation, 0–1) of train vs test."""
    ctx = exercise_run(name, data_path, split, seed, out_dir, "cpu", "auto")
    with ctx.open_data() as data:
        values = {part: depth_values(data, getattr(ctx.split, part)) for part in ("train", "test")}
    hist = {part: np.histogram(v, bins=50, range=(0, 10))[0] / max(1, v.size) for part, v in values.items()}
    return {"train images": len(ctx.split.train), "test images": len(ctx.split.test),
            "train median depth [m]": float(np.median(values["train"])),
            "test median depth [m]": float(np.median(values["test"])),
            "train-test histogram distance": float(0.5 * np.abs(hist["train"] - hist["test"]).sum())}


def exercise_1(data_path: str | os.PathLike = NYU_FILE, split: str = "official", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", **_: object) -> dict[str, float]:
    """NYU's scene-based official split vs the random one: how far apart are train and test depths?

    Needs NYU Depth V2 (2.8 GB: ``python -m zoedam_lib download-nyu --out data/nyu``). SynthRooms
    variant, no download: ``run_solution("01", 1, data_path="data/synthrooms/synthrooms.mat",
    split="paper")`` (SynthRooms has no scenes, so only the random split exists there).
    """
    if not Path(data_path).exists():
        raise FileNotFoundError(f"{data_path} is missing: this exercise needs NYU Depth V2 (2.8 GB; python -m "
                                "zoedam_lib download-nyu --out data/nyu), or run its SynthRooms variant: "
                                f"run_solution('01', 1, data_path='{DEFAULT_SYNTH_FILE}', split='paper')")
    return report(split_statistics(data_path, split, seed, out_dir, f"01_split_{split}"))


def exercise_2(n: int = 200, size: tuple[int, int] = (240, 320), render_seed: int = 1,
               data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, out_dir: str | os.PathLike = "runs/demo",
               **_: object) -> dict[str, float]:
    """Render other rooms (``synth --seed 1``): do the depth statistics of SynthRooms move?"""
    other = generate_synthrooms(exercise_dir(out_dir, "01_render"), n=n, size=size, seed=render_seed,
                                n_unlabeled=0, progress=False)
    ours, theirs = (split_statistics(p, "paper", 0, out_dir, name)
                    for p, name in ((data_path, "01_ours"), (other, "01_render")))
    return report({"median depth, this notebook's rooms [m]": ours["train median depth [m]"],
                   f"median depth, {n} rooms of seed {render_seed} [m]": theirs["train median depth [m]"],
                   "train-test histogram distance, ours": ours["train-test histogram distance"],
                   "train-test histogram distance, theirs": theirs["train-test histogram distance"]})


def exercise_3(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper",
               out_dir: str | os.PathLike = "runs/demo", n_examples: int = 4, **_: object) -> dict[str, object]:
    """With ``seed=1`` instead of 0, what changes: the split, the examples shown, the augmentations?"""
    runs = {s: exercise_run(f"01_seed{s}", data_path, split, s, out_dir, "cpu") for s in (0, 1)}
    test = {s: set(ctx.split.test) for s, ctx in runs.items()}
    picked = {s: sorted(np.random.default_rng(s).choice(ctx.split.train, n_examples, replace=False).tolist())
              for s, ctx in runs.items()}
    return report({"test images in both splits": len(test[0] & test[1]), "test images per split": len(test[0]),
                   "examples, seed 0": picked[0], "examples, seed 1": picked[1],
                   "photometric jitter of one image equal under seeds 0 and 1": _same_jitter(runs[0])})


def _same_jitter(ctx) -> bool:
    with ctx.open_data() as data:
        image, depth = data.read(ctx.split.train[0])
    jittered = [augmentation_examples(image, depth, s)[-1][1] for s in (0, 1)]
    return bool(np.array_equal(*jittered))
