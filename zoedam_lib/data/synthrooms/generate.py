"""SynthRooms: the project's embedded indoor dataset, rendered because NYU Depth V2 cannot be downloaded.

Procedural rooms (:mod:`synthrooms_layout`, styles in :mod:`synthrooms_style`) are ray-cast
(:mod:`synthrooms_scene`), textured (:mod:`synthrooms_texture`) and lit (:mod:`synthrooms_shade`)
in numpy through a pinhole camera (NYU's Kinect by default, :mod:`zoedam_lib.camera.intrinsics`), giving RGB
plus z-depth in 0.5-10 m. Every image belongs to one domain of :mod:`synthrooms_domains`; item ``i``
of seed ``s`` depends only on ``np.random.default_rng([s, stream + i])``, so files are identical for
any worker count. Labeled sets go into NYU-layout ``.mat`` files (one loader for both datasets);
``shifted``-style unlabeled JPEGs stand in for the paper's unlabeled images.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from zoedam_lib.camera.intrinsics import scaled_intrinsics
from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.synthrooms.domains import DOMAINS, STREAM_WIDTH, Domain, get_domain
from zoedam_lib.data.synthrooms.layout import sample_scene
from zoedam_lib.data.synthrooms.scene import cast_rays
from zoedam_lib.data.synthrooms.shade import shade
from zoedam_lib.data.synthrooms.style import get_style
from zoedam_lib.utils.atomic import atomic_write_json
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.output_dirs import ensure_output_dir
from zoedam_lib.utils.paths import DEFAULT_SYNTH_DIR, display_path
from zoedam_lib.utils.progress import tqdm

SYNTHROOMS_VERSION = 1          # bump when the renderer changes what a (seed, index) produces
DEPTH_RANGE = (0.5, 10.0)       # metres; scenes outside it are re-drawn from the same generator
UNLABELED_OFFSET = DOMAINS["shifted"].stream  # unlabeled item i uses the rng stream [seed, UNLABELED_OFFSET + i]
MAT_NAME, META_NAME = DOMAINS["labeled"].file, "synthrooms.json"
UNLABELED_DIR = DOMAINS["shifted"].file
Intrinsics4 = tuple[float, float, float, float]  # fx, fy, cx, cy in pixels at the rendered size


def render_scene(rng: np.random.Generator, height: int, width: int, style: str = "labeled",
                 intrinsics: Intrinsics4 | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample and render one room: image uint8 (H, W, 3) RGB and z-depth float32 (H, W) in metres.

    ``intrinsics`` default to NYU's camera scaled to ``height`` x ``width``.
    """
    params = get_style(style)
    intrinsics = scaled_intrinsics(height, width) if intrinsics is None else intrinsics
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


def render_domain_item(domain: Domain, seed: int, index: int, height: int,
                       width: int) -> tuple[np.ndarray, np.ndarray, Intrinsics4]:
    """Item ``index`` of ``domain``: image, z-depth and the intrinsics it was rendered with.

    The sub-style and the focal length are drawn from the item's own generator first, and only
    when the domain has a choice, so single-style fixed-camera domains consume the stream exactly
    as :func:`render_item` does (``labeled`` item i *is* ``render_item(seed, i)``).
    """
    if not 0 <= index < STREAM_WIDTH:
        raise ConfigError(f"item index must be in [0, {STREAM_WIDTH}) so domains never share images, got {index}")
    rng = np.random.default_rng([seed, domain.stream + index])
    style = domain.styles[int(rng.integers(len(domain.styles)))] if len(domain.styles) > 1 else domain.styles[0]
    lo, hi = domain.focal_scale
    focal_scale = lo if lo == hi else float(rng.uniform(lo, hi))
    intrinsics = scaled_intrinsics(height, width, focal_scale)
    return (*render_scene(rng, height, width, style, intrinsics), intrinsics)


def _domain_job(args: tuple[str, int, int, int, int]) -> tuple[np.ndarray, np.ndarray, Intrinsics4]:
    name, seed, index, height, width = args
    return render_domain_item(DOMAINS[name], seed, index, height, width)


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


def _check_counts(n: int, workers: int | None) -> int:
    """The worker count to use, after checking ``n`` fits one domain's rng stream."""
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if not 0 <= n <= STREAM_WIDTH or workers < 1:
        raise ConfigError(f"need 0 <= n <= {STREAM_WIDTH:,} images and workers >= 1; got n={n}, workers={workers}")
    return workers


def _write_mat(runner: _Runner, path: Path, domain: Domain, n: int, size: tuple[int, int], seed: int,
               attrs: dict, per_image_intrinsics: bool, progress: bool) -> dict[str, float]:
    """Render ``n`` items of ``domain`` into an NYU-layout file; returns depth statistics (m)."""
    height, width = size
    d_min, d_max, d_sum = np.inf, 0.0, 0.0
    with NyuMatWriter(path, n, height, width, attrs=attrs, with_intrinsics=per_image_intrinsics) as writer:
        jobs = [(domain.name, seed, i, height, width) for i in range(n)]
        for i, (image, depth, intrinsics) in enumerate(tqdm(runner.imap(_domain_job, jobs), total=n,
                                                             desc=f"SynthRooms {domain.name}", disable=not progress)):
            writer.write(i, image, depth, intrinsics if per_image_intrinsics else None)
            d_min, d_max = min(d_min, float(depth.min())), max(d_max, float(depth.max()))
            d_sum += float(depth.mean(dtype=np.float64))
    return {"depth_min": d_min, "depth_max": d_max, "depth_mean": d_sum / n}


