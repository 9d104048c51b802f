"""The teacher's pseudo-labels for the unlabeled images (paper §3.3: "we then utilize model T to
assign pseudo-depth labels").

The teacher sees only CLEAN images (§3.3.1), in eval mode. Its predictions do not change during
student training, so they are computed once and cached per image as float16 ``.npy`` files in a
folder named after a fingerprint of everything they depend on: the teacher's weights and
config (including its network size) and the image list (paths, sizes, mtimes, resize). A
changed teacher or image list therefore gets a fresh folder, an unchanged one is reused, and an
interrupted computation resumes where it stopped. Every entry is written to a temporary file
and renamed, so a crash leaves at most a temp file (ignored, then deleted), never a bad entry.
Each entry's sha256 is appended to ``entries.sha256`` (``sha256sum -c`` reads it) once the entry
is in place: an entry whose bytes changed afterwards (a disk error, a stray edit) or that has no
checksum is recomputed by the next :meth:`PseudoLabelCache.build`, and counted; so is every entry
of a folder whose manifest names another fingerprint (a cache copied or renamed from another teacher).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoedam_lib.checkpoints.saving import update_digest
from zoedam_lib.data.unlabeled import UnlabeledImages
from zoedam_lib.inference.predict import infer
from zoedam_lib.utils.atomic import atomic_open, atomic_path, atomic_write_json
from zoedam_lib.utils.errors import DataFileError
from zoedam_lib.utils.output_dirs import waiting_lock
from zoedam_lib.utils.progress import tqdm

CACHE_VERSION = 2  # bump when what an entry holds changes (2: entries carry checksums)
MANIFEST = "manifest.json"
BUILD_LOCK = ".build.lock"  # held by the process building the cache (see PseudoLabelCache.build)
CHECKSUMS = "entries.sha256"  # "<sha256>  <entry file>" per line (sha256sum's format); the last line of a file wins


def teacher_predict(teacher: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Teacher metric depth (B, 1, h, w) float32 on clean images, in eval mode and without gradients.

    The result is a normal tensor (cloned out of inference mode) so losses may save it for backward.
    """
    was_training = teacher.training
    teacher.eval()
    try:
        with torch.inference_mode():
            depth = infer(teacher, images).float()  # a ZoeDAM teacher runs the exact fast head
    finally:
        teacher.train(was_training)
    return depth.clone()


def fingerprint(teacher: nn.Module, images: UnlabeledImages) -> str:
    """sha256 of the teacher's state dict bytes, its config, the image listing and the resize size."""
    h = hashlib.sha256(f"zoedam_plus pseudo-labels v{CACHE_VERSION}".encode())
    update_digest(h, teacher)
    config = getattr(teacher, "config", None)
    meta = {"model": type(teacher).__name__,
            "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else repr(config),
            "images": images.listing(), "image_size": images.size}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return h.hexdigest()


