"""Which files form the pairs of a folder dataset: ``images/`` + ``depth/`` matched by stem, or a manifest.

Listing is complete and cheap (no file is decoded), so every pairing problem is known the
moment a dataset is opened: an image without a depth map (or the reverse), two files with one
stem, a manifest row naming a missing file. Those pairs are skipped and listed with the reason;
structural problems (no layout at all, a manifest without its columns) are errors.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoedam_lib.camera.intrinsics import validate_intrinsics
from zoedam_lib.data.depth_files import DEPTH_SUFFIXES, IMAGE_SUFFIXES
from zoedam_lib.data.folder.spec import DATASET_JSON
from zoedam_lib.utils.errors import ConfigError, DataFileError

IMAGES_DIR, DEPTH_DIR = "images", "depth"
MANIFEST_NAMES = ("manifest.csv", "manifest.json")
INTRINSICS_KEYS = ("fx", "fy", "cx", "cy")
LAYOUT_HELP = ("Expected images/<name>.jpg|jpeg|png with depth/<name>.png|npy, or a manifest.csv "
               "(columns image,depth[,fx,fy,cx,cy], paths relative to it) or manifest.json; "
               f"see docs/own_data.md. An optional {DATASET_JSON} states the depth unit.")


@dataclass(frozen=True)
class Pair:
    """One (image, depth) pair, with its own intrinsics when the manifest gives them."""

    name: str  # the stem (folder layout) or the image path relative to the manifest
    image: Path
    depth: Path
    intrinsics: tuple[float, float, float, float] | None = None  # fx, fy, cx, cy in pixels


@dataclass
class Listing:
    """The pairs of a dataset and what was left out, before any file is read."""

    root: Path  # the folder holding dataset.json and (relative) files
    source: Path  # the folder itself or the manifest file
    layout: str  # "folders" or "manifest"
    default_name: str  # the dataset's name unless dataset.json or arguments give one
    pairs: list[Pair] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file or manifest row, why)


def list_pairs(path: Path) -> Listing:
    """The listing of a folder (manifest inside it, else images/ + depth/) or of a manifest file."""
    if path.is_file() and path.name == DATASET_JSON:  # the spec names its folder
        path = path.parent
    if path.is_file():
        if path.suffix.lower() not in (".csv", ".json"):
            raise DataFileError(f"{path} is neither an NYU-layout .mat nor a manifest .csv/.json. {LAYOUT_HELP}")
        return _read_manifest(path)
    if not path.is_dir():
        raise DataFileError(f"data not found: {path}. Pass an NYU-layout .mat file or your own folder dataset. "
                            f"{LAYOUT_HELP}")
    manifests = [path / m for m in MANIFEST_NAMES if (path / m).is_file()]
    if len(manifests) > 1:
        raise DataFileError(f"{path} holds both {MANIFEST_NAMES[0]} and {MANIFEST_NAMES[1]}; keep one, or pass "
                            "the one you mean as the data path")
    if manifests:
        return _read_manifest(manifests[0])
    if not (path / IMAGES_DIR).is_dir():
        mats = sorted(path.glob("*.mat"))
        hint = f" Did you mean {mats[0]}?" if len(mats) == 1 else ""
        raise DataFileError(f"{path} is a directory without a folder dataset (no {IMAGES_DIR}/ folder and no "
                            f"manifest), nor an NYU-layout .mat file. {LAYOUT_HELP}{hint}")
    return _pair_folders(path)


def _pair_folders(root: Path) -> Listing:
    """Pairs of images/ and depth/ by stem; orphans, duplicates and other files are skipped and listed."""
    listing = Listing(root, root, "folders", root.name)
    if not (root / DEPTH_DIR).is_dir():
        raise DataFileError(f"{root} has {IMAGES_DIR}/ but no {DEPTH_DIR}/ folder. {LAYOUT_HELP}")
    images, ambiguous = _by_stem(root / IMAGES_DIR, IMAGE_SUFFIXES, listing.skipped)
    depths, ambiguous_depths = _by_stem(root / DEPTH_DIR, DEPTH_SUFFIXES, listing.skipped)
    ambiguous |= ambiguous_depths
    if not (images or depths or ambiguous):
        raise DataFileError(f"{root} is empty: no images in {IMAGES_DIR}/ and no depth maps in {DEPTH_DIR}/. "
                            f"{LAYOUT_HELP}")
    for stem in sorted(images.keys() | depths.keys()):
        if stem in ambiguous:
            file = images.get(stem) or depths[stem]
            why = f"its partner is ambiguous: two files share the stem {stem!r}"
            listing.skipped.append((rel_path(file, root), why))
        elif stem not in depths:
            listing.skipped.append((rel_path(images[stem], root), f"image without depth: no {DEPTH_DIR}/{stem}.png "
                                                              f"or {DEPTH_DIR}/{stem}.npy"))
        elif stem not in images:
            listing.skipped.append((rel_path(depths[stem], root), f"depth without image: no {IMAGES_DIR}/{stem}.jpg, "
                                                              ".jpeg or .png"))
        else:
            listing.pairs.append(Pair(stem, images[stem], depths[stem]))
    return listing


def _by_stem(folder: Path, suffixes: tuple[str, ...],
             skipped: list[tuple[str, str]]) -> tuple[dict[str, Path], set[str]]:
    """The usable files of ``folder`` by stem, and the stems of several files; hidden files are ignored,
    anything else is reported."""
    found: dict[str, list[Path]] = defaultdict(list)
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            skipped.append((rel_path(entry, folder.parent), "a folder; only files directly inside are read"))
        elif entry.suffix.lower() in suffixes:
            found[entry.stem].append(entry)
        else:
            skipped.append((rel_path(entry, folder.parent), f"not a {'/'.join(suffixes)} file"))
    unique = {stem: files[0] for stem, files in found.items() if len(files) == 1}
    ambiguous = {stem for stem, files in found.items() if len(files) > 1}
    for stem in sorted(ambiguous):
        names = ", ".join(f.name for f in found[stem])
        skipped.extend((rel_path(f, folder.parent), f"ambiguous: {names} share the stem {stem!r}")
                       for f in found[stem])
    return unique, ambiguous


def _read_manifest(path: Path) -> Listing:
    root = path.parent
    name = root.name if path.name.lower() in MANIFEST_NAMES else f"{root.name}_{path.stem}"
    listing = Listing(root, path, "manifest", name)
    rows = _manifest_rows(path)
    if not rows:
        raise DataFileError(f"{path} lists no pairs. {LAYOUT_HELP}")
    first: dict[Path, str] = {}  # each image or depth file → the row that lists it first
    for label, row in rows:
        paths = {key: str(row.get(key) or "").strip() for key in ("image", "depth")}
        empty = [key for key, value in paths.items() if not value]
        if empty:
            listing.skipped.append((label, f"empty {' and '.join(empty)} path"))
            continue
        image, depth = (root / paths["image"]), (root / paths["depth"])  # absolute paths stay absolute
        missing = [str(p) for p in (image, depth) if not p.is_file()]
        if missing:
            listing.skipped.append((label, f"file not found: {', '.join(missing)}"))
            continue
        again = next((first[f] for f in (image.resolve(), depth.resolve()) if f in first), None)
        if again is not None:  # a repeated file would be drawn into train and test by the split
            listing.skipped.append((label, f"a file already listed by {again}: each file belongs to one pair"))
            continue
        first.update({image.resolve(): label, depth.resolve(): label})
        listing.pairs.append(Pair(paths["image"], image, depth, _row_intrinsics(row, label)))
    return listing


def _manifest_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(row label, row) of a CSV (header image,depth[,fx,fy,cx,cy]) or JSON (list or {"pairs": list}) manifest."""
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f, skipinitialspace=True)
                columns = [c.strip() for c in reader.fieldnames or []]
                rows = [(f"{path.name} line {reader.line_num}", {k.strip(): v for k, v in row.items() if k})
                        for row in reader]
        else:
            obj = json.loads(path.read_text(encoding="utf-8"))
            entries = obj.get("pairs") if isinstance(obj, dict) else obj
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise DataFileError(f"{path} must be a JSON list of objects with 'image' and 'depth' keys (or "
                                    f'{{"pairs": [...]}}), e.g. [{{"image": "rgb/a.jpg", "depth": "d/a.png"}}]')
            columns = sorted({key for e in entries for key in e})
            rows = [(f"{path.name} entry {i}", e) for i, e in enumerate(entries)]
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as e:
        raise DataFileError(f"cannot read manifest {path}: {e}") from e
    missing = [c for c in ("image", "depth") if c not in columns]
    partial = [c for c in INTRINSICS_KEYS if c not in columns] if set(INTRINSICS_KEYS) & set(columns) else []
    if missing or partial:
        raise DataFileError(f"manifest {path} lacks the column(s) {missing + partial} (found {columns}): it needs "
                            f"image and depth, and either all of {', '.join(INTRINSICS_KEYS)} or none. {LAYOUT_HELP}")
    return rows


def _row_intrinsics(row: dict[str, Any], label: str) -> tuple[float, float, float, float] | None:
    values = [row.get(k) for k in INTRINSICS_KEYS]
    if all(v is None or str(v).strip() == "" for v in values):
        return None
    try:
        return validate_intrinsics(values, where=label)
    except ConfigError as e:
        raise DataFileError(f"{e}; fix the row, or leave all four empty to use dataset.json's intrinsics") from e


def rel_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` for messages and fingerprints; absolute if it lies elsewhere."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
