"""The notebooks' 3-D figure: predicted and ground-truth point clouds side by side, in metres.

A depth map hides what matters in 3-D: a wall that bends, a floor that tilts, a chair at the right
distance but the wrong size. Both depth maps are back-projected through the same camera with
:func:`~zoedam_lib.camera.geometry.backproject` (the function behind the PLY and the app's mesh) and drawn
on the same axes with one metre the same length along every axis, so shapes compare directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.camera.geometry import EDGE_JUMP, backproject, flying_pixels
from zoedam_lib.io.mesh import grid_stride
from zoedam_lib.io.writers import rgb8
from zoedam_lib.utils.depth import has_depth
from zoedam_lib.viz.figures import add_note

MAX_POINTS = 4000  # per cloud: enough to see surfaces, few enough for an interactive 3-D scatter


def cloud_points(depth_m: np.ndarray, rgb: np.ndarray, intrinsics: Sequence[float], max_points: int = MAX_POINTS,
                 max_jump: float = EDGE_JUMP) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) camera-frame points (metres) and (N, 3) colours in [0, 1] of a regular pixel grid.

    The grid takes every ``stride``-th row and column, the smallest stride giving at most
    ``max_points`` pixels, so two depth maps of one image are sampled at the same pixels. Invalid
    pixels and flying pixels (:func:`~zoedam_lib.camera.geometry.flying_pixels`, as in the PLY) are left out.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2 or np.asarray(rgb).shape[:2] != depth.shape:
        raise ValueError(f"expected an (H, W) depth map and an (H, W, 3) image of the same size, got depth "
                         f"{depth.shape} and image {np.asarray(rgb).shape}")
    stride = grid_stride(*depth.shape, max_points)
    grid = np.ix_(np.arange(0, depth.shape[0], stride), np.arange(0, depth.shape[1], stride))
    keep = (has_depth(depth) & ~flying_pixels(depth, max_jump))[grid]  # (h, w)
    points = backproject(depth[grid], intrinsics, *(g.ravel() for g in grid))[keep]
    colours = rgb8(np.asarray(rgb)[grid])[keep].astype(np.float32) / 255.0
    return points, colours


def point_cloud_figure(rgb: np.ndarray, depths: Mapping[str, np.ndarray],
                       intrinsics: Sequence[float] | Mapping[str, Sequence[float]], *, note: str,
                       max_points: int = MAX_POINTS) -> Figure:
    """Coloured 3-D scatters of one image's depth maps (e.g. prediction | ground truth), same camera, same axes.

    Args:
        rgb: (H, W, 3) image, uint8 or float in [0, 1], colouring the points.
        depths: name → (H, W) depth in metres (NaN or 0 where missing), one panel each.
        intrinsics: (fx, fy, cx, cy) in pixels at H x W, e.g. the dataset's for the image; or name →
            intrinsics, one per depth map (a photo read with and without its EXIF focal length).
        note: the data and preset the figure comes from, shown as the subtitle.
        max_points: points per cloud at most (a regular pixel grid, see :func:`cloud_points`).

    Drawn with the camera frame turned so that up is up: x right, z (depth) into the picture,
    -y up. The limits span every cloud, so a prediction too far or too small shows as such.
    """
    cams = intrinsics if isinstance(intrinsics, Mapping) else dict.fromkeys(depths, intrinsics)
    clouds = {name: cloud_points(depth, rgb, cams[name], max_points) for name, depth in depths.items()}
    same = len({tuple(c) for c in cams.values()}) == 1
    shown = [np.stack([p[:, 0], p[:, 2], -p[:, 1]], 1) for p, _ in clouds.values()]  # (N, 3): right, forward, up
    both = np.concatenate(shown + [np.zeros((1, 3))])  # the camera, at the origin, stays in view
    lo, hi = both.min(0), both.max(0)
    span = np.maximum(hi - lo, 1e-3)
    fig = plt.figure(figsize=(5 * len(clouds), 4.8))
    for i, ((name, (_, colours)), xyz) in enumerate(zip(clouds.items(), shown, strict=True)):
        ax = fig.add_subplot(1, len(clouds), i + 1, projection="3d")
        ax.scatter(*xyz.T, c=colours, s=3, depthshade=False, linewidths=0)
        ax.scatter([0], [0], [0], marker="^", c="k", s=30)  # the camera
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), zlim=(lo[2], hi[2]),
               xlabel="x, right [m]", ylabel="z, forward [m]", zlabel="up [m]")
        ax.set_box_aspect(tuple(span))  # one metre is as long on every axis
        ax.view_init(elev=20, azim=-65)
        ax.set_title(f"{name}: {len(xyz):,} points", fontsize=10)
    subtitle = ": same camera, same axes" if same else ": each with its own camera, same axes"
    fig.suptitle("Point clouds in metres" + (subtitle if len(clouds) > 1 else ""), y=0.98)
    add_note(fig, note)
    return fig
