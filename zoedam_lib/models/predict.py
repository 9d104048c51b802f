"""One image in, metric depth at the image's own resolution out: the part every entry point shares.

Every model maps RGB in [0, 1] to ``{"metric_depth": (B, 1, h, w)}`` at its network size
(:mod:`.layers.preprocess`); here an image of any kind (:func:`~zoedam_lib.io.images.to_float_image`)
becomes that batch, and the depth is resized back (bilinear, align_corners=True, as the official
evaluation), refused if it holds NaN/inf, and clamped to the model's depth range.
:meth:`ZoeDAM.predict` runs it through the model's own forward, :func:`zoedam_lib.inference.predict.predict_depth`
through the faster exact head with a job precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoedam_lib.camera.intrinsics import validate_intrinsics
from zoedam_lib.io.images import to_float_image
from zoedam_lib.utils.errors import PredictionError


def model_device(model: nn.Module) -> torch.device:
    """Where a model lives (its first parameter or buffer; the average baseline has only a buffer)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def is_camera_aware(model: nn.Module) -> bool:
    """Whether ``model`` predicts canonical-camera depth and takes each image's camera (``camera="canonical"``)."""
    return getattr(getattr(model, "config", None), "camera", "blind") == "canonical"


def has_camera_head(model: nn.Module) -> bool:
    """Whether ``model`` (a ZoeDAM, the model a fast-path wrapper holds, or an exported graph) can estimate a
    focal length: its config says it has a camera head."""
    config = getattr(getattr(model, "model", model), "config", None)
    return bool(getattr(config, "camera_head", False))


def camera_rows(cameras: Sequence[Sequence[float] | None], scales: Sequence[tuple[float, float]] | None = None
                ) -> torch.Tensor:
    """Per-image ``(fx, fy, cx, cy)`` (or None: unknown) → the (B, 2) ``camera`` tensor a camera-aware model takes.

    ``scales`` (sy, sx) per image map the intrinsics from the image's size to the batch's (an image
    resized before batching); unknown cameras become NaN rows, which the model estimates.
    """
    rows = []
    for i, cam in enumerate(cameras):
        if cam is None:
            rows.append((math.nan, math.nan))
            continue
        fx, fy, _, _ = validate_intrinsics(cam, where="camera")
        sy, sx = scales[i] if scales is not None else (1.0, 1.0)
        rows.append((fx * sx, fy * sy))
    return torch.tensor(rows, dtype=torch.float32)


def camera_depth_fn(model: nn.Module, camera: torch.Tensor | None,
                    focal: list[torch.Tensor] | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x → model(x)["metric_depth"]``, passing ``camera`` to a camera-aware model (others take none);
    each call's ``focal_ratio`` is appended to ``focal`` when given (what the camera head estimated)."""
    if not is_camera_aware(model):
        return lambda x: model(x)["metric_depth"]

    def depth(x: torch.Tensor) -> torch.Tensor:
        out = model(x, camera=None if camera is None else camera.to(x.device))
        if focal is not None:
            focal.append(out["focal_ratio"].detach().float().cpu())
        return out["metric_depth"]
    return depth


def model_depth_range(model: nn.Module) -> tuple[float, float]:
    """The (min, max) depth a model is configured for (NYU's 1e-3…10 m by default)."""
    cfg = getattr(model, "config", None)
    return float(getattr(cfg, "min_depth", 1e-3)), float(getattr(cfg, "max_depth", 10.0))


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


def flip_averaged(depth_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                  flip_tta: bool) -> torch.Tensor:
    """``depth_fn(x)``, averaged with the prediction of the mirrored image when ``flip_tta`` (the official
    evaluation's flip augmentation)."""
    depth = depth_fn(x)
    if flip_tta:
        depth = 0.5 * (depth + torch.flip(depth_fn(torch.flip(x, dims=[3])), dims=[3]))
    return depth


@torch.inference_mode()
def predict_image(model: nn.Module, image, depth_fn: Callable[[torch.Tensor], torch.Tensor],
                  device: str | torch.device | None = None) -> np.ndarray:
    """One image (numpy/PIL/tensor, any size and channel layout) → (H, W) float32 metres.

    ``depth_fn`` maps the (1, 3, H, W) batch in [0, 1] to (1, 1, h, w) depth (the model's forward,
    a faster exact path, flip-averaged or not); its output is resized to the input's resolution and
    clamped to ``model``'s depth range.
    """
    x = to_float_image(image)[None]  # (1, 3, H, W)
    height, width = x.shape[-2:]
    depth = depth_fn(x.to(device or model_device(model)))
    depth = F.interpolate(depth.float(), size=(height, width), mode="bilinear", align_corners=True)
    check_finite_prediction(depth, "the prediction")
    lo, hi = model_depth_range(model)
    return depth.clamp(lo, hi)[0, 0].cpu().numpy()
