"""Look inside ZoeDepth's metric-bins head on one image: bin centres after every stage, bin probabilities.

The head is made of real modules (seed regressor, four attractor layers), so plain forward hooks
read what each stage produced without a second implementation: the seed bins at the bottleneck,
then the centres after each attractor moved them, and the log-binomial's probability over the
final bins. Notebook 04 shows them for a few pixels: how the bins converge on the depth there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class HeadProbe:
    """What the head computed for one image, at chosen pixels (rows, cols of the network-size output)."""

    pixels: list[tuple[int, int]]  # (row, col) at the network output size
    stages: dict[str, np.ndarray]  # stage name → (n_pixels, n_bins) bin centres in metres at those pixels
    probs: np.ndarray  # (n_pixels, n_bins) probability of each final bin
    centers: np.ndarray  # (n_pixels, n_bins) final bin centres (the last stage, upsampled)
    depth: np.ndarray  # (n_pixels,) predicted depth Σ p·c
    depth_map: np.ndarray  # (h, w) the whole predicted metric depth at network size


def _at(maps: torch.Tensor, pixels: list[tuple[int, int]], size: tuple[int, int]) -> np.ndarray:
    """(1, K, h', w') maps resized (align_corners=True, as the head) to ``size``, sampled at ``pixels`` → (n, K)."""
    full = F.interpolate(maps.float(), size=size, mode="bilinear", align_corners=True)[0]
    return np.stack([full[:, r, c].numpy() for r, c in pixels])


@torch.inference_mode()
def probe_head(model: nn.Module, image: torch.Tensor, pixels: list[tuple[float, float]]) -> HeadProbe:
    """Run ``model`` (a ZoeDAM) on ``image`` (3, H, W) in [0, 1] and read the head at ``pixels``.

    ``pixels`` are (row, col) fractions in [0, 1] of the image (e.g. (0.9, 0.5): bottom centre),
    so they point at the same place whatever the network size.
    """
    head = model.head
    captured: dict[str, torch.Tensor] = {}
    hooks = [head.seed_bin_regressor.register_forward_hook(lambda m, i, o: captured.__setitem__("seed", o))]
    for k, attractor in enumerate(head.attractors):
        hooks.append(attractor.register_forward_hook(
            lambda m, i, o, k=k: captured.__setitem__(f"attractor {k + 1}", o)))
    was_training = model.training
    model.eval()
    try:
        out = model(image[None], return_probs=True)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    size = tuple(out["metric_depth"].shape[-2:])
    rc = [(min(size[0] - 1, round(r * (size[0] - 1))), min(size[1] - 1, round(c * (size[1] - 1)))) for r, c in pixels]
    probs, centers = _at(out["probs"], rc, size), _at(out["bin_centers"], rc, size)
    return HeadProbe(rc, {name: _at(t, rc, size) for name, t in captured.items()}, probs, centers,
                     (probs * centers).sum(axis=1), out["metric_depth"][0, 0].float().numpy())


def depth_quantile_pixels(gt: np.ndarray, quantiles: tuple[float, ...] = (0.05, 0.5, 0.95),
                          seed: int = 0) -> list[tuple[float, float]]:
    """(row, col) fractions of valid ground-truth pixels at the given depth quantiles (near, middle, far),
    so a figure's "near" pixel is near by its truth, not by where it sits in the frame.

    Among the pixels within 2 % of each quantile's depth one is drawn with ``seed``, away from the
    image border (the outer 10 %), where the network's resize smears the most.
    """
    h, w = gt.shape
    rows, cols = np.mgrid[0:h, 0:w]
    inner = (rows >= 0.1 * h) & (rows < 0.9 * h) & (cols >= 0.1 * w) & (cols < 0.9 * w)
    valid = np.isfinite(gt) & (gt > 0) & inner
    if not valid.any():
        raise ValueError("the ground truth has no valid pixel inside the image's inner 80 %")
    rng = np.random.default_rng(seed)
    out = []
    for q in quantiles:
        target = np.quantile(gt[valid], q)
        gap = np.where(valid, np.abs(gt - target), np.inf)
        candidates = np.argwhere(gap <= max(0.02 * target, gap.min()))  # within 2 %, else the nearest value
        r, c = candidates[rng.integers(len(candidates))]
        out.append((float(r / (h - 1)), float(c / (w - 1))))
    return out
