"""Reading weight files safely: safetensors, or pickles through ``torch.load(weights_only=True)``.

A pickle can run arbitrary code when loaded, so only plain state dicts of tensors are accepted;
a file that is truncated, an HTML error page or anything else becomes a :class:`CheckpointError`
that says what to do, never a traceback from deep inside torch.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from zoedam_lib.checkpoints.saving import FORMAT_NAME, FORMAT_VERSION
from zoedam_lib.utils.errors import CheckpointError, refusal_reason
from zoedam_lib.utils.paths import unusable_path_reason


def read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata from a checkpoint file or our checkpoint directory; never runs pickled code."""
    meta: dict[str, Any] = {}
    config_path = None
    if path.is_dir():
        config_path, weights = path / "config.json", path / "model.safetensors"
        for part in (config_path, weights):
            reason = unusable_path_reason(part)
            if reason is not None:
                raise CheckpointError(f"cannot read {part}: it is {reason}; the checkpoint directory is damaged. "
                                      "Restore the file, or save the model again.")
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
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CheckpointError(f"{config_path} is not valid JSON ({exc}); the checkpoint is corrupt") from None
            if not isinstance(meta, dict):
                raise CheckpointError(f"{config_path} must hold a JSON object (format, model, config …), got a "
                                      f"{type(meta).__name__}; the checkpoint is corrupt. Restore config.json from "
                                      "the run that wrote it (or save the model again).")
        else:
            config_path = None
        path = weights
    if path.suffix == ".safetensors":
        try:
            tensors = load_file(path)
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"cannot read {path}: {exc}. The file is truncated or not safetensors; "
                                  "download it again.") from None
        with safe_open(path, "pt") as f:
            weights_meta = f.metadata() or {}
        if config_path is not None:
            check_own_format(config_path, meta, weights_meta)
        return tensors, {**weights_meta, **meta}
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


def check_own_format(config_path: Path, config: dict[str, Any], weights_meta: dict[str, str]) -> None:
    """Our checkpoint's ``config.json`` must say what it is: ``format`` ``zoedam_lib`` and a ``format_version``
    this code reads. Was: a config.json without ``format`` beside our weights loaded as ours, and one of version
    99 (a newer layout) loaded silently, its fields read as today's. Other programs' directories (a Hub repo's
    config.json beside weights that do not say ``zoedam_lib``) are left to the key-scheme detection."""
    if weights_meta.get("format") != FORMAT_NAME and "format" not in config:
        return
    restore = "Restore config.json from the run that wrote it, or save the model again."
    if config.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{config_path}: 'format' is {config.get('format', 'missing')!r}, expected "
                              f"{FORMAT_NAME!r} (save_model writes it beside these weights): the file was edited or "
                              f"replaced. {restore}")
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{config_path}: 'format_version' must be a whole number >= 1, got {version!r}. "
                              f"{restore}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{config_path}: format_version {version} was written by a newer zoedam_lib; this one "
                              f"reads up to format_version {FORMAT_VERSION}. Upgrade zoedam_lib (git pull, or pip "
                              "install -U) to load it.")


def _unwrap_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return {k.removeprefix("module."): v for k, v in obj.items()}
