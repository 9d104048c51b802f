"""Small builders shared by tests: tiny models and checkpoints in the official key schemes."""

from __future__ import annotations

import torch

from zoedam_lib.models.zoedam import ZoeDAM, ZoeDAMConfig

TINY_SIZE = (56, 70)  # 4×5 patches


def tiny_zoedam(seed: int = 0, **overrides) -> ZoeDAM:
    """A test-size ZoeDAM (vitt backbone) with deterministic random weights."""
    torch.manual_seed(seed)
    cfg = {"backbone": "vitt", "img_size": TINY_SIZE, **overrides}
    return ZoeDAM(ZoeDAMConfig(**cfg)).eval()


def official_metric_keys(model: ZoeDAM) -> dict[str, torch.Tensor]:
    """The state dict in the official ZoeDepth/Depth Anything metric key scheme (with mask_token)."""
    out = {}
    for k, v in model.state_dict().items():
        if k.startswith("encoder.vit."):
            out["core.core.pretrained." + k[len("encoder.vit."):]] = v
        elif k.startswith("decoder."):
            out["core.core.depth_head." + k[len("decoder."):]] = v
        else:
            out[k[len("head."):]] = v
    out["core.core.pretrained.mask_token"] = torch.zeros(1, model.encoder.spec.embed_dim)
    return out


def depth_anything_keys(model: ZoeDAM) -> dict[str, torch.Tensor]:
    """Encoder + decoder in the Depth Anything (v1/V2 relative) key scheme."""
    out = {"pretrained.mask_token": torch.zeros(1, model.encoder.spec.embed_dim)}
    for k, v in model.state_dict().items():
        if k.startswith("encoder.vit."):
            out["pretrained." + k[len("encoder.vit."):]] = v
        elif k.startswith("decoder."):
            out["depth_head." + k[len("decoder."):]] = v
    return out


def dinov2_keys(model: ZoeDAM, chunked: bool = False) -> dict[str, torch.Tensor]:
    """Encoder in the official DINOv2 key scheme, optionally with block chunks (blocks.<chunk>.<i>.)."""
    out = {"mask_token": torch.zeros(1, model.encoder.spec.embed_dim)}
    for k, v in model.state_dict().items():
        if k.startswith("encoder.vit."):
            k = k[len("encoder.vit."):]
            if chunked and k.startswith("blocks."):
                i = int(k.split(".")[1])
                k = f"blocks.{i // 2}.{i}." + k.split(".", 2)[2]
            out[k] = v
    return out
