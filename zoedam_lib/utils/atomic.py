"""Write-then-rename helpers, so a crash never leaves a half-written output behind.

A reader either sees the previous complete file or the new complete file: the data goes to a
temporary file in the same directory (same filesystem), is flushed and fsynced, and only then
``os.replace``-d over the target, which is atomic on POSIX and Windows.

A process killed (SIGKILL, the OOM killer, a power cut) between opening its temporary and renaming
it leaves the temporary behind: for a training state that is a file as large as the model and its
optimizer moments, one more after every pre-emption. Temporaries are therefore named after their
writer (``.<target>.<host>-<pid>-<random>.tmp``), and :func:`remove_stale_temporaries` deletes those
whose writer no longer runs on this host; the checkpoint writers call it before each write.
"""

from __future__ import annotations

import contextlib
import errno as errnos
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

# What a system says when it refuses a write (full disk or quota, file size limit, read-only, I/O, permission)
REFUSALS = frozenset({errnos.ENOSPC, errnos.EDQUOT, errnos.EFBIG, errnos.EROFS, errnos.EIO, errnos.EACCES,
                      errnos.EPERM})


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` if the block succeeds.

    Use this for writers that insist on a file name (h5py, PIL, safetensors).
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
    except OSError as exc:  # a read-only folder: name the file asked for, not the hidden temporary
        _name_target(exc, target, target.parent / _temp_prefix(target))
        raise
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get the usual permissions
    try:
        yield tmp_path
        _fsync_file(tmp_path)
        os.replace(tmp_path, target)
    except Exception as exc:
        refused = _refused_write(exc, target, tmp_path)
        if refused is exc:
            raise
        raise refused from exc
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
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
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
    except Exception as exc:
        refused = _refused_write(exc, target, tmp)
        if refused is exc:
            raise
        raise refused from exc
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


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Delete the temporaries of ``target`` left by writers that were killed; returns what was deleted.

    Only those written on this host by a process that no longer runs: another process writing the
    same target right now keeps its file (deleting it would make its rename fail). A pid reused by
    another program counts as running, which only keeps a leftover longer.
    """
    target = Path(target)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.{_host_tag()}-(\d+)-[^/]*\.tmp")
    removed = []
    for path in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        match = pattern.fullmatch(path.name)
        if match is None or _running(int(match[1])):
            continue
        with contextlib.suppress(FileNotFoundError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{_host_tag()}-{os.getpid()}-"


def _host_tag() -> str:
    """8 hex digits of this host's name: temporaries in a folder shared between hosts tell their host apart."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; a pid no system has
        return True
    return True


def _refused_write(exc: Exception, target: Path, tmp: Path) -> Exception:
    """``exc`` as the error a reader can act on: an ``OSError`` naming ``target`` when the system refused the write.

    ``torch.save`` reports a full disk as ``RuntimeError: [enforce fail at inline_container.cc:672] .
    unexpected pos 576 vs 534`` (the ``OSError`` of the file object it wrote to is only its context),
    and safetensors as ``SafetensorError: … No space left on device (os error 28)``: neither says what
    is wrong nor which file, and the command line, which shows refused writes as one line, cannot
    recognise them. Other errors are returned unchanged.
    """
    if isinstance(exc, OSError):
        _name_target(exc, target, tmp)
        return exc
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    code = cause.errno if isinstance(cause, OSError) else None
    if code is None:
        found = re.search(r"\(os error (\d+)\)", str(exc))
        code = int(found[1]) if found else None
    if code not in REFUSALS:  # e.g. a parser's error raised while handling a FileNotFoundError
        return exc
    return OSError(code, os.strerror(code), str(target))


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
