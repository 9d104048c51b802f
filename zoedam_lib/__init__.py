"""zoedam_lib: the machinery behind the ZoeDAM notebooks (data, models, losses, metrics, training).

Three lines to metric depth::

    from zoedam_lib import load_model
    model = load_model("depth_anything_metric_depth_indoor.pt")   # or our checkpoint dir, or a Hub id
    depth = model.predict(image)                                   # (H, W) metres

Attributes are imported lazily, so ``import zoedam_lib.data.synthrooms.generate`` (e.g. in the renderer's
worker processes) does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# first: imports tqdm.auto with its "IProgress not found" warning silenced, before timm and
# huggingface_hub import it into a notebook kernel without ipywidgets (see progress.py)
from zoedam_lib.utils import progress as _progress  # noqa: F401

__version__ = "0.1.0"
_LAZY = {"load_model": "checkpoints", "save_model": "checkpoints", "compute_metrics": "evaluation.metrics",
         "seed_everything": "utils.seeding", "setup_run": "experiments.context",
         "run_concurrently": "experiments.concurrent"}
__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
