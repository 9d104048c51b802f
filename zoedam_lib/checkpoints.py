"""Loading every weight format ZoeDAM meets, and saving our own.

Accepted sources (a local path, a known name, or a Hugging Face Hub id):

* our checkpoints: a directory with ``config.json`` + ``model.safetensors`` (see :func:`save_model`);
* official Depth Anything *metric* checkpoints (``depth_anything_metric_depth_indoor.pt`` /
  ``_outdoor.pt``; keys ``core.core.pretrained.*``, ``core.core.depth_head.*``,
  ``seed_bin_regressor.*`` …, possibly nested under ``model``), also as safetensors;
* Depth Anything relative checkpoints, v1 (``depth_anything_vit{s,b,l}14.pth``) and V2
  (``depth_anything_v2_vit{s,b,l}.pth``): encoder + DPT decoder, metric head left random;
* DINOv2 checkpoints (official ``dinov2_vit*14_pretrain.pth`` or timm's): encoder only.

Pickles are read with ``torch.load(weights_only=True)``, so a file cannot run code. The backbone
is detected from the positional embedding's width, the feature-block family from the format
(official metric and v1: last four blocks; V2: fixed blocks, recognised by file name or ``family``).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .atomic import atomic_dir, recover_dir
from .config import to_dict
from .errors import CheckpointError, ConfigError
from .models.backbones import EMBED_DIM_TO_BACKBONE
from .models.registry import build_model, model_name

FORMAT_NAME = "zoedam_lib"
FORMAT_VERSION = 1
HEAD_PREFIXES = ("conv2.", "seed_bin_regressor.", "seed_projector.", "projectors.", "attractors.",
                 "conditional_log_binomial.")


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


@dataclass
class LoadReport:
    """What a load filled in, so callers can say loudly what stayed random."""

    source: str
    format: str  # own | official_metric | depth_anything | dinov2
    backbone: str
    family: str
    loaded_parts: tuple[str, ...]
    random_parts: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        text = f"{self.format} weights ({self.backbone}, {self.family} blocks) from {self.source}: " \
               f"loaded {', '.join(self.loaded_parts)}"
        if self.random_parts:
            text += f"; randomly initialised: {', '.join(self.random_parts)} (fine-tune before use)"
        return text


# --------------------------------------------------------------------------- reading files


def resolve_source(source: str | os.PathLike) -> Path:
    """A local path for ``source``: an existing path, or a known name / Hub id downloaded (when online).

    A checkpoint directory whose replacement was killed half-way (only ``<dir>.old`` left, see
    :func:`zoedam_lib.atomic.atomic_dir`) is restored first, so the previous weights still load.
    """
    path = recover_dir(Path(source).expanduser())
    if path.exists():
        return path
    name = str(source)
    stem = Path(name).name.rsplit(".", 1)[0]
    if stem in KNOWN_WEIGHTS and (name == stem or not path.parent.exists() or path.suffix):
        return _download(KNOWN_WEIGHTS[stem], name, stem)
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name) and not name.startswith("."):
        return _snapshot(name)
    hint = ""
    if stem in KNOWN_WEIGHTS:
        hint = f" It can be downloaded from {KNOWN_WEIGHTS[stem].url}."
    raise CheckpointError(f"checkpoint not found: {name}.{hint} Pass the path of a checkpoint file or "
                          f"directory, a known name ({', '.join(sorted(KNOWN_WEIGHTS))}) or a Hub id.")


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


def read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata from a checkpoint file or our checkpoint directory; never runs pickled code."""
    meta: dict[str, Any] = {}
    if path.is_dir():
        config_path, weights = path / "config.json", path / "model.safetensors"
        if not weights.exists():
            candidates = sorted([*path.glob("*.safetensors"), *path.glob("*.pt"), *path.glob("*.pth")])
            if len(candidates) != 1:
                raise CheckpointError(f"{path} is a directory without model.safetensors; expected our checkpoint "
                                      "directory (config.json + model.safetensors) or exactly one weight file, "
                                      f"found {[c.name for c in candidates]}")
            weights = candidates[0]
        if config_path.exists():
            try:
                meta = json.loads(config_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise CheckpointError(f"{config_path} is not valid JSON ({exc}); the checkpoint is corrupt") from None
        path = weights
    if path.suffix == ".safetensors":
        try:
            tensors = load_file(path)
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"cannot read {path}: {exc}. The file is truncated or not safetensors; "
                                  "download it again.") from None
        from safetensors import safe_open

        with safe_open(path, "pt") as f:
            meta = {**(f.metadata() or {}), **meta}
        return tensors, meta
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(  # other objects (code) and non-pickles (an HTML page, garbage) both land here
            f"refused to load {path}: it is not a plain state dict of tensors ({refusal_reason(exc)}). Python "
            "objects other than tensors could run arbitrary code when loaded, so only plain state dicts are "
            "accepted: if you trust the file, re-save its state_dict with torch.save(sd) or as safetensors; if "
            "it is a download, check that it is complete and download it again.") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc.__class__.__name__}: {str(exc)[:200]}. The file is "
                              "truncated or not a PyTorch checkpoint; download it again.") from None
    return _unwrap_state_dict(obj, path), meta


def refusal_reason(exc: pickle.UnpicklingError) -> str:
    """What ``torch.load(weights_only=True)`` refused (e.g. ``GLOBAL posix.system``), in one line.

    Not torch's first line: it advises re-running with ``weights_only=False``, which is exactly
    what must not be done with an untrusted file (and, cut short, reads as an instruction).
    """
    lines = [line.strip() for line in str(exc).splitlines() if "nsupported" in line]
    return lines[0][:200] if lines else exc.__class__.__name__


def _unwrap_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


# --------------------------------------------------------------------------- key schemes


