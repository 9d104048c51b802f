"""Input-size experiment (issue 24, docs/camera.md): Metric3D's image-side canonical transform.

Metric3D (Yin et al. 2023, §3.2) offers two canonical transforms: re-express the *label* for f_c (what
`camera="canonical"` does), or resize the *image* so that its focal length becomes f_c. This script tries
the second at inference on a trained camera-aware checkpoint, and a training run whose network input size
is drawn per step (so that the network meets other input sizes, the label transform accounting for each).

    python docs/scripts/camera_input_size.py eval CHECKPOINT MODE SETS [THREADS]
    python docs/scripts/camera_input_size.py train OUT_DIR LOW HIGH

MODE: `none` (the network size, as trained), `wide` (enlarge an image whose focal length is below f_c so
that it becomes f_c), `both` (also shrink longer lenses to f_c), `k=X` (every image X times the network
size), `a=X` (enlarge by (f_c / f)^X where f < f_c). SETS: comma-separated zero-shot set names or `test`.
`train` draws the network size as (98, 126) x s, s log-uniform in [LOW, HIGH], rounded to 14, per step.
"""
import contextlib
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import zoedam_lib.experiments.zoedam as experiment
from zoedam_lib import setup_run
from zoedam_lib.camera.canonical import focal_ratio
from zoedam_lib.checkpoints import load_model
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.evaluation.evaluate import evaluate


@contextlib.contextmanager
def network_size(cfg, k: float):
    """The model's network size k times its own (rounded to 14) inside the block: its preprocess reads
    ``cfg.img_size`` at each call, and the label transform's f / f_c follows it."""
    base = tuple(cfg.img_size)
    cfg.img_size = tuple(max(14, int(round(s * k / 14)) * 14) for s in base)
    try:
        yield base
    finally:
        cfg.img_size = base


class InputSize(nn.Module):
    """A camera-aware ZoeDAM run, image by image, at a network size chosen from the image's focal length."""

    def __init__(self, model: nn.Module, mode: str, k_max: float = 2.5) -> None:
        super().__init__()
        self.model, self.mode, self.k_max, self.config = model, mode, k_max, model.config

    def factor(self, ratio: float) -> float:
        k = 1 / ratio  # the enlargement that makes the image's focal length f_c
        if self.mode == "wide":
            k = max(k, 1.0)
        elif self.mode.startswith("k="):
            k = float(self.mode[2:])
        elif self.mode.startswith("a="):
            k = max(k, 1.0) ** float(self.mode[2:])
        return min(k, self.k_max)

    def forward(self, x: torch.Tensor, camera: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.model.config
        base = tuple(cfg.img_size)
        depths, ratios = [], []
        for i in range(len(x)):
            ratio = float(focal_ratio(camera[i, 0], camera[i, 1], tuple(x.shape[-2:]), base, cfg.canonical_focal))
            with network_size(cfg, self.factor(ratio)):
                out = self.model(x[i:i + 1], camera=camera[i:i + 1])
            depths.append(F.interpolate(out["metric_depth"], size=base, mode="bilinear", align_corners=True))
            ratios.append(out["focal_ratio"])
        return {"metric_depth": torch.cat(depths), "focal_ratio": torch.cat(ratios)}


def report(mode: str, name: str, ev) -> None:
    ratio = np.median([p["pred_median"] / p["gt_median"] for p in ev.per_image])
    print(f"{mode} {name}: abs_rel {ev.metrics['abs_rel']:.3f} median-scaled {ev.median_scaled['abs_rel']:.3f} "
          f"pred/true median {ratio:.2f}", flush=True)


def run_eval(checkpoint: str, mode: str, sets: list[str]) -> None:
    ctx = setup_run(out_dir="/tmp/exp/evalctx", preset="cpu", device="cpu", verbose=False).with_camera_sets()
    model = load_model(checkpoint, device="cpu").eval()
    wrapped = model if mode == "none" else InputSize(model, mode)
    for name in sets:
        with ctx.open_data() if name == "test" else NyuMat(ctx.zero_shot[name]) as data:
            indices = ctx.split.test if name == "test" else range(len(data))
            report(mode, name, evaluate(wrapped, DepthDataset(data, indices), device="cpu", progress=False,
                                        name=name, precision="fp32"))


def run_train(out_dir: str, low: float, high: float) -> None:
    reference, rng = experiment.silog_step, np.random.default_rng(1234)

    def step(model, batch, beta=0.15):
        cfg = getattr(model, "config", None) or model.model.config
        with network_size(cfg, math.exp(rng.uniform(math.log(low), math.log(high)))):
            return reference(model, batch, beta)

    experiment.silog_step = step  # the trainer looks the step up at call time
    start = time.time()
    result = experiment.run_zoedam(setup_run(out_dir=out_dir, preset="cpu", device="cpu"), "vits",
                                   camera="canonical")
    print(f"trained and evaluated in {time.time() - start:.0f} s")
    for name, ev in {"test": result.evaluation, **result.zero_shot}.items():
        report("network size", name, ev)


if __name__ == "__main__":
    if sys.argv[1] == "eval":
        torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 2)
        run_eval(sys.argv[2], sys.argv[3], sys.argv[4].split(","))
    else:
        run_train(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
