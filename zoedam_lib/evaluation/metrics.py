"""Depth metrics under the standard NYU protocol, equal to the official ZoeDepth / Depth Anything code.

Protocol (conformance README §6): the prediction is bilinearly resized (align_corners=True) to
the ground truth, clamped to [min_depth, max_depth] (NaN → min, inf → max); valid pixels are
ground truth strictly inside (min_depth, max_depth) and inside the Eigen crop (rows 45:471,
cols 41:601 of 480×640; scaled proportionally for other sizes); metrics are computed per image
in float32 and averaged over images.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from zoedam_lib.utils.depth import valid_depth

METRIC_KEYS = ("a1", "a2", "a3", "abs_rel", "sq_rel", "rmse", "rmse_log", "log_10", "silog")
ALIGNMENTS = ("none", "median", "disparity")
# the name of every metric in tables and figures, with the direction that is better
METRIC_NAMES = {"abs_rel": "AbsRel ↓", "sq_rel": "SqRel ↓", "rmse": "RMSE ↓", "rmse_log": "RMSE-log ↓",
                "log_10": "log10 ↓", "silog": "SILog ↓", "a1": "δ1 ↑", "a2": "δ2 ↑", "a3": "δ3 ↑"}
TABLE_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log_10", "a1", "a2", "a3")  # the paper's table columns
EIGEN_CROP_480x640 = (45, 471, 41, 601)


def eigen_crop_mask(height: int, width: int) -> np.ndarray:
    """Boolean mask of the Eigen crop; exact official indices at 480×640, proportional otherwise."""
    top, bottom, left, right = EIGEN_CROP_480x640
    if (height, width) != (480, 640):
        top, bottom = (int(math.floor(v * height / 480 + 0.5)) for v in (top, bottom))
        left, right = (int(math.floor(v * width / 640 + 0.5)) for v in (left, right))
    mask = np.zeros((height, width), dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


def valid_mask(gt: np.ndarray, min_depth: float = 1e-3, max_depth: float = 10.0,
               eigen_crop: bool = True) -> np.ndarray:
    """Pixels that count: ground truth strictly inside (min_depth, max_depth), inside the crop."""
    gt = np.asarray(gt, dtype=np.float32)
    mask = valid_depth(gt, np.float32(min_depth), np.float32(max_depth))
    if eigen_crop:
        mask &= eigen_crop_mask(*gt.shape)
    return mask


def resize_prediction(pred: torch.Tensor | np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (align_corners=True) resize of a 2-D prediction, as the official evaluation does."""
    pred_t = _as_2d_tensor(pred)
    if tuple(pred_t.shape) != tuple(size):
        pred_t = F.interpolate(pred_t[None, None], size=size, mode="bilinear", align_corners=True)[0, 0]
    return pred_t


def compute_metrics(pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray, *,
                    min_depth: float = 1e-3, max_depth: float = 10.0, eigen_crop: bool = True,
                    align: str = "none") -> dict[str, float]:
    """Metrics of one image. Note the argument order: prediction first, then ground truth.

    ``pred`` may be any size (it is resized to ``gt``); both may be numpy arrays or tensors with
    singleton leading dimensions. An image without a single valid pixel gives NaN for every key
    (use :class:`MetricAccumulator`, which skips and counts such images).

    ``align`` (applied on the valid pixels, before clamping):

    * ``none`` — the metric protocol: the prediction is judged in metres as it is;
    * ``median`` — the prediction is scaled by median(gt) / median(pred) (Eigen et al.'s
      median scaling): what is left is the *structure*, a wrong global scale costs nothing.
      A metric model used with another camera fails in scale first (zero-shot evaluation);
    * ``disparity`` — ``pred`` is a relative (affine-invariant) disparity, e.g. Depth Anything's
      output: scale and shift are fitted to 1/gt by least squares, as in MiDaS's evaluation, and
      the aligned disparity is turned into depth.
    """
    if align not in ALIGNMENTS:
        raise ValueError(f"align must be one of {ALIGNMENTS}, got {align!r}")
    gt_np = _as_2d_tensor(gt).cpu().numpy()
    pred_np = resize_prediction(pred, gt_np.shape).cpu().numpy().copy()  # copy: clamping is in place
    mask = valid_mask(gt_np, min_depth, max_depth, eigen_crop)
    if not mask.any():
        return dict.fromkeys(METRIC_KEYS, float("nan"))
    if align == "median":
        pred_np *= np.float32(np.median(gt_np[mask]) / max(float(np.median(pred_np[mask])), 1e-12))
    elif align == "disparity":
        pred_np = disparity_to_depth(pred_np, 1.0 / gt_np[mask], mask, min_depth, max_depth)
    pred_np[pred_np < np.float32(min_depth)] = min_depth
    pred_np[pred_np > np.float32(max_depth)] = max_depth
    pred_np[np.isinf(pred_np)] = max_depth
    pred_np[np.isnan(pred_np)] = min_depth
    return compute_errors(gt_np[mask], pred_np[mask])


