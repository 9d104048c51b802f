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

from safetensors.torch import save_file
from torch import nn

from ..atomic import atomic_dir
from ..config import to_dict
from ..models.registry import model_name

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
