"""AbsRel per ground-truth depth range, averaged per image as the tables average.

The tables' AbsRel is a mean over images of each image's mean over its pixels (the NYU
protocol, :mod:`zoedam_lib.metrics`). Pooling all pixels of a depth range instead lets the
images with many far pixels dominate that range; so here each image's AbsRel within a range is
computed first and those are averaged over the images that have pixels in the range (images
without any are skipped, not counted as zero). Pixels are the protocol's: valid ground truth
inside the Eigen crop, the prediction resized and clamped exactly as :func:`compute_metrics` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .metrics import resize_prediction, valid_mask

DEPTH_EDGES = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0)  # metres: NYU rooms are under 10 m deep


@dataclass(frozen=True)
class DepthBinned:
    """One model's AbsRel per ground-truth depth range."""

    edges: tuple[float, ...]  # range boundaries in metres; range k is [edges[k], edges[k+1])
    abs_rel: tuple[float, ...]  # per range: mean over images of the image's AbsRel there (NaN: no image has pixels)
    n_images: tuple[int, ...]  # per range: images with at least one valid pixel there
    n_pixels: tuple[int, ...]  # per range: valid pixels there, all images together


def abs_rel_by_depth(predictions: Sequence[np.ndarray], gts: Sequence[np.ndarray],
                     edges: Sequence[float] = DEPTH_EDGES, *, min_depth: float = 1e-3,
                     max_depth: float = 10.0) -> DepthBinned:
    """AbsRel of ``predictions`` (metres, any size) against ``gts`` per depth range, averaged per image."""
    if len(predictions) != len(gts):
        raise ValueError(f"{len(predictions)} predictions for {len(gts)} ground truths: give one per image")
    edges = tuple(float(e) for e in edges)
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"edges must be at least two increasing depths in metres, got {edges}")
    n_bins = len(edges) - 1
    per_image, pixels = [], np.zeros(n_bins, dtype=np.int64)
    for pred, gt in zip(predictions, gts, strict=True):
        gt = np.asarray(gt, dtype=np.float32)
        p = resize_prediction(pred, gt.shape).cpu().numpy().astype(np.float32)
        p = np.clip(np.nan_to_num(p, nan=min_depth, posinf=max_depth), min_depth, max_depth)
        mask = valid_mask(gt, min_depth, max_depth)
        g, p = gt[mask], p[mask]
        bins = np.digitize(g, edges) - 1  # range index of each pixel; outside the edges: -1 or n_bins
        inside = (bins >= 0) & (bins < n_bins)
        counts = np.bincount(bins[inside], minlength=n_bins)
        sums = np.bincount(bins[inside], weights=(np.abs(g - p) / g)[inside], minlength=n_bins)
        pixels += counts
        per_image.append(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))
    table = np.array(per_image).reshape(-1, n_bins)  # (images, ranges)
    has = np.isfinite(table)
    means = np.where(has.any(axis=0), np.nansum(table, axis=0) / np.maximum(has.sum(axis=0), 1), np.nan)
    return DepthBinned(edges, tuple(float(v) for v in means), tuple(int(v) for v in has.sum(axis=0)),
                       tuple(int(v) for v in pixels))
