"""Setting up a run the same way in every notebook and CLI command.

Resolves the data file (SynthRooms is generated on first use), checks its layout, loads or
creates the split whose indices every notebook reuses, picks the device and the recipe
(``preset``), seeds everything, and says in one line what will run on which data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .data.nyu import NyuMat
from .data.splits import Split, load_or_create_split
from .data.synthrooms import ensure_domain, ensure_synthrooms
from .data.synthrooms_domains import DOMAINS
from .errors import ConfigError
from .experiments.recipes import PRESETS as RECIPE_PRESETS
from .paths import DEFAULT_SYNTH_FILE, resolve
from .seeding import seed_everything

PRESETS = ("auto", *RECIPE_PRESETS)


@dataclass
class RunContext:
    """Everything a notebook needs to know about where and on what it runs."""

    data_path: Path
    data_kind: str  # "synthrooms" or "nyu"
    data_label: str  # human-readable description of the data, written next to every number
    split: Split
    split_name: str
    seed: int
    out_dir: Path
    device: torch.device
    preset: str  # resolved recipe: "paper" or "cpu"

    def open_data(self) -> NyuMat:
        """A fresh handle on the data file."""
        return NyuMat(self.data_path)

    def provenance(self) -> dict[str, object]:
        """What every results JSON says about where its numbers come from (data, split, preset, seed)."""
        return {"data": self.data_label, "data_kind": self.data_kind, "preset": self.preset,
                "split": self.split_name, "seed": self.seed}

    def describe(self) -> str:
        return (f"data: {self.data_label} | split: {self.split_name} ({len(self.split.train)} train / "
                f"{len(self.split.test)} test) | preset: {self.preset} | device: {self.device} | seed: {self.seed}")


def resolve_device(device: str) -> torch.device:
    """``auto`` → the first CUDA GPU if there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but no CUDA GPU is available; use device='cpu' or 'auto'")
    return dev


def resolve_preset(preset: str, device: torch.device, data_kind: str) -> str:
    """``auto`` → the paper's recipe on a GPU with NYU, the CPU-sized recipe otherwise."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; expected one of {PRESETS}")
    if preset != "auto":
        return preset
    return "paper" if device.type == "cuda" and data_kind == "nyu" else "cpu"


def resolve_data_file(data_path: str | os.PathLike) -> Path:
    """A user's data path, resolved; a missing SynthRooms domain file (``synthrooms.mat``,
    ``pretrain.mat``, ``zeroshot_wide.mat`` …) is rendered first, so every default works offline."""
    path = resolve(data_path)
    if not path.exists():
        domain = next((d.name for d in DOMAINS.values() if d.file == path.name and d.labeled), None)
        if domain == "labeled":
            ensure_synthrooms(path)
        elif domain is not None:
            ensure_domain(domain, path.parent)
    return path


def setup_run(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
              out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
              splits_mat: str | os.PathLike | None = None, verbose: bool = True) -> RunContext:
    """Resolve data, split, device and preset for a notebook or CLI run, and seed everything."""
    path = resolve_data_file(data_path)
    with NyuMat(path) as mat:
        n, height, width = len(mat), mat.height, mat.width
        attrs = dict(mat.attrs)
    kind = "synthrooms" if str(attrs.get("generator", "")) == "synthrooms" else "nyu"
    if kind == "synthrooms":
        label = f"SynthRooms ({n} images, {height}x{width}, seed {attrs.get('seed', '?')})"
    else:
        label = f"NYU Depth V2 ({path.name}, {n} images, {height}x{width})"
    out = resolve(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if splits_mat is None and split == "official":
        splits_mat = path.parent / "splits.mat"
    the_split = load_or_create_split(path, split, seed, out / "splits", splits_mat=splits_mat)
    dev = resolve_device(device)
    ctx = RunContext(path, kind, label, the_split, split, seed, out, dev, resolve_preset(preset, dev, kind))
    seed_everything(seed)
    if verbose:
        print(ctx.describe())
    return ctx
