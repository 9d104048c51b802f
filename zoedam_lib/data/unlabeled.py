"""Unlabeled images for ZoeDAM+ (paper §3.3, Table 1): folder trees of photos and LSUN LMDB databases.

The paper samples a fixed subset of LSUN and BDD100K; here ``n`` files are drawn with
``np.random.default_rng(seed)`` from the sorted list of everything found, so the subset (and the
teacher's pseudo-labels cached for it) is reproducible. Photos in the wild are grayscale, RGBA,
16-bit, EXIF-rotated or broken: :func:`read_image` converts the first four, and a broken file is
replaced by the next readable one (reported once), so an epoch never dies on image 40 000.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from zoedam_lib.io.images import IMAGE_EXTENSIONS, read_image, to_float_image
from zoedam_lib.utils.errors import ConfigError, DataFileError, ImageReadError
from zoedam_lib.utils.optional import require
from zoedam_lib.utils.paths import display_path

LMDB_FILE = "data.mdb"  # a folder holding this is an LMDB database (LSUN's distribution format)


@dataclass(frozen=True)
class Entry:
    """One unlabeled image: a file, or a key inside an LMDB database (``key`` is then not None)."""

    source: str  # image path, or the LMDB database folder
    key: bytes | None = None  # LMDB record key

    def describe(self) -> str:
        return self.source if self.key is None else f"{self.source}[{self.key.decode(errors='replace')}]"


def _import_lmdb():
    return require("lmdb", "reading LSUN's LMDB databases (folders with data.mdb)",
                   "pip install lmdb. Or export the images to JPEG files first.", DataFileError)


def _lmdb_keys(db: Path) -> list[bytes]:
    lmdb = _import_lmdb()
    env = lmdb.open(str(db), readonly=True, lock=False, readahead=False, meminit=False, max_readers=1)
    try:
        with env.begin(write=False) as txn:
            return sorted(bytes(k) for k in txn.cursor().iternext(keys=True, values=False))
    finally:
        env.close()


def find_entries(folder: Path) -> list[Entry]:
    """All images under ``folder`` (recursive, hidden files skipped), LMDB records included, sorted."""
    entries: list[Entry] = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if LMDB_FILE in files:  # an LMDB database: its records are the images; do not descend
            entries += [Entry(root, k) for k in _lmdb_keys(Path(root))]
            dirs[:] = []
            continue
        entries += [Entry(os.path.join(root, f)) for f in sorted(files)
                    if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
    return entries


class UnlabeledImages(Dataset):
    """A reproducible subset of the images under ``dirs`` as ``{"image" (3, H, W) in [0, 1], "index"}``.

    Args:
        dirs: one folder or several, searched recursively (extensions in ``IMAGE_EXTENSIONS``,
            or LMDB databases: folders holding ``data.mdb``, read with the optional ``lmdb`` package).
        n: use ``n`` images drawn with ``np.random.default_rng(seed)`` (None: all).
        seed: seed of that draw.
        size: resize every image to (H, W), bilinear with align_corners=True (None: keep sizes).

    Pools of one seed are NOT nested: up to 10,000 images found, numpy's ``Generator.choice(N, n,
    replace=False)`` runs Floyd's algorithm, whose k-th draw lies in ``[0, N - n + k]``: every draw
    depends on n, so the pools of 300 and 1,200 of one seed share about as many images as two
    independent draws (n1·n2/N: 75 of 300 at N = 4,800). Above 10,000 (and n > N/50) numpy shuffles
    the tail instead and such pools happen to be nested. Nothing relies on either, and the draw stays
    as it is (committed results depend on it; ``tests/test_semi.py`` pins it). The pseudo-label cache
    is kept per image: pools share the entries of their common images, and a pool of all covers any.
    """

    def __init__(self, dirs: str | os.PathLike | list[str | os.PathLike], n: int | None = None, seed: int = 0,
                 size: tuple[int, int] | None = None) -> None:
        self.dirs = [Path(d) for d in ([dirs] if isinstance(dirs, (str, os.PathLike)) else dirs)]
        if not self.dirs:
            raise ConfigError("UnlabeledImages needs at least one folder")
        if n is not None and n < 1:
            raise ConfigError(f"n must be a positive number of images or None (all), got {n}")
        self.size = None if size is None else (int(size[0]), int(size[1]))
        found: list[Entry] = []
        for folder in self.dirs:
            found += self._scan(folder)
        self.n_found = len(found)
        if n is not None and n > len(found):
            warnings.warn(f"asked for {n} unlabeled images but {self.dirs} hold only {len(found)}; using all",
                          stacklevel=2)
        if n is not None and n < len(found):
            chosen = np.sort(np.random.default_rng(seed).choice(len(found), size=n, replace=False))
            found = [found[i] for i in chosen]
        self.entries = found
        self.skipped: list[str] = []  # unreadable images met so far (replaced by the next readable one)
        self._env: dict[str, object] = {}  # LMDB environments, opened lazily in each worker process

    @staticmethod
    def _scan(folder: Path) -> list[Entry]:
        what = f"images ({', '.join(IMAGE_EXTENSIONS)}) or LMDB databases ({LMDB_FILE})"
        if not folder.is_dir():
            raise DataFileError(f"unlabeled image folder not found: {folder}. Expected a folder of {what}. "
                                "Generate SynthRooms (its unlabeled/ folder) or pass unlabeled_dirs=[...].")
        entries = find_entries(folder)
        if not entries:
            raise DataFileError(f"no unlabeled images in {folder} (searched recursively for {what}). Put "
                                "images there or pass another folder.")
        return entries

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        i = key[0] if isinstance(key, tuple) else key
        if not 0 <= i < len(self):
            raise IndexError(f"unlabeled image {i} out of range (0..{len(self) - 1})")
        for offset in range(len(self)):  # deterministic substitute: the next readable image
            j = (i + offset) % len(self)
            try:
                image = self.load(j)
            except ImageReadError as exc:
                self._skip(self.entries[j], exc)
                continue
            return {"image": image, "index": torch.tensor(i)}
        raise DataFileError(f"none of the {len(self)} unlabeled images can be read; see the messages above")

    def load(self, j: int) -> torch.Tensor:
        """Image ``j`` as float (3, H, W) in [0, 1] at ``size``; raises ImageReadError if it cannot be read."""
        entry = self.entries[j]
        image = to_float_image(read_image(entry.source) if entry.key is None else self._read_lmdb(entry))
        if self.size is not None and tuple(image.shape[-2:]) != self.size:
            image = F.interpolate(image[None], size=self.size, mode="bilinear", align_corners=True)[0]
        return image

    def _read_lmdb(self, entry: Entry) -> Image.Image:
        if entry.source not in self._env:
            self._env[entry.source] = _import_lmdb().open(entry.source, readonly=True, lock=False,
                                                          readahead=False, meminit=False, max_readers=1)
        with self._env[entry.source].begin(write=False) as txn:  # type: ignore[attr-defined]
            data = txn.get(entry.key)
        try:
            img = Image.open(io.BytesIO(data or b""))
            img.load()
        except Exception as exc:
            raise ImageReadError(f"cannot decode record {entry.describe()}: {exc.__class__.__name__}") from None
        return img

    def _skip(self, entry: Entry, exc: Exception) -> None:
        name = entry.describe()
        if name in self.skipped:
            return
        self.skipped.append(name)
        if len(self.skipped) == 1:
            print(f"warning: unreadable unlabeled image skipped (the next readable one is used instead): {exc}. "
                  "Further ones are counted silently; see UnlabeledImages.report().")

    def report(self) -> str:
        """One line: how many images are used and which unreadable ones were replaced."""
        text = f"{len(self)} unlabeled images (of {self.n_found} found in {', '.join(map(display_path, self.dirs))})"
        if self.skipped:
            shown = ", ".join(self.skipped[:5]) + (" …" if len(self.skipped) > 5 else "")
            text += f"; {len(self.skipped)} unreadable, replaced by the next readable image: {shown}"
        return text

    def listing(self) -> list[list]:
        """(source, key, bytes, mtime_ns) per image: the run's fingerprint, and each pseudo-label's name."""
        rows = []
        for e in self.entries:
            stat = os.stat(Path(e.source) / LMDB_FILE if e.key is not None else e.source)
            rows.append([e.source, None if e.key is None else e.key.hex(), stat.st_size, stat.st_mtime_ns])
        return rows

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_env"] = {}  # LMDB environments must not cross process boundaries
        return state
