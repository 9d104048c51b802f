"""Figures of the camera lesson (notebook 07): metres against the lens, and the camera head's focal lengths.

:func:`lens_scale` puts every image of a set of many lenses on one axis, its focal length over the
training camera's: a model that reads distance from apparent size only, trained on one camera,
would sit on the line f_train / f (too far through a wide lens, too near through a long one); a
model whose metres hold on any camera sits on 1. :func:`focal_scatter` shows the camera head's
estimate against the truth, with the ±10 % band of issue 24's target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.viz.figures import legend_outside, new_figure
from zoedam_lib.viz.palette import model_colour

MARKERS = ("o", "s", "^", "D", "v")
BINS = 6  # lens bins of the median lines (log-spaced)


def lens_scale(ratios: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, note: str) -> Figure:
    """Predicted / true median depth per image against its lens (f / f_train), one series per model.

    ``ratios``: model label → (f / f_train per image, predicted / true median depth per image).
    Log axes: a lens half as long and one twice as long are as far from 1. Each image is a faint
    point; each model's line is its median per lens bin, the trend the points are noisy around.
    """
    fig = new_figure(note, (6.4, 4.6))
    ax = fig.subplots()
    lens = np.concatenate([np.asarray(x, float) for x, _ in ratios.values()])
    grid = np.geomspace(lens.min() * 0.95, lens.max() * 1.05, 50)
    ax.plot(grid, 1 / grid, "k--", lw=1, label="f_train / f (apparent size read with the training camera)")
    ax.axhline(1.0, color="k", lw=0.8, label="right in metres")
    ax.axhspan(1 / 1.07, 1.07, color="0.85", zorder=0, label="±7 % (issue 24's target for the median ratio)")
    edges = np.geomspace(lens.min(), lens.max() * 1.0001, BINS + 1)
    for (name, (x, y)), marker in zip(ratios.items(), MARKERS * 4, strict=False):
        x, y, colour = np.asarray(x, float), np.asarray(y, float), model_colour(name)
        ax.scatter(x, y, s=10, alpha=0.35, marker=marker, color=colour, linewidths=0)
        which = np.digitize(x, edges) - 1
        mids = [(np.sqrt(edges[b] * edges[b + 1]), np.median(y[which == b])) for b in range(BINS) if (which == b).any()]
        ax.plot(*zip(*mids, strict=True), marker=marker, color=colour, lw=2, ms=6,
                label=f"{name} (median per lens bin)")
    ax.set(xscale="log", yscale="log", xlabel="lens: f / f_train (focal length over NYU's, at the same size)",
           ylabel="predicted / true median depth")
    ticks = [0.5, 0.7, 1.0, 1.4, 2.0]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_title("Metres through lenses the models never saw")
    legend_outside(fig, [ax], ncols=2)
    return fig


def focal_scatter(true: Sequence[float], estimated: Sequence[float], *, note: str, title: str) -> Figure:
    """The camera head's f / f_c against the truth (log axes), the y = x line and a ±10 % band;
    the title gives the median error."""
    true, estimated = np.asarray(true, float), np.asarray(estimated, float)
    err = np.abs(estimated / true - 1)
    fig = new_figure(note, (5.2, 4.8))
    ax = fig.subplots()
    lo, hi = min(true.min(), estimated.min()) * 0.9, max(true.max(), estimated.max()) * 1.1
    line = np.geomspace(lo, hi, 50)
    ax.fill_between(line, line * 0.9, line * 1.1, color="0.85", label="±10 %")
    ax.plot(line, line, "k-", lw=0.8, label="estimate = truth")
    ax.scatter(true, estimated, s=12, alpha=0.7, color=model_colour("camera-aware"), linewidths=0,
               label="one image")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="true f / f_c",
           ylabel="estimated f / f_c (camera head)")
    ticks = [t for t in (0.4, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8) if lo <= t <= hi]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_title(f"{title}: median error {np.median(err):.0%}, 90th percentile {np.quantile(err, 0.9):.0%}",
                 fontsize=10)
    legend_outside(fig, [ax], ncols=3)
    return fig
