"""Saving our own checkpoints: ``config.json`` + ``model.safetensors`` in a directory, replaced atomically.

``config.json`` holds everything needed to rebuild the model (registry name and config) and its
provenance: the data, preset and recipe it was trained with, and how it was initialised
(``init``), so nothing downstream has to guess from a results file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from zoedam_lib.models.registry import model_name
from zoedam_lib.utils.atomic import atomic_dir
from zoedam_lib.utils.config import to_dict

FORMAT_NAME = "zoedam_lib"
FORMAT_VERSION = 1


def save_model(model: nn.Module, directory: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Save ``model`` as our checkpoint; ``extra`` (provenance: data, recipe, init …) goes into config.json."""
    name = model_name(model)
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "model": name,
            "config": to_dict(model.config), **(extra or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_dir(directory) as tmp:
        save_file(tensors, tmp / "model.safetensors", metadata={"format": FORMAT_NAME, "model": name})
        (tmp / "config.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return Path(directory)


def update_digest(h: Any, module: nn.Module) -> None:
    """Feed every tensor of ``module``'s state dict (name, dtype, shape and bytes, in name order) into the
    hash ``h`` (a ``hashlib`` object): equal digests mean equal weights. It keys the pseudo-label cache
    and the teacher-evaluation memo, and lets DDP ranks compare their final weights."""
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
