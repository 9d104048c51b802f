"""DPT decoder as in Depth Anything (v1 and V2 share it), returning its features explicitly.

The metric-bins head needs the decoder's multi-scale features. ZoeDepth fetched them with
forward hooks writing into a dict; here the decoder returns them in a :class:`DPTFeatures`
tuple. Module names follow the official checkpoints (``projects``, ``resize_layers``,
``scratch.refinenet4`` ...) so their state dicts load without a key table; tensors in
``forward`` are named after the paper's figure.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

HEAD_FEATURES_2 = 32  # width of the last decoder feature (the metric head's ``out_conv``)


class DPTFeatures(NamedTuple):
    """Decoder outputs; channel counts for a backbone with DPT width ``F``."""

    rel_depth: torch.Tensor  # (B, H, W) relative depth (affine-invariant disparity), >= 0
    out_conv: torch.Tensor  # (B, 32, H, W) last feature before the relative-depth projection
    layer_4_rn: torch.Tensor  # (B, F, H/28, W/28) bottleneck: the coarsest reassembled map
    path_4: torch.Tensor  # (B, F, H/14, W/14) fusion outputs, coarse to fine
    path_3: torch.Tensor  # (B, F, H/7, W/7)
    path_2: torch.Tensor  # (B, F, H/3.5, W/3.5)
    path_1: torch.Tensor  # (B, F, H/1.75, W/1.75)

    def float(self) -> DPTFeatures:
        """Every feature in float32 (the metric head's precision)."""
        return DPTFeatures(*(t.float() for t in self))


class ResidualConvUnit(nn.Module):
    """relu → conv3×3 → relu → conv3×3, plus the un-activated input."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(F.relu(x)))) + x


class FeatureFusionBlock(nn.Module):
    """Fuse a coarser path with a skip feature, refine, upsample (align_corners=True), project."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.resConfUnit1 = ResidualConvUnit(features)
        self.resConfUnit2 = ResidualConvUnit(features)
        self.out_conv = nn.Conv2d(features, features, 1)

    def forward(self, path: torch.Tensor, skip: torch.Tensor | None = None,
                size: tuple[int, int] | torch.Size | None = None) -> torch.Tensor:
        if skip is not None:
            path = path + self.resConfUnit1(skip)
        path = self.resConfUnit2(path)
        if size is None:
            path = F.interpolate(path, scale_factor=2, mode="bilinear", align_corners=True)
        else:
            path = F.interpolate(path, size=size, mode="bilinear", align_corners=True)
        return self.out_conv(path)


class DPTHead(nn.Module):
    """Reassemble four ViT token maps to a 4-level pyramid, fuse coarse-to-fine, predict relative depth.

    Args:
        in_channels: ViT embedding width.
        features: fusion width (64 / 128 / 256 for S / B / L).
        out_channels: projection widths of the four reassembled maps.
    """

    def __init__(self, in_channels: int, features: int, out_channels: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.projects = nn.ModuleList([nn.Conv2d(in_channels, c, 1) for c in out_channels])
        self.resize_layers = nn.ModuleList([
            nn.ConvTranspose2d(out_channels[0], out_channels[0], kernel_size=4, stride=4),  # ×4
            nn.ConvTranspose2d(out_channels[1], out_channels[1], kernel_size=2, stride=2),  # ×2
            nn.Identity(),  # ×1
            nn.Conv2d(out_channels[3], out_channels[3], kernel_size=3, stride=2, padding=1),  # ×1/2
        ])
        self.scratch = nn.Module()
        for i, c in enumerate(out_channels, start=1):
            setattr(self.scratch, f"layer{i}_rn", nn.Conv2d(c, features, 3, padding=1, bias=False))
        for i in range(1, 5):
            setattr(self.scratch, f"refinenet{i}", FeatureFusionBlock(features))
        # refinenet4 has no skip input, so its first residual unit never runs (as in the official model,
        # whose checkpoints still carry it). Frozen, it is not an "unused parameter" for DDP.
        self.scratch.refinenet4.resConfUnit1.requires_grad_(False)
        self.scratch.output_conv1 = nn.Conv2d(features, features // 2, 3, padding=1)
        self.scratch.output_conv2 = nn.Sequential(
            nn.Conv2d(features // 2, HEAD_FEATURES_2, 3, padding=1), nn.ReLU(),
            nn.Conv2d(HEAD_FEATURES_2, 1, 1), nn.ReLU(), nn.Identity())

    def forward(self, tokens: list[torch.Tensor], out_size: tuple[int, int]) -> DPTFeatures:
        """``tokens``: four (B, C, h, w) maps with h, w the patch grid; ``out_size``: the network input size."""
        layer_4_rn, path_4, path_3, path_2, path_1 = self.fuse(tokens)
        h, w = tokens[0].shape[-2:]
        out_conv, rel_depth = self.predict_relative(path_1, (h * 14, w * 14), out_size)
        return DPTFeatures(rel_depth, out_conv, layer_4_rn, path_4, path_3, path_2, path_1)

    def fuse(self, tokens: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Reassemble and fuse coarse to fine: ``layer_4_rn`` and ``path_4`` … ``path_1`` (DPT Fig. 1)."""
        s = self.scratch
        layer_1, layer_2, layer_3, layer_4 = (
            resize(project(t)) for t, project, resize in zip(tokens, self.projects, self.resize_layers, strict=True))
        layer_1_rn, layer_2_rn = s.layer1_rn(layer_1), s.layer2_rn(layer_2)  # (B, F, 4h, 4w), (B, F, 2h, 2w)
        layer_3_rn, layer_4_rn = s.layer3_rn(layer_3), s.layer4_rn(layer_4)  # (B, F, h, w), (B, F, h/2, w/2)
        path_4 = s.refinenet4(layer_4_rn, size=layer_3_rn.shape[2:])
        path_3 = s.refinenet3(path_4, layer_3_rn, size=layer_2_rn.shape[2:])
        path_2 = s.refinenet2(path_3, layer_2_rn, size=layer_1_rn.shape[2:])
        path_1 = s.refinenet1(path_2, layer_1_rn)  # (B, F, 8h, 8w)
        return layer_4_rn, path_4, path_3, path_2, path_1

    def predict_relative(self, path_1: torch.Tensor, size: tuple[int, int] | torch.Size,
                         out_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The output stage: ``out_conv`` (B, 32, *size) and relative depth (B, *out_size).

        Depth Anything upsamples ``output_conv1(path_1)`` to the input's 14h × 14w (``size``)
        before the last convolutions; the reduced-resolution inference path
        (:mod:`zoedam_lib.inference.exact`) passes path_1's own size instead.
        """
        s = self.scratch
        out = s.output_conv1(path_1)  # (B, F/2, 8h, 8w)
        if out.shape[-2:] != tuple(size):
            out = F.interpolate(out, size=size, mode="bilinear", align_corners=True)
        conv2 = s.output_conv2
        out_conv = conv2[1](conv2[0](out))  # (B, 32, *size)
        rel = conv2[3](conv2[2](out_conv))  # (B, 1, *size)
        if rel.shape[-2:] != tuple(out_size):
            rel = F.interpolate(rel, size=out_size, mode="bilinear", align_corners=True)
        return out_conv, F.relu(rel).squeeze(1)
