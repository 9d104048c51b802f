"""Setting up a run the same way in every notebook and CLI command.

Resolves the data (an NYU-layout .mat, SynthRooms generated on first use, or a folder of your
own RGB-D pairs), checks its layout, loads or
creates the split whose indices every notebook reuses, picks the device and the recipe
(``preset``), seeds everything, and says in one line what will run on which data.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.folder.spec import FolderConfig
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.sources import DepthSource, data_identity, data_kind, describe_data, open_dataset
from zoedam_lib.data.splits import Split, load_or_create_split
from zoedam_lib.data.synthrooms.domains import DOMAINS
from zoedam_lib.data.synthrooms.generate import ensure_domain, ensure_synthrooms
from zoedam_lib.evaluation.evaluate import EvalResult, evaluate
from zoedam_lib.experiments.recipes import PRESETS as RECIPE_PRESETS
from zoedam_lib.models.predict import has_camera_head
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.names import safe_name
from zoedam_lib.utils.output_dirs import ensure_output_dir
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE, resolve
from zoedam_lib.utils.seeding import check_seed, seed_everything

PRESETS = ("auto", *RECIPE_PRESETS)


@dataclass
class RunContext:
    """Everything a notebook needs to know about where and on what it runs."""

    data_path: Path
    data_kind: str  # "synthrooms", "nyu" or "folder"
    data_label: str  # human-readable description of the data, written next to every number
    split: Split
    split_name: str
    seed: int
    out_dir: Path
    device: torch.device
    preset: str  # resolved recipe: "paper" or "cpu"
    folder: FolderConfig | None = None  # options of a folder dataset (depth unit, range, size)
    zero_shot: dict[str, Path] = field(default_factory=dict)  # test sets nobody trains on: name → NYU-layout file

    def open_data(self) -> DepthSource:
        """A fresh handle on the data (NyuMat or FolderDataset, same interface)."""
        return open_dataset(self.data_path, self.folder)

    def provenance(self) -> dict[str, object]:
        """What every results JSON says about where its numbers come from (data, split, preset, seed)."""
        return {"data": self.data_label, "data_kind": self.data_kind, "preset": self.preset,
                "split": self.split_name, "seed": self.seed}

    def note(self) -> str:
        """The line every figure of the run carries, e.g. "SynthRooms (600 images, 240x320, seed 0) · preset cpu":
        a figure copied out of its notebook still says which data and recipe made it (SynthRooms is not NYU)."""
        return f"{self.data_label} · preset {self.preset}"
    def identity(self) -> dict[str, object]:
        """The data and split a training run was made on, for ``resume`` to compare (``training.identity``)."""
        with self.open_data() as data:
            identity = data_identity(data)
        indices = json.dumps([self.split.train, self.split.val, self.split.test]).encode()
        return {**identity, "split": self.split_name, "split.sha256": hashlib.sha256(indices).hexdigest()}

    def describe(self) -> str:
        text = (f"data: {self.data_label} | split: {self.split_name} ({len(self.split.train)} train / "
                f"{len(self.split.val)} val / {len(self.split.test)} test) | preset: {self.preset} | "
                f"device: {self.device} | seed: {self.seed}")
        return text + (f" | zero-shot: {', '.join(self.zero_shot)}" if self.zero_shot else "")

    def evaluate(self, model: nn.Module, flip_tta: bool = True, progress: bool = True, precision: str = "auto"
                 ) -> tuple[EvalResult, dict[str, EvalResult]]:
        """``model`` on the test split and on every zero-shot set of the run (each file whole);
        ``precision``: see :func:`~zoedam_lib.evaluation.evaluate.evaluate`."""
        with self.open_data() as data:
            test = evaluate(model, DepthDataset(data, self.split.test), flip_tta=flip_tta, device=self.device,
                            progress=progress, precision=precision)
        zero_shot = {}
        for name, path in self.zero_shot.items():
            with NyuMat(path) as data:
                every = DepthDataset(data, range(len(data)))
                zero_shot[name] = evaluate(model, every, flip_tta=flip_tta, device=self.device, progress=progress,
                                           name=name, precision=precision)
                if name in CAMERA_ZERO_SHOT and has_camera_head(model):
                    estimated = f"{name}{ESTIMATED_SUFFIX}"  # the same images, the focal length not given
                    zero_shot[estimated] = evaluate(model, every, flip_tta=flip_tta, device=self.device,
                                                    progress=progress, name=estimated, precision=precision,
                                                    camera="estimate")
        return test, zero_shot

    def with_camera_sets(self) -> RunContext:
        """This run with the camera test sets (``zeroshot_tele``, ``zeroshot_mixed``) among its zero-shot
        sets, for a camera-aware model, found as :func:`default_zero_shot` finds the others; a set of that
        name the run already has (a larger one given by a study) is kept."""
        found = default_zero_shot(self.data_path, self.data_kind, CAMERA_ZERO_SHOT)
        return replace(self, zero_shot={**self.zero_shot,
                                        **{n: p for n, p in found.items() if n not in self.zero_shot}})


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
    """``auto`` → the paper's recipe on a GPU with NYU or your own folder, the CPU-sized recipe otherwise."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; expected one of {PRESETS}")
    if preset != "auto":
        return preset
    return "paper" if device.type == "cuda" and data_kind in ("nyu", "folder") else "cpu"


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


