"""SynthRooms: the project's embedded indoor dataset, rendered because NYU Depth V2 cannot be downloaded.

Procedural rooms (:mod:`synthrooms_layout`, styles in :mod:`synthrooms_style`) are ray-cast
(:mod:`synthrooms_scene`), textured (:mod:`synthrooms_texture`) and lit (:mod:`synthrooms_shade`)
in numpy with NYU's Kinect intrinsics, giving RGB plus z-depth in 0.5-10 m. Item ``i`` of seed
``s`` depends only on ``np.random.default_rng([s, i])``, so files are identical for any worker
count. The labeled set goes into an NYU-layout ``.mat`` (one loader for
both datasets); ``shifted``-style unlabeled JPEGs stand in for the paper's unlabeled images.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_write_json
from ..errors import ConfigError
from ..progress import tqdm
from .matfile import NyuMatWriter
from .synthrooms_layout import sample_scene
from .synthrooms_scene import cast_rays
from .synthrooms_shade import shade
from .synthrooms_style import get_style

NYU_INTRINSICS = (518.86, 519.47, 325.58, 253.74)  # fx, fy, cx, cy at 480x640
SYNTHROOMS_VERSION = 1          # bump when the renderer changes what a (seed, index) produces
DEPTH_RANGE = (0.5, 10.0)       # metres; scenes outside it are re-drawn from the same generator
UNLABELED_OFFSET = 1_000_000    # unlabeled item i uses the rng stream [seed, UNLABELED_OFFSET + i]
MAT_NAME, META_NAME, UNLABELED_DIR = "synthrooms.mat", "synthrooms.json", "unlabeled"


def scaled_intrinsics(height: int, width: int) -> tuple[float, float, float, float]:
    """NYU's (fx, fy, cx, cy) for an image resized from 480x640 to ``height`` x ``width``."""
    fx, fy, cx, cy = NYU_INTRINSICS
    sx, sy = width / 640.0, height / 480.0
    return (fx * sx, fy * sy, cx * sx, cy * sy)


def render_scene(rng: np.random.Generator, height: int, width: int,
                 style: str = "labeled") -> tuple[np.ndarray, np.ndarray]:
    """Sample and render one room: image uint8 (H, W, 3) RGB and z-depth float32 (H, W) in metres."""
    params = get_style(style)
    intrinsics = scaled_intrinsics(height, width)
    for _ in range(20):
        scene = sample_scene(rng, params)
        hits = cast_rays(scene, intrinsics, height, width)
        if DEPTH_RANGE[0] <= hits.depth.min() and hits.depth.max() <= DEPTH_RANGE[1]:
            return shade(scene, hits, intrinsics[0], rng), hits.depth
    raise RuntimeError(f"SynthRooms drew 20 scenes outside the depth range {DEPTH_RANGE} m; "
                       "the style's room sizes are too large for the camera clearance")


def render_item(seed: int, index: int, height: int, width: int,
                style: str = "labeled") -> tuple[np.ndarray, np.ndarray]:
    """Item ``index`` of dataset ``seed``: a pure function of its arguments (any worker, any order)."""
    return render_scene(np.random.default_rng([seed, index]), height, width, style)


