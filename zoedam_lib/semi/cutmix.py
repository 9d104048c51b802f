"""CutMix of unlabeled images and its loss (paper §3.3 and §4.4, eqs. (3)–(5)).

Convention (Depth Anything's, eqs. (4)–(5)): ``u_ab = u_a ⊙ M + u_b ⊙ (1 − M)``. ``u_b`` is the
*base* image (the unlabeled image the sample is about) and ``u_a`` the partner whose rectangle
``M`` is pasted onto it. Inside ``M`` the student is compared with the teacher's prediction on
the clean ``u_a``, outside with that on the clean ``u_b``. An image without a CutMix (``M`` all
False, probability 1 − p) is just ``u_b`` with the loss against ``T(u_b)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

# loss(pred (B, 1, H, W), target (B, 1, H, W), mask (B, 1, H, W) bool) -> per-image losses (B,)
PerImageLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _box(height: int, width: int, generator: torch.Generator | None, area: tuple[float, float],
         ratio: tuple[float, float]) -> tuple[int, int, int, int]:
    """UniMatch's ``obtain_cutmix_box`` for an H×W image: (y, x, h, w) of one rectangle.

    Area fraction ~ U(area), aspect ratio ~ U(ratio), top-left corner uniform over the image,
    redrawn until the box fits (we stop redrawing after 1000 tries and clip instead).
    """
    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=generator))

    size = u(*area) * height * width
    for _ in range(1000):
        r = u(*ratio)
        w, h = max(1, int(math.sqrt(size / r))), max(1, int(math.sqrt(size * r)))
        x = int(torch.randint(width, (), generator=generator))
        y = int(torch.randint(height, (), generator=generator))
        if x + w <= width and y + h <= height:
            return y, x, h, w
    return 0, 0, min(h, height), min(w, width)


def cutmix_box(batch: int, height: int, width: int, p: float = 0.5, generator: torch.Generator | None = None,
               area: tuple[float, float] = (0.02, 0.4), ratio: tuple[float, float] = (0.3, 1 / 0.3),
               device: torch.device | str | None = None) -> torch.Tensor:
    """Masks M (B, 1, H, W) bool: one random rectangle per image with probability ``p``, else all False."""
    mask = torch.zeros(batch, 1, height, width, dtype=torch.bool)
    for i in range(batch):
        if float(torch.rand((), generator=generator)) < p:
            y, x, h, w = _box(height, width, generator, area, ratio)
            mask[i, :, y:y + h, x:x + w] = True
    return mask.to(device) if device is not None else mask


def apply_cutmix(u_a: torch.Tensor, u_b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``u_ab = u_a ⊙ M + u_b ⊙ (1 − M)``: the rectangle of ``u_a`` pasted onto ``u_b``."""
    return torch.where(mask, u_a, u_b)


def _to_size(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    x = x.float()
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


def cutmix_loss(pred: torch.Tensor, target_a: torch.Tensor, target_b: torch.Tensor, mask: torch.Tensor,
                valid: torch.Tensor | None, loss_fn: PerImageLoss) -> torch.Tensor:
    """Eq. (3): ``ΣM/HW · ρ(S(u_ab), T(u_a)) on M + Σ(1−M)/HW · ρ(S(u_ab), T(u_b)) on 1−M``, per image.

    Args:
        pred: student prediction on ``u_ab``, (B, 1, h, w).
        target_a: teacher prediction on the clean ``u_a`` (the pasted image).
        target_b: teacher prediction on the clean ``u_b`` (the base image).
        mask: M (B, 1, H, W) bool; losses are computed at this resolution (pred and targets are
            resized to it, bilinear with align_corners=True, when they differ).
        valid: bool (B, 1, H, W) pixels with usable targets (None: all).
        loss_fn: the per-image loss ρ (affine-invariant, or SILog for metric pseudo-labels).

    The two terms are separate losses (for the affine-invariant ρ, separate median/scale
    alignments), each restricted to its region, then weighted by the region's area. Returns
    the mean over images.
    """
    size = tuple(mask.shape[-2:])
    pred, target_a, target_b = _to_size(pred, size), _to_size(target_a, size), _to_size(target_b, size)
    valid = torch.ones_like(mask) if valid is None else valid
    area = mask.flatten(1).float().mean(dim=1)  # ΣM / HW, (B,)
    inside = loss_fn(pred, target_a, mask & valid)
    outside = loss_fn(pred, target_b, ~mask & valid)
    return (area * inside + (1 - area) * outside).mean()
