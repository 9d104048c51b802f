"""Your own RGB-D data: a folder (or manifest) of image + depth files, read with the interface of NyuMat.

:class:`FolderDataset` offers exactly what the rest of the library uses of
:class:`~zoedam_lib.data.nyu.reader.NyuMat` (``len``, ``read``, ``read_depth``, ``height``/``width``,
``attrs``, ``close``, pickling for DataLoader workers), so training, evaluation, the average
baseline and the notebooks run on it unchanged. Opening validates what is cheap to validate:
the pairing in full, every file's header (size, format) and the depth unit on a few sampled
files, so a wrong unit stops the run before training, not after an epoch of nonsense (those
checks at opening are :mod:`.opening`'s).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from PIL import Image

from zoedam_lib.data.depth_files import BadFile, read_raw_depth, read_rgb
from zoedam_lib.data.folder.depth_checks import check_plausible
from zoedam_lib.data.folder.index import Pair, list_pairs, rel_path
from zoedam_lib.data.folder.opening import UNIT_SAMPLES, check_depths, nothing_usable, probe_pairs, unit_samples  # noqa: F401
from zoedam_lib.data.folder.spec import DATASET_JSON, FolderConfig, FolderSpec, resolve_spec
from zoedam_lib.utils.errors import DataFileError
from zoedam_lib.utils.paths import resolve

CHECK_COMMAND = "python -m zoedam_lib.data.folder.check"


class FolderDataset:
    """The (RGB, depth) pairs of ``images/`` + ``depth/`` (paired by stem) or of a manifest, read file by file.

    Depth files are 16-bit PNGs in ``spec.depth_unit`` (0 = invalid) or float32 ``.npy`` in metres
    (NaN, inf, <= 0 invalid); values outside [min_depth, max_depth] read as 0, the NYU "no depth".
    Pairs whose files are missing, unreadable, of mismatched size or all invalid are skipped and
    listed in :attr:`skipped` (and warned about once); a wrong depth unit is an error.

    Args:
        path: the folder, or a manifest ``.csv``/``.json`` file (paths inside relative to it).
        config: options overriding the folder's ``dataset.json`` (see :class:`FolderConfig`).
    """

    def __init__(self, path: str | os.PathLike, config: FolderConfig | None = None) -> None:
        self.path = resolve(path)
        listing = list_pairs(self.path)
        self.root, self.layout = listing.root, listing.layout
        self.spec: FolderSpec = resolve_spec(listing.root, listing.default_name, config)
        self.skipped: list[tuple[str, str]] = list(listing.skipped)  # (file or row, why), pairs left out
        pairs, sizes = probe_pairs(listing.pairs, self.root, self.skipped)
        values: list[np.ndarray] = []  # the decoded maps' values in metres, for the plausibility report
        indices = range(len(pairs)) if self.spec.verify else unit_samples(len(pairs))
        keep = check_depths(pairs, indices, self.spec, self.root, self.skipped, values)
        self.plausibility = check_plausible(values, self.path, self.spec)  # folder_check and setup_run print it
        self._pairs = [p for i, p in enumerate(pairs) if keep[i]]
        self._sizes = [s for i, s in enumerate(sizes) if keep[i]]
        if not self._pairs:
            raise DataFileError(nothing_usable(listing, self.skipped))
        self.attrs: dict[str, Any] = {**self.spec.attrs, "format": "folder", "name": self.spec.name,
                                      "layout": self.layout, "depth_unit": self.spec.depth_unit,
                                      "depth_scale": self.spec.depth_scale, "min_depth": self.spec.min_depth,
                                      "max_depth": self.spec.max_depth, "n_skipped": len(self.skipped)}
        if self.spec.intrinsics is not None:
            self.attrs["intrinsics"] = list(self.spec.intrinsics)
        if self.skipped:
            warnings.warn(self.skipped_summary(), UserWarning, stacklevel=2)

    def __len__(self) -> int:
        return len(self._pairs)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """(H, W) of every item as :meth:`read` returns it (all equal to ``spec.size`` when one is set)."""
        return [self.spec.size] * len(self._pairs) if self.spec.size else list(self._sizes)

    @property
    def height(self) -> int:
        return self._common_size()[0]

    @property
    def width(self) -> int:
        return self._common_size()[1]

    @property
    def fingerprint(self) -> str:
        """A hash of the pairs' file names in order: a saved split is valid only for the same pairs."""
        names = "\n".join(f"{rel_path(p.image, self.root)}\t{rel_path(p.depth, self.root)}" for p in self._pairs)
        return hashlib.sha256(names.encode("utf-8")).hexdigest()[:16]

    def pair(self, index: int) -> Pair:
        """The files (and manifest intrinsics) of item ``index``."""
        return self._pairs[self._check_index(index)]

    def intrinsics(self, index: int) -> tuple[float, float, float, float] | None:
        """(fx, fy, cx, cy) in pixels of item ``index`` as read (scaled with ``size``); None if unknown."""
        i = self._check_index(index)
        k = self._pairs[i].intrinsics or self.spec.intrinsics
        if k is None or self.spec.size is None:
            return k
        (h, w), (th, tw) = self._sizes[i], self.spec.size
        sx, sy = tw / w, th / h  # pixel centres at integer coordinates, as in writers.write_ply
        return k[0] * sx, k[1] * sy, (k[2] + 0.5) * sx - 0.5, (k[3] + 0.5) * sy - 0.5

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Item ``index``: RGB uint8 (H, W, 3) and depth float32 (H, W) in metres (0 = invalid)."""
        i = self._check_index(index)
        pair = self._pairs[i]
        rgb = self._load(pair.image, read_rgb)
        depth = self._depth(pair)
        if rgb.shape[:2] != depth.shape:
            raise DataFileError(f"{pair.image} is {rgb.shape[0]}x{rgb.shape[1]} but {pair.depth} is "
                                f"{depth.shape[0]}x{depth.shape[1]}: a pair must have one size")
        if self.spec.size is not None and rgb.shape[:2] != self.spec.size:
            th, tw = self.spec.size
            rgb = np.asarray(Image.fromarray(rgb).resize((tw, th), Image.BILINEAR))
            depth = _resize_nearest(depth, self.spec.size)
        return rgb, depth

    def read_depth(self, index: int) -> np.ndarray:
        """Depth only (no image decoded), for baselines that never look at the image."""
        depth = self._depth(self._pairs[self._check_index(index)])
        if self.spec.size is not None and depth.shape != self.spec.size:
            depth = _resize_nearest(depth, self.spec.size)
        return depth

    def describe(self) -> str:
        """One line for run descriptions and results: name, count, size, unit, skips."""
        sizes = Counter(self.sizes)
        size = "x".join(map(str, next(iter(sizes)))) if len(sizes) == 1 else f"{len(sizes)} sizes"
        skipped = f", {len(self.skipped)} files skipped" if self.skipped else ""
        return f"folder {self.spec.name} ({len(self)} images, {size}, depth {self.spec.depth_unit}{skipped})"

    def skipped_summary(self, limit: int = 5) -> str:
        """How many pairs were left out and why, naming the first ``limit`` files."""
        shown = "; ".join(f"{name}: {why}" for name, why in self.skipped[:limit])
        more = f"; and {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
        return (f"{self.path}: skipped {len(self.skipped)} file(s) or pair(s), using {len(self)} pairs: "
                f"{shown}{more}. `{CHECK_COMMAND} {self.path}` lists them all.")

    def close(self) -> None:
        """Nothing stays open between reads; here for the NyuMat interface."""

    def __enter__(self) -> FolderDataset:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FolderDataset({str(self.path)!r}, n={len(self)}, name={self.spec.name!r})"

    def _common_size(self) -> tuple[int, int]:
        sizes = Counter(self.sizes)
        if len(sizes) == 1:
            return next(iter(sizes))
        common = ", ".join(f"{h}x{w}: {n}" for (h, w), n in sizes.most_common(3))
        raise DataFileError(f"{self.path}: the pairs have {len(sizes)} different sizes ({common}, ...), but training "
                            "and evaluation batch images of one size. Resize on read with size=(H, W) in "
                            f"{DATASET_JSON} (e.g. \"size\": [480, 640]) or FolderConfig(size=...).")

    def _check_index(self, index: int) -> int:
        i, n = int(index), len(self._pairs)
        if not -n <= i < n:
            raise IndexError(f"item {index} out of range for {n} pairs in {self.path}")
        return i % n

    def _load(self, path: Path, reader: Any) -> np.ndarray:
        try:
            return reader(path)
        except BadFile as e:
            raise DataFileError(f"cannot read {path}: {e}. Remove or fix the file; `{CHECK_COMMAND} {self.path}` "
                                f"finds all such files, and \"verify\": true in {DATASET_JSON} skips them") from None

    def _depth(self, pair: Pair) -> np.ndarray:
        return self._metres(pair.depth, self._load(pair.depth, read_raw_depth))

    def _metres(self, path: Path, raw: np.ndarray) -> np.ndarray:
        """Stored values → float32 metres, with anything invalid or outside the valid range as 0."""
        depth = raw.astype(np.float32)
        if path.suffix.lower() != ".npy":
            depth *= np.float32(self.spec.depth_scale)
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(depth) & (depth >= self.spec.min_depth) & (depth <= self.spec.max_depth)
        depth[~valid] = 0.0
        return depth


def _resize_nearest(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize: depth at edges must not be averaged into values no surface has."""
    h, w = depth.shape
    rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(np.int64), w - 1)
    return np.ascontiguousarray(depth[rows[:, None], cols[None, :]])
