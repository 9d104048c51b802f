"""ZoeDAM (paper §3.2): DINOv2 encoder + DPT decoder (Depth Anything) + ZoeDepth metric bins.

``model(x)`` takes RGB in [0, 1] of any size, resizes it to the network size (392×518 by
default, bilinear align_corners=True, as the official model), normalises with ImageNet
statistics and returns metric depth at the network resolution. :meth:`ZoeDAM.predict` is the
convenience for one image at its own resolution (through the exact fast inference path).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoedam_lib.inference.exact import head_depth
from zoedam_lib.inference.predict import predict_depth
from zoedam_lib.models.backbones import LAYER_FAMILIES, get_backbone
from zoedam_lib.models.layers.dpt import HEAD_FEATURES_2, DPTFeatures, DPTHead
from zoedam_lib.models.layers.metric_bins import MetricBinsHead
from zoedam_lib.models.layers.vit import DinoV2Encoder
from zoedam_lib.utils.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ZoeDAMConfig:
    """ZoeDAM architecture; the defaults are the official Depth Anything metric (NYU) configuration."""

    backbone: str = "vits"  # vits | vitb | vitl (DINOv2 ViT-S/B/L); vitt = tiny test-size ViT
    layer_family: str = "v1"  # encoder blocks feeding the decoder: v1 = last four, v2 = Depth Anything V2's
    img_size: tuple[int, int] = (392, 518)  # network input (H, W); multiples of 14
    keep_aspect_ratio: bool = False  # True: resize minimally keeping aspect, sides multiples of 14
    n_bins: int = 64  # metric bins per pixel
    bin_embedding_dim: int = 128  # width of the bin embeddings
    n_attractors: tuple[int, ...] = (16, 8, 4, 1)  # attractors per stage, coarse to fine
    attractor_alpha: float = 300.0  # official configures 1000 but uses 300 (conformance README §5.1)
    attractor_gamma: int = 2  # exponent of the inverse attractor
    min_temp: float = 0.0212  # log-binomial temperature range
    max_temp: float = 50.0
    min_depth: float = 1e-3  # valid depth range in metres (predict() clamps to it)
    max_depth: float = 10.0
    layer_scale_init: float = 0.1  # LayerScale γ of a randomly initialised ViT (loaded weights replace it)

    #: Removed fields that older checkpoints' config.json may hold, with the one value the model
    #: implements (ZoeDepth's metric setting: mean over inverse attractors); see ``config.from_dict``.
    legacy_fields: ClassVar[dict[str, str]] = {"attractor_kind": "mean", "attractor_type": "inv"}

    def __post_init__(self) -> None:
        get_backbone(self.backbone)
        if self.layer_family not in LAYER_FAMILIES:
            raise ConfigError(f"layer_family must be one of {LAYER_FAMILIES}, got {self.layer_family!r}")
        self.img_size = round_to_patch(tuple(self.img_size))
        self.n_attractors = tuple(self.n_attractors)
        if len(self.n_attractors) != 4:
            raise ConfigError("n_attractors needs four stages (one per DPT fusion level)")
        if not 0 < self.min_depth < self.max_depth:
            raise ConfigError(f"need 0 < min_depth < max_depth, got {self.min_depth}, {self.max_depth}")


def round_to_patch(size: tuple[int, ...], patch: int = 14) -> tuple[int, int]:
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


def network_size(height: int, width: int, config: ZoeDAMConfig) -> tuple[int, int]:
    """The size an (height, width) input is resized to (official ``Resize`` with multiple_of=14)."""
    out_h, out_w = config.img_size
    if not config.keep_aspect_ratio:
        return out_h, out_w
    scale_h, scale_w = out_h / height, out_w / width
    scale = scale_w if abs(1 - scale_w) < abs(1 - scale_h) else scale_h  # scale as little as possible
    return (max(14, int(round(scale * height / 14)) * 14), max(14, int(round(scale * width / 14)) * 14))


class ZoeDAM(nn.Module):
    """ZoeDepth's metric-bins head on a Depth Anything (DINOv2 + DPT) core.

    Args:
        config: architecture; see :class:`ZoeDAMConfig`.
    """

    registry_name = "zoedam"

    def __init__(self, config: ZoeDAMConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ZoeDAMConfig()
        spec = get_backbone(config.backbone)
        self.encoder = DinoV2Encoder(spec, spec.layer_indices(config.layer_family), config.layer_scale_init)
        self.decoder = DPTHead(spec.embed_dim, spec.features, spec.out_channels)
        self.head = MetricBinsHead(
            spec.features, n_bins=config.n_bins, bin_embedding_dim=config.bin_embedding_dim,
            n_attractors=config.n_attractors, attractor_alpha=config.attractor_alpha,
            attractor_gamma=config.attractor_gamma, min_temp=config.min_temp, max_temp=config.max_temp,
            last_features=HEAD_FEATURES_2)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 1] → resized to the network size, ImageNet-normalised."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W) RGB in [0, 1], got shape {tuple(x.shape)}")
        size = network_size(x.shape[-2], x.shape[-1], self.config)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor, return_final_centers: bool = False,
                return_probs: bool = False) -> dict[str, torch.Tensor]:
        """RGB (B, 3, H, W) in [0, 1] → ``metric_depth`` (B, 1, h, w) metres and ``rel_depth`` (B, h, w).

        (h, w) is the network size. With ``return_final_centers`` / ``return_probs`` the dict also
        holds ``bin_centers`` / ``probs`` (B, n_bins, h, w), from the reference head
        (:class:`MetricBinsHead`, ZoeDepth's layers); otherwise the depth comes from the same layers
        computed channels-last (:func:`~zoedam_lib.inference.exact.head_depth`: equal within
        float rounding, gradients too, and 1.7× faster forward + backward on a CPU). This is what
        training runs; inference entry points take the banded path of the same module.
        """
        feats = self.forward_features(x)
        # The head stays in fp32: the 0.0212 minimum temperature amplifies rounding errors.
        with torch.autocast(device_type=feats.out_conv.device.type, enabled=False):
            if not (return_final_centers or return_probs):
                return {"metric_depth": head_depth(self.head, feats.float()), "rel_depth": feats.rel_depth}
            metric, centers, probs = self.head(feats.float())
        out = {"metric_depth": metric, "rel_depth": feats.rel_depth, "bin_centers": centers}
        if return_probs:
            out["probs"] = probs
        return out

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """RGB in [0, 1] → the encoder's four (B, C, h/14, w/14) token maps (what feature alignment compares)."""
        return self.encoder(self.preprocess(x))

    def forward_features(self, x: torch.Tensor) -> DPTFeatures:
        """RGB in [0, 1] → the decoder's relative depth and features (what the metric head consumes)."""
        x = self.preprocess(x)  # (B, 3, h, w)
        tokens = self.encoder(x)  # 4 × (B, C, h/14, w/14)
        return self.decoder(tokens, out_size=x.shape[-2:])

    def predict(self, image, flip_tta: bool = False) -> np.ndarray:
        """One image (numpy/PIL/tensor, any size) → (H, W) metric depth at the input's resolution.

        A convenience delegate of :func:`zoedam_lib.inference.predict.predict_depth` (the exact fast
        path). That module never imports this one, so the import is one-way (model → inference
        helpers → metric-head layers) and happens at import time, not per call.
        """
        return predict_depth(self, image, flip_tta=flip_tta)

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per part (encoder, decoder, metric head) and in total."""
        parts = {"encoder": self.encoder, "decoder": self.decoder, "metric_head": self.head}
        counts = {name: sum(p.numel() for p in m.parameters()) for name, m in parts.items()}
        counts["total"] = sum(counts.values())
        return counts

    def param_groups(self, lr: float, encoder_lr_factor: float = 50.0, pos_embed_lr_factor: float = 50.0,
                     decoder_lr_factor: float = 50.0) -> list[dict]:
        """AdamW parameter groups with learning-rate divisors, as the official metric recipe.

        Depth Anything's metric fine-tuning trains the pretrained encoder, its positional embedding
        and the pretrained DPT decoder at lr/50 and the new metric head at lr (ZoeDepth used lr/10
        for its MiDaS core). A factor of 1 trains a part at the full rate (e.g. a random decoder).
        """
        pos = [p for n, p in self.encoder.named_parameters() if "pos_embed" in n]
        enc = [p for n, p in self.encoder.named_parameters() if "pos_embed" not in n]
        groups = [
            {"name": "encoder", "params": enc, "lr": lr / encoder_lr_factor},
            {"name": "pos_embed", "params": pos, "lr": lr / pos_embed_lr_factor},
            {"name": "decoder", "params": list(self.decoder.parameters()), "lr": lr / decoder_lr_factor},
            {"name": "metric_head", "params": list(self.head.parameters()), "lr": lr},
        ]
        for g in groups:
            if not math.isfinite(g["lr"]) or g["lr"] <= 0:
                raise ConfigError(f"learning rate of {g['name']} must be positive, got {g['lr']}")
        return groups


def parameter_table(backbones: tuple[str, ...] = ("vits", "vitb", "vitl")) -> dict[str, dict[str, int]]:
    """Parameter counts per part for each backbone, built on the meta device (no memory, no time)."""
    with torch.device("meta"):
        return {b: ZoeDAM(ZoeDAMConfig(backbone=b)).parameter_counts() for b in backbones}
