"""Write-then-rename helpers, so a crash never leaves a half-written output behind.

A reader either sees the previous complete file or the new complete file: the data goes to a
temporary file in the same directory (same filesystem), is flushed and fsynced, and only then
``os.replace``-d over the target, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` if the block succeeds.

    Use this for writers that insist on a file name (h5py, PIL, safetensors).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get the usual permissions
    try:
        yield tmp_path
        _fsync_file(tmp_path)
        os.replace(tmp_path, target)
    except OSError as exc:
        _name_target(exc, target, tmp_path)
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a file for writing that only appears at ``target`` once fully written."""
    if mode not in ("w", "wb"):
        raise ValueError("atomic_open writes whole files: mode must be 'w' or 'wb'")
    with atomic_path(target) as tmp, open(tmp, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
        yield f


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_open(target, "wb") as f:
        f.write(data)


def atomic_write_json(target: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    with atomic_open(target, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False, default=_json_default)
        f.write("\n")


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` as a whole when the block succeeds.

    Multi-file outputs (weights + config) must never be seen half-updated. The old directory is
    moved aside, the new one renamed in, then the old one deleted. A failure in between puts the
    old one back at once; a kill in between leaves ``<target>.old`` complete, which
    :func:`recover_dir` puts back (``load_model`` calls it before reading a checkpoint).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    old = target.with_name(target.name + ".old")
    try:
        yield tmp
        for f in tmp.iterdir():
            _fsync_file(f)
        if target.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
        os.replace(tmp, target)
        if old.exists():
            shutil.rmtree(old)
    except OSError as exc:
        _name_target(exc, target, tmp)
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
        recover_dir(target)  # an error between the two renames must not leave the target missing


def recover_dir(target: str | os.PathLike) -> Path:
    """Return ``target``, restoring it from ``<target>.old`` if a swap was interrupted."""
    target = Path(target)
    old = target.with_name(target.name + ".old")
    if not target.exists() and old.exists():
        os.replace(old, target)
    return target


def _name_target(exc: OSError, target: Path, tmp: Path) -> None:
    """Make ``exc`` name the file the user asked for: a write that fails on a full disk (``f.write``) names no
    file at all, and one that fails on the temporary names a hidden file the user never heard of."""
    if exc.filename is None or str(tmp) in str(exc.filename):
        exc.filename = str(target)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_file(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


def _json_default(obj: Any) -> Any:
    """Make numpy scalars/arrays and paths JSON-serialisable."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
