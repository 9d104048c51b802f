"""One entry point for every labeled dataset: an NYU-layout ``.mat`` file or a folder of RGB-D pairs.

Runs, splits, evaluation and the loader benchmark call :func:`open_dataset` and never decide
the format themselves, so a user's own folder is accepted wherever ``data_path`` is.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import replace
from ..errors import ConfigError
from ..paths import resolve
from .folder import FolderDataset
from .folder_spec import FolderConfig
from .nyu import NyuMat

DepthSource = NyuMat | FolderDataset  # what every dataset reader offers: see NyuMat
DATA_KINDS = ("synthrooms", "nyu", "folder")


def is_folder_source(path: str | os.PathLike) -> bool:
    """True for a folder or a manifest (.csv/.json); False for anything else (an NYU-layout .mat)."""
    p = Path(path)
    return p.is_dir() or p.suffix.lower() in (".csv", ".json")


def open_dataset(path: str | os.PathLike, folder: FolderConfig | None = None, **folder_options) -> DepthSource:
    """:class:`NyuMat` for a ``.mat`` file, :class:`FolderDataset` for a folder or manifest file.

    ``folder`` (or ``folder_options``, the fields of :class:`FolderConfig`) apply to folders only;
    given for a ``.mat`` file they are an error, since its depths are metres already.
    """
    if folder_options:
        folder = replace(folder or FolderConfig(), **folder_options)
    p = resolve(path)
    if is_folder_source(p) or (not p.exists() and p.suffix.lower() != ".mat"):
        return FolderDataset(p, folder)
    if folder is not None and not folder.is_empty():
        set_options = {k: v for k, v in vars(folder).items() if v is not None}
        raise ConfigError(f"folder options {set_options} (e.g. --depth-unit) apply to folder datasets only; "
                          f"{p} is an NYU-layout .mat file whose depths are stored in metres")
    return NyuMat(p)


def data_kind(data: DepthSource) -> str:
    """``folder`` for a FolderDataset, ``synthrooms`` for a SynthRooms .mat, ``nyu`` for any other .mat."""
    if isinstance(data, FolderDataset):
        return "folder"
    return "synthrooms" if str(data.attrs.get("generator", "")) == "synthrooms" else "nyu"


def describe_data(data: DepthSource) -> str:
    """The data label written next to every number of a run, e.g. ``folder my_rgbd (120 images, ...)``."""
    kind = data_kind(data)
    if kind == "folder":
        return data.describe()
    if kind == "synthrooms":
        return f"SynthRooms ({len(data)} images, {data.height}x{data.width}, seed {data.attrs.get('seed', '?')})"
    return f"NYU Depth V2 ({data.path.name}, {len(data)} images, {data.height}x{data.width})"