def median_depths(pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray, *, min_depth: float = 1e-3,
                  max_depth: float = 10.0, eigen_crop: bool = True) -> tuple[float, float]:
    """(median predicted, median true) depth over the image's valid pixels, prediction clamped as in
    :func:`compute_metrics`: how far off a model's *scale* is, whatever its structure."""
    gt_np = _as_2d_tensor(gt).cpu().numpy()
    pred_np = np.clip(np.nan_to_num(resize_prediction(pred, gt_np.shape).cpu().numpy(), nan=min_depth,
                                    posinf=max_depth), min_depth, max_depth)
    mask = valid_mask(gt_np, min_depth, max_depth, eigen_crop)
    if not mask.any():
        return float("nan"), float("nan")
    return float(np.median(pred_np[mask])), float(np.median(gt_np[mask]))


def disparity_to_depth(disp: np.ndarray, target_disp: np.ndarray, mask: np.ndarray, min_depth: float,
                        max_depth: float) -> np.ndarray:
    """Least-squares scale and shift of ``disp`` onto ``target_disp`` (on ``mask``), then 1 / disparity."""
    x = disp[mask].astype(np.float64)
    a = np.stack([x, np.ones_like(x)], axis=1)
    (scale, shift), *_ = np.linalg.lstsq(a, target_disp.astype(np.float64), rcond=None)
    aligned = np.clip(scale * disp.astype(np.float64) + shift, 1.0 / max_depth, 1.0 / min_depth)
    return (1.0 / aligned).astype(np.float32)


def compute_errors(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The official ``compute_errors`` on 1-D float32 arrays of valid pixels."""
    thresh = np.maximum(gt / pred, pred / gt)
    log_diff = np.log(pred) - np.log(gt)
    sq = (gt - pred) ** 2
    out = {
        "a1": (thresh < 1.25).mean(),
        "a2": (thresh < 1.25**2).mean(),
        "a3": (thresh < 1.25**3).mean(),
        "abs_rel": np.mean(np.abs(gt - pred) / gt),
        "sq_rel": np.mean(sq / gt),
        "rmse": np.sqrt(sq.mean()),
        "rmse_log": np.sqrt(((np.log(gt) - np.log(pred)) ** 2).mean()),
        "log_10": np.abs(np.log10(gt) - np.log10(pred)).mean(),
        # max(0, ·): float32 cancellation can make a constant error's variance slightly negative,
        # where the official code returns NaN; this is the only place we differ.
        "silog": np.sqrt(max(np.mean(log_diff**2) - np.mean(log_diff) ** 2, 0)) * 100,
    }
    return {k: float(out[k]) for k in METRIC_KEYS}


@dataclass
class MetricAccumulator:
    """Per-image metrics averaged over images; images without valid pixels are skipped and counted."""

    per_image: list[dict[str, float]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add(self, metrics: Mapping[str, float], name: str | int = "") -> None:
        """Record one image's metrics (from :func:`compute_metrics`)."""
        if math.isnan(metrics["a1"]):  # a1 is NaN exactly when no pixel was valid
            self.skipped.append(str(name))
            return
        self.per_image.append({k: float(metrics[k]) for k in METRIC_KEYS})
        self.names.append(str(name))

    def update(self, pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray,
               name: str | int = "", **kwargs) -> dict[str, float]:
        """Compute and record one image's metrics."""
        metrics = compute_metrics(pred, gt, **kwargs)
        self.add(metrics, name)
        return metrics

    def mean(self) -> dict[str, float]:
        """Mean over the images that had valid pixels (NaN for every key if there were none)."""
        if not self.per_image:
            return dict.fromkeys(METRIC_KEYS, float("nan"))
        return {k: float(np.mean([m[k] for m in self.per_image], dtype=np.float64)) for k in METRIC_KEYS}

    @property
    def count(self) -> int:
        return len(self.per_image)


def _as_2d_tensor(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach()
    t = t.to(device="cpu", dtype=torch.float32)
    while t.ndim > 2 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 2:
        raise ValueError(f"expected one depth map (H, W) (optionally with leading 1s), got shape {tuple(t.shape)}")
    return t
