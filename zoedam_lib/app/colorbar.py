"""The app's depth picture: the colour-mapped depth with a colour bar in metres, as one PNG.

A bare colour map says nothing about scale; with the bar beside it the user reads metres off
the picture, which is the point of *metric* depth. Drawn on a :class:`~matplotlib.figure.Figure`
without pyplot, so concurrent requests in the web server share no global figure state.
"""

from __future__ import annotations

import math
import os

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zoedam_lib.utils.atomic import atomic_path
from zoedam_lib.utils.depth import has_depth
from zoedam_lib.viz import DEPTH_CMAP

MAX_SIDE_PX = 1024  # the depth is subsampled to this before drawing: the picture is ~700 px wide anyway
_IMAGE_INCHES = 6.0  # longest side of the image axes


def depth_range(depth_m: np.ndarray) -> tuple[float, float]:
    """(min, max) of the valid depths; (0, 1) when there are none, so a scale can still be drawn."""
    valid = has_depth(depth_m)
    if not valid.any():
        return 0.0, 1.0
    lo, hi = float(np.min(depth_m[valid])), float(np.max(depth_m[valid]))
    return (lo, hi) if hi > lo else (lo, lo + 1e-3)


def format_range(lo: float, hi: float) -> str:
    """``"0.84 – 3.21 m"``, with enough decimals that a narrow range does not read ``0.70 – 0.70 m``."""
    span = hi - lo
    digits = 2 if span <= 0 or span >= 0.1 else min(4, 1 - math.floor(math.log10(span)))
    return f"{lo:.{digits}f} – {hi:.{digits}f} m"


def depth_figure(depth_m: np.ndarray, vmin: float | None = None, vmax: float | None = None,
                 title: str | None = None) -> Figure:
    """Colour-mapped depth (turbo, invalid pixels black) with a colour bar labelled ``depth [m]``.

    ``vmin``/``vmax`` default to the valid depths' range, so the bar's ends are the nearest and
    farthest predicted depths and the colours use the whole map.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"expected an (H, W) depth map in metres, got shape {depth.shape}")
    lo, hi = depth_range(depth)
    vmin, vmax = lo if vmin is None else vmin, hi if vmax is None else vmax
    step = max(1, math.ceil(max(depth.shape) / MAX_SIDE_PX))
    shown = np.where(has_depth(depth), depth, np.nan)[::step, ::step]
    aspect = depth.shape[0] / depth.shape[1]
    width, height = (_IMAGE_INCHES, _IMAGE_INCHES * aspect) if aspect <= 1 else (_IMAGE_INCHES / aspect,
                                                                                  _IMAGE_INCHES)
    fig = Figure(figsize=(max(width, 2.0) + 1.2, max(height, 1.5) + 0.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps[DEPTH_CMAP].with_extremes(bad="black")
    im = ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest",
                   extent=(0, depth.shape[1], depth.shape[0], 0))
    ax.set_axis_off()
    ax.set_title(title or f"depth {format_range(vmin, vmax)}", fontsize=10)
    fig.colorbar(im, ax=ax, label="depth [m]", fraction=0.05, pad=0.02)
    return fig


def figure_to_rgb(fig: Figure) -> np.ndarray:
    """Render a figure to a uint8 (H, W, 3) array (for tests and callers that want pixels)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def write_depth_figure(path: str | os.PathLike, depth_m: np.ndarray, title: str | None = None) -> None:
    """Write :func:`depth_figure` as a PNG, atomically."""
    fig = depth_figure(depth_m, title=title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", facecolor="white")
