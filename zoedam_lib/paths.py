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


def display_path(path: str | os.PathLike) -> str:
    """``path`` as printed to a user: relative to the project root (else the working directory),
    else under ``~``; absolute only when it lies outside all three. A relative path is kept as given.

    Printed paths end up in committed notebook outputs: ``/work/main/runs/demo/…`` says where one
    machine kept its files, while ``runs/demo/…`` is where every reader finds theirs.
    """
    p = Path(path).expanduser()
    if not p.is_absolute():  # already relative (as the user typed it), or not a path at all (a Hub id)
        return str(path)
    p = p.resolve()
    for base in (project_root(), Path.cwd().resolve()):
        if base is not None and p.is_relative_to(base):
            return p.relative_to(base).as_posix() or "."
    home = Path.home().resolve()
    if p.is_relative_to(home) and home != Path("/"):
        return "~/" + p.relative_to(home).as_posix()
    return str(p)
