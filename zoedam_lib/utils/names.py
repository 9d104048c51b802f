"""User-given names as file names: one sanitiser, and proof that a write stays inside its folder.

Results keys (``eval --name``), zero-shot set names, lock names and predict's output stems all end
up in file names. ``../../x`` must not write outside the output folder, ``../checkpoints/m/config``
must not replace a checkpoint's ``config.json``, a name beginning with ``-`` must not read as an
option to the next tool (``rm -f``), and a leading dot must not hide the file. :func:`safe_name`
makes any such name a plain stem; :func:`inside` builds a path from it and proves, after resolving
links, that it still lies inside its folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from zoedam_lib.utils.errors import OutputError

_UNSAFE_CHARS = re.compile(r"[^\w.-]+")
MAX_STEM = 100  # characters; leaves room for suffixes within the usual 255-byte file-name limit


def safe_name(name: str, default: str = "image") -> str:
    """``name`` as a safe file stem: its last path component only (``/`` and ``\\`` both separate), characters
    other than letters, digits, ``.``, ``-`` and ``_`` as ``_``, no leading dots or dashes, at most
    :data:`MAX_STEM` characters; ``default`` if nothing is left."""
    last = str(name).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    stem = _UNSAFE_CHARS.sub("_", last).lstrip(".-")[:MAX_STEM]
    return stem or default


def safe_stem(path: str | os.PathLike) -> str:
    """:func:`safe_name` of a file's stem (its name without the extension), for outputs named after inputs."""
    return safe_name(Path(os.fspath(path).replace("\\", "/")).stem)


def inside(folder: str | os.PathLike, filename: str) -> Path:
    """``folder / filename``, proven to lie inside ``folder`` (links resolved), else an :class:`OutputError`.

    Every writer of a user-named file builds its path here, so a name that slipped past
    :func:`safe_name` (or a symbolic link planted in the folder) cannot send the write elsewhere.
    """
    base = Path(os.path.realpath(folder))
    target = Path(os.path.realpath(Path(folder) / filename))
    if target == base or not target.is_relative_to(base):
        raise OutputError(f"refusing to write {filename!r}: it would land at {target}, outside the folder {base}. "
                          "Use a plain name (letters, digits, '.', '-', '_') without path separators.")
    return Path(folder) / filename
