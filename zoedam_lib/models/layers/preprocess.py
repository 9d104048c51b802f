"""The one preprocessing every model shares: resize RGB in [0, 1] to the network size, then normalise.

Depth Anything V2's ``image2tensor`` and timm's ``pretrained_cfg`` transforms do the same two
steps in one place; here :class:`Preprocess` is a submodule of ZoeDAM, the relative model and
DenseDepth (``model.preprocess(x)``), the export graph traces it, and ``predict`` sizes its
inputs with :meth:`Preprocess.output_size` and :func:`resize_image` so that the model's own
resize is a no-op there. The resize is bilinear with ``align_corners=True``, as the official
``Resize`` followed by the models' interpolation.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoedam_lib.models.layers.resample import bilinear_taps
from zoedam_lib.utils.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PATCH = 14  # DINOv2's patch size: ViT network sizes are multiples of it


def round_to_patch(size: tuple[int, ...], patch: int = PATCH) -> tuple[int, int]:
    """Round an (H, W) network size to multiples of the patch size, with a notice when it changes.

    The official Resize rounds sizes to multiples of 14 the same way; we warn rather than reject
    so that e.g. ``img_size=(480, 640)`` works as (476, 644).
    """
    if len(size) != 2 or any((not isinstance(s, (int, np.integer))) or s <= 0 for s in size):
        raise ConfigError(f"img_size must be two positive integers (H, W), got {size!r}")
    rounded = tuple(max(patch, int(round(s / patch)) * patch) for s in size)
    if rounded != tuple(size):
        warnings.warn(f"img_size {tuple(size)} is not a multiple of {patch}; using {rounded}", stacklevel=3)
    return rounded  # type: ignore[return-value]


def network_size(height: int, width: int, img_size: tuple[int, int] | None,
                 keep_aspect_ratio: bool = False) -> tuple[int, int]:
    """The size an (height, width) input is resized to (official ``Resize`` with multiple_of=14).

    ``img_size`` None keeps the input's size (DenseDepth without a fixed size); with
    ``keep_aspect_ratio`` the side that changes least sets the scale and both sides round to 14.
    """
    if img_size is None:
        return height, width
    out_h, out_w = (int(s) for s in img_size)
    if not keep_aspect_ratio:
        return out_h, out_w
    scale_h, scale_w = out_h / height, out_w / width
    scale = scale_w if abs(1 - scale_w) < abs(1 - scale_h) else scale_h  # scale as little as possible
    return (max(PATCH, int(round(scale * height / PATCH)) * PATCH),
            max(PATCH, int(round(scale * width / PATCH)) * PATCH))


def check_rgb_batch(x: torch.Tensor) -> None:
    """A ValueError unless ``x`` is a (B, 3, H, W) batch (what every model's forward takes)."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) RGB in [0, 1], got shape {tuple(x.shape)}")


class Preprocess(nn.Module):
    """(B, 3, H, W) RGB in [0, 1] → resized to the network size, ImageNet-normalised.

    The size rule is read from ``config`` at each call (``img_size``, ``keep_aspect_ratio`` if the
    config has it), so a config changed after construction is honoured. The mean and std are
    non-persistent buffers: they follow ``.to(device)`` and never enter a state dict.

    Args:
        config: the model's config (any dataclass with ``img_size``; None there keeps the size).
    """

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """The network size an (height, width) image is resized to."""
        return config_input_size(self.config, height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_rgb_batch(x)
        size = self.output_size(x.shape[-2], x.shape[-1])
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return (x - self.mean) / self.std  # (B, 3, h, w)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """uint8/uint16 (H, W, 3) → float32 (3, h, w) in [0, 1], bilinear with align_corners=True.

    Equals ``F.interpolate(to_float_image(image)[None], size, mode="bilinear", align_corners=True)``
    (to float rounding), but only the four source pixels of each output pixel are converted to
    float, so an 8000×6000 photo never exists as a 576 MB float copy.
    """
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    y0, y1, ly = bilinear_taps(image.shape[0], size[0])
    x0, x1, lx = bilinear_taps(image.shape[1], size[1])
    top, bottom = image[y0], image[y1]  # (h, W, 3) each, still integers

    def tap(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return rows[:, cols].astype(np.float32) / np.float32(scale)  # (h, w, 3)

    lx, ly = lx[None, :, None], ly[:, None, None]
    out = (tap(top, x0) * (1 - lx) + tap(top, x1) * lx) * (1 - ly) + (tap(bottom, x0) * (1 - lx)
                                                                       + tap(bottom, x1) * lx) * ly
    return torch.from_numpy(out).permute(2, 0, 1).contiguous()


def config_input_size(config: Any, height: int, width: int) -> tuple[int, int]:
    """The network size a model config asks for (``img_size``, ``keep_aspect_ratio``); no config or
    ``img_size`` None keeps the image's own size (the average baseline, DenseDepth without a size)."""
    size = getattr(config, "img_size", None)
    return network_size(height, width, size, bool(getattr(config, "keep_aspect_ratio", False)))


def network_input_size(model: nn.Module, height: int, width: int) -> tuple[int, int]:
    """The (h, w) a model (or a wrapper with its ``config``) takes an (height, width) image at: an
    exported graph's fixed input size, else its config's network size."""
    fixed = getattr(model, "export_size", None)  # an exported ONNX graph takes one input size
    if fixed is not None:
        return tuple(fixed)
    return config_input_size(getattr(model, "config", None), height, width)
