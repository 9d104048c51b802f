"""Where weights come from: a local path, shipped weights, a known name (downloaded when online) or a Hub id.

Known names are the official Depth Anything / DINOv2 files on the Hugging Face Hub. Offline,
the error says which file to download and where to put it, so a user behind a firewall can
still follow the paper's recipe by hand.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from zoedam_lib.utils.atomic import recover_dir
from zoedam_lib.utils.errors import CheckpointError
from zoedam_lib.utils.paths import unusable_path_reason
from zoedam_lib.weights import PACKAGED, packaged_weights


@dataclass(frozen=True)
class HubFile:
    """A weight file on the Hugging Face Hub."""

    repo_id: str
    filename: str
    repo_type: str = "model"

    @property
    def url(self) -> str:
        kind = "spaces/" if self.repo_type == "space" else ""
        return f"https://huggingface.co/{kind}{self.repo_id}/resolve/main/{self.filename}"


_DA_SPACE = "LiheYoung/Depth-Anything"
KNOWN_WEIGHTS: dict[str, HubFile] = {
    "depth_anything_metric_depth_indoor": HubFile(
        _DA_SPACE, "checkpoints_metric_depth/depth_anything_metric_depth_indoor.pt", "space"),
    "depth_anything_metric_depth_outdoor": HubFile(
        _DA_SPACE, "checkpoints_metric_depth/depth_anything_metric_depth_outdoor.pt", "space"),
    **{f"depth_anything_{b}14": HubFile(_DA_SPACE, f"checkpoints/depth_anything_{b}14.pth", "space")
       for b in ("vits", "vitb", "vitl")},
    **{f"depth_anything_v2_{b}": HubFile(f"depth-anything/Depth-Anything-V2-{size}", f"depth_anything_v2_{b}.pth")
       for b, size in (("vits", "Small"), ("vitb", "Base"), ("vitl", "Large"))},
    **{f"dinov2_{b}14": HubFile(f"timm/vit_{size}_patch14_dinov2.lvd142m", "model.safetensors")
       for b, size in (("vits", "small"), ("vitb", "base"), ("vitl", "large"))},
}


def resolve_source(source: str | os.PathLike) -> Path:
    """A local path for ``source``: an existing path, or a known name / Hub id downloaded (when online).

    A checkpoint directory whose replacement was killed half-way (only ``<dir>.old`` left, see
    :func:`zoedam_lib.utils.atomic.atomic_dir`) is restored first, so the previous weights still load.
    """
    path = recover_dir(Path(source).expanduser())
    reason = unusable_path_reason(path)
    if reason is not None:
        raise CheckpointError(f"cannot read checkpoint {path}: it is {reason}. Pass a checkpoint file "
                              "(.pt, .pth, .safetensors) or a checkpoint directory (config.json + model.safetensors).")
    if path.exists():
        return path
    name = str(source)
    shipped = packaged_weights(name)
    if shipped is not None:
        if not shipped.is_file():
            raise CheckpointError(f"{name!r} ships with zoedam_lib, but {shipped} is missing: the package was "
                                  "installed without its data. Reinstall from the repository (pip install -e . or "
                                  "pip install git+<repository>), which includes zoedam_lib/weights/.")
        return shipped
    stem = Path(name).name.rsplit(".", 1)[0]
    if stem in KNOWN_WEIGHTS and (name == stem or not path.parent.exists() or path.suffix):
        return _download(KNOWN_WEIGHTS[stem], name, stem)
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name) and not name.startswith("."):
        return _snapshot(name)
    hint = ""
    if stem in KNOWN_WEIGHTS:
        hint = f" It can be downloaded from {KNOWN_WEIGHTS[stem].url}."
    raise CheckpointError(f"checkpoint not found: {name}.{hint} Pass the path of a checkpoint file or "
                          f"directory, a known name ({', '.join(sorted([*PACKAGED, *KNOWN_WEIGHTS]))}) or a Hub id.")


def _download(hub: HubFile, requested: str, name: str) -> Path:
    """Fetch known weights ``name``; offline, say which file to download and where to put it.

    The suggested local file is named after ``name``, not the Hub file: timm's DINOv2 weights are
    all called ``model.safetensors``, and three of them must not be told to share one path.
    """
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(hub.repo_id, hub.filename, repo_type=hub.repo_type))
    except Exception as exc:  # offline, hub errors, missing package: one actionable message
        local = f"checkpoints/{name}{Path(hub.filename).suffix}"
        raise CheckpointError(
            f"could not fetch {requested!r} ({exc.__class__.__name__}). Download {hub.url} on a machine with "
            f"internet, put it at {local}, and pass that path instead.") from None


def _snapshot(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.pt", "*.pth"]))
    except Exception as exc:
        raise CheckpointError(
            f"{repo_id!r} is neither a local path nor a reachable Hugging Face Hub repository "
            f"({exc.__class__.__name__}). Offline, download the repository's weights (config.json and "
            f"model.safetensors, or the .pth file) from https://huggingface.co/{repo_id} and pass the local "
            "path.") from None
