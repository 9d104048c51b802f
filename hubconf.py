"""``torch.hub`` entry points: ZoeDAM without installing the package.

    model = torch.hub.load("<owner>/<repo>", "depth_anything_metric", kind="indoor")  # official weights
    model = torch.hub.load("/path/to/checkout", "zoedam_vits", source="local")      # random weights
    depth = model.predict(image)  # (H, W) metres
    depth = model.predict(image, camera=(fx, fy, cx, cy))  # a camera-aware model scales by the image's camera

Every entry point returns a model in eval mode; weights come from :func:`zoedam_lib.checkpoints.load_model`
(a local path, a known name downloaded when online, or a Hugging Face Hub id).
"""

from __future__ import annotations

from typing import Any

from torch import nn

dependencies = ["torch", "timm", "numpy", "safetensors", "PIL"]

# The official metric checkpoints (Depth Anything §4.3, ZoeDepth head on a ViT-L core) and the
# depth range each was fine-tuned for: NYU Depth V2 (indoor) and KITTI (outdoor).
_METRIC_KINDS = {"indoor": ("depth_anything_metric_depth_indoor", 10.0),
                 "outdoor": ("depth_anything_metric_depth_outdoor", 80.0)}


def _zoedam(backbone: str, pretrained: str | None, **kwargs: Any) -> nn.Module:
    from zoedam_lib.checkpoints import load_model
    from zoedam_lib.models.zoedam import ZoeDAM, ZoeDAMConfig

    if pretrained is None:
        return ZoeDAM(ZoeDAMConfig(backbone=backbone, **kwargs)).eval()
    return load_model(pretrained, backbone=backbone, **kwargs)


def zoedam_vits(pretrained: str | None = None, **kwargs: Any) -> nn.Module:
    """ZoeDAM-S (DINOv2 ViT-S/14, 25 M parameters); random weights unless ``pretrained`` names a checkpoint.

    ``kwargs``: ZoeDAMConfig fields when random, else ``load_model`` options (``device``, ``img_size`` …).
    """
    return _zoedam("vits", pretrained, **kwargs)


def zoedam_vitb(pretrained: str | None = None, **kwargs: Any) -> nn.Module:
    """ZoeDAM-B (DINOv2 ViT-B/14); see :func:`zoedam_vits`."""
    return _zoedam("vitb", pretrained, **kwargs)


def zoedam_vitl(pretrained: str | None = None, **kwargs: Any) -> nn.Module:
    """ZoeDAM-L (DINOv2 ViT-L/14, the official metric models' size); see :func:`zoedam_vits`."""
    return _zoedam("vitl", pretrained, **kwargs)


def depth_anything_metric(kind: str = "indoor", path: str | None = None, **kwargs: Any) -> nn.Module:
    """The official Depth Anything metric model: ``indoor`` (NYU, 0–10 m) or ``outdoor`` (KITTI, 0–80 m).

    ``path`` is a local copy of the checkpoint; without it the file is fetched by its known name
    (online only; offline the error says where to download it). ``kwargs`` go to ``load_model``.
    """
    from zoedam_lib.checkpoints import load_model
    from zoedam_lib.utils.errors import ConfigError

    if kind not in _METRIC_KINDS:
        raise ConfigError(f"kind must be one of {sorted(_METRIC_KINDS)}, got {kind!r}")
    name, max_depth = _METRIC_KINDS[kind]
    return load_model(path or name, **{"max_depth": max_depth, **kwargs})
