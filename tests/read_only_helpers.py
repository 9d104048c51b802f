"""Read-only folders for the tests: a real read-only mount where this process may mount one, else
:func:`refuse_writes_under`, which refuses the Python calls that write there.

Tests run as root, where ``chmod`` stops nothing. ``ZOEDAM_TESTS_NO_MOUNT=1`` makes the fixtures take
the fallback even where they could mount, so what an unprivileged CI runs is also run here.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import subprocess
from pathlib import Path

NO_MOUNT_ENV = "ZOEDAM_TESTS_NO_MOUNT"  # =1: the read-only fixtures use refuse_writes_under, never a mount


def mounted(command: list[str]) -> bool:
    """Run one ``mount`` command of a read-only fixture: True if it succeeded. False where it fails, the
    command is missing, or ``ZOEDAM_TESTS_NO_MOUNT=1`` asks for :func:`refuse_writes_under` instead (so the
    fallback, which unprivileged CI takes, is also exercised where the tests may mount)."""
    if os.environ.get(NO_MOUNT_ENV) == "1":
        return False
    try:
        return subprocess.run(command, capture_output=True).returncode == 0
    except OSError:  # no such command
        return False


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def refuse_writes_under(monkeypatch, folder: Path) -> None:
    """Make every write under ``folder`` fail as on a read-only mount, where the tests cannot mount one
    (they run as root, so chmod stops nothing): ``PermissionError`` with errno EROFS, "Read-only file system".

    Refused, for paths under ``folder`` (links resolved): ``open``/``io.open`` (so ``Path.open``,
    ``Path.write_text``/``write_bytes``, ``shutil.copy``) in any mode that writes (``w``, ``a``, ``x``,
    ``+``), ``os.open`` with a write flag (``Path.touch``, ``tempfile``), ``os.mkdir``/``os.makedirs``
    (``Path.mkdir``), ``os.replace``/``os.rename`` into or out of it, and ``os.remove``/``os.unlink``/
    ``os.rmdir`` there. Reads still work. Not covered: writers in C given a path (h5py, ``torch.save``
    to a path, safetensors); the code under test probes a folder through Python calls before those.
    """
    root = Path(os.path.realpath(folder))
    real = {name: getattr(os, name) for name in ("open", "mkdir", "makedirs", "replace", "rename", "remove",
                                                 "unlink", "rmdir")}
    real_open = io.open

    def inside(path) -> bool:
        if isinstance(path, int):  # a file descriptor: opened (and so checked) already
            return False
        return Path(os.path.realpath(os.fsdecode(path))).is_relative_to(root)

    def refuse(path) -> None:
        if inside(path):
            raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    def fake_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path, flags, *args, **kwargs):
        if flags & WRITE_FLAGS:
            refuse(path)
        return real["open"](path, flags, *args, **kwargs)

    def one_path(name: str):
        def fake(path, *args, **kwargs):
            refuse(path)
            return real[name](path, *args, **kwargs)
        return fake

    def two_paths(name: str):
        def fake(src, dst, *args, **kwargs):
            refuse(src)
            refuse(dst)
            return real[name](src, dst, *args, **kwargs)
        return fake

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    for name in ("mkdir", "makedirs", "remove", "unlink", "rmdir"):
        monkeypatch.setattr(os, name, one_path(name))
    for name in ("replace", "rename"):
        monkeypatch.setattr(os, name, two_paths(name))