COURSE_ZERO_SHOT = ("zeroshot_shifted", "zeroshot_wide")  # every SynthRooms run's zero-shot sets
CAMERA_ZERO_SHOT = ("zeroshot_tele", "zeroshot_mixed")  # added for camera-aware models (RunContext.with_camera_sets)
ESTIMATED_SUFFIX = "_estimated"  # a camera set evaluated again with the focal length estimated, not given


def default_zero_shot(data_path: Path, kind: str, names: Sequence[str] = COURSE_ZERO_SHOT) -> dict[str, Path]:
    """SynthRooms' zero-shot test domains for a SynthRooms run: rendered on first use for the project's
    default data file, else those already beside the data file (small test files get none)."""
    if kind != "synthrooms":
        return {}
    if data_path == resolve(DEFAULT_SYNTH_FILE):
        return {name: ensure_domain(name, data_path.parent) for name in names}
    return {name: data_path.parent / DOMAINS[name].file for name in names
            if (data_path.parent / DOMAINS[name].file).is_file()}


def zero_shot_sets(files: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """User-given zero-shot files by name (the file's stem as a safe file name), refusing names that clash.

    A set's name keys its row and its per-image CSV: two files of one stem would silently drop one set,
    and a set named ``test`` would print as the test split's row and overwrite its CSV.
    """
    sets: dict[str, Path] = {}
    given: dict[str, str] = {}
    reserved = {"test", *(f"{name}{ESTIMATED_SUFFIX}" for name in CAMERA_ZERO_SHOT)}
    for item in files:
        path = resolve_data_file(item)
        name = safe_name(path.stem, "zero_shot")
        if name.casefold() in reserved:
            raise ConfigError(f"--zero-shot {item}: a zero-shot set is named after its file, and {name!r} is "
                              f"taken by the run's own results ({', '.join(sorted(reserved))}). Copy or link the "
                              "file under another name, e.g. zs_" + path.name)
        clash = next((other for other in given if other.casefold() == name.casefold()), None)
        if clash is not None:
            raise ConfigError(f"--zero-shot {given[clash]} and {item} would both be named {name!r} (sets are named "
                              "after their file's stem, letter case aside): one would replace the other's results. "
                              "Copy or link one of them under another name.")
        sets[name], given[name] = path, str(item)
    return sets


def setup_run(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
              out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
              splits_mat: str | os.PathLike | None = None, verbose: bool = True,
              folder: FolderConfig | None = None,
              zero_shot: Sequence[str | os.PathLike] | None = None) -> RunContext:
    """Resolve data, split, device and preset for a notebook or CLI run, and seed everything.

    ``data_path`` is an NYU-layout ``.mat``, a folder dataset or a manifest; ``folder`` overrides
    a folder's ``dataset.json`` (see :class:`~zoedam_lib.data.folder.spec.FolderConfig`).
    ``zero_shot``: NYU-layout test files every trained model is also evaluated on (named by file
    stem); None: SynthRooms' zero-shot domains for SynthRooms data (:func:`default_zero_shot`).
    """
    check_seed(seed)
    path = resolve_data_file(data_path)
    with open_dataset(path, folder) as data:
        data.height  # noqa: B018 (a folder whose images differ in size stops here, told how to resize)
        kind, label = data_kind(data), describe_data(data)
        checked = getattr(data, "plausibility", None)  # a folder's depth check: median, values near the range ends
    out = ensure_output_dir(resolve(out_dir), "output folder (out_dir, --out)")
    if splits_mat is None and split == "official":
        splits_mat = path.parent / "splits.mat"
    the_split = load_or_create_split(path, split, seed, out / "splits", splits_mat=splits_mat, folder=folder)
    dev = resolve_device(device)
    sets = default_zero_shot(path, kind) if zero_shot is None else zero_shot_sets(zero_shot)
    for zero_shot_file in sets.values():  # opening checks layout and depth unit now, not after training
        NyuMat(zero_shot_file).close()
    ctx = RunContext(path, kind, label, the_split, split, seed, out, dev, resolve_preset(preset, dev, kind), folder,
                     sets)
    seed_everything(seed)
    if verbose:
        print(ctx.describe() + (f"\n{checked.line()}" if checked is not None else ""))
    return ctx
