"""The metric-bins head at work (ZoeDepth §3): how the bins move towards a pixel's depth, stage by stage.

Left: the image with the probed pixels. Middle: for each pixel, its 64 bin centres after the seed
regressor and after each attractor stage (one row of dots per stage), with the true and the
predicted depth. Right: the log-binomial's probability over the final bin centres: a unimodal
distribution whose expectation Σ p·c is the predicted depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.inference.head_probe import HeadProbe
from zoedam_lib.viz.figures import legend_outside, new_figure

COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def head_figure(image: np.ndarray, probe: HeadProbe, truth: Sequence[float], *, note: str,
                max_depth: float = 10.0) -> Figure:
    """``image`` (H, W, 3) uint8, the head's probe at a few pixels and the true depth there (metres)."""
    n = len(probe.pixels)
    fig = new_figure(note, (13, 1.2 + 1.1 * n))
    grid = fig.add_gridspec(n, 3, width_ratios=(1.1, 1.6, 1.3))
    ax_img = fig.add_subplot(grid[:, 0])
    ax_img.imshow(image)
    ax_img.set_title("probed pixels", fontsize=9)
    ax_img.axis("off")
    h, w = probe.depth_map.shape
    for k, (r, c) in enumerate(probe.pixels):
        colour = COLOURS[k % len(COLOURS)]
        ax_img.plot(c * (image.shape[1] - 1) / (w - 1), r * (image.shape[0] - 1) / (h - 1), "o", ms=9, mfc="none",
                    mec=colour, mew=2.5)
        ax = fig.add_subplot(grid[k, 1])
        names = list(probe.stages)
        for j, name in enumerate(names):
            ax.plot(probe.stages[name][k], np.full(probe.stages[name].shape[1], j), "|", color=colour, ms=7,
                    alpha=0.7)
        ax.axvline(truth[k], color="k", lw=1.2, label="true depth")
        ax.axvline(probe.depth[k], color=colour, lw=1.2, ls="--", label="predicted Σ p·c")
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xlim(0, max_depth)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.set_title("bin centres after each stage [m]", fontsize=9)
        ax_p = fig.add_subplot(grid[k, 2])
        order = np.argsort(probe.centers[k])
        ax_p.plot(probe.centers[k][order], probe.probs[k][order], "-o", color=colour, ms=2, lw=1)
        ax_p.axvline(truth[k], color="k", lw=1.2)
        ax_p.axvline(probe.depth[k], color=colour, lw=1.2, ls="--")
        ax_p.set_xlim(0, max_depth)
        ax_p.tick_params(labelsize=7)
        ax_p.set_ylabel("probability", fontsize=8)
        if k == 0:
            ax_p.set_title("probability of each final bin", fontsize=9)
        if k == n - 1:
            ax.set_xlabel("depth [m]", fontsize=8)
            ax_p.set_xlabel("bin centre [m]", fontsize=8)
            legend_outside(fig, [ax])  # one legend above the panels, covering no bin
    return fig
