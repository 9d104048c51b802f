"""Key schemes: recognise which project wrote a state dict and rename it to ours (and back).

Our model's module names follow the official code, so the schemes differ only in prefixes:
``core.core.pretrained.*`` / ``core.core.depth_head.*`` (official Depth Anything metric,
i.e. ZoeDepth on a Depth Anything core), ``pretrained.*`` / ``depth_head.*`` (Depth Anything
v1 and V2 relative models), bare DINOv2 keys (official or timm), and ours (``encoder.vit.*``,
``decoder.*``, ``head.*``). :func:`to_depth_anything_keys` writes the Depth Anything v1 layout,
so weights the project trains itself (SynthDA) load through the same path as the real files.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from zoedam_lib.models.backbones import EMBED_DIM_TO_BACKBONE
from zoedam_lib.utils.errors import CheckpointError

HEAD_PREFIXES = ("conv2.", "seed_bin_regressor.", "seed_projector.", "projectors.", "attractors.",
                 "conditional_log_binomial.")
FORMATS = ("own", "official_metric", "depth_anything", "dinov2")


def detect_format(sd: dict[str, torch.Tensor]) -> str:
    """Which key scheme a state dict uses (one of :data:`FORMATS`)."""
    keys = sd.keys()
    if any(k.startswith("encoder.vit.") for k in keys):
        return "own"
    if any(k.startswith("core.core.pretrained.") for k in keys):
        return "official_metric"
    if any(k.startswith("pretrained.") for k in keys) and any(k.startswith("depth_head.") for k in keys):
        return "depth_anything"
    if "pos_embed" in keys and any(k.startswith("blocks.") for k in keys):
        return "dinov2"
    raise CheckpointError("unrecognised checkpoint: expected keys of an official Depth Anything metric "
                          "checkpoint (core.core.pretrained.*), a Depth Anything checkpoint (pretrained.*, "
                          "depth_head.*), a DINOv2 checkpoint (pos_embed, blocks.*) or ours (encoder.vit.*); "
                          f"found e.g. {sorted(keys)[:5]}")


def _encoder_keys(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        if not k.startswith(prefix):
            continue
        k = k[len(prefix):]
        if k == "mask_token":  # used only by DINOv2's masked pre-training
            continue
        k = re.sub(r"^blocks\.\d+\.(\d+)\.", r"blocks.\1.", k)  # DINOv2 block chunks → flat list
        out["encoder.vit." + k] = v
    return out


def to_own_keys(sd: dict[str, torch.Tensor], fmt: str) -> dict[str, torch.Tensor]:
    """Rename a state dict of format ``fmt`` to this project's key scheme.

    Keys the scheme does not know are kept under their own name, so that loading reports them
    as unexpected instead of silently dropping them.
    """
    if fmt == "own":
        return dict(sd)
    if fmt == "dinov2":
        return _encoder_keys(sd, "")
    if fmt == "official_metric":
        encoder, decoder = "core.core.pretrained.", "core.core.depth_head."
    elif fmt == "depth_anything":
        encoder, decoder = "pretrained.", "depth_head."
    else:
        raise CheckpointError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    out = _encoder_keys(sd, encoder)
    for k, v in sd.items():
        if k.startswith(decoder):
            out["decoder." + k[len(decoder):]] = v
        elif fmt == "official_metric" and k.startswith(HEAD_PREFIXES):
            out["head." + k] = v
        elif not k.startswith(encoder):
            out[k] = v
    return out


def to_depth_anything_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our encoder + decoder keys → the Depth Anything v1 relative layout (``depth_anything_vits14.pth``).

    ``pretrained.*`` (the DINOv2, with the ``mask_token`` the official hub model carries, as zeros:
    it is never used by depth models) and ``depth_head.*``; the metric head is not part of that layout.
    """
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if k.startswith("encoder.vit."):
            out["pretrained." + k[len("encoder.vit."):]] = v
        elif k.startswith("decoder."):
            out["depth_head." + k[len("decoder."):]] = v
    if "pretrained.pos_embed" not in out:
        raise CheckpointError("the state dict has no encoder (encoder.vit.*) to write as a Depth Anything checkpoint")
    dim = out["pretrained.pos_embed"].shape[-1]
    out["pretrained.mask_token"] = out["pretrained.pos_embed"].new_zeros(1, dim)
    return out


def detect_backbone(sd: dict[str, torch.Tensor]) -> str:
    """Backbone name from the (own-scheme) positional embedding width."""
    pos = sd.get("encoder.vit.pos_embed")
    if pos is None:
        raise CheckpointError("checkpoint has no positional embedding (encoder.vit.pos_embed); cannot tell the "
                              "backbone")
    dim = int(pos.shape[-1])
    if dim not in EMBED_DIM_TO_BACKBONE:
        raise CheckpointError(f"encoder width {dim} matches no backbone; expected one of "
                              f"{ {v: k for k, v in EMBED_DIM_TO_BACKBONE.items()} }")
    return EMBED_DIM_TO_BACKBONE[dim]


def detect_family(fmt: str, path: Path, family: str | None) -> str:
    """Feature-block family: v2 only for Depth Anything V2 files (by name) unless given explicitly."""
    if family is not None:
        return family
    if fmt == "depth_anything" and "v2" in path.name.lower():
        return "v2"
    return "v1"
