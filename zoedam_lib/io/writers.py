"""Files a depth prediction is saved as: 16-bit PNG in millimetres, a colour preview, a PLY point cloud.

The 16-bit PNG is the common exchange format of depth datasets (TUM, ScanNet, the NYU toolbox):
integer millimetres with 0 meaning "no depth", so any tool can read it back without our code.
Every file is written atomically (see :mod:`zoedam_lib.utils.atomic`), so an interrupted run never
leaves a truncated image behind. The writers work row-chunk by row-chunk or through lookup
tables so that 48-megapixel predictions do not need several full-size float copies.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import matplotlib
import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from zoedam_lib.camera.geometry import EDGE_JUMP, backproject, flying_pixels
from zoedam_lib.camera.intrinsics import validate_intrinsics
from zoedam_lib.utils.atomic import atomic_open, atomic_path
from zoedam_lib.utils.depth import has_depth

SOFTWARE = "zoedam_lib"  # the PNG "Software" text and the PLY comment that mark a file as written here
MAX_MM = 65535  # largest depth a uint16 PNG holds: 65.535 m
_PLY_CHUNK_ROWS = 256  # rows back-projected at a time, bounding the PLY writer's memory
_VERTEX = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")])


class PlyCounts(NamedTuple):
    """What :func:`write_ply` wrote."""

    points: int  # vertices in the file
    flying: int  # valid pixels left out as flying pixels on depth edges (0 when kept)


def depth_to_mm(depth_m: np.ndarray) -> np.ndarray:
    """(H, W) metres → uint16 millimetres, rounded; invalid → 0, valid depths clipped to 1…65535 mm.

    Valid depths below 0.5 mm become 1 mm rather than 0, so that no valid pixel reads back as invalid.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"expected an (H, W) depth map in metres, got shape {depth.shape}")
    valid = has_depth(depth)
    mm = np.where(valid, depth, np.float32(0))
    mm *= 1000.0
    np.rint(mm, out=mm)
    np.clip(mm, 1, MAX_MM, out=mm)
    out = mm.astype(np.uint16)
    out[~valid] = 0
    return out


def write_depth_png16(path: str | os.PathLike, depth_m: np.ndarray) -> None:
    """Write (H, W) depth in metres as a 16-bit grayscale PNG of millimetres (0 = invalid)."""
    image = Image.fromarray(depth_to_mm(depth_m))
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", pnginfo=_mark())


def read_depth_png16(path: str | os.PathLike) -> np.ndarray:
    """A 16-bit millimetre depth PNG → float32 (H, W) metres, with invalid (0) pixels as NaN.

    NaN rather than 0 so that averaging or evaluating the map cannot silently count holes as 0 m.
    """
    with Image.open(path) as img:
        mm = np.asarray(img)
    if mm.ndim != 2:
        raise ValueError(f"{path} is not a single-channel depth PNG (shape {mm.shape})")
    depth = mm.astype(np.float32) / 1000.0
    depth[mm == 0] = np.nan
    return depth


def colorize(depth_m: np.ndarray, vmin: float | None = None, vmax: float | None = None,
             cmap: str = "turbo") -> np.ndarray:
    """(H, W) metres → uint8 (H, W, 3) RGB through a matplotlib colormap; invalid pixels black.

    ``vmin``/``vmax`` default to the valid depths' range. A 256-entry lookup table replaces
    ``cmap(values)``, which would build a float64 RGBA copy of the whole image.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"expected an (H, W) depth map in metres, got shape {depth.shape}")
    valid = has_depth(depth)
    if valid.any():
        lo = float(depth[valid].min()) if vmin is None else float(vmin)
        hi = float(depth[valid].max()) if vmax is None else float(vmax)
    else:
        lo, hi = 0.0, 1.0
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    t = np.where(valid, depth, np.float32(lo))
    t -= lo
    t *= scale
    np.clip(t, 0, 255, out=t)
    t += 0.5  # round half up on the cast below, without another float copy
    lut = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3]
    lut = np.round(lut * 255).astype(np.uint8)
    rgb = lut[t.astype(np.uint8)]
    rgb[~valid] = 0
    return rgb


def write_color_png(path: str | os.PathLike, depth_m: np.ndarray, vmin: float | None = None,
                    vmax: float | None = None, cmap: str = "turbo") -> None:
    """Write an 8-bit RGB preview of (H, W) depth in metres (see :func:`colorize`)."""
    image = Image.fromarray(colorize(depth_m, vmin, vmax, cmap))
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", pnginfo=_mark())


def written_here(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` was written by these writers (its PNG "Software" text or PLY comment).

    ``predict`` replaces such a file (a previous prediction) but never a file a user made, such as a
    ground-truth ``0001_depth.png`` beside its photo when ``--out`` is the photos' folder.
    """
    try:
        if str(path).lower().endswith(".ply"):
            with open(path, "rb") as f:
                return f"comment {SOFTWARE} ".encode() in f.read(200)
        with Image.open(path) as img:
            return img.format == "PNG" and img.info.get("Software") == SOFTWARE
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return False


