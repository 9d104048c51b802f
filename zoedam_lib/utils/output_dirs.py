"""Output folders: writable before any work starts, and written by one run at a time.

Hours of training must not end in a traceback because ``checkpoints/`` turned out to be
read-only, and two processes must not interleave one run's history, checkpoint and results.
:func:`ensure_output_dir` proves a folder writable (creating it) before a run starts, with an
error naming the folder and what to do; :func:`run_lock` makes a second process that would
write the same run's files stop at once, naming the holder (pid, host, since when).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from zoedam_lib.utils.errors import OutputError
from zoedam_lib.utils.names import inside, safe_name
from zoedam_lib.utils.paths import unusable_path_reason

LOCK_DIR = "locks"  # under the run's output folder: one <name>.lock per run
UNWRITTEN_LOCK_S = 10  # a lock file still without its record after this long was left by a process that died


def ensure_output_dir(path: str | os.PathLike, what: str = "output folder", advice: str | None = None) -> Path:
    """Create ``path`` if needed and prove it writable (a probe file is made and removed).

    ``what`` names the folder for the user (e.g. ``--out``); any failure is an :class:`OutputError`
    saying which folder, why (read-only file system, permission, a file in the way) and what to do:
    ``advice`` when the caller knows better than "choose a writable folder" (a data folder is not chosen
    as an output is).
    """
    path = Path(path)
    blocker = next((p for p in (path, *path.parents) if p.exists() or p.is_symlink()), None)
    if blocker is not None and not blocker.is_dir():
        kind = "an existing file" if blocker.is_file() else (unusable_path_reason(blocker) or "").split(",")[0]
        raise OutputError(f"{what} {path}: {blocker} is {kind or 'something else'}, not a folder. Pass a folder "
                          "path (it is created if missing), or move the file away.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write to the {what} {path}: {exc.strerror or exc} (a read-only file system, "
                          "missing permission or a full disk). " + (advice or "Choose a writable folder, e.g. under "
                                                                    "your home directory or /tmp.")) from None
    return path


@contextlib.contextmanager
def run_lock(out_dir: str | os.PathLike, name: str) -> Iterator[Path]:
    """Hold ``<out_dir>/locks/<name>.lock`` while the block runs; a second holder gets an :class:`OutputError`.

    The lock file records the holder's pid, host and start time. A lock left by a process that no
    longer runs on this host is stale: it is replaced (said once). A lock held on another host
    cannot be checked from here, so the error says how to remove it if that run is dead. The same
    process may take a lock it holds (a notebook running an experiment inside another).
    """
    path = inside(ensure_output_dir(Path(out_dir) / LOCK_DIR, "lock folder"), f"{safe_name(name, 'run')}.lock")
    mine = _holder()
    taken = False
    while not taken:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _read_holder(path)
            if holder.get("pid") == mine["pid"] and holder.get("host") == mine["host"]:
                yield path  # re-entered by its holder: the outer block releases it
                return
            if not _stale(holder, path):
                raise OutputError(_locked_message(path, holder, out_dir)) from None
            print(f"removing a stale lock {path} (pid {holder.get('pid')} on {holder.get('host')} is not running)")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(mine, f)
        taken = True
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            if _read_holder(path).get("pid") == mine["pid"]:
                os.unlink(path)


@contextlib.contextmanager
def waiting_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) while the block runs, waiting for
    any other holder first.

    For work that two processes of one experiment may both start on a shared folder (the pseudo-label
    cache's build when notebook 05 runs the student and the control side by side): the second waits,
    then finds the work done. The kernel drops the lock when its holder dies, so none goes stale.
    Without ``fcntl`` (Windows) the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on the platforms we run
        yield
        return
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _holder() -> dict[str, object]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": _process_start(os.getpid()),
            "since": _dt.datetime.now().isoformat(timespec="seconds")}


def _read_holder(path: Path) -> dict[str, object]:
    """The lock's record; an empty or half-written one (its writer died at once) reads as a dead holder."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _stale(holder: dict[str, object], path: Path) -> bool:
    """True when the holder is certainly gone: on this host, and its pid runs no more (or runs another program).

    A lock without a readable record is being written right now (between create and write), unless
    it is older than a few seconds: then its writer died at once.
    """
    pid = holder.get("pid")
    if not isinstance(pid, int):
        try:
            return time.time() - path.stat().st_mtime > UNWRITTEN_LOCK_S
        except FileNotFoundError:
            return True
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    started = holder.get("started")
    return started is not None and started != _process_start(pid)  # the pid was reused


def _process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), telling a reused pid from its first owner."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _locked_message(path: Path, holder: dict[str, object], out_dir: str | os.PathLike) -> str:
    if not holder:
        return (f"{out_dir} is being locked by another run right now ({path} has no record yet). Wait for it to "
                "finish, or pass another output folder.")
    return (f"{out_dir} is in use by another run: process {holder.get('pid')} on {holder.get('host')} holds {path} "
            f"since {holder.get('since', '?')}. Two processes writing one run would mix their checkpoints, history "
            "and results. Wait for it to finish (a resume, too, must wait), or pass another output folder. If that "
            f"process is no longer running, delete {path}.")
