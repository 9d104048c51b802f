"""Which files a prediction reads, and the output names it gives them.

A folder of photos is searched in a fixed order (so a run is repeatable), hidden files and the
output folder itself are left out, and every output stem is safe: it cannot leave the output
folder, hide itself or overwrite another output of the same run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from zoedam_lib.io.images import IMAGE_EXTENSIONS
from zoedam_lib.utils.names import safe_stem
from zoedam_lib.utils.paths import unusable_path_reason

__all__ = ["assign_names", "collect_inputs", "safe_stem"]


def collect_inputs(inputs: Sequence[str | os.PathLike], exclude: Path | None = None
                   ) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to predict, in a deterministic order, and the inputs skipped as (name, reason).

    Files named explicitly are always tried (whatever their extension). Folders are searched
    recursively for :data:`IMAGE_EXTENSIONS` (case-insensitive), sorted by relative path; other
    files, hidden files and anything under ``exclude`` (the output folder) are ignored silently.
    A path given twice, or found twice, is predicted once.
    """
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    seen: set[Path] = set()
    excluded = Path(os.path.realpath(exclude)) if exclude is not None else None  # never raises, even on a loop

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            images = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                      and not any(part.startswith(".") for part in p.relative_to(path).parts)]
            found = [p for p in images if excluded is None or not p.resolve().is_relative_to(excluded)]
            if images and not found:
                skipped.append((str(item), f"its {len(images)} image(s) lie inside the output folder {exclude}, "
                                "which is never read as input (a rerun would predict the outputs again): pass "
                                "another --out, or name the image files themselves"))
            for p in sorted(found, key=lambda p: p.relative_to(path).as_posix()):
                add(p)
        elif path.is_file():
            add(path)
        else:
            reason = unusable_path_reason(path)
            skipped.append((str(item), f"{reason}" if reason else "not found"))
    return files, skipped


def assign_names(paths: Sequence[Path], taken: Callable[[str], bool] | None = None) -> list[str]:
    """Unique output stems in input order: the second ``x`` becomes ``x-1``, the third ``x-2``.

    Compared case-insensitively, so outputs do not overwrite each other on macOS/Windows either.
    ``taken(stem)`` says a stem's outputs would replace files this program did not write (a user's
    ground truth beside the photos): such a stem is skipped the same way.
    """
    used: set[str] = set()
    names = []
    for path in paths:
        stem = candidate = safe_stem(path)
        k = 0
        while candidate.casefold() in used or (taken is not None and taken(candidate)):
            k += 1
            candidate = f"{stem}-{k}"
        used.add(candidate.casefold())
        names.append(candidate)
    return names
