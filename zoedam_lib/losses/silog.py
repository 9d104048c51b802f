"""Scale-invariant log loss as ZoeDepth trains with it (paper §4.3.1, eq. (2)).

ZoeDepth's form is ``10·sqrt(Var(g) + β·mean(g)²)`` with ``g = ln ŷ − ln y`` over valid pixels.
Since ``Var(g) ≈ mean(g²) − mean(g)²`` this is Eigen's SILog with ``λ = 1 − β``. The paper's
eq. (2) is the fully scale-invariant case λ = 1 (β = 0): it is blind to a global scale factor
and so cannot learn *metric* depth. We keep ZoeDepth's β = 0.15 as the default and expose it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def silog_loss(pred: torch.Tensor | dict, target: torch.Tensor, mask: torch.Tensor | None = None,
               beta: float = 0.15, interpolate: bool = True, eps: float = 1e-7) -> torch.Tensor:
    """SILog over the whole batch, equal to the official ``SILogLoss(beta)(pred, target, mask)``.

    Args:
        pred: (B, 1, h, w) prediction in metres, or a model output dict with ``metric_depth``.
        target: (B, 1, H, W) or (B, H, W) ground truth in metres.
        mask: boolean mask of valid target pixels, same shape as ``target``.
        beta: weight of the squared mean log error; 0 gives the paper's eq. (2) (scale-invariant).
        interpolate: resize ``pred`` to the target's size (when their widths differ, as official).

    Computed in float32 outside autocast: fp16 logs and variances overflow (ZoeDepth's lesson).
    A batch with fewer than two valid pixels gives a zero loss connected to the graph, and a
    perfect fit gives a finite (zero) gradient. The mask weights the pixels instead of selecting
    them (official: ``pred[mask]``): the same mean and unbiased variance, without the boolean
    indexing whose forward and backward took ~0.1 s of a ``cpu``-preset step on one core.
    """
    if isinstance(pred, dict):
        pred = pred["metric_depth"]
    with torch.autocast(device_type=pred.device.type, enabled=False):
        pred = pred.float()
        target = target.float()
        if target.ndim == 3:
            target = target.unsqueeze(1)
        if mask is not None and mask.ndim == 3:
            mask = mask.unsqueeze(1)
        if interpolate and pred.shape[-1] != target.shape[-1]:
            pred = F.interpolate(pred, target.shape[-2:], mode="bilinear", align_corners=True)
        g = torch.log(pred + eps) - torch.log(target + eps)
        if mask is None:
            n = g.numel()
        else:  # invalid pixels (where the log may be NaN or inf) count as 0 and carry no gradient
            g, n = torch.where(mask, g, 0.0), int(mask.sum())
        if n < 2:
            return g.sum() * 0.0
        mean = g.sum() / n
        centred = g - mean if mask is None else torch.where(mask, g - mean, 0.0)
        dg = centred.square().sum() / (n - 1) + beta * mean.square()  # torch.var's unbiased variance
        # clamp: sqrt'(0) is infinite, which would turn a perfect fit's gradient into NaN
        return 10 * torch.sqrt(dg.clamp_min(1e-12))
