"""Inference on single images and batches, shared by every depth model in the project.

Every model maps RGB in [0, 1] to ``{"metric_depth": (B, 1, h, w)}`` at its own output size;
here predictions are optionally averaged with the horizontally flipped image's (the official
evaluation's flip augmentation) and resized back to the input resolution. A ZoeDAM runs through
the exact fast head (:func:`.fast_head.prepare_exact`: the reference's depth, faster on CPUs);
a model already wrapped (e.g. by ``prepare_fast``) and other models run as they are. Evaluations
and ``predict`` runs pass a job precision (:mod:`.precision`): the hardware's native low precision
where the model's depth stays within AbsRel 0.01 of fp32.

This module imports no model class (only the metric head's layers, via :mod:`.fast_head`), so
``ZoeDAM.predict`` can delegate here without an import cycle.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoedam_lib.inference.exact import prepare_exact
from zoedam_lib.inference.precision import JobPrecision, job_precision
from zoedam_lib.io.images import to_float_image
from zoedam_lib.utils.errors import PredictionError


def infer(model: nn.Module, x: torch.Tensor, flip_tta: bool = False,
          precision: str | JobPrecision = "fp32") -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] → (B, 1, h, w) float32 metric depth at the model's output size.

    ``precision``: ``fp32``, or a job's :class:`~.precision.JobPrecision` (evaluations and ``predict``
    runs: the hardware's native low precision where the model's depth stays within AbsRel 0.01 of
    fp32, decided on the job's first batch); ``auto`` makes this call a job of its own.
    """
    runner = prepare_exact(model)
    job = job_precision(precision)

    def run(inputs: torch.Tensor) -> torch.Tensor:
        return runner(inputs)["metric_depth"]

    depth = job.depth(run, x)
    if flip_tta:
        depth = 0.5 * (depth + torch.flip(job.depth(run, torch.flip(x, dims=[3])), dims=[3]))
    return depth


def non_finite_problem(depth: torch.Tensor | np.ndarray) -> str | None:
    """Why a predicted depth map must not be used: "12 of 4096 pixels are NaN or inf"; None if all are finite.

    Clamping hides NaN (it stays NaN) and the 16-bit writer turns NaN into 0 = "no depth", so a
    broken model would otherwise leave a plausible-looking, all-invalid file and exit 0.
    """
    t = torch.as_tensor(depth)
    bad = int((~torch.isfinite(t)).sum())
    return f"{bad} of {t.numel()} predicted depths are NaN or inf" if bad else None


def check_finite_prediction(depth: torch.Tensor | np.ndarray, what: str) -> None:
    """A :class:`PredictionError` if ``depth`` holds NaN/inf: the model (weights, fp16) is broken, not the image."""
    problem = non_finite_problem(depth)
    if problem is not None:
        raise PredictionError(f"{what}: {problem}. The model is numerically broken: with the fast path (fp16) try "
                              "without it; otherwise the checkpoint is damaged or diverged.")


def model_device(model: nn.Module) -> torch.device:
    """Where a model lives (its first parameter or buffer; the average baseline has only a buffer)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def model_depth_range(model: nn.Module) -> tuple[float, float]:
    """The (min, max) depth a model is configured for (NYU's 1e-3…10 m by default)."""
    cfg = getattr(model, "config", None)
    return float(getattr(cfg, "min_depth", 1e-3)), float(getattr(cfg, "max_depth", 10.0))


@torch.inference_mode()
def predict_depth(model: nn.Module, image, flip_tta: bool = False,
                  device: str | torch.device | None = None, precision: str = "fp32") -> np.ndarray:
    """One image (numpy/PIL/tensor, any size and channel layout) → (H, W) float32 metres.

    The prediction is resized to the input's resolution (bilinear, align_corners=True) and
    clamped to the model's depth range. ``precision``: see :func:`infer`.
    """
    x = to_float_image(image)[None]  # (1, 3, H, W)
    device = device or model_device(model)
    height, width = x.shape[-2:]
    depth = infer(model, x.to(device), flip_tta, precision)
    depth = F.interpolate(depth.float(), size=(height, width), mode="bilinear", align_corners=True)
    check_finite_prediction(depth, "the prediction")
    lo, hi = model_depth_range(model)
    return depth.clamp(lo, hi)[0, 0].cpu().numpy()
