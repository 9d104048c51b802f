"""Train/test splits of a dataset, persisted as JSON so every notebook uses the same indices.

Two kinds: the paper's seeded random split (400 test of 1449, the same ratio for other sizes)
and NYU's official 795/654 split from ``splits.mat``. Indices are 0-based everywhere. A folder
dataset's saved split also records the fingerprint of its pairs, so a folder whose files
changed (same count, different pairs) is detected instead of silently reusing stale indices.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoedam_lib.data.folder.dataset import FolderDataset
from zoedam_lib.data.folder.spec import FolderConfig
from zoedam_lib.data.sources import open_dataset
from zoedam_lib.utils.atomic import atomic_write_json
from zoedam_lib.utils.errors import ConfigError, DataFileError

NYU_N = 1449
PAPER_N_TEST = 400  # test images of the paper's random split of the 1449 labeled images
SPLITS_MAT_URL = "https://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/splits.mat"
SPLIT_KINDS = ("paper", "official")


VAL_FRACTION = 0.1  # share of the training images held out for per-epoch validation and recipe tuning


@dataclass(frozen=True)
class Split:
    """A named train / validation / test partition of item indices (0-based, sorted).

    ``val`` is carved from the training images (seeded): per-epoch validation and any tuning of a
    recipe look at it, never at ``test``, which is only evaluated once at the end of a run.
    """

    name: str  # e.g. "paper_seed0" or "official"
    train: tuple[int, ...]  # indices the models train on
    test: tuple[int, ...]  # indices of the test items
    val: tuple[int, ...] = ()  # validation indices (from the original training part; not in train)

    def __post_init__(self) -> None:
        for part in ("train", "test", "val"):
            object.__setattr__(self, part, tuple(int(i) for i in getattr(self, part)))
        if set(self.train) & set(self.test) or set(self.val) & (set(self.train) | set(self.test)):
            raise ConfigError(f"split {self.name!r}: train, validation and test share indices")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (lists of ints)."""
        return {"name": self.name, "train": list(self.train), "val": list(self.val), "test": list(self.test)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Split:
        """Inverse of :meth:`to_json`; extra keys (n, data_file, ...) are ignored. A split saved before
        validation sets existed gets the same validation set a new one would (:func:`with_validation`)."""
        if "val" not in obj:
            return with_validation(cls(name=str(obj["name"]), train=tuple(obj["train"]), test=tuple(obj["test"])),
                                   int(obj.get("seed", 0)))
        return cls(name=str(obj["name"]), train=tuple(obj["train"]), test=tuple(obj["test"]), val=tuple(obj["val"]))


def with_validation(split: Split, seed: int, fraction: float = VAL_FRACTION) -> Split:
    """``split`` with ``fraction`` of its training images moved to a seeded validation set."""
    train = np.asarray(split.train + split.val)
    n_val = int(round(len(train) * fraction)) if len(train) >= 10 else 0
    chosen = np.random.default_rng([seed, 11]).permutation(len(train))[:n_val]
    val = np.sort(train[chosen])
    return Split(split.name, tuple(np.setdiff1d(train, val)), split.test, tuple(val))


def paper_split(n: int, seed: int = 0) -> Split:
    """The paper's seeded random split: 400 test / 1049 train for 1449 items, same ratio otherwise."""
    if n < 2:
        raise ConfigError(f"a split needs at least 2 items, got n={n}")
    n_test = min(max(round(n * PAPER_N_TEST / NYU_N), 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return Split(name=f"paper_seed{seed}", train=tuple(np.sort(perm[n_test:])),
                 test=tuple(np.sort(perm[:n_test])))


def official_split(splits_mat_path: str | os.PathLike, n: int) -> Split:
    """NYU's official 795 train / 654 test split from ``splits.mat`` (1-based → 0-based)."""
    path = Path(splits_mat_path)
    if not path.is_file():
        raise DataFileError(f"official split file not found: {path}. Download it from {SPLITS_MAT_URL} "
                            "(or `python -m zoedam_lib download-nyu`) and put it next to the labeled .mat.")
    mat = _load_mat(path)
    missing = [k for k in ("trainNdxs", "testNdxs") if k not in mat]
    if missing:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise DataFileError(f"{path} lacks {missing}; expected 'trainNdxs' and 'testNdxs' (1-based "
                            f"indices) as in {SPLITS_MAT_URL}. Found: {found}")
    train, test = (np.asarray(mat[k]).ravel().astype(np.int64) - 1 for k in ("trainNdxs", "testNdxs"))
    both = np.concatenate([train, test])
    if both.size and (both.min() < 0 or both.max() >= n):
        raise DataFileError(f"{path} has indices from {both.min() + 1} to {both.max() + 1} (1-based), but "
                            f"the data file has {n} items: the official split is for the {NYU_N}-image "
                            "labeled file.")
    return Split(name="official", train=tuple(np.sort(train)), test=tuple(np.sort(test)))


def load_or_create_split(data_path: str | os.PathLike, kind: str, seed: int, split_dir: str | os.PathLike,
                         splits_mat: str | os.PathLike | None = None, folder: FolderConfig | None = None) -> Split:
    """The split of ``data_path``, read from ``split_dir`` if saved earlier, else made and saved.

    Saving it means every notebook evaluates on exactly the same test images.
    ``splits_mat`` (official kind only) defaults to ``splits.mat`` next to the data file;
    ``folder`` holds the options of a folder dataset (see :func:`open_dataset`).
    """
    if kind not in SPLIT_KINDS:
        raise ConfigError(f"split kind must be one of {SPLIT_KINDS}, got {kind!r}")
    with open_dataset(data_path, folder) as data:
        n, data_file = len(data), data.path
        is_folder = isinstance(data, FolderDataset)
        stem = data.name if is_folder else data_file.stem
        fingerprint = data.fingerprint if is_folder else None
    if kind == "official" and is_folder:
        raise ConfigError("the official split is NYU's own 795/654 partition of its labeled file; "
                          "use split='paper' (a seeded random split) for a folder dataset")
    json_path = Path(split_dir) / f"{stem}_{kind}_seed{seed}.json"
    if json_path.exists():
        return _load_saved(json_path, n, fingerprint)
    if kind == "paper":
        split = paper_split(n, seed)
    else:
        split = official_split(splits_mat or data_file.parent / "splits.mat", n)
    split = with_validation(split, seed)
    record = {**split.to_json(), "kind": kind, "seed": seed, "n": n, "data_file": data_file.name}
    if fingerprint is not None:
        record["fingerprint"] = fingerprint
    atomic_write_json(json_path, record)
    return split


def _load_saved(json_path: Path, n: int, fingerprint: str | None = None) -> Split:
    try:
        obj = json.loads(json_path.read_text(encoding="utf-8"))
        split = Split.from_json(obj)
        saved_n = int(obj["n"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataFileError(f"saved split {json_path} is unreadable ({e}); delete it to recreate it.") from e
    if saved_n != n:
        raise DataFileError(f"saved split {json_path} was made for {saved_n} items but the data file has "
                            f"{n}; delete that JSON to make a split for the current data.")
    for part in ("train", "val", "test"):  # a hand edit: -1 would read the last item, a training one
        indices = getattr(split, part)
        wrong = sorted({i for i in indices if not 0 <= i < n})
        if wrong or len(set(indices)) != len(indices):
            what = (f"indices outside 0..{n - 1}: {wrong[:5]}" if wrong else
                    f"repeated indices: {sorted({i for i in indices if indices.count(i) > 1})[:5]}")
            raise DataFileError(f"saved split {json_path}: its {part} part has {what}. Indices are 0-based positions "
                                f"among the {n} items, each in one part once; fix the file, or delete it to make "
                                "a new split.")
    if obj.get("fingerprint") != fingerprint:
        raise DataFileError(f"saved split {json_path} was made for other files (fingerprint "
                            f"{obj.get('fingerprint')}, now {fingerprint}): the dataset's pairs were renamed, "
                            "added or removed. Delete that JSON to make a split for the current data, or use "
                            "another out_dir to keep the old one.")
    return split


def _load_mat(path: Path) -> dict[str, Any]:
    """Variables of a MATLAB v5 file (scipy) or v7.3 file (h5py)."""
    import h5py
    import scipy.io

    try:
        try:
            return scipy.io.loadmat(path)
        except NotImplementedError:  # v7.3: scipy asks for an HDF5 reader
            with h5py.File(path, "r") as f:
                return {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}
    except (ValueError, OSError, TypeError) as e:
        raise DataFileError(f"{path} is not a readable .mat file ({e}); "
                            f"re-download it from {SPLITS_MAT_URL}.") from e
