"""Depth maps to 3-D: back-projection through a pinhole camera, and the flying pixels to leave out.

Every 3-D output (the PLY point cloud, the app's mesh, the notebooks' point-cloud figure) goes
through :func:`backproject` and :func:`flying_pixels` here, so they cannot disagree about the
pixel convention (pixel centres at integer coordinates) or about what a depth edge is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zoedam_lib.utils.depth import has_depth

EDGE_JUMP = 0.1  # relative depth change to a 4-neighbour above which a point is a flying pixel
EDGE_REFERENCE_SIDE = 640  # long side (pixels) at which EDGE_JUMP applies per pixel; NYU's width
_EDGE_CHUNK_ROWS = 256  # rows examined at a time by flying_pixels, bounding its temporary memory


def backproject(depth_m: np.ndarray, intrinsics: Sequence[float], rows: np.ndarray | None = None,
                cols: np.ndarray | None = None) -> np.ndarray:
    """(h, w) z-depth in metres → (h, w, 3) float32 points in the camera frame; NaN where the depth is invalid.

    X = (u - cx)·Z/fx, Y = (v - cy)·Z/fy, Z = depth: the pinhole model with pixel centres at integer
    (u, v) (the SynthRooms renderer's convention), x right, y down, z forward. ``rows`` and ``cols``
    are the image rows/columns the depth's rows/columns sit at (default ``0..h-1``, ``0..w-1``), so a
    row chunk or a subsampled grid back-projects as part of the full image. Computed in float64.
    """
    depth = np.asarray(depth_m)
    if depth.ndim != 2:
        raise ValueError(f"expected an (H, W) depth map in metres, got shape {depth.shape}")
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
        raise ValueError(f"intrinsics must be finite with fx, fy > 0, got {tuple(intrinsics)}")
    v = np.arange(depth.shape[0]) if rows is None else np.asarray(rows)
    u = np.arange(depth.shape[1]) if cols is None else np.asarray(cols)
    if v.shape != depth.shape[:1] or u.shape != depth.shape[1:]:
        raise ValueError(f"rows {v.shape} and cols {u.shape} must match the depth's shape {depth.shape}")
    z = np.where(has_depth(depth), depth, np.nan).astype(np.float64)  # (h, w)
    points = np.empty((*depth.shape, 3), dtype=np.float32)
    points[..., 0] = (u[None, :] - cx) * z / fx
    points[..., 1] = (v[:, None] - cy) * z / fy
    points[..., 2] = z
    return points


def flying_pixels(depth_m: np.ndarray, max_jump: float = EDGE_JUMP) -> np.ndarray:
    """(H, W) bool: valid pixels on a depth discontinuity, whose back-projected points would hang in mid-air.

    A network's depth is smooth across an object's outline, so the pixels there get depths between
    the object and the background: "flying pixels", a skin of points joining a chair to the wall.
    A valid pixel is flagged when a valid 4-neighbour's depth differs by more than ``max_jump``
    relative to the nearer of the two (``max(z) > (1 + max_jump) · min(z)``); both pixels of such
    a pair are flagged, since one depth map cannot tell which one is the surface. Predictions are
    upsampled from the network's resolution, which spreads one jump over several pixels, so for
    images whose long side exceeds :data:`EDGE_REFERENCE_SIDE` the per-pixel threshold is divided
    by ``long side / 640``: the rule finds the same edges in a 4000-px photo as at NYU's size.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"expected an (H, W) depth map in metres, got shape {depth.shape}")
    if not max_jump > 0:
        raise ValueError(f"max_jump must be a positive fraction (0.1 = 10 %), got {max_jump}")
    height, width = depth.shape
    ratio = np.float32(1 + max_jump / max(1.0, max(height, width) / EDGE_REFERENCE_SIDE))
    mask = np.zeros(depth.shape, dtype=bool)
    for r0 in range(0, height, _EDGE_CHUNK_ROWS):
        lo, r1 = max(r0 - 1, 0), min(r0 + _EDGE_CHUNK_ROWS, height)
        hi = min(r1 + 1, height)  # one row of context on each side of the chunk
        z = depth[lo:hi]
        z = np.where(has_depth(z), z, np.float32(np.nan))  # NaN never compares true: no edge
        edge = np.zeros(z.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            across = np.maximum(z[:, :-1], z[:, 1:]) > ratio * np.minimum(z[:, :-1], z[:, 1:])  # (h, w-1)
            down = np.maximum(z[:-1], z[1:]) > ratio * np.minimum(z[:-1], z[1:])  # (h-1, w)
        edge[:, :-1] |= across
        edge[:, 1:] |= across
        edge[:-1] |= down
        edge[1:] |= down
        mask[r0:r1] = edge[r0 - lo:r1 - lo]
    return mask
