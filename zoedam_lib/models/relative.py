"""Depth Anything's relative-depth model (Yang et al. 2024, §3.1): DINOv2 encoder + DPT decoder → disparity.

This is the network a ZoeDAM starts from: trained on a large, diverse corpus with the
affine-invariant loss, it predicts *disparity up to an unknown scale and shift* (not depth, not
metres). SynthDA, the project's miniature Depth Anything, is this model trained on SynthRooms'
``pretrain`` domain; its weights are written in the official v1 key layout
(``pretrained.*``, ``depth_head.*``), so ZoeDAM loads them exactly like ``depth_anything_vits14.pth``.
The layers are ZoeDAM's own (one network definition; the metric head is what ZoeDAM adds).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from zoedam_lib.models.backbones import get_backbone
from zoedam_lib.models.layers.dpt import DPTHead
from zoedam_lib.models.layers.preprocess import Preprocess, round_to_patch
from zoedam_lib.models.layers.vit import DinoV2Encoder


@dataclass
class RelativeDepthConfig:
    """Architecture of a Depth Anything relative-depth model."""

    backbone: str = "vits"  # vits | vitb | vitl (DINOv2 ViT-S/B/L); vitt = tiny test-size ViT
    img_size: tuple[int, int] = (518, 518)  # network input (H, W), multiples of 14 (Depth Anything: 518)
    layer_scale_init: float = 0.1  # LayerScale γ of a randomly initialised ViT (as ZoeDAMConfig)

    def __post_init__(self) -> None:
        get_backbone(self.backbone)
        self.img_size = round_to_patch(tuple(self.img_size))


class RelativeDepthModel(nn.Module):
    """DINOv2 + DPT predicting affine-invariant disparity (Depth Anything v1's layer family).

    Args:
        config: architecture; see :class:`RelativeDepthConfig`.
    """

    registry_name = "relative"

    def __init__(self, config: RelativeDepthConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or RelativeDepthConfig()
        spec = get_backbone(config.backbone)
        self.encoder = DinoV2Encoder(spec, spec.layer_indices("v1"), config.layer_scale_init)
        self.decoder = DPTHead(spec.embed_dim, spec.features, spec.out_channels)
        self.preprocess = Preprocess(config)  # resize to img_size + normalise (no weights)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """RGB (B, 3, H, W) in [0, 1] → ``rel_depth`` (B, h, w): disparity up to scale and shift, at network size."""
        x = self.preprocess(x)  # (B, 3, h, w)
        features = self.decoder(self.encoder(x), out_size=x.shape[-2:])
        return {"rel_depth": features.rel_depth}