def detect_format(sd: dict[str, torch.Tensor]) -> str:
    """Which key scheme a state dict uses."""
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
        raise CheckpointError(f"unknown format {fmt}")
    out = _encoder_keys(sd, encoder)
    for k, v in sd.items():
        if k.startswith(decoder):
            out["decoder." + k[len(decoder):]] = v
        elif fmt == "official_metric" and k.startswith(HEAD_PREFIXES):
            out["head." + k] = v
        elif not k.startswith(encoder):
            out[k] = v
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


# --------------------------------------------------------------------------- loading into models


def load_into(model: nn.Module, sd: dict[str, torch.Tensor], parts: tuple[str, ...], source: str) -> None:
    """Load ``sd`` (own keys) into the given parts of ``model``, strictly per part.

    Every key of those parts must be present with the right shape and no key may be left over;
    otherwise a :class:`CheckpointError` lists the missing, unexpected and mis-shaped keys.
    """
    own = {k: v for k, v in model.state_dict().items() if k.split(".", 1)[0] in parts}
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(k for k in sd if k not in own)
    shape = sorted(f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
                   for k in set(own) & set(sd) if sd[k].shape != own[k].shape)
    if missing or unexpected or shape:
        lines = [f"checkpoint {source} does not fit the model ({type(model).__name__}, parts {list(parts)}):"]
        for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shape)):
            if items:
                lines.append(f"  {title} ({len(items)}): {', '.join(items[:12])}{' …' if len(items) > 12 else ''}")
        lines.append("  Is the checkpoint for another backbone or model? Pass the matching backbone, or use a "
                     "checkpoint made for this model.")
        raise CheckpointError("\n".join(lines))
    cast = {k: v.to(own[k].dtype) for k, v in sd.items()}
    model.load_state_dict({**model.state_dict(), **cast}, strict=True)


def load_model(source: str | os.PathLike, backbone: str | None = None, family: str | None = None,
               decoder: str = "pretrained", device: str | torch.device = "cpu", **config: Any) -> nn.Module:
    """Load a depth model from any supported source, in eval mode.

    Args:
        source: checkpoint path (file or our directory), known name (see ``KNOWN_WEIGHTS``) or Hub id.
        backbone: expected backbone; an error if the checkpoint is for another one (default: detected).
        family: feature-block family override (``v1`` last four blocks, ``v2`` Depth Anything V2's).
        decoder: ``pretrained`` loads a Depth Anything checkpoint's DPT decoder; ``random`` keeps it
            random (the paper's text; the official recipe loads it).
        device: where to put the model.
        **config: ZoeDAMConfig overrides for partial (encoder/decoder-only) sources, e.g. ``img_size``.

    The returned model has a ``load_report`` attribute (:class:`LoadReport`) saying what was loaded.
    """
    if decoder not in ("pretrained", "random"):
        raise ConfigError(f"decoder must be 'pretrained' or 'random', got {decoder!r}")
    path = resolve_source(source)
    sd, meta = read_state_dict(path)
    if meta.get("format") == FORMAT_NAME:
        model = build_model(meta["model"], meta["config"])
        load_into(model, sd, tuple(sorted({k.split(".", 1)[0] for k in model.state_dict()})), str(path))
        name = meta["model"]
        report = LoadReport(str(path), "own", getattr(getattr(model, "config", None), "backbone", name),
                            getattr(getattr(model, "config", None), "layer_family", "-"),
                            ("whole model",))
        if backbone is not None and report.backbone != backbone:
            raise CheckpointError(f"{path} holds a {report.backbone} model, not {backbone}")
    else:
        model, report = _load_zoedam(path, sd, backbone, family, decoder, config)
    model.load_report = report  # type: ignore[attr-defined]
    if report.random_parts:
        warnings.warn(report.summary(), stacklevel=2)
    return model.to(device).eval()


def _load_zoedam(path: Path, sd: dict[str, torch.Tensor], backbone: str | None, family: str | None,
                 decoder: str, config: dict[str, Any]) -> tuple[nn.Module, LoadReport]:
    fmt = detect_format(sd)
    own = to_own_keys(sd, fmt)
    found = detect_backbone(own)
    if backbone is not None and backbone != found:
        raise CheckpointError(f"{path} is a {found} checkpoint (encoder width "
                              f"{own['encoder.vit.pos_embed'].shape[-1]}), but backbone={backbone!r} was asked for; "
                              f"pass backbone={found!r} or a {backbone} checkpoint")
    fam = detect_family(fmt, path, family)
    if fmt == "own":
        raise CheckpointError(f"{path} has our key scheme but no config.json beside it; keep the checkpoint "
                              "directory together (config.json + model.safetensors)")
    model = build_model("zoedam", {**config, "backbone": found, "layer_family": fam})
    parts = {"official_metric": ("encoder", "decoder", "head"), "depth_anything": ("encoder", "decoder"),
             "dinov2": ("encoder",)}[fmt]
    if decoder == "random" and "decoder" in parts:
        parts = tuple(p for p in parts if p != "decoder")
        own = {k: v for k, v in own.items() if not k.startswith("decoder.")}
    load_into(model, own, parts, str(path))
    random_parts = tuple(p for p in ("encoder", "decoder", "head") if p not in parts)
    return model, LoadReport(str(path), fmt, found, fam, parts, random_parts)


def save_model(model: nn.Module, directory: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Save ``model`` as our checkpoint: ``config.json`` + ``model.safetensors``, replaced atomically."""
    name = model_name(model)
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "model": name,
            "config": to_dict(model.config), **(extra or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_dir(directory) as tmp:
        save_file(tensors, tmp / "model.safetensors", metadata={"format": FORMAT_NAME, "model": name})
        (tmp / "config.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return Path(directory)
