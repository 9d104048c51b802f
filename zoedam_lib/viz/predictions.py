"""The prediction grid (notebooks 03–06): RGB | ground truth | each model, with each model's |error| below.

One depth scale for the whole figure (the ground truth's range; a prediction beyond it shows the
bar's extension) and one error scale, each with one colour bar in a dedicated grid column: the
depth bar beside the upper half of the rows, the error bar beside the lower half. Under the RGB and
the ground truth, where no error map belongs, each example's numbers: its true median depth and
share of valid pixels, and each model's AbsRel on that image, so a map can be read with its score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.evaluation.metrics import compute_metrics
from zoedam_lib.viz.figures import DEPTH_CMAP, ERROR_CMAP, Scale, new_figure, rgb_panel
from zoedam_lib.viz.samples import BAR

# |error| colour scale of every prediction grid of the course (notebooks 03, 04, 06), in metres: one scale, so
# error maps of different notebooks compare by eye; larger errors are clipped and the bar ends in an arrow
ERROR_MAX = 2.0


def absolute_errors(prediction: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """|prediction − ground truth| in metres where the ground truth is valid (finite, > 0), NaN elsewhere."""
    gt = np.asarray(gt, dtype=np.float64)
    valid = np.isfinite(gt) & (gt > 0)
    err = np.full(gt.shape, np.nan)
    err[valid] = np.abs(np.asarray(prediction, dtype=np.float64)[valid] - gt[valid])
    return err


def prediction_grid(images: Sequence[np.ndarray], gts: Sequence[np.ndarray],
                    predictions: Mapping[str, Sequence[np.ndarray]], *, note: str, vmax: float | None = None,
                    error_max: float = ERROR_MAX) -> Figure:
    """One row per example, RGB | ground truth | each model's prediction, and an |error| row under it.

    Args:
        images: RGB images (uint8 or floats in [0, 1]), one per example.
        gts: ground-truth depth in metres (NaN or 0 where unknown), one per example.
        predictions: model name → its predictions at ground-truth size, one per example.
        note: the data and preset the figure shows (``RunContext.note()``).
        vmax: top of the depth scale (default: the largest valid ground truth; 10 m for NYU).
        error_max: top of the error scale (default :data:`ERROR_MAX`, the course's one error scale);
            larger errors are clipped, and the error bar then ends in an arrow (``extend="max"``).
    """
    names, n = list(predictions), len(images)
    if not names:
        raise ValueError("prediction_grid needs at least one model's predictions (name → one per example)")
    if any(len(predictions[name]) != n for name in names) or len(gts) != n:
        raise ValueError(f"{n} images, {len(gts)} ground truths and "
                         f"{[len(predictions[k]) for k in names]} predictions: give one of each per example")
    valid_gts = [np.where(np.isfinite(g) & (g > 0), g, np.nan) for g in gts]
    top = vmax if vmax is not None else float(np.nanmax([np.nanmax(g) for g in valid_gts]))
    depth = Scale.covering(valid_gts + [p for name in names for p in predictions[name]], top)
    errors = {name: [absolute_errors(p, g) for p, g in zip(predictions[name], gts, strict=True)] for name in names}
    error = Scale.covering([e for name in names for e in errors[name]], error_max)

    cols = 2 + len(names)
    fig = new_figure(note, (2.2 * cols + 0.9, 3.5 * n + 0.4))
    grid = fig.add_gridspec(2 * n, cols + 1, width_ratios=[1] * cols + [BAR])
    for i in range(n):
        first = i == 0
        rgb_panel(fig.add_subplot(grid[2 * i, 0]), images[i], "RGB" if first else "")
        depth_im = depth.image(fig.add_subplot(grid[2 * i, 1]), valid_gts[i], DEPTH_CMAP,
                               "ground truth" if first else "")
        for j, name in enumerate(names):
            depth.image(fig.add_subplot(grid[2 * i, 2 + j]), predictions[name][i], DEPTH_CMAP, name if first else "")
            error_im = error.image(fig.add_subplot(grid[2 * i + 1, 2 + j]), errors[name][i], ERROR_CMAP,
                                   f"|error| {name}" if first else "")
        scores = {name: compute_metrics(predictions[name][i], gts[i], max_depth=float("inf"),
                                        eigen_crop=False)["abs_rel"] for name in names}
        _text_panel(fig.add_subplot(grid[2 * i + 1, 0]), [f"true median {np.nanmedian(valid_gts[i]):.2f} m",
                                                          f"valid pixels {np.isfinite(valid_gts[i]).mean():.0%}"])
        _text_panel(fig.add_subplot(grid[2 * i + 1, 1]), ["AbsRel, this image:"]
                    + [f"{_short(name)}: {v:.3f}" for name, v in scores.items()])
    depth.colorbar(fig, depth_im, fig.add_subplot(grid[:n, -1]), "depth [m]")
    error.colorbar(fig, error_im, fig.add_subplot(grid[n:, -1]), "|error| [m]")
    return fig


def _text_panel(ax, lines: Sequence[str]) -> None:
    """A cell of the grid that holds numbers instead of a map: left-aligned lines, no axes."""
    ax.axis("off")
    ax.text(0.02, 0.95, "\n".join(lines), transform=ax.transAxes, va="top", ha="left", fontsize=7.5,
            family="monospace")


def _short(name: str, width: int = 24) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"
