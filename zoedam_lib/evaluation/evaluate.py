"""Evaluation under the NYU protocol: per-image metrics, their mean, and what was skipped.

Predictions are made at the model's resolution, averaged with the flipped image's prediction
(flip TTA, on by default for final evaluation as in the official code; off for per-epoch
validation), then resized to the ground truth inside :func:`compute_metrics`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from zoedam_lib.camera.resolve import ESTIMATED
from zoedam_lib.evaluation.by_depth import DepthBinAccumulator, DepthBinned
from zoedam_lib.evaluation.metrics import METRIC_KEYS, MetricAccumulator, median_depths, resize_prediction
from zoedam_lib.inference.precision import JobPrecision
from zoedam_lib.inference.predict import infer
from zoedam_lib.models.predict import check_finite_prediction, has_camera_head, is_camera_aware, model_device
from zoedam_lib.utils.errors import ConfigError, DataFileError
from zoedam_lib.utils.progress import tqdm

BLIND = "none: a camera-blind model (trained on one camera; its depth assumes that camera's focal length)"


@dataclass
class EvalResult:
    """Mean metrics over the images with valid ground truth, raw and median-scaled, plus per-image rows.

    Per-image rows hold the raw metrics, the median-scaled ones (``med_abs_rel`` …) and the median
    predicted and true depth of the image's valid pixels (``pred_median``, ``gt_median``): enough to
    separate a model's scale error from its structure error, and to bootstrap any of them.
    """

    metrics: dict[str, float]  # the NYU protocol: prediction in metres as it is
    per_image: list[dict[str, float]] = field(default_factory=list)  # each with "index"
    skipped: list[int] = field(default_factory=list)  # images without a valid pixel
    flip_tta: bool = False
    median_scaled: dict[str, float] = field(default_factory=dict)  # after per-image median scaling
    name: str = "test"  # the evaluation set (test, or a zero-shot set's name)
    by_depth: DepthBinned | None = None  # AbsRel per ground-truth depth range, averaged per image
    precision: str = "fp32"  # what inference ran in (inference.precision), e.g. "bf16 autocast (AbsRel vs fp32 …)"
    camera: str = BLIND  # where the focal length that scaled the depth came from (camera.resolve)

    @property
    def n_images(self) -> int:
        return len(self.per_image)

    def to_json(self) -> dict:
        return {"metrics": self.metrics, "median_scaled": self.median_scaled, "n_images": self.n_images,
                "n_skipped": len(self.skipped), "skipped": self.skipped, "flip_tta": self.flip_tta,
                "precision": self.precision, "camera": self.camera}


class _InOrder(Dataset):
    def __init__(self, dataset: Dataset, limit: int | None) -> None:
        self.dataset, self.n = dataset, min(len(dataset), limit or len(dataset))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.dataset[(i, 0)]


@torch.inference_mode()
def evaluate(model: nn.Module, dataset: Dataset, flip_tta: bool = True, batch_size: int = 4,
             device: str | torch.device | None = None, max_images: int | None = None,
             progress: bool = True, name: str = "test", precision: str = "auto", camera: str = "dataset",
             **metric_kwargs) -> EvalResult:
    """Evaluate ``model`` on ``dataset`` (a DepthDataset without augmentation) image by image.

    ``precision``: ``auto`` (the hardware's native low precision where the depth stays within AbsRel
    0.01 of fp32; :mod:`~zoedam_lib.inference.precision`) or ``fp32``. The result says which ran.
    ``camera`` (camera-aware models; others use none): ``dataset``, each image's own focal length
    (:meth:`DepthDataset.camera`), or ``estimate``, the model's camera head as for a photo without EXIF.

    An evaluation in which no image has a single valid ground-truth pixel is an error, never a
    row of NaN: the depths are probably in another unit than metres, or outside the valid range.
    So is a non-finite prediction (:class:`~zoedam_lib.utils.errors.PredictionError`): its metrics would
    be NaN, or silently those of a clamped map.
    """
    device = torch.device(device) if device is not None else model_device(model)
    was_training = model.training
    model.eval()
    raw, scaled, medians, job = MetricAccumulator(), MetricAccumulator(), [], JobPrecision(precision)
    by_depth = DepthBinAccumulator(**metric_kwargs)
    loader = DataLoader(_InOrder(dataset, max_images), batch_size=batch_size, shuffle=False)
    source = camera_source(model, dataset, camera)
    for batch in tqdm(loader, desc=f"evaluate {name}", leave=False, disable=not progress):
        cam = batch.get("camera") if camera == "dataset" else None  # None: unknown, the model estimates
        pred = infer(model, batch["image"].to(device), flip_tta, job, cam).cpu()
        check_finite_prediction(pred, f"{name} images {batch['index'].tolist()}")
        for p, gt, index in zip(pred, batch["depth"], batch["index"].tolist(), strict=True):
            p = resize_prediction(p, gt.shape[-2:])  # once: the four uses below would each resize it
            if not math.isnan(raw.update(p, gt, name=index, **metric_kwargs)["a1"]):
                scaled.update(p, gt, name=index, align="median", **metric_kwargs)
                medians.append(median_depths(p, gt, **metric_kwargs))
                by_depth.update(p, gt)
    model.train(was_training)
    if raw.count == 0:
        lo, hi = metric_kwargs.get("min_depth", 1e-3), metric_kwargs.get("max_depth", 10.0)
        raise DataFileError(f"none of the {len(raw.skipped)} {name} images has a valid ground-truth depth in "
                            f"({lo}, {hi}) m, so there is nothing to evaluate. Are the depths in metres? (A file "
                            "in millimetres needs converting; a folder dataset takes depth_unit.)")
    per_image = [{"index": int(n), **m, **{f"med_{k}": v for k, v in ms.items()}, "pred_median": pm, "gt_median": gm}
                 for n, m, ms, (pm, gm) in zip(raw.names, raw.per_image, scaled.per_image, medians, strict=True)]
    return EvalResult(raw.mean(), per_image, [int(s) for s in raw.skipped], flip_tta, scaled.mean(), name,
                      by_depth.result(), job.describe(), source)


def camera_source(model: nn.Module, dataset: Dataset, camera: str) -> str:
    """What scaled an evaluation's depth: for results JSON and tables (``camera``: dataset | estimate)."""
    if camera not in ("dataset", "estimate"):
        raise ConfigError(f"camera must be 'dataset' or 'estimate', got {camera!r}")
    if not is_camera_aware(model):
        return BLIND
    if camera == "estimate" and not has_camera_head(model):
        raise ConfigError("camera='estimate' needs a model with a camera head (config camera_head=True)")
    if camera == "estimate":
        return ESTIMATED
    if not hasattr(dataset, "camera"):
        return "unknown: the dataset gives no camera, so the model used its fallback (camera.resolve)"
    item = dataset[(0, 0)]
    return dataset.camera(int(item["index"]), *item["depth"].shape[-2:]).source


