"""Weights shipped with the package: SynthDA, the project's own miniature Depth Anything.

No pretrained weights can be downloaded where this course runs by default, so the project
trains its own relative-depth model on SynthRooms (``python -m zoedam_lib pretrain``) and ships
it here, in the official Depth Anything v1 key layout (fp16 safetensors) with a manifest beside
it (``<name>.json``: sha256, command, corpus, recipe, quality). ``load_model("synthda_vits14")``
finds it offline; ``pip install`` from the repository brings it as package data.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

PACKAGED = {"synthda_vits14": "synthda_vits14.safetensors"}


def packaged_weights(name: str) -> Path | None:
    """The path of shipped weights ``name`` (None if ``name`` is not a shipped model)."""
    if name not in PACKAGED:
        return None
    return Path(str(resources.files(__name__) / PACKAGED[name]))


def packaged_manifest(name: str) -> dict[str, Any]:
    """The manifest shipped beside weights ``name``: how they were made and how good they are."""
    path = packaged_weights(name)
    if path is None:
        raise KeyError(f"{name!r} is not shipped with zoedam_lib; shipped: {sorted(PACKAGED)}")
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
