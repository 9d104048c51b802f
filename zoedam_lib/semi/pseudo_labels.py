"""The teacher's pseudo-labels for the unlabeled images (paper §3.3: "we then utilize model T to
assign pseudo-depth labels").

The teacher sees only CLEAN images (§3.3.1), in eval mode, optionally with flip TTA (``tta``: the
mean of its depth on the image and the mirrored depth of the mirrored image, the evaluation's
augmentation; a better-informed teacher, as Noisy Student's and Depth Anything's). Its predictions
do not change during student training, so they are computed once and cached as float16 ``.npy``
files in ``cache_dir/<teacher fingerprint[:16]>/``. The folder is named after what a prediction
depends on besides its image (the teacher's weights and config, the resize size, ``tta``, the cache
version) and each entry after its image's identity (its :meth:`UnlabeledImages.listing` row: path,
LMDB key, bytes, mtime): pools of several sizes or seeds drawn from one folder share the entries of
the images they have in common, and an edited image gets a new entry. An unreadable image is
replaced by the next readable one of its pool (:class:`UnlabeledImages`), which depends on the
pool: its entry is named after both images, and the unreadable ones are listed in the manifest.

Every entry is written to a temporary file and renamed, so a crash leaves at most a temp file
(ignored, then deleted), never a bad entry; its sha256 then goes to ``entries.sha256``
(:mod:`.entry_checksums`). An entry whose bytes changed afterwards or that has no checksum is
recomputed by the next :meth:`PseudoLabelCache.build`, and counted; so is every entry of a folder
whose manifest names another teacher fingerprint (a cache copied or renamed from another teacher).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoedam_lib.data.unlabeled import UnlabeledImages
from zoedam_lib.inference.predict import infer
from zoedam_lib.semi.cache_keys import CACHE_VERSION, entry_key, fingerprint, teacher_fingerprint
from zoedam_lib.semi.entry_checksums import CHECKSUMS, append_checksum, read_checksums, sha256_hex, write_checksums
from zoedam_lib.utils.atomic import atomic_path, atomic_write_json
from zoedam_lib.utils.errors import DataFileError, ImageReadError
from zoedam_lib.utils.output_dirs import waiting_lock
from zoedam_lib.utils.progress import tqdm

MANIFEST = "manifest.json"
BUILD_LOCK = ".build.lock"  # held by the process building the cache (see PseudoLabelCache.build)


def teacher_predict(teacher: nn.Module, images: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """Teacher metric depth (B, 1, h, w) float32 on clean images, in eval mode and without gradients.

    ``tta``: flip TTA, as evaluation does it (:func:`~zoedam_lib.models.predict.flip_averaged`).
    The result is a normal tensor (cloned out of inference mode) so losses may save it for backward.
    """
    was_training = teacher.training
    teacher.eval()
    try:
        with torch.inference_mode():
            depth = infer(teacher, images, flip_tta=tta).float()  # a ZoeDAM teacher runs the exact fast head
    finally:
        teacher.train(was_training)
    return depth.clone()


class PseudoLabelCache:
    """Teacher metric depth per unlabeled image, computed once (:meth:`build`) and read with :meth:`get`.

    Args:
        cache_dir: parent folder; entries go to ``cache_dir/<teacher_fingerprint[:16]>/<entry_key>.npy``.
        teacher: the trained ZoeDAM teacher (moved to ``device``).
        images: the pool; :meth:`get` ``(i)`` is the teacher's prediction on ``images[i]``.
        device: where the teacher runs.
        batch_size: images per teacher forward.
        progress: show a progress bar while building.
        tta: flip TTA pseudo-labels (their own folder).
    """

    def __init__(self, cache_dir: str | os.PathLike, teacher: nn.Module, images: UnlabeledImages,
                 device: str | torch.device = "cpu", batch_size: int = 8, progress: bool = True,
                 tta: bool = False) -> None:
        self.teacher, self.images, self.device = teacher, images, torch.device(device)
        self.batch_size, self.progress, self.tta = max(1, int(batch_size)), progress, bool(tta)
        rows = images.listing()
        self.keys = [entry_key(row) for row in rows]
        self.fingerprint = fingerprint(teacher, images, self.tta, rows)  # this pool's labels: the run identity
        self.teacher_fingerprint = teacher_fingerprint(teacher, images.size, self.tta)
        self.dir = Path(cache_dir) / self.teacher_fingerprint[:16]
        self.damaged: list[int] = []  # entries found changed (or unverifiable) and recomputed by the last build()
        self._checksums: dict[str, str] | None = None  # entry file name → sha256, read by build()
        self._unreadable: set[str] | None = None  # keys of images that cannot be read (the manifest's list)
        self._names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def path(self, i: int) -> Path:
        return self.dir / self._entry_names()[i]

    def missing(self) -> list[int]:
        """Positions in the pool without a finished entry."""
        return [i for i in range(len(self)) if not self.path(i).is_file()]

    def build(self) -> int:
        """Compute the pool's missing and damaged entries (none when every image has an intact one).

        Returns how many were computed; :attr:`damaged` lists the positions among them whose entry
        existed but no longer matched its checksum (or had none). Processes sharing the folder (student
        and control side by side, pools of several sizes) build one at a time: a second builder's
        clean-up of temporary files must not remove the first one's file between its write and its rename.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        with waiting_lock(self.dir / BUILD_LOCK):
            return self._build()

    def _build(self) -> int:
        for stale in self.dir.glob(".*.tmp"):  # left by a crash between write and rename
            stale.unlink(missing_ok=True)
        manifest, foreign = self._manifest()
        if foreign is not None:  # entries and checksums copied from another cache: none of them is this teacher's
            print(f"pseudo-label cache {self.dir}: {foreign}; recomputing its entries")
        self._checksums = {} if foreign is not None else read_checksums(self.dir / CHECKSUMS)
        self._unreadable, self._names = set(manifest.get("unreadable", [])), None
        self.damaged = []
        self._write_manifest()  # claims the folder for this teacher before any entry is written
        computed = self._compute(True, self._unreadable, self._checksums)  # finds the unreadable images on the way
        computed += self._compute(False, self._unreadable, self._checksums)  # their substitutes, all now known
        if computed or foreign is not None:
            write_checksums(self.dir / CHECKSUMS, self._checksums)  # compacted: one line per entry
            self._write_manifest()
        self.damaged = sorted(set(self.damaged))
        return computed

    def _compute(self, readable: bool, unreadable: set[str], checksums: dict[str, str]) -> int:
        """Entries of the images believed readable (``readable``) or of the unreadable ones; returns the count."""
        todo = [i for i in range(len(self)) if (self.keys[i] not in unreadable) == readable and not self._intact(i)]
        self.damaged += [i for i in todo if self.path(i).is_file()]
        if not todo:
            return 0
        self.teacher.to(self.device)
        done = 0
        chunks = [todo[k:k + self.batch_size] for k in range(0, len(todo), self.batch_size)]
        for chunk in tqdm(chunks, desc="teacher pseudo-labels", leave=False, disable=not self.progress):
            batch = []
            for i in chunk:
                if not readable:
                    batch.append((i, self.images[i]["image"]))  # the pool's substitute (reported by the pool)
                    continue
                try:
                    batch.append((i, self.images.load(i)))
                except ImageReadError:
                    unreadable.add(self.keys[i])
                    self._names = None
            if not batch:
                continue
            x = torch.stack([image for _, image in batch]).to(self.device)  # clean images
            depth = teacher_predict(self.teacher, x, self.tta).cpu().numpy().astype(np.float16)  # (b, 1, h, w)
            for (i, _), d in zip(batch, depth, strict=True):
                path = self.path(i)
                with atomic_path(path) as tmp:
                    with open(tmp, "wb") as f:
                        np.save(f, d)
                    digest = sha256_hex(tmp.read_bytes())
                checksums[path.name] = digest  # recorded once the entry is in place: a crash before
                append_checksum(self.dir / CHECKSUMS, path.name, digest)  # leaves it unverified, hence recomputed
            done += len(batch)
        return done

    def get(self, i: int) -> torch.Tensor:
        """Pseudo-label of image ``i`` as float32 (1, h, w) metres (h, w: the teacher's network size)."""
        path = self.path(i)
        if not path.is_file():
            raise DataFileError(f"pseudo-label of image {i} ({self.images.entries[i].describe()}) is missing from "
                                f"{self.dir}; call PseudoLabelCache.build() before training")
        if self._checksums is None:
            self._checksums = read_checksums(self.dir / CHECKSUMS)
        data = path.read_bytes()
        if sha256_hex(data) != self._checksums.get(path.name):
            raise DataFileError(f"pseudo-label {path} changed after it was written (its sha256 differs from "
                                f"{CHECKSUMS}); run again: PseudoLabelCache.build() recomputes damaged entries")
        try:
            return torch.from_numpy(np.load(io.BytesIO(data)).astype(np.float32))
        except (ValueError, OSError, EOFError) as exc:
            raise DataFileError(f"cannot read pseudo-label {path} ({exc.__class__.__name__}); delete it to "
                                "recompute it") from None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["teacher"] = None  # DataLoader workers only read entries; never ship the teacher to them
        return state

    def _entry_names(self) -> list[str]:
        """Entry file per position: the image's key, or for an unreadable image its key and its substitute's
        (the next readable image of this pool, as :class:`UnlabeledImages` picks it)."""
        if self._names is None:
            if self._unreadable is None:
                self._unreadable = set(self._manifest()[0].get("unreadable", []))
            bad, keys, n = self._unreadable, self.keys, len(self.keys)

            def name(i: int) -> str:
                if keys[i] not in bad:
                    return f"{keys[i]}.npy"
                substitute = next((keys[(i + o) % n] for o in range(1, n) if keys[(i + o) % n] not in bad), keys[i])
                return f"{keys[i]}-{substitute}.npy"
            self._names = [name(i) for i in range(n)]
        return self._names

    def _intact(self, i: int) -> bool:
        path = self.path(i)
        expected = self._checksums.get(path.name) if self._checksums is not None else None
        return expected is not None and path.is_file() and sha256_hex(path.read_bytes()) == expected

    def _manifest(self) -> tuple[dict, str | None]:
        """The folder's manifest ({} when there is none or it is not this cache's) and why its entries are not
        this cache's (its manifest names another teacher fingerprint or cannot be read), or None. The folder's
        name is only the fingerprint's first 16 characters and a folder can be copied or renamed: the checksums
        prove each entry unchanged, not whose teacher wrote it."""
        path = self.dir / MANIFEST
        if not path.is_file():
            return {}, None
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            found = manifest.get("teacher_fingerprint")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
            return {}, f"its {MANIFEST} cannot be read ({exc.__class__.__name__})"
        if found != self.teacher_fingerprint:
            return {}, (f"its {MANIFEST} says teacher fingerprint {str(found)[:16]}…, not "
                        f"{self.teacher_fingerprint[:16]}…: entries of another teacher")
        return manifest, None

    def _write_manifest(self) -> None:
        config = getattr(self.teacher, "config", None)
        atomic_write_json(self.dir / MANIFEST, {
            "version": CACHE_VERSION, "teacher_fingerprint": self.teacher_fingerprint, "dtype": "float16",
            "teacher": type(self.teacher).__name__,
            "teacher_config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else None,
            "image_size": self.images.size, "tta": self.tta, "unreadable": sorted(self._unreadable or ())})
