"""What opening a folder dataset checks: every pair's headers, and the depth values of a few (or all) pairs.

Split from :mod:`.dataset` by job: the dataset reads items; these functions decide, once at
opening, which pairs are usable. A pair whose files are unreadable, of two sizes or all invalid
is skipped and listed with its reason (the run goes on with the rest); a wrong depth unit is
an error (:func:`~.depth_checks.depth_problem`), since every pair would be wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from zoedam_lib.data.depth_files import BadFile, depth_size, image_size, read_raw_depth, read_rgb
from zoedam_lib.data.folder.depth_checks import depth_problem, stored_metres
from zoedam_lib.data.folder.index import Listing, Pair, rel_path
from zoedam_lib.data.folder.spec import FolderSpec

UNIT_SAMPLES = 5  # depth files decoded at open to check the unit


def probe_pairs(pairs: list[Pair], root: Path, skipped: list[tuple[str, str]]
                ) -> tuple[list[Pair], list[tuple[int, int]]]:
    """The pairs whose headers read and agree in size, with their (H, W); the others are appended to ``skipped``."""
    kept, sizes = [], []
    for pair in pairs:
        try:
            bad = pair.image
            shape = image_size(pair.image)
            bad = pair.depth
            depth_shape = depth_size(pair.depth)
        except BadFile as e:
            skipped.append((rel_path(bad, root), str(e)))
            continue
        if depth_shape != shape:
            depth_name = rel_path(pair.depth, root)
            skipped.append((rel_path(pair.image, root), "size mismatch: image {}x{} but {} {}x{}; "
                            "a pair must have one size".format(*shape, depth_name, *depth_shape)))
            continue
        kept.append(pair)
        sizes.append(shape)
    return kept, sizes


def check_depths(pairs: list[Pair], indices: Iterable[int], spec: FolderSpec, root: Path,
                 skipped: list[tuple[str, str]], values: list[np.ndarray]) -> list[bool]:
    """Decode the depth (and with ``spec.verify`` the image) of ``indices``: which pairs to keep.

    Bad pairs are appended to ``skipped``, the decoded maps' values in metres to ``values`` (for
    the plausibility report); a wrong unit raises."""
    keep = [True] * len(pairs)
    for i in indices:
        pair = pairs[i]
        try:
            if spec.verify:
                bad = pair.image
                read_rgb(pair.image)
            bad = pair.depth
            raw = read_raw_depth(pair.depth)
            why = depth_problem(pair.depth, raw, spec)
            values += [] if why else [stored_metres(pair.depth, raw, spec)]
        except BadFile as e:
            why = str(e)
        if why:
            skipped.append((rel_path(bad, root), why))
            keep[i] = False
    return keep


def unit_samples(n: int) -> list[int]:
    """Up to UNIT_SAMPLES evenly spread items (first and last included), the same at every open."""
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(UNIT_SAMPLES, n))}) if n else []


def nothing_usable(listing: Listing, skipped: list[tuple[str, str]]) -> str:
    """The error message when no pair survived: how many were listed and the first reasons."""
    reasons = "; ".join(f"{name}: {why}" for name, why in skipped[:5])
    return (f"{listing.source}: no usable (image, depth) pair among {len(listing.pairs) + len(listing.skipped)} "
            f"listed. First problems: {reasons or 'none listed'}.")