@torch.inference_mode()
def predict_batch(model: nn.Module, images: torch.Tensor, flip_tta: bool = False,
                  size: tuple[int, int] | None = None, precision: str = "fp32") -> torch.Tensor:
    """(B, 3, H, W) images → (B, H, W) depth, resized to ``size`` (default: the input size)."""
    model.eval()
    device = model_device(model)
    depth = infer(model, images.to(device), flip_tta, precision)
    depth = torch.nn.functional.interpolate(depth, size=size or images.shape[-2:], mode="bilinear",
                                            align_corners=True)
    return depth[:, 0].cpu()


def example_indices(test_indices: list[int] | tuple[int, ...], n: int, seed: int) -> list[int]:
    """The same ``n`` test images in every notebook (for figures), chosen by ``seed``."""
    import numpy as np

    rng = np.random.default_rng([seed, 6])
    return sorted(rng.choice(np.asarray(test_indices), size=min(n, len(test_indices)), replace=False).tolist())


def predict_examples(model: nn.Module, mat, indices: list[int], flip_tta: bool = False, batch_size: int = 8):
    """(images uint8, ground truths, predictions at ground-truth size) of the given items, for figures.

    Consecutive items of one size are predicted ``batch_size`` at a time: one image per forward
    left most of a CPU idle.
    """
    items = [mat.read(i) for i in indices]
    preds: list[np.ndarray] = []
    for _, run in itertools.groupby(items, key=lambda item: (item[0].shape, item[1].shape)):
        run = list(run)
        for chunk in (run[i:i + batch_size] for i in range(0, len(run), batch_size)):
            x = torch.stack([torch.from_numpy(image).permute(2, 0, 1) for image, _ in chunk]).float() / 255
            preds.extend(predict_batch(model, x, flip_tta, size=chunk[0][1].shape).numpy())
    return [image for image, _ in items], [depth for _, depth in items], preds


__all__ = ["EvalResult", "evaluate", "predict_batch", "example_indices", "predict_examples", "METRIC_KEYS"]
