"""The pseudo-label cache's checksum file: ``<sha256>  <entry file>`` per line, ``sha256sum -c``'s format.

A checksum is appended (and fsynced) only once its entry is in place, so a crash leaves at most an
entry without a checksum (then recomputed), never a checksum vouching for a wrong entry. Appending
keeps an interrupted build's progress; the file is compacted (one line per entry, written and
renamed) when a build finishes. A torn last line (a crash while appending) is ignored, and the last
line of an entry wins, so a recomputed entry's new checksum replaces the old one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from zoedam_lib.utils.atomic import atomic_open

CHECKSUMS = "entries.sha256"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_checksums(path: Path) -> dict[str, str]:
    """Entry file name → sha256 from the checksum file at ``path`` (empty when missing or unreadable)."""
    checksums: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return checksums
    for line in lines:
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name.endswith(".npy"):
            checksums[name] = digest
    return checksums


def append_checksum(path: Path, name: str, digest: str) -> None:
    """Record entry ``name``'s sha256, durably, now that the entry is in place."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{digest}  {name}\n")
        f.flush()
        os.fsync(f.fileno())


def write_checksums(path: Path, checksums: dict[str, str]) -> None:
    """Replace the checksum file by one line per entry, sorted (readers see the old file or the new one)."""
    with atomic_open(path) as f:
        f.writelines(f"{digest}  {name}\n" for name, digest in sorted(checksums.items()))
