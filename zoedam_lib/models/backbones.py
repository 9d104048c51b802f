"""The one table of encoder variants: everything that differs between ViT-S, -B and -L.

Depth Anything's DPT widths per backbone, the DINOv2 ViT shape, and which encoder blocks feed
the decoder: Depth Anything v1 (and its official metric checkpoints) take the last four blocks,
Depth Anything V2 fixed blocks. ``vitt`` is a tiny test-size ViT (not a DINOv2 model) so that
every code path runs in CPU tests within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoedam_lib.utils.errors import ConfigError

LAYER_FAMILIES = ("v1", "v2")


@dataclass(frozen=True)
class BackboneSpec:
    """Shape of one DINOv2 encoder variant and its Depth Anything DPT decoder."""

    name: str
    embed_dim: int  # ViT token width
    depth: int  # number of transformer blocks
    num_heads: int  # attention heads (head dim 64 for the DINOv2 models)
    features: int  # DPT fusion width (also the metric head's bottleneck width)
    out_channels: tuple[int, int, int, int]  # DPT projection widths of the four feature maps
    v2_layers: tuple[int, int, int, int]  # Depth Anything V2's intermediate block indices
    patch_size: int = 14
    pos_grid: int = 37  # pretrained positional-embedding grid (518 / 14)

    def layer_indices(self, family: str) -> tuple[int, ...]:
        """Encoder blocks that feed the decoder for a checkpoint family (``v1``: last four; ``v2``: fixed)."""
        if family == "v1":
            return tuple(range(self.depth - 4, self.depth))
        if family == "v2":
            return self.v2_layers
        raise ConfigError(f"unknown layer family {family!r}; expected one of {LAYER_FAMILIES}")


BACKBONES: dict[str, BackboneSpec] = {
    "vits": BackboneSpec("vits", 384, 12, 6, 64, (48, 96, 192, 384), (2, 5, 8, 11)),
    "vitb": BackboneSpec("vitb", 768, 12, 12, 128, (96, 192, 384, 768), (2, 5, 8, 11)),
    "vitl": BackboneSpec("vitl", 1024, 24, 16, 256, (256, 512, 1024, 1024), (4, 11, 17, 23)),
    "vitt": BackboneSpec("vitt", 64, 4, 2, 16, (8, 16, 32, 64), (0, 1, 2, 3)),
}
EMBED_DIM_TO_BACKBONE = {spec.embed_dim: name for name, spec in BACKBONES.items()}


def get_backbone(name: str) -> BackboneSpec:
    """Look up a backbone by name with an error that lists the valid ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ConfigError(f"unknown backbone {name!r}; expected one of {sorted(BACKBONES)} "
                          "(vits/vitb/vitl are DINOv2 ViT-S/B/L; vitt is a tiny test-size ViT)") from None
