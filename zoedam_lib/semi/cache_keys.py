"""What the pseudo-label cache's names and the ZoeDAM+ run identity are derived from.

Three fingerprints, because a pseudo-label depends on the teacher and its image while a run
depends on its whole pool: the cache folder is named after the teacher (:func:`teacher_fingerprint`,
every pool of its images shares it), each entry after its image (:func:`entry_key`), and the run
after the teacher and the pool (:func:`fingerprint`, which resume compares).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from torch import nn

from zoedam_lib.checkpoints.saving import update_digest
from zoedam_lib.data.unlabeled import UnlabeledImages

CACHE_VERSION = 3  # bump when what an entry holds or how it is named changes (2: checksums; 3: per image, tta)
RUN_TAG = "zoedam_plus pseudo-labels v2"  # frozen: runs started before version 3 keep their identity (resume)


def _digest(tag: str, teacher: nn.Module, meta: dict) -> str:
    h = hashlib.sha256(tag.encode())
    update_digest(h, teacher)
    config = getattr(teacher, "config", None)
    meta = {"model": type(teacher).__name__,
            "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else repr(config), **meta}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return h.hexdigest()


def teacher_fingerprint(teacher: nn.Module, size: tuple[int, int] | None, tta: bool = False) -> str:
    """sha256 of what an entry depends on besides its image: the teacher's state dict bytes and config, the
    resize size, flip TTA and the cache version. It names the cache folder that every pool shares."""
    return _digest(f"zoedam_plus pseudo-labels v{CACHE_VERSION} teacher", teacher, {"image_size": size, "tta": tta})


def fingerprint(teacher: nn.Module, images: UnlabeledImages, tta: bool = False,
                listing: list[list] | None = None) -> str:
    """sha256 of the teacher, the pool's image listing and resize size (and flip TTA when on): the run's
    ``teacher_and_unlabeled.sha256``. Computed as in version 2 for ``tta=False``, so a run started then resumes."""
    meta = {"images": images.listing() if listing is None else listing, "image_size": images.size}
    return _digest(RUN_TAG, teacher, {**meta, "tta": True} if tta else meta)


def entry_key(row: list) -> str:
    """An image's entry name: 24 hex digits of the sha256 of its listing row, the same in every pool."""
    return hashlib.sha256(json.dumps(row).encode()).hexdigest()[:24]
