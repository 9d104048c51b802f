"""Depth Anything's feature-alignment loss (its §3.3), an option of the ZoeDAM+ student.

The student's encoder is pulled towards a frozen DINOv2 encoder, patch by patch:
``L_feat = 1 − cos(f_i, f'_i)`` averaged over patches. Patches whose similarity already exceeds
the margin α (0.85) are left out of the mean, so the depth model keeps room to specialise
(parts of one object need not share one feature once they are close enough).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def feature_alignment_loss(student: torch.Tensor, frozen: torch.Tensor, margin: float = 0.85) -> torch.Tensor:
    """Mean ``1 − cos`` over patches with similarity below ``margin``; 0 when none is.

    Args:
        student: (B, C, h, w) patch features of the trained encoder.
        frozen: (B, C, h, w) features of the frozen encoder on the same input (no gradient).
        margin: α; patches at or above this cosine similarity do not count.
    """
    if student.shape != frozen.shape:
        raise ValueError(f"feature maps differ in shape: {tuple(student.shape)} vs {tuple(frozen.shape)}")
    with torch.autocast(device_type=student.device.type, enabled=False):
        cos = F.cosine_similarity(student.float(), frozen.detach().float(), dim=1, eps=1e-6)  # (B, h, w)
        keep = (cos.detach() < margin).float()
        return ((1.0 - cos) * keep).sum() / keep.sum().clamp_min(1.0)
