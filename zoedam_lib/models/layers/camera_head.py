"""A focal-length estimator on the encoder: log(f / f_c) from the four token maps.

ZoeDepth and Depth Anything cannot tell a photo's field of view; Depth Pro (Bochkovskii et al.
2024, §3.3, a "field-of-view head" on frozen network features) and UniDepth (Piccinelli et al.
2024, a camera module predicting the pinhole rays) estimate it from the image itself, from the
cues a field of view leaves: how much of a room is in view, how fast parallel lines converge,
how large familiar objects look. This head reads them from the encoder's tokens (all four
feature blocks: early ones keep edges and lines, late ones the room's layout), so it costs two
small convolutions on a 1/14-resolution map. It predicts ``log(f / f_c)`` against the canonical
focal length (:mod:`zoedam_lib.camera.canonical`), zero (the canonical camera) before training.
"""

from __future__ import annotations

import torch
from torch import nn


class CameraHead(nn.Module):
    """Token maps (4 × (B, C, h, w)) → ``log(f / f_c)`` (B,).

    Args:
        embed_dim: channels of each token map (the ViT's width).
        hidden: channels of the two convolutions.
    """

    def __init__(self, embed_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(4 * embed_dim, hidden, kernel_size=1)
        self.mix = nn.Conv2d(hidden, hidden, kernel_size=3, padding=1)
        self.act = nn.GELU()
        self.out = nn.Linear(2 * hidden, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, tokens: list[torch.Tensor]) -> torch.Tensor:
        x = self.act(self.mix(self.act(self.reduce(torch.cat([t.float() for t in tokens], dim=1)))))
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)  # where and how strongly a cue shows
        return self.out(pooled)[:, 0]