class PseudoLabelCache:
    """Teacher metric depth per unlabeled image, computed once (:meth:`build`) and read with :meth:`get`.

    Args:
        cache_dir: parent folder; entries go to ``cache_dir/<fingerprint[:16]>/NNNNNN.npy``.
        teacher: the trained ZoeDAM teacher (moved to ``device``).
        images: the unlabeled images; entry ``i`` is the teacher's prediction on ``images[i]``.
        device: where the teacher runs.
        batch_size: images per teacher forward.
        progress: show a progress bar while building.
    """

    def __init__(self, cache_dir: str | os.PathLike, teacher: nn.Module, images: UnlabeledImages,
                 device: str | torch.device = "cpu", batch_size: int = 8, progress: bool = True) -> None:
        self.teacher, self.images, self.device = teacher, images, torch.device(device)
        self.batch_size, self.progress = max(1, int(batch_size)), progress
        self.fingerprint = fingerprint(teacher, images)
        self.dir = Path(cache_dir) / self.fingerprint[:16]
        self.damaged: list[int] = []  # entries found changed (or unverifiable) and recomputed by the last build()
        self._checksums: dict[str, str] | None = None  # entry file name → sha256, read by build()

    def __len__(self) -> int:
        return len(self.images)

    def path(self, i: int) -> Path:
        return self.dir / f"{i:06d}.npy"

    def missing(self) -> list[int]:
        """Indices without a finished entry."""
        return [i for i in range(len(self)) if not self.path(i).is_file()]

    def build(self) -> int:
        """Compute the missing and damaged entries (all on first use, none when reused and intact).

        Returns how many were computed; :attr:`damaged` lists the entries among them that existed
        but whose bytes no longer matched their checksum (or had none). Processes sharing the cache
        (student and control side by side) build one at a time: a second builder's clean-up of
        temporary files must not remove the first one's file between its write and its rename.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        with waiting_lock(self.dir / BUILD_LOCK):
            return self._build()

    def _build(self) -> int:
        for stale in self.dir.glob(".*.tmp"):  # left by a crash between write and rename
            stale.unlink(missing_ok=True)
        foreign = self._foreign()
        if foreign is not None:  # entries and checksums copied from another cache: none of them is this teacher's
            print(f"pseudo-label cache {self.dir}: {foreign}; recomputing its entries")
        self._checksums = {} if foreign is not None else self._read_checksums()
        missing = set(self.missing())
        self.damaged = [i for i in range(len(self)) if i not in missing and not self._intact(i)]
        todo = sorted(missing | set(self.damaged))
        self._write_manifest(complete=not todo)
        if not todo:
            return 0
        self.teacher.to(self.device)
        chunks = [todo[k:k + self.batch_size] for k in range(0, len(todo), self.batch_size)]
        for chunk in tqdm(chunks, desc="teacher pseudo-labels", leave=False, disable=not self.progress):
            x = torch.stack([self.images[i]["image"] for i in chunk]).to(self.device)  # clean images
            depth = teacher_predict(self.teacher, x).cpu().numpy().astype(np.float16)  # (b, 1, h, w)
            for i, d in zip(chunk, depth, strict=True):
                with atomic_path(self.path(i)) as tmp:
                    with open(tmp, "wb") as f:
                        np.save(f, d)
                    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
                self._record(i, digest)
        with atomic_open(self.dir / CHECKSUMS) as f:  # compacted: one line per entry
            f.writelines(f"{digest}  {name}\n" for name, digest in sorted(self._checksums.items()))
        self._write_manifest(complete=True)
        return len(todo)

    def get(self, i: int) -> torch.Tensor:
        """Pseudo-label of image ``i`` as float32 (1, h, w) metres (h, w: the teacher's network size)."""
        path = self.path(i)
        if not path.is_file():
            raise DataFileError(f"pseudo-label {i} is missing from {self.dir}; call PseudoLabelCache.build() "
                                "before training")
        if self._checksums is None:
            self._checksums = self._read_checksums()
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self._checksums.get(path.name):
            raise DataFileError(f"pseudo-label {path} changed after it was written (its sha256 differs from "
                                f"{CHECKSUMS}); run again: PseudoLabelCache.build() recomputes damaged entries")
        try:
            return torch.from_numpy(np.load(io.BytesIO(data)).astype(np.float32))
        except (ValueError, OSError, EOFError) as exc:
            raise DataFileError(f"cannot read pseudo-label {path} ({exc.__class__.__name__}); delete the folder "
                                f"{self.dir} to recompute it") from None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["teacher"] = None  # DataLoader workers only read entries; never ship the teacher to them
        return state

    def _intact(self, i: int) -> bool:
        path = self.path(i)
        expected = self._checksums.get(path.name) if self._checksums is not None else None
        return expected is not None and hashlib.sha256(path.read_bytes()).hexdigest() == expected

    def _read_checksums(self) -> dict[str, str]:
        """Entry name → sha256 from the checksum file; a torn last line (a crash while appending) is ignored."""
        checksums: dict[str, str] = {}
        try:
            lines = (self.dir / CHECKSUMS).read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return checksums
        for line in lines:
            digest, _, name = line.partition("  ")
            if len(digest) == 64 and name.endswith(".npy"):
                checksums[name] = digest
        return checksums

    def _foreign(self) -> str | None:
        """Why the folder's entries are not this cache's (its manifest names another fingerprint or cannot be
        read), or None. The folder's name is only the fingerprint's first 16 characters and a folder can be
        copied or renamed: the checksums prove each entry unchanged, not whose teacher wrote it."""
        path = self.dir / MANIFEST
        if not path.is_file():
            return None
        try:
            found = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
            return f"its {MANIFEST} cannot be read ({exc.__class__.__name__})"
        if found != self.fingerprint:
            return (f"its {MANIFEST} says fingerprint {str(found)[:16]}…, not {self.fingerprint[:16]}…: entries of "
                    "another teacher or image list")
        return None

    def _record(self, i: int, digest: str) -> None:
        """Append entry ``i``'s checksum now that the entry is in place (a crash before leaves it unverified,
        hence recomputed; never a wrong entry accepted)."""
        if self._checksums is None:
            self._checksums = self._read_checksums()
        self._checksums[self.path(i).name] = digest
        with open(self.dir / CHECKSUMS, "a", encoding="utf-8") as f:
            f.write(f"{digest}  {self.path(i).name}\n")
            f.flush()
            os.fsync(f.fileno())

    def _write_manifest(self, complete: bool) -> None:
        config = getattr(self.teacher, "config", None)
        atomic_write_json(self.dir / MANIFEST, {
            "version": CACHE_VERSION, "fingerprint": self.fingerprint, "n": len(self), "complete": complete,
            "dtype": "float16", "teacher": type(self.teacher).__name__,
            "teacher_config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else None,
            "image_size": self.images.size, "images": self.images.listing()})
