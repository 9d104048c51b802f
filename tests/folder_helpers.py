"""Tiny folder datasets written by hand for the folder-reader tests (images/ + depth/, manifests, units)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

H, W = 6, 8
UNIT_FACTORS = {"mm": 1000.0, "kitti": 256.0}  # stored integer per metre


def rgb(i: int, size: tuple[int, int] = (H, W)) -> np.ndarray:
    """A deterministic uint8 (H, W, 3) image for item i."""
    return np.random.default_rng([1, i]).integers(0, 256, size=(*size, 3), dtype=np.uint8)


def metres(i: int, size: tuple[int, int] = (H, W)) -> np.ndarray:
    """A deterministic float32 (H, W) depth in 0.5-9 m for item i."""
    return np.random.default_rng([2, i]).uniform(0.5, 9.0, size=size).astype(np.float32)


def write_png16(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, dtype=np.uint16)).save(path)


def write_pair(root: Path, stem: str, i: int, unit: str | float = "mm", depth_ext: str = ".png",
               image_ext: str = ".png", size: tuple[int, int] = (H, W), depth_size: tuple[int, int] | None = None,
               images_dir: str = "images", depth_dir: str = "depth") -> tuple[Path, Path]:
    """Write item i as images/<stem><image_ext> + depth/<stem><depth_ext>; unit is a name or metres per unit."""
    image_path, depth_path = root / images_dir / f"{stem}{image_ext}", root / depth_dir / f"{stem}{depth_ext}"
    image_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb(i, size)).save(image_path)
    depth = metres(i, depth_size or size)
    if depth_ext == ".npy":
        depth_path.parent.mkdir(parents=True, exist_ok=True)
        np.save(depth_path, depth)
    else:
        per_metre = UNIT_FACTORS[unit] if isinstance(unit, str) else 1.0 / unit
        write_png16(depth_path, np.rint(depth * per_metre))
    return image_path, depth_path


def make_folder(root: Path, n: int = 4, spec: dict | None = None, **pair_options) -> Path:
    """A folder dataset of n pairs named a0, a1, ... (sorted order = item order)."""
    for i in range(n):
        write_pair(root, f"a{i}", i, **pair_options)
    if spec is not None:
        (root / "dataset.json").write_text(json.dumps(spec))
    return root
