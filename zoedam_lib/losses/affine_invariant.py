"""Affine-invariant disparity loss ρ of ZoeDAM+ (paper §4.4; Depth Anything eq. (1), from MiDaS).

The unlabeled images come from other datasets (and cameras) than the teacher's NYU training
data, so only the *structure* of its pseudo-labels is trusted: both maps are turned into
disparity and normalised per image, ``d̂ = (d − t(d)) / s(d)`` with ``t`` the median and
``s = mean |d − t|`` over valid pixels, and ρ is the mean absolute difference of the
normalised maps. It is blind to any positive scale and any shift of the disparity.
"""

from __future__ import annotations

import torch


def _normalise(disp: torch.Tensor, mask: torch.Tensor, count: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-image (d − median) / mean|d − median| over valid pixels; (B, N) inputs, invalid entries 0."""
    # lower median via sorting: invalid pixels sorted to the end as +inf, never used in arithmetic
    ordered = torch.sort(torch.where(mask, disp, torch.full_like(disp, float("inf"))), dim=1).values
    mid = ((count - 1).clamp_min(0) // 2).unsqueeze(1)
    t = torch.where(count.unsqueeze(1) > 0, ordered.gather(1, mid), torch.zeros_like(mid, dtype=disp.dtype))
    centred = torch.where(mask, disp - t, torch.zeros_like(disp))
    s = centred.abs().sum(dim=1, keepdim=True) / count.clamp_min(1).unsqueeze(1)
    return centred / s.clamp_min(eps)


def affine_invariant_loss(pred_depth: torch.Tensor, target_depth: torch.Tensor, mask: torch.Tensor | None = None,
                          reduction: str = "mean", eps: float = 1e-6) -> torch.Tensor:
    """ρ between predicted and target *depth*, compared as scale-and-shift-normalised disparity.

    Args:
        pred_depth: (B, 1, H, W) or (B, H, W) positive depth (e.g. the student's ``metric_depth``).
        target_depth: same shape; the teacher's pseudo-label (depth in metres).
        mask: bool, same shape: pixels to use (None: where the target is finite and positive).
        reduction: ``mean`` over images, or ``none`` for per-image losses (B,).
        eps: lower bound of the scale s (a constant map would otherwise divide by zero).

    Computed in float32 outside autocast. Images with fewer than two valid pixels contribute 0
    (with a zero, finite gradient); masked pixels may hold NaN/inf/0 without harming gradients.
    """
    with torch.autocast(device_type=pred_depth.device.type, enabled=False):
        batch = pred_depth.shape[0]
        pred = pred_depth.float().reshape(batch, -1)
        target = target_depth.float().reshape(batch, -1)
        if mask is None:
            mask = torch.isfinite(target) & (target > 0)
        mask = mask.reshape(batch, -1) & torch.isfinite(target) & (target > 0)
        mask = mask & torch.isfinite(pred.detach()) & (pred.detach() > 0)
        one = torch.ones_like(pred)
        # disparity = 1/depth on valid pixels; 1 elsewhere so no inf/NaN enters the graph
        return disparity_loss(1.0 / torch.where(mask, pred, one), 1.0 / torch.where(mask, target, one), mask,
                              reduction, eps)


def disparity_loss(pred_disp: torch.Tensor, target_disp: torch.Tensor, mask: torch.Tensor,
                   reduction: str = "mean", eps: float = 1e-6) -> torch.Tensor:
    """ρ on disparity maps directly: Depth Anything's (and MiDaS's) scale-and-shift-invariant loss.

    This is how a relative-depth model such as Depth Anything's teacher is trained: its output
    *is* an affine-invariant disparity (any ≥ 0 map), compared with the ground truth's 1/depth
    after both are normalised per image by median and mean absolute deviation over ``mask``.

    Args:
        pred_disp, target_disp: (B, ...) disparity maps of the same shape.
        mask: bool (B, ...) pixels to use; elsewhere the maps may hold anything finite.
        reduction: ``mean`` over images, or ``none`` for per-image losses (B,).
        eps: lower bound of the scale s.
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    with torch.autocast(device_type=pred_disp.device.type, enabled=False):
        batch = pred_disp.shape[0]
        pred = pred_disp.float().reshape(batch, -1)
        target = target_disp.float().reshape(batch, -1)
        mask = mask.reshape(batch, -1)
        if pred.shape[1] == 0:  # no pixels at all
            zero = pred.sum(dim=1) * 0.0
            return zero.mean() if reduction == "mean" else zero
        count = mask.sum(dim=1)
        diff = (_normalise(pred, mask, count, eps) - _normalise(target, mask, count, eps)).abs()
        per_image = torch.where(mask, diff, torch.zeros_like(diff)).sum(dim=1) / count.clamp_min(1)
        per_image = torch.where(count >= 2, per_image, torch.zeros_like(per_image))
        return per_image.mean() if reduction == "mean" else per_image
