"""ZoeDAM (paper §3.2): DINOv2 encoder + DPT decoder (Depth Anything) + ZoeDepth metric bins.

``model(x)`` takes RGB in [0, 1] of any size, resizes it to the network size (392×518 by
default, bilinear align_corners=True, as the official model; :mod:`.layers.preprocess`),
normalises with ImageNet statistics and returns metric depth at the network resolution through
ZoeDepth's layers (:class:`~.layers.metric_bins.MetricBinsHead`). A camera-aware ZoeDAM
(``camera="canonical"``) predicts depth for a canonical camera and turns it into metres with the
image's own focal length, given or estimated by its camera head (:mod:`zoedam_lib.camera.canonical`).
This forward is the reference: the faster computations of the same depth (channels-last, banded)
are wrappers that training and inference choose (:mod:`zoedam_lib.inference.exact`), as ``torch.compile`` is chosen.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from zoedam_lib.camera.canonical import CAMERA_MODES, canonical_focal, focal_ratio, from_canonical
from zoedam_lib.camera.intrinsics import camera_row_problem, default_intrinsics
from zoedam_lib.models.backbones import LAYER_FAMILIES, get_backbone
from zoedam_lib.models.layers.camera_head import CameraHead
from zoedam_lib.models.layers.dpt import HEAD_FEATURES_2, DPTFeatures, DPTHead
from zoedam_lib.models.layers.metric_bins import MetricBinsHead
from zoedam_lib.models.layers.preprocess import Preprocess, round_to_patch
from zoedam_lib.models.layers.vit import DinoV2Encoder
from zoedam_lib.models.predict import camera_depth_fn, camera_rows, flip_averaged, predict_image
from zoedam_lib.utils.errors import ConfigError


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
    camera: str = "blind"  # blind: depth for the one training camera (the paper); canonical: see camera.canonical
    canonical_focal: float | None = None  # f_c, px at img_size (canonical; default NYU's camera resized to it)
    camera_head: bool = False  # a focal-length estimator for images of unknown camera (canonical only)

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
        if self.camera not in CAMERA_MODES:
            raise ConfigError(f"camera must be one of {CAMERA_MODES}, got {self.camera!r}")
        if self.camera == "blind" and (self.canonical_focal is not None or self.camera_head):
            raise ConfigError("canonical_focal and camera_head belong to camera='canonical' models")
        if self.camera == "canonical":
            if self.keep_aspect_ratio:
                raise ConfigError("camera='canonical' needs a fixed network size (keep_aspect_ratio=False): the "
                                  "canonical focal length is pixels at img_size")
            given = self.canonical_focal
            if given is not None and not (isinstance(given, numbers.Real) and not isinstance(given, bool)
                                          and math.isfinite(given) and given > 0):
                # f_c divides every focal length: 0 was silently the default, a negative one negated the depths
                raise ConfigError(f"canonical_focal must be a positive number of pixels at img_size, or None for "
                                  f"NYU's camera resized to it ({canonical_focal(self.img_size):.1f} px here); "
                                  f"got {given!r}")
            self.canonical_focal = float(given or canonical_focal(self.img_size))


def check_camera_rows(camera: torch.Tensor) -> None:
    """Refuse ``camera`` rows that would set a wrong scale (:func:`~zoedam_lib.camera.intrinsics.camera_row_problem`):
    each is (fx, fy) > 0 and finite, or NaN, NaN (unknown). The exported runners apply the same check."""
    for i, (fx, fy) in enumerate(camera.detach().float().cpu().tolist()):
        problem = camera_row_problem(fx, fy)
        if problem is not None:
            raise ConfigError(f"camera row {i} {problem}: each row must be a positive, finite (fx, fy) in pixels at "
                              "the input's size, or (nan, nan) to estimate it")


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
        self.preprocess = Preprocess(config)  # resize to the network size + normalise (no weights)
        self.camera_head = CameraHead(spec.embed_dim) if config.camera_head else None

    def forward(self, x: torch.Tensor, return_final_centers: bool = False,
                return_probs: bool = False, *, camera: torch.Tensor | None = None,
                return_focal_estimate: bool = False) -> dict[str, torch.Tensor]:
        """RGB (B, 3, H, W) in [0, 1] → ``metric_depth`` (B, 1, h, w) metres and ``rel_depth`` (B, h, w).

        (h, w) is the network size. With ``return_final_centers`` / ``return_probs`` the dict also
        holds ``bin_centers`` / ``probs`` (B, n_bins, h, w). A camera-aware model also takes
        ``camera`` and returns ``canonical_depth`` and ``focal_ratio``: see :meth:`to_metric`; with
        ``return_focal_estimate`` also the camera head's ``log_focal_estimate`` (B,) of every image
        (what a camera head trained with the depth learns from, :mod:`zoedam_lib.experiments.camera_joint`).
        """
        tokens, feats = self.features(x)
        # The head stays in fp32: the 0.0212 minimum temperature amplifies rounding errors.
        with torch.autocast(device_type=feats.out_conv.device.type, enabled=False):
            metric, centers, probs = self.head(feats.float())
        out = {"metric_depth": metric, "rel_depth": feats.rel_depth}
        if self.config.camera == "canonical":
            out.update(self.to_metric(metric, tokens, x.shape[-2:], camera))
        if return_focal_estimate:
            out["log_focal_estimate"] = self.log_focal_estimate(tokens)
        if return_final_centers or return_probs:
            out["bin_centers"] = centers
        if return_probs:
            out["probs"] = probs
        return out

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """RGB in [0, 1] → the encoder's four (B, C, h/14, w/14) token maps (what feature alignment compares)."""
        return self.encoder(self.preprocess(x))

    def forward_features(self, x: torch.Tensor) -> DPTFeatures:
        """RGB in [0, 1] → the decoder's relative depth and features (what the metric head consumes)."""
        return self.features(x)[1]

    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], DPTFeatures]:
        """RGB in [0, 1] → the encoder's four token maps (B, C, h/14, w/14) and the decoder's features."""
        x = self.preprocess(x)  # (B, 3, h, w)
        tokens = self.encoder(x)
        return tokens, self.decoder(tokens, out_size=x.shape[-2:])

    def to_metric(self, canonical: torch.Tensor, tokens: list[torch.Tensor], image_size: tuple[int, int],
                  camera: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """A camera-aware model's canonical depth → ``metric_depth`` = ``canonical_depth`` · ``focal_ratio`` (f / f_c).

        ``camera`` (B, 2) holds each image's (fx, fy) in pixels at the input's ``image_size`` (H, W);
        a NaN row, or no ``camera`` at all, means unknown: then the camera head's estimate, or
        without a head NYU's field of view (:func:`~zoedam_lib.camera.intrinsics.default_intrinsics`).
        """
        b = canonical.shape[0]
        if camera is not None:
            check_camera_rows(camera)
        known = torch.full((b,), float("nan"), device=canonical.device) if camera is None else focal_ratio(
            camera[:, 0].float(), camera[:, 1].float(), tuple(image_size), self.config.img_size,
            self.config.canonical_focal)
        unknown = torch.isnan(known)
        if bool(unknown.any()):
            known = torch.where(unknown, self.focal_fallback(tokens, image_size, b), known)
        ratio = known.view(b, 1, 1, 1)
        return {"metric_depth": from_canonical(canonical, ratio), "canonical_depth": canonical,
                "focal_ratio": known}

    def log_focal_estimate(self, tokens: list[torch.Tensor]) -> torch.Tensor:
        """The camera head's ``log(f / f_c)`` (B,) from the encoder's tokens, in fp32 (what it trains on)."""
        if self.camera_head is None:
            raise ConfigError("return_focal_estimate needs a model with a camera head (config camera_head=True)")
        with torch.autocast(device_type=tokens[0].device.type, enabled=False):
            return self.camera_head(tokens)

    def focal_fallback(self, tokens: list[torch.Tensor], image_size: tuple[int, int], batch: int) -> torch.Tensor:
        """f / f_c (B,) for images of unknown camera: the camera head's estimate, else NYU's field of view.

        Shared by :meth:`to_metric` and the exported graph (which computes it for every image, as a
        traced graph cannot branch on the data, and keeps it only where the camera input is NaN).
        """
        if self.camera_head is not None:
            with torch.autocast(device_type=tokens[0].device.type, enabled=False):
                return self.camera_head(tokens).exp()
        f = default_intrinsics(*image_size)[0]
        ratio = focal_ratio(f, f, tuple(image_size), self.config.img_size, self.config.canonical_focal)
        return torch.full((batch,), float(ratio), device=tokens[0].device)

    def predict(self, image, flip_tta: bool = False, camera: Sequence[float] | None = None) -> np.ndarray:
        """One image (numpy/PIL/tensor, any size) → (H, W) metric depth in metres at its own resolution.

        ``camera``: the image's ``(fx, fy, cx, cy)`` in pixels at its own size; a camera-aware model
        estimates it when None (a camera-blind one assumes its training camera whatever is given).
        Through this forward (the reference); :func:`zoedam_lib.inference.predict.predict_depth` gives the same
        depth faster (the channels-last head) and with a job precision.
        """
        depth = camera_depth_fn(self, camera_rows([camera]) if camera is not None else None)
        return predict_image(self, image, lambda x: flip_averaged(depth, x, flip_tta))

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per part (encoder, decoder, metric head) and in total."""
        parts = {"encoder": self.encoder, "decoder": self.decoder, "metric_head": self.head}
        if self.camera_head is not None:
            parts["camera_head"] = self.camera_head
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