def _mark() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", SOFTWARE)
    return info


def rgb8(rgb: np.ndarray) -> np.ndarray:
    """A chunk of an image (uint8, uint16 or float in [0, 1]; gray or RGB[A]) → uint8 (h, w, 3)."""
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = rgb[..., None]
    rgb = rgb[..., :3] if rgb.shape[-1] >= 3 else np.repeat(rgb[..., :1], 3, axis=-1)
    if rgb.dtype == np.uint8:
        return rgb
    if rgb.dtype == np.uint16:
        return ((rgb.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(rgb.dtype, np.floating):
        return np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)
    raise ValueError(f"unsupported colour dtype {rgb.dtype}; expected uint8, uint16 or float in [0, 1]")


def write_ply(path: str | os.PathLike, depth_m: np.ndarray, rgb: np.ndarray,
              intrinsics: tuple[float, float, float, float], source: str | None = None,
              max_jump: float | None = EDGE_JUMP) -> PlyCounts:
    """Write a coloured point cloud: one vertex per valid pixel off depth edges, via :func:`backproject`.

    Points are in the camera frame (x right, y down, z forward, metres; pixel centres at integer
    (u, v)). Flying pixels (:func:`~zoedam_lib.camera.geometry.flying_pixels` with ``max_jump``) are left
    out unless ``max_jump`` is None. The header records the intrinsics, ``source`` (where they came
    from, e.g. ``"from EXIF FocalLengthIn35mmFilm=26 mm"``) and the flying pixels dropped, so the
    file says how it was made. Binary little-endian PLY: float x, y, z and uchar red, green, blue.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"expected an (H, W) depth map in metres, got shape {depth.shape}")
    if np.asarray(rgb).shape[:2] != depth.shape:
        raise ValueError(f"colour image shape {np.asarray(rgb).shape} does not match the depth map {depth.shape}")
    fx, fy, cx, cy = validate_intrinsics(intrinsics, where="write_ply")
    keep = has_depth(depth)
    flying = 0
    if max_jump is not None:
        edges = flying_pixels(depth, max_jump)
        flying = int(edges.sum())
        keep &= ~edges
        del edges
    lines = ["ply", "format binary_little_endian 1.0",
             f"comment {SOFTWARE} metric depth; camera frame x right, y down, z forward; metres",
             f"comment intrinsics fx {fx!r} fy {fy!r} cx {cx!r} cy {cy!r}"]
    if source is not None:
        lines.append("comment intrinsics " + " ".join(source.split()).encode("ascii", "replace").decode())
    lines.append("comment flying pixels kept" if max_jump is None else f"comment flying pixels dropped {flying} "
                 f"(relative depth jump over {100 * max_jump:g}% to a 4-neighbour)")
    lines += [f"element vertex {int(keep.sum())}", "property float x", "property float y", "property float z",
              "property uchar red", "property uchar green", "property uchar blue", "end_header", ""]
    count = 0
    with atomic_open(path, "wb") as f:
        f.write("\n".join(lines).encode("ascii"))
        for r0 in range(0, depth.shape[0], _PLY_CHUNK_ROWS):
            chunk = keep[r0:r0 + _PLY_CHUNK_ROWS]
            rows = np.arange(r0, r0 + len(chunk))
            points = backproject(depth[r0:r0 + _PLY_CHUNK_ROWS], (fx, fy, cx, cy), rows)[chunk]  # (n, 3)
            vertices = np.empty(len(points), dtype=_VERTEX)
            vertices["x"], vertices["y"], vertices["z"] = points.T
            colours = rgb8(np.asarray(rgb)[r0:r0 + _PLY_CHUNK_ROWS])[chunk]
            vertices["red"], vertices["green"], vertices["blue"] = colours.T
            f.write(vertices.tobytes())
            count += len(points)
    return PlyCounts(count, flying)