def _labeled_job(args: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    seed, index, height, width = args
    return render_item(seed, index, height, width, "labeled")


def _unlabeled_job(args: tuple[int, int, int, int, str]) -> None:
    """Render a shifted-style image and write it as JPEG atomically (temp name, then rename)."""
    seed, index, height, width, folder = args
    image, _ = render_item(seed, UNLABELED_OFFSET + index, height, width, "shifted")
    target = Path(folder) / f"{index:05d}.jpg"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    Image.fromarray(image).save(tmp, format="JPEG", quality=90)
    os.replace(tmp, target)


class _Runner:
    """``imap`` over a spawn pool (safe under Jupyter, macOS, Windows), or in-process for one worker."""

    def __init__(self, workers: int) -> None:
        self.pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None

    def imap(self, fn: Callable, jobs: Iterable, ordered: bool = True) -> Iterator:
        if self.pool is None:
            return map(fn, jobs)
        imap = self.pool.imap if ordered else self.pool.imap_unordered
        return imap(fn, jobs, chunksize=2)

    def __enter__(self) -> _Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


def generate_synthrooms(out_dir: str | os.PathLike, n: int = 600, size: tuple[int, int] = (240, 320),
                        seed: int = 0, n_unlabeled: int | None = None, workers: int | None = None,
                        progress: bool = True) -> Path:
    """Render the dataset into ``out_dir`` and return the path of its ``synthrooms.mat``.

    Writes ``synthrooms.mat`` (NYU v7.3 layout, appears only when complete), ``unlabeled/NNNNN.jpg``
    (``n_unlabeled`` shifted-style images, default ``n // 2``) and ``synthrooms.json`` (metadata).
    Workers are spawned, so scripts must call this under ``if __name__ == "__main__":``.
    """
    height, width = size
    n_unlabeled = n // 2 if n_unlabeled is None else n_unlabeled
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if n <= 0 or n_unlabeled < 0 or workers < 1:
        raise ConfigError(f"need n > 0, n_unlabeled >= 0, workers >= 1; got {n}, {n_unlabeled}, {workers}")
    out_dir = Path(out_dir)
    unlabeled = out_dir / UNLABELED_DIR
    unlabeled.mkdir(parents=True, exist_ok=True)
    for old in unlabeled.iterdir():  # stale images of an earlier, larger generation
        if re.fullmatch(r"\d{5,}\.jpg", old.name) and int(old.stem) >= n_unlabeled:
            old.unlink()
    intrinsics = scaled_intrinsics(height, width)
    attrs = {"generator": "synthrooms", "version": SYNTHROOMS_VERSION, "seed": seed,
             "n_unlabeled": n_unlabeled, "intrinsics": np.array(intrinsics)}
    d_min, d_max, d_sum = np.inf, 0.0, 0.0
    with _Runner(workers) as runner, NyuMatWriter(out_dir / MAT_NAME, n, height, width, attrs=attrs) as writer:
        jobs = [(seed, i, height, width) for i in range(n)]
        for i, (image, depth) in enumerate(tqdm(runner.imap(_labeled_job, jobs), total=n,
                                                 desc="SynthRooms labeled", disable=not progress)):
            writer.write(i, image, depth)
            d_min, d_max = min(d_min, float(depth.min())), max(d_max, float(depth.max()))
            d_sum += float(depth.mean(dtype=np.float64))
        jobs = [(seed, i, height, width, str(unlabeled)) for i in range(n_unlabeled)]
        for _ in tqdm(runner.imap(_unlabeled_job, jobs, ordered=False), total=n_unlabeled,
                      desc="SynthRooms unlabeled", disable=not progress):
            pass
    atomic_write_json(out_dir / META_NAME, {
        "generator": "synthrooms", "version": SYNTHROOMS_VERSION, "n": n, "size": [height, width],
        "seed": seed, "n_unlabeled": n_unlabeled, "intrinsics": list(intrinsics),
        "depth_min": d_min, "depth_max": d_max, "depth_mean": d_sum / n})
    return out_dir / MAT_NAME


def ensure_synthrooms(path: str | os.PathLike, **kwargs) -> Path:
    """Return ``path``, first generating SynthRooms into its folder if the file is missing.

    ``kwargs`` go to :func:`generate_synthrooms` (n, size, seed, n_unlabeled, workers, progress).
    """
    path = Path(path)
    if path.exists():
        return path
    if path.name != MAT_NAME:
        raise ConfigError(f"{path} does not exist and SynthRooms can only generate a file named {MAT_NAME}; "
                          f"pass {path.with_name(MAT_NAME)} or download the dataset you meant")
    print(f"SynthRooms not found at {path}: generating it now (one-off, ~1 min for the default size)")
    return generate_synthrooms(path.parent, **kwargs)
