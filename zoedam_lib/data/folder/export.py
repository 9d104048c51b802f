"""Writing any NYU-layout ``.mat`` as a folder dataset: ``images/*.png``, ``depth/*.png`` (mm), ``dataset.json``.

This is how the folder path is exercised end to end on data nobody hand-made
(``python -m zoedam_lib synth --format folder``), and how NYU or SynthRooms become examples of
the layout a user's own data should have. Images are lossless PNG, so the only difference
from the ``.mat`` is the depth's millimetre quantisation (at most 0.5 mm).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from zoedam_lib.data.folder.index import DEPTH_DIR, IMAGES_DIR
from zoedam_lib.data.folder.spec import DATASET_JSON, DEFAULT_RANGE
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.io.writers import write_depth_png16
from zoedam_lib.utils.atomic import atomic_path, atomic_write_json
from zoedam_lib.utils.errors import OutputError
from zoedam_lib.utils.progress import tqdm

IN_PROGRESS = ".synth_in_progress.json"  # marks a folder synth is rendering into; removed once complete


def check_export_target(out_dir: str | os.PathLike, settings: dict[str, Any]) -> None:
    """Refuse to render a folder dataset into ``out_dir`` unless it is empty or a previous export of ``settings``.

    ``synth --format folder`` writes ``images/00000.png``…, ``depth/`` and ``dataset.json``: into a user's
    own dataset it would overwrite their pairs and mix synthetic ones in. Re-rendering the same
    settings (recorded in ``dataset.json`` as ``attrs.synth``) gives the same files, so that is allowed.
    A run killed before its ``dataset.json`` leaves only :data:`IN_PROGRESS` (see :func:`mark_export_started`)
    to say the folder is synth's: a re-run of the same settings completes it, other settings are refused.
    """
    out = Path(out_dir)
    found = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if not found:
        return
    started = _synth_settings(out / IN_PROGRESS, "synth")
    previous = _synth_settings(out / DATASET_JSON, "attrs", "synth")
    if started == settings or (started is None and previous == settings):
        return
    if started is not None:
        what = f"an interrupted synth output of other settings ({started}), not of these ({settings})"
    elif previous is not None:
        what = f"a synth output of other settings ({previous}), not of these ({settings})"
    else:
        what = f"not a synth output (it holds {', '.join(found[:5])}{', …' if len(found) > 5 else ''})"
    raise OutputError(f"--out {out} is not empty and {what}: rendering there would overwrite its files and mix "
                      "synthetic pairs into them. Pass a new or empty folder.")


def mark_export_started(out_dir: str | os.PathLike, settings: dict[str, Any]) -> Path:
    """Write ``out_dir``/:data:`IN_PROGRESS` (atomically) before synth writes anything else; returns its path.

    A synth killed (SIGKILL, OOM) between its first image and ``dataset.json`` otherwise leaves a folder
    that looks like a user's dataset, which :func:`check_export_target` must refuse, so the same command
    could never finish it. The marker records the settings, so only a re-run of the same ones takes the
    folder over; :func:`export_folder` removes it once the folder is complete.
    """
    marker = Path(out_dir) / IN_PROGRESS
    atomic_write_json(marker, {"synth": settings, "note": "synth --format folder is writing this folder; "
                                                          "a re-run with the same settings completes it"})
    return marker


def _synth_settings(path: Path, *keys: str) -> Any:
    """The settings recorded under ``keys`` in the JSON file ``path``; None if absent or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        for key in keys:
            value = value.get(key)
        return value
    except (OSError, ValueError, AttributeError):
        return None


def export_folder(mat_path: str | os.PathLike, out_dir: str | os.PathLike, name: str | None = None,
                  remove_source: bool = False, progress: bool = False,
                  settings: dict[str, Any] | None = None) -> Path:
    """Write every item of ``mat_path`` into ``out_dir`` in the folder layout; returns ``out_dir``.

    Item ``i`` becomes ``images/{i:05d}.png`` and ``depth/{i:05d}.png`` (uint16 millimetres,
    0 = invalid); ``dataset.json`` states the unit, NYU's valid range, the intrinsics if the
    file has them and its provenance. ``remove_source`` deletes the ``.mat`` afterwards (when
    ``synth --format folder`` rendered it only to export it). Stale items of an earlier, larger
    export are removed so the folder holds exactly this file's pairs. ``settings`` (how ``synth`` rendered
    the file) go into ``dataset.json`` for :func:`check_export_target`.
    """
    out = Path(out_dir)
    images_dir, depth_dir = out / IMAGES_DIR, out / DEPTH_DIR
    images_dir.mkdir(parents=True, exist_ok=True)
    depth_dir.mkdir(parents=True, exist_ok=True)
    with NyuMat(mat_path) as mat:
        n, attrs, source = len(mat), dict(mat.attrs), mat.path
        for i in tqdm(range(n), desc="export folder", disable=not progress):
            image, depth = mat.read(i)
            with atomic_path(images_dir / f"{i:05d}.png") as tmp:
                Image.fromarray(image).save(tmp, format="PNG", compress_level=3)
            write_depth_png16(depth_dir / f"{i:05d}.png", depth)
    for folder in (images_dir, depth_dir):
        for old in folder.glob("*.png"):
            if old.stem.isdigit() and int(old.stem) >= n:
                old.unlink()
    provenance = {k: _jsonable(v) for k, v in attrs.items() if k != "intrinsics"}
    spec = {"name": name or (out.name if out.name else source.stem), "depth_unit": "mm",
            "min_depth": DEFAULT_RANGE[0], "max_depth": DEFAULT_RANGE[1],
            "attrs": {**provenance, "exported_from": source.name, **({"synth": settings} if settings else {})}}
    intrinsics = attrs.get("intrinsics")
    if intrinsics is not None:
        spec["intrinsics"] = [float(v) for v in np.asarray(intrinsics).ravel()]
    atomic_write_json(out / DATASET_JSON, spec)
    if remove_source:
        source.unlink()
    (out / IN_PROGRESS).unlink(missing_ok=True)  # complete: dataset.json now says whose folder this is
    return out


def _jsonable(value):
    """HDF5 attribute values (numpy arrays and scalars) as JSON values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
