"""Where things live: the project root, default data and run directories.

Notebooks run with their own folder as working directory (Jupyter, nbval) or the caller's
(papermill, Colab), so relative paths from parameter cells are resolved against the project
root when they do not exist relative to the working directory.
"""

from __future__ import annotations

import errno
import os
import stat
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
        return _resolved(p)
    root = project_root()
    if root is not None:
        return _resolved(root / p)
    return _resolved(p)


def _resolved(p: Path) -> Path:
    """``p.resolve()``, or ``p`` made absolute when it is a symbolic-link loop (resolve raises), so that the
    caller's check can say "a symbolic link loop" instead of failing with a traceback."""
    try:
        return p.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(p))


def unusable_path_reason(path: str | os.PathLike) -> str | None:
    """Why something at ``path`` cannot be read as a file or folder, or None (a regular file, a folder, nothing).

    ``Path.exists()`` is False for a symbolic-link loop and True for ``/dev/zero``, so "not found"
    and "cannot read" errors would name the wrong cause: this says "a symbolic link loop", "a
    broken symbolic link to …", "a character device" or "a named pipe" instead (and never opens
    the path: reading a FIFO or /dev/zero would block or never end).
    """
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (a link that leads back to itself)"
        if p.is_symlink():
            return f"a broken symbolic link (to {os.readlink(p)}, which does not exist)"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "not accessible (permission denied)"
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kinds = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), "not a regular file") + ", not a regular file"


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
