"""What the app makes from one uploaded photo: depth picture, 3-D mesh, 16-bit PNG, PLY and a summary.

Kept free of Gradio, so the prediction and every file can be tested (and reused) without the web
extra. The depth comes from the same steps as ``zoedam predict`` (the image read with its EXIF
rotation, resized on the CPU to the network size, predicted, resized back bilinearly), and the
16-bit PNG and the PLY come from the same writers, so the app's downloads equal the command's files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torch import nn

from zoedam_lib.app.colorbar import depth_range, format_range, write_depth_figure
from zoedam_lib.camera.resolve import photo_camera
from zoedam_lib.inference.predict import predict_metric_depth
from zoedam_lib.io.images import read_image
from zoedam_lib.io.inputs import safe_stem
from zoedam_lib.io.mesh import depth_to_mesh, write_glb
from zoedam_lib.io.writers import rgb8, write_depth_png16, write_ply
from zoedam_lib.models.predict import (
    has_camera_head,
    is_camera_aware,
    model_depth_range,
)
from zoedam_lib.utils.depth import has_depth

PREVIEW_SIDE = 1024  # pixels; the page shows the photo ~600 px wide, so a 48-MP photo is not sent whole


@dataclass
class AppOutputs:
    """The files made for one photo, and the text shown beside them."""

    depth_figure: Path  # colour map with a colour bar in metres (PNG)
    mesh: Path  # decimated coloured triangle mesh for the 3-D view (.glb)
    depth_png: Path  # uint16 millimetres, 0 = invalid (the ``predict`` format)
    ply: Path  # coloured point cloud, one vertex per valid pixel (the ``predict`` format)
    summary: str  # Markdown: model, image size, depth range, intrinsics, mesh size, timings


def preview_image(image_path: str | Path, max_side: int = PREVIEW_SIDE) -> np.ndarray:
    """The photo as the model will see it (EXIF-rotated, 8-bit RGB), shrunk to ``max_side`` for the page."""
    image = Image.fromarray(rgb8(read_image(image_path)))
    image.thumbnail((max_side, max_side))
    return np.asarray(image)


def make_outputs(model: nn.Module, image_path: str | Path, out_dir: str | Path, flip_tta: bool = False,
                 model_summary: str = "", max_vertices: int | None = None,
                 intrinsics: tuple[float, float, float, float] | None = None) -> AppOutputs:
    """Predict one photo and write every file the app shows or offers for download into ``out_dir``.

    The depth (camera-aware models), the PLY and the mesh use the photo's camera as ``zoedam predict``
    resolves it (``intrinsics`` if given, else the EXIF focal length, else the model's estimate or the
    stated default; :mod:`zoedam_lib.camera.resolve`), and the summary says which. Raises
    :class:`~zoedam_lib.utils.errors.ImageReadError` (naming the file) when the upload is not an image,
    :class:`~zoedam_lib.utils.errors.ConfigError` when ``intrinsics`` cannot be pixels of this photo.
    """
    start = time.perf_counter()
    image = read_image(image_path)  # (H, W, 3), EXIF-rotated
    aware = is_camera_aware(model)
    camera = photo_camera(image_path, intrinsics, can_estimate=aware and has_camera_head(model))
    depth, camera = predict_metric_depth(model, image, flip_tta, camera)
    predicted = time.perf_counter()
    height, width = depth.shape
    out_dir = Path(out_dir)
    stem = safe_stem(image_path)
    out = AppOutputs(out_dir / f"{stem}_depth_colorbar.png", out_dir / f"{stem}_mesh.glb",
                     out_dir / f"{stem}_depth.png", out_dir / f"{stem}.ply", "")
    lo, hi = depth_range(depth)
    write_depth_figure(out.depth_figure, depth, title=f"{stem}: depth {format_range(lo, hi)}")
    write_depth_png16(out.depth_png, depth)
    ply = write_ply(out.ply, depth, image, camera.intrinsics, camera.source)
    mesh = depth_to_mesh(depth, image, camera.intrinsics, **({"max_vertices": max_vertices} if max_vertices else {}))
    write_glb(out.mesh, mesh)
    valid = has_depth(depth)
    median = float(np.median(depth[valid])) if valid.any() else float("nan")
    model_lo, model_hi = model_depth_range(model)
    out.summary = "\n".join([
        f"- **Model:** {model_summary or type(model).__name__}",
        f"- **Image:** {width} × {height} px (`{Path(image_path).name}`)",
        f"- **Depth:** {format_range(lo, hi)}, median {median:.3g} m "
        f"(the model predicts {model_lo:g} – {model_hi:g} m)",
        f"- **Camera:** {camera.describe()}; " + ("the depth in metres is scaled by it (a camera-aware model)"
                                                  if aware else "the depth does not depend on it (a camera-blind "
                                                  "model), the 3-D positions do"),
        f"- **3-D view:** {len(mesh.vertices):,} vertices, {len(mesh.faces):,} triangles (grid step "
        f"{mesh.stride} px; {mesh.dropped_faces:,} triangles dropped at depth jumps or invalid pixels)",
        f"- **Downloads:** `{out.depth_png.name}` (uint16 millimetres, 0 = no depth), `{out.ply.name}` "
        f"({ply.points:,} points, {ply.flying:,} flying pixels on depth edges left out; camera frame "
        "x right, y down, z forward, metres)",
        f"- **Time:** prediction {predicted - start:.2f} s, files {time.perf_counter() - predicted:.2f} s",
    ])
    return out
