"""Where things live: the project root, default data and run directories.

Notebooks run with their own folder as working directory (Jupyter, nbval) or the caller's
(papermill, Colab), so relative paths from parameter cells are resolved against the project
root when they do not exist relative to the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SYNTH_DIR = Path("data/synthrooms")
DEFAULT_SYNTH_FILE = DEFAULT_SYNTH_DIR / "synthrooms.mat"
DEFAULT_RUN_DIR = Path("runs/demo")


def project_root(start: str | os.PathLike | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: cwd) holding this project's pyproject."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and 'name = "zoedam_lib"' in pyproject.read_text(encoding="utf-8"):
            return folder
    return None


def resolve(path: str | os.PathLike) -> Path:
    """Resolve a user path: absolute as is; relative to cwd if it exists there; else to the project root."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve()
    root = project_root()
    if root is not None:
        return (root / p).resolve()
    return p.resolve()
