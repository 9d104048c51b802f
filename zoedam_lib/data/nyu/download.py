"""Resumable downloads of the NYU Depth V2 files (urllib only, no extra dependency).

The labeled file is 2.8 GB from a slow academic server, so an interrupted download must resume:
bytes go to ``<name>.part``, a re-run asks for the rest with an HTTP Range request, and the
file gets its final name only once its size is checked, so a present final file is complete.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from http.client import HTTPException, HTTPResponse
from pathlib import Path

from zoedam_lib.data.nyu.reader import NYU_LABELED_SIZE, NYU_LABELED_URL
from zoedam_lib.data.splits import SPLITS_MAT_URL
from zoedam_lib.utils.errors import DataFileError
from zoedam_lib.utils.progress import tqdm

TIMEOUT_S = 60  # seconds without data before a connection counts as dropped
_HEADERS = {"User-Agent": "zoedam_lib (research download)"}


def download_file(url: str, out_path: str | os.PathLike, expected_size: int | None = None,
                  chunk_size: int = 1 << 20, progress: bool = True) -> Path:
    """Download ``url`` to ``out_path``, resuming ``out_path.part`` if an earlier run was cut off.

    Args:
        url: http(s) URL.
        out_path: final file; skipped if it already exists (it only appears once complete).
        expected_size: bytes the file must have; ``None`` trusts the server's Content-Length.
        chunk_size: bytes per read.
        progress: show a tqdm bar.
    """
    out_path = Path(out_path)
    part = out_path.with_suffix(out_path.suffix + ".part")
    if out_path.exists():
        size = out_path.stat().st_size
        if expected_size is None or size == expected_size:
            return out_path
        raise DataFileError(f"{out_path} exists with {size:,} bytes, expected {expected_size:,}: "
                            "delete it and re-run to download it again.")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if part.exists() else 0
    if expected_size is not None and start == expected_size:
        return _finish(part, out_path, expected_size)
    headers = {**_HEADERS, **({"Range": f"bytes={start}-"} if start else {})}
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # nothing left to fetch: the .part is complete (or too long)
            return _finish(part, out_path, expected_size or _total_from_range(e.headers.get("Content-Range")))
        raise DataFileError(f"downloading {url} failed: HTTP {e.code} {e.reason}.") from e
    except (urllib.error.URLError, OSError, HTTPException) as e:
        raise _network_error(url, part, e) from e
    with resp:
        if resp.status != 206:
            start = 0  # the server ignored Range: it sends the whole file, so start over
        elif _range_start(resp.headers.get("Content-Range")) != start:
            raise DataFileError(f"{url} answered the resume request with the wrong range "
                                f"({resp.headers.get('Content-Range')}); delete {part} and re-run.")
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        total = _total_from_range(resp.headers.get("Content-Range")) or total
        if expected_size is not None and total is not None and total != expected_size:
            raise DataFileError(f"{url} is {total:,} bytes but {expected_size:,} were expected: "
                                "the server's file changed or the URL is wrong.")
        received = _stream(resp, part, start, total, chunk_size, progress, url)
    if total is not None and received < total:
        closed = ConnectionError(f"connection closed after {received:,} of {total:,} bytes")
        raise _network_error(url, part, closed)
    return _finish(part, out_path, expected_size or total)


def download_nyu(out_dir: str | os.PathLike = "data/nyu", with_splits: bool = True,
                 progress: bool = True) -> Path:
    """Fetch ``nyu_depth_v2_labeled.mat`` (2.8 GB) and the official ``splits.mat``; return the .mat path."""
    out_dir = Path(out_dir)
    labeled = download_file(NYU_LABELED_URL, out_dir / "nyu_depth_v2_labeled.mat", NYU_LABELED_SIZE,
                            progress=progress)
    if with_splits:
        download_file(SPLITS_MAT_URL, out_dir / "splits.mat", progress=progress)
    return labeled


def _stream(resp: HTTPResponse, part: Path, start: int, total: int | None, chunk_size: int, progress: bool,
            url: str) -> int:
    """Append the response body to ``part`` (truncated to ``start``); return the bytes it then holds."""
    received = start
    with open(part, "r+b" if start else "wb") as f, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not progress) as bar:
        f.truncate(start)
        f.seek(start)
        try:
            while chunk := resp.read(chunk_size):
                f.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        except (OSError, HTTPException) as e:
            f.flush()
            raise _network_error(url, part, e, received) from e
        f.flush()
        os.fsync(f.fileno())
    return received


def _finish(part: Path, out_path: Path, expected_size: int | None) -> Path:
    """Check the size of the complete ``.part`` and give it its final name."""
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DataFileError(f"{part} has {size:,} bytes but {expected_size:,} were expected: "
                            "delete the .part file and re-run the download.")
    os.replace(part, out_path)
    return out_path


def _range_start(content_range: str | None) -> int | None:
    """First byte of a ``Content-Range: bytes a-b/total`` header."""
    m = re.match(r"\s*bytes\s+(\d+)-", content_range or "")
    return int(m.group(1)) if m else None


def _total_from_range(content_range: str | None) -> int | None:
    """Total size from a ``Content-Range: bytes a-b/total`` (or ``bytes */total``) header."""
    m = re.search(r"/(\d+)\s*$", content_range or "")
    return int(m.group(1)) if m else None


def _network_error(url: str, part: Path, error: BaseException, kept: int | None = None) -> DataFileError:
    kept = kept if kept is not None else (part.stat().st_size if part.exists() else 0)
    return DataFileError(f"downloading {url} was interrupted ({error}); {kept:,} bytes are kept in {part}: "
                         "re-run the same command to resume.")
