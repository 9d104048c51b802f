"""Which files a prediction reads, and the output names it gives them.

A folder of photos is searched in a fixed order (so a run is repeatable), hidden files and the
output folder itself are left out, and every output stem is safe: it cannot leave the output
folder, hide itself or overwrite another output of the same run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from zoedam_lib.io.images import IMAGE_EXTENSIONS
from zoedam_lib.utils.paths import unusable_path_reason

_UNSAFE_CHARS = re.compile(r"[^\w.-]+")
_MAX_STEM = 100  # characters; leaves room for suffixes within the usual 255-byte file-name limit


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
            found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)
                     and (excluded is None or not p.resolve().is_relative_to(excluded))]
            for p in sorted(found, key=lambda p: p.relative_to(path).as_posix()):
                add(p)
        elif path.is_file():
            add(path)
        else:
            reason = unusable_path_reason(path)
            skipped.append((str(item), f"{reason}" if reason else "not found"))
    return files, skipped


def safe_stem(path: str | os.PathLike) -> str:
    """An output stem from a file name that cannot leave the output folder or hide itself.

    Only the last path component is used; characters other than letters, digits, ``.``, ``-``
    and ``_`` become ``_``; leading dots are dropped (no ``..``, no hidden files).
    """
    stem = _UNSAFE_CHARS.sub("_", Path(os.fspath(path).replace("\\", "/")).stem)
    stem = stem.lstrip(".")[:_MAX_STEM]
    return stem or "image"


def assign_names(paths: Sequence[Path]) -> list[str]:
    """Unique output stems in input order: the second ``x`` becomes ``x-1``, the third ``x-2``.

    Compared case-insensitively, so outputs do not overwrite each other on macOS/Windows either.
    """
    used: set[str] = set()
    names = []
    for path in paths:
        stem = candidate = safe_stem(path)
        k = 0
        while candidate.casefold() in used:
            k += 1
            candidate = f"{stem}-{k}"
        used.add(candidate.casefold())
        names.append(candidate)
    return names