def _write_unlabeled(runner: _Runner, folder: Path, n: int, size: tuple[int, int], seed: int,
                     progress: bool) -> Path:
    """``n`` shifted-style JPEGs ``NNNNN.jpg`` in ``folder``, removing those of an earlier, larger run."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if re.fullmatch(r"\d{5,}\.jpg", old.name) and int(old.stem) >= n:
            old.unlink()
    jobs = [(seed, i, *size, str(folder)) for i in range(n)]
    for _ in tqdm(runner.imap(_unlabeled_job, jobs, ordered=False), total=n,
                  desc="SynthRooms unlabeled", disable=not progress):
        pass
    return folder


def generate_synthrooms(out_dir: str | os.PathLike, n: int = 600, size: tuple[int, int] = (240, 320),
                        seed: int = 0, n_unlabeled: int | None = None, workers: int | None = None,
                        progress: bool = True) -> Path:
    """Render the ``labeled`` and ``shifted`` domains into ``out_dir``; return the path of ``synthrooms.mat``.

    Writes ``synthrooms.mat`` (NYU v7.3 layout, appears only when complete), ``unlabeled/NNNNN.jpg``
    (``n_unlabeled`` shifted-style images, default ``n // 2``) and ``synthrooms.json`` (metadata).
    Workers are spawned, so scripts must call this under ``if __name__ == "__main__":``.
    """
    height, width = size
    n_unlabeled = n // 2 if n_unlabeled is None else n_unlabeled
    workers = _check_counts(max(n, n_unlabeled), workers)
    if n <= 0 or n_unlabeled < 0:
        raise ConfigError(f"need n > 0, n_unlabeled >= 0; got {n}, {n_unlabeled}")
    out_dir = Path(out_dir)
    intrinsics = scaled_intrinsics(height, width)
    attrs = {"generator": "synthrooms", "version": SYNTHROOMS_VERSION, "seed": seed,
             "n_unlabeled": n_unlabeled, "intrinsics": np.array(intrinsics)}
    with _Runner(workers) as runner:
        stats = _write_mat(runner, out_dir / MAT_NAME, DOMAINS["labeled"], n, size, seed, attrs, False, progress)
        _write_unlabeled(runner, out_dir / UNLABELED_DIR, n_unlabeled, size, seed, progress)
    atomic_write_json(out_dir / META_NAME, {
        "generator": "synthrooms", "version": SYNTHROOMS_VERSION, "n": n, "size": [height, width],
        "seed": seed, "n_unlabeled": n_unlabeled, "intrinsics": list(intrinsics), **stats})
    return out_dir / MAT_NAME


def generate_domain(name: str, out_dir: str | os.PathLike = DEFAULT_SYNTH_DIR, n: int | None = None,
                    size: tuple[int, int] | None = None, seed: int | None = None, workers: int | None = None,
                    progress: bool = True) -> Path:
    """Render domain ``name`` of :data:`DOMAINS` into ``out_dir``/its file; ``None`` takes the table's default.

    ``labeled`` is :func:`generate_synthrooms` (with its unlabeled pool), ``shifted`` only the JPEG
    pool; the others write an NYU-layout ``.mat`` (complete or absent) whose attributes record the
    generator, version, domain, seed and, for a fixed camera, ``intrinsics``; per-image
    intrinsics go to the ``intrinsics`` dataset, read back by :meth:`NyuMat.intrinsics`.
    """
    domain = get_domain(name)
    n, size, seed = (domain.n if n is None else n), (size or domain.size), (domain.seed if seed is None else seed)
    if name == "labeled":
        return generate_synthrooms(out_dir, n=n, size=size, seed=seed, workers=workers, progress=progress)
    workers = _check_counts(n, workers)
    path = Path(out_dir) / domain.file
    with _Runner(workers) as runner:
        if not domain.labeled:
            return _write_unlabeled(runner, path, n, size, seed, progress)
        if n <= 0:
            raise ConfigError(f"need n > 0 images for {name!r}, got {n}")
        attrs = {"generator": "synthrooms", "version": SYNTHROOMS_VERSION, "domain": name, "seed": seed,
                 "stream": domain.stream, "styles": ",".join(domain.styles),
                 "focal_scale": np.array(domain.focal_scale)}
        if domain.fixed_camera:
            attrs["intrinsics"] = np.array(scaled_intrinsics(*size, domain.focal_scale[0]))
        _write_mat(runner, path, domain, n, size, seed, attrs, True, progress)
    return path


def ensure_domain(name: str, data_dir: str | os.PathLike = DEFAULT_SYNTH_DIR, **kwargs) -> Path:
    """The path of domain ``name`` in ``data_dir``, first rendering it with the defaults if it is missing.

    ``kwargs`` go to :func:`generate_domain` (n, size, seed, workers, progress).
    """
    path = Path(data_dir) / get_domain(name).file
    if path.is_file() or (path.is_dir() and any(path.glob("*.jpg"))):
        return path
    _writable_data_folder(name, path)
    print(f"SynthRooms domain {name!r} not found at {display_path(path)}: generating it now (one-off)")
    return generate_domain(name, data_dir, **kwargs)


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
    _writable_data_folder("labeled", path)
    print(f"SynthRooms not found at {display_path(path)}: generating it now (one-off, ~1 min for the default size)")
    return generate_synthrooms(path.parent, **kwargs)


def _writable_data_folder(name: str, path: Path) -> None:
    """Prove the folder a missing file is rendered into writable first: a read-only data folder (a shared
    course copy, a mounted dataset) gets what to do instead, not an error about a hidden temporary file."""
    ensure_output_dir(path.parent, "data folder", advice=(
        f"{path.name} is missing there, and SynthRooms renders a missing file into the folder it was asked "
        f"in. Render it into a writable folder (python -m zoedam_lib synth --domain {name} --out DIR) and pass "
        f"DIR/{path.name} instead (data_path / --data, or zero_shot / --zero-shot), or copy {path.parent} "
        "somewhere writable."))
