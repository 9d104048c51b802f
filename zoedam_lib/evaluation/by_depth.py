"""AbsRel per ground-truth depth range, averaged per image as the tables average.

The tables' AbsRel is a mean over images of each image's mean over its pixels (the NYU
protocol, :mod:`zoedam_lib.evaluation.metrics`). Pooling all pixels of a depth range instead lets the
images with many far pixels dominate that range; so here each image's AbsRel within a range is
computed first and those are averaged over the images that have pixels in the range (images
without any are skipped, not counted as zero). Pixels are the protocol's: valid ground truth
inside the Eigen crop, the prediction resized and clamped exactly as :func:`compute_metrics` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zoedam_lib.evaluation.metrics import resize_prediction, valid_mask

DEPTH_EDGES = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0)  # metres: NYU rooms are under 10 m deep


@dataclass(frozen=True)
class DepthBinned:
    """One model's AbsRel per ground-truth depth range."""

    edges: tuple[float, ...]  # range boundaries in metres; range k is [edges[k], edges[k+1])
    abs_rel: tuple[float, ...]  # per range: mean over images of the image's AbsRel there (NaN: no image has pixels)
    n_images: tuple[int, ...]  # per range: images with at least one valid pixel there
    n_pixels: tuple[int, ...]  # per range: valid pixels there, all images together


class DepthBinAccumulator:
    """Per-image AbsRel per depth range, one image at a time; :meth:`result` averages them per range.

    :func:`~zoedam_lib.evaluation.evaluate.evaluate` feeds it every test image it already predicts, so the
    error-by-depth figure (notebook 06) needs no second pass over the images.
    """

    def __init__(self, edges: Sequence[float] = DEPTH_EDGES, min_depth: float = 1e-3, max_depth: float = 10.0,
                 eigen_crop: bool = True) -> None:
        self.edges = tuple(float(e) for e in edges)
        if len(self.edges) < 2 or any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"edges must be at least two increasing depths in metres, got {self.edges}")
        self.min_depth, self.max_depth, self.eigen_crop = min_depth, max_depth, eigen_crop
        self.per_image: list[np.ndarray] = []
        self.pixels = np.zeros(len(self.edges) - 1, dtype=np.int64)

    def update(self, pred, gt) -> None:
        """Add one image: ``pred`` (metres, any size; resized and clamped as the metrics do), ``gt`` (H, W) or
        (1, H, W)."""
        n_bins = len(self.edges) - 1
        gt = np.asarray(gt, dtype=np.float32)
        gt = gt.reshape(gt.shape[-2:])
        p = resize_prediction(pred, gt.shape).cpu().numpy().astype(np.float32)
        p = np.clip(np.nan_to_num(p, nan=self.min_depth, posinf=self.max_depth), self.min_depth, self.max_depth)
        mask = valid_mask(gt, self.min_depth, self.max_depth, self.eigen_crop)
        g, p = gt[mask], p[mask]
        bins = np.digitize(g, self.edges) - 1  # range index of each pixel; outside the edges: -1 or n_bins
        inside = (bins >= 0) & (bins < n_bins)
        counts = np.bincount(bins[inside], minlength=n_bins)
        sums = np.bincount(bins[inside], weights=(np.abs(g - p) / g)[inside], minlength=n_bins)
        self.pixels += counts
        self.per_image.append(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))

    def result(self) -> DepthBinned:
        """Mean over the images with pixels in each range (NaN where none has)."""
        table = np.array(self.per_image).reshape(-1, len(self.edges) - 1)  # (images, ranges)
        has = np.isfinite(table)
        means = np.where(has.any(axis=0), np.nansum(table, axis=0) / np.maximum(has.sum(axis=0), 1), np.nan)
        return DepthBinned(self.edges, tuple(float(v) for v in means), tuple(int(v) for v in has.sum(axis=0)),
                           tuple(int(v) for v in self.pixels))


def abs_rel_by_depth(predictions: Sequence[np.ndarray], gts: Sequence[np.ndarray],
                     edges: Sequence[float] = DEPTH_EDGES, *, min_depth: float = 1e-3,
                     max_depth: float = 10.0) -> DepthBinned:
    """AbsRel of ``predictions`` (metres, any size) against ``gts`` per depth range, averaged per image."""
    if len(predictions) != len(gts):
        raise ValueError(f"{len(predictions)} predictions for {len(gts)} ground truths: give one per image")
    acc = DepthBinAccumulator(edges, min_depth, max_depth)
    for pred, gt in zip(predictions, gts, strict=True):
        acc.update(pred, gt)
    return acc.result()
