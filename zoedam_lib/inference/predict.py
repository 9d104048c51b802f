"""Inference on batches and single images, shared by every entry point (evaluate, predict, the app).

A ZoeDAM runs through the exact channels-last head (:func:`.exact.prepare_exact`: the reference
forward's depth within float rounding, faster on CPUs); a model already wrapped (e.g. by
``prepare_fast``) and other models run as they are. Evaluations and ``predict`` runs pass a job
precision (:mod:`.precision`): the hardware's native low precision where the model's depth stays
within the job's bar of fp32.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from zoedam_lib.camera.photo import PhotoCamera
from zoedam_lib.camera.resolve import estimated, photo_camera
from zoedam_lib.inference.exact import prepare_exact
from zoedam_lib.inference.precision import JobPrecision, job_precision
from zoedam_lib.io.images import read_image
from zoedam_lib.io.writers import rgb8
from zoedam_lib.models.layers.preprocess import network_input_size, resize_image
from zoedam_lib.models.predict import (
    camera_depth_fn,
    camera_rows,
    check_finite_prediction,
    flip_averaged,
    has_camera_head,
    is_camera_aware,
    model_depth_range,
    model_device,
    predict_image,
)


def infer(model: nn.Module, x: torch.Tensor, flip_tta: bool = False,
          precision: str | JobPrecision = "fp32", camera: torch.Tensor | None = None,
          focal: list[torch.Tensor] | None = None) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] → (B, 1, h, w) float32 metric depth at the model's output size.

    ``precision``: ``fp32``, or a job's :class:`~.precision.JobPrecision` (evaluations and ``predict``
    runs: the hardware's native low precision where the model's depth stays within AbsRel 0.01 of
    fp32, decided on the job's first batch); ``auto`` makes this call a job of its own.
    ``camera``: (B, 2) focal lengths at ``x``'s size for a camera-aware model (NaN rows: estimate;
    :func:`~zoedam_lib.models.predict.camera_rows`); camera-blind models take none. ``focal``: a list
    that receives each forward's ``focal_ratio`` (f / f_c, (B,): the estimate for NaN rows).
    """
    run = camera_depth_fn(prepare_exact(model), camera, focal)
    job = job_precision(precision)
    return flip_averaged(lambda inputs: job.depth(run, inputs), x, flip_tta)


def infer_photos(model: nn.Module, x: torch.Tensor, cameras: Sequence[PhotoCamera | None],
                 sizes: Sequence[tuple[int, int]], flip_tta: bool = False, precision: str | JobPrecision = "fp32"
                 ) -> tuple[torch.Tensor, list[PhotoCamera | None]]:
    """:func:`infer` for photos resized to the network input ``x`` (B, 3, h, w) from ``sizes`` (H, W), each
    with its resolved camera (:func:`~zoedam_lib.camera.resolve.photo_camera`; None when not resolved).

    A camera-aware model scales each depth by its photo's focal length, mapped to ``x``'s size; an
    ``estimate`` camera is left to the model and comes back with the focal length its camera head
    found (averaged over the flip TTA's two forwards). Camera-blind models get no camera. Returns the
    (B, 1, h, w) depth on the CPU and the cameras as used.
    """
    if not is_camera_aware(model):
        return infer(model, x, flip_tta, precision).cpu(), list(cameras)
    h, w = x.shape[-2:]
    rows = camera_rows([None if c is None or c.kind == "estimate" else c.intrinsics for c in cameras],
                       [(h / size[0], w / size[1]) for size in sizes])
    focal: list[torch.Tensor] = []
    depth = infer(model, x, flip_tta, precision, rows, focal).cpu()
    ratios = torch.stack(focal).mean(dim=0)
    cfg = model.config
    used = [estimated(c, float(r), cfg.canonical_focal, cfg.img_size) if c is not None and c.kind == "estimate"
            else c for c, r in zip(cameras, ratios, strict=True)]
    return depth, used


def predict_depth(model: nn.Module, image, flip_tta: bool = False, device: str | torch.device | None = None,
                  precision: str = "fp32", camera: Sequence[float] | None = None) -> np.ndarray:
    """One image (numpy/PIL/tensor, any size and channel layout) → (H, W) float32 metres.

    :func:`zoedam_lib.models.predict.predict_image` through :func:`infer` (the exact channels-last
    head for a ZoeDAM); ``precision``: see :func:`infer`; ``camera``: the image's ``(fx, fy, cx, cy)``
    at its own size (None: a camera-aware model estimates it).
    """
    rows = None if camera is None else camera_rows([camera])
    return predict_image(model, image, lambda x: infer(model, x, flip_tta, precision, rows), device)


def predict_metric_depth(model: nn.Module, image: np.ndarray, flip_tta: bool = False,
                         camera: PhotoCamera | None = None) -> tuple[np.ndarray, PhotoCamera | None]:
    """(H, W, 3) uint8/uint16 image → (H, W) float32 metres, by ``zoedam predict``'s steps, and the camera.

    A camera-aware model scales its depth by ``camera`` (resolved by :func:`~zoedam_lib.camera.resolve.photo_camera`);
    an ``estimate`` comes back with the focal length the model's camera head found.
    """
    height, width = image.shape[:2]
    x = resize_image(image, network_input_size(model, height, width))  # (3, h, w) in [0, 1]
    with torch.inference_mode():
        depth, (camera,) = infer_photos(model, x[None].to(model_device(model)), [camera], [(height, width)],
                                        flip_tta)
    check_finite_prediction(depth, "the prediction")
    full = torch.nn.functional.interpolate(depth, size=(height, width), mode="bilinear", align_corners=True)
    lo, hi = model_depth_range(model)
    return full.clamp_(lo, hi)[0, 0].numpy(), camera


def predict_photo(model: nn.Module, path: str | os.PathLike, flip_tta: bool = False,
                  given: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray, PhotoCamera]:
    """A photo file → (RGB uint8, (H, W) metres at its own size, the camera used), as ``predict`` and the app do
    (:func:`predict_metric_depth`).

    The camera is resolved once (:func:`~zoedam_lib.camera.resolve.photo_camera`: ``given``, EXIF,
    the camera head's estimate, NYU's default) and serves both the depth (a camera-aware model's
    metres) and the returned intrinsics (the point cloud), so the two cannot disagree.
    """
    image = read_image(path)
    camera = photo_camera(path, given, can_estimate=is_camera_aware(model) and has_camera_head(model))
    depth, used = predict_metric_depth(model.eval(), image, flip_tta, camera)
    return rgb8(image), depth, used
