"""One entry point for every labeled dataset: an NYU-layout ``.mat`` file or a folder of RGB-D pairs.

Runs, splits, evaluation and the loader benchmark call :func:`open_dataset` and never decide
the format themselves, so a user's own folder is accepted wherever ``data_path`` is.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from zoedam_lib.data.folder.dataset import FolderDataset
from zoedam_lib.data.folder.spec import FolderConfig, unit_scale
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.utils.config import replace
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.paths import resolve

DepthSource = NyuMat | FolderDataset  # what every dataset reader offers: see NyuMat
DATA_KINDS = ("synthrooms", "nyu", "folder")


def is_folder_source(path: str | os.PathLike) -> bool:
    """True for a folder or a manifest (.csv/.json); False for anything else (an NYU-layout .mat)."""
    p = Path(path)
    return p.is_dir() or p.suffix.lower() in (".csv", ".json")


def open_dataset(path: str | os.PathLike, folder: FolderConfig | None = None, **folder_options) -> DepthSource:
    """:class:`NyuMat` for a ``.mat`` file, :class:`FolderDataset` for a folder or manifest file.

    ``folder`` (or ``folder_options``, the fields of :class:`FolderConfig`) apply to folders; of
    them, a ``.mat`` file takes only the depth unit (``depth_unit`` / ``depth_scale``: a file
    written in millimetres), the others are an error.
    """
    if folder_options:
        folder = replace(folder or FolderConfig(), **folder_options)
    p = resolve(path)
    if is_folder_source(p) or (not p.exists() and p.suffix.lower() != ".mat"):
        return FolderDataset(p, folder)
    set_options = {k: v for k, v in vars(folder).items() if v is not None} if folder is not None else {}
    for unit in ("depth_unit", "depth_scale"):
        set_options.pop(unit, None)
    if set_options:
        raise ConfigError(f"folder options {set_options} apply to folder datasets only; {p} is an NYU-layout "
                          ".mat file, which takes only a depth unit (depth_unit / --depth-unit)")
    return NyuMat(p, depth_scale=unit_scale(folder))


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


def data_identity(data: DepthSource) -> dict[str, object]:
    """What a run's data is, for ``resume`` to compare (see ``training.identity``).

    An NYU-layout file: its size and the sha256 of its whole content (a file with the same item
    count but other depths is other data; ~2 s for the 2.97 GB NYU file). A folder: the sha256
    of every pair's names and file sizes, and how it is read (unit, valid range, size).
    """
    if isinstance(data, FolderDataset):
        h = hashlib.sha256()
        for i in range(len(data)):
            pair = data.pair(i)
            for path in (pair.image, pair.depth):
                h.update(f"{path.relative_to(data.root) if path.is_relative_to(data.root) else path}\t"
                         f"{path.stat().st_size}\n".encode())
        spec = data.spec
        return {"data.n": len(data), "data.files_sha256": h.hexdigest(), "data.depth_scale": spec.depth_scale,
                "data.depth_range": [spec.min_depth, spec.max_depth], "data.size": spec.size}
    return {"data.n": len(data), "data.bytes": data.path.stat().st_size, "data.sha256": file_sha256(data.path),
            "data.depth_scale": data.depth_scale}


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks (never whole in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
