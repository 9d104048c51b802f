"""Training losses. Masks of valid ground truth are computed here once for all of them."""

from __future__ import annotations

import torch


def valid_depth(depth: torch.Tensor, min_depth: float = 1e-3, max_depth: float = 10.0) -> torch.Tensor:
    """Pixels with usable ground truth: finite and strictly inside (min_depth, max_depth).

    NaN, inf, negative and zero depths (Kinect holes) are excluded, so they never reach a loss.
    """
    return torch.isfinite(depth) & (depth > min_depth) & (depth < max_depth)
