"""The average-depth baseline (paper §3.1.1): one fixed depth map, the mean of training depth maps.

It predicts the same map for every image, so it measures how much of the test error a model
removes by actually looking at the image. Invalid ground-truth pixels (NaN, holes, out of
range) are left out of the per-pixel mean; pixels with no valid value take the global mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoedam_lib.utils.errors import DataFileError


@dataclass
class AverageDepthConfig:
    """Shape of the stored mean depth map."""

    height: int = 480  # rows of the map (the training depth maps' height)
    width: int = 640  # columns
    min_depth: float = 1e-3  # valid ground-truth range used for the mean
    max_depth: float = 10.0


class AverageDepth(nn.Module):
    """Predicts the stored mean depth map (resized to the network's output convention) for any input."""

    registry_name = "average"

    def __init__(self, config: AverageDepthConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or AverageDepthConfig()
        self.register_buffer("depth_map", torch.full((1, 1, config.height, config.width), 1.0))

    @classmethod
    def fit(cls, depth_maps: Iterable[np.ndarray], min_depth: float = 1e-3, max_depth: float = 10.0) -> AverageDepth:
        """Mean of ``depth_maps`` (H, W) over their valid pixels."""
        total = count = None
        for k, depth in enumerate(depth_maps):
            depth = np.asarray(depth, dtype=np.float64)
            valid = np.isfinite(depth) & (depth > min_depth) & (depth < max_depth)
            if total is None:
                total, count = np.zeros_like(depth), np.zeros(depth.shape, np.int64)
            if depth.shape != total.shape:
                raise DataFileError(f"depth map {k} is {depth.shape[0]}x{depth.shape[1]} but the first was "
                                    f"{total.shape[0]}x{total.shape[1]}: the average is taken pixel by pixel, so "
                                    "all maps must share one size. For a folder dataset set \"size\": [H, W] in "
                                    "its dataset.json (or FolderConfig(size=...)) to resize on read.")
            total += np.where(valid, depth, 0.0)
            count += valid
        if total is None or count.sum() == 0:
            raise ValueError("no valid depth values to average: the training split is empty or all invalid")
        mean = np.where(count > 0, total / np.maximum(count, 1), total.sum() / count.sum())
        model = cls(AverageDepthConfig(mean.shape[0], mean.shape[1], min_depth, max_depth))
        model.depth_map.copy_(torch.from_numpy(mean).float()[None, None])
        return model

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) → ``metric_depth`` (B, 1, H, W): the mean map resized to the input size."""
        depth = F.interpolate(self.depth_map, size=x.shape[-2:], mode="bilinear", align_corners=True)
        return {"metric_depth": depth.expand(x.shape[0], -1, -1, -1)}
