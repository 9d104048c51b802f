"""Before a model is built from a file: bounded config sizes, and the config's shapes against the weights'.

A ``config.json`` is a few hand-editable numbers that decide how much memory the build takes:
``n_bins: 10000000`` made the metric head allocate 11 GB before the weights were even compared, and
only then said "does not fit the model"; ``img_size`` 14000² or ``n_attractors`` 1e8 fail the same
way, or later, inside a forward. So a file's config is checked against :data:`SIZE_LIMITS` first, then
the model is built on PyTorch's ``meta`` device (shapes only, no memory) and its state dict compared
with the tensors the file holds; only a config that fits is built for real.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from zoedam_lib.models.registry import build_model
from zoedam_lib.utils.errors import CheckpointError, ConfigError

#: Config fields a file may set, by name in any model config: (smallest, largest, why the bound). Generous:
#: every published setting is far inside them, and the largest still builds in well under a gigabyte.
SIZE_LIMITS: dict[str, tuple[float, float, str]] = {
    "n_bins": (1, 1024, "ZoeDepth uses 64"),
    "bin_embedding_dim": (1, 4096, "ZoeDepth uses 128"),
    "n_attractors": (1, 1024, "per stage; ZoeDepth uses 16, 8, 4, 1"),
    "img_size": (1, 4096, "per side, pixels; the paper's network input is 392x518, Depth Pro's 1536x1536"),
    "height": (1, 16384, "pixels of the average depth map"),
    "width": (1, 16384, "pixels of the average depth map"),
    "decoder_width": (0, 4, "DenseDepth's decoder width factor; the paper uses 0.5-1"),
}


def check_config_sizes(config: Mapping[str, Any], where: str) -> None:
    """A :class:`ConfigError` naming the first field of ``config`` outside :data:`SIZE_LIMITS` (values of the
    wrong type are left to the config's own type check)."""
    for name, (lo, hi, why) in SIZE_LIMITS.items():
        value = config.get(name)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not lo <= v <= hi:
                raise ConfigError(f"{where}: {name}={value!r:.60} is outside {lo:g}-{hi:g} ({why}); the file is "
                                  "damaged or was edited. Restore it from the run that wrote it, or save the model "
                                  "again.")


def fit_problems(expected: Mapping[str, torch.Size], found: Mapping[str, torch.Tensor]) -> list[str]:
    """The lines that say how tensors ``found`` (a file's) do not fit the shapes ``expected`` (a model's): missing,
    unexpected and mis-shaped keys, at most 12 of each; empty when they fit."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(k for k in found if k not in expected)
    shape = sorted(f"{k}: checkpoint {tuple(found[k].shape)} vs model {tuple(expected[k])}"
                   for k in set(expected) & set(found) if tuple(found[k].shape) != tuple(expected[k]))
    return [f"  {title} ({len(items)}): {', '.join(items[:12])}{' …' if len(items) > 12 else ''}"
            for title, items in (("missing keys", missing), ("unexpected keys", unexpected),
                                 ("shape mismatches", shape)) if items]


def fit_error(source: str, model: str, parts: tuple[str, ...], problems: list[str]) -> CheckpointError:
    """The error for a checkpoint that does not fit: what, the problems, and what to do."""
    return CheckpointError("\n".join([f"checkpoint {source} does not fit the model ({model}, parts {list(parts)}):",
                                      *problems, "  Is the checkpoint for another backbone or model? Pass the matching "
                                      "backbone, or use a checkpoint made for this model."]))


def build_checked(name: str, config: Mapping[str, Any], tensors: Mapping[str, torch.Tensor],
                  parts: tuple[str, ...] | None, where: str, source: str):
    """Model ``name`` built from ``config``, once its sizes are bounded and its shapes (on the meta device) fit
    ``tensors`` in ``parts`` (None: every part of the model). The real build allocates only what fits."""
    check_config_sizes(config, where)
    try:
        with torch.device("meta"):
            shapes = build_model(name, config)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    keep = parts or tuple(sorted({k.split(".", 1)[0] for k in shapes.state_dict()}))
    expected = {k: v.shape for k, v in shapes.state_dict().items() if k.split(".", 1)[0] in keep}
    problems = fit_problems(expected, tensors)
    if problems:
        raise fit_error(source, type(shapes).__name__, keep, problems)
    return build_model(name, config)
