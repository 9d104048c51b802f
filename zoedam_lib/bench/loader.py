"""Throughput and peak memory of the dataset readers on a full-size (1449 × 480 × 640) dataset.

The peak RSS is measured in a fresh child process, so it is the loader's own footprint and not
whatever the calling notebook already holds. Any path :func:`open_dataset` accepts can be
measured: an NYU-layout file (:class:`NyuMat`) or a folder dataset. Run as a script to generate
procedural images, measure them, and delete them::

    python -m zoedam_lib.bench.loader --out /tmp/bench.mat --compression gzip
    python -m zoedam_lib.bench.loader --out /tmp/bench_folder --format folder
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from zoedam_lib.bench.common import current_rss_mb, peak_rss_mb
from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.sources import open_dataset


def write_bench_file(path: str | os.PathLike, n: int = 1449, height: int = 480, width: int = 640,
                     compression: str | None = None, n_distinct: int = 8, seed: int = 0) -> Path:
    """An NYU-size file of ``n_distinct`` procedural items repeated (cheap to make, same bytes on disk)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    items = []
    for _ in range(n_distinct):
        fx, fy, phase = rng.uniform(0.005, 0.05, size=2).tolist() + [rng.uniform(0, 6.3)]
        pattern = np.sin(fx * xx + phase) * np.cos(fy * yy)  # (H, W)
        base = 127 + 80 * pattern[..., None] * rng.uniform(0.3, 1, 3)  # (H, W, 3)
        image = np.clip(base + rng.normal(0, 6, (height, width, 3)), 0, 255).astype(np.uint8)  # sensor noise
        depth = (1.0 + 4.0 * yy / height + 0.5 * np.sin(fx * xx + phase)).astype(np.float32)
        items.append((image, depth))
    with NyuMatWriter(path, n, height, width, compression=compression) as w:
        for i in range(n):
            w.write(i, *items[i % n_distinct])
    return Path(path)


def measure_loader(path: str | os.PathLike, n_items: int | None = None, drop_cache: bool = False) -> dict:
    """Images/s and peak RSS (MB) of reading ``n_items`` items with ``read`` in a fresh process.

    ``drop_cache`` first asks the OS to evict the file from the page cache (``posix_fadvise``),
    approximating a cold first epoch; otherwise a just-written file is read from memory.
    """
    cmd = [sys.executable, "-m", "zoedam_lib.bench.loader", "--child", os.fspath(path),
           "--n-items", str(n_items or 0)]
    if drop_cache:
        cmd.append("--drop-cache")
    root = str(Path(__file__).resolve().parents[2])  # importable even when not pip-installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"loader benchmark child failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child(path: str, n_items: int, drop_cache: bool) -> dict:
    """Runs in the fresh process: read the items, then report the process's own peak RSS."""
    files = _files(Path(path))
    if drop_cache and hasattr(os, "posix_fadvise"):
        for file in files:
            fd = os.open(file, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
    rss_before = current_rss_mb()
    start = time.perf_counter()
    with open_dataset(path) as data:
        n = n_items or len(data)
        for i in range(n):
            data.read(i)
    seconds = time.perf_counter() - start
    return {"n_items": n, "seconds": round(seconds, 3), "images_per_s": round(n / seconds, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "rss_before_reading_mb": round(rss_before, 1),
            "rss_after_reading_mb": round(current_rss_mb(), 1),
            "file_mb": round(sum(f.stat().st_size for f in files) / 2**20, 1), "cold_cache": drop_cache}


def _files(path: Path) -> list[Path]:
    """The file itself, or every file under a folder dataset."""
    return sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/zoedam_loader_bench.mat", help="file or folder to generate and measure")
    parser.add_argument("--format", choices=["mat", "folder"], default="mat",
                        help="folder: export the generated file to a folder dataset (PNG images, 16-bit mm depth)")
    parser.add_argument("--compression", choices=["none", "gzip"], default="none")
    parser.add_argument("--n-items", type=int, default=0, help="items to read (0: all)")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--child", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--drop-cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.n_items, args.drop_cache)))
        return
    path = Path(args.out)
    start = time.perf_counter()
    mat = path if args.format == "mat" else path / "bench.mat"
    mat.parent.mkdir(parents=True, exist_ok=True)
    write_bench_file(mat, compression=None if args.compression == "none" else args.compression)
    if args.format == "folder":
        from zoedam_lib.data.folder.export import (
            export_folder,  # matplotlib, via the writers: not in the measured child
        )

        export_folder(mat, path, remove_source=True)
    report = {"format": args.format, "compression": args.compression, "write_s": round(time.perf_counter() - start, 1)}
    try:
        report["warm"] = measure_loader(path, args.n_items or None)
        report["cold"] = measure_loader(path, args.n_items or None, drop_cache=True)
    finally:
        if not args.keep:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
