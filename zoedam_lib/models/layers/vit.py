"""DINOv2 ViT encoder (timm) with the official DINOv2 positional-embedding resampling.

The ViT itself is timm's :class:`VisionTransformer` (same parameter names as the official
DINOv2 hub model). Only ``_pos_embed`` is replaced: official DINOv2 resamples the 37×37
pretrained grid with ``F.interpolate(scale_factor=((h+0.1)/37, (w+0.1)/37), mode="bicubic")``
(conformance README §4.2); timm resizes to a target size instead, which changes an official
checkpoint's metric depth by up to ~1 m. Official checkpoints must reproduce official outputs.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from zoedam_lib.models.backbones import BackboneSpec

MATH_ATTENTION_MAX_TOKENS = 256  # training on at most this many patches: plain attention (see forward)


def interpolate_pos_embed(pos_embed: torch.Tensor, grid_h: int, grid_w: int, offset: float = 0.1) -> torch.Tensor:
    """Resample a (1, 1+G², C) positional embedding to a grid_h×grid_w token grid, as DINOv2 does.

    The pretrained embedding is used as is only for a square input of the pretrained grid size;
    otherwise bicubic resampling with a *scale factor* (not a size) including a +0.1 offset.
    """
    n_patch = pos_embed.shape[1] - 1
    grid = int(round(n_patch**0.5))
    if grid_h == grid_w == grid:
        return pos_embed
    dtype = pos_embed.dtype
    pos = pos_embed.float()
    cls_pos, patch_pos = pos[:, :1], pos[:, 1:]
    dim = pos.shape[-1]
    patch_pos = patch_pos.reshape(1, grid, grid, dim).permute(0, 3, 1, 2)  # (1, C, G, G)
    scale = ((grid_h + offset) / grid, (grid_w + offset) / grid)
    patch_pos = F.interpolate(patch_pos, scale_factor=scale, mode="bicubic", align_corners=False, antialias=False)
    if patch_pos.shape[-2:] != (grid_h, grid_w):
        raise RuntimeError(f"positional embedding resampled to {tuple(patch_pos.shape[-2:])}, "
                           f"expected {(grid_h, grid_w)}")
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, dim)
    return torch.cat([cls_pos, patch_pos], dim=1).to(dtype)


class _DinoV2ViT(VisionTransformer):
    """timm ViT whose positional embedding follows the official DINOv2 resampling."""

    def _pos_embed(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape  # NHWC tokens from the dynamic-size patch embedding
        pos = interpolate_pos_embed(self.pos_embed, h, w)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x.reshape(b, h * w, c)], dim=1)
        return self.pos_drop(x + pos)


class DinoV2Encoder(nn.Module):
    """DINOv2 ViT returning the patch-token maps of four blocks, each through the final LayerNorm.

    Args:
        spec: backbone shape from :data:`BACKBONES`.
        layers: indices of the four blocks whose outputs feed the DPT decoder.
        layer_scale_init: initial LayerScale γ. Loaded weights replace it; it matters only when the ViT
            trains from random weights, where CaiT's 0.1 for ≤ 18-block ViTs learned far faster on
            SynthRooms than the official hub build's 1.0 (train loss 2.35 vs 3.42 after 4 CPU epochs)
            or DINOv2's 1e-5-like 0.01.
    """

    def __init__(self, spec: BackboneSpec, layers: tuple[int, ...], layer_scale_init: float = 0.1) -> None:
        super().__init__()
        self.spec = spec
        self.layers = tuple(layers)
        img = spec.pos_grid * spec.patch_size
        self.vit = _DinoV2ViT(img_size=img, patch_size=spec.patch_size, embed_dim=spec.embed_dim,
                              depth=spec.depth, num_heads=spec.num_heads, mlp_ratio=4.0, init_values=layer_scale_init,
                              num_classes=0, dynamic_img_size=True, norm_layer=partial(nn.LayerNorm, eps=1e-6))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) normalised image → four (B, C, H/14, W/14) feature maps.

        Attention runs PyTorch's fused kernel (``scaled_dot_product_attention``) except when training
        on few tokens: there its CPU backward is slower than the plain softmax(QKᵀ)V, whose backward
        is matrix products (the fused kernel's forward stays faster at every size, and its backward on
        long sequences; ``docs/benchmarks.md``).
        """
        fused = not torch.is_grad_enabled() or (x.shape[-2] // self.spec.patch_size) * (
            x.shape[-1] // self.spec.patch_size) > MATH_ATTENTION_MAX_TOKENS
        for block in self.vit.blocks:
            block.attn.fused_attn = fused
        return self.vit.forward_intermediates(x, indices=list(self.layers), norm=True, output_fmt="NCHW",
                                              intermediates_only=True, stop_early=True)

    @property
    def pos_embed(self) -> nn.Parameter:
        return self.vit.pos_embed
